#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test VM's two virtio-net PCI NICs (selftests/vm/run.sh: taps on one
# bridge of the outer host, Documentation/testing.rst) with the plain
# virtio_net driver: both there with their MACs, the features and queue
# pairs the virtio-net driver of this project needs, a ping from one to
# the other through the outer bridge, PCI removal and rescan.  With
# virtio_net_accel loaded: unbind / bind to it and back, PCI removal while
# it drives the NIC, and the test library's vp_vnic_* (vnic_lib).  Without
# it those cases SKIP, saying why; without the devices every case SKIPs
# with run.sh's reason (VP_VNIC_WHY).  Prints kselftest TAP, exits non-zero
# if a case failed.  Needs root, ip, ethtool, ping (or busybox).
# Addresses: 10.99.3.0/24, only inside the two network namespaces.

set -u

MAC_NIC=52:54:00:a0:00:01
MAC_FAR=52:54:00:a0:00:02
ACCEL=virtio_net_accel
VDEVS=/sys/bus/virtio/devices
VDRVS=/sys/bus/virtio/drivers
NS_NIC=vnic-basic-nic
NS_FAR=vnic-basic-far
NET=10.99.3
# Features of virtio_net_accel's needs (bit numbers of the virtio spec):
# CSUM 0, HOST_TSO4 11, HOST_TSO6 12, MRG_RXBUF 15, CTRL_VQ 17, CTRL_RX 18,
# MQ 22, CTRL_MAC_ADDR 23, VERSION_1 32, RING_RESET 40.
FEATURES="CSUM:0 HOST_TSO4:11 HOST_TSO6:12 MRG_RXBUF:15 CTRL_VQ:17 CTRL_RX:18
	  MQ:22 CTRL_MAC_ADDR:23 VERSION_1:32 RING_RESET:40"
QUEUE_PAIRS=4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/vnic_lib
PLAN=17

# TAP cases, PING, wait_for (installed beside this script as lib/tap.sh)
# shellcheck source=selftests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tap.sh"

# The netdev of our netns with address $1 that sits on a device.
by_mac() {
	local d
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && [ -e "$d/device" ] &&
			{ echo "${d##*/}"; return 0; }
	done
	return 1
}
vdev_of() { basename "$(readlink -f "/sys/class/net/$1/device")"; }
driver_of() { basename "$(readlink "$VDEVS/$1/driver" 2>/dev/null)" 2>/dev/null; }
pci_of() { basename "$(dirname "$(readlink -f "$VDEVS/$1")")"; }
netdev_of() { local d; for d in "$VDEVS/$1"/net/*; do [ -e "$d" ] && echo "${d##*/}"; done; }

# present MAC DRIVER: a netdev with MAC in our netns, on a virtio device
# that DRIVER has.
present() {
	local name vdev
	name=$(by_mac "$1") || { echo "no netdev with address $1"; return 1; }
	vdev=$(vdev_of "$name")
	echo "$1: $name on $vdev (PCI $(pci_of "$vdev")), driver $(driver_of "$vdev")"
	[[ $vdev == virtio* ]] && [ "$(driver_of "$vdev")" = "$2" ]
}

# The features virtio_net and the device agreed on, as hex and by name.
features() {
	local mac name vdev bits hex i f bad=0
	for mac in $MAC_NIC $MAC_FAR; do
		name=$(by_mac $mac) || return 1
		vdev=$(vdev_of "$name")
		bits=$(cat "$VDEVS/$vdev/features")
		hex=0
		for ((i = 0; i < ${#bits} && i < 64; i++)); do
			[ "${bits:i:1}" = 1 ] && hex=$((hex | (1 << i)))
		done
		printf '%s %s features 0x%x\n' "$mac" "$vdev" "$hex"
		for f in $FEATURES; do
			[ "${bits:${f#*:}:1}" = 1 ] && continue
			echo "$mac: no ${f%:*} (bit ${f#*:})"
			bad=1
		done
	done
	return $bad
}

queue_pairs() {
	local mac name max
	for mac in $MAC_NIC $MAC_FAR; do
		name=$(by_mac $mac) || return 1
		max=$(ethtool -l "$name" | awk '/^Combined:/ { print $2; exit }')
		echo "$mac: $name, at most ${max:-?} combined channels"
		[ "$max" = $QUEUE_PAIRS ] || return 1
	done
}

# Both ends into namespaces of their own, 10.99.3.1 (NIC) and .2 (far).
split() {
	local nic far
	nic=$(by_mac $MAC_NIC) && far=$(by_mac $MAC_FAR) || return 1
	ip netns add $NS_NIC && ip netns add $NS_FAR &&
	ip link set "$nic" netns $NS_NIC && ip link set "$far" netns $NS_FAR &&
	ip -n $NS_NIC addr add $NET.1/24 dev "$nic" &&
	ip -n $NS_FAR addr add $NET.2/24 dev "$far" &&
	ip -n $NS_NIC link set "$nic" up && ip -n $NS_FAR link set "$far" up &&
	wait_for 10 ns_carrier $NS_NIC "$nic" && wait_for 10 ns_carrier $NS_FAR "$far"
}
ns_carrier() { [ "$(ip netns exec "$1" cat "/sys/class/net/$2/carrier" 2>/dev/null)" = 1 ]; }

# Every device of the two namespaces back into ours (down), namespaces gone.
join() {
	local ns dev
	for ns in $NS_NIC $NS_FAR; do
		[ -e "/run/netns/$ns" ] || continue
		for dev in $(ip netns exec $ns ls /sys/class/net); do
			[ "$dev" = lo ] || ip -n $ns link set "$dev" down netns 1
		done
		ip netns del $ns
	done
	return 0
}

pings() {
	ip netns exec $NS_FAR "${PING[@]}" -c 3 -w 10 $NET.1 &&
	ip netns exec $NS_NIC "${PING[@]}" -c 3 -w 10 $NET.2
}

# ping_split: the two ends talk through the outer bridge, then come back.
ping_split() {
	local rc=0
	split && pings || rc=1
	join
	return $rc
}

# What every case ends with: both devices on virtio_net in our netns.
boot_state() {
	present $MAC_NIC virtio_net && present $MAC_FAR virtio_net
}

# pci_cycle DRIVER: the NIC (on DRIVER) removed from the PCI bus and found
# again by a rescan, on virtio_net, perhaps as another virtioN.
pci_cycle() {
	local name vdev pci
	name=$(by_mac $MAC_NIC) || return 1
	vdev=$(vdev_of "$name")
	pci=$(pci_of "$vdev")
	[ "$(driver_of "$vdev")" = "$1" ] || { echo "$vdev is not on $1"; return 1; }
	[[ $pci =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] ||
		{ echo "$vdev: no PCI function ($pci)"; return 1; }
	echo "removing $pci ($vdev, $name)"
	echo 1 >"/sys/bus/pci/devices/$pci/remove" || return 1
	wait_for 10 gone "$VDEVS/$vdev" || { echo "$vdev still there"; return 1; }
	! by_mac $MAC_NIC >/dev/null || { echo "a netdev has $MAC_NIC still"; return 1; }
	echo 1 >/sys/bus/pci/rescan || return 1
	wait_for 10 by_mac $MAC_NIC >/dev/null || { echo "no $MAC_NIC after the rescan"; return 1; }
	present $MAC_NIC virtio_net
}
gone() { [ ! -e "$1" ]; }

# bind_accel: the NIC from virtio_net to virtio_net_accel, its netdev
# (virtio_net's) gone, the one virtio_net_accel registers there.
bind_accel() {
	local name vdev new
	name=$(by_mac $MAC_NIC) || return 1
	vdev=$(vdev_of "$name")
	echo "$vdev" >$VDRVS/virtio_net/unbind || return 1
	wait_for 5 gone "/sys/class/net/$name" || { echo "$name still there"; return 1; }
	[ -z "$(driver_of "$vdev")" ] || { echo "$vdev still has a driver"; return 1; }
	echo "$vdev" >$VDRVS/$ACCEL/bind || return 1
	[ "$(driver_of "$vdev")" = $ACCEL ] || { echo "$vdev not on $ACCEL"; return 1; }
	wait_for 5 test -n "$(netdev_of "$vdev")" || { echo "$ACCEL registered no netdev"; return 1; }
	new=$(netdev_of "$vdev")
	echo "$vdev: $ACCEL netdev $new, address $(cat "/sys/class/net/$new/address")"
	[ "$(cat "/sys/class/net/$new/address")" = $MAC_NIC ]
}

# unbind_accel: the NIC off virtio_net_accel (its netdev goes), then back
# on virtio_net.
unbind_accel() {
	local vdev name
	for vdev in "$VDEVS"/*; do
		[ "$(driver_of "${vdev##*/}")" = $ACCEL ] && break
	done
	vdev=${vdev##*/}
	[ "$(driver_of "$vdev")" = $ACCEL ] || { echo "no device on $ACCEL"; return 1; }
	name=$(netdev_of "$vdev")
	echo "$vdev" >$VDRVS/$ACCEL/unbind || return 1
	[ -z "$name" ] || wait_for 5 gone "/sys/class/net/$name" || { echo "$name still there"; return 1; }
	echo "$vdev" >$VDRVS/virtio_net/bind || return 1
	present $MAC_NIC virtio_net
}

# The library's cases: vnic_lib CASE (its own diagnostics), then the
# devices must be as at boot.
lib_case() {
	"$LIB" "$1" && boot_state
}

# Put things back as at boot after a failed case, as far as we can.
restore() {
	local vdev
	join
	for vdev in "$VDEVS"/*; do
		vdev=${vdev##*/}
		[ "$(cat "$VDEVS/$vdev/device" 2>/dev/null)" = 0x0001 ] || continue
		[ "$(driver_of "$vdev")" = $ACCEL ] && echo "$vdev" >$VDRVS/$ACCEL/unbind
		[ -n "$(driver_of "$vdev")" ] || echo "$vdev" >$VDRVS/virtio_net/bind
	done 2>/dev/null
	return 0
}

echo "TAP version 13"
echo "1..$PLAN"
if [ "$(id -u)" != 0 ]; then
	for ((i = 1; i <= PLAN; i++)); do skip "case $i" "not root"; done
	exit 4
fi
if ! by_mac $MAC_NIC >/dev/null || ! by_mac $MAC_FAR >/dev/null; then
	why="no virtio-net devices with MACs $MAC_NIC and $MAC_FAR"
	[ -z "${VP_VNIC_WHY:-}" ] || why+=" (run.sh: $VP_VNIC_WHY)"
	for ((i = 1; i <= PLAN; i++)); do skip "case $i" "$why"; done
	exit 4
fi
join

t "NIC $MAC_NIC on virtio_net" present $MAC_NIC virtio_net
t "far side $MAC_FAR on virtio_net" present $MAC_FAR virtio_net
t "features:$(for f in $FEATURES; do printf ' %s' "${f%:*}"; done)" features
t "$QUEUE_PAIRS queue pairs (MQ)" queue_pairs
t "ping through the outer bridge, both ways" ping_split || restore
t "PCI remove + rescan: back on virtio_net" pci_cycle virtio_net || restore
t "ping again after the rescan" ping_split || restore

if [ -d $VDRVS/$ACCEL ]; then
	skip "library without $ACCEL" "$ACCEL is loaded"
	t "unbind from virtio_net, bind to $ACCEL" bind_accel || restore
	t "unbind from $ACCEL, bind to virtio_net" unbind_accel || restore
	t "ping after $ACCEL let go" ping_split || restore
	bind_accel >/dev/null 2>&1
	t "PCI remove on $ACCEL + rescan: back on virtio_net" pci_cycle $ACCEL || restore
	t "ping after the rescan" ping_split || restore
	t "library: vp_vnic_create, vp_nic_destroy" lib_case create || restore
	t "library: PCI remove, rescan, rebind" lib_case remove || restore
else
	why="$ACCEL is not loaded (drivers/net/virtio_net_accel/virtio_net_accel.ko not built)"
	t "library without $ACCEL: vp_vnic_create fails, says why" lib_case nodriver || restore
	for c in "unbind from virtio_net, bind to $ACCEL" "unbind from $ACCEL, bind to virtio_net" \
		 "ping after $ACCEL let go" "PCI remove on $ACCEL + rescan: back on virtio_net" \
		 "ping after the rescan" "library: vp_vnic_create, vp_nic_destroy" \
		 "library: PCI remove, rescan, rebind"; do
		skip "$c" "$why"
	done
fi
t "both devices as at boot" boot_state
t "no namespace left" test ! -e /run/netns/$NS_NIC -a ! -e /run/netns/$NS_FAR

[ $failed -eq 0 ] || exit 1
exit 0
