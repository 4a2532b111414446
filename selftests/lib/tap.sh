# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the shell tests of the suite (nicsim/nicsim_basic.sh,
# vnic/vnic_basic.sh), installed as build/lib/tap.sh beside them: kselftest
# TAP cases and the waits they share.  The caller prints the header and
# the plan; $failed counts the failed cases.

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP ${2:-}"; }
diag() { sed 's/^/# /'; }
# t NAME CMD...: one case from a command's exit status; output as diagnostics
t() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ -z "$out" ] || diag <<<"$out"
	if [ $rc -eq 0 ]; then ok "$name"; else nok "$name # exit $rc"; fi
	return $rc
}

if command -v ping >/dev/null; then
	PING=(ping)
else
	PING=(busybox ping)
fi

# wait_for SECS CMD...: until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.1
	done
}

# nicsim_ko: the nicsim.ko to load again after an rmmod: $NICSIM_KO, else
# drivers/net/nicsim/nicsim.ko found upwards from here
nicsim_ko() {
	local d
	[ -n "${NICSIM_KO:-}" ] && { echo "$NICSIM_KO"; return; }
	d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	while [ "$d" != / ]; do
		[ -f "$d/drivers/net/nicsim/nicsim.ko" ] &&
			{ echo "$d/drivers/net/nicsim/nicsim.ko"; return; }
		d=$(dirname "$d")
	done
}
