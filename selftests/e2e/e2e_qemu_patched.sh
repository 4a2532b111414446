#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end with the patched QEMU (qemu-patches/, built by `make qemu`)
# and its own netdev type, no tap at all:
#   -netdev vhost-accel,id=n0,ifname=NIC -device virtio-net-pci,netdev=n0,mac=M
# In the test VM: a nicsim NIC whose wire peer lives in a network namespace
# (10.77.0.1/24) and the second-level guest of lib.sh (10.77.0.2/24).  QEMU
# opens /dev/vhost-accel and binds it to the NIC for the guest's MAC with
# VHOST_ACCEL_SET_NIC.  Checked, as in e2e_qemu.sh's accel mode: ping both
# ways, iperf3 TCP both ways, the device QEMU owns counted that traffic
# with nothing copied and nicsim's counters agree; and no macvtap or tap
# exists, nor does QEMU hold one open.  Before that, three setups QEMU must
# refuse at start with a clear message.
#
# Not in selftests/tests.list (the QEMU build takes tens of minutes):
# `make check-qemu` builds QEMU and runs this with selftests/e2e/qemu.list.
# E2E_QEMU defaults to the binary `make qemu` built last
# (build/qemu-accel/current); lib.sh's other E2E_* variables apply.

set -u

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJ_DIR=$(cd "$SELF_DIR/../.." && pwd)
: "${E2E_QEMU:=$PROJ_DIR/build/qemu-accel/current/prefix/bin/qemu-system-x86_64}"
# The nested boot under a loaded 2-core host can pass 220 s.
: "${E2E_BOOT_TIMEOUT:=330}"
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

NIC=e2epnic
NS=e2e-patched
# 3 refusals, 6 common cases, 4 counter cases, 2 no-tap cases.
PLAN=15

cleanup() {
	kill_qemu
	ip link del "$NIC" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

near() { [ $(($1 - $2)) -le 10 ] && [ $(($2 - $1)) -le 10 ]; }
nic_agrees() { near "$nic_tx" "$tx_p" && near "$nic_rx" "$rx_p"; }

# refused NAME NETDEV PATTERN: QEMU with NETDEV exits non-zero at once
# and its message matches PATTERN.
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

TPUT_accel_TX=0 TPUT_accel_RX=0
e2e_require "$PLAN" "$QEMU" iperf3 ethtool

ip link add "$NIC" type nicsim && ip link set "$NIC" up &&
	setup_peer_ns "$NS" "${NIC}p" ||
	echo "# setup of $NIC and $NS failed"

"$QEMU" -netdev help | diag
refused "no such interface" "vhost-accel,id=n0,ifname=e2enonexist" \
	"no such interface"
refused "not a vhost-accel device" \
	"vhost-accel,id=n0,ifname=lo,vhostdev=/dev/vhost-net" \
	"is not a vhost-accel device"
refused "queues out of range" "vhost-accel,id=n0,ifname=lo,queues=0" \
	"out of range"

if run_guest accel "$NS" "vhost-accel,id=n0,ifname=$NIC"; then
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
		check "accel: tx counters ($tx_p packets, $tx_b bytes)" \
			test "$tx_p" -ge 100 -a "$tx_b" -ge 500000
		check "accel: rx counters ($rx_p packets, $rx_b bytes)" \
			test "$rx_p" -ge 100 -a "$rx_b" -ge 500000
		check "accel: bytes_copied 0 ($copied)" test "$copied" -eq 0
		nic_tx=$(ethtool_of "$NIC" tx_packets)
		nic_rx=$(ethtool_of "$NIC" rx_packets)
		echo "# nicsim qp tx_packets $nic_tx rx_packets $nic_rx"
		check "accel: nicsim agrees" nic_agrees
	fi
	check "accel: no macvtap or tap exists" no_tap_links
	check "accel: qemu holds /dev/vhost-accel and no tap" qemu_fds_ok "$QPID"
	kill_qemu
else
	# Where QEMU and the device are: a hang in an ioctl or a slow boot.
	if [ -n "$QPID" ]; then
		echo "# qemu state: $(awk '{ print $3 }' "/proc/$QPID/stat" 2>/dev/null)" \
			"wchan $(cat "/proc/$QPID/wchan" 2>/dev/null)"
		diag <"/proc/$QPID/stack" 2>/dev/null
		for st in "$DBG"/*/stats; do
			[ -r "$st" ] && diag <"$st"
		done
	fi
	for c in "tx counters" "rx counters" "bytes_copied 0" "nicsim agrees" \
		 "no macvtap or tap exists" "qemu holds /dev/vhost-accel"; do
		nok "accel: $c # guest did not come up"
	done
	kill_qemu
fi
while [ $n -lt $PLAN ]; do
	nok "case not reached"
done

echo "# throughput (Mbit/s, nested TCG, patched QEMU)  guest->peer  peer->guest"
printf '# vhost-accel netdev (nicsim, no tap)           %11s  %11s\n' \
	"$TPUT_accel_TX" "$TPUT_accel_RX"
echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
