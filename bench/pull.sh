#!/usr/bin/env bash
# Time `strata pull` from a local registry against `docker pull` of the same
# images (when a Docker engine answers `docker info`), in the same run.
#
# The images are bench/gen.sh's (deterministic, incompressible): big (one 1 GiB
# layer), small (20,000 files) and stack (5 layers with whiteouts). Each is
# loaded into a seed root and pushed once with `strata push` (timed too) to a
# `docker-registry` on 127.0.0.1; every pull then starts from an empty data
# root (and, for Docker, after `docker rmi`), caches dropped. Medians of N runs.
#
#   bench/pull.sh [WORKDIR] [DRIVER]     WORKDIR from bench/gen.sh (default bench/work)
#   RUNS=5 STRATA=target/release/strata WORKLOADS="big stack" bench/pull.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work="${1:-$here/work}"
driver="${2:-overlay2}"
runs="${RUNS:-3}"
workloads="${WORKLOADS:-big small stack}"
strata="${STRATA:-$here/../target/release/strata}"
[ -x "$strata" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 1; }
bash "$here/gen.sh" "$work" >/dev/null
scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-pull-bench.XXXXXX")
reg_pid=""
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

have_docker=false
docker info >/dev/null 2>&1 && have_docker=true

# A registry on 127.0.0.1 with a free port and a scratch storage root.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$scratch/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $scratch/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: strata-bench}
EOF
docker-registry serve "$scratch/registry.yml" >"$scratch/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
reg="127.0.0.1:$port"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clock() { date +%s.%N; }
timeit() { # timeit SETUP CMD... -> seconds (median of $runs)
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
s() { "$strata" --root "$scratch/$1" --run-root "$scratch/$1-run" --storage-driver "$driver" "${@:2}"; }

printf '%-8s %-10s %10s %12s %12s %8s\n' workload driver "push" "strata pull" "docker pull" ratio
for w in $workloads; do
  ref="$reg/bench/$w:latest"
  s seed load -q -i "$work/$w-img.tar" >/dev/null
  s seed tag "bench/$w:latest" "$ref"
  t0=$(clock); s seed push -q "$ref" >/dev/null; t1=$(clock)
  t_push=$(echo "$t1 - $t0" | bc -l)
  t_strata=$(timeit "rm -rf '$scratch/root' '$scratch/root-run'" s root pull -q "$ref")
  t_docker="-"
  ratio="-"
  if $have_docker; then
    t_docker=$(timeit "docker rmi -f '$ref' >/dev/null 2>&1 || true" docker pull -q "$ref")
    ratio=$(printf '%.2f' "$(echo "$t_strata / $t_docker" | bc -l)")
    docker rmi -f "$ref" >/dev/null 2>&1 || true
  fi
  printf '%-8s %-10s %10.3f %12.3f %12s %8s\n' "$w" "$driver" "$t_push" "$t_strata" "$t_docker" "$ratio"
  rm -rf "$scratch/root" "$scratch/root-run"
done
echo "ratio = strata pull / docker pull (lower is better); times in seconds, median of $runs; registry $reg"
