#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end with unmodified QEMU and a real Linux guest (nested, TCG).
# In the test VM: a nicsim NIC whose wire peer lives in a network
# namespace (10.77.0.1/24), a macvtap on the NIC with the guest's MAC, and
# QEMU started with
#   -netdev tap,id=n0,fd=3,vhost=on,vhostfd=4 -device virtio-net-pci,...
# where fd 3 is the macvtap's /dev/tapN and fd 4 is /dev/vhost-accel.  The
# second-level guest (the Debian kernel and the initramfs that
# mkinitramfs.sh builds, see l2-init) gets 10.77.0.2/24, runs an iperf3
# server and pings the peer.  Checked: ping both ways, iperf3 TCP both
# ways with nonzero throughput, the vhost-accel device's counters
# (debugfs: QEMU owns the fd) carried that traffic with nothing copied,
# nicsim's queue pair counters agree, and the macvtap's own queue stayed
# (almost) idle, so no fallback path carried it.  Then the same guest
# with vhost=on on /dev/vhost-net and a macvtap on a veth, as the
# reference; both throughputs are printed.
#
# The guest, QEMU and the peer side are in lib.sh (shared with the other
# e2e tests and the demo); its E2E_* variables apply.

set -u

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

NIC=e2enic
NS_ACCEL=e2e-accel
NS_REF=e2e-ref
MV_ACCEL=e2emv0
MV_REF=e2emv1
VETH=e2eve0
# Per mode: 6 common cases; accel adds 4 counter cases.
PLAN=16

cleanup() {
	kill_qemu
	ip link del "$MV_ACCEL" 2>/dev/null
	ip link del "$MV_REF" 2>/dev/null
	ip link del "$NIC" 2>/dev/null
	ip link del "$VETH" 2>/dev/null
	ip netns del "$NS_ACCEL" 2>/dev/null
	ip netns del "$NS_REF" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# near A B: within 10 of each other
near() { [ $(($1 - $2)) -le 10 ] && [ $(($2 - $1)) -le 10 ]; }

nic_agrees() {
	near "$nic_tx" "$tx_p" && near "$nic_rx" "$rx_p" && [ "$mv_pk" -lt 100 ]
}

e2e_require "$PLAN" "$QEMU" iperf3 ethtool

TPUT_accel_TX=0 TPUT_accel_RX=0 TPUT_ref_TX=0 TPUT_ref_RX=0

# ---- vhost-accel: nicsim + macvtap + /dev/vhost-accel
accel_tap=
if ip link add "$NIC" type nicsim && ip link set "$NIC" up &&
   setup_peer_ns "$NS_ACCEL" "${NIC}p"; then
	accel_tap=$(macvtap "$MV_ACCEL" "$NIC")
fi
if [ -z "$accel_tap" ]; then
	for c in "qemu started" "guest ready" "guest pings peer" \
		 "peer pings guest" "iperf3 guest->peer" "iperf3 peer->guest" \
		 "tx counters" "rx counters" "bytes_copied 0" "nicsim agrees"; do
		nok "accel: $c # setup failed"
	done
elif run_guest accel "$NS_ACCEL" tap,id=n0,fd=3,vhost=on,vhostfd=4 \
	"$accel_tap" /dev/vhost-accel; then
	f=$(accel_stats_file "$QPID")
	if [ -z "$f" ]; then
		nok "accel: tx counters # no debugfs stats owned by pid $QPID"
		nok "accel: rx counters"
		nok "accel: bytes_copied 0"
		nok "accel: nicsim agrees"
	else
		diag <"$f"
		ethtool -S "$NIC" | grep -v ' 0$' | diag
		tx_p=$(stat_of "$f" tx_packets) tx_b=$(stat_of "$f" tx_bytes)
		rx_p=$(stat_of "$f" rx_packets) rx_b=$(stat_of "$f" rx_bytes)
		copied=$(( $(stat_of "$f" tx_bytes_copied) + $(stat_of "$f" rx_bytes_copied) ))
		# iperf3 moved megabytes both ways (even at the 3 Mbit/s a
		# loaded host gives), ping and ARP a few hundred bytes; the
		# guest sends TSO frames (up to 64 KiB), so count bytes.
		check "accel: tx counters ($tx_p packets, $tx_b bytes)" \
			test "$tx_p" -ge 100 -a "$tx_b" -ge 500000
		check "accel: rx counters ($rx_p packets, $rx_b bytes)" \
			test "$rx_p" -ge 100 -a "$rx_b" -ge 500000
		check "accel: bytes_copied 0 ($copied)" test "$copied" -eq 0
		nic_tx=$(ethtool_of "$NIC" tx_packets)
		nic_rx=$(ethtool_of "$NIC" rx_packets)
		mv_pk=$(( $(cat "/sys/class/net/$MV_ACCEL/statistics/rx_packets") +
			  $(cat "/sys/class/net/$MV_ACCEL/statistics/tx_packets") ))
		echo "# nicsim qp tx_packets $nic_tx rx_packets $nic_rx, macvtap queue packets $mv_pk"
		# The queue pair saw what the device counted (up to stray
		# frames between the two reads); the macvtap's queue (the
		# copying fallback) saw at most stray control frames.
		check "accel: nicsim agrees" nic_agrees
	fi
	kill_qemu
else
	for c in "tx counters" "rx counters" "bytes_copied 0" "nicsim agrees"; do
		nok "accel: $c # guest did not come up"
	done
	kill_qemu
fi

# ---- reference: veth + macvtap + /dev/vhost-net
ref_tap=
if ip link add "$VETH" type veth peer name "${VETH}p" &&
   ip link set "$VETH" up && setup_peer_ns "$NS_REF" "${VETH}p"; then
	ref_tap=$(macvtap "$MV_REF" "$VETH")
fi
if [ -z "$ref_tap" ]; then
	for c in "qemu started" "guest ready" "guest pings peer" \
		 "peer pings guest" "iperf3 guest->peer" "iperf3 peer->guest"; do
		nok "ref: $c # setup failed"
	done
else
	run_guest ref "$NS_REF" tap,id=n0,fd=3,vhost=on,vhostfd=4 \
		"$ref_tap" /dev/vhost-net
	kill_qemu
fi
while [ $n -lt $PLAN ]; do
	nok "ref: case not reached"
done

echo "# throughput (Mbit/s, nested TCG)  guest->peer  peer->guest"
printf '# vhost-accel (nicsim+macvtap)     %11s  %11s\n' "$TPUT_accel_TX" "$TPUT_accel_RX"
printf '# vhost-net   (veth+macvtap)       %11s  %11s\n' "$TPUT_ref_TX" "$TPUT_ref_RX"
echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
