#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`'s "make install" step, on the host (no VM, nothing installed
# outside a temporary directory).  In a fresh copy of the tree (the files
# git tracks or would track, no build products), with apt-get, apt, dpkg
# and sudo on PATH and scripts/deps.sh, scripts/qemu-backports.sh replaced
# by programs that fail loudly:
#
#   - make without a kernel build directory stops with one line
#   - make install refuses modules that are not built
#   - plain make builds the three modules and calls none of the above,
#     and adds W=1/-Werror only with WERROR=1
#   - make install DESTDIR=D: every file at its path with its mode and
#     nothing else, modinfo -F version of each .ko is VERSION, the
#     AppArmor include line once, depmod (on a copy) sees nicsim and
#     virtio_net_accel depend on vhost_accel; a second install changes
#     nothing
#   - an out-of-tree cooperating driver (nicsim's sources, with its compat
#     layer, in a directory of its own) builds against the staged contract
#     header and Module.symvers alone: no "undefined" from modpost
#   - make uninstall DESTDIR=D leaves D empty; keeps what an administrator
#     added to libvirt-qemu's local file; install refuses to overwrite a
#     file it did not install, a KVER the modules were not built for, and
#     (as a user, without DESTDIR) to run without root
#
# TAP; exits non-zero if any check failed.  Environment: KDIR (default:
# what make picks).  Logs in build/check-install/.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=$TOP/build/check-install
rm -rf "$LOGS"
mkdir -p "$LOGS"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
chmod 0755 "$TMP"

VERSION=$(<"$TOP/VERSION")
SRC=$TMP/src
TRAP=$TMP/trap-bin
TRAPLOG=$TMP/trap.log
: >"$TRAPLOG"

n=0 failed=0
# result NAME WHY: WHY empty is a pass.
result() {
	n=$((n + 1))
	if [[ -z $2 ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1 # $2"
		failed=$((failed + 1))
	fi
}

# A program that must not run: logs and fails.
trap_prog() {
	printf '#!/bin/sh\necho "$0 $*" >>"%s"\necho "check-install: $0 must not run" >&2\nexit 97\n' \
		"$TRAPLOG" >"$1"
	chmod 0755 "$1"
}

# --- a fresh copy ---------------------------------------------------------------

mkdir -p "$SRC" "$TRAP"
git -C "$TOP" ls-files -z --cached --others --exclude-standard |
	(cd "$TOP" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) |
	tar -C "$TOP" --null -T - -c | tar -C "$SRC" -x
for p in apt-get apt aptitude dpkg sudo; do
	trap_prog "$TRAP/$p"
done
trap_prog "$SRC/scripts/deps.sh"
trap_prog "$SRC/scripts/qemu-backports.sh"

# mk LOG ARGS...: make in the copy as a user would run it (no settings of
# ours inherited but KDIR), with the traps first on PATH.
mk() {
	local log=$1
	shift
	(cd "$SRC" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u WERROR -u KVER \
		-u DESTDIR PATH="$TRAP:$PATH" make --no-print-directory "$@") \
		>"$LOGS/$log.log" 2>&1
}
traps_quiet() { [[ ! -s $TRAPLOG ]]; }

# 1: no kernel: one line, naming both ways out
why=
rc=0
mk no-kdir KDIR= || rc=$?
lines=$(grep -c . "$LOGS/no-kdir.log" || true)
if ((rc == 0)); then
	why="make KDIR= succeeded"
elif ((lines != 1)); then
	why="$lines lines of output, not 1"
elif ! grep -q "linux-headers-$(uname -r)" "$LOGS/no-kdir.log" ||
	! grep -q "make deps" "$LOGS/no-kdir.log"; then
	why="does not say linux-headers-$(uname -r) and make deps: $(head -n 1 "$LOGS/no-kdir.log")"
elif ! traps_quiet; then
	why="called: $(tr '\n' ' ' <"$TRAPLOG")"
fi
result "make without kernel headers stops with one line" "$why"

# The kernel make picks (or KDIR), and its release.
if [[ -z ${KDIR:-} ]]; then
	KDIR=$("$TOP/scripts/find-kdir.sh" 2>/dev/null | cut -f1 || true)
fi
if [[ -z $KDIR ]]; then
	result "kernel headers" "none found (scripts/find-kdir.sh); the rest needs them"
	exit 1
fi
export KDIR
KVER=$("$TOP/scripts/kernel-release.sh" "$KDIR")
echo "# KDIR $KDIR, kernel $KVER, VERSION $VERSION"

# refused NAME MESSAGE MAKE-ARGS...: make install ARGS into a staging
# directory of its own must fail saying MESSAGE and stage nothing.
refused() {
	local msg=$2 why='' rc=0 log=install-$1 dir=$TMP/r-$1
	shift 2
	mk "$log" install DESTDIR="$dir" "$@" || rc=$?
	if ((rc == 0)); then
		why="make install succeeded"
	elif ! grep -qF -- "$msg" "$LOGS/$log.log"; then
		why="$(tail -n 1 "$LOGS/$log.log")"
	elif [[ -n $(find "$dir" -mindepth 1 2>/dev/null | head -n 1) ]]; then
		why="it staged files anyway"
	fi
	echo "$why"
}

# 2: install before building
result "make install refuses modules that are not built" \
	"$(refused unbuilt 'is not built: run make first')"

# 3: plain make builds, installs nothing
why=
rc=0
mk make || rc=$?
if ((rc)); then
	why="make failed (exit $rc): $(tail -n 1 "$LOGS/make.log")"
elif ! traps_quiet; then
	why="called: $(tr '\n' ' ' <"$TRAPLOG")"
else
	for m in drivers/vhost/accel/vhost_accel.ko drivers/net/nicsim/nicsim.ko \
		drivers/net/virtio_net_accel/virtio_net_accel.ko; do
		[[ -f $SRC/$m ]] || why+="no $m "
	done
fi
result "make in a fresh copy builds the modules and calls no installer" "$why"

# 4: warnings are errors only when asked
why=
mk n-plain -n || why="make -n failed"
mk n-werror -n WERROR=1 || why="make -n WERROR=1 failed"
if [[ -z $why ]]; then
	grep -q -- '-Werror' "$LOGS/n-plain.log" && why="plain make passes -Werror"
	grep -q -- 'W=1 KCFLAGS=-Werror' "$LOGS/n-werror.log" ||
		why+="${why:+; }make WERROR=1 does not pass W=1 KCFLAGS=-Werror"
fi
result "W=1 -Werror with WERROR=1 only" "$why"

# --- make install DESTDIR -------------------------------------------------------

ROOT=$TMP/root
DEVEL=usr/src/vhost-accel-devel-$VERSION
MODDIR=lib/modules/$KVER/updates/vhost-accel
# Every file install puts there, with its mode.
expected_files() {
	cat <<-EOF
	644 $MODDIR/nicsim.ko
	644 $MODDIR/vhost_accel.ko
	644 $MODDIR/virtio_net_accel.ko
	644 usr/lib/udev/rules.d/60-vhost-accel.rules
	644 usr/share/doc/vhost-accel/examples/vhost-accel.modules-load.conf
	644 etc/apparmor.d/abstractions/vhost-accel
	644 etc/apparmor.d/local/abstractions/libvirt-qemu
	755 usr/lib/vhost-accel/vhost-accel-apparmor
	644 usr/lib/vhost-accel/install-manifest
	644 $DEVEL/include/linux/vhost_accel_nic.h
	644 $DEVEL/$KVER/Module.symvers
	EOF
}
# staged DIR: "mode path" of every file and symlink; directories not 0755
# are listed too.
staged() {
	(cd "$1" && find . -mindepth 1 \( -type d ! -perm 0755 -o ! -type d \) \
		-printf '%m %P\n') | sort
}
# same_content SRC STAGED
same() { cmp -s "$SRC/$1" "$ROOT/$2" || echo "$2 differs from $1; "; }

check_staged() {
	local why='' diffs
	diffs=$(diff <(expected_files | sort) <(staged "$ROOT") || true)
	[[ -z $diffs ]] || why="files differ from the list (< expected, > staged): $(echo "$diffs" | grep '^[<>]' | tr '\n' ' ')"
	why+=$(same packaging/60-vhost-accel.rules usr/lib/udev/rules.d/60-vhost-accel.rules)
	why+=$(same packaging/apparmor/vhost-accel etc/apparmor.d/abstractions/vhost-accel)
	why+=$(same packaging/apparmor/vhost-accel-apparmor usr/lib/vhost-accel/vhost-accel-apparmor)
	why+=$(same packaging/vhost-accel.modules-load.conf \
		usr/share/doc/vhost-accel/examples/vhost-accel.modules-load.conf)
	why+=$(same include/linux/vhost_accel_nic.h "$DEVEL/include/linux/vhost_accel_nic.h")
	local m
	for m in drivers/vhost/accel/vhost_accel.ko drivers/net/nicsim/nicsim.ko \
		drivers/net/virtio_net_accel/virtio_net_accel.ko; do
		why+=$(same "$m" "$MODDIR/${m##*/}")
	done
	local inc
	inc=$(grep -cxF '#include <abstractions/vhost-accel>' \
		"$ROOT/etc/apparmor.d/local/abstractions/libvirt-qemu" 2>/dev/null || true)
	[[ $inc == 1 ]] || why+="the AppArmor include line is there ${inc:-0} times; "
	echo "$why"
}

why=
rc=0
mk install install DESTDIR="$ROOT" || rc=$?
if ((rc)); then
	why="exit $rc: $(tail -n 1 "$LOGS/install.log")"
else
	why=$(check_staged)
fi
result "make install DESTDIR: every file, its mode and content, nothing else" "$why"

why=
for m in vhost_accel nicsim virtio_net_accel; do
	ko=$ROOT/$MODDIR/$m.ko
	v=$(modinfo -F version "$ko" 2>/dev/null || true)
	[[ $v == "$VERSION" ]] || why+="$m version '$v'; "
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
	[[ ${vm%% *} == "$KVER" ]] || why+="$m vermagic '${vm%% *}'; "
done
result "modinfo -F version of each module is VERSION ($VERSION), vermagic $KVER" "$why"

# depmod on a copy (its index files are not install's to leave behind)
why=
cp -a "$ROOT" "$TMP/depmod" 2>/dev/null || mkdir -p "$TMP/depmod"
if ! depmod -b "$TMP/depmod" -a "$KVER" >"$LOGS/depmod.log" 2>&1; then
	why="depmod -b failed: $(tail -n 1 "$LOGS/depmod.log")"
else
	dep=$TMP/depmod/lib/modules/$KVER/modules.dep
	for m in nicsim virtio_net_accel; do
		grep -qx "updates/vhost-accel/$m.ko: updates/vhost-accel/vhost_accel.ko" "$dep" ||
			why+="modules.dep: no $m -> vhost_accel; "
	done
fi
result "depmod finds the modules in updates/vhost-accel and their dependency" "$why"

why=
rc=0
mk install-again install DESTDIR="$ROOT" || rc=$?
if ((rc)); then
	why="exit $rc: $(tail -n 1 "$LOGS/install-again.log")"
else
	why=$(check_staged)
fi
result "a second make install changes nothing" "$why"

# --- a vendor's driver against the staged contract ------------------------------

why=
V=$TMP/vendor
mkdir -p "$V"
cp "$SRC"/drivers/net/nicsim/*.[ch] "$V/"
# nicsim's own kernel-API compat layer comes along (a vendor has its own);
# the contract comes only from the staged directory.
cp -r "$SRC/compat" "$V/compat"
objs=$(sed -n 's/^nicsim-y[[:space:]]*:=[[:space:]]*//p' "$SRC/drivers/net/nicsim/Makefile")
# The contract's lines as Documentation/admin-guide.rst gives them.
cat >"$V/Kbuild" <<EOF
obj-m := nicsim.o
nicsim-y := $objs
VHOST_ACCEL := $ROOT/$DEVEL
ccflags-y += -I\$(VHOST_ACCEL)/include
KBUILD_EXTRA_SYMBOLS += \$(VHOST_ACCEL)/$KVER/Module.symvers
ccflags-y += -include \$(src)/compat/compat.h -I\$(src)/compat/include
ccflags-y += -DVHOST_ACCEL_VERSION='"vendor"'
EOF
rc=0
make -C "$KDIR" M="$V" modules >"$LOGS/vendor.log" 2>&1 </dev/null || rc=$?
if ((rc)); then
	why="build failed (exit $rc): $(grep -m1 -E 'error|undefined' "$LOGS/vendor.log" || tail -n 1 "$LOGS/vendor.log")"
elif grep -q undefined "$LOGS/vendor.log"; then
	why="modpost: $(grep -m1 undefined "$LOGS/vendor.log")"
elif [[ ,$(modinfo -F depends "$V/nicsim.ko"), != *,vhost_accel,* ]]; then
	why="nicsim.ko does not depend on vhost_accel"
elif grep -q -- "-I$SRC/include\|-I$TOP/include" "$V"/.*.o.cmd; then
	why="the build saw the tree's include/"
fi
result "an out-of-tree cooperating driver builds against the staged header and Module.symvers" "$why"

# --- refusals -------------------------------------------------------------------

result "make install refuses a KVER the modules were not built for" \
	"$(refused kver "built for kernel '$KVER', not 0.0.0-not-built" KVER=0.0.0-not-built)"

why=
R=$TMP/r-theirs
mkdir -p "$R/etc/apparmor.d/abstractions"
echo '# a package owns this' >"$R/etc/apparmor.d/abstractions/vhost-accel"
rc=0
mk install-theirs install DESTDIR="$R" || rc=$?
if ((rc == 0)); then
	why="succeeded"
elif [[ $(<"$R/etc/apparmor.d/abstractions/vhost-accel") != '# a package owns this' ]]; then
	why="the file was overwritten"
elif [[ $(cd "$R" && find . ! -type d) != ./etc/apparmor.d/abstractions/vhost-accel ]]; then
	why="it staged files anyway: $(cd "$R" && find . ! -type d | tr '\n' ' ')"
elif ! grep -q 'not installed by make install' "$LOGS/install-theirs.log"; then
	why="$(tail -n 1 "$LOGS/install-theirs.log")"
fi
result "make install does not overwrite a file it did not install" "$why"

why=
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null 2>&1; then
	result "make install/uninstall without DESTDIR need root # SKIP not root or no setpriv" ""
else
	# As nobody; had it not refused, it could still not write anything.
	for a in install uninstall; do
		rc=0
		(cd "$SRC" && setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -u DESTDIR KVER="$KVER" PATH="$TRAP:$PATH" \
			scripts/install.sh "$a") >"$LOGS/$a-user.log" 2>&1 || rc=$?
		if ((rc == 0)); then
			why+="$a succeeded as a user; "
		elif ! grep -q 'run it as root' "$LOGS/$a-user.log"; then
			why+="$a: $(tail -n 1 "$LOGS/$a-user.log"); "
		fi
	done
	result "make install/uninstall without DESTDIR need root" "$why"
fi

# --- uninstall ------------------------------------------------------------------

why=
rc=0
mk uninstall uninstall DESTDIR="$ROOT" || rc=$?
if ((rc)); then
	why="exit $rc: $(tail -n 1 "$LOGS/uninstall.log")"
elif [[ -n $(find "$ROOT" -mindepth 1 | head -n 1) ]]; then
	why="left: $(cd "$ROOT" && find . -mindepth 1 | tr '\n' ' ')"
fi
result "make uninstall DESTDIR leaves nothing" "$why"

# An administrator's libvirt-qemu local file: the include line comes and
# goes, the rest stays.
why=
R=$TMP/r-admin
L=etc/apparmor.d/local/abstractions/libvirt-qemu
mkdir -p "$R/${L%/*}"
echo '  /srv/images/** r,' >"$R/$L"
rc=0
mk admin-install install DESTDIR="$R" || rc=$?
mk admin-uninstall uninstall DESTDIR="$R" || rc=$?
if ((rc)); then
	why="install or uninstall failed"
elif [[ $(<"$R/$L") != '  /srv/images/** r,' ]]; then
	why="libvirt-qemu now reads: $(tr '\n' '|' <"$R/$L")"
elif [[ $(cd "$R" && find . ! -type d) != "./$L" ]]; then
	why="left: $(cd "$R" && find . ! -type d | tr '\n' ' ')"
fi
result "make uninstall keeps an administrator's own AppArmor lines" "$why"

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
((failed == 0))
