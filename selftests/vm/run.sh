#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the Debian kernel under QEMU with the host's root shared read-only over
# 9p, run the vhost-accel selftests inside (selftests/vm/guest-run.sh), and
# report TAP plus one closing line "N passed, N failed".
#
# Usage: selftests/vm/run.sh --kdir DIR [--timeout SECS] [--build-ok N]
#                            [--moddir DIR] [--only NAME...]
#
# --moddir DIR: the kernel's modules (a lib/modules/<release> directory, e.g.
# from modules_install INSTALL_MOD_PATH=...) instead of the host's
# /lib/modules/<release>; the guest sees it at /lib/modules/<release>.  For
# a self-built kernel (scripts/check-debug.sh), whose bzImage --kdir names.
#
# See Documentation/testing.rst for how it works and for the environment variables.

set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJ=$(cd "$SELF_DIR/../.." && pwd)
BUILD=$PROJ/build/vm
RESULTS_DIR=$PROJ/selftests/results

# The 9p root needs these, in this order (modules.dep adds anything missing).
INITRAMFS_MODULES=(netfs fscache 9pnet virtio_ring virtio virtio_pci_modern_dev
		   virtio_pci_legacy_dev virtio_pci 9pnet_virtio 9p)

KDIR=
MODDIR_ARG=
RUN_TIMEOUT=1200
BUILD_OK=
ONLY=()

: "${VM_ACCEL:=auto}"		# tcg | kvm | auto
: "${VM_ROOT:=overlay}"		# overlay | bind
: "${VM_9P_CACHE:=loose}"	# 9p cache= mode for the host root
: "${VM_BOOT_TIMEOUT:=180}"	# qemu start -> guest-run.sh talking
: "${VM_GRACE:=30}"		# slack on top of each guest-announced step limit
: "${VM_CONSOLE:=0}"		# 1: echo the console live on stderr
: "${VM_APPEND:=}"		# extra kernel command line
: "${VM_TIME_SCALE:=1}"		# test time limits x N (a debug kernel)
: "${VM_TEST_ENV:=}"		# VAR=value words exported to the tests
: "${VM_TESTS_LIST:=$PROJ/selftests/tests.list}"
: "${VM_TESTS_DIR:=$PROJ/selftests/build}"
: "${VM_MODULES_LIST:=$SELF_DIR/modules.list}"
: "${VM_VNIC:=auto}"		# auto | off: the two extra virtio-net NICs

# Counters and the TAP we print (also saved to selftests/results/tap).
n_top=0 n_pass=0 n_fail=0 n_skip=0
FAILED_NAMES=()

usage() {
	sed -n '8,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die_usage() {
	echo "run.sh: $*" >&2
	exit 2
}

out() {
	printf '%s\n' "$*"
	printf '%s\n' "$*" >>"$TAP_FILE"
}

# Milliseconds since the epoch, without forking (this runs 5 times a second).
now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	NOW=$((t / 1000))
}

# Seconds, one decimal, since a now_ms value.
elapsed_since() {
	now_ms
	local d=$((NOW - $1))
	echo "$((d / 1000)).$((d % 1000 / 100))"
}

# ---------------------------------------------------------------- counting

# A case line is "ok N text" / "not ok N text", optionally with a
# "# SKIP"/"# TODO" directive (counted as skipped, TAP says they are not
# failures) or "# XFAIL" (kselftest: expected failure, a pass).
classify() {
	local line=$1
	VERDICT=none
	[[ $line =~ ^(not\ )?ok([[:space:]]|$) ]] || return 0
	if [[ $line =~ \#[[:space:]]*([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo]) ]]; then
		VERDICT=skip
	elif [[ $line == not* ]]; then
		VERDICT=fail
	else
		VERDICT=pass
	fi
}

count() {
	local verdict=$1 name=$2
	case $verdict in
	pass) n_pass=$((n_pass + 1)) ;;
	skip) n_skip=$((n_skip + 1)) ;;
	fail) n_fail=$((n_fail + 1)); FAILED_NAMES+=("$name") ;;
	esac
}

# A top-level case of our own (build, vm-completed): numbered and counted.
host_case() {
	local verdict=$1 text=$2
	n_top=$((n_top + 1))
	if [ "$verdict" = pass ]; then
		out "ok $n_top $text"
	else
		out "not ok $n_top $text"
	fi
	count "$verdict" "${text%% *}"
}

# ------------------------------------------------------------- initramfs

declare -A MOD_PATH=()	# module name -> path from modules.dep
declare -A MOD_DEPS=()	# module name -> its dependencies' names
declare -A MOD_SEEN=()
MOD_ORDER=()

# Module name from a path, without forking (modules.dep has ~4000 lines):
# kernel/fs/9p/9p.ko.xz -> 9p, dashes as underscores.
modname() {
	local b=${1##*/}
	b=${b%%.ko*}
	MODNAME=${b//-/_}
}

load_modules_dep() {
	local line path deps d names
	while IFS= read -r line; do
		path=${line%%:*}
		deps=${line#*:}
		names=
		for d in $deps; do
			modname "$d"
			names+=" $MODNAME"
		done
		modname "$path"
		MOD_PATH[$MODNAME]=$MODDIR/$path
		MOD_DEPS[$MODNAME]=$names
	done <"$MODDIR/modules.dep"
}

is_builtin() {
	grep -qE "/$1\.ko$|/${1//_/[-_]}\.ko$" "$MODDIR/modules.builtin" 2>/dev/null
}

# Depth-first: a module's dependencies come before it.  modules.dep lists
# them so that the last one has to be loaded first (as modprobe does).
add_module() {
	local m=$1 deps i
	[ -z "${MOD_SEEN[$m]:-}" ] || return 0
	MOD_SEEN[$m]=1
	if [ -z "${MOD_PATH[$m]:-}" ]; then
		is_builtin "$m" || echo "run.sh: note: module $m neither built nor built-in in $KVER, skipped" >&2
		return 0
	fi
	read -r -a deps <<<"${MOD_DEPS[$m]}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		add_module "${deps[i]}"
	done
	MOD_ORDER+=("$m")
}

# Copy a module, decompressed: busybox insmod may not handle .ko.xz/.zst.
copy_module() {
	local src=$1 dst=$2
	case $src in
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
}

build_initramfs() {
	local dir=$BUILD/$KVER m need busybox stamp stage i applet
	INITRAMFS=$dir/initramfs.cpio
	mkdir -p "$dir"
	busybox=$(command -v busybox || true)
	if [ -z "$busybox" ] || ! "$busybox" --list-full >/dev/null 2>&1; then
		setup_error "busybox not found (apt-get install busybox-static)"
	fi
	if ldd "$busybox" >/dev/null 2>&1; then
		setup_error "$busybox is dynamically linked (apt-get install busybox-static)"
	fi

	load_modules_dep
	for m in "${INITRAMFS_MODULES[@]}"; do
		add_module "$m"
	done
	for need in 9p 9pnet_virtio virtio_pci; do
		[ -n "${MOD_PATH[$need]:-}" ] || is_builtin "$need" ||
			setup_error "$KVER has no $need (needed for the 9p root)"
	done

	# Rebuild when any input changes: this script's init, busybox, modules.
	stamp=$({
		echo "$KVER ${MOD_ORDER[*]}"
		sha256sum "$SELF_DIR/init" "$busybox"
		for m in "${MOD_ORDER[@]}" overlay; do
			[ -n "${MOD_PATH[$m]:-}" ] && sha256sum "${MOD_PATH[$m]}"
		done
		echo format-1
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$INITRAMFS" ] && [ "$(cat "$dir/initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi

	echo "# vm: building initramfs for $KVER (modules: ${MOD_ORDER[*]})"
	stage=$(mktemp -d "$dir/stage.XXXXXX")
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,host,newroot,rw,tmp,etc,lib/vmtest}
	cp "$busybox" "$stage/bin/busybox"
	for applet in $("$busybox" --list-full); do
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$stage/$(dirname "$applet")"
		ln -sf /bin/busybox "$stage/$applet"
	done
	install -m 0755 "$SELF_DIR/init" "$stage/init"
	i=0
	: >"$stage/lib/vmtest/order"
	for m in "${MOD_ORDER[@]}"; do
		i=$((i + 1))
		copy_module "${MOD_PATH[$m]}" "$stage/lib/vmtest/$(printf %02d "$i")-$m.ko"
		echo "$(printf %02d "$i")-$m.ko" >>"$stage/lib/vmtest/order"
	done
	# overlay is loaded by init only when VM_ROOT=overlay.
	if [ -n "${MOD_PATH[overlay]:-}" ]; then
		copy_module "${MOD_PATH[overlay]}" "$stage/lib/vmtest/overlay.ko"
	fi
	# Only root can mknod; init copes without it (it mounts devtmpfs first).
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	# Uncompressed: TCG would spend longer inflating than QEMU spends loading.
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet) >"$INITRAMFS.tmp"
	mv "$INITRAMFS.tmp" "$INITRAMFS"
	echo "$stamp" >"$dir/initramfs.stamp"
	rm -rf "$stage"
}

# ------------------------------------------------------------------ qemu

QPID=

kill_qemu() {
	local pid=${1:-$QPID} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# qemu_args ACCEL CONSOLE RESULTS APPEND: the common part of both boots.
qemu_args() {
	local accel=$1 console=$2 results=$3 append=$4 cpu=max
	[ "$accel" = kvm ] && cpu=host
	# shellcheck disable=SC2054  # the commas are QEMU's
	QEMU_ARGS=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m 2048
		-nodefaults -nographic -no-reboot
		-kernel "$VMLINUZ" -initrd "$INITRAMFS"
		-chardev "file,id=con,path=$console" -serial chardev:con
		-chardev "file,id=results,path=$results"
		-device isa-serial,chardev=results
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 softlockup_panic=1 hung_task_panic=1 $append")
}

# ------------------------------------------------ the two virtio-net NICs
#
# Two virtio-net PCI devices connected back to back (Documentation/testing.rst,
# "The virtio-net NICs"): a tap each, both on one bridge, in a network
# namespace made for this run by unshare -n around QEMU.  The namespace holds
# nothing else (no link to the host's), so what the guest sends never leaves
# the machine; it ends with QEMU, and every way out of this script ends QEMU
# (cleanup on EXIT, kill_qemu, timeout's backstop), so nothing is left behind.
# The host cannot load vhost_net: vhost=off.
VNIC_MACS=(52:54:00:a0:00:01 52:54:00:a0:00:02)
VNIC_QUEUES=4
VNIC_WHY=
VNIC_ARGS=()
# What builds the namespace's contents, run by bash inside it.  The taps'
# largest MTU (65521; the bridge follows): the host side never limits the
# frames the guest tries.  No IPv6 there: the bridge stays silent.
# shellcheck disable=SC2016  # expanded by that bash
VNIC_PLUMB='set -e
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true
ip link add vmbr0 type bridge stp_state 0 forward_delay 0
for t in vmtap0 vmtap1; do
	ip tuntap add dev "$t" mode tap multi_queue
	ip link set "$t" mtu 65521
	ip link set "$t" master vmbr0 up
done
ip link set vmbr0 up'

# Sets VNIC_ARGS (QEMU options), or VNIC_WHY when the host cannot make the
# namespace: the VM then boots without the two devices.
vnic_probe() {
	local err i
	VNIC_ARGS=()
	VNIC_WHY=
	if [ "$VM_VNIC" = off ]; then
		VNIC_WHY="VM_VNIC=off"
	elif [ "$(id -u)" != 0 ]; then
		VNIC_WHY="run.sh is not root"
	elif [ ! -c /dev/net/tun ]; then
		VNIC_WHY="the host has no /dev/net/tun"
	elif ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
		VNIC_WHY="the host has no unshare or no ip"
	elif ! err=$(unshare -n bash -c "$VNIC_PLUMB" 2>&1); then
		err=$(tr '\n' ' ' <<<"$err")
		VNIC_WHY="bridge and taps in a new network namespace failed: ${err:0:200}"
	fi
	[ -z "$VNIC_WHY" ] || return 0
	# shellcheck disable=SC2054  # the commas are QEMU's
	for i in 0 1; do
		VNIC_ARGS+=(-netdev "tap,id=vnic$i,ifname=vmtap$i,queues=$VNIC_QUEUES,vhost=off,script=no,downscript=no"
			    -device "virtio-net-pci,netdev=vnic$i,mq=on,vectors=$((2 * VNIC_QUEUES + 2)),queue_reset=on,host_mtu=65521,mac=${VNIC_MACS[i]}")
	done
}

# KVM only when a guest really boots with it: on some hosts /dev/kvm exists
# but the guest hangs in early boot.  The verdict is cached per host boot.
choose_accel() {
	local cache=$BUILD/kvm-probe key verdict why con res pid i
	case $VM_ACCEL in
	tcg | kvm) ACCEL=$VM_ACCEL; ACCEL_WHY="VM_ACCEL=$VM_ACCEL"; return 0 ;;
	auto) ;;
	*) die_usage "VM_ACCEL must be tcg, kvm or auto" ;;
	esac
	key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $KVER"
	if [ -f "$cache" ] && [ "$(sed -n 1p "$cache")" = "$key" ]; then
		ACCEL=$(sed -n 2p "$cache")
		ACCEL_WHY="$(sed -n 3p "$cache") (cached in $cache)"
		return 0
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		verdict=tcg why="no usable /dev/kvm"
	else
		con=$BUILD/kvm-probe.console res=$BUILD/kvm-probe.results
		: >"$res"
		qemu_args kvm "$con" "$res" "vmtest.probe=1"
		"${QEMU_ARGS[@]}" </dev/null >"$BUILD/kvm-probe.qemu" 2>&1 &
		pid=$!
		for i in $(seq 250); do
			kill -0 "$pid" 2>/dev/null || break
			grep -q vmtest-probe-ok "$res" 2>/dev/null && break
			sleep 0.1
		done
		if grep -q vmtest-probe-ok "$res" 2>/dev/null; then
			verdict=kvm why="KVM probe booted"
		else
			verdict=tcg why="KVM probe did not boot within 25 s"
		fi
		kill_qemu "$pid"
	fi
	printf '%s\n%s\n%s\n' "$key" "$verdict" "$why" >"$cache"
	ACCEL=$verdict ACCEL_WHY=$why
}

# ------------------------------------------------------- results channel

saw_guest=0 saw_end=0 bail=
step_name='' step_limit=0 step_start=''

# " during 'STEP'" for messages, when the guest was in a step.
during() {
	[ -z "$step_name" ] || printf " during '%s'" "$step_name"
}

# One line from the guest's results channel.
handle_line() {
	local line=${1%$'\r'} v rest
	saw_guest=1
	case $line in
	"# vmtest: step "*)
		# "# vmtest: step NAME LIMIT": the guest promises to get past NAME
		# within LIMIT seconds; the host holds it to that (+VM_GRACE).
		rest=${line#"# vmtest: step "}
		step_name=${rest% *}
		step_limit=${rest##* }
		[[ $step_limit =~ ^[0-9]+$ ]] || step_limit=600
		now_ms
		step_start=$NOW
		return 0
		;;
	"# vmtest: end"*)
		saw_end=1
		step_name=
		return 0
		;;
	"TAP version"*) return 0 ;;	# we printed our own header
	"Bail out!"*)
		bail=${line#Bail out! }
		out "# guest: $line"
		return 0
		;;
	esac
	classify "$line"
	v=$VERDICT
	if [ "$v" != none ]; then
		# Top level: the guest runner's own cases; renumbered because the
		# host adds cases of its own (build, vm-completed).
		n_top=$((n_top + 1))
		rest=${line#not }
		rest=${rest#ok}
		rest=${rest# }
		[[ $rest =~ ^[0-9]+\ ?(.*)$ ]] && rest=${BASH_REMATCH[1]}
		if [[ $line == not* ]]; then
			out "not ok $n_top $rest"
		else
			out "ok $n_top $rest"
		fi
		count "$v" "${rest%% #*}"
		return 0
	fi
	# One level in: a test binary's own kselftest cases.  Deeper levels are
	# the binaries' subtests, already summarised by their parent line.
	if [[ $line =~ ^\ \ \ \ ((not\ )?ok[[:space:]].*|(not\ )?ok)$ ]]; then
		rest=${line#    }
		classify "$rest"
		v=$VERDICT
		rest=${rest#not }
		rest=${rest#ok}
		[[ $rest =~ ^\ *[0-9]*\ ?(.*)$ ]] && rest=${BASH_REMATCH[1]}
		count "$v" "$CUR_TEST: ${rest%% #*}"
	fi
	[[ $line =~ ^#\ selftests:\ ([^ :]+) ]] && CUR_TEST=${BASH_REMATCH[1]}
	out "$line"
}

CUR_TEST=
PARTIAL=

# Read whatever complete lines the guest has written so far.
drain_results() {
	local chunk
	while :; do
		chunk=
		if IFS= read -r chunk <&"$RFD"; then
			handle_line "$PARTIAL$chunk"
			PARTIAL=
		else
			PARTIAL+=$chunk
			return 0
		fi
	done
}

# --------------------------------------------------------------- the run

setup_error() {
	# Tests cannot run at all: that is a failure, not a usage error, so that
	# "make check" reports it in the same shape as any other failure.
	echo "run.sh: $*" >&2
	host_case fail "vm-setup # $*"
	finish
}

finish() {
	out "1..$n_top"
	local i
	for ((i = 0; i < ${#FAILED_NAMES[@]} && i < 25; i++)); do
		out "# failed: ${FAILED_NAMES[i]}"
	done
	[ ${#FAILED_NAMES[@]} -le 25 ] || out "# failed: ... and $((${#FAILED_NAMES[@]} - 25)) more"
	mkdir -p "$RESULTS_DIR"
	echo "passed=$n_pass failed=$n_fail skipped=$n_skip" >"$RESULTS_DIR/summary"
	local line="$n_pass passed, $n_fail failed"
	[ "$n_skip" -gt 0 ] && line+=", $n_skip skipped"
	out "$line"
	[ "$n_fail" -eq 0 ] && exit 0
	exit 1
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--kdir) [ $# -ge 2 ] || usage; KDIR=$2; shift 2 ;;
		--kdir=*) KDIR=${1#*=}; shift ;;
		--moddir) [ $# -ge 2 ] || usage; MODDIR_ARG=$(realpath -m "$2"); shift 2 ;;
		--moddir=*) MODDIR_ARG=$(realpath -m "${1#*=}"); shift ;;
		--timeout) [ $# -ge 2 ] || usage; RUN_TIMEOUT=$2; shift 2 ;;
		--timeout=*) RUN_TIMEOUT=${1#*=}; shift ;;
		--build-ok) [ $# -ge 2 ] || usage; BUILD_OK=$2; shift 2 ;;
		--build-ok=*) BUILD_OK=${1#*=}; shift ;;
		--only)
			shift
			while [ $# -gt 0 ] && [[ $1 != --* ]]; do
				ONLY+=("$1")
				shift
			done
			;;
		-h | --help) usage ;;
		*) die_usage "unknown argument '$1'" ;;
		esac
	done
	[ -n "$KDIR" ] || die_usage "--kdir is required"
	[[ $RUN_TIMEOUT =~ ^[0-9]+$ ]] || die_usage "--timeout wants seconds"
	[ -z "$BUILD_OK" ] || [[ $BUILD_OK =~ ^-?[0-9]+$ ]] || die_usage "--build-ok wants a number"
	case $VM_ROOT in overlay | bind) ;; *) die_usage "VM_ROOT must be overlay or bind" ;; esac
	case $VM_VNIC in auto | off) ;; *) die_usage "VM_VNIC must be auto or off" ;; esac
	[[ $VM_BOOT_TIMEOUT =~ ^[0-9]+$ ]] || die_usage "VM_BOOT_TIMEOUT wants seconds"
	if ! [[ $VM_TIME_SCALE =~ ^[1-9][0-9]?$ ]] || ((VM_TIME_SCALE > 20)); then
		die_usage "VM_TIME_SCALE wants an integer from 1 to 20"
	fi
	for kv in $VM_TEST_ENV; do
		[[ $kv =~ ^[A-Z][A-Z0-9_]*=[A-Za-z0-9_.,:/-]*$ ]] ||
			die_usage "VM_TEST_ENV wants VAR=value words, not '$kv'"
	done
	[[ $VM_GRACE =~ ^[0-9]+$ ]] || die_usage "VM_GRACE wants seconds"
	# The guest sees the same paths, but not our working directory.
	VM_TESTS_LIST=$(realpath -m "$VM_TESTS_LIST")
	VM_TESTS_DIR=$(realpath -m "$VM_TESTS_DIR")
	VM_MODULES_LIST=$(realpath -m "$VM_MODULES_LIST")
}

# Names given to --only must be in tests.list: a typo should not pass as
# "nothing failed".
check_only() {
	local name found
	for name in "${ONLY[@]}"; do
		found=$(awk -v n="$name" '!/^[[:space:]]*(#|$)/ && $1 == n { print "y"; exit }' \
			"$VM_TESTS_LIST" 2>/dev/null || true)
		[ -n "$found" ] || die_usage "--only $name: not in $VM_TESTS_LIST"
	done
}

# Every module the guest will insmod, as absolute paths.
list_modules() {
	local path rest optional
	[ -r "$VM_MODULES_LIST" ] || return 0
	while read -r path rest; do
		case $path in '' | '#'*) continue ;; esac
		optional=0
		case $path in '?'*) optional=1; path=${path#\?} ;; esac
		case $path in /*) ;; *) path=$PROJ/$path ;; esac
		# "?path": loaded when built (guest-run.sh), not missing when not.
		[ $optional = 1 ] && [ ! -e "$path" ] && continue
		echo "$path"
	done <"$VM_MODULES_LIST"
}

write_run_conf() {
	RUN_CONF=$BUILD/run.conf
	{
		echo "# written by run.sh for one VM run; sourced by guest-run.sh"
		printf 'VMTEST_ONLY=%q\n' "${ONLY[*]}"
		printf 'VMTEST_TESTS_LIST=%q\n' "$VM_TESTS_LIST"
		printf 'VMTEST_TESTS_DIR=%q\n' "$VM_TESTS_DIR"
		printf 'VMTEST_MODULES_LIST=%q\n' "$VM_MODULES_LIST"
		printf 'VMTEST_PROJ=%q\n' "$PROJ"
		printf 'VMTEST_TIME_SCALE=%q\n' "$VM_TIME_SCALE"
		printf 'VMTEST_ENV=%q\n' "$VM_TEST_ENV"
		printf 'VMTEST_VNIC_WHY=%q\n' "$VNIC_WHY"
	} >"$RUN_CONF"
}

# shellcheck disable=SC2317  # invoked by trap
cleanup() {
	kill_qemu
	[ -z "${CON_PID:-}" ] || kill "$CON_PID" 2>/dev/null || true
}

# The console around the first sign of kernel trouble (that is where the
# story starts), or its tail when there is none (a plain hang).
show_console() {
	local first from
	first=$(grep -naE 'BUG:|WARNING:|Oops|Kernel panic|general protection|INFO: task|rcu: INFO|detected stall' "$CONSOLE" |
		grep -avi 'command line' | head -n1 | cut -d: -f1 || true)
	if [ -n "$first" ]; then
		from=$((first > 10 ? first - 10 : 1))
		out "# $CONSOLE from line $from:"
		tail -n +"$from" "$CONSOLE" | head -n 120
	else
		out "# last 60 lines of $CONSOLE:"
		tail -n 60 "$CONSOLE"
	fi | tr -d '\r' | sed 's/^/# console: /' | while IFS= read -r l; do out "$l"; done ||
		true	# head closing the pipe early is fine
}

main() {
	parse_args "$@"
	mkdir -p "$BUILD" "$RESULTS_DIR"
	TAP_FILE=$RESULTS_DIR/tap
	: >"$TAP_FILE"
	# No stale verdict if this run is interrupted before it writes one.
	rm -f "$RESULTS_DIR/summary"

	# One VM run per tree at a time: they share build/vm/ and two TCG
	# guests on a small host would only slow each other into timeouts.
	exec {LOCK_FD}>"$BUILD/lock"
	if ! flock -n "$LOCK_FD"; then
		echo "run.sh: another VM run holds $BUILD/lock, waiting" >&2
		flock "$LOCK_FD"
	fi
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	local t_start missing=0 m reason='' rc
	now_ms
	t_start=$NOW
	[ ${#ONLY[@]} -eq 0 ] || check_only
	out "TAP version 13"

	if [ -n "$BUILD_OK" ]; then
		if [ "$BUILD_OK" = 0 ]; then
			host_case pass "build"
		else
			host_case fail "build # host-side build failed (status $BUILD_OK)"
		fi
	fi

	[ -d "$KDIR" ] || setup_error "kernel build directory $KDIR does not exist"
	KVER=$("$PROJ/scripts/kernel-release.sh" "$KDIR")
	[ -n "$KVER" ] || setup_error "cannot tell the kernel release of $KDIR"
	VMLINUZ=/boot/vmlinuz-$KVER
	# A self-built kernel (e.g. a debug kernel from linux-source) has no
	# /boot entry until installed; its bzImage will do.
	[ -r "$VMLINUZ" ] || VMLINUZ=$KDIR/arch/x86/boot/bzImage
	[ -r "$VMLINUZ" ] || setup_error "no kernel image /boot/vmlinuz-$KVER for $KDIR (apt-get install linux-image-$KVER)"
	MODDIR=${MODDIR_ARG:-/lib/modules/$KVER}
	[ -r "$MODDIR/modules.dep" ] || setup_error "no $MODDIR/modules.dep for $KVER"
	command -v qemu-system-x86_64 >/dev/null ||
		setup_error "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

	local magic
	for m in $(list_modules); do
		if [ ! -r "$m" ]; then
			missing=1
			out "# module $m is missing"
			continue
		fi
		# The guest would only say "Invalid module format"; say why.
		magic=$(modinfo -F vermagic "$m" 2>/dev/null | cut -d' ' -f1 || true)
		if [ -n "$magic" ] && [ "$magic" != "$KVER" ]; then
			out "# module $m was built for $magic, the VM boots $KVER"
		fi
	done
	if [ -n "$BUILD_OK" ] && [ "$BUILD_OK" != 0 ] && [ $missing = 1 ]; then
		out "# build failed and modules are missing: not booting"
		finish
	fi

	build_initramfs
	choose_accel
	vnic_probe
	write_run_conf

	CONSOLE=$BUILD/console.log
	RESULTS=$BUILD/results.log
	: >"$CONSOLE"
	: >"$RESULTS"
	qemu_args "$ACCEL" "$CONSOLE" "$RESULTS" \
		"vmtest.dir=$PROJ vmtest.conf=$RUN_CONF vmtest.root=$VM_ROOT vmtest.cache=$VM_9P_CACHE${MODDIR_ARG:+ vmtest.moddir=$MODDIR_ARG} $VM_APPEND"
	out "# vm: kernel $KVER ($VMLINUZ), accel $ACCEL ($ACCEL_WHY), root $VM_ROOT"
	out "# vm: console $CONSOLE, results $RESULTS, timeout ${RUN_TIMEOUT}s"
	local qemu_cmd=("${QEMU_ARGS[@]}")
	if [ ${#VNIC_ARGS[@]} -gt 0 ]; then
		out "# vm: virtio-net NICs ${VNIC_MACS[*]}: taps vmtap0/vmtap1 on bridge vmbr0 in a network namespace of this run"
		qemu_cmd=(unshare -n -- bash -c "$VNIC_PLUMB"$'\nexec "$@"' vmtest-vnic
			  "${QEMU_ARGS[@]}" "${VNIC_ARGS[@]}")
	else
		out "# vm: no virtio-net NICs: $VNIC_WHY (the tests that need them SKIP)"
	fi

	local t_qemu t_up='' t_end=''
	now_ms
	t_qemu=$NOW
	# timeout(1) is only a backstop for when this script is SIGKILLed: the
	# loop below enforces every bound.  The lock stays with this script.
	timeout -k 10 $((RUN_TIMEOUT + 120)) "${qemu_cmd[@]}" \
		</dev/null >"$BUILD/qemu.out" 2>&1 {LOCK_FD}>&- &
	QPID=$!
	if [ "$VM_CONSOLE" = 1 ]; then
		# --pid: tail (and so sed) ends with QEMU.
		tail --pid="$QPID" -n +1 -F "$CONSOLE" 2>/dev/null |
			sed -u 's/^/console: /' >&2 &
		CON_PID=$!
	fi
	exec {RFD}<"$RESULTS"

	# Watch the guest until QEMU exits or a time bound is broken.  Each bound
	# turns a hang into a prompt failure instead of a stuck "make check".
	while :; do
		drain_results
		if [ -z "$t_up" ] && [ $saw_guest = 1 ]; then
			t_up=$(elapsed_since "$t_qemu")
			out "# vm: guest up after ${t_up}s"
		fi
		if ! kill -0 "$QPID" 2>/dev/null; then
			break
		fi
		now_ms
		if ((NOW - t_qemu > RUN_TIMEOUT * 1000)); then
			reason="whole-run timeout of ${RUN_TIMEOUT}s hit$(during)"
		elif [ $saw_guest = 0 ] && ((NOW - t_qemu > VM_BOOT_TIMEOUT * 1000)); then
			reason="guest did not come up within ${VM_BOOT_TIMEOUT}s"
		elif [ -n "$step_name" ] && ((NOW - step_start > (step_limit + VM_GRACE) * 1000)); then
			reason="guest stuck in '$step_name' for more than ${step_limit}s + ${VM_GRACE}s grace"
		elif [ $saw_end = 1 ]; then
			[ -n "$t_end" ] || t_end=$NOW
			if ((NOW - t_end > 60000)); then
				out "# vm: guest finished but did not power off within 60 s; killed"
				kill_qemu
				break
			fi
		fi
		if [ -n "$reason" ]; then
			out "# vm: $reason: killing QEMU"
			kill_qemu
			break
		fi
		sleep 0.2
	done
	rc=0
	wait "$QPID" 2>/dev/null || rc=$?
	QPID=
	drain_results
	[ -z "$PARTIAL" ] || { handle_line "$PARTIAL"; PARTIAL=; }

	# Did the guest get through everything, cleanly?
	local panic
	panic=$(grep -m1 -aE 'Kernel panic - not syncing' "$CONSOLE" || true)
	if [ -z "$reason" ]; then
		if [ -n "$panic" ]; then
			reason="guest kernel panic$(during): ${panic#*] }"
		elif [ -n "$bail" ]; then
			reason="guest bailed out: $bail"
		elif [ $saw_end = 0 ] && [ $saw_guest = 0 ]; then
			reason="QEMU exited (status $rc) before the guest came up"
		elif [ $saw_end = 0 ]; then
			reason="guest stopped without its end marker$(during)"
		fi
	fi
	if [ -n "$reason" ]; then
		host_case fail "vm-completed # $reason"
		if [ -s "$BUILD/qemu.out" ]; then
			sed 's/^/# qemu: /' "$BUILD/qemu.out" | while IFS= read -r l; do out "$l"; done
		fi
		show_console
	else
		host_case pass "vm-completed"
	fi
	out "# vm: boot ${t_up:-?}s, total $(elapsed_since "$t_start")s"
	finish
}

main "$@"
