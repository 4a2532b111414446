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
# E2E_BOOT_TIMEOUT (default 220 s; a boot takes 120-170 s) bounds each
# nested boot, E2E_IPERF_TIME (default 4 s) each iperf3 run.

set -u

KVER=$(uname -r)
VMLINUZ=/boot/vmlinuz-$KVER
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INITRD=${E2E_INITRD:-$SELF_DIR/e2e/l2-initramfs.cpio}
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-220}
IPERF_TIME=${E2E_IPERF_TIME:-4}
MAC=52:54:00:77:00:02
GUEST=10.77.0.2
PEER=10.77.0.1
NIC=e2enic
NS_ACCEL=e2e-accel
NS_REF=e2e-ref
MV_ACCEL=e2emv0
MV_REF=e2emv1
VETH=e2eve0
DBG=/sys/kernel/debug/vhost-accel
WORK=$(mktemp -d /tmp/e2e.XXXXXX)
# Per mode: 6 common cases; accel adds 4 counter cases.
PLAN=16

n=0
failed=0
QPID=
ok() { n=$((n + 1)); echo "ok $n $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP ${2:-}"; }
diag() { sed 's/^/# /'; }
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}

kill_qemu() {
	[ -n "$QPID" ] || return 0
	kill -TERM "$QPID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	QPID=
}

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

# stat FILE KEY: one value of a "key value" stats file (0 when absent)
stat_of() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1" 2>/dev/null
}

# ethtool -S NAME KEY
ethtool_of() {
	ethtool -S "$1" 2>/dev/null |
		awk -v k="$2:" '$1 == k { v = $2 } END { print v + 0 }'
}

# The debugfs stats of the vhost-accel device QEMU (QPID) owns.
accel_stats_file() {
	local f
	for f in "$DBG"/*/stats; do
		[ -r "$f" ] || continue
		[ "$(stat_of "$f" owner_pid)" = "$QPID" ] && { echo "$f"; return 0; }
	done
	return 1
}

# start_qemu MODE TAPDEV VHOSTDEV: QEMU in the background, console to a file
start_qemu() {
	local mode=$1 tap=$2 vhost=$3
	CON=$WORK/console-$mode
	: >"$CON"
	# The fds are redirections of QEMU alone: this shell keeps none open.
	# shellcheck disable=SC2054  # the commas are QEMU's
	qemu-system-x86_64 -M pc -accel tcg -cpu max -smp 1 -m 256 \
		-nodefaults -display none -no-reboot \
		-kernel "$VMLINUZ" -initrd "$INITRD" \
		-append "console=ttyS0 quiet panic=-1 e2e.ip=$GUEST/24 e2e.peer=$PEER" \
		-chardev "file,id=con,path=$CON" -serial chardev:con \
		-netdev tap,id=n0,fd=3,vhost=on,vhostfd=4 \
		-device "virtio-net-pci,netdev=n0,mac=$MAC" \
		3<>"$tap" 4<>"$vhost" >"$WORK/qemu-$mode.log" 2>&1 &
	QPID=$!
}

# Wait for "E2E: ready" on the console, at most BOOT_TIMEOUT s.
wait_ready() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$BOOT_TIMEOUT" ]; do
		grep -q '^E2E: ready' "$CON" 2>/dev/null && {
			echo "# guest ready after $((SECONDS - t0)) s"
			return 0
		}
		kill -0 "$QPID" 2>/dev/null || { echo "# qemu exited"; return 1; }
		sleep 1
	done
	echo "# no readiness after ${BOOT_TIMEOUT} s"
	return 1
}

# iperf NS ARGS...: Mbit/s the receiver reported, "" on failure
iperf_mbps() {
	local ns=$1 out try
	shift
	# Refused: the guest restarts its server after each test (l2-init).
	for try in 1 2 3 4 5; do
		out=$(timeout $((IPERF_TIME + 40)) ip netns exec "$ns" \
			iperf3 -c "$GUEST" -t "$IPERF_TIME" -f m \
			--connect-timeout 10000 "$@" 2>&1)
		grep -q 'Connection refused' <<<"$out" || break
		echo "# iperf3: connection refused, try $try" >&2
		sleep 2
	done
	diag <<<"$out" >&2
	awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i }
	     END { if (v != "") print v }' <<<"$out"
}

# pad FIRST COUNT TEXT: failed cases up to FIRST + COUNT
pad() {
	while [ $n -lt $(($1 + $2)) ]; do
		nok "$3"
	done
}

# near A B: within 10 of each other
near() { [ $(($1 - $2)) -le 10 ] && [ $(($2 - $1)) -le 10 ]; }

nic_agrees() {
	near "$nic_tx" "$tx_p" && near "$nic_rx" "$rx_p" && [ "$mv_pk" -lt 100 ]
}

positive() { awk -v v="${1:-0}" 'BEGIN { exit !(v > 0) }'; }

# run_guest MODE NS TAPDEV VHOSTDEV: the six common cases; sets
# TPUT_<MODE>_TX (guest->peer) and TPUT_<MODE>_RX (peer->guest)
run_guest() {
	local mode=$1 ns=$2 tap=$3 vhost=$4 tx rx first=$n
	start_qemu "$mode" "$tap" "$vhost"
	sleep 1
	if ! kill -0 "$QPID" 2>/dev/null; then
		diag <"$WORK/qemu-$mode.log"
		nok "$mode: qemu started"
		QPID=
		pad "$first" 6 "$mode: not reached"
		return 1
	fi
	ok "$mode: qemu started"
	if ! wait_ready; then
		diag <"$CON"
		diag <"$WORK/qemu-$mode.log"
		nok "$mode: guest ready"
		pad "$first" 6 "$mode: not reached"
		return 1
	fi
	ok "$mode: guest ready"
	grep '^E2E:' "$CON" | diag
	check "$mode: guest pings peer" grep -q '^E2E: ping-to-peer ok' "$CON"
	check "$mode: peer pings guest" \
		timeout 60 ip netns exec "$ns" ping -c 3 -w 30 "$GUEST"
	# -R: the guest's server sends
	tx=$(iperf_mbps "$ns" -R)
	check "$mode: iperf3 guest->peer ${tx:-?} Mbit/s" positive "$tx"
	rx=$(iperf_mbps "$ns")
	check "$mode: iperf3 peer->guest ${rx:-?} Mbit/s" positive "$rx"
	eval "TPUT_${mode}_TX=\${tx:-0} TPUT_${mode}_RX=\${rx:-0}"
	return 0
}

setup_peer_ns() {
	local ns=$1 dev=$2
	ip netns add "$ns" &&
	ip link set "$dev" netns "$ns" &&
	ip -n "$ns" addr add "$PEER/24" dev "$dev" &&
	ip -n "$ns" link set lo up &&
	ip -n "$ns" link set "$dev" up
}

# macvtap NAME LOWER: prints /dev/tapN
macvtap() {
	local name=$1 lower=$2
	ip link add link "$lower" name "$name" address "$MAC" type macvtap mode bridge ||
		return 1
	ip link set "$name" up || return 1
	echo "/dev/tap$(cat "/sys/class/net/$name/ifindex")"
}

[ -d "$DBG" ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
for need in qemu-system-x86_64 iperf3 ethtool; do
	command -v "$need" >/dev/null || { echo "1..0 # SKIP no $need"; exit 4; }
done
if [ ! -r "$INITRD" ] || [ ! -r "$VMLINUZ" ]; then
	echo "Bail out! no $INITRD or $VMLINUZ (make selftests builds the first)"
	exit 1
fi

echo "TAP version 13"
echo "1..$PLAN"

built_for=$(cat "$INITRD.kver" 2>/dev/null)
if [ "$built_for" != "$KVER" ]; then
	echo "# $INITRD holds modules of ${built_for:-?}, this kernel is $KVER"
	echo "# (make -C selftests E2E_KVER=$KVER)"
	for _ in $(seq "$PLAN"); do
		skip "e2e" "initramfs built for another kernel"
	done
	exit 0
fi

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
elif run_guest accel "$NS_ACCEL" "$accel_tap" /dev/vhost-accel; then
	f=$(accel_stats_file)
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
	run_guest ref "$NS_REF" "$ref_tap" /dev/vhost-net
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
