#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build, boot the test VM once and measure vhost-accel + nicsim
# against vhost-net + tap and vhost-net + macvtap from the same user-space
# guest, vhost-accel's copying datapath over the same tap and macvtap
# against vhost-net on them, and the switch to copying and back
# (Documentation/performance.rst); and, on the test VM's virtio-net PCI
# NIC, vhost-accel + virtio_net_accel against vhost-net + macvtap and
# vhost-net + tap + bridge on virtio_net (BENCH_PARTS=vnic).
#
#   1 packages, modules, selftests/bench/build/vhost_accel_bench
#   2 VM run        selftests/vm/run.sh with the benchmark's own lists
#                   (selftests/bench/tests.list, selftests/bench/build,
#                   build/bench/modules.list); full TAP in build/bench/vm.tap
#   3 results       build/bench/results/bench-<UTC time>.{csv,json,txt}
#                   and latest.{csv,json,txt}; then one line per table row,
#                   "ratio <row> <accel / vhost-net+tap>", and per row
#                   with a target of the copying datapath and path,
#                   "target <row> copy-tap/tap|copy-macvtap/macvtap
#                   <ratio> met|not met", and per row with a target on
#                   the virtio-net NIC "target <row> vnic/vnic-macvtap
#                   <ratio> met|not met", then per issue-18 target
#                   "target18 <row> <figure> <limit> met|not met|not
#                   measured", last.
#
# Exit status 0 iff every step and every case in the VM passed.  Run as
# root on Debian 12.  Environment: KDIR, BENCH_MS (window per figure,
# default 1000), BENCH_REPS (default 3), BENCH_SLOW_US, BENCH_SLOW_PPS,
# BENCH_SLOW_PPS_HI, BENCH_SCALE_THREADS, BENCH_ENGINES, BENCH_POLL_US, BENCH_PARTS (see
# selftests/bench/vhost_accel_bench.c), BENCH_PROFILE=1 (run it under
# perf, hottest symbols per thread at the end of build/bench/vm.tap),
# BENCH_VM_TIMEOUT (default 1700 s),
# and run.sh's VM_* variables.
set -euo pipefail

NAME=bench
PROG=vhost_accel_bench
# shellcheck source=scripts/vm-program.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm-program.sh"

vmp_init
vmp_build
vmp_modules_list

# run.sh passes no environment into the VM: the program reads its BENCH_*
# settings from bench.env beside it (KEY=VALUE lines).
{
	echo "# written by scripts/bench.sh"
	for v in BENCH_MS BENCH_REPS BENCH_SLOW_US BENCH_SLOW_PPS \
		BENCH_SLOW_PPS_HI BENCH_SCALE_THREADS BENCH_ENGINES BENCH_POLL_US BENCH_PARTS; do
		if [[ -n ${!v:-} ]]; then
			printf '%s=%s\n' "$v" "${!v}"
		fi
	done
} >"$TOP/selftests/bench/build/bench.env"

# BENCH_PROFILE=1: the same run under perf (selftests/bench/profile.sh)
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
	VMP_LIST=profile.list
	PROGS=profile.sh
fi
rc=0
vmp_run "${BENCH_VM_TIMEOUT:-1700}" '^(csv,|ratio |target |target18 )' || rc=$?

RES=$OUT/results
mkdir -p "$RES"
stamp=$(date -u +%Y%m%d-%H%M%S)
prog_lines() { sed -n 's/^    //p' "$OUT/vm.tap"; }
prog_lines | sed -n 's/^csv,//p' >"$RES/bench-$stamp.csv"
prog_lines | sed -n '/^# table:$/,/^# end of table$/s/^# \{0,1\}//p' \
	>"$RES/bench-$stamp.txt"
awk -F, -v stamp="$stamp" '
	NR == 1 { for (i = 1; i <= NF; i++) key[i] = $i; next }
	{
		printf "%s\n  {", (n++ ? "," : "[")
		for (i = 1; i <= NF; i++) {
			v = $i
			if (v == "")
				v = "null"
			else if (v !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/)
				v = "\"" v "\""
			printf "%s\"%s\": %s", (i > 1 ? ", " : ""), key[i], v
		}
		printf ", \"run\": \"%s\"}", stamp
	}
	END { print (n ? "\n]" : "[]") }' "$RES/bench-$stamp.csv" \
	>"$RES/bench-$stamp.json"
for ext in csv json txt; do
	cp "$RES/bench-$stamp.$ext" "$RES/latest.$ext"
done

if ((rc == 0)); then
	say "PASSED in $((SECONDS - T_START)) s; results in ${RES#"$TOP"/}/bench-$stamp.{csv,json,txt}"
else
	say "FAILED (exit $rc) after $((SECONDS - T_START)) s; partial results in ${RES#"$TOP"/}/bench-$stamp.*"
fi
prog_lines | grep -E '^(ratio|target|target18) ' || true
exit "$rc"
