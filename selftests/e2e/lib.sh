# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by e2e.sh, the nested end-to-end test that the e2e_*.sh entries
# of the tests lists and the demo's demo_guest.sh run: TAP output, the
# second-level guest (the Debian kernel and the initramfs that
# mkinitramfs.sh builds, see l2-init) started by QEMU, and the peer side
# (a network namespace holding the far end of the guest's wire).
# Source it after setting SELF_DIR to the directory holding e2e/.
#
# E2E_QEMU (default qemu-system-x86_64) is the QEMU binary,
# E2E_BOOT_TIMEOUT (default 220 s; a boot takes 120-170 s) bounds each
# nested boot (times VG_TIME_SCALE, which a debug kernel's run sets),
# E2E_IPERF_TIME (default 4 s) each iperf3 run.
#
# The nested guest boots the Debian kernel its initramfs was built for
# (l2-initramfs.cpio.kver), whatever kernel runs the test: under
# `make check-debug` the host side is the debug kernel, the guest stays
# the Debian one.

INITRD=${E2E_INITRD:-$SELF_DIR/e2e/l2-initramfs.cpio}
L2_KVER=$(cat "$INITRD.kver" 2>/dev/null)
VMLINUZ=/boot/vmlinuz-${L2_KVER:-$(uname -r)}
QEMU=${E2E_QEMU:-qemu-system-x86_64}
BOOT_TIMEOUT=$((${E2E_BOOT_TIMEOUT:-220} * ${VG_TIME_SCALE:-1}))
IPERF_TIME=${E2E_IPERF_TIME:-4}
MAC=52:54:00:77:00:02
GUEST=10.77.0.2
PEER=10.77.0.1
DBG=/sys/kernel/debug/vhost-accel
WORK=$(mktemp -d /tmp/e2e.XXXXXX)

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

# pad FIRST COUNT TEXT: failed cases up to FIRST + COUNT
pad() {
	while [ $n -lt $(($1 + $2)) ]; do
		nok "$3"
	done
}

positive() { awk -v v="${1:-0}" 'BEGIN { exit !(v > 0) }'; }

# stop_pid PID: SIGTERM, at most 5 s to go, then SIGKILL; reaped
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

kill_qemu() {
	[ -n "$QPID" ] || return 0
	stop_pid "$QPID"
	QPID=
}

# stat FILE KEY: one value of a "key value" stats file (0 when absent)
stat_of() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1" 2>/dev/null
}

# ethtool -S NAME KEY
ethtool_of() {
	ethtool -S "$1" 2>/dev/null |
		awk -v k="$2:" '$1 == k { v = $2 } END { print v + 0 }'
}

# accel_stats_file PID: the debugfs stats of the vhost-accel device PID
# owns (QEMU owns the fd, so its counters are read there).
accel_stats_file() {
	local f
	for f in "$DBG"/*/stats; do
		[ -r "$f" ] || continue
		[ "$(stat_of "$f" owner_pid)" = "$1" ] && { echo "$f"; return 0; }
	done
	return 1
}

# guest_cmdline: the kernel command line l2-init reads: one interface
# (GUEST, PEER), or those of E2E_IFS ("MAC,ADDR/LEN,PEER ...") if set
guest_cmdline() {
	local spec ifs=''
	for spec in ${E2E_IFS:-}; do
		ifs="$ifs e2e.if=$spec"
	done
	[ -n "$ifs" ] || ifs=" e2e.ip=$GUEST/24 e2e.peer=$PEER"
	echo "console=ttyS0 quiet panic=-1$ifs"
}

# start_qemu MODE NETDEV [TAPDEV VHOSTDEV [NETDEV1 MAC1 TAPDEV1 VHOSTDEV1]]:
# QEMU in the background with -netdev NETDEV (id n0, MAC), console to
# $WORK/console-MODE (CON).  With TAPDEV and VHOSTDEV, they are QEMU's
# fds 3 and 4 (NETDEV then says fd=3,vhostfd=4; "-" for /dev/null, a tap
# QEMU opens by ifname=); a second NIC (id n1, MAC1) has fds 5 and 6.
# The fds are redirections of QEMU alone, this shell keeps none open.
start_qemu() {
	local mode=$1 netdev=$2 tap=${3:-/dev/null} vhost=${4:-/dev/null}
	local tap1=${7:-/dev/null} vhost1=${8:-/dev/null} second=()
	[ "$tap" != - ] || tap=/dev/null
	[ "$tap1" != - ] || tap1=/dev/null
	# shellcheck disable=SC2054  # the commas are QEMU's
	[ $# -lt 6 ] || second=(-netdev "$5" -device "virtio-net-pci,netdev=n1,mac=$6")
	CON=$WORK/console-$mode
	: >"$CON"
	# -name: the guest's name as libvirt passes it (vhost-accel-stat)
	# shellcheck disable=SC2054  # the commas are QEMU's
	"$QEMU" -M pc -accel tcg -cpu max -smp 1 -m 256 \
		-nodefaults -display none -no-reboot \
		-name "guest=e2e-$mode,debug-threads=on" \
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$(guest_cmdline)" \
		-chardev "file,id=con,path=$CON" -serial chardev:con \
		-netdev "$netdev" -device "virtio-net-pci,netdev=n0,mac=$MAC" \
		"${second[@]}" \
		3<>"$tap" 4<>"$vhost" 5<>"$tap1" 6<>"$vhost1" \
		>"$WORK/qemu-$mode.log" 2>&1 &
	QPID=$!
}

# wait_ready [PID]: wait for "E2E: ready" on CON while PID (default QPID)
# lives, at most BOOT_TIMEOUT s.
wait_ready() {
	local t0=$SECONDS pid=${1:-$QPID}
	while [ $((SECONDS - t0)) -lt "$BOOT_TIMEOUT" ]; do
		grep -q '^E2E: ready' "$CON" 2>/dev/null && {
			echo "# guest ready after $((SECONDS - t0)) s"
			return 0
		}
		kill -0 "$pid" 2>/dev/null || { echo "# qemu exited"; return 1; }
		sleep 1
	done
	echo "# no readiness after ${BOOT_TIMEOUT} s"
	return 1
}

# iperf_out NS ARGS...: the output of iperf3 -c TARGET (default GUEST)
# ARGS in NS, for E2E_IPERF_TIME s, also as diagnostics on stderr; tried
# again while the connection is refused (the guest restarts its server
# after each test, l2-init).
iperf_out() {
	local ns=$1 out try
	shift
	for try in 1 2 3 4 5; do
		out=$(timeout $((IPERF_TIME + 40)) ip netns exec "$ns" \
			iperf3 -c "${TARGET:-$GUEST}" -t "$IPERF_TIME" \
			--connect-timeout 10000 "$@" 2>&1)
		grep -q 'Connection refused' <<<"$out" || break
		echo "# iperf3: connection refused, try $try" >&2
		sleep 2
	done
	diag <<<"$out" >&2
	printf '%s\n' "$out"
}

# iperf_mbps NS ARGS...: Mbit/s the receiver reported, "" on failure
iperf_mbps() {
	iperf_out "$@" -f m |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i }
		     END { if (v != "") print v }'
}

# guest_checks MODE NS [GUEST-ADDR PEER-ADDR]: the four traffic cases once
# the guest is ready, between the guest's address (default GUEST) and the
# peer's (default PEER) in NS; sets TPUT_<MODE>_TX (guest->peer) and
# TPUT_<MODE>_RX (peer->guest), MODE's characters other than letters,
# digits and _ read as _
guest_checks() {
	local mode=$1 ns=$2 tx rx var
	local TARGET=${3:-$GUEST} peer=${4:-$PEER}
	grep '^E2E:' "$CON" | diag
	# (the console's lines end in \r\n)
	check "$mode: guest pings peer" \
		grep -Eq "^E2E: ping-to-peer ok ${peer//./\\.}([^0-9]|\$)" "$CON"
	check "$mode: peer pings guest" \
		timeout 60 ip netns exec "$ns" ping -c 3 -w 30 "$TARGET"
	# -R: the guest's server sends
	tx=$(iperf_mbps "$ns" -R)
	check "$mode: iperf3 guest->peer ${tx:-?} Mbit/s" positive "$tx"
	rx=$(iperf_mbps "$ns")
	check "$mode: iperf3 peer->guest ${rx:-?} Mbit/s" positive "$rx"
	var=${mode//[^A-Za-z0-9_]/_}
	eval "TPUT_${var}_TX=\${tx:-0} TPUT_${var}_RX=\${rx:-0}"
}

# run_guest MODE NS NETDEV [TAPDEV VHOSTDEV]: start_qemu, then the six
# common cases (started, ready, guest_checks)
run_guest() {
	local mode=$1 ns=$2 first=$n
	shift 2
	start_qemu "$mode" "$@"
	sleep 1
	if ! kill -0 "$QPID" 2>/dev/null; then
		diag <"$WORK/qemu-$mode.log"
		nok "$mode: qemu started"
		QPID=
		pad "$first" 6 "$mode: not reached"
		return 1
	fi
	ok "$mode: qemu started"
	if ! wait_ready "$QPID"; then
		diag <"$CON"
		diag <"$WORK/qemu-$mode.log"
		nok "$mode: guest ready"
		pad "$first" 6 "$mode: not reached"
		return 1
	fi
	ok "$mode: guest ready"
	guest_checks "$mode" "$ns"
	return 0
}

# setup_peer_ns NS DEV [ADDR]: DEV into a new namespace NS, with address
# ADDR (default PEER) /24
setup_peer_ns() {
	local ns=$1 dev=$2 addr=${3:-$PEER}
	ip netns add "$ns" &&
	ip link set "$dev" netns "$ns" &&
	ip -n "$ns" addr add "$addr/24" dev "$dev" &&
	ip -n "$ns" link set lo up &&
	ip -n "$ns" link set "$dev" up
}

# macvtap NAME LOWER [MAC]: a macvtap with the guest's MAC (default MAC);
# prints /dev/tapN
macvtap() {
	local name=$1 lower=$2 mac=${3:-$MAC}
	ip link add link "$lower" name "$name" address "$mac" type macvtap mode bridge ||
		return 1
	ip link set "$name" up || return 1
	echo "/dev/tap$(cat "/sys/class/net/$name/ifindex")"
}

# e2e_require PLAN CMD...: exit with a TAP skip when a command is missing,
# bail out without the guest's kernel or initramfs, print the plan.
e2e_require() {
	local plan=$1 need
	shift
	[ -d "$DBG" ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	for need in "$@"; do
		command -v "$need" >/dev/null || { echo "1..0 # SKIP no $need"; exit 4; }
	done
	if [ ! -r "$INITRD" ] || [ ! -r "$VMLINUZ" ]; then
		echo "Bail out! no $INITRD or $VMLINUZ (make selftests builds the first)"
		exit 1
	fi
	echo "TAP version 13"
	echo "1..$plan"
	echo "# nested guest: $VMLINUZ, the test runs on $(uname -r)"
}

# iperf_udp NS ARGS...: a UDP iperf3 run of E2E_UDP_LEN-byte (default 64)
# datagrams at E2E_UDP_RATE (default 0: as fast as the sender can) to the
# guest's server; prints "PPS LOST TOTAL" as the receiver counted them
# (PPS = datagrams received per second), "" on failure.  -R: the guest
# sends.
iperf_udp() {
	iperf_out "$@" -u -l "${E2E_UDP_LEN:-64}" -b "${E2E_UDP_RATE:-0}" |
	awk '/receiver/ {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^-?[0-9]+\/[0-9]+$/) { split($i, a, "/"); lost = a[1]; tot = a[2] }
			if ($i ~ /^[0-9.]+-[0-9.]+$/) { split($i, t, "-"); d = t[2] - t[1] }
		}
		seen = 1
	     }
	     END { if (seen && d > 0 && tot > 0) printf "%d %d %d\n", (tot - lost) / d, lost, tot }'
}

# accel_counter_checks MODE PID NIC [MACVTAP]: the five counter cases of
# the accelerated path for the QEMU process PID: the vhost-accel device it
# owns runs the accelerated datapath (debugfs "datapath accel", and its
# kernel log line says so), moved >= 100 packets and >= 500 000 bytes
# each way (iperf3 moved
# megabytes both ways, even at the 3 Mbit/s a loaded host gives, ping and
# ARP a few hundred bytes; the guest sends TSO frames of up to 64 KiB, so
# count bytes), copied nothing, the queue pair of NIC saw the same packets
# (within 10: stray frames between the two reads) and MACVTAP's own queue
# (the copying fallback), if there is one, fewer than 100 packets.  With
# DRIVER (virtio_net_accel) the NIC is no nicsim: its queue pairs' packets
# are its netdev's counters (ip -s link), and the case is "DRIVER agrees".
accel_counter_checks() {
	local mode=$1 pid=$2 nic=$3 mv=${4:-} drv=${5:-nicsim} f tx_p tx_b rx_p rx_b copied nt nr mt mr id
	f=$(accel_stats_file "$pid")
	if [ -z "$f" ]; then
		nok "$mode: datapath accel # no debugfs stats owned by pid $pid"
		nok "$mode: tx counters"
		nok "$mode: rx counters"
		nok "$mode: bytes_copied 0"
		nok "$mode: $drv agrees"
		return 1
	fi
	diag <"$f"
	[ "$drv" != nicsim ] || ethtool -S "$nic" | grep -v ' 0$' | diag
	id=${f%/stats}
	id=${id##*/}
	check "$mode: datapath accel (device $id: $(debugfs_value "$f" datapath))" \
		accel_mode_ok "$f" "$id"
	tx_p=$(stat_of "$f" tx_packets) tx_b=$(stat_of "$f" tx_bytes)
	rx_p=$(stat_of "$f" rx_packets) rx_b=$(stat_of "$f" rx_bytes)
	copied=$(( $(stat_of "$f" tx_bytes_copied) + $(stat_of "$f" rx_bytes_copied) ))
	check "$mode: tx counters ($tx_p packets, $tx_b bytes)" \
		test "$tx_p" -ge 100 -a "$tx_b" -ge 500000
	check "$mode: rx counters ($rx_p packets, $rx_b bytes)" \
		test "$rx_p" -ge 100 -a "$rx_b" -ge 500000
	check "$mode: bytes_copied 0 ($copied)" test "$copied" -eq 0
	if [ "$drv" = nicsim ]; then
		nt=$(ethtool_of "$nic" tx_packets)
		nr=$(ethtool_of "$nic" rx_packets)
	else
		nt=$(cat "/sys/class/net/$nic/statistics/tx_packets")
		nr=$(cat "/sys/class/net/$nic/statistics/rx_packets")
	fi
	# The macvtap the guest was bound through counts its accelerated
	# traffic as if it had passed (ip -s link): the guest's Tx as the
	# macvtap's tx, its Rx as rx, plus the macvtap netdev's own few frames
	# (IPv6 solicitations, under 100).  Without a macvtap, nothing to
	# compare.
	mt=$tx_p mr=$rx_p
	if [ -n "$mv" ]; then
		mt=$(cat "/sys/class/net/$mv/statistics/tx_packets")
		mr=$(cat "/sys/class/net/$mv/statistics/rx_packets")
		echo "# $drv qp tx_packets $nt rx_packets $nr, macvtap tx_packets $mt rx_packets $mr"
	else
		echo "# $drv qp tx_packets $nt rx_packets $nr"
	fi
	check "$mode: $drv agrees" test $((nt - tx_p)) -le 10 -a \
		$((tx_p - nt)) -le 10 -a $((nr - rx_p)) -le 10 -a \
		$((rx_p - nr)) -le 10 -a $((mt - tx_p)) -lt 100 -a \
		$((tx_p - mt)) -le 10 -a $((mr - rx_p)) -lt 100 -a \
		$((rx_p - mr)) -le 10
}

# ---- the copying datapath (e2e.sh --copy)
#
# A QEMU process may own several devices (one per interface), so their
# counters are compared before and after one interface's traffic: the
# device that moved it is the one whose counters grew.

# accel_devs PID: the debugfs directories of the devices PID owns
accel_devs() {
	local f
	for f in "$DBG"/*/stats; do
		[ -r "$f" ] && [ "$(stat_of "$f" owner_pid)" = "$1" ] && echo "${f%/stats}"
	done
}

# counters_snapshot PID NETDEV FILE: "DIR KEY VALUE" of every device PID
# owns, and "NETDEV rx_packets N" / "NETDEV tx_packets N" of the backend's
# link, into FILE
counters_snapshot() {
	local d k
	for d in $(accel_devs "$1"); do
		awk -v d="$d" 'NF == 2 { print d, $1, $2 }' "$d/stats"
	done >"$3"
	for k in rx_packets tx_packets; do
		echo "$2 $k $(cat "/sys/class/net/$2/statistics/$k" 2>/dev/null || echo 0)"
	done >>"$3"
}

# snap_of FILE DIR KEY: one value of a snapshot (0 when absent)
snap_of() {
	awk -v d="$2" -v k="$3" '$1 == d && $2 == k { v = $3 } END { print v + 0 }' "$1"
}

# grown BEFORE AFTER DIR KEY: how much KEY of DIR grew
grown() {
	echo $(( $(snap_of "$2" "$3" "$4") - $(snap_of "$1" "$3" "$4") ))
}

# copy_case_names LABEL: the cases of copy_counter_checks, one a line
copy_case_names() {
	printf "$1: %s\n" "datapath copy" "tx counters" "rx counters" \
		"bytes_copied" "its own device" "backend carried it" "dmesg names copy"
}

# debugfs_value STATS KEY: the rest of the line of debugfs stats STATS
# that starts with KEY ("datapath copy", "copy_backend tun/tap"), "" without
debugfs_value() {
	awk -v k="$2" '$1 == k { sub("^[^ ]+ ", ""); print }' "$1" 2>/dev/null
}

# copy_counter_checks LABEL PID NETDEV KIND BEFORE: the cases of
# copy_case_names for the interface whose traffic ran since the snapshot
# BEFORE (counters_snapshot PID NETDEV BEFORE): the device of PID whose
# packets grew most runs the copying datapath through a KIND backend
# (debugfs "datapath copy", "copy_backend KIND"), moved >= 100 packets and
# >= 100 000 bytes each way (ping and ARP are a few hundred bytes; iperf3
# moved 650 kB guest->peer at 0.59 Mbit/s on a host with load 9, so the
# 500 kB of accel_counter_checks would be near the edge) and copied every
# byte of it (bytes_copied grew as much as bytes); every other device of PID moved fewer than 100 packets
# in that time; the backend's link NETDEV (tap, macvtap) counted >= 100
# packets each way (the frames went through it, the inverse of the
# accelerated case); the kernel log has the device's line "dev ID:
# copying datapath through a KIND".
copy_counter_checks() {
	local l=$1 pid=$2 nd=$3 kind=$4 before=$5 after=$WORK/after d id best='' max=-1 g
	local tx_p tx_b rx_p rx_b tx_c rx_c others=0 nd_rx nd_tx mode backend c
	counters_snapshot "$pid" "$nd" "$after"
	for d in $(accel_devs "$pid"); do
		g=$(( $(grown "$before" "$after" "$d" tx_packets) +
		      $(grown "$before" "$after" "$d" rx_packets) ))
		echo "# $d: $g packets since the snapshot"
		if [ "$g" -gt "$max" ]; then
			[ -z "$best" ] || others=$((others > max ? others : max))
			max=$g best=$d
		else
			others=$((others > g ? others : g))
		fi
	done
	if [ -z "$best" ]; then
		while IFS= read -r c; do
			nok "$c # no debugfs stats owned by pid $pid"
		done < <(copy_case_names "$l")
		return 1
	fi
	diag <"$best/stats"
	id=${best##*/}
	mode=$(debugfs_value "$best/stats" datapath)
	backend=$(debugfs_value "$best/stats" copy_backend)
	tx_p=$(grown "$before" "$after" "$best" tx_packets)
	tx_b=$(grown "$before" "$after" "$best" tx_bytes)
	rx_p=$(grown "$before" "$after" "$best" rx_packets)
	rx_b=$(grown "$before" "$after" "$best" rx_bytes)
	tx_c=$(grown "$before" "$after" "$best" tx_bytes_copied)
	rx_c=$(grown "$before" "$after" "$best" rx_bytes_copied)
	nd_rx=$(grown "$before" "$after" "$nd" rx_packets)
	nd_tx=$(grown "$before" "$after" "$nd" tx_packets)
	check "$l: datapath copy (device $id: ${mode:-?} through ${backend:-?})" \
		test "$mode" = copy -a "$backend" = "$kind"
	check "$l: tx counters ($tx_p packets, $tx_b bytes)" \
		test "$tx_p" -ge 100 -a "$tx_b" -ge 100000
	check "$l: rx counters ($rx_p packets, $rx_b bytes)" \
		test "$rx_p" -ge 100 -a "$rx_b" -ge 100000
	check "$l: bytes_copied (tx $tx_c, rx $rx_c)" \
		test "$tx_c" -eq "$tx_b" -a "$rx_c" -eq "$rx_b" -a "$tx_c" -gt 0
	check "$l: its own device (others moved at most $others packets)" \
		test "$others" -lt 100
	check "$l: backend carried it ($nd rx $nd_rx tx $nd_tx packets)" \
		test "$nd_rx" -ge 100 -a "$nd_tx" -ge 100
	check "$l: dmesg names copy for device $id" \
		dmesg_names_mode "$id" "copying datapath through a $kind"
}

# accel_mode_ok STATS ID: device ID (debugfs STATS) runs the accelerated
# datapath, and the kernel log said so
accel_mode_ok() {
	[ "$(debugfs_value "$1" datapath)" = accel ] &&
		dmesg_names_mode "$2" "accelerated datapath"
}

# dmesg_names_mode ID TEXT: the kernel log's last line on the datapath of
# device ID (one each time it starts moving frames another way) says TEXT
dmesg_names_mode() {
	local line
	line=$(dmesg | grep -F "vhost_accel: dev $1: " | grep datapath | tail -n 1)
	echo "# dmesg: ${line:-no line for dev $1}"
	grep -qF "$2" <<<"$line"
}
