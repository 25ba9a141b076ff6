#!/usr/bin/env bash
# Build strata and run its main job: the seed walkthrough of Docker's storage
# model (docs/walkthrough.md explains each step). Installs what it needs first.
#
# Uses a throwaway data root unless STRATA_ROOT is set, and cleans it up.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --bin strata
S="$PWD/target/release/strata"

if [ -z "${STRATA_ROOT:-}" ]; then
  base=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-walkthrough.XXXXXX")
  export STRATA_ROOT="$base/root" STRATA_RUN_ROOT="$base/run"
  trap 'rm -rf "$base"' EXIT
fi
work=$(mktemp -d)
trap 'rm -rf "$work" ${base:+"$base"}' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Storage driver: which one is active (docker info)"
run "$S" info

step "2. An image is read-only layers: import a busybox rootfs as a one-layer image"
bash scripts/mkbusybox.sh "$work/busybox.tar"
run "$S" import -c 'CMD ["sh"]' -m "busybox from Debian's busybox-static" "$work/busybox.tar" busybox:latest
run "$S" images
run "$S" history busybox

step "3. Layers are shared and copy-on-write: a two-layer image on top of busybox"
# Build a docker-archive whose first layer is busybox's and whose second changes a file,
# adds one and deletes one (an OCI whiteout), then load it.
run "$S" save -o "$work/busybox-saved.tar" busybox:latest
mkdir -p "$work/l2/etc" "$work/l2/bin" "$work/l2/usr/local/apache2/htdocs" "$work/arch"
echo "strata was here" >"$work/l2/etc/motd"
echo '<html><body>layer two</body></html>' >"$work/l2/usr/local/apache2/htdocs/index.html"
: >"$work/l2/bin/.wh.vi"   # layer two deletes /bin/vi
tar --sort=name --mtime='2024-01-02 00:00:00Z' --owner=0 --group=0 --numeric-owner -C "$work/l2" -cf "$work/layer2.tar" .
tar -xf "$work/busybox-saved.tar" -C "$work/arch"
base_layer=$(sed -n 's/.*"Layers":\["\([^"]*\)".*/\1/p' "$work/arch/manifest.json")
d1=$(sha256sum "$work/arch/$base_layer" | cut -d' ' -f1)
d2=$(sha256sum "$work/layer2.tar" | cut -d' ' -f1)
mkdir -p "$work/arch2/$d1" "$work/arch2/$d2"
cp "$work/arch/$base_layer" "$work/arch2/$d1/layer.tar"
cp "$work/layer2.tar" "$work/arch2/$d2/layer.tar"
printf '{"architecture":"amd64","os":"linux","created":"2024-01-02T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"import busybox"},{"created":"2024-01-02T00:00:00Z","created_by":"/bin/sh -c echo strata was here > /etc/motd"}]}' "$d1" "$d2" >"$work/arch2/config.json"
c=$(sha256sum "$work/arch2/config.json" | cut -d' ' -f1); mv "$work/arch2/config.json" "$work/arch2/$c.json"
printf '[{"Config":"%s.json","RepoTags":["layered:latest"],"Layers":["%s/layer.tar","%s/layer.tar"]}]' "$c" "$d1" "$d2" >"$work/arch2/manifest.json"
tar -C "$work/arch2" -cf "$work/layered.tar" .
run "$S" load -i "$work/layered.tar"
run "$S" images
run "$S" history layered
run "$S" image inspect --format '{{json .RootFS}}' layered
echo "(busybox's layer is stored once and shared by both images)"
run "$S" system df -v

step "4. save / load round trip keeps every layer digest"
run "$S" save -o "$work/both.tar" busybox layered
before=$("$S" image inspect --format '{{.Id}} {{json .RootFS.Layers}}' layered)
run "$S" rmi busybox layered
run "$S" images
run "$S" load -i "$work/both.tar"
after=$("$S" image inspect --format '{{.Id}} {{json .RootFS.Layers}}' layered)
[ "$before" = "$after" ] && echo "identical image id and layer digests after the round trip"

step "5. The store is consistent"
run "$S" system check

echo
echo "walkthrough complete"
