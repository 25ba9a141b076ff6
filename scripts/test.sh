#!/usr/bin/env bash
# Run strata's whole test suite: unit, driver conformance (vfs, overlay2, btrfs),
# archive safety, CLI and end-to-end tests. Installs what it needs first.
#
# Privileged tests (overlay2, btrfs on a loop device, device nodes) need root;
# with CI=true they fail rather than skip when they cannot run. Everything runs
# in a private mount namespace, so a mount a failing test leaks dies with it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [ "$(id -u)" -eq 0 ] && [ -z "${STRATA_IN_PRIVATE_NS:-}" ]; then
  exec env STRATA_IN_PRIVATE_NS=1 unshare --mount --propagation private -- "$0" "$@"
fi

cargo build --workspace --all-targets
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
