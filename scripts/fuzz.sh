#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make fuzz`: build, boot the test VM once and run the vhost-accel fuzzer
# (selftests/fuzz/vhost_accel_fuzz.c, Documentation/testing.rst "Fuzzing").
#
#   1 packages, modules, selftests/fuzz/build/vhost_accel_fuzz
#   2 VM run    selftests/vm/run.sh with the fuzzer's own lists; the
#               runner unloads the modules and scans dmesg afterwards;
#               full TAP in build/fuzz/vm.tap
#   3 the last line printed is "fuzz: N cases, seed S, F failures"
#
# Environment: FUZZ_SEED (default: the time), FUZZ_CASES (default
# 1000000), FUZZ_START (replay from case K), FUZZ_MODE (ring, ioctl,
# dynamic, concurrent, all; default all), FUZZ_RING_SHARE,
# FUZZ_DYN_SHARE, FUZZ_CONC_SHARE (percent of the blocks of "all"; 40, 15
# and 15, the rest ioctl), FUZZ_SECONDS (stop early after T s; default 1680),
# FUZZ_VM_TIMEOUT (default 2000 s), KDIR and run.sh's VM_* variables.
# Exit status 0 iff the run and every runner case passed.
set -euo pipefail

NAME=fuzz
PROG=vhost_accel_fuzz
# shellcheck source=scripts/vm-program.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm-program.sh"

: "${FUZZ_SEED:=$(date +%s)}"
: "${FUZZ_CASES:=1000000}"
: "${FUZZ_SECONDS:=1680}"

vmp_init
vmp_build
vmp_modules_list

# run.sh passes no arguments into the VM: the program reads fuzz.env.
{
	echo "# written by scripts/fuzz.sh"
	for v in FUZZ_SEED FUZZ_CASES FUZZ_START FUZZ_MODE FUZZ_SECONDS \
		FUZZ_RING_SHARE FUZZ_DYN_SHARE FUZZ_CONC_SHARE; do
		if [[ -n ${!v:-} ]]; then
			printf '%s=%s\n' "$v" "${!v}"
		fi
	done
} >"$TOP/selftests/fuzz/build/fuzz.env"

rc=0
vmp_run "${FUZZ_VM_TIMEOUT:-2000}" '^fuzz: ' || rc=$?

line=$(sed -n 's/^    \(fuzz: [0-9]* cases, seed .*\)$/\1/p' "$OUT/vm.tap" | tail -n 1)
if [[ -z $line ]]; then
	line="fuzz: 0 cases, seed $FUZZ_SEED, 1 failures"
	((rc)) || rc=1
fi
if ((rc == 0)); then
	say "PASSED in $((SECONDS - T_START)) s"
else
	say "FAILED (exit $rc) after $((SECONDS - T_START)) s; TAP in ${OUT#"$TOP"/}/vm.tap"
fi
echo "$line"
exit "$rc"
