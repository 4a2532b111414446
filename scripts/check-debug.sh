#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the VM test suite (and so the fuzz slice in it) on a
# debug kernel built from Debian's linux-source-6.1 package with KASAN,
# KMEMLEAK, PROVE_LOCKING, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS; the VM boots
# it with panic_on_warn=1 and guest-run.sh scans kmemleak at the end.
# Documentation/testing.rst "Debug kernel".
#
#   1 unpack /usr/src/linux-source-6.1.tar.xz into build/debug-kernel/
#   2 .config = x86_64 defconfig + kvm_guest.config + selftests/vm/debug.config
#   3 bzImage (+ modules_install into build/debug-kernel/mod), niced
#   4 our modules against it (a copy of the sources, the tree's own .ko
#     stay built for the Debian kernel), the selftests
#   5 selftests/vm/run.sh --kdir <that tree> --moddir <its modules>
#
# Steps 1-3 are cached: a rebuild happens only when the fragment or the
# tarball changes (the kernel build takes 26-66 minutes on 2 cores).
#
# Usage: scripts/check-debug.sh [--build-only] [--only NAME...]
# Environment: DEBUG_KERNEL_SRC (the tarball), DEBUG_JOBS (default nproc),
# DEBUG_VM_TIMEOUT (default 10800 s: KASAN + lockdep under TCG is slow),
# DEBUG_TIME_SCALE (default 4: every test's time limit and its bounded
# waits x 4, run.sh's VM_TIME_SCALE), DEBUG_TEST_ENV (default
# VG_BP_FRAMES=100000: datapath_backpressure's flow-control run moves a
# tenth of its million frames, which alone would outlast any limit under
# KASAN and TCG; run.sh's VM_TEST_ENV), DEBUG_E2E=1 (also the nested-QEMU
# end-to-end tests, left out by default: their nested guest did not come
# up in 9 minutes on this kernel under TCG), run.sh's other VM_*
# variables.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$TOP/build/debug-kernel
FRAGMENT=$TOP/selftests/vm/debug.config
: "${DEBUG_KERNEL_SRC:=/usr/src/linux-source-6.1.tar.xz}"
: "${DEBUG_JOBS:=$(nproc)}"
: "${DEBUG_VM_TIMEOUT:=10800}"
: "${DEBUG_TIME_SCALE:=4}"
: "${DEBUG_TEST_ENV=VG_BP_FRAMES=100000}"
: "${DEBUG_E2E:=0}"

BUILD_ONLY=0
ONLY=()
while (($#)); do
	case $1 in
	--build-only) BUILD_ONLY=1; shift ;;
	--only) shift; ONLY=("$@"); break ;;
	*) echo "usage: $0 [--build-only] [--only NAME...]" >&2; exit 2 ;;
	esac
done

say() { printf 'check-debug: %s\n' "$*"; }
die() { say "$*"; exit 1; }

# quiet WHAT LOG CMD...: a long step with its output in LOG.
quiet() {
	local what=$1 log=$2 rc=0 t0=$SECONDS
	shift 2
	say "$what (log ${log#"$TOP"/})"
	"$@" >"$log" 2>&1 </dev/null || rc=$?
	if ((rc)); then
		say "$what: FAILED (exit $rc); last lines:"
		tail -n 30 "$log" | sed 's/^/  /'
		exit 1
	fi
	say "$what: ok ($((SECONDS - t0)) s)"
}

[[ -r $DEBUG_KERNEL_SRC ]] ||
	die "no $DEBUG_KERNEL_SRC (apt-get install linux-source-6.1)"
mkdir -p "$OUT"
cd "$TOP"

# --- 1 sources
SRCDIR=$OUT/$(basename "$DEBUG_KERNEL_SRC" .tar.xz)
SRC_STAMP=$(stat -c '%s %Y' "$DEBUG_KERNEL_SRC")
if [[ $(cat "$OUT/src.stamp" 2>/dev/null) != "$SRC_STAMP" ]]; then
	rm -rf "$SRCDIR" "$OUT/config.stamp"
	quiet "unpacking $DEBUG_KERNEL_SRC" "$OUT/unpack.log" \
		tar -xJf "$DEBUG_KERNEL_SRC" -C "$OUT"
	echo "$SRC_STAMP" >"$OUT/src.stamp"
fi
[[ -f $SRCDIR/Makefile ]] || die "$SRCDIR has no Makefile"

# --- 2 configuration; a changed fragment means a new kernel
KMAKE=(nice -n 10 make -C "$SRCDIR" -j"$DEBUG_JOBS" LOCALVERSION=-vhost-accel-debug)
CFG_STAMP=$(sha256sum "$FRAGMENT" | cut -d' ' -f1)
if [[ $(cat "$OUT/config.stamp" 2>/dev/null) != "$CFG_STAMP" ]]; then
	rm -f "$OUT/kernel.stamp"
	quiet "configuring" "$OUT/config.log" bash -c '
		set -e
		"$@" x86_64_defconfig
		cd "'"$SRCDIR"'"
		scripts/kconfig/merge_config.sh -m .config \
			kernel/configs/kvm_guest.config "'"$FRAGMENT"'"
		make olddefconfig' _ "${KMAKE[@]}"
	# merge_config only warns when Kconfig drops a line; a checker that
	# silently vanished would make the whole run meaningless.
	for opt in KASAN DEBUG_KMEMLEAK PROVE_LOCKING DEBUG_ATOMIC_SLEEP \
		   DEBUG_OBJECTS 9P_FS NET_9P_VIRTIO VIRTIO_PCI OVERLAY_FS TUN \
		   TAP VHOST_NET MACVTAP VETH USER_NS NET_NS DEBUG_FS \
		   SOFTLOCKUP_DETECTOR DETECT_HUNG_TASK BLK_DEV_LOOP EXT4_FS \
		   USERFAULTFD; do
		grep -q "^CONFIG_$opt=y" "$SRCDIR/.config" ||
			die "CONFIG_$opt is not =y after merging (see $OUT/config.log)"
	done
	echo "$CFG_STAMP" >"$OUT/config.stamp"
fi

# --- 3 kernel
if [[ ! -f $OUT/kernel.stamp ]]; then
	quiet "building bzImage and modules (niced, $DEBUG_JOBS jobs)" \
		"$OUT/kernel.log" "${KMAKE[@]}" bzImage modules
	rm -rf "$OUT/mod"
	quiet "installing modules" "$OUT/modules-install.log" \
		"${KMAKE[@]}" INSTALL_MOD_PATH="$OUT/mod" modules_install
	touch "$OUT/kernel.stamp"
fi
KVER=$("$TOP/scripts/kernel-release.sh" "$SRCDIR")
[[ -n $KVER ]] || die "cannot tell the release of $SRCDIR"
MODDIR=$OUT/mod/lib/modules/$KVER
say "kernel $KVER: $SRCDIR/arch/x86/boot/bzImage, modules in ${MODDIR#"$TOP"/}"

# --- 4 our modules (on a copy) and the tests
EXT=$OUT/ext
rm -rf "$EXT"
mkdir -p "$EXT"
tar -C "$TOP" -c --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
	--exclude='*.mod.c' --exclude='*.cmd' --exclude='*.symvers' \
	--exclude='modules.order' Kbuild Makefile VERSION compat drivers include | tar -C "$EXT" -x
quiet "vhost-accel modules against $KVER" "$OUT/ext.log" \
	make -C "$SRCDIR" M="$EXT" W=1 KCFLAGS=-Werror modules
quiet "selftests" "$OUT/selftests.log" make -C "$TOP" selftests
((BUILD_ONLY)) && { say "built; --build-only: not booting"; exit 0; }

# The suite's module list with our paths pointing at the copy.
MODLIST=$OUT/modules.list
{
	echo "# generated by scripts/check-debug.sh from selftests/vm/modules.list"
	grep -vE '^[[:space:]]*(#|$)' selftests/vm/modules.list |
		while read -r path rest; do
			[[ $path == /* ]] || path=$EXT/$path
			echo "$path $rest"
		done
} >"$MODLIST"
while read -r m _; do
	[[ $m == '#'* ]] || [[ -f $m ]] || die "$m was not built"
done <"$MODLIST"

# --- 5 the suite
if ((${#ONLY[@]} == 0)) && [[ $DEBUG_E2E != 1 ]]; then
	mapfile -t ONLY < <(awk '!/^[[:space:]]*(#|$)/ && $1 !~ /^e2e_/ { print $1 }' \
		selftests/tests.list)
	say "all of selftests/tests.list but the e2e_* tests (DEBUG_E2E=1 adds them)"
fi
rc=0
VM_MODULES_LIST=$MODLIST VM_TIME_SCALE=$DEBUG_TIME_SCALE \
	VM_TEST_ENV=$DEBUG_TEST_ENV selftests/vm/run.sh --kdir "$SRCDIR" --moddir "$MODDIR" \
	--timeout "$DEBUG_VM_TIMEOUT" ${ONLY[@]:+--only "${ONLY[@]}"} |
	tee "$OUT/vm.tap" || rc=$?
if ((rc == 0)); then
	say "PASSED on $KVER (KASAN, KMEMLEAK, lockdep): TAP in ${OUT#"$TOP"/}/vm.tap"
else
	say "FAILED (exit $rc): TAP in ${OUT#"$TOP"/}/vm.tap"
fi
exit "$rc"
