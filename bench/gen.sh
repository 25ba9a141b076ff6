#!/usr/bin/env bash
# Generate the benchmark workloads, deterministically, into $1 (default bench/work):
#   small.tar   a layer of 20,000 small files (~94 MB), as docker-archive small-img.tar
#   big.tar     a layer of one 1 GiB file,             as docker-archive big-img.tar
#   stack.tar   a 5-layer image with whiteouts and an opaque dir (docker-archive)
# Content comes from AES-CTR over zeros with a fixed key: pseudo-random, identical
# on every run, incompressible (so compression does not flatter anyone).
set -euo pipefail
out="${1:-$(dirname "$0")/work}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prng() { # prng SEED BYTES (openssl dies of SIGPIPE when head has enough: expected)
  (set +o pipefail; openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$1")" -iv 0 </dev/zero 2>/dev/null | head -c "$2")
}
tarit() { # tarit DIR OUT.tar
  tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$1" -cf "$2" .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# docker-archive (legacy layout) from layer tars: mkarchive OUT NAME:TAG layer1.tar [layer2.tar ...]
mkarchive() {
  local dest=$1 tag=$2; shift 2
  local d="$tmp/arch.$$.$RANDOM"; mkdir -p "$d"
  local diffs="" layers="" parent=""
  for l in "$@"; do
    local h; h=$(sha "$l")
    mkdir -p "$d/$h"; cp "$l" "$d/$h/layer.tar"
    diffs="$diffs${diffs:+,}\"sha256:$h\""; layers="$layers${layers:+,}\"$h/layer.tar\""; parent=$h
  done
  local cfg="{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"]},\"created\":\"2024-01-01T00:00:00Z\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffs]}}"
  printf '%s' "$cfg" >"$d/config.json"
  local ch; ch=$(sha "$d/config.json"); mv "$d/config.json" "$d/$ch.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$ch" "$tag" "$layers" >"$d/manifest.json"
  tar -C "$d" -cf "$dest" .
  rm -rf "$d"
}

if [ ! -f "$out/small-layer.tar" ]; then
  s="$tmp/small"; mkdir -p "$s"
  prng 1 $((94 * 1000 * 1000)) >"$tmp/pool"
  # 20,000 files in 200 directories, sizes 1..9,400 bytes cut from the pool.
  awk -v root="$s" 'BEGIN { off = 0; for (i = 0; i < 20000; i++) {
      size = 1 + (i * 7919) % 9400; d = sprintf("%s/d%03d", root, i % 200);
      printf "%s %d %d\n", d "/f" i, off, size; off += size } }' >"$tmp/plan"
  for i in $(seq 0 199); do mkdir -p "$s/$(printf 'd%03d' "$i")"; done
  while read -r path off size; do
    dd if="$tmp/pool" of="$path" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none
  done <"$tmp/plan"
  tarit "$s" "$out/small-layer.tar"
  rm -rf "$s" "$tmp/pool"
fi
if [ ! -f "$out/big-layer.tar" ]; then
  b="$tmp/big"; mkdir -p "$b"
  prng 2 $((1024 * 1024 * 1024)) >"$b/blob.bin"
  tarit "$b" "$out/big-layer.tar"
  rm -rf "$b"
fi
if [ ! -f "$out/stack-l1.tar" ]; then
  for n in 1 2 3 4 5; do
    l="$tmp/l$n"; mkdir -p "$l/app/data" "$l/app/cache"
    for f in $(seq 1 200); do prng $((n * 1000 + f)) 4096 >"$l/app/data/l${n}_$f"; done
    if [ "$n" -gt 1 ]; then
      # delete a file from the layer below, and make cache/ opaque
      : >"$l/app/data/.wh.l$((n - 1))_1"
      : >"$l/app/cache/.wh..wh..opq"
    fi
    echo "layer $n" >"$l/app/cache/marker"
    tarit "$l" "$out/stack-l$n.tar"
  done
fi
[ -f "$out/small-img.tar" ] || mkarchive "$out/small-img.tar" bench/small:latest "$out/small-layer.tar"
[ -f "$out/big-img.tar" ] || mkarchive "$out/big-img.tar" bench/big:latest "$out/big-layer.tar"
[ -f "$out/stack-img.tar" ] || mkarchive "$out/stack-img.tar" bench/stack:latest "$out"/stack-l{1,2,3,4,5}.tar
ls -la "$out"
