#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check's DKMS and Debian package step, on the host (no VM), as root:
#
#   1. dkms add/build/install of this tree for every kernel with headers
#      (/lib/modules/<k>/build), then the installed modules' version,
#      vermagic and signature (dkms signs with /var/lib/dkms/mok.key when
#      the kernel has CONFIG_MODULE_SIG, making the key if there is none);
#      dkms remove --all, and nothing of ours is left.
#   2. dpkg-buildpackage -b in a copy of the tree (the .debs are kept in
#      build/pkg/ for the VM test install_pkg.sh); dpkg -i of
#      vhost-accel-dkms; its postinst's DKMS build (then `dkms autoinstall
#      -k` for a kernel with headers it did not build for, as
#      Documentation/admin-guide.rst tells an administrator), the udev
#      rule, the AppArmor abstraction and its include line; dpkg -r, dpkg
#      -P, and all of it is gone again.
#
# The host is left as it was found: the VM suite that follows loads the
# modules by path from the build tree, and a module of ours under
# /lib/modules would shadow them for modprobe.  So the step refuses to
# start when vhost-accel is already known to DKMS or dpkg or a module of
# ours is installed for one of the kernels, and on exit removes whatever
# it added (package, DKMS tree, /usr/src copy, a signing key it made).
# One line per check (ok / not ok), then `N passed, N failed`; exits 0
# iff nothing failed.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=vhost-accel
PKG=vhost-accel-dkms
MODULES=(vhost_accel nicsim virtio_net_accel)
# What DKMS builds from: debian/rules ships the same files.
SRC_FILES=(dkms.conf Kbuild COPYING compat drivers include)
BUILD_OUTPUT=(--exclude='*.o' --exclude='*.ko' --exclude='*.mod'
	--exclude='*.mod.c' --exclude='*.cmd' --exclude='*.a' --exclude='*.o.d'
	--exclude=modules.order --exclude=Module.symvers)
# dkms' defaults (dkms(8), /etc/dkms/framework.conf may move them)
MOK_KEY=/var/lib/dkms/mok.key
MOK_CERT=/var/lib/dkms/mok.pub
UDEV_RULE=/lib/udev/rules.d/60-vhost-accel.rules
AA_ABSTRACTION=/etc/apparmor.d/abstractions/vhost-accel
AA_LOCAL=/etc/apparmor.d/local/abstractions/libvirt-qemu
AA_LINE='#include <abstractions/vhost-accel>'
AA_SCRIPT=/usr/lib/vhost-accel/vhost-accel-apparmor

if [[ $(id -u) -ne 0 ]]; then
	exec sudo -- bash "$0" "$@"
fi

passed=0 failed=0
ok() {
	echo "ok - $*"
	passed=$((passed + 1))
}
not_ok() {
	echo "not ok - $*"
	failed=$((failed + 1))
}
# check <description> <command...>: one check, from the command's status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# pkg_known: dpkg has the package, installed or with its conffiles left.
pkg_known() {
	local st
	st=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null) || return 1
	[[ -n $st && $st != *not-installed ]]
}
# run_dpkg <args...>: dpkg, waiting up to 10 minutes while another dpkg or
# apt (another job on this host) holds dpkg's lock.
run_dpkg() {
	local i rc out
	for ((i = 0; i < 300; i++)); do
		rc=0
		out=$(dpkg "$@" 2>&1) || rc=$?
		printf '%s\n' "$out"
		if ((rc == 0)) || ! grep -q 'dpkg frontend lock\|database is locked' <<<"$out"; then
			return "$rc"
		fi
		sleep 2
	done
	return 1
}
die() {
	echo "check-dkms: $*" >&2
	exit 1
}

VER=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' "$TOP/dkms.conf")
[[ -n $VER ]] || die "no PACKAGE_VERSION in dkms.conf"
CHANGELOG_VER=$(cd "$TOP" && dpkg-parsechangelog -SVersion)
check "dkms.conf version $VER is debian/changelog's ($CHANGELOG_VER)" \
	test "${CHANGELOG_VER%-*}" = "$VER"
if [[ -f $TOP/VERSION ]]; then
	check "dkms.conf version $VER is VERSION's ($(<"$TOP/VERSION"))" \
		test "$(<"$TOP/VERSION")" = "$VER"
	SRC_FILES+=(VERSION)
fi
# The version modinfo must show: only once the sources declare one.
WANT_MODVER=
if grep -rqs --include='*.[ch]' MODULE_VERSION "$TOP/drivers" "$TOP/include"; then
	WANT_MODVER=$VER
fi

# Kernels with headers, as DKMS finds them.
KERNELS=()
for d in /lib/modules/*/; do
	d=${d%/}
	[[ -f $d/build/Makefile ]] && KERNELS+=("${d##*/}")
done
((${#KERNELS[@]})) || die "no kernel with headers in /lib/modules/*/build: run make deps"
echo "# kernels with headers: ${KERNELS[*]}; version $VER"

# --- preconditions: nothing of ours on the host yet --------------------------

command -v dkms >/dev/null || die "dkms is not installed: run make deps"
if pkg_known; then
	die "$PKG is installed: this step would remove it (dpkg -P $PKG first)"
fi
if [[ -n $(dkms status -m "$NAME" 2>/dev/null) || -e /var/lib/dkms/$NAME ]]; then
	die "DKMS already has $NAME ($(dkms status -m "$NAME" | tr '\n' ' ')): dkms remove $NAME/<version> --all first"
fi
[[ ! -e /usr/src/$NAME-$VER ]] || die "/usr/src/$NAME-$VER exists: remove it first"
for k in "${KERNELS[@]}"; do
	for m in "${MODULES[@]}"; do
		f=$(modinfo -k "$k" -n "$m" 2>/dev/null) &&
			die "$m is installed for $k ($f): remove it first, or it shadows the build tree's"
	done
done

# --- cleanup: whatever we added goes, even on failure ------------------------

TMP=$(mktemp -d /tmp/check-dkms.XXXXXX)
made_key=
[[ -e $MOK_KEY || -e $MOK_CERT ]] || made_key=1
# libvirt's local abstraction as it was, for the checks and for cleanup
aa_saved=
if [[ -f $AA_LOCAL ]]; then
	aa_saved=$TMP/aa-local
	cp -p "$AA_LOCAL" "$aa_saved"
fi
cleanup() {
	set +e
	if dpkg-query -W vhost-accel-tools >/dev/null 2>&1; then
		run_dpkg -P vhost-accel-tools >/dev/null ||
			echo "check-dkms: dpkg -P vhost-accel-tools failed" >&2
	fi
	if pkg_known; then
		run_dpkg -P "$PKG" >/dev/null ||
			echo "check-dkms: dpkg -P $PKG failed: it is still installed" >&2
	fi
	if [[ -n $aa_saved ]]; then
		cat "$aa_saved" >"$AA_LOCAL"
	else
		rm -f "$AA_LOCAL"
	fi
	[[ -z $(dkms status -m "$NAME" 2>/dev/null) ]] ||
		dkms remove "$NAME/$VER" --all >/dev/null
	rm -rf "/usr/src/$NAME-$VER" "/var/lib/dkms/$NAME"
	# Only a key this run made: an administrator's (enrolled) key stays.
	[[ -z $made_key ]] || rm -f "$MOK_KEY" "$MOK_CERT"
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- checks on what DKMS installed ---------------------------------------------

hexnum() {
	tr -d ':\n' | tr a-f A-F | sed 's/^0*//'
}

# check_installed <kernel>: our three modules under updates/dkms, for that
# kernel, with our version, signed with dkms' key if the kernel checks
# module signatures.
check_installed() {
	local k=$1 m f sig=
	grep -qx 'CONFIG_MODULE_SIG=y' "/lib/modules/$k/build/.config" && sig=1
	for m in "${MODULES[@]}"; do
		f=$(modinfo -k "$k" -n "$m" 2>/dev/null || true)
		check "$k: modprobe finds $m in updates/dkms ($f)" \
			test "${f%/*}" = "/lib/modules/$k/updates/dkms"
		[[ -f $f ]] || continue
		check "$k: $m vermagic is $k" \
			test "$(modinfo -F vermagic "$f" | cut -d' ' -f1)" = "$k"
		if [[ -n $WANT_MODVER ]]; then
			check "$k: $m version is $WANT_MODVER" \
				test "$(modinfo -F version "$f")" = "$WANT_MODVER"
		else
			echo "# $k: $m version not checked: no MODULE_VERSION in the sources yet"
		fi
		[[ -n $sig ]] || {
			echo "# $k: no CONFIG_MODULE_SIG, $m not signed"
			continue
		}
		check "$k: $m signed by $MOK_CERT's subject ($CERT_CN)" \
			test "$(modinfo -F signer "$f")" = "$CERT_CN"
		check "$k: $m signed with $MOK_CERT's key (serial $CERT_SERIAL)" \
			test "$(modinfo -F sig_key "$f" | hexnum)" = "$CERT_SERIAL"
	done
}

# check_gone <what>: no module of ours for any kernel, no DKMS state.
check_gone() {
	local k m f left=()
	for k in "${KERNELS[@]}"; do
		for m in "${MODULES[@]}"; do
			f=$(modinfo -k "$k" -n "$m" 2>/dev/null) && left+=("$f")
		done
	done
	check "$1: no module of ours for any kernel${left:+ (left: ${left[*]})}" \
		test ${#left[@]} -eq 0
	left=()
	while IFS= read -r f; do
		left+=("$f")
	done < <(find /lib/modules/*/updates -name '*.ko*' \( -name 'vhost_accel.*' \
		-o -name 'nicsim.*' -o -name 'virtio_net_accel.*' \) 2>/dev/null)
	check "$1: no file of ours under /lib/modules/*/updates${left:+ (left: ${left[*]})}" \
		test ${#left[@]} -eq 0
	check "$1: dkms status has no $NAME" \
		test -z "$(dkms status -m "$NAME")"
	check "$1: /var/lib/dkms/$NAME is gone" test ! -e "/var/lib/dkms/$NAME"
}

# dkms_installed <kernel>: dkms status says installed for that kernel.
dkms_installed() {
	dkms status -m "$NAME" -v "$VER" -k "$1" | grep -q ': installed'
}

# --- 1. dkms add/build/install from the tree ----------------------------------

echo "# 1. dkms add/build/install from the tree"
mkdir -p "$TMP/src"
(cd "$TOP" && tar -c "${BUILD_OUTPUT[@]}" "${SRC_FILES[@]}") | tar -x -C "$TMP/src"
check "dkms add $TMP/src" dkms add "$TMP/src"
built=1
for k in "${KERNELS[@]}"; do
	if dkms build "$NAME/$VER" -k "$k"; then
		ok "dkms build -k $k"
	else
		not_ok "dkms build -k $k"
		tail -n 30 "/var/lib/dkms/$NAME/$VER/build/make.log" 2>/dev/null
		built=
		continue
	fi
	check "dkms install -k $k" dkms install "$NAME/$VER" -k "$k"
	check "dkms status: $k installed" dkms_installed "$k"
done
CERT_CN="" CERT_SERIAL=""
if [[ -f $MOK_CERT ]]; then
	CERT_CN=$(openssl x509 -inform DER -in "$MOK_CERT" -noout -subject \
		-nameopt multiline | sed -n 's/^ *commonName *= *//p')
	CERT_SERIAL=$(openssl x509 -inform DER -in "$MOK_CERT" -noout -serial |
		sed 's/^serial=//' | hexnum)
fi
echo "# signing certificate: ${CERT_CN:-none} serial ${CERT_SERIAL:-none}"
[[ -z $built ]] || for k in "${KERNELS[@]}"; do
	check_installed "$k"
done
check "dkms remove $NAME/$VER --all" dkms remove "$NAME/$VER" --all
rm -rf "/usr/src/$NAME-$VER"	# dkms add's copy of the tree
check_gone "after dkms remove"

# --- 2. the Debian package -----------------------------------------------------

echo "# 2. dpkg-buildpackage, dpkg -i, dpkg -r, dpkg -P"
mkdir -p "$TMP/pkg/src"
(cd "$TOP" && tar -c "${BUILD_OUTPUT[@]}" "${SRC_FILES[@]}" Makefile debian packaging tools) |
	tar -x -C "$TMP/pkg/src"
deb=$TMP/pkg/${PKG}_${VER}_all.deb
if (cd "$TMP/pkg/src" && dpkg-buildpackage -b -us -uc) >"$TMP/build.log" 2>&1 &&
	[[ -f $deb ]]; then
	ok "dpkg-buildpackage -b builds ${deb##*/}"
else
	not_ok "dpkg-buildpackage -b builds ${deb##*/}"
	tail -n 30 "$TMP/build.log"
	exit 1
fi
tools_deb=$(echo "$TMP"/pkg/vhost-accel-tools_"${VER}"_*.deb)
check "dpkg-buildpackage -b builds ${tools_deb##*/}" test -f "$tools_deb"
# kept for the VM suite's install_pkg.sh (selftests/install/)
rm -rf "$TOP/build/pkg" && mkdir -p "$TOP/build/pkg" &&
	cp "$deb" "$tools_deb" "$TOP/build/pkg/"
check "dpkg -i ${deb##*/}" run_dpkg -i "$deb"
check "dpkg -i ${tools_deb##*/}" run_dpkg -i "$tools_deb"
check "vhost-accel-stat in /usr/bin runs (-h)" /usr/bin/vhost-accel-stat -h
check "vhost-accel-stat.8 man page" test -f /usr/share/man/man8/vhost-accel-stat.8.gz
for k in "${KERNELS[@]}"; do
	if ! dkms_installed "$k"; then
		# dkms' postinst builds for the running and the newest kernel
		# only: the others as the admin guide says.
		echo "# $k: not built by the postinst; dkms autoinstall -k $k"
		dkms autoinstall -k "$k" || true
	fi
	check "dkms status: $NAME/$VER installed for $k" dkms_installed "$k"
	check_installed "$k"
done
check "source in /usr/src/$NAME-$VER" test -f "/usr/src/$NAME-$VER/dkms.conf"
check "contract header in /usr/src/$NAME-$VER/include/linux" \
	test -f "/usr/src/$NAME-$VER/include/linux/vhost_accel_nic.h"
check "no build output shipped in /usr/src/$NAME-$VER" \
	test -z "$(find "/usr/src/$NAME-$VER" -name '*.o' -o -name '*.ko')"
check "udev rule $UDEV_RULE" cmp -s "$TOP/packaging/60-vhost-accel.rules" "$UDEV_RULE"
check "AppArmor abstraction $AA_ABSTRACTION" \
	cmp -s "$TOP/packaging/apparmor/vhost-accel" "$AA_ABSTRACTION"
check "$AA_ABSTRACTION is a conffile" \
	grep -q "^ $AA_ABSTRACTION " <(dpkg-query -W -f='${Conffiles}\n' "$PKG")
check "include line in $AA_LOCAL" grep -qxF "$AA_LINE" "$AA_LOCAL"
check "$AA_SCRIPT status: enabled" "$AA_SCRIPT" status
check "modules-load.d example" \
	test -f "/usr/share/doc/$PKG/examples/vhost-accel.modules-load.conf"

check "dpkg -P vhost-accel-tools" run_dpkg -P vhost-accel-tools
check "dpkg -P: vhost-accel-stat is gone" test ! -e /usr/bin/vhost-accel-stat
check "dpkg -r $PKG" run_dpkg -r "$PKG"
check_gone "after dpkg -r"
check "dpkg -r: /usr/src/$NAME-$VER is gone" test ! -e "/usr/src/$NAME-$VER"
check "dpkg -r: udev rule is gone" test ! -e "$UDEV_RULE"
check "dpkg -r: include line is gone, $AA_LOCAL as it was" \
	cmp -s "${aa_saved:-/dev/null}" "$AA_LOCAL"
check "dpkg -r: conffile $AA_ABSTRACTION stays until purge" test -f "$AA_ABSTRACTION"
check "dpkg -P $PKG" run_dpkg -P "$PKG"
check "dpkg -P: $AA_ABSTRACTION is gone" test ! -e "$AA_ABSTRACTION"
check "dpkg -P: dpkg has no $PKG" eval '! pkg_known'
check "dpkg -P: /usr/lib/vhost-accel is gone" test ! -e /usr/lib/vhost-accel

echo "$passed passed, $failed failed"
((failed == 0))
