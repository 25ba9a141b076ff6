#!/usr/bin/env bash
# Build strata and run its main job: the seed walkthrough of Docker's storage
# model (docs/walkthrough.md explains each step). Installs what it needs first.
#
# Uses a throwaway data root unless STRATA_ROOT is set, and cleans it up.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ -n "${STRATA_BIN:-}" ]; then
  S="$STRATA_BIN"                      # a strata built elsewhere (tests use the debug build)
else
  cargo build --release --bin strata
  S="$PWD/target/release/strata"
fi

if [ -z "${STRATA_ROOT:-}" ]; then
  base=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-walkthrough.XXXXXX")
  export STRATA_ROOT="$base/root" STRATA_RUN_ROOT="$base/run"
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-walk.XXXXXX")
cleanup() {
  set +e
  for c in $("$S" ps -aq 2>/dev/null); do "$S" rm -f "$c" >/dev/null 2>&1; done
  for c in $("$S" --root "$work/other-root" --run-root "$work/other-run" ps -aq 2>/dev/null); do
    "$S" --root "$work/other-root" --run-root "$work/other-run" rm -f "$c" >/dev/null 2>&1
  done
  rm -rf "$work" ${base:+"$base"}
}
trap cleanup EXIT

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

step "5. Copy-on-write in a container: diff and commit"
run "$S" create --name cow layered
root=$("$S" mount cow)
echo "changed in the container" >"$root/etc/motd"     # a modified file is copied up
rm "$root/bin/wget"                                  # a deleted one leaves a whiteout
echo new >"$root/newfile"                            # a new one goes to the top layer
"$S" unmount cow >/dev/null
run "$S" diff cow
run "$S" commit -m "a commit" cow layered:committed
run "$S" history layered:committed
run "$S" rm cow

HT="$work/htdocs"; mkdir -p "$HT"; echo "hello from the host" >"$HT/index.html"
P=${STRATA_WALKTHROUGH_PORT:-18080}
get() { curl -fsS "http://127.0.0.1:$1/${2:-index.html}"; }
wait_http() { for _ in $(seq 50); do get "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer on port $1" >&2; return 1; }
HTTPD="httpd -f -p 80 -h /usr/local/apache2/htdocs"

step "6. Bind mount: a container serves a host directory"
run "$S" run -d --name web1 -p "127.0.0.1:$P:80" -v "$HT:/usr/local/apache2/htdocs" busybox $HTTPD
wait_http "$P"; run get "$P"
echo "edited on the host" >"$HT/index.html"
run get "$P"
echo "(:ro refuses writes from inside)"
if "$S" run --rm -v "$HT:/data:ro" busybox sh -c 'echo x > /data/x' 2>/dev/null; then echo "ro bind writable!" >&2; exit 1; else echo "write refused: read-only file system"; fi
echo "(a single file can be bind-mounted too)"
echo "hello max" >"$work/index.html"
run "$S" run -d --name web2 -p "127.0.0.1:$((P + 1)):80" -v "$work/index.html:/usr/local/apache2/htdocs/index.html" busybox $HTTPD
wait_http $((P + 1)); run get $((P + 1))

step "7. Managed volume: strata creates it under <root>/volumes and copies the image's files in"
run "$S" run -d --name web3 -p "127.0.0.1:$((P + 2)):80" -v /usr/local/apache2/htdocs busybox $HTTPD
wait_http $((P + 2)); run get $((P + 2))
run "$S" inspect --format '{{json .Mounts}}' web3
run "$S" volume ls

step "8. cp: from the host into a running container's volume"
echo "copied in with strata cp" >"$work/cp.html"
run "$S" cp "$work/cp.html" web3:/usr/local/apache2/htdocs/index.html
run get $((P + 2))

step "9. A volume container shares its volumes (never started)"
run "$S" create --name vc_data -v "$HT:/usr/local/apache2/htdocs" -v /other/useful/tools busybox
run "$S" run -d --name web4 -p "127.0.0.1:$((P + 3)):80" --volumes-from vc_data busybox $HTTPD
wait_http $((P + 3)); run get $((P + 3))

step "10. A data-packed volume container, built from a Dockerfile"
mkdir -p "$work/ctx/htdocs"; echo "packed into the image" >"$work/ctx/htdocs/index.html"
printf 'FROM busybox:latest\nADD htdocs /usr/local/apache2/htdocs\nVOLUME /usr/local/apache2/htdocs\n' >"$work/ctx/Dockerfile"
run "$S" build -t datapacked "$work/ctx"
run "$S" create --name vc_packed datapacked
run "$S" run -d --name web5 -p "127.0.0.1:$((P + 4)):80" --volumes-from vc_packed busybox $HTTPD
wait_http $((P + 4)); run get $((P + 4))

step "11. Backup, restore, migrate, destroy"
run "$S" volume create --label app=web webdata
run "$S" run --rm -v webdata:/data busybox sh -c 'echo precious > /data/db.txt; chown 33:33 /data/db.txt'
run "$S" volume export -o "$work/webdata.tar.zst" webdata
echo "(Docker's recipe works too)"
run "$S" run --rm -v webdata:/data -v "$work:/backup" busybox tar cf /backup/recipe.tar /data
tar -tf "$work/recipe.tar"
echo "(restore into a second data root: a migration)"
run "$S" --root "$work/other-root" --run-root "$work/other-run" volume import webdata "$work/webdata.tar.zst"
"$S" save busybox | "$S" --root "$work/other-root" --run-root "$work/other-run" load
run "$S" --root "$work/other-root" --run-root "$work/other-run" run --rm -v webdata:/data busybox ls -ln /data
run "$S" --root "$work/other-root" --run-root "$work/other-run" volume inspect --format '{{json .Labels}}' webdata
echo "(a newer image on the same bind directory keeps the data)"
run "$S" stop web1
run "$S" run -d --name web1b -p "127.0.0.1:$P:80" -v "$HT:/usr/local/apache2/htdocs" layered $HTTPD
wait_http "$P"; run get "$P"
echo "(destroy: remove containers with their anonymous volumes, then every unused volume)"
for c in web1 web1b web2 web3 web4 web5; do "$S" rm -f -v "$c" >/dev/null; done
run "$S" volume ls -qf dangling=true
"$S" volume rm $("$S" volume ls -q) || echo "(volumes still used by vc_data and vc_packed were kept, as Docker does)"
run "$S" rm -v vc_data vc_packed
run "$S" volume prune -a -f
run "$S" volume ls

step "12. The store is consistent"
run "$S" system check

echo
echo "walkthrough complete"
