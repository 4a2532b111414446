#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test runner inside the VM (root, chrooted into the host's root by the
# initramfs /init).  Usage: guest-run.sh [RUN_CONF]
#
# Writes TAP to /dev/ttyS1, the results channel that run.sh reads on the
# host; the kernel console (ttyS0) stays free for kernel messages.
#
#   ok/not ok N ...         this runner's own cases (module loads, a test
#                           binary that misbehaved, rmmod, dmesg scan)
#   "    " + line           a test binary's output, its kselftest cases
#                           included: each one is counted by run.sh
#   # vmtest: step NAME S   "the next step takes at most S seconds"; run.sh
#                           kills the VM if it does not move on in time
#   # vmtest: end           everything ran; anything short of it is a failure
#
# No "set -e": a failing step is a test result to report, not a reason to
# stop running the others.

set -uo pipefail

PROJ=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMTEST_ONLY=
VMTEST_TESTS_LIST=$PROJ/selftests/tests.list
VMTEST_TESTS_DIR=$PROJ/selftests/build
VMTEST_MODULES_LIST=$PROJ/selftests/vm/modules.list
VMTEST_TIME_SCALE=1
VMTEST_ENV=
VMTEST_VNIC_WHY=
# shellcheck disable=SC1090
[ -n "${1:-}" ] && [ -r "$1" ] && . "$1"
PROJ=${VMTEST_PROJ:-$PROJ}
# The test binaries stretch their own waits by the same factor (vharness.h).
export VG_TIME_SCALE=$VMTEST_TIME_SCALE
# VM_TEST_ENV of run.sh (checked there: VAR=value words).
for kv in $VMTEST_ENV; do
	export "${kv?}"
done
# Why the VM has no virtio-net NICs (run.sh), for the tests' SKIP reasons.
[ -z "$VMTEST_VNIC_WHY" ] || export VP_VNIC_WHY="$VMTEST_VNIC_WHY"

# In-tree modules the tests use: vhost-net side by side with ours, the
# tap/macvtap/veth plumbing, and virtio_net, which takes both virtio-net
# NICs (run.sh) at boot, before any driver of ours is loaded.
INTREE_MODULES=(tun tap vhost vhost_net macvlan macvtap veth virtio_net bridge)
# Kernel messages that fail the run (the dmesg scan case).
DMESG_BAD='BUG:|WARNING:|Oops|lockup|leak|refcount_t|general protection|Call Trace'
# Taint bits that mean the kernel hit trouble: B bad page (5), D died (7),
# W warning (9), L soft lockup (14).  Unsigned/out-of-tree (E, O) are fine.
TAINT_BAD_MASK=$(((1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))

exec 3>/dev/ttyS1
# Raw: no \r added to every line, no tab expansion.
stty raw -echo -onlcr <&3 2>/dev/null

n=0
tap() { printf '%s\n' "$*" >&3; }
diag() { local l; while IFS= read -r l; do tap "# $l"; done; }
pass() { n=$((n + 1)); tap "ok $n $*"; }
fail() { n=$((n + 1)); tap "not ok $n $*"; }
skip() { n=$((n + 1)); tap "ok $n $1 # SKIP ${2:-}"; }
step() {
	tap "# vmtest: step $1 $2"
	echo "vmtest: $1" >/dev/kmsg 2>/dev/null
}

# run_case NAME LIMIT CMD...: one runner case from one command's status;
# its output becomes TAP diagnostics.
run_case() {
	local name=$1 limit=$2 out rc
	shift 2
	step "$name" "$limit"
	out=$(timeout -k 5 "$limit" "$@" 2>&1 </dev/null)
	rc=$?
	[ -z "$out" ] || diag <<<"$out"
	if [ $rc -eq 0 ]; then
		pass "$name"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		fail "$name # timed out after ${limit}s"
	else
		fail "$name # exit status $rc"
	fi
	return $rc
}

info() {
	tap "# vmtest: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo), uptime $(cut -d' ' -f1 /proc/uptime)s"
	tap "# vmtest: project $PROJ, root $(awk '$2 == "/" { print $3 }' /proc/mounts | tail -n1), RLIMIT_MEMLOCK $(ulimit -l), tainted $(cat /proc/sys/kernel/tainted)"
}

load_intree() {
	local m
	for m in "${INTREE_MODULES[@]}"; do
		run_case "modprobe $m" 60 modprobe "$m"
	done
}

# The virtio-net devices as virtio_net found them: one line each (the
# features file is what the driver and the device agreed on, bit 0 first).
vnic_info() {
	local d bits i hex net pci
	[ -z "$VMTEST_VNIC_WHY" ] || tap "# vmtest: no virtio-net NICs: $VMTEST_VNIC_WHY"
	for d in /sys/bus/virtio/devices/virtio*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x0001 ] || continue
		bits=$(cat "$d/features")
		hex=0
		for ((i = 0; i < ${#bits} && i < 64; i++)); do
			[ "${bits:i:1}" = 1 ] && hex=$((hex | (1 << i)))
		done
		net=
		for net in "$d"/net/*; do break; done
		[ -e "$net" ] && net=${net##*/} || net=
		pci=$(basename "$(readlink -f "$d/..")")
		tap "# vmtest: ${d##*/} ($pci) ${net:-no netdev} $(cat "/sys/class/net/$net/address" 2>/dev/null)" \
		    "$(basename "$(readlink -f "$d/driver")" 2>/dev/null) features $(printf '0x%x' "$hex")"
	done
}

LOADED=()	# our modules that insmod accepted, in load order

# selftests/vm/modules.list: "path [params]"; "?path": an optional module,
# loaded if built (a skip case if not).
load_ours() {
	local path params name optional
	if [ ! -r "$VMTEST_MODULES_LIST" ]; then
		tap "# vmtest: no $VMTEST_MODULES_LIST, no modules of our own"
		return 0
	fi
	while read -r path params; do
		case $path in '' | '#'*) continue ;; esac
		optional=0
		case $path in '?'*) optional=1; path=${path#\?} ;; esac
		case $path in /*) ;; *) path=$PROJ/$path ;; esac
		name=$(basename "$path" .ko)
		name=${name//-/_}
		if [ ! -r "$path" ] && [ $optional = 1 ]; then
			skip "insmod $name" "$path not built"
			continue
		fi
		if [ ! -r "$path" ]; then
			fail "insmod $name # $path missing"
			continue
		fi
		# shellcheck disable=SC2086  # params are words by design
		if run_case "insmod $name" 120 insmod "$path" $params; then
			LOADED+=("$name")
		fi
		# Tests that unload the reference NIC load it again from here
		# (a debug kernel's run has its own build of it).
		if [ "$name" = nicsim ]; then
			export VP_NICSIM_KO=$path NICSIM_KO=$path
		fi
		if [ "$name" = virtio_net_accel ]; then
			export VP_VNIC_KO=$path VP_VIRTIO_NET_ACCEL_KO=$path
		fi
		if [ "$name" = vhost_accel ]; then
			export VP_VHOST_ACCEL_KO=$path
		fi
	done <"$VMTEST_MODULES_LIST"
}

unload_ours() {
	local i
	for ((i = ${#LOADED[@]} - 1; i >= 0; i--)); do
		run_case "rmmod ${LOADED[i]}" 120 rmmod "${LOADED[i]}"
	done
}

# Count what a binary reported, from its captured output: sets CASES, FAILS,
# PLAN.  Only its top level counts (run.sh counts the same lines).
tally() {
	read -r CASES FAILS PLAN < <(awk '
		/^(not )?ok([ \t]|$)/ {
			c++
			if (/^not / && !/#[ \t]*([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo])/) f++
		}
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); p = $1 + 0 }
		END { print c + 0, f + 0, p + 0 }' "$1")
}

# run_test NAME TIMEOUT: one test binary, under timeout, output forwarded
# indented while it runs (so a hang still shows how far it got).
run_test() {
	local name=$1 limit=$2 bin=$VMTEST_TESTS_DIR/$1 out rc tpid fpid why=
	step "test:$name" "$((limit + 15))"
	tap "# selftests: $name (timeout ${limit}s)"
	if [ ! -x "$bin" ]; then
		fail "$name # $bin missing or not executable"
		return 0
	fi
	out=$(mktemp /tmp/vmtest-out.XXXXXX)
	# Output goes to a file, not a pipe: daemons a test leaves behind would
	# keep a pipe open and wedge us.  tail --pid follows it until the test
	# ends.  stdbuf: a killed test's last lines are not lost in its buffer.
	(cd "$(dirname "$bin")" &&
		exec timeout -k 10 "$limit" stdbuf -oL -eL "$bin") >"$out" 2>&1 </dev/null &
	tpid=$!
	tail -s 0.2 --pid=$tpid -n +1 -f "$out" | sed -u 's/^/    /' >&3 &
	fpid=$!
	wait $tpid
	rc=$?
	wait $fpid
	tally "$out"
	rm -f "$out"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		why="timed out after ${limit}s"
	elif [ "$PLAN" -gt 0 ] && [ "$CASES" -lt "$PLAN" ]; then
		why="planned $PLAN cases, reported $CASES (exit status $rc)"
	elif [ "$CASES" -eq 0 ]; then
		# Nothing to count: the binary is the case.
		case $rc in
		0) pass "$name" ;;
		4) skip "$name" "exit status 4 (KSFT_SKIP)" ;;
		*) why="exit status $rc, no TAP cases" ;;
		esac
	elif [ $rc -ne 0 ] && [ $rc -ne 4 ] && [ "$FAILS" -eq 0 ]; then
		why="exit status $rc without a failing case"
	fi
	if [ -n "$why" ] && [ $rc -gt 128 ] && [ $rc -ne 137 ]; then
		why+=" (signal $((rc - 128)))"
	fi
	[ -z "$why" ] || fail "$name # $why"
	tap "# selftests: $name: exit status $rc, $CASES cases, $FAILS failed"
}

run_tests() {
	local name limit rest want
	if [ ! -r "$VMTEST_TESTS_LIST" ]; then
		tap "# vmtest: no $VMTEST_TESTS_LIST, no test binaries to run"
		return 0
	fi
	while read -r name limit rest; do
		case $name in '' | '#'*) continue ;; esac
		if [ -n "$VMTEST_ONLY" ]; then
			want=0
			for o in $VMTEST_ONLY; do [ "$o" = "$name" ] && want=1; done
			[ $want = 1 ] || continue
		fi
		[[ $limit =~ ^[0-9]+$ ]] || {
			fail "$name # bad timeout '$limit' in $VMTEST_TESTS_LIST"
			continue
		}
		run_test "$name" "$((limit * VMTEST_TIME_SCALE))"
	done < <(cat "$VMTEST_TESTS_LIST")
}

scan_dmesg() {
	local bad taint leaks=
	step "dmesg scan" 60
	# Not the command line: "softlockup_panic=1" is no lockup, nor is
	# its echo in the list of parameters passed to init (a kernel without
	# the soft lockup detector, check-debug.sh's), nor kmemleak's banner.
	bad=$(dmesg | grep -avi 'command line' |
		grep -avE '^\[ *[0-9.]+\] +[a-z_]+=[0-9]+$' |
		grep -av 'kmemleak: Kernel memory leak detector' | grep -aE "$DMESG_BAD")
	taint=$(cat /proc/sys/kernel/tainted)
	if [ -e /sys/kernel/debug/kmemleak ]; then
		# Debug kernels only; two scans so fresh objects are not reported.
		echo scan >/sys/kernel/debug/kmemleak
		sleep 1
		echo scan >/sys/kernel/debug/kmemleak
		leaks=$(head -n 200 /sys/kernel/debug/kmemleak)
	fi
	if [ -z "$bad" ] && [ -z "$leaks" ] && [ $((taint & TAINT_BAD_MASK)) -eq 0 ]; then
		pass "dmesg clean"
		return 0
	fi
	[ -z "$bad" ] || diag <<<"$bad"
	[ -z "$leaks" ] || diag <<<"$leaks"
	fail "dmesg clean # kernel complained (tainted=$taint)"
}

tap "TAP version 13"
info
load_intree
vnic_info
load_ours
run_tests
unload_ours
scan_dmesg
tap "# vmtest: end ($n runner cases, uptime $(cut -d' ' -f1 /proc/uptime)s)"
# Closing the port waits until the UART has sent everything.
exec 3>&-
exit 0
