#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nicsim's engines: the module parameter "engines" (visible, writable,
# clamped to 1-16, read when a NIC is created), that many engine kthreads
# per NIC ("nicsim/NAME", then "nicsim/NAME/N") with the thread ids and
# queue-pair counts that debugfs "engines" lists, traffic between the host
# stack and the wire with several engines (every frame counted), NIC
# deletion and rmmod with several engines (every thread gone), insmod with
# engines= given.  Queue-pair traffic over several engines: the
# nicsim_engines2 variants of datapath_steer and datapath_multiqueue.
# The parameter poll_us: engines polling after a pass, stopped by rmmod.
# Puts the parameter back as it found it.  Prints kselftest TAP and exits
# non-zero if a case failed.  Needs root, ip, ping (or busybox).
# Addresses: 10.99.2.0/24 only.
#
# NICSIM_KO=path: nicsim.ko to load again after the rmmod case (default:
# found upwards from this script).

set -u

N0=nse0
N1=nse1
NS=nicsim-engines
DBG=/sys/kernel/debug/nicsim
PARAM=/sys/module/nicsim/parameters/engines
POLL=/sys/module/nicsim/parameters/poll_us
PLAN=14

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tap.sh"

cleanup() {
	local i
	for i in $N0 $N1 nse2 nse3; do
		ip link del "$i" 2>/dev/null
	done
	ip netns del $NS 2>/dev/null
}

# threads NAME: kthreads named nicsim/NAME or nicsim/NAME/<n>, one a line
threads() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		case $c in
		"nicsim/$1" | "nicsim/$1/"[0-9]*) echo "${p#/proc/} $c" ;;
		esac
	done
}

nthreads() { threads "$1" | wc -l; }

param_visible() {
	local v
	ls -l $PARAM && [ -w $PARAM ] &&
	v=$(cat $PARAM) && [ "$v" -ge 1 ] && [ "$v" -le 16 ]
}

param_clamped() {
	echo 0 >$PARAM && [ "$(cat $PARAM)" = 1 ] &&
	echo 99 >$PARAM && [ "$(cat $PARAM)" = 16 ] &&
	echo 3 >$PARAM && [ "$(cat $PARAM)" = 3 ] &&
	! echo x >$PARAM 2>/dev/null && [ "$(cat $PARAM)" = 3 ]
}

# engines_match NAME N: debugfs says N engines, each id a thread of that
# name, N threads in all
engines_match() {
	local first id pid qps want
	cat $DBG/"$1"/engines
	threads "$1"
	first=$(head -n 1 $DBG/"$1"/engines)
	[ "$first" = "$2 engines" ] || return 1
	while read -r id pid qps; do
		want="nicsim/$1"
		[ "$id" = 0 ] || want="nicsim/$1/$id"
		[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$want" ] || return 1
		[ "$qps" = 0 ] || return 1
	done < <(tail -n +2 $DBG/"$1"/engines)
	[ "$(tail -n +2 $DBG/"$1"/engines | wc -l)" = "$2" ] &&
	[ "$(nthreads "$1")" = "$2" ]
}

one_engine() {
	echo 1 >$PARAM && ip link add $N0 type nicsim && engines_match $N0 1
}

four_engines() {
	echo 4 >$PARAM && ip link add $N1 type nicsim && engines_match $N1 4
}

# the parameter counts at creation only
read_at_create() {
	echo 2 >$PARAM && engines_match $N1 4 && engines_match $N0 1
}

setup() {
	ip netns add $NS &&
	ip link set ${N1}p netns $NS &&
	ip -n $NS addr add 10.99.2.1/24 dev ${N1}p &&
	ip -n $NS link set ${N1}p up &&
	ip addr add 10.99.2.2/24 dev $N1 &&
	ip link set $N1 up &&
	wait_for 5 grep -qx 1 /sys/class/net/$N1/carrier
}

# 200 pings through a NIC of 4 engines: all answered, the host port and the
# wire count every frame the engines handed over
ping_counted() {
	local rx0 rx1 prx0 prx1 out
	rx0=$(cat /sys/class/net/$N1/statistics/rx_packets)
	prx0=$(ip netns exec $NS cat /sys/class/net/${N1}p/statistics/rx_packets)
	out=$("${PING[@]}" -c 200 -i 0.01 -w 30 10.99.2.1 2>&1)
	rx1=$(cat /sys/class/net/$N1/statistics/rx_packets)
	prx1=$(ip netns exec $NS cat /sys/class/net/${N1}p/statistics/rx_packets)
	grep -E 'transmitted' <<<"$out"
	echo "$N1 rx +$((rx1 - rx0)), ${N1}p rx +$((prx1 - prx0))"
	grep -q ' 200 received\| 200 packets received' <<<"$out" &&
	[ $((rx1 - rx0)) -ge 200 ] && [ $((prx1 - prx0)) -ge 200 ]
}

# debugfs knobs still work with several engines
knobs() {
	echo 200 >$DBG/$N1/completion_delay_us &&
	"${PING[@]}" -c 3 -i 0.1 -w 10 10.99.2.1 >/dev/null 2>&1 &&
	echo 0 >$DBG/$N1/completion_delay_us &&
	echo 0 >$DBG/$N1/link && ! "${PING[@]}" -c 1 -w 2 10.99.2.1 >/dev/null 2>&1 &&
	echo 1 >$DBG/$N1/link &&
	wait_for 5 grep -qx 1 /sys/class/net/$N1/carrier &&
	"${PING[@]}" -c 2 -w 6 10.99.2.1 >/dev/null 2>&1 &&
	echo 1 >$DBG/$N1/reset_qps
}

# poll_us: visible, writable (0644), 0 by default; with 1000 the engines
# poll after each pass and frames still flow; left at 1000 for rmmod to
# stop polling engines.  What polling saves is measured by make bench's
# latency rows, not here: engine time around a few pings varies by more
# than the polling adds (a first version of this case compared it, and
# failed on 6.12 with less engine time when polling).
poll_engines() {
	ls -l $POLL && [ -w $POLL ] && [ "$(cat $POLL)" = 0 ] &&
	echo 1000 >$POLL && [ "$(cat $POLL)" = 1000 ] &&
	"${PING[@]}" -c 40 -i 0.025 -w 10 10.99.2.1 >/dev/null 2>&1
}

nic_del() {
	ip link del $N1 && [ "$(nthreads $N1)" = 0 ] && [ ! -e $DBG/$N1 ]
}

# rmmod with NICs of 3 engines (one up, one down): threads and NICs gone
rmmod_engines() {
	echo 3 >$PARAM &&
	ip link add nse2 type nicsim && ip link add nse3 type nicsim &&
	ip link set nse2 up && ip link set nse2p up &&
	[ "$(nthreads nse2)" = 3 ] && [ "$(nthreads nse3)" = 3 ] &&
	ip link del $N0 && rmmod nicsim &&
	[ "$(nthreads nse2)" = 0 ] && [ "$(nthreads nse3)" = 0 ] &&
	! ip link show nse2 >/dev/null 2>&1 && [ ! -e $DBG ]
}

# insmod engines=99: clamped like a write
insmod_param() {
	local ko
	ko=$(nicsim_ko)
	[ -n "$ko" ] || { echo "nicsim.ko not found"; return 1; }
	insmod "$ko" engines=99 && [ "$(cat $PARAM)" = 16 ] &&
	ip link add $N0 type nicsim && engines_match $N0 16 &&
	ip link del $N0
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
ORIG=$(cat $PARAM 2>/dev/null || echo 1)

t "parameter engines visible, 0644, 1-16" param_visible
t "parameter clamped: 0 -> 1, 99 -> 16, not a number refused" param_clamped
t "engines=1: one thread nicsim/$N0" one_engine
t "engines=4: nicsim/$N1, nicsim/$N1/1..3, debugfs engines" four_engines
t "parameter read at creation only" read_at_create
t "$N1 (4 engines): peer in a netns, up" setup
t "200 pings over 4 engines, every frame counted" ping_counted
t "completion_delay_us, link, reset_qps with 4 engines" knobs
t "poll_us visible, 0, writable; 1000: 40 pings answered" poll_engines
t "delete the NIC: its 4 threads gone" nic_del
t "rmmod with NICs of 3 engines: all threads gone" rmmod_engines
t "insmod engines=99: clamped to 16, 16 threads" insmod_param
t "$N0 gone" bash -c "! ip link show $N0 2>/dev/null"
echo "$ORIG" >$PARAM
t "parameter put back to $ORIG" grep -qx "$ORIG" $PARAM

cleanup
[ $failed -eq 0 ] || exit 1
exit 0
