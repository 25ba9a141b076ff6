#!/usr/bin/env bash
# Time `strata load` against the physical limit (`tar -xf` of the same layers, with
# and without a final sync) and, when a Docker engine answers, `docker load` of the
# same archives, in the same run. Median of N runs (default 3), fresh state each run.
#
#   bench/run.sh [WORKDIR] [DRIVER]      WORKDIR from bench/gen.sh (default bench/work)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work="${1:-$here/work}"
driver="${2:-overlay2}"
runs="${RUNS:-3}"
strata="${STRATA:-$here/../target/release/strata}"
[ -x "$strata" ] || { echo "build first: cargo build --release" >&2; exit 1; }
bash "$here/gen.sh" "$work" >/dev/null
scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

have_docker=false
docker info >/dev/null 2>&1 && have_docker=true

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clock() { date +%s.%N; }
timeit() { # timeit SETUP CMD... -> seconds (median)
  local setup=$1; shift
  for _ in $(seq "$runs"); do
    eval "$setup"
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    local t0; t0=$(clock)
    "$@" >/dev/null
    local t1; t1=$(clock)
    echo "$t1 - $t0" | bc -l
  done | median
}

untar_layers() { # untar_layers DEST layer.tar...
  local dest=$1; shift
  mkdir -p "$dest"
  for l in "$@"; do tar -xf "$l" -C "$dest"; done
}

printf '%-8s %-10s %10s %12s %12s %12s %8s\n' workload driver "tar -xf" "tar+sync" "strata load" "docker load" ratio
for w in small big stack; do
  case $w in
    stack) layers=("$work"/stack-l{1,2,3,4,5}.tar) ;;
    *) layers=("$work/$w-layer.tar") ;;
  esac
  t_tar=$(timeit "rm -rf '$scratch/x'" untar_layers "$scratch/x" "${layers[@]}")
  t_tarsync=$(timeit "rm -rf '$scratch/x'" bash -c "$(declare -f untar_layers); untar_layers '$scratch/x' ${layers[*]}; sync")
  t_strata=$(timeit "rm -rf '$scratch/root'" "$strata" --root "$scratch/root" --run-root "$scratch/run" \
               --storage-driver "$driver" load -q -i "$work/$w-img.tar")
  t_docker="-"
  if $have_docker; then
    t_docker=$(timeit "docker rmi -f bench/$w:latest >/dev/null 2>&1 || true" docker load -q -i "$work/$w-img.tar")
  fi
  ratio=$(echo "$t_strata / $t_tar" | bc -l)
  printf '%-8s %-10s %10.3f %12.3f %12.3f %12s %8.2f\n' "$w" "$driver" "$t_tar" "$t_tarsync" "$t_strata" "$t_docker" "$ratio"
  rm -rf "$scratch/x" "$scratch/root"
done
echo "ratio = strata load / tar -xf (goal: <= 1.3); times in seconds, median of $runs"
