#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` / `make uninstall` (Documentation/admin-guide.rst,
# "Install").  Run by the Makefile, which sets KVER (the kernel release the
# modules were built for: KDIR's, unless given) and DESTDIR.
#
#   scripts/install.sh install     (KVER=... [DESTDIR=...])
#   scripts/install.sh uninstall   ([DESTDIR=...])
#
# install puts, below DESTDIR (as root when DESTDIR is empty):
#   /lib/modules/KVER/updates/vhost-accel/*.ko    the three modules, then
#                                                 depmod -a KVER
#   /usr/lib/udev/rules.d/60-vhost-accel.rules    /dev/vhost-accel for kvm
#   /usr/share/doc/vhost-accel/examples/vhost-accel.modules-load.conf
#   /etc/apparmor.d/abstractions/vhost-accel      and, through
#   /usr/lib/vhost-accel/vhost-accel-apparmor enable, its include line in
#                          /etc/apparmor.d/local/abstractions/libvirt-qemu
#   /usr/src/vhost-accel-devel-VERSION/include/linux/vhost_accel_nic.h
#   /usr/src/vhost-accel-devel-VERSION/KVER/Module.symvers
#                          (vhost_accel's exports) for cooperating drivers
#                          built out of tree
# and lists all of it in /usr/lib/vhost-accel/install-manifest, with every
# directory it had to create.  uninstall removes exactly what the manifest
# names (for every kernel installed for), takes the include line out again
# if install put it there, and runs depmod.  A file that exists and is not
# in the manifest (a package's, an administrator's) is never overwritten:
# install stops instead.  With DESTDIR, nothing outside it is touched and
# depmod is not run (a package runs it when it is installed).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
[[ -z $DESTDIR || $DESTDIR == /* ]] || DESTDIR=$PWD/$DESTDIR

say() { printf 'install.sh: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

VERSION=$(cat "$TOP/VERSION" 2>/dev/null || true)
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	die "$TOP/VERSION: missing or not MAJOR.MINOR.PATCH"

LIBDIR=/usr/lib/vhost-accel
MANIFEST=$LIBDIR/install-manifest
APPARMOR_SCRIPT=$LIBDIR/vhost-accel-apparmor
# Debian 12's udevd (systemd 252) reads /etc, /run, /usr/local/lib and
# /usr/lib udev/rules.d, not /lib/udev/rules.d: that one works through
# the merged /usr only.  /usr/lib is right on both layouts.
UDEV_RULES=/usr/lib/udev/rules.d
EXAMPLES=/usr/share/doc/vhost-accel/examples
AA_ABSTRACTION=/etc/apparmor.d/abstractions/vhost-accel
AA_LOCAL=/etc/apparmor.d/local/abstractions/libvirt-qemu
AA_LINE='#include <abstractions/vhost-accel>'
DEVEL=/usr/src/vhost-accel-devel-$VERSION
MODULES=(drivers/vhost/accel/vhost_accel.ko drivers/net/nicsim/nicsim.ko
	drivers/net/virtio_net_accel/virtio_net_accel.ko)

# --- the manifest -------------------------------------------------------------
#
# One entry a line, paths without DESTDIR:
#   f PATH   a file install wrote
#   d PATH   a directory install created (removed again if empty)
#   e PATH   a file that did not exist before `enable` created it (removed
#            if empty after disable)
#   a        install added the AppArmor include line
#   k KVER   modules installed for KVER (depmod at uninstall)

PENDING=()
# rec ENTRY: append to the manifest once (buffered until its directory
# exists: creating that directory is recorded too).
rec() {
	PENDING+=("$*")
	[[ -d $DESTDIR$LIBDIR ]] || return 0
	local m=$DESTDIR$MANIFEST e
	touch "$m"
	chmod 0644 "$m"
	for e in "${PENDING[@]}"; do
		grep -qxF -- "$e" "$m" || printf '%s\n' "$e" >>"$m"
	done
	PENDING=()
}

in_manifest() {
	[[ -f $DESTDIR$MANIFEST ]] && grep -qxF -- "$1" "$DESTDIR$MANIFEST"
}

# mkd DIR: create DIR and its missing parents (0755), recording each one.
mkd() {
	local p='' c parts
	IFS=/ read -r -a parts <<<"${1#/}"
	for c in "${parts[@]}"; do
		p+=/$c
		[[ -d $DESTDIR$p ]] && continue
		mkdir -m 0755 "$DESTDIR$p"
		rec d "$p"
	done
}

# inst MODE SRC DEST: copy SRC to DEST (a file path), never over a file
# that is not ours.
inst() {
	local mode=$1 src=$2 dest=$3
	mkd "$(dirname "$dest")"
	install -m "$mode" "$src" "$DESTDIR$dest"
	rec f "$dest"
}

# Refuse before touching anything: a file of the same path that install
# did not write belongs to someone else (vhost-accel-dkms, the admin).
check_not_theirs() {
	local p clash=()
	for p in "$@"; do
		[[ -e $DESTDIR$p || -L $DESTDIR$p ]] || continue
		in_manifest "f $p" || clash+=("$DESTDIR$p")
	done
	((${#clash[@]} == 0)) && return 0
	die "not installing: ${clash[*]} exist(s) and were not installed by make install (a package's? run make uninstall or remove the package first)"
}

# --- install ------------------------------------------------------------------

vermagic_kver() {
	local v
	v=$(modinfo -F vermagic "$1" 2>/dev/null) || return 0
	echo "${v%% *}"
}

do_install() {
	local kver=${KVER:-}
	[[ -n $kver ]] || die "no KVER (make install sets it from KDIR)"
	[[ $kver =~ ^[A-Za-z0-9._+~-]+$ ]] || die "KVER '$kver' is not a kernel release"
	[[ -n $DESTDIR || $(id -u) -eq 0 ]] ||
		die "make install writes to /lib/modules, /etc and /usr: run it as root (or stage it with DESTDIR=DIR)"

	# The modules must have been built, and for this kernel: installing a
	# module modprobe then refuses (or one for another kernel) helps nobody.
	local m mk
	for m in "${MODULES[@]}"; do
		[[ -f $TOP/$m ]] || die "$m is not built: run make first (make KDIR=/lib/modules/$kver/build for kernel $kver)"
		mk=$(vermagic_kver "$TOP/$m")
		[[ $mk == "$kver" ]] ||
			die "$m was built for kernel '${mk:-?}', not $kver: run make KDIR=/lib/modules/$kver/build first, or make install KVER=${mk:-...}"
	done
	local symvers
	# vhost_accel's lines, its module path made relative as in a kernel
	# tree's own Module.symvers (6.1 writes the absolute build path).
	symvers=$(awk -F'\t' -v OFS='\t' '$3 ~ /(^|\/)drivers\/vhost\/accel\/vhost_accel$/ {
		$3 = "drivers/vhost/accel/vhost_accel"; print }' "$TOP/Module.symvers" 2>/dev/null || true)
	[[ -n $symvers ]] || die "Module.symvers has no vhost_accel exports: run make first"

	local moddir=/lib/modules/$kver/updates/vhost-accel
	local targets=("$UDEV_RULES/60-vhost-accel.rules"
		"$EXAMPLES/vhost-accel.modules-load.conf"
		"$AA_ABSTRACTION" "$APPARMOR_SCRIPT"
		"$DEVEL/include/linux/vhost_accel_nic.h"
		"$DEVEL/$kver/Module.symvers")
	for m in "${MODULES[@]}"; do
		targets+=("$moddir/$(basename "$m")")
	done
	check_not_theirs "${targets[@]}"
	[[ -z $DESTDIR ]] || mkdir -p "$DESTDIR"

	mkd "$LIBDIR"
	rec k "$kver"
	for m in "${MODULES[@]}"; do
		inst 0644 "$TOP/$m" "$moddir/$(basename "$m")"
	done
	inst 0644 "$TOP/packaging/60-vhost-accel.rules" "$UDEV_RULES/60-vhost-accel.rules"
	inst 0644 "$TOP/packaging/vhost-accel.modules-load.conf" \
		"$EXAMPLES/vhost-accel.modules-load.conf"
	inst 0644 "$TOP/packaging/apparmor/vhost-accel" "$AA_ABSTRACTION"
	inst 0755 "$TOP/packaging/apparmor/vhost-accel-apparmor" "$APPARMOR_SCRIPT"
	inst 0644 "$TOP/include/linux/vhost_accel_nic.h" \
		"$DEVEL/include/linux/vhost_accel_nic.h"
	local tmp
	tmp=$(mktemp)
	printf '%s\n' "$symvers" >"$tmp"
	inst 0644 "$tmp" "$DEVEL/$kver/Module.symvers"
	rm -f "$tmp"

	# The include line: recorded only if we add it (a package may have).
	if [[ -f $DESTDIR$AA_LOCAL ]] && grep -qxF "$AA_LINE" "$DESTDIR$AA_LOCAL"; then
		in_manifest a ||
		say "AppArmor: $AA_LOCAL already includes abstractions/vhost-accel"
	else
		mkd "$(dirname "$AA_LOCAL")"
		[[ -e $DESTDIR$AA_LOCAL ]] || rec e "$AA_LOCAL"
		"$DESTDIR$APPARMOR_SCRIPT" enable "$DESTDIR"
		rec a
	fi

	# Another vhost_accel.ko for this kernel (vhost-accel-dkms installs
	# to updates/dkms/): depmod would pick one of the two.
	local other
	other=$(find "$DESTDIR/lib/modules/$kver" -name 'vhost_accel.ko*' \
		! -path "*/updates/vhost-accel/*" 2>/dev/null | head -n 1)
	[[ -z $other ]] ||
		say "warning: $other is installed too; modprobe loads only one of them: remove one (dkms remove, or make uninstall)"

	if [[ -z $DESTDIR ]]; then
		depmod -a "$kver"
		reload_udev
	else
		say "DESTDIR set: depmod not run (run depmod -a $kver where this is installed)"
	fi
	say "installed vhost-accel $VERSION for $kver${DESTDIR:+ in $DESTDIR}; manifest: $DESTDIR$MANIFEST"
}

reload_udev() {
	[[ -S /run/udev/control ]] && command -v udevadm >/dev/null 2>&1 || return 0
	udevadm control --reload || say "warning: udevadm control --reload failed"
}

# --- uninstall ----------------------------------------------------------------

do_uninstall() {
	local m=$DESTDIR$MANIFEST
	[[ -n $DESTDIR || $(id -u) -eq 0 ]] ||
		die "make uninstall removes files from /lib/modules, /etc and /usr: run it as root"
	if [[ ! -f $m ]]; then
		say "nothing to uninstall: no $m"
		return 0
	fi
	local kind path entries=() kvers=() dirs=()
	mapfile -t entries <"$m"

	# The include line first, while the script is still there.
	if grep -qx 'a' "$m"; then
		local script=$DESTDIR$APPARMOR_SCRIPT
		[[ -x $script ]] || script=$TOP/packaging/apparmor/vhost-accel-apparmor
		"$script" disable "$DESTDIR"
	fi
	for path in "${entries[@]}"; do
		read -r kind path <<<"$path"
		case $kind in
		e)
			# Created by enable; the admin may have added lines since.
			[[ -f $DESTDIR$path && ! -s $DESTDIR$path ]] && rm -f "$DESTDIR$path"
			;;
		f) rm -f "$DESTDIR$path" ;;
		d) dirs+=("$path") ;;
		k) kvers+=("$path") ;;
		a) ;;
		*) say "warning: unknown manifest entry '$kind $path'" ;;
		esac
	done
	rm -f "$m"
	# Deepest first; a directory someone else put files into stays.
	local d
	while read -r d; do
		[[ -z $d ]] && continue
		rmdir "$DESTDIR$d" 2>/dev/null || say "left $DESTDIR$d (not empty)"
	done < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' |
		sort -rn | cut -f2-)

	local k
	for k in "${kvers[@]}"; do
		if [[ -z $DESTDIR && -d /lib/modules/$k ]]; then
			depmod -a "$k"
		fi
	done
	[[ -n $DESTDIR ]] || reload_udev
	say "uninstalled vhost-accel${DESTDIR:+ from $DESTDIR}"
}

case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
*)
	echo "usage: $0 install|uninstall  (KVER, DESTDIR from the environment)" >&2
	exit 2
	;;
esac
