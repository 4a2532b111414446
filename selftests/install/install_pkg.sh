#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The administrator's install path, in the test VM: the Debian packages
# that scripts/check-dkms.sh built on the host (kept in build/pkg/) are
# installed with dpkg as Documentation/admin-guide.rst "DKMS and the
# Debian package" says; DKMS builds the modules for the running kernel;
# modprobe loads them from updates/dkms; udevd applies the installed rule
# (group kvm, mode 0660); the AppArmor include line is in place; a guest
# device on nicsim answers vhost-accel-stat from the tools package; then
# dpkg -P takes it all away.  The VM's root is an overlay of the host's,
# so nothing here reaches the host.  The suite's own modules are unloaded
# first and loaded again from the run's build at the end (VP_*_KO from
# guest-run.sh).  Prints kselftest TAP.  Needs root, dpkg, dkms, udevadm.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJ=${PROJ:-$(cd "$HERE/../.." && pwd)}
PKGDIR=$PROJ/build/pkg
KVER=$(uname -r)
PLAN=16

# shellcheck source=selftests/lib/tap.sh
. "$HERE/lib/tap.sh"

echo "TAP version 13"
echo "1..$PLAN"

dkms_deb=$(ls "$PKGDIR"/vhost-accel-dkms_*_all.deb 2>/dev/null | tail -n 1)
tools_deb=$(ls "$PKGDIR"/vhost-accel-tools_*_amd64.deb 2>/dev/null | tail -n 1)
if [ -z "$dkms_deb" ] || [ -z "$tools_deb" ]; then
	for ((i = 0; i < PLAN; i++)); do
		skip "install_pkg" "no packages in $PKGDIR (scripts/check-dkms.sh builds them)"
	done
	exit 0
fi
ver=${dkms_deb##*/vhost-accel-dkms_}
ver=${ver%_all.deb}
echo "# packages: ${dkms_deb##*/} ${tools_deb##*/}, kernel $KVER"

# The suite's modules, as guest-run.sh loaded them, to load again at the end.
ours=()
for m in vhost_accel nicsim virtio_net_accel; do
	[ -d "/sys/module/$m" ] && ours+=("$m")
done
reload_ours() {
	local m var path
	for m in vhost_accel nicsim virtio_net_accel; do
		rmmod "$m" 2>/dev/null
	done
	for m in "${ours[@]}"; do
		var=VP_${m^^}_KO
		path=${!var:-}
		[ -n "$path" ] || { echo "# no $var to load $m again" >&2; continue; }
		insmod "$path" || echo "# insmod $path failed" >&2
	done
}
udevd_pid=
hidden=()
cleanup() {
	for d in "${hidden[@]}"; do umount "$(readlink -f "$d")"; done
	[ -z "$udevd_pid" ] || kill "$udevd_pid" 2>/dev/null
	dpkg -P vhost-accel-tools vhost-accel-dkms >/dev/null 2>&1
	reload_ours
}
trap cleanup EXIT

unload() {
	local m
	for m in virtio_net_accel nicsim vhost_accel; do
		[ ! -d "/sys/module/$m" ] || rmmod "$m" || return 1
	done
}
t "the suite's modules unloaded (${ours[*]})" unload

# dpkg -i: the postinst has DKMS build and install for the running kernel.
# It would build for every kernel with headers, and each build takes
# minutes under TCG: the other kernels' build links are hidden for it
# (an empty directory mounted over them, in the VM's overlay only).
hidden=()
for d in /lib/modules/*/build; do
	[ "$d" = "/lib/modules/$KVER/build" ] || [ ! -e "$d/Makefile" ] && continue
	mkdir -p /tmp/install_pkg.empty
	mount --bind /tmp/install_pkg.empty "$(readlink -f "$d")" && hidden+=("$d")
done
[ ${#hidden[@]} -eq 0 ] || echo "# hidden for the build: ${hidden[*]}"
start=$SECONDS
t "dpkg -i ${dkms_deb##*/}" dpkg -i "$dkms_deb"
echo "# dpkg -i with the DKMS build took $((SECONDS - start)) s"
installed() { dkms status -m vhost-accel -v "$ver" -k "$KVER" | grep -q ': installed'; }
if ! installed; then
	# as the admin guide says for a kernel the postinst did not build for
	dkms autoinstall -k "$KVER" >/dev/null 2>&1
fi
t "dkms status: vhost-accel/$ver installed for $KVER" installed
for d in "${hidden[@]}"; do umount "$(readlink -f "$d")"; done
hidden=()
t "dpkg -i ${tools_deb##*/}" dpkg -i "$tools_deb"

# udevd with the rules installed, as on a host, for the device's mode
if command -v /lib/systemd/systemd-udevd >/dev/null; then
	/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
	udevd_pid=$(pidof systemd-udevd)
fi
t "modprobe vhost_accel" modprobe vhost_accel
where() { modinfo -n "$1" | grep -q "/updates/dkms/"; }
t "vhost_accel loaded from updates/dkms ($(modinfo -n vhost_accel))" where vhost_accel
t "vhost_accel version $ver" test "$(cat /sys/module/vhost_accel/version 2>/dev/null)" = "$ver"
mode() {
	udevadm settle -t 30 2>/dev/null
	[ "$(stat -c '%G %a' /dev/vhost-accel)" = "kvm 660" ]
}
if [ -n "$udevd_pid" ]; then
	t "udev rule: /dev/vhost-accel group kvm mode 0660 ($(stat -c '%G %a' /dev/vhost-accel))" mode
else
	skip "udev rule" "no systemd-udevd in the VM"
fi
aa_line() {
	grep -qxF '#include <abstractions/vhost-accel>' \
		/etc/apparmor.d/local/abstractions/libvirt-qemu &&
		test -f /etc/apparmor.d/abstractions/vhost-accel
}
t "AppArmor abstraction and include line in place" aa_line
t "modprobe nicsim (updates/dkms)" modprobe nicsim
t "nicsim from updates/dkms" where nicsim
t "modprobe virtio_net_accel (updates/dkms)" modprobe virtio_net_accel

# The tool from the package finds the generic netlink family of the
# module DKMS built and lists its devices (none yet).
listed() { vhost-accel-stat; }
t "vhost-accel-stat (tools package) answers" listed

t "dpkg -P vhost-accel-tools vhost-accel-dkms" \
	bash -c 'rmmod virtio_net_accel nicsim vhost_accel 2>/dev/null; dpkg -P vhost-accel-tools vhost-accel-dkms'
gone() {
	! ls /lib/modules/"$KVER"/updates/dkms/vhost_accel.ko* >/dev/null 2>&1 &&
		[ -z "$(dkms status -m vhost-accel 2>/dev/null)" ] &&
		! grep -qxF '#include <abstractions/vhost-accel>' \
			/etc/apparmor.d/local/abstractions/libvirt-qemu 2>/dev/null &&
		[ ! -e /usr/bin/vhost-accel-stat ]
}
t "after dpkg -P: no module, no dkms entry, no include line, no tool" gone
trap - EXIT
cleanup
t "the suite's modules loaded again (${ours[*]})" bash -c 'for m in '"${ours[*]}"'; do [ -d /sys/module/$m ] || exit 1; done'
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
