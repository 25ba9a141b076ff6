#!/usr/bin/env bash
# Write a busybox rootfs tarball built from Debian's static /bin/busybox to $1.
# Deterministic: fixed mtimes, sorted entries, root ownership.
set -euo pipefail
out="${1:?usage: mkbusybox.sh OUT.tar}"
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkbusybox: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r="$work/rootfs"
mkdir -p "$r"/{bin,etc,tmp,root,var/www,proc,sys,dev,usr/local/apache2/htdocs}
cp "$bb" "$r/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$r/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' >"$r/etc/group"
echo '<html><body>It works!</body></html>' >"$r/usr/local/apache2/htdocs/index.html"
chmod 1777 "$r/tmp"
chmod 700 "$r/root"
tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
    -C "$r" -cf "$out" .
