#!/usr/bin/env bash
# Time `strata cp` against `cp -a` of the same data on the same disk, both
# directions, for a 1 GiB file and a tree of 20,000 small files (the data of
# bench/gen.sh: AES-CTR with a fixed key, so identical on every run and
# incompressible). Median of N runs (default 3); each run starts from a fresh
# destination, after `sync` and dropping the page cache (when allowed).
#
#   bench/cp.sh [WORKDIR] [DRIVER]     WORKDIR from bench/gen.sh (default bench/work), DRIVER default overlay2
#   RUNS=5 STRATA=target/release/strata bench/cp.sh
#
# Needs root (strata cp mounts the container's view in a private mount namespace).
# Target: strata within 1.25x of cp -a. The engine alone is measured, without
# the CLI, by `cargo test --release -p strata-archive --test cp_bench -- --ignored --nocapture`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work="${1:-$here/work}"
driver="${2:-overlay2}"
runs="${RUNS:-3}"
strata="${STRATA:-$here/../target/release/strata}"
[ -x "$strata" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench/cp.sh needs root" >&2; exit 1; }
bash "$here/gen.sh" "$work" >/dev/null
# Scratch on the same filesystem as the data root, so both tools copy disk to disk.
scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-cp-bench.XXXXXX")
root="$scratch/root"
S() { "$strata" --root "$root" --run-root "$scratch/run" --storage-driver "$driver" "$@"; }
trap 'rm -rf "$scratch"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clock() { date +%s.%N; }
settle() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
timeit() { # timeit SETUP CMD... -> seconds (median of $runs)
  local setup=$1; shift
  for _ in $(seq "$runs"); do
    eval "$setup"
    settle
    local t0; t0=$(clock)
    "$@" >/dev/null
    local t1; t1=$(clock)
    echo "$t1 - $t0" | bc -l
  done | median
}

# The sources: the layers of bench/gen.sh, unpacked once.
src="$scratch/src"
mkdir -p "$src/small" "$src/big"
tar -xf "$work/small-layer.tar" -C "$src/small"
tar -xf "$work/big-layer.tar" -C "$src/big"

# A container to copy into: an image with an empty /w.
mkdir -p "$scratch/img/w" && tar -C "$scratch/img" -cf "$scratch/img.tar" .
S import "$scratch/img.tar" bench/cp:latest >/dev/null
fresh_ctr() { # a new container for every run: its /w starts empty
  S rm -f cpbench >/dev/null 2>&1 || true
  S create --name cpbench bench/cp:latest >/dev/null
}

# Two comparisons per row: as the tools return, and durable (each followed by
# `sync`). They differ for overlay2 destinations: unmounting the writable
# overlay of the copy's view makes the kernel sync the backing filesystem
# (ovl_sync_fs), so `strata cp` (like `docker cp` of a stopped container)
# returns with the data on disk, where `cp -a` leaves it to writeback.
synced() { "$@"; sync; }
printf '%-6s %-9s %-9s %9s %10s %6s   %9s %10s %6s\n' data direction driver "cp -a" "strata cp" ratio "cp+sync" "strata+sync" ratio
row() { # row WORKLOAD DIRECTION SETUP_CP SETUP_STRATA CP_ARGS... -- STRATA_ARGS...
  local w=$1 dir=$2 setup_cp=$3 setup_st=$4; shift 4
  local cpargs=() stargs=()
  while [ "$1" != -- ]; do cpargs+=("$1"); shift; done; shift
  stargs=("$@")
  local a b c d
  a=$(timeit "$setup_cp" "${cpargs[@]}")
  b=$(timeit "$setup_st" "${stargs[@]}")
  c=$(timeit "$setup_cp" synced "${cpargs[@]}")
  d=$(timeit "$setup_st" synced "${stargs[@]}")
  local r1 r2
  r1=$(echo "$b / $a" | bc -l)
  r2=$(echo "$d / $c" | bc -l)
  printf '%-6s %-9s %-9s %8.3fs %9.3fs %5.2fx   %8.3fs %9.3fs %5.2fx\n' "$w" "$dir" "$driver" "$a" "$b" "$r1" "$c" "$d" "$r2"
}
for w in big small; do
  row "$w" host→ctr "rm -rf '$scratch/out'" fresh_ctr cp -a "$src/$w" "$scratch/out" -- S cp "$src/$w" cpbench:/w/"$w"
  fresh_ctr
  S cp "$src/$w" cpbench:/w/"$w" >/dev/null
  row "$w" ctr→host "rm -rf '$scratch/out'" "rm -rf '$scratch/out'" cp -a "$src/$w" "$scratch/out" -- S cp cpbench:/w/"$w" "$scratch/out"
  rm -rf "$scratch/out"
done
