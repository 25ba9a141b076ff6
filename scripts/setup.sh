#!/usr/bin/env bash
# Install what strata's build, walkthrough and tests need on a Debian machine.
# Idempotent; run as root (CI is root) or with sudo available.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
  busybox-static   # a static /bin/busybox: the test and walkthrough image
  runc             # the OCI runtime containers run on
  tini             # /usr/bin/tini-static: the init of `run --init` (/sbin/docker-init)
  btrfs-progs      # mkfs.btrfs for the btrfs driver tests (loop device)
  xfsprogs         # mkfs.xfs: reflink tests for vfs
  skopeo           # interop checks of saved archives and registries
  docker-registry  # the reference OCI registry the registry tests start on 127.0.0.1
  attr             # getfattr/setfattr in tests and docs
  zstd pigz        # compressed archives in tests and benchmarks
  openssl bc       # bench/gen.sh and bench/run.sh
  util-linux       # unshare, losetup, mount
  curl ca-certificates
  build-essential pkg-config
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install a Rust toolchain (rustup or Debian's cargo >= 1.89)" >&2
  exit 1
fi
