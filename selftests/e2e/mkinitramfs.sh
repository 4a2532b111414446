#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the initramfs of the second-level guest of e2e_qemu.sh on the
# host: static busybox, iperf3 with the shared libraries ldd names, the
# virtio-net modules of KVER with their dependencies (modules.dep order),
# and l2-init as /init.
#
# Usage: mkinitramfs.sh OUT.cpio KVER   (selftests/Makefile: E2E_KVER)

set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 OUT.cpio KVER" >&2; exit 2; }
OUT=$1
KVER=$2
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODDIR=/lib/modules/$KVER
WANT=(virtio_pci virtio_net)

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }

busybox=$(command -v busybox) || die "no busybox (busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is not static (busybox-static)"
iperf3=$(command -v iperf3) || die "no iperf3"
[ -r "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,proc,sys,dev,tmp,lib/e2e}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$SELF_DIR/l2-init" "$stage/init"

# iperf3 and its libraries at their own paths, so the loader finds them.
cp "$iperf3" "$stage/usr/bin/iperf3"
for lib in $(ldd "$iperf3" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
	[ -f "$lib" ] || continue
	mkdir -p "$stage/$(dirname "$lib")"
	cp -L "$lib" "$stage/$lib"
done

# Modules in dependency order: depth first over modules.dep.
declare -A seen=()
order=()
add() {
	local rel=$1 dep
	[ -n "${seen[$rel]:-}" ] && return
	seen[$rel]=1
	for dep in $(awk -v m="$rel:" '$1 == m { $1 = ""; print }' "$MODDIR/modules.dep"); do
		add "$dep"
	done
	order+=("$rel")
}
for m in "${WANT[@]}"; do
	rel=$(awk -F: -v m="$m" '{ n = $1; sub(".*/", "", n); sub("\\.ko.*", "", n);
				   gsub("-", "_", n); if (n == m) print $1 }' \
		"$MODDIR/modules.dep")
	[ -n "$rel" ] || die "$KVER has no module $m"
	add "$rel"
done
: >"$stage/lib/e2e/order"
for rel in "${order[@]}"; do
	name=$(basename "$rel")
	case $name in
	*.ko.xz) xz -dc "$MODDIR/$rel" >"$stage/lib/e2e/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$MODDIR/$rel" >"$stage/lib/e2e/${name%.zst}"; name=${name%.zst} ;;
	*) cp "$MODDIR/$rel" "$stage/lib/e2e/$name" ;;
	esac
	echo "$name" >>"$stage/lib/e2e/order"
done

mkdir -p "$(dirname "$OUT")"
# Uncompressed: nested TCG spends longer inflating than loading.
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet) >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
# lib.sh boots /boot/vmlinuz-<this KVER>: the modules must match it.
echo "$KVER" >"$OUT.kver"
