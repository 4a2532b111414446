#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo's real-guest part (make demo, Documentation/demo.rst): the
# second-level Linux guest of the e2e tests (selftests/e2e/lib.sh, l2-init:
# the Debian kernel's virtio_net, busybox, iperf3), started by unmodified
# QEMU inside the test VM, once per backend:
#   vhost-accel  nicsim NIC + macvtap on it,
#                -netdev tap,fd=<macvtap>,vhost=on,vhostfd=</dev/vhost-accel>
#   vhost-net    veth + macvtap on it,
#                -netdev tap,fd=<macvtap>,vhost=on,vhostfd=</dev/vhost-net>
# The far end of the guest's wire is in a network namespace.  Both guests
# boot at once (E2E_BOOT_TIMEOUT, default 600 s, bounds both); then, one
# guest at a time: ping both ways, iperf3 TCP both ways (Mbit/s), iperf3
# UDP with 64-byte datagrams both ways (datagrams received per second,
# and loss); then one table with both backends and the vhost-accel device's counters (debugfs:
# QEMU owns the fd).  TAP; exit 1 if any case failed.
#
# Run from selftests/demo/build (the VM runner does) after make -C
# selftests/demo, which builds selftests/build/e2e/ (lib.sh, the guest's
# initramfs).  lib.sh's E2E_* variables apply.

set -u

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

NIC=demonic
NS_ACCEL=demo-accel
NS_REF=demo-ref
MV_ACCEL=demomv0
MV_REF=demomv1
VETH=demove0
# Per backend: 6 cases of run_guest, 2 UDP; vhost-accel adds its counters.
PLAN=17
T0=$SECONDS

# Both guests boot at once: each nested QEMU is one TCG thread and the
# test VM has two vCPUs, so that halves the longest part of the demo.
# The traffic runs one guest at a time, the other one idle or gone.
export E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600}
BOOT_TIMEOUT=$E2E_BOOT_TIMEOUT
PID_accel='' PID_ref='' CON_accel='' CON_ref=''

cleanup() {
	QPID=$PID_accel
	kill_qemu
	QPID=$PID_ref
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

# udp_cases MODE NS: UDP both ways; sets UDP_<MODE>_TX/_RX ("PPS LOST TOTAL")
udp_cases() {
	local mode=$1 ns=$2 tx rx
	tx=$(iperf_udp "$ns" -R)
	check "$mode: UDP 64 B guest->peer ${tx:-?} (pps lost total)" test -n "$tx"
	rx=$(iperf_udp "$ns")
	check "$mode: UDP 64 B peer->guest ${rx:-?} (pps lost total)" test -n "$rx"
	eval "UDP_${mode}_TX=\${tx:-} UDP_${mode}_RX=\${rx:-}"
}

# not_reached MODE CASE...: the cases a backend that did not come up misses
not_reached() {
	local mode=$1
	shift
	for c in "$@"; do
		nok "$mode: $c # not reached"
	done
}

# accel_counters: the device's counters before QEMU goes, in ACCEL_STATS
accel_counters() {
	local f copied
	f=$(accel_stats_file "$PID_accel")
	if [ -z "$f" ]; then
		nok "accel: counters # no debugfs stats owned by pid $PID_accel"
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

# boot MODE TAPDEV VHOSTDEV: start_qemu, PID_<MODE> and CON_<MODE> kept
boot() {
	start_qemu "$1" tap,id=n0,fd=3,vhost=on,vhostfd=4 "$2" "$3"
	eval "PID_$1=\$QPID CON_$1=\$CON"
	QPID=''
}

# started MODE: case "qemu started" (QEMU still runs a second later)
started() {
	local pid
	eval "pid=\$PID_$1"
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		ok "$1: qemu started"
		return 0
	fi
	[ -z "$pid" ] || diag <"$WORK/qemu-$1.log"
	nok "$1: qemu started"
	eval "PID_$1=''"
	return 1
}

# ready MODE: case "guest ready" (lib.sh's wait_ready on its console)
ready() {
	local pid
	eval "pid=\$PID_$1 CON=\$CON_$1"
	if wait_ready "$pid"; then
		ok "$1: guest ready"
		return 0
	fi
	diag <"$CON"
	diag <"$WORK/qemu-$1.log"
	nok "$1: guest ready"
	return 1
}

# finish MODE: stop that guest's QEMU
finish() {
	eval "QPID=\$PID_$1"
	kill_qemu
	eval "PID_$1=''"
}

e2e_require "$PLAN" "$QEMU" iperf3 ethtool

TPUT_accel_TX=0 TPUT_accel_RX=0 TPUT_ref_TX=0 TPUT_ref_RX=0
UDP_accel_TX='' UDP_accel_RX='' UDP_ref_TX='' UDP_ref_RX=''
ACCEL_STATS='' NIC_STATS=''
CHECKS=("guest pings peer" "peer pings guest" "iperf3 guest->peer"
	"iperf3 peer->guest" "UDP guest->peer" "UDP peer->guest")

# vhost-accel: nicsim + macvtap + /dev/vhost-accel
accel_tap=''
if ip link add "$NIC" type nicsim && ip link set "$NIC" up &&
   setup_peer_ns "$NS_ACCEL" "${NIC}p"; then
	accel_tap=$(macvtap "$MV_ACCEL" "$NIC")
fi
# vhost-net: veth + macvtap + /dev/vhost-net
ref_tap=''
if ip link add "$VETH" type veth peer name "${VETH}p" &&
   ip link set "$VETH" up && setup_peer_ns "$NS_REF" "${VETH}p"; then
	ref_tap=$(macvtap "$MV_REF" "$VETH")
fi

echo "# booting both guests (nested TCG: 2-6 minutes)"
T_BOOT=$SECONDS
[ -z "$accel_tap" ] || boot accel "$accel_tap" /dev/vhost-accel
[ -z "$ref_tap" ] || boot ref "$ref_tap" /dev/vhost-net
sleep 1
up_accel=0 up_ref=0
started accel && up_accel=1
started ref && up_ref=1
if ((up_accel)); then ready accel || up_accel=0; else nok "accel: guest ready # not started"; fi
# One boot budget for both: the second guest booted alongside the first.
BOOT_TIMEOUT=$((E2E_BOOT_TIMEOUT - (SECONDS - T_BOOT)))
[ "$BOOT_TIMEOUT" -ge 10 ] || BOOT_TIMEOUT=10
if ((up_ref)); then ready ref || up_ref=0; else nok "ref: guest ready # not started"; fi
echo "# guests booted at $((SECONDS - T0)) s"

# ---- vhost-accel
if ((up_accel)); then
	CON=$CON_accel
	guest_checks accel "$NS_ACCEL"
	udp_cases accel "$NS_ACCEL"
	accel_counters
else
	not_reached accel "${CHECKS[@]}" "counters"
fi
finish accel
echo "# vhost-accel done at $((SECONDS - T0)) s"

# ---- reference
if ((up_ref)); then
	CON=$CON_ref
	guest_checks ref "$NS_REF"
	udp_cases ref "$NS_REF"
else
	not_reached ref "${CHECKS[@]}"
fi
finish ref
while [ $n -lt $PLAN ]; do
	nok "case not reached"
done

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
if [ -n "$ACCEL_STATS" ]; then
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
fi
echo "# demo_guest: $((n - failed)) passed, $failed failed in $((SECONDS - T0)) s"
[ $failed -eq 0 ]
