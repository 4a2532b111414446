#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end with a real Linux guest (nested, TCG) on /dev/vhost-accel:
# the second-level guest of lib.sh (the Debian kernel and the initramfs
# that mkinitramfs.sh builds, see l2-init), 10.77.0.2/24, started by QEMU
# inside the test VM; a nicsim NIC whose wire peer lives in a network
# namespace (10.77.0.1/24); a macvtap on the NIC with the guest's MAC.
#
#   e2e.sh [--qemu 7.2|10.0|patched] [--via qemu|libvirt] [--ref|--demo|--copy]
#          [--nic nicsim|vnic]
#
#   --qemu 7.2      Debian 12's QEMU (default; E2E_QEMU overrides it) with
#                   -netdev tap,id=n0,fd=3,vhost=on,vhostfd=4, fd 3 the
#                   macvtap's /dev/tapN, fd 4 /dev/vhost-accel
#   --qemu 10.0     the same with QEMU 10.0 from bookworm-backports,
#                   unpacked into build/qemu-10.0/ by scripts/qemu-backports.sh
#                   (E2E_QEMU10 overrides it); first case: it is 10.0 (a
#                   missing one fails: make check installs it)
#   --qemu patched  the QEMU of qemu-patches/ (`make qemu`, E2E_QEMU) with
#                   its own netdev, no tap: -netdev vhost-accel,id=n0,
#                   ifname=NIC; first three setups it must refuse, last
#                   that no macvtap or tap exists nor does QEMU hold one
#   --via qemu      QEMU started here (default)
#   --via libvirt   started by libvirtd (libvirt_start below)
#   --ref           then the same guest on /dev/vhost-net through a macvtap
#                   on a veth, as the reference; both throughputs printed
#   --demo          make demo's real-guest part (Documentation/demo.rst):
#                   --ref, both guests boot at once, iperf3 UDP with 64-byte
#                   datagrams both ways too, a table of both backends and
#                   the device's counters
#   --copy          (7.2 or 10.0 by qemu, 7.2 by libvirt) no nicsim: one
#                   guest with two interfaces no NIC accelerates, both on
#                   /dev/vhost-accel, so both run the copying datapath:
#                   a tap on a Linux bridge (QEMU opens it by ifname=;
#                   the bridge's veth leads to the peer namespace
#                   P-br, 10.77.0.1) and a macvtap on a veth (its far end
#                   in P-mv, 10.78.0.1; the guest is 10.78.0.2 there);
#                   E2E_COPY_VHOST=/dev/vhost-net puts both on vhost-net
#                   instead, a check of the test's own plumbing (its
#                   traffic cases pass, its counter cases fail)
#   --nic nicsim    the cooperating NIC is a nicsim instance (default)
#   --nic vnic      (QEMU 7.2 by qemu, one guest) the test VM's virtio-net
#                   NIC (selftests/vm/run.sh, 52:54:00:a0:00:01) bound to
#                   virtio_net_accel, the macvtap on its netdev; the peer
#                   is the far side (52:54:00:a0:00:02, virtio_net) in the
#                   namespace; the counter cases read the driver's netdev
#                   (ip -s link: the lent queue pair's traffic) and its
#                   debugfs "lent", and the queue pair must come back once
#                   QEMU is gone; every case SKIPs when the VM has no such
#                   NIC or no virtio_net_accel.  The NIC ends on virtio_net,
#                   the far side back in the test's namespace.
#
# Checked for each guest: QEMU started, the guest came up, it pinged the
# peer, the peer pings it, iperf3 TCP both ways with nonzero throughput;
# on /dev/vhost-accel, the device QEMU owns (debugfs) carried that traffic
# with nothing copied, nicsim's queue pair agrees and the macvtap's own
# queue (the copying fallback) stayed almost idle; on nicsim (not the
# demo), vhost-accel-stat lists the device with QEMU's -name and non-zero
# counters, and its monitor prints SATURATED and RECOVERED for it when the
# guest's QEMU is frozen (SIGSTOP) while the peer sends to it and thawed
# (stat_tool_checks).  With --copy, for each
# interface, its traffic cases, then (lib.sh copy_counter_checks) the
# device that carried it runs the copying datapath, counted the traffic
# and copied its payload, the other device stayed idle, the tap or
# macvtap carried the frames and the kernel log named the mode.  The
# tests.list entries are wrappers of one line: e2e_qemu.sh (7.2, --ref),
# e2e_qemu10.sh (10.0), e2e_libvirt.sh (libvirt), e2e_copy.sh,
# e2e_copy10.sh and e2e_libvirt_copy.sh (--copy of each), e2e_vnic.sh
# (--nic vnic),
# e2e_qemu_patched.sh (patched, selftests/e2e/qemu.list) and the demo's
# demo_guest.sh (--demo).
#
# Installed as selftests/build/e2e/e2e.sh, beside lib.sh, whose E2E_*
# variables apply.  TAP; exit 1 if any case failed.

set -u

QEMU_VER=7.2
VIA=qemu
REF=0
DEMO=0
COPY=0
NIC_KIND=nicsim
while [ $# -gt 0 ]; do
	case $1 in
	--qemu) QEMU_VER=${2:-}; shift ;;
	--via) VIA=${2:-}; shift ;;
	--ref) REF=1 ;;
	--demo) DEMO=1 REF=1 ;;
	--copy) COPY=1 ;;
	--nic) NIC_KIND=${2:-}; shift ;;
	*) echo "usage: $0 [--qemu 7.2|10.0|patched] [--via qemu|libvirt] [--ref|--demo|--copy] [--nic nicsim|vnic]" >&2
	   exit 2 ;;
	esac
	shift
done
case $QEMU_VER/$VIA in
7.2/qemu | 7.2/libvirt | 10.0/qemu | patched/qemu) ;;
*) echo "$0: no test for QEMU '$QEMU_VER' by '$VIA'" >&2; exit 2 ;;
esac
if ((DEMO)) && [ "$QEMU_VER/$VIA" != 7.2/qemu ]; then
	echo "$0: --demo runs QEMU 7.2 by itself" >&2
	exit 2
fi
if ((COPY)) && { ((REF)) || [ "$QEMU_VER" = patched ]; }; then
	echo "$0: --copy is one guest of QEMU 7.2 or 10.0, without --ref or --demo" >&2
	exit 2
fi
VNIC=0
case $NIC_KIND in
nicsim) ;;
vnic) VNIC=1 ;;
*) echo "$0: --nic is nicsim or vnic" >&2; exit 2 ;;
esac
if ((VNIC)) && { [ "$QEMU_VER/$VIA" != 7.2/qemu ] || ((REF || COPY)); }; then
	echo "$0: --nic vnic is one guest of QEMU 7.2 by qemu" >&2
	exit 2
fi

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# installed as selftests/build/e2e/e2e.sh: the repository is three up
TOP=$(cd "$SELF_DIR/../.." && pwd)

# Per test: the label of the accelerated guest's cases, the prefix of the
# links and namespaces, the nested boot's bound (lib.sh's default is
# 220 s; QEMU 10.0, libvirt and the patched QEMU needed more on a loaded
# host, a boot taking 120-250 s; the demo's two guests boot at once).
ACCEL=accel P=e2e
case $QEMU_VER/$VIA in
10.0/qemu)
	ACCEL=qemu10 P=e2e10
	E2E_QEMU=${E2E_QEMU10:-$TOP/build/qemu-10.0/bin/qemu-system-x86_64}
	E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330} ;;
7.2/libvirt)
	ACCEL=libvirt P=e2elv
	E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330} ;;
patched/qemu)
	P=e2ep
	: "${E2E_QEMU:=$TOP/build/qemu-accel/current/prefix/bin/qemu-system-x86_64}"
	E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330} ;;
esac
if ((DEMO)); then
	P=demo
	export E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600}
fi
((VNIC)) && ACCEL=vnic P=e2ev
# --copy: two interfaces, two pings in the guest's boot
if ((COPY)); then
	case $ACCEL in
	accel) ACCEL=copy ;;
	qemu10) ACCEL=copy10 ;;
	libvirt) ACCEL=copylv ;;
	esac
	P=${P/e2e/e2ec}
	E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330}
fi
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

NIC=${P}nic
VETH=${P}ve0
GUESTS=("$ACCEL")
((REF)) && GUESTS+=(ref)
declare -A NS=([$ACCEL]=$P-accel [ref]=$P-ref)
declare -A MV=([$ACCEL]=${P}mv0 [ref]=${P}mv1)
declare -A VHOST=([$ACCEL]=/dev/vhost-accel [ref]=/dev/vhost-net)
[ "$QEMU_VER" = patched ] && NS[$ACCEL]=e2e-patched MV[$ACCEL]=
declare -A TAPDEV=() PID=() CONS=() UP=()
# --copy: the guest's two interfaces, br (a tap on the bridge BRIDGE, the
# bridge's veth BVETH leading to the peer) and mv (the macvtap MV[guest]
# on the veth VETH); IFLINK is the backend's link, whose counters the
# checks read; E2E_IFS tells l2-init which MAC gets which address.
IFACES=()
BRIDGE=${P}br BVETH=${P}bv0
declare -A IFLABEL=() IFNS=() IFMAC=() IFADDR=() IFPEER=() IFLINK=() IFKIND=()
if ((COPY)); then
	IFACES=(br mv)
	IFLABEL=([br]="$ACCEL tap+bridge" [mv]="$ACCEL macvtap+veth")
	IFNS=([br]=$P-br [mv]=$P-mv)
	IFMAC=([br]=$MAC [mv]=52:54:00:78:00:02)
	IFADDR=([br]=$GUEST [mv]=10.78.0.2)
	IFPEER=([br]=$PEER [mv]=10.78.0.1)
	IFLINK=([br]=${P}tap0 [mv]=${MV[$ACCEL]})
	# the backend's kind as debugfs and the kernel log name it
	IFKIND=([br]=tun/tap [mv]=macvtap/ipvtap)
	E2E_IFS="${IFMAC[br]},${IFADDR[br]}/24,${IFPEER[br]} ${IFMAC[mv]},${IFADDR[mv]}/24,${IFPEER[mv]}"
fi
COPY_VHOST=${E2E_COPY_VHOST:-/dev/vhost-accel}
DOM=e2e-vhost-accel
URI=qemu:///system
# libvirt runs QEMU as this user and group (qemu.conf), as on Debian
QUSER=libvirt-qemu QGROUP=kvm
LVPID=
T0=$SECONDS

# ---- the cases of one guest, by phase

# stat_tool_cases GUEST: the names of stat_tool_checks's cases
stat_tool_cases() {
	printf "$1: %s\n" "vhost-accel-stat lists the guest" \
		"vhost-accel-stat monitor sees backpressure"
}

# phase_cases GUEST PHASE: the names of that phase's cases, one a line
phase_cases() {
	local g=$1
	case $2 in
	start)
		if [ "$VIA" = libvirt ]; then echo "domain started"; else echo "$g: qemu started"; fi ;;
	confined)
		[ "$VIA" = libvirt ] &&
			printf 'domain: %s\n' "qemu confined by AppArmor" \
				"qemu runs as $QUSER" "RLIMIT_MEMLOCK covers guest RAM"
		;;
	ready) echo "$g: guest ready" ;;
	vhost)
		[ "$VIA" = libvirt ] && echo "$g: vhost started (qemu log)"
		;;
	traffic)
		if ((COPY)); then
			for i in "${IFACES[@]}"; do
				printf "${IFLABEL[$i]}: %s\n" "guest pings peer" \
					"peer pings guest" "iperf3 guest->peer" \
					"iperf3 peer->guest"
				copy_case_names "${IFLABEL[$i]}"
			done
			return
		fi
		printf "$g: %s\n" "guest pings peer" "peer pings guest" \
			"iperf3 guest->peer" "iperf3 peer->guest"
		((DEMO)) && printf "$g: %s\n" "UDP 64 B guest->peer" "UDP 64 B peer->guest"
		;;
	counters)
		[ "$g" = ref ] || ((COPY)) && return
		if ((DEMO)); then
			echo "$g: counters"
		elif ((VNIC)); then
			printf "$g: %s\n" "datapath accel" "tx counters" \
				"rx counters" "bytes_copied 0" \
				"virtio_net_accel agrees" "lent to the guest"
		else
			printf "$g: %s\n" "datapath accel" "tx counters" \
				"rx counters" "bytes_copied 0" "nicsim agrees"
			stat_tool_cases "$g"
		fi ;;
	notap)
		[ "$g" != ref ] && [ "$QEMU_VER" = patched ] &&
			printf "$g: %s\n" "no macvtap or tap exists" \
				"qemu holds /dev/vhost-accel and no tap"
		;;
	gone)
		((VNIC)) && echo "$g: queue pair back after qemu"
		;;
	esac
}

PHASES=(start confined ready vhost traffic counters notap gone)

# fail_phases GUEST WHY PHASE...: every case of those phases fails
fail_phases() {
	local g=$1 why=$2 c
	shift 2
	while IFS= read -r c; do
		nok "$c # $why"
	done < <(for ph in "$@"; do phase_cases "$g" "$ph"; done)
}

# plan: what the test reports before and besides its guests, then theirs
plan() {
	local p=0 g
	case $QEMU_VER/$VIA in
	10.0/qemu) p=1 ;;		# QEMU 10.0 found
	7.2/libvirt) p=7 ;;		# libvirt_prepare's cases
	patched/qemu) p=3 ;;		# three refusals
	esac
	for g in "${GUESTS[@]}"; do
		p=$((p + $(for ph in "${PHASES[@]}"; do phase_cases "$g" "$ph"; done | wc -l)))
	done
	echo $p
}
PLAN=$(plan)

cleanup() {
	local g
	for g in "${GUESTS[@]}"; do
		QPID=${PID[$g]:-}
		[ "$VIA" = libvirt ] || kill_qemu
	done
	[ -z "$LVPID" ] || libvirt_stop
	for g in "${GUESTS[@]}"; do
		[ -z "${MV[$g]}" ] || ip link del "${MV[$g]}" 2>/dev/null
	done
	if ((VNIC)); then
		vnic_restore
	else
		ip link del "$NIC" 2>/dev/null
	fi
	((REF || COPY)) && ip link del "$VETH" 2>/dev/null
	for g in "${GUESTS[@]}"; do
		ip netns del "${NS[$g]}" 2>/dev/null
	done
	if ((COPY)); then
		ip link del "${IFLINK[br]}" 2>/dev/null
		ip link del "$BVETH" 2>/dev/null
		ip link del "$BRIDGE" 2>/dev/null
		for i in "${IFACES[@]}"; do
			ip netns del "${IFNS[$i]}" 2>/dev/null
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the wire: nicsim (or a veth for the reference), its peer in the
# guest's namespace, a macvtap with the guest's MAC (none for the patched
# QEMU's netdev); TAPDEV[GUEST] is the macvtap's /dev/tapN ("-" without)
setup_net() {
	local g=$1 lower=$NIC
	if ((COPY)); then
		setup_copy_net "$g"
		return
	fi
	if ((VNIC)); then
		setup_vnic_net "$g"
		return
	fi
	if [ "$g" = ref ]; then
		lower=$VETH
		ip link add "$VETH" type veth peer name "${VETH}p" &&
			ip link set "$VETH" up || return 1
	else
		ip link add "$NIC" type nicsim && ip link set "$NIC" up || return 1
	fi
	setup_peer_ns "${NS[$g]}" "${lower}p" || return 1
	if [ -z "${MV[$g]}" ]; then
		TAPDEV[$g]=-
	else
		TAPDEV[$g]=$(macvtap "${MV[$g]}" "$lower")
	fi
	[ -n "${TAPDEV[$g]}" ]
}

# ---- --nic vnic: the test VM's virtio-net NIC (selftests/vm/run.sh) on
# virtio_net_accel; the far side, on virtio_net, is the peer

VNIC_MAC=52:54:00:a0:00:01 VNIC_FAR_MAC=52:54:00:a0:00:02
VNA=virtio_net_accel
VDEVS=/sys/bus/virtio/devices VDRVS=/sys/bus/virtio/drivers
VNIC_DEV='' VFAR_DEV='' VFAR=''

# vnic_by_mac MAC: the netdev of this namespace with MAC on a virtio device
vnic_by_mac() {
	local d
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] || continue
		[[ $(basename "$(readlink -f "$d/device")") == virtio* ]] &&
			{ echo "${d##*/}"; return 0; }
	done
	return 1
}

vnic_vdev() { basename "$(readlink -f "/sys/class/net/$1/device")"; }
vnic_driver() { basename "$(readlink "$VDEVS/$1/driver" 2>/dev/null)" 2>/dev/null; }

# vnic_netdev VDEV: the netdev virtio device VDEV's driver registered
vnic_netdev() {
	local d i
	for i in $(seq 50); do
		for d in "$VDEVS/$1"/net/*; do
			[ -e "$d" ] && { echo "${d##*/}"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

# vnic_bind VDEV DRIVER: from whichever driver has it to DRIVER
vnic_bind() {
	local cur
	cur=$(vnic_driver "$1")
	[ "$cur" = "$2" ] && return 0
	if [ -n "$cur" ]; then
		echo "$1" >"$VDRVS/$cur/unbind" || return 1
	fi
	echo "$1" >"$VDRVS/$2/bind"
}

# vnic_orphans: a virtio-net device no driver has (a test that died
# between unbind and bind) goes back to virtio_net
vnic_orphans() {
	local d
	for d in "$VDEVS"/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x0001 ] || continue
		[ -z "$(vnic_driver "${d##*/}")" ] || continue
		echo "${d##*/}" >"$VDRVS/virtio_net/bind" 2>/dev/null
	done
}

# vnic_why: why this VM cannot run --nic vnic ("" when it can)
vnic_why() {
	local m
	vnic_orphans
	for m in $VNIC_MAC $VNIC_FAR_MAC; do
		vnic_by_mac "$m" >/dev/null && continue
		echo "no virtio-net device with MAC $m in the VM${VP_VNIC_WHY:+ (run.sh: $VP_VNIC_WHY)}"
		return
	done
	[ -d "$VDRVS/$VNA" ] || echo "$VNA is not loaded (selftests/vm/modules.list)"
}

# setup_vnic_net GUEST: the far side on virtio_net, one queue pair (the
# outer tap would spread one flow over several as the peer's own Tx queue
# changes), into the namespace with PEER; the NIC on virtio_net_accel as
# NIC, up, quiet; the macvtap on it (TAPDEV[GUEST])
setup_vnic_net() {
	local g=$1 far
	far=$(vnic_by_mac $VNIC_FAR_MAC) && NIC=$(vnic_by_mac $VNIC_MAC) || return 1
	VFAR_DEV=$(vnic_vdev "$far") VNIC_DEV=$(vnic_vdev "$NIC")
	echo "# NIC $VNIC_DEV ($NIC, $(vnic_driver "$VNIC_DEV")), far side $VFAR_DEV ($far, $(vnic_driver "$VFAR_DEV"))"
	vnic_bind "$VFAR_DEV" virtio_net && VFAR=$(vnic_netdev "$VFAR_DEV") &&
	vnic_bind "$VNIC_DEV" "$VNA" && NIC=$(vnic_netdev "$VNIC_DEV") || return 1
	echo 1 >"/proc/sys/net/ipv6/conf/$NIC/disable_ipv6"
	ip link set "$NIC" arp off up || return 1
	ethtool -L "$VFAR" combined 1 || return 1
	ip link set "$VFAR" mtu 1500 || return 1
	setup_peer_ns "${NS[$ACCEL]}" "$VFAR" || return 1
	ip -br link show "$NIC" | diag
	TAPDEV[$g]=$(macvtap "${MV[$g]}" "$NIC")
	[ -n "${TAPDEV[$g]}" ]
}

# vnic_restore: the far side back into this namespace, the NIC on
# virtio_net (as at boot: the next test finds both by MAC)
vnic_restore() {
	[ -n "$VFAR_DEV" ] || return 0
	# (its name may be taken meanwhile: then under another)
	ip -n "${NS[$ACCEL]}" link set "$VFAR" down netns $$ 2>/dev/null ||
		ip -n "${NS[$ACCEL]}" link set "$VFAR" down netns $$ name "${P}far" 2>/dev/null
	[ -z "$VNIC_DEV" ] || vnic_bind "$VNIC_DEV" virtio_net ||
		echo "# $VNIC_DEV: could not bind it to virtio_net again"
	VFAR_DEV=''
}

# vnic_lent: the first line of the driver's debugfs "lent" for the NIC
vnic_lent() {
	head -n 1 "/sys/kernel/debug/$VNA/$VNIC_DEV/lent" 2>/dev/null
}

# vnic_checks GUEST: the counter cases of --nic vnic while QEMU runs:
# lib.sh's accel_counter_checks against the driver's netdev counters,
# then the queue pair lent to the guest's MAC
vnic_checks() {
	local g=$1 lent
	accel_counter_checks "$g" "${PID[$g]}" "$NIC" "${MV[$g]}" "$VNA"
	ip -s link show "$NIC" | diag
	lent=$(vnic_lent)
	check "$g: lent to the guest ($lent)" \
		grep -Eq "^1 of [0-9]+ queue pairs lent to $MAC\$" <<<"$lent"
}

# vnic_gone GUEST: QEMU gone, its queue pair comes back within 5 s
vnic_gone() {
	local g=$1 lent i
	for i in $(seq 50); do
		lent=$(vnic_lent)
		[[ $lent == "0 of "* ]] && break
		sleep 0.1
	done
	check "$g: queue pair back after qemu ($lent)" \
		test "${lent%% *}" = 0
}

# setup_copy_net GUEST: --copy's two wires: the bridge with its veth to
# the peer P-br and a tap (not yet attached: QEMU attaches it by name, as
# QEMU's own script or libvirt would do after creating it), and the veth
# whose far end is the peer P-mv, with a macvtap on it
# (TAPDEV[GUEST] its /dev/tapN)
setup_copy_net() {
	local g=$1
	# (no module autoloading in the test VM)
	modprobe bridge 2>/dev/null
	ip link add "$BRIDGE" type bridge forward_delay 0 &&
	ip link set "$BRIDGE" up &&
	ip link add "$BVETH" type veth peer name "${BVETH}p" &&
	ip link set "$BVETH" master "$BRIDGE" up &&
	setup_peer_ns "${IFNS[br]}" "${BVETH}p" "${IFPEER[br]}" &&
	ip tuntap add dev "${IFLINK[br]}" mode tap ${TAP_USER:+user "$TAP_USER"} &&
	ip link set "${IFLINK[br]}" master "$BRIDGE" up &&
	ip link add "$VETH" type veth peer name "${VETH}p" &&
	ip link set "$VETH" up &&
	setup_peer_ns "${IFNS[mv]}" "${VETH}p" "${IFPEER[mv]}" || return 1
	TAPDEV[$g]=$(macvtap "${IFLINK[mv]}" "$VETH" "${IFMAC[mv]}")
	[ -n "${TAPDEV[$g]}" ]
}

# ---- the guest started by QEMU

start_guest_qemu() {
	local g=$1
	if [ "$QEMU_VER" = patched ]; then
		start_qemu "$g" "vhost-accel,id=n0,ifname=$NIC"
	elif ((COPY)); then
		# n0: the tap by name, QEMU's fd 3 unused; n1: the macvtap
		start_qemu "$g" \
			"tap,id=n0,ifname=${IFLINK[br]},script=no,downscript=no,vhost=on,vhostfd=4" \
			- "$COPY_VHOST" \
			tap,id=n1,fd=5,vhost=on,vhostfd=6 "${IFMAC[mv]}" \
			"${TAPDEV[$g]}" "$COPY_VHOST"
	else
		start_qemu "$g" tap,id=n0,fd=3,vhost=on,vhostfd=4 \
			"${TAPDEV[$g]}" "${VHOST[$g]}"
	fi
	PID[$g]=$QPID CONS[$g]=$CON
	QPID=
}

# started_qemu GUEST: case "qemu started" (QEMU still runs a second later)
started_qemu() {
	local g=$1 pid=${PID[$1]}
	if kill -0 "$pid" 2>/dev/null; then
		ok "$g: qemu started"
		return 0
	fi
	diag <"$WORK/qemu-$g.log"
	nok "$g: qemu started"
	QPID=$pid
	kill_qemu
	PID[$g]=
	return 1
}

# ---- the guest started by libvirt
#
# libvirtd runs in a private mount namespace whose /etc/libvirt is a
# directory of this test, with tmpfs /var/lib/libvirt and
# /var/cache/libvirt and, when AppArmor can be enforced, an /etc/apparmor.d
# of the test (aa_prepare): the VM's root may be the host's, read-only,
# and the host's libvirt and AppArmor configuration stay untouched.
# qemu.conf is what an administrator's is on Debian: QEMU runs as
# libvirt-qemu:kvm (no CAP_IPC_LOCK: the domain's <memtune><hard_limit>
# is its RLIMIT_MEMLOCK), confined by the profile libvirt generates for
# the domain (security_driver "apparmor"), whose abstraction includes
# packaging/apparmor/vhost-accel through vhost-accel-apparmor enable.
# Test-only: no cgroups, namespaces or seccomp, console and logs to files.
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
# netdev libvirt builds from the example on a KVM host.  QEMU receives
# each fd through its monitor socket, where AppArmor checks it against
# the domain's profile (file_receive) as it checks the fds libvirt
# passes at exec on a KVM host.  The /dev/tapN is added to the profile as
# libvirt's AppArmor driver adds the tap fds it passes (virt-aa-helper
# -F); /dev/vhost-accel only the abstraction allows.  The unmodified
# example (placeholders filled) is checked against libvirt's
# schema (virt-xml-validate).  Documentation/e2e.rst has the details.

DOM_NEG=$DOM-neg
AA_ROOT=$WORK/aa
AA_WHY='not prepared'
UUID=
VA_MODE='' TUN_MODE=''
# the tap of --copy's bridge interface, which QEMU opens by name
TAP_USER=
[ "$VIA" = libvirt ] && TAP_USER=$QUSER

virsh_() { timeout 120 virsh -q -c "$URI" "$@"; }

libvirt_stop() {
	virsh_ destroy "$DOM_NEG" >/dev/null 2>&1
	virsh_ undefine "$DOM_NEG" >/dev/null 2>&1
	virsh_ destroy "$DOM" >/dev/null 2>&1
	virsh_ undefine "$DOM" >/dev/null 2>&1
	stop_pid "$LVPID"
	# the devices as the test found them
	[ -z "$VA_MODE" ] || {
		chgrp "${VA_MODE% *}" /dev/vhost-accel
		chmod "${VA_MODE#* }" /dev/vhost-accel
	}
	[ -z "$TUN_MODE" ] || chmod "$TUN_MODE" /dev/net/tun
}

# aa_prepare: AppArmor enforceable (AA_WHY empty) or why not (AA_WHY).
# AA_ROOT/etc/apparmor.d is a copy of the VM's, with the abstraction
# installed as `make install` does; libvirtd's own profile is loaded (as
# apparmor.service does at boot): libvirt's AppArmor driver is on only
# when it is.
aa_prepare() {
	local sec=/sys/kernel/security en d=$AA_ROOT/etc/apparmor.d
	en=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)
	if [ "$en" != Y ]; then
		AA_WHY="the kernel's AppArmor LSM is off (/sys/module/apparmor/parameters/enabled: ${en:-missing}; cmdline: $(cat /proc/cmdline))"
		return 1
	fi
	[ -e "$sec/apparmor" ] || mount -t securityfs securityfs "$sec"
	if [ ! -r "$sec/apparmor/profiles" ]; then
		AA_WHY="no $sec/apparmor/profiles (securityfs not mounted)"
		return 1
	fi
	if ! command -v apparmor_parser >/dev/null; then
		AA_WHY="no apparmor_parser (Debian package apparmor, scripts/deps.sh)"
		return 1
	fi
	if ! mkdir -p "$AA_ROOT/etc" || ! cp -a /etc/apparmor.d "$AA_ROOT/etc/" ||
	   ! install -m 0644 "$TOP/packaging/apparmor/vhost-accel" "$d/abstractions/vhost-accel"; then
		AA_WHY="cannot copy /etc/apparmor.d"
		return 1
	fi
	if ! apparmor_parser -K -r "$d/usr.sbin.libvirtd" 2>"$WORK/aa.err" ||
	   ! grep -q '^libvirtd (enforce)' "$sec/apparmor/profiles"; then
		diag <"$WORK/aa.err"
		AA_WHY="libvirtd's profile did not load"
		return 1
	fi
	AA_WHY=
}

# aa_policy enable|disable: the include line in AA_ROOT's local part of
# libvirt's abstraction, by the shipped script
aa_policy() {
	sh "$TOP/packaging/apparmor/vhost-accel-apparmor" "$1" "$AA_ROOT" >/dev/null
	echo "# vhost-accel-apparmor $1: $(sh "$TOP/packaging/apparmor/vhost-accel-apparmor" status "$AA_ROOT")"
}

# as_qemu_opens: QUSER:QGROUP (no capabilities) opens /dev/vhost-accel rw
as_qemu_opens() {
	setpriv --reuid="$QUSER" --regid="$QGROUP" --init-groups \
		sh -c ': <>/dev/vhost-accel' 2>/dev/null
}

# udev_case: packaging/60-vhost-accel.rules' GROUP and MODE applied to
# /dev/vhost-accel as udev would (no udevd in the VM); QEMU's user opens
# the device only with them (devtmpfs' default: root 0600)
udev_case() {
	local rules=$TOP/packaging/60-vhost-accel.rules grp mode before=0 after=0
	grp=$(sed -n 's/^KERNEL=="vhost-accel".*GROUP="\([^"]*\)".*/\1/p' "$rules")
	mode=$(sed -n 's/^KERNEL=="vhost-accel".*MODE="\([^"]*\)".*/\1/p' "$rules")
	VA_MODE=$(stat -c '%g %a' /dev/vhost-accel)
	chgrp root /dev/vhost-accel && chmod 0600 /dev/vhost-accel
	as_qemu_opens && before=1
	chgrp "$grp" /dev/vhost-accel && chmod "$mode" /dev/vhost-accel
	as_qemu_opens && after=1
	check "udev rule (GROUP $grp MODE $mode): $QUSER:$QGROUP opens /dev/vhost-accel only with it (root 0600: $before, rule: $after)" \
		test "$before$after" = 01
}

# memlock_bytes PID: its RLIMIT_MEMLOCK (soft), "unlimited" or a number
memlock_bytes() {
	awk '/^Max locked memory/ { print $4 }' "/proc/$1/limits" 2>/dev/null
}

# memlock_covers PID DOMAIN: PID's RLIMIT_MEMLOCK >= the domain's RAM
memlock_covers() {
	local lim ram
	lim=$(memlock_bytes "$1")
	ram=$(virsh_ dominfo "$2" | awk '/^Max memory/ { print $3 * 1024 }')
	echo "# RLIMIT_MEMLOCK of qemu $1: ${lim:-?}, guest RAM: ${ram:-?} bytes"
	[ -n "$ram" ] && { [ "$lim" = unlimited ] || [ "${lim:-0}" -ge "$ram" ]; }
}

# neg_cases: a domain without <memtune> and without the include line
# (vhost-accel-apparmor disable): AppArmor keeps /dev/vhost-accel from
# its QEMU and audits it, and its RLIMIT_MEMLOCK stays the default, below
# the guest's RAM.  Three cases.
neg_cases() {
	local pid uuid refused=0 denied
	if [ -n "$AA_WHY" ]; then
		pad "$n" 3 "without the include or hard_limit # AppArmor not enforced: $AA_WHY"
		return
	fi
	aa_policy disable
	sed -e "s|<name>$DOM</name>|<name>$DOM_NEG</name>|" \
	    -e '/^  <memtune>$/,/^  <\/memtune>$/d' "$WORK/domain.xml" >"$WORK/domain-neg.xml"
	: >"$WORK/virsh.out"
	if ! virsh_ define "$WORK/domain-neg.xml" >>"$WORK/virsh.out" 2>&1 ||
	   ! virsh_ start --paused "$DOM_NEG" >>"$WORK/virsh.out" 2>&1; then
		diag <"$WORK/virsh.out"
		aa_policy enable
		pad "$n" 3 "without the include or hard_limit # domain did not start"
		return
	fi
	pid=$(cat "/run/libvirt/qemu/$DOM_NEG.pid" 2>/dev/null)
	uuid=$(virsh_ domuuid "$DOM_NEG")
	echo "# $DOM_NEG: qemu pid $pid, $(cat "/proc/$pid/attr/current" 2>/dev/null)"
	DOM=$DOM_NEG qmp_getfd accelvhost /dev/vhost-accel ||
		refused=1
	diag <"$WORK/virsh.out"
	check "without the include: qemu cannot receive /dev/vhost-accel" test $refused = 1
	denied=$(dmesg | grep 'apparmor="DENIED"' | grep -F "profile=\"libvirt-$uuid\"" |
		 grep -F 'name="/dev/vhost-accel"')
	diag <<<"$denied"
	check "without the include: AppArmor DENIED /dev/vhost-accel in the kernel log" \
		test -n "$denied"
	if memlock_covers "$pid" "$DOM_NEG"; then
		nok "without hard_limit: RLIMIT_MEMLOCK $(memlock_bytes "$pid") stays below guest RAM"
	else
		ok "without hard_limit: RLIMIT_MEMLOCK $(memlock_bytes "$pid") stays below guest RAM"
	fi
	virsh_ destroy "$DOM_NEG" >/dev/null 2>&1
	virsh_ undefine "$DOM_NEG" >/dev/null 2>&1
	aa_policy enable
}

# libvirt_prepare: libvirt_prepare's seven cases (libvirtd up, example
# XML valid, AppArmor enforced, the udev rule, neg_cases); the domain
# XML adapted to TCG in $WORK/domain.xml
libvirt_prepare() {
	local up='' example=libvirt-vhost-accel.xml secdrv=apparmor aa=$AA_ROOT/etc
	((COPY)) && example=libvirt-vhost-accel-copy.xml
	example=${E2E_LIBVIRT_XML:-$TOP/Documentation/examples/$example}
	if ! aa_prepare; then
		echo "# AppArmor cannot be enforced in this VM: $AA_WHY"
		secdrv=none aa=/etc
	fi
	# QEMU (libvirt-qemu) reads the console file's directory
	chmod 0755 "$WORK"
	mkdir -p "$WORK/etc/qemu" /var/log/libvirt/qemu
	cat >"$WORK/etc/qemu.conf" <<-CONF
	user = "$QUSER"
	group = "$QGROUP"
	dynamic_ownership = 1
	remember_owner = 0
	security_driver = "$secdrv"
	namespaces = [ ]
	cgroup_controllers = [ ]
	seccomp_sandbox = 0
	stdio_handler = "file"
	CONF
	cat >"$WORK/etc/libvirtd.conf" <<-CONF
	auth_unix_ro = "none"
	auth_unix_rw = "none"
	log_outputs = "3:file:$WORK/libvirtd.log"
	CONF
	[ -z "$AA_WHY" ] && aa_policy enable
	# shellcheck disable=SC2016  # expanded by the inner shell
	unshare -m --propagation private sh -c '
		mount --bind "$1" /etc/libvirt || exit 1
		[ "$2" = /etc/apparmor.d ] || mount --bind "$2" /etc/apparmor.d || exit 1
		for d in /var/lib/libvirt /var/cache/libvirt; do
			[ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"
		done
		mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu
		chown "$3" /var/lib/libvirt/qemu && chmod 0750 /var/lib/libvirt/qemu
		exec libvirtd --timeout 0' sh "$WORK/etc" "$aa/apparmor.d" "$QUSER:$QGROUP" \
		>"$WORK/libvirtd.out" 2>&1 &
	LVPID=$!
	for _ in $(seq 90); do
		kill -0 "$LVPID" 2>/dev/null || break
		virsh_ version >/dev/null 2>&1 && { up=1; break; }
		sleep 1
	done
	if [ -z "$up" ]; then
		diag <"$WORK/libvirtd.out"
		tail -n 30 "$WORK/libvirtd.log" 2>/dev/null | diag
		nok "libvirtd up"
		return 1
	fi
	ok "libvirtd up (pid $LVPID, $(cat "/proc/$LVPID/attr/current" 2>/dev/null))"

	CONS[$ACCEL]=$WORK/console-$ACCEL
	: >"${CONS[$ACCEL]}"
	# libvirt gives QEMU's user the files the domain names
	# (dynamic_ownership); the build tree may be read-only here
	cp "$INITRD" "$WORK/initrd" || return 1
	sed -e "s|@NAME@|$DOM|" -e "s|@KERNEL@|$VMLINUZ|" -e "s|@INITRD@|$WORK/initrd|" \
	    -e "s|@CMDLINE@|$(guest_cmdline)|" -e "s|@CONSOLE@|${CONS[$ACCEL]}|" \
	    -e "s|@NIC@|$NIC|" -e "s|@MAC@|$MAC|" -e "s|@BRIDGE@|$BRIDGE|" \
	    -e "s|@LOWER@|$VETH|" -e "s|@MAC2@|${IFMAC[mv]:-}|" \
	    "$example" >"$WORK/example.xml"
	# what a KVM host would define, against libvirt's own schema
	check "example XML valid for libvirt $(virsh -v 2>/dev/null)" \
		virt-xml-validate "$WORK/example.xml" domain
	# TCG: no vhost from libvirt (see above), the interface comes by QMP
	sed -e "s|<domain type='kvm'>|<domain type='qemu'>|" \
	    -e "/<interface /,/<\/interface>/d" \
	    "$WORK/example.xml" >"$WORK/domain.xml"
	diag <"$WORK/domain.xml"
	check "AppArmor enforced: libvirt's security model is apparmor${AA_WHY:+ # $AA_WHY}" \
		grep -q '<model>apparmor</model>' <(virsh_ capabilities)
	udev_case
	# --copy: QEMU opens the bridge's tap by name, through /dev/net/tun,
	# which udev makes 0666 on every host (systemd's
	# 50-udev-default.rules); devtmpfs leaves it 0600
	if ((COPY)); then
		TUN_MODE=$(stat -c %a /dev/net/tun)
		chmod 0666 /dev/net/tun
	fi
	# this test's QEMU log only (an earlier test's domain had the name)
	rm -f "/var/log/libvirt/qemu/$DOM.log"
	neg_cases
	return 0
}

# qmp_ok OUTPUT-FILE: virsh succeeded (its status) and QEMU did too: virsh
# exits 0 when QEMU answers a monitor command with an error
qmp_ok() {
	local rc=$? out=$1
	cat "$out" >>"$WORK/virsh.out"
	[ "$rc" -eq 0 ] && ! grep -q '"error"' "$out"
}

# qmp COMMAND ARGS-JSON [VIRSH-OPTION...]: one QMP command through libvirt
qmp() {
	virsh_ qemu-monitor-command "$DOM" "${@:3}" \
		"{\"execute\":\"$1\",\"arguments\":$2}" >"$WORK/qmp.out" 2>&1
	qmp_ok "$WORK/qmp.out"
}

# qmp_getfd NAME PATH: PATH opened and handed to QEMU as fd NAME (QMP
# getfd).  libvirtd opens the fds it passes itself, in its own AppArmor
# profile and mount namespace, and AppArmor checks a file against the
# receiving QEMU's profile only when the opener was confined: so PATH is
# opened there too (nsenter, aa-exec), then virsh passes it on.
qmp_getfd() {
	local aa=(aa-exec -p libvirtd --)
	[ -z "$AA_WHY" ] || aa=()
	# shellcheck disable=SC2016  # expanded by the inner shell
	timeout 120 nsenter -t "$LVPID" -m "${aa[@]}" bash -c '
		exec virsh -q -c "$1" qemu-monitor-command "$2" --pass-fds 5 "$3" 5<>"$4"' \
		sh "$URI" "$DOM" "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"$1\"}}" \
		"$2" >"$WORK/qmp.out" 2>&1
	qmp_ok "$WORK/qmp.out"
}

# aa_add_file PATH: PATH added to the domain's profile, as libvirt's
# AppArmor driver does for a tap fd it passes to QEMU (AppArmorSetFDLabel:
# virt-aa-helper -r -F), in libvirtd's mount namespace
aa_add_file() {
	[ -z "$AA_WHY" ] || return 0
	virsh_ dumpxml --security-info "$DOM" >"$WORK/live.xml" &&
	nsenter -t "$LVPID" -m /usr/lib/libvirt/virt-aa-helper -r \
		-u "libvirt-$UUID" -F "$1" <"$WORK/live.xml" >>"$WORK/virsh.out" 2>&1
}

# The accelerated interface: fds through libvirt (getfd), then the netdev
# and the device while the guest has not run yet (so it is there at boot).
add_accel_nic() {
	local tap=$1
	aa_add_file "$tap" &&
	qmp_getfd acceltap "$tap" &&
	qmp_getfd accelvhost /dev/vhost-accel &&
	qmp netdev_add '{"type":"tap","id":"hostaccel0","fd":"acceltap","vhost":true,"vhostfd":"accelvhost"}' &&
	qmp device_add "{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostaccel0\",\"mac\":\"$MAC\",\"id\":\"net0\"}"
}

# --copy's two interfaces, the same way: the example's type='bridge' one
# as the tap on the bridge, which QEMU opens by name (libvirt would
# create a tap, put it into the bridge and pass its fd; the test made
# the tap beforehand, owned by QEMU's user), and its type='direct' one as
# the macvtap on the veth, its /dev/tapN passed as above; each with its
# own /dev/vhost-accel.
add_copy_nics() {
	local tap=$1
	qmp_getfd vhostbr "$COPY_VHOST" &&
	qmp netdev_add "{\"type\":\"tap\",\"id\":\"hostbr0\",\"ifname\":\"${IFLINK[br]}\",\"script\":\"no\",\"downscript\":\"no\",\"vhost\":true,\"vhostfd\":\"vhostbr\"}" &&
	qmp device_add "{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostbr0\",\"mac\":\"${IFMAC[br]}\",\"id\":\"net0\"}" &&
	aa_add_file "$tap" &&
	qmp_getfd mvtap "$tap" &&
	qmp_getfd vhostmv "$COPY_VHOST" &&
	qmp netdev_add '{"type":"tap","id":"hostmv0","fd":"mvtap","vhost":true,"vhostfd":"vhostmv"}' &&
	qmp device_add "{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostmv0\",\"mac\":\"${IFMAC[mv]}\",\"id\":\"net1\"}"
}

# confined_cases PID: QEMU runs in the domain's enforced profile, as
# QUSER, with an RLIMIT_MEMLOCK that covers the guest's RAM (the
# example's <memtune><hard_limit>)
confined_cases() {
	local pid=$1 label user
	label=$(cat "/proc/$pid/attr/current" 2>/dev/null)
	check "domain: qemu confined by AppArmor: $label${AA_WHY:+ # $AA_WHY}" \
		test "$label" = "libvirt-$UUID (enforce)"
	user=$(stat -c %U "/proc/$pid")
	check "domain: qemu runs as $QUSER ($user)" test "$user" = "$QUSER"
	if memlock_covers "$pid" "$DOM"; then
		ok "domain: RLIMIT_MEMLOCK covers guest RAM"
	else
		nok "domain: RLIMIT_MEMLOCK covers guest RAM # $QUSER has no CAP_IPC_LOCK: the domain needs <memtune><hard_limit> (admin-guide.rst, Locked memory)"
	fi
}

# libvirt_start GUEST: define, start paused, add the NIC(s), resume; case
# "domain started" with QEMU's pid, then confined_cases
libvirt_start() {
	local g=$1 started='' pid add=add_accel_nic
	((COPY)) && add=add_copy_nics
	: >"$WORK/virsh.out"
	if virsh_ define "$WORK/domain.xml" >>"$WORK/virsh.out" 2>&1 &&
	   virsh_ start --paused "$DOM" >>"$WORK/virsh.out" 2>&1 &&
	   UUID=$(virsh_ domuuid "$DOM") &&
	   "$add" "${TAPDEV[$g]}" &&
	   virsh_ resume "$DOM" >>"$WORK/virsh.out" 2>&1; then
		started=1
	fi
	diag <"$WORK/virsh.out"
	pid=$(cat "/run/libvirt/qemu/$DOM.pid" 2>/dev/null)
	if [ -z "$started" ] || [ -z "$pid" ]; then
		tail -n 30 "$WORK/libvirtd.log" 2>/dev/null | diag
		diag <"/var/log/libvirt/qemu/$DOM.log" 2>/dev/null
		dmesg | grep 'apparmor="DENIED"' | tail -n 10 | diag
		nok "domain started"
		return 1
	fi
	# libvirt owns QEMU: kill_qemu must not reap it (cleanup destroys it)
	PID[$g]=$pid
	ok "domain started (qemu pid $pid)"
	confined_cases "$pid"
}

# vhost_started GUEST: (libvirt) once the guest is up, QEMU started the
# vhost device: an unprivileged QEMU whose RLIMIT_MEMLOCK is too small
# logs "unable to start vhost net" and falls back to its own virtio-net
vhost_started() {
	local log=/var/log/libvirt/qemu/$DOM.log
	[ "$VIA" = libvirt ] || return 0
	if grep -q 'unable to start vhost net' "$log"; then
		grep -i vhost "$log" | diag
		nok "$1: vhost started (qemu log) # qemu: unable to start vhost net: RLIMIT_MEMLOCK below guest RAM? (<memtune><hard_limit>)"
	else
		ok "$1: vhost started (qemu log)"
	fi
}

# ---- one guest's phases

# ready GUEST: case "guest ready" (lib.sh's wait_ready on its console)
ready() {
	local g=$1 st
	CON=${CONS[$g]}
	if wait_ready "${PID[$g]}"; then
		ok "$g: guest ready"
		return 0
	fi
	diag <"$CON"
	if [ "$VIA" = libvirt ]; then
		diag <"/var/log/libvirt/qemu/$DOM.log" 2>/dev/null
	else
		diag <"$WORK/qemu-$g.log"
		# Where QEMU and the device are: a hang in an ioctl or a slow boot.
		echo "# qemu state: $(awk '{ print $3 }' "/proc/${PID[$g]}/stat" 2>/dev/null)" \
			"wchan $(cat "/proc/${PID[$g]}/wchan" 2>/dev/null)"
		diag <"/proc/${PID[$g]}/stack" 2>/dev/null
		for st in "$DBG"/*/stats; do
			[ -r "$st" ] && diag <"$st"
		done
	fi
	nok "$g: guest ready"
	return 1
}

# udp_cases GUEST: UDP both ways; sets UDP_<GUEST>_TX/_RX ("PPS LOST TOTAL")
udp_cases() {
	local g=$1 tx rx
	tx=$(iperf_udp "${NS[$g]}" -R)
	check "$g: UDP 64 B guest->peer ${tx:-?} (pps lost total)" test -n "$tx"
	rx=$(iperf_udp "${NS[$g]}")
	check "$g: UDP 64 B peer->guest ${rx:-?} (pps lost total)" test -n "$rx"
	eval "UDP_${g}_TX=\${tx:-} UDP_${g}_RX=\${rx:-}"
}

# demo_counters: the demo's one counter case, the device's counters kept
# for its table in ACCEL_STATS
demo_counters() {
	local f copied
	f=$(accel_stats_file "${PID[accel]}")
	if [ -z "$f" ]; then
		nok "accel: counters # no debugfs stats owned by pid ${PID[accel]}"
		return
	fi
	ACCEL_STATS=$(cat "$f")
	NIC_STATS=$(ethtool -S "$NIC" 2>/dev/null | grep -v ' 0$')
	copied=$(( $(stat_of "$f" tx_bytes_copied) + $(stat_of "$f" rx_bytes_copied) ))
	# iperf3 moved megabytes each way, the device counted them and
	# copied none of them.
	check "accel: counters carried the traffic, bytes_copied $copied" \
		test "$(stat_of "$f" tx_packets)" -ge 1000 -a \
		     "$(stat_of "$f" rx_packets)" -ge 1000 -a "$copied" -eq 0
}

# no_tap_links: no macvtap or tap (tun) link exists
no_tap_links() {
	local links
	links=$(ip -o link show type macvtap; ip -o link show type tun)
	[ -z "$links" ] || { diag <<<"$links"; return 1; }
}

# qemu_fds_ok PID: PID holds /dev/vhost-accel and no tap, tun or vhost-net
qemu_fds_ok() {
	local fds
	fds=$(for fd in "/proc/$1/fd"/*; do readlink "$fd"; done 2>/dev/null)
	diag <<<"$(grep '^/dev/' <<<"$fds")"
	grep -qx /dev/vhost-accel <<<"$fds" &&
		! grep -Eq '^/dev/(tap[0-9]+|net/tun|vhost-net)$' <<<"$fds"
}

# copy_checks GUEST: each interface's traffic, then the counters of the
# device that carried it (lib.sh copy_counter_checks)
copy_checks() {
	local g=$1 i
	for i in "${IFACES[@]}"; do
		counters_snapshot "${PID[$g]}" "${IFLINK[$i]}" "$WORK/before"
		guest_checks "${IFLABEL[$i]}" "${IFNS[$i]}" "${IFADDR[$i]}" "${IFPEER[$i]}"
		copy_counter_checks "${IFLABEL[$i]}" "${PID[$g]}" "${IFLINK[$i]}" \
			"${IFKIND[$i]}" "$WORK/before"
	done
}

# checks GUEST: the traffic, counter and no-tap cases of a guest that is up
checks() {
	local g=$1
	CON=${CONS[$g]}
	if ((COPY)); then
		copy_checks "$g"
		return
	fi
	guest_checks "$g" "${NS[$g]}"
	((DEMO)) && udp_cases "$g"
	[ "$g" = ref ] && return
	if ((DEMO)); then
		demo_counters
	elif ((VNIC)); then
		vnic_checks "$g"
	else
		accel_counter_checks "$g" "${PID[$g]}" "$NIC" "${MV[$g]}"
		stat_tool_checks "$g"
	fi
	if [ "$QEMU_VER" = patched ]; then
		check "$g: no macvtap or tap exists" no_tap_links
		check "$g: qemu holds /dev/vhost-accel and no tap" qemu_fds_ok "${PID[$g]}"
	fi
}

# ---- vhost-accel-stat (tools/) on the running guest

STAT_TOOL=$SELF_DIR/vhost-accel-stat

# guest_freeze GUEST STOP|CONT: freeze or thaw the nested guest's QEMU
# process.  Not HMP's stop or libvirt's suspend: a stopped VM makes QEMU
# stop its vhost backends (virtio-net follows the run state), so nothing
# would run dry; a frozen QEMU leaves the device's worker running while
# the guest posts no buffer, as a guest whose vCPU is starved.
guest_freeze() {
	kill -"$2" "${PID[$1]}"
}

# stat_listed LINE NAME: the list entry LINE names guest NAME, runs
# accelerated on the NIC and counted packets both ways
stat_listed() {
	grep -q "\"guest\":\"$2\",\"mode\":\"accel\",\"ifindex\":[0-9]*,\"nic\":\"$NIC\"" <<<"$1" &&
		! grep -Eq '"(rx|tx)_packets":0[,}]' <<<"$1"
}

# stat_events FILE ID NAME: monitor's output has both events of device ID
# of guest NAME
stat_events() {
	grep -q "^SATURATED device $2 guest $3 " "$1" &&
		grep -q "^RECOVERED device $2 guest $3 " "$1"
}

# wait_for COUNT CMD...: CMD true within COUNT tenths of a second
wait_for() {
	local t=$1
	shift
	while ((t-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# pid_gone PID: no such process any more
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# stat_tool_checks GUEST: while the guest runs, vhost-accel-stat lists its
# device with QEMU's -name, accelerated on the NIC, with the traffic of
# guest_checks counted; then, the guest frozen while the peer floods it
# with pings, monitor prints SATURATED for it, and RECOVERED once it runs
# again.
stat_tool_checks() {
	local g=$1 pid=${PID[$1]} name=e2e-$1 line id dev mon mpid ppid
	[ "$VIA" = libvirt ] && name=$DOM
	line=$("$STAT_TOOL" -j 2>&1 | grep "\"owner_pid\":$pid,")
	diag <<<"$line"
	id=$(sed -n 's/.*"id":\([0-9]*\),.*/\1/p' <<<"$line")
	check "$g: vhost-accel-stat lists the guest (device ${id:-?}, $name)" \
		stat_listed "$line" "$name"
	if [ -z "$id" ]; then
		nok "$g: vhost-accel-stat monitor sees backpressure # not listed"
		return
	fi
	mon=$WORK/monitor-$g
	"$STAT_TOOL" -c 2 -t 120 monitor >"$mon" 2>&1 &
	mpid=$!
	wait_for 50 grep -q '^waiting' "$mon"
	# the guest's MAC known without ARP, which it would not answer now
	dev=$(ip -n "${NS[$g]}" -o route get "$GUEST" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
	ip -n "${NS[$g]}" neigh replace "$GUEST" lladdr "$MAC" dev "$dev" nud permanent
	guest_freeze "$g" STOP
	# 100 pings a second, unanswered: the guest's Rx buffers run out
	ip netns exec "${NS[$g]}" ping -q -f -w 60 "$GUEST" >/dev/null 2>&1 &
	ppid=$!
	wait_for 600 grep -q '^SATURATED' "$mon"
	kill "$ppid" 2>/dev/null
	guest_freeze "$g" CONT
	wait_for 600 pid_gone "$mpid"
	kill "$mpid" 2>/dev/null
	wait "$mpid" "$ppid" 2>/dev/null
	ip -n "${NS[$g]}" neigh del "$GUEST" dev "$dev" 2>/dev/null
	diag <"$mon"
	check "$g: vhost-accel-stat monitor sees backpressure" \
		stat_events "$mon" "$id" "$name"
}

# finish GUEST: stop that guest's QEMU (libvirt's: at cleanup)
finish() {
	[ "$VIA" = libvirt ] && return
	QPID=${PID[$1]:-}
	kill_qemu
	PID[$1]=
}

# start GUEST: the wire, then QEMU; UP[GUEST]=1 once it runs
start() {
	local g=$1
	UP[$g]=0
	if ! setup_net "$g"; then
		fail_phases "$g" "setup failed" "${PHASES[@]}"
		return 1
	fi
	if [ "$VIA" = libvirt ]; then
		if ! libvirt_start "$g"; then
			fail_phases "$g" "not reached" confined ready vhost traffic counters notap gone
			return 1
		fi
	else
		start_guest_qemu "$g"
	fi
	UP[$g]=1
}

# started GUEST: after start and a second, its first case
started() {
	local g=$1
	[ "${UP[$g]}" = 1 ] || return 1
	[ "$VIA" = libvirt ] && return 0
	started_qemu "$g" && return 0
	UP[$g]=0
	fail_phases "$g" "not reached" confined ready vhost traffic counters notap gone
	return 1
}

# came_up GUEST: case "guest ready" of a guest that started; if it fails,
# so does every case after it
came_up() {
	local g=$1
	[ "${UP[$g]}" = 1 ] || return 1
	ready "$g" && return 0
	UP[$g]=0
	fail_phases "$g" "guest did not come up" vhost traffic counters notap gone
	return 1
}

# ---- the cases before the guests

# refused NAME NETDEV PATTERN: the patched QEMU with NETDEV exits non-zero
# at once and its message matches PATTERN.
refused() {
	local name=$1 netdev=$2 pattern=$3 rc=0
	timeout 60 "$QEMU" -M pc -accel tcg -nodefaults -display none \
		-netdev "$netdev" -device virtio-net-pci,netdev=n0 \
		>"$WORK/refused.log" 2>&1 || rc=$?
	diag <"$WORK/refused.log"
	# 124: timeout killed it, so it did not refuse
	local verdict=0
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
		grep -q -- "$pattern" "$WORK/refused.log" && verdict=1
	check "refused: $name (exit $rc)" test "$verdict" -eq 1
}

# before_guests: the cases of the QEMU or the libvirt in use
before_guests() {
	local ver
	case $QEMU_VER/$VIA in
	10.0/qemu)
		ver=$("$QEMU" --version 2>&1 | head -1)
		echo "# $QEMU: $ver"
		if ! grep -q 'version 10\.0\.' <<<"$ver"; then
			nok "qemu 10.0 at $QEMU # run scripts/qemu-backports.sh (make deps)"
			return 1
		fi
		ok "qemu 10.0 at $QEMU"
		;;
	7.2/libvirt)
		libvirt_prepare || { pad 1 6 "libvirt case # libvirtd down"; return 1; }
		;;
	patched/qemu)
		"$QEMU" -netdev help | diag
		refused "no such interface" "vhost-accel,id=n0,ifname=e2enonexist" \
			"no such interface"
		refused "not a vhost-accel device" \
			"vhost-accel,id=n0,ifname=lo,vhostdev=/dev/vhost-net" \
			"is not a vhost-accel device"
		refused "queues out of range" "vhost-accel,id=n0,ifname=lo,queues=0" \
			"out of range"
		;;
	esac
}

# ---- the demo's table

# ratio A B: A / B with two decimals, "-" when either is missing
ratio() {
	awk -v a="${1:-0}" -v b="${2:-0}" \
		'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'
}

# row NAME ACCEL REF
row() {
	printf '# %-30s | %11s | %11s | %5s\n' "$1" "${2:--}" "${3:--}" "$(ratio "$2" "$3")"
}

# loss "PPS LOST TOTAL": "LOST/TOTAL"
loss() {
	[ -n "$1" ] || { echo "-"; return; }
	# shellcheck disable=SC2086  # split "PPS LOST TOTAL"
	set -- $1
	echo "$2/$3"
}

# first "PPS LOST TOTAL": PPS
first() { echo "${1%% *}"; }

demo_table() {
	echo "#"
	echo "# Linux guest (virtio_net, nested QEMU TCG inside the test VM, 1 vCPU),"
	echo "# ${IPERF_TIME} s per iperf3 run, one run each: a demonstration, not a benchmark."
	echo "#"
	printf '# %-30s | %11s | %11s | %5s\n' "metric" "vhost-accel" "vhost-net" "ratio"
	echo "# -------------------------------+-------------+-------------+------"
	row "TCP guest->peer (Mbit/s)" "$TPUT_accel_TX" "$TPUT_ref_TX"
	row "TCP peer->guest (Mbit/s)" "$TPUT_accel_RX" "$TPUT_ref_RX"
	row "UDP 64 B guest->peer (pps)" "$(first "$UDP_accel_TX")" "$(first "$UDP_ref_TX")"
	row "UDP 64 B peer->guest (pps)" "$(first "$UDP_accel_RX")" "$(first "$UDP_ref_RX")"
	printf '# %-30s | %11s | %11s |\n' "  lost/sent guest->peer" \
		"$(loss "$UDP_accel_TX")" "$(loss "$UDP_ref_TX")"
	printf '# %-30s | %11s | %11s |\n' "  lost/sent peer->guest" \
		"$(loss "$UDP_accel_RX")" "$(loss "$UDP_ref_RX")"
	echo "#"
	echo "# vhost-accel: nicsim $NIC + macvtap, /dev/vhost-accel; vhost-net: veth + macvtap, /dev/vhost-net"
	[ -n "$ACCEL_STATS" ] || return 0
	echo "# vhost-accel device counters (debugfs), whole guest lifetime:"
	for q in rx tx; do
		awk -v q="$q" '
			{ v[$1] = $2 }
			END {
				p = q "_"
				printf "#   %s: packets %d bytes %d bytes_copied %d depletions %d drops no_buf %d too_big %d nic %d saturations %d\n",
					q, v[p "packets"], v[p "bytes"], v[p "bytes_copied"],
					v[p "depletions"], v[p "drops_no_buf"], v[p "drops_too_big"],
					v[p "drops_nic"], v[p "saturations"]
			}' <<<"$ACCEL_STATS"
	done
	[ -z "$NIC_STATS" ] || { echo "# ethtool -S $NIC (zeros not shown):"; diag <<<"$NIC_STATS" | sed 's/^# /#  /'; }
}

# ---- the run

if [ "$VIA" = libvirt ]; then
	e2e_require "$PLAN" libvirtd virsh virt-xml-validate unshare nsenter setpriv \
		iperf3 ethtool
elif [ "$QEMU_VER" = 10.0 ]; then
	e2e_require "$PLAN" iperf3 ethtool
else
	e2e_require "$PLAN" "$QEMU" iperf3 ethtool
fi

TPUT_accel_TX=0 TPUT_accel_RX=0 TPUT_ref_TX=0 TPUT_ref_RX=0
TPUT_vnic_TX=0 TPUT_vnic_RX=0
UDP_accel_TX='' UDP_accel_RX='' UDP_ref_TX='' UDP_ref_RX=''
ACCEL_STATS='' NIC_STATS=''

# --nic vnic on a VM without the NIC or the driver: every case skipped
if ((VNIC)); then
	VNIC_WHY=$(vnic_why)
	if [ -n "$VNIC_WHY" ]; then
		while IFS= read -r c; do
			skip "$c" "$VNIC_WHY"
		done < <(for ph in "${PHASES[@]}"; do phase_cases "$ACCEL" "$ph"; done)
		exit 0
	fi
fi

if ! before_guests; then
	for g in "${GUESTS[@]}"; do
		fail_phases "$g" "not reached" "${PHASES[@]}"
	done
elif ((DEMO)); then
	# Both guests boot at once: each nested QEMU is one TCG thread and
	# the test VM has two vCPUs, so that halves the longest part of the
	# demo.  The traffic runs one guest at a time, the other one idle
	# or gone.  One boot budget for both.
	echo "# booting both guests (nested TCG: 2-6 minutes)"
	T_BOOT=$SECONDS
	for g in "${GUESTS[@]}"; do
		start "$g"
	done
	sleep 1
	for g in "${GUESTS[@]}"; do
		started "$g"
	done
	for g in "${GUESTS[@]}"; do
		BOOT_TIMEOUT=$((E2E_BOOT_TIMEOUT - (SECONDS - T_BOOT)))
		[ "$BOOT_TIMEOUT" -ge 10 ] || BOOT_TIMEOUT=10
		came_up "$g"
	done
	echo "# guests booted at $((SECONDS - T0)) s"
	for g in "${GUESTS[@]}"; do
		[ "${UP[$g]}" = 1 ] && checks "$g"
		finish "$g"
		[ "$g" = ref ] || echo "# vhost-accel done at $((SECONDS - T0)) s"
	done
else
	for g in "${GUESTS[@]}"; do
		start "$g" || continue
		[ "$VIA" = libvirt ] || sleep 1
		started "$g" && came_up "$g" && vhost_started "$g" && checks "$g"
		finish "$g"
		[ "${UP[$g]}" = 1 ] && ((VNIC)) && vnic_gone "$g"
	done
fi
while [ $n -lt "$PLAN" ]; do
	nok "case not reached"
done

# copy_summary: --copy's throughputs, one interface a line
copy_summary() {
	local i v tx rx
	echo "# throughput (Mbit/s, nested TCG, copying datapath)  guest->peer  peer->guest"
	for i in "${IFACES[@]}"; do
		v=${IFLABEL[$i]//[^A-Za-z0-9_]/_}
		eval "tx=\${TPUT_${v}_TX:-0} rx=\${TPUT_${v}_RX:-0}"
		printf '# %-40s %11s  %11s\n' "${IFLABEL[$i]}" "$tx" "$rx"
	done
}

case $QEMU_VER/$VIA/$DEMO/$COPY in
*/*/0/1) copy_summary ;;
*/1/0)
	demo_table
	echo "# demo_guest: $((n - failed)) passed, $failed failed in $((SECONDS - T0)) s"
	;;
7.2/qemu/0/0)
	echo "# throughput (Mbit/s, nested TCG)  guest->peer  peer->guest"
	if ((VNIC)); then
		printf '# vhost-accel (virtio-net NIC+macvtap) %11s  %11s\n' "$TPUT_vnic_TX" "$TPUT_vnic_RX"
	else
		printf '# vhost-accel (nicsim+macvtap)     %11s  %11s\n' "$TPUT_accel_TX" "$TPUT_accel_RX"
		printf '# vhost-net   (veth+macvtap)       %11s  %11s\n' "$TPUT_ref_TX" "$TPUT_ref_RX"
	fi
	;;
10.0/qemu/0/0)
	printf '# throughput (Mbit/s, nested TCG, QEMU 10.0)  guest->peer %s  peer->guest %s\n' \
		"${TPUT_qemu10_TX:-0}" "${TPUT_qemu10_RX:-0}"
	;;
7.2/libvirt/0/0)
	printf '# throughput (Mbit/s, nested TCG, libvirt)  guest->peer %s  peer->guest %s\n' \
		"${TPUT_libvirt_TX:-0}" "${TPUT_libvirt_RX:-0}"
	;;
patched/qemu/0/0)
	echo "# throughput (Mbit/s, nested TCG, patched QEMU)  guest->peer  peer->guest"
	printf '# vhost-accel netdev (nicsim, no tap)           %11s  %11s\n' \
		"$TPUT_accel_TX" "$TPUT_accel_RX"
	;;
esac
((DEMO)) || echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
