#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nicsim without vhost: the netdev side of the reference NIC.  Creates two
# instances, talks from the host stack (the NIC netdev) to the wire peer
# in a network namespace, reads ethtool -S, turns the debugfs knobs, and
# deletes everything again, also by deleting the peer, by deleting the
# peer's namespace and by unloading the module.  Prints kselftest TAP and
# exits non-zero if a case failed.  Needs root, ip, ethtool, ping (or
# busybox), optionally iperf3.  Addresses: 10.99.0.0/24, 10.99.1.0/24 only.
#
# NICSIM_KO=path: nicsim.ko to load again after the rmmod cases (default:
# found upwards from this script).

set -u

N0=nst0
N1=nst1
NS0=nicsim-basic-0
NS1=nicsim-basic-1
DBG=/sys/kernel/debug/nicsim
PLAN=27

# TAP cases, PING, wait_for (installed beside this script as lib/tap.sh)
# shellcheck source=selftests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tap.sh"

cleanup() {
	local i
	for i in $N0 $N1 nst2 nst3; do
		ip link del "$i" 2>/dev/null
	done
	ip netns del $NS0 2>/dev/null
	ip netns del $NS1 2>/dev/null
	ip netns del nicsim-basic-2 2>/dev/null
}

ping_ok() { "${PING[@]}" -c 2 -w 6 "$@" >/dev/null 2>&1; }
ping_fails() { ! "${PING[@]}" -c 2 -w 3 "$@" >/dev/null 2>&1; }

estat() { ethtool -S "$1" | awk -v k="$2" -F: '{ gsub(/^[ \t]+/, "", $1) } $1 == k { print $2 + 0 }'; }
gone() { ! ip link show "$1" >/dev/null 2>&1; }
carrier() { [ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = "$2" ]; }
peer_carrier() { [ "$(ip netns exec "$1" cat "/sys/class/net/$2/carrier" 2>/dev/null)" = "$3" ]; }

# setup NIC NS NET: peer into NS as .1, NIC in the root ns as .2
setup() {
	ip netns add "$2" &&
	ip link set "$1p" netns "$2" &&
	ip -n "$2" addr add "$3.1/24" dev "$1p" &&
	ip -n "$2" link set lo up &&
	ip -n "$2" link set "$1p" up &&
	ip addr add "$3.2/24" dev "$1" &&
	ip link set "$1" up &&
	wait_for 5 carrier "$1" 1
}

created() {
	local i
	for i in $N0 ${N0}p $N1 ${N1}p; do
		ip link show "$i" >/dev/null || return 1
	done
	ip -d link show $N0 | grep -qw nicsim &&
	ip -d link show ${N0}p | grep -qw nicsim
}

knobs() {
	local k
	for k in ring_size completion_delay_us drop_every_n xmit_accept_max link flow_control \
		 qps rss engines; do
		[ -e "$DBG/$N0/$k" ] || { echo "no $DBG/$N0/$k"; return 1; }
	done
	head -n 1 $DBG/$N0/engines
	[ "$(cat $DBG/$N0/ring_size)" = 256 ] &&
	[ "$(cat $DBG/$N0/xmit_accept_max)" = 0 ] &&
	[ "$(cat $DBG/$N0/link)" = 1 ] &&
	[ -d $DBG/$N1 ]
}

qps_file() {
	local max
	max=$(cat /sys/module/nicsim/parameters/max_qps)
	head -n 1 $DBG/$N0/qps
	head -n 1 $DBG/$N0/qps | grep -q "^$max queue pairs, 0 attached"
}

# RSS: a 40-byte key, a 1024-entry table, no pool while nothing is attached
rss_file() {
	cat $DBG/$N0/rss
	sed -n 1p $DBG/$N0/rss | grep -Eq '^key ([0-9a-f]{2}:){39}[0-9a-f]{2}$' &&
	sed -n 2p $DBG/$N0/rss | grep -qx 'indirection 1024' &&
	! grep -q '^pool' $DBG/$N0/rss
}

counters() {
	local w h
	ethtool -S $N0 | grep -E '^ +(wire|host|rx_dropped_injected|qps_attached)'
	w=$(estat $N0 wire_rx_frames)
	h=$(estat $N0 host_tx_frames)
	[ "${w:-0}" -gt 0 ] && [ "${h:-0}" -gt 0 ] &&
	[ -n "$(estat $N0 qp63_engine_dma_bytes)" ] &&
	[ -n "$(estat $N0 engine_dma_bytes)" ]
}

netdev_stats() {
	local tx rx
	tx=$(cat /sys/class/net/$N0/statistics/tx_packets)
	rx=$(cat /sys/class/net/$N0/statistics/rx_packets)
	echo "$N0 tx_packets $tx rx_packets $rx"
	[ "$tx" -gt 0 ] && [ "$rx" -gt 0 ] &&
	[ "$(ip netns exec $NS0 cat /sys/class/net/${N0}p/statistics/rx_packets)" -gt 0 ]
}

link_down() {
	echo 0 >$DBG/$N0/link &&
	carrier $N0 0 && peer_carrier $NS0 ${N0}p 0 &&
	ping_fails 10.99.0.1 &&
	[ "$(estat $N1 dropped_link_down)" = 0 ]
}

link_up() {
	echo 1 >$DBG/$N0/link &&
	wait_for 5 carrier $N0 1 && wait_for 5 peer_carrier $NS0 ${N0}p 1 &&
	ping_ok 10.99.0.1
}

drops() {
	local d
	echo 2 >$DBG/$N0/drop_every_n || return 1
	"${PING[@]}" -c 6 -i 0.2 -w 5 10.99.0.1 >/dev/null 2>&1
	echo 0 >$DBG/$N0/drop_every_n
	d=$(estat $N0 rx_dropped_injected)
	echo "rx_dropped_injected $d"
	[ "${d:-0}" -gt 0 ] && ping_ok 10.99.0.1
}

knob_ranges() {
	! echo 100 >$DBG/$N0/ring_size 2>/dev/null &&
	! echo 8192 >$DBG/$N0/ring_size 2>/dev/null &&
	echo 512 >$DBG/$N0/ring_size &&
	[ "$(cat $DBG/$N0/ring_size)" = 512 ] &&
	! echo 2000000 >$DBG/$N0/completion_delay_us 2>/dev/null &&
	echo 1000 >$DBG/$N0/completion_delay_us &&
	! echo 4097 >$DBG/$N0/xmit_accept_max 2>/dev/null &&
	echo 1 >$DBG/$N0/xmit_accept_max &&
	[ "$(cat $DBG/$N0/xmit_accept_max)" = 1 ] &&
	echo 0 >$DBG/$N0/xmit_accept_max &&
	! echo 2 >$DBG/$N0/link 2>/dev/null &&
	! echo 2 >$DBG/$N0/flow_control 2>/dev/null &&
	echo 1 >$DBG/$N0/flow_control &&
	echo 0 >$DBG/$N0/flow_control &&
	echo 0 >$DBG/$N0/completion_delay_us &&
	echo 256 >$DBG/$N0/ring_size
}

big_frames() {
	ip link set $N0 mtu 9000 &&
	ip -n $NS0 link set ${N0}p mtu 9000 &&
	"${PING[@]}" -c 2 -w 6 -s 8000 10.99.0.1 >/dev/null 2>&1 &&
	ip link set $N0 mtu 1500 &&
	ip -n $NS0 link set ${N0}p mtu 1500
}

tcp_stream() {
	local out rc
	ip netns exec $NS0 iperf3 -s -1 -B 10.99.0.1 >/dev/null 2>&1 &
	sleep 1
	out=$(timeout 30 iperf3 -c 10.99.0.1 -t 2 -f m 2>&1)
	rc=$?
	wait
	grep -E 'sender|receiver' <<<"$out"
	[ $rc -eq 0 ]
}

# Link flaps, then the NIC is deleted by its peer, under a TCP stream.
under_load() {
	local i
	ip netns exec $NS1 timeout 20 iperf3 -s -1 -B 10.99.1.1 >/dev/null 2>&1 &
	sleep 1
	timeout 20 iperf3 -c 10.99.1.1 -t 6 >/dev/null 2>&1 &
	sleep 1
	for i in 1 2 3; do
		echo 0 >$DBG/$N1/link
		sleep 0.3
		echo 1 >$DBG/$N1/link
		sleep 0.3
	done
	ip -n $NS1 link del ${N1}p
	wait
	gone $N1 && ! ip -n $NS1 link show ${N1}p >/dev/null 2>&1 &&
	[ ! -e $DBG/$N1 ]
}

peer_del() {
	ip link add $N1 type nicsim &&
	ip link set ${N1}p netns $NS1 &&
	ip -n $NS1 link del ${N1}p &&
	wait_for 5 gone $N1 &&
	! ip -n $NS1 link show ${N1}p >/dev/null 2>&1 &&
	[ ! -e $DBG/$N1 ]
}

nic_del() {
	ip link del $N0 &&
	gone $N0 && ! ip -n $NS0 link show ${N0}p >/dev/null 2>&1 &&
	[ ! -e $DBG/$N0 ]
}

# The peer returns to init_net when its namespace goes, like hardware.
netns_refund() {
	ip link add nst2 type nicsim &&
	ip netns add nicsim-basic-2 &&
	ip link set nst2p netns nicsim-basic-2 &&
	! ip link show nst2p >/dev/null 2>&1 &&
	ip netns del nicsim-basic-2 &&
	wait_for 10 ip link show nst2p >/dev/null &&
	ip link del nst2p && gone nst2
}

name_too_long() {
	! ip link add nst456789abcdef type nicsim 2>/dev/null &&
	gone nst456789abcdef
}

# No name: the kernel picks nicsimN, the peer follows.
name_chosen() {
	local name
	ip link add type nicsim || return 1
	name=$(ip -o link show type nicsim | awk -F': ' \
	       '$2 ~ /^nicsim[0-9]+(@|$)/ { sub(/@.*/, "", $2); print $2; exit }')
	echo "created $name"
	[ -n "$name" ] && ip link show "${name}p" >/dev/null &&
	ip link del "$name" && gone "${name}p"
}

mac_given() {
	ip link add nst2 address 02:11:22:33:44:55 type nicsim &&
	ip link show nst2 | grep -q 02:11:22:33:44:55 &&
	! ip link add nst3 address 01:00:5e:00:00:01 type nicsim 2>/dev/null &&
	ip link del nst2
}

# insmod again with the engines it had: a VM run with engines=N keeps them
rmmod_destroys() {
	local ko e
	e=$(cat /sys/module/nicsim/parameters/engines) || return 1
	ko=$(nicsim_ko)
	[ -n "$ko" ] || { echo "nicsim.ko not found"; return 1; }
	ip link add nst3 type nicsim && ip link set nst3 up &&
	ip link set nst3p up &&
	rmmod nicsim && gone nst3 && gone nst3p &&
	[ ! -e $DBG ] &&
	insmod "$ko" engines="$e" &&
	[ "$(cat /sys/module/nicsim/parameters/engines)" = "$e" ]
}

echo "TAP version 13"
echo "1..$PLAN"
if [ "$(id -u)" != 0 ]; then
	for ((i = 1; i <= PLAN; i++)); do skip "case $i" "not root"; done
	exit 4
fi
cleanup
if [ ! -d /sys/module/nicsim ] && ! modprobe nicsim 2>/dev/null; then
	ko=$(nicsim_ko)
	[ -n "$ko" ] && insmod "$ko"
fi

t "create $N0" ip link add $N0 type nicsim
t "create $N1" ip link add $N1 type nicsim
t "netdevs and peers exist" created
t "debugfs knobs" knobs
t "qps file" qps_file
t "rss file" rss_file
t "$N0: peer in a netns, addresses, up" setup $N0 $NS0 10.99.0
t "$N1: peer in a netns, addresses, up" setup $N1 $NS1 10.99.1
t "ping host stack -> wire peer ($N0)" ping_ok 10.99.0.1
t "ping host stack -> wire peer ($N1)" ping_ok 10.99.1.1
t "ethtool -S counters" counters
t "netdev statistics" netdev_stats
t "link 0: no carrier, ping fails" link_down
t "link 1: carrier, ping works" link_up
t "drop_every_n drops and counts" drops
t "knob ranges" knob_ranges
t "9000-byte MTU, 8000-byte ping" big_frames
if command -v iperf3 >/dev/null; then
	t "TCP stream (TSO/GSO over the wire)" tcp_stream
else
	skip "TCP stream" "no iperf3"
fi
t "$N1 still works" ping_ok 10.99.1.1
if command -v iperf3 >/dev/null; then
	t "link flaps, then peer deleted, under TCP load" under_load
else
	skip "link flaps, then peer deleted, under TCP load" "no iperf3"
fi
t "delete the peer deletes both" peer_del
t "delete the NIC deletes both" nic_del
t "peer back to init_net when its netns goes" netns_refund
t "name too long for NAMEp refused" name_too_long
t "kernel-chosen name nicsimN, peer nicsimNp" name_chosen
t "MAC from ip link add; multicast refused" mac_given
t "rmmod destroys instances, insmod again" rmmod_destroys

cleanup
[ $failed -eq 0 ] || exit 1
exit 0
