#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The nested guest started by libvirt's QEMU driver (libvirtd 9.0 of
# Debian 12) inside the test VM, on /dev/vhost-accel through a macvtap on
# a nicsim NIC, with the checks of e2e_qemu.sh's accelerated mode: ping
# both ways, iperf3 both ways, the vhost-accel device QEMU owns carried
# the traffic with nothing copied, nicsim's queue pair agrees.
#
# libvirtd runs in a private mount namespace whose /etc/libvirt is a
# directory of this test (qemu.conf: root, no cgroups, namespaces,
# seccomp or security driver, console and logs to files), with tmpfs
# /var/lib/libvirt and /var/cache/libvirt: the VM's root may be the host's,
# read-only, and the host's libvirt configuration stays untouched.
#
# The domain is Documentation/examples/libvirt-vhost-accel.xml with its
# placeholders filled (direct kernel boot of the L2 guest, console to a
# file for wait_ready, the nicsim NIC, MAC 52:54:00:77:00:02).  The test VM
# has no KVM, and libvirt opens the <backend vhost=.../> device only for
# type='kvm' domains (qemuInterfaceOpenVhostNet returns early otherwise,
# so a type='qemu' domain's interface would silently run on QEMU's own
# copying virtio-net).  So here, and only here, the domain is type='qemu'
# without the interface element, started paused, and the interface is
# added through libvirt's QEMU monitor passthrough before the guest first
# runs: virsh qemu-monitor-command --pass-fds hands QEMU the macvtap's
# /dev/tapN and an open /dev/vhost-accel (getfd), then netdev_add
# tap,fd=...,vhost=on,vhostfd=... and device_add virtio-net-pci, i.e. the
# netdev libvirt builds from the example on a KVM host.  The unmodified
# example (placeholders filled) is checked against libvirt's
# schema (virt-xml-validate).  Documentation/e2e.rst has the details.

set -u

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# One boot, as e2e_qemu10.sh: the 220 s default of lib.sh was not enough
# when another TCG guest shared the two host CPUs (a boot takes 120-250 s).
E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330}
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

TOP=$(cd "$SELF_DIR/../.." && pwd)
EXAMPLE=${E2E_LIBVIRT_XML:-$TOP/Documentation/examples/libvirt-vhost-accel.xml}
NIC=e2elvnic
NS=e2elv-accel
MV=e2elvmv0
DOM=e2e-vhost-accel
URI=qemu:///system
# libvirtd up, example valid, domain started, guest ready, 4 traffic
# cases, 4 counter cases
PLAN=12
LVPID=

virsh_() { timeout 120 virsh -q -c "$URI" "$@"; }

cleanup() {
	if [ -n "$LVPID" ]; then
		virsh_ destroy "$DOM" >/dev/null 2>&1
		virsh_ undefine "$DOM" >/dev/null 2>&1
		kill -TERM "$LVPID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$LVPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$LVPID" 2>/dev/null
		wait "$LVPID" 2>/dev/null
	fi
	ip link del "$MV" 2>/dev/null
	ip link del "$NIC" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

e2e_require "$PLAN" libvirtd virsh virt-xml-validate unshare iperf3 ethtool

# ---- libvirtd with a private configuration
mkdir -p "$WORK/etc/qemu" /var/log/libvirt/qemu
cat >"$WORK/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
seccomp_sandbox = 0
stdio_handler = "file"
CONF
cat >"$WORK/etc/libvirtd.conf" <<CONF
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$WORK/libvirtd.log"
CONF
# shellcheck disable=SC2016  # expanded by the inner shell
unshare -m --propagation private sh -c '
	mount --bind "$1" /etc/libvirt || exit 1
	for d in /var/lib/libvirt /var/cache/libvirt; do
		[ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"
	done
	mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu
	exec libvirtd --timeout 0' sh "$WORK/etc" >"$WORK/libvirtd.out" 2>&1 &
LVPID=$!
up=
for _ in $(seq 90); do
	kill -0 "$LVPID" 2>/dev/null || break
	virsh_ version >/dev/null 2>&1 && { up=1; break; }
	sleep 1
done
if [ -z "$up" ]; then
	diag <"$WORK/libvirtd.out"
	tail -n 30 "$WORK/libvirtd.log" 2>/dev/null | diag
	nok "libvirtd up"
	pad 1 11 "libvirt: not reached"
	exit 1
fi
ok "libvirtd up (pid $LVPID)"

# ---- the NIC, its peer, the macvtap QEMU gets
tap=
if ip link add "$NIC" type nicsim && ip link set "$NIC" up &&
   setup_peer_ns "$NS" "${NIC}p"; then
	tap=$(macvtap "$MV" "$NIC")
fi

# ---- the domain: the example, filled in, adapted to TCG (see above)
CON=$WORK/console-libvirt
: >"$CON"
sed -e "s|@NAME@|$DOM|" -e "s|@KERNEL@|$VMLINUZ|" -e "s|@INITRD@|$INITRD|" \
    -e "s|@CMDLINE@|$(guest_cmdline)|" -e "s|@CONSOLE@|$CON|" \
    -e "s|@NIC@|$NIC|" -e "s|@MAC@|$MAC|" "$EXAMPLE" >"$WORK/example.xml"
# what a KVM host would define, against libvirt's own schema
check "example XML valid for libvirt $(virsh -v 2>/dev/null)" \
	virt-xml-validate "$WORK/example.xml" domain
# TCG: no vhost from libvirt (see above), the interface comes by QMP
sed -e "s|<domain type='kvm'>|<domain type='qemu'>|" \
    -e "/<interface /,/<\/interface>/d" \
    "$WORK/example.xml" >"$WORK/domain.xml"
diag <"$WORK/domain.xml"

# qmp COMMAND [ARGS-JSON]: one QMP command through libvirt
qmp() {
	virsh_ qemu-monitor-command "$DOM" "${@:3}" \
		"{\"execute\":\"$1\",\"arguments\":$2}" >>"$WORK/virsh.out" 2>&1
}

# The accelerated interface: fds through libvirt (getfd), then the netdev
# and the device while the guest has not run yet (so it is there at boot).
add_accel_nic() {
	qmp getfd '{"fdname":"acceltap"}' --pass-fds 5 5<>"$tap" &&
	qmp getfd '{"fdname":"accelvhost"}' --pass-fds 6 6<>/dev/vhost-accel &&
	qmp netdev_add '{"type":"tap","id":"hostaccel0","fd":"acceltap","vhost":true,"vhostfd":"accelvhost"}' &&
	qmp device_add "{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostaccel0\",\"mac\":\"$MAC\",\"id\":\"net0\"}"
}

started=
if [ -n "$tap" ] && virsh_ define "$WORK/domain.xml" >"$WORK/virsh.out" 2>&1 &&
   virsh_ start --paused "$DOM" >>"$WORK/virsh.out" 2>&1 &&
   add_accel_nic && virsh_ resume "$DOM" >>"$WORK/virsh.out" 2>&1; then
	started=1
fi
diag <"$WORK/virsh.out"
QPID=$(cat "/run/libvirt/qemu/$DOM.pid" 2>/dev/null)
if [ -z "$started" ] || [ -z "$QPID" ]; then
	tail -n 30 "$WORK/libvirtd.log" 2>/dev/null | diag
	diag <"/var/log/libvirt/qemu/$DOM.log" 2>/dev/null
	nok "domain started${tap:+ }${tap:-# nicsim/macvtap setup failed}"
	QPID=
	pad 3 9 "libvirt: not reached"
	exit 1
fi
ok "domain started (qemu pid $QPID)"
if ! wait_ready "$QPID"; then
	diag <"$CON"
	diag <"/var/log/libvirt/qemu/$DOM.log" 2>/dev/null
	nok "libvirt: guest ready"
	QPID=
	pad 4 8 "libvirt: not reached"
	exit 1
fi
ok "libvirt: guest ready"
guest_checks libvirt "$NS"
accel_counter_checks libvirt "$QPID" "$NIC" "$MV"
# libvirt owns QEMU: kill_qemu must not reap it
QPID=
pad 0 12 "libvirt: case not reached"

printf '# throughput (Mbit/s, nested TCG, libvirt)  guest->peer %s  peer->guest %s\n' \
	"${TPUT_libvirt_TX:-0}" "${TPUT_libvirt_RX:-0}"
echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
