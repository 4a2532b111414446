#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every host-side check, then the VM test suite, as one TAP
# stream, closing with exactly one line `N passed, N failed` (`, N skipped`
# when there are skips) that counts the host steps plus the VM tests.
# Exits 0 iff nothing failed.
#
#   1 deps           scripts/deps.sh --if-missing
#   2 make modules   W=1, warnings are errors
#   3 make sparse
#   4 make checkpatch
#   5 make kernels   every installed Debian header tree
#   6 make selftests
#   7 VM suite       selftests/vm/run.sh --kdir KDIR (its TAP is a subtest)
#
# Host steps stay quiet on success; each one's full output is in
# build/logs/<n>-<step>.log and its tail is printed when it fails.  Every
# step runs under `timeout` so a hang cannot eat the CI budget (90 min).
# Environment: KDIR (default: scripts/find-kdir.sh), CHECK_VM_TIMEOUT.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=$TOP/build/logs
SUMMARY=$TOP/selftests/results/summary
cd "$TOP"
mkdir -p "$LOGS"

# The same KDIR for the build and the VM run, so the VM boots the kernel
# the modules were built for.  Passed to make explicitly, so every target
# agrees even if the headers change mid-run.
if [[ -z ${KDIR:-} ]]; then
	KDIR=$(scripts/find-kdir.sh 2>/dev/null | cut -f1 || true)
fi

# Seconds per step.  Generous: a step that needs more is broken or hung.
T_DEPS=1800 T_BUILD=900 T_CHECKPATCH=600 T_KERNELS=1800 T_SELFTESTS=900
T_VM=${CHECK_VM_TIMEOUT:-2400}

NSTEPS=7
echo "TAP version 13"
echo "1..$NSTEPS"
n=0 passed=0 failed=0 skipped=0
declare -A result=()

# step <name> <timeout> <command...>: run one host-side step as a TAP case.
step() {
	local name=$1 limit=$2
	shift 2
	n=$((n + 1))
	local log=$LOGS/$n-${name// /-}.log rc=0 t0=$SECONDS
	# New process group via timeout; its kill reaches make's children too.
	timeout --kill-after=30 "$limit" "$@" >"$log" 2>&1 </dev/null || rc=$?
	local secs=$((SECONDS - t0)) rel=${log#"$TOP"/}
	if ((rc == 0)); then
		echo "ok $n - $name"
		passed=$((passed + 1))
		result[$name]=ok
	else
		echo "not ok $n - $name"
		failed=$((failed + 1))
		result[$name]=fail
		((rc == 124 || rc == 137)) && echo "# timed out after ${limit}s"
		echo "# exit $rc; last lines of $rel:"
		tail -n 40 "$log" | sed 's/^/#   /'
	fi
	echo "# ${secs}s, log: $rel"
	# Per-kernel results are worth seeing even when all is well.
	if [[ $name == "make kernels" ]]; then
		grep -E '^(not )?ok build ' "$log" | sed 's/^/#   /' || true
	fi
}

MAKE=(make --no-print-directory -C "$TOP")
[[ -z $KDIR ]] || MAKE+=("KDIR=$KDIR")

step "deps" "$T_DEPS" scripts/deps.sh --if-missing
step "make modules" "$T_BUILD" "${MAKE[@]}" modules
step "make sparse" "$T_BUILD" "${MAKE[@]}" sparse
step "make checkpatch" "$T_CHECKPATCH" "${MAKE[@]}" checkpatch
step "make kernels" "$T_KERNELS" "${MAKE[@]}" kernels
step "make selftests" "$T_SELFTESTS" "${MAKE[@]}" selftests

# --- the VM suite -------------------------------------------------------------

n=$((n + 1))
vm_log=$LOGS/$n-vm.log
if [[ ${result[make modules]} != ok || ${result[make selftests]} != ok ]]; then
	# Nothing to test: the suite would only report the build failure again.
	# Counted as a failure, not a skip, so a broken build can never pass.
	echo "not ok $n - selftests/vm/run.sh # not run: modules or selftests did not build"
	failed=$((failed + 1))
elif [[ ! -x selftests/vm/run.sh ]]; then
	echo "not ok $n - selftests/vm/run.sh # missing or not executable"
	failed=$((failed + 1))
else
	# The suite's own TAP, indented as a TAP subtest, live (it is slow).
	echo "# Subtest: selftests/vm/run.sh --kdir $KDIR"
	marker=$LOGS/.vm-start
	touch "$marker"
	rc=0 t0=$SECONDS
	# run.sh's own bound (the guest's) inside this step's
	timeout --kill-after=30 "$T_VM" selftests/vm/run.sh --kdir "$KDIR" \
		--timeout $((T_VM - 300)) </dev/null 2>&1 | tee "$vm_log" | sed -u 's/^/    /' ||
		rc=${PIPESTATUS[0]}
	secs=$((SECONDS - t0))
	vp=0 vf=0 vs=0 ok_summary=
	# Only a summary written by this run counts (an old one may be lying
	# around from an earlier run).
	if [[ -f $SUMMARY && $SUMMARY -nt $marker ]]; then
		line=$(<"$SUMMARY")
		if [[ $line =~ ^passed=([0-9]+)\ failed=([0-9]+)\ skipped=([0-9]+) ]]; then
			vp=${BASH_REMATCH[1]} vf=${BASH_REMATCH[2]} vs=${BASH_REMATCH[3]}
			ok_summary=1
		fi
	fi
	passed=$((passed + vp))
	failed=$((failed + vf))
	skipped=$((skipped + vs))
	why=
	if [[ -z $ok_summary ]]; then
		why="no summary from this run in ${SUMMARY#"$TOP"/}"
	elif ((rc != 0 && vf == 0)); then
		# It failed without saying which test: count the run itself.
		why="run.sh exited $rc without a failed test"
	fi
	((rc == 124 || rc == 137)) && why="timed out after ${T_VM}s${why:+; $why}"
	if [[ -n $why ]]; then
		failed=$((failed + 1))
		echo "not ok $n - selftests/vm/run.sh # $why"
	elif ((vf > 0)); then
		echo "not ok $n - selftests/vm/run.sh ($vp passed, $vf failed, $vs skipped)"
	else
		echo "ok $n - selftests/vm/run.sh ($vp passed, $vf failed, $vs skipped)"
	fi
	echo "# ${secs}s, log: ${vm_log#"$TOP"/}"
fi

line="$passed passed, $failed failed"
((skipped == 0)) || line+=", $skipped skipped"
echo "$line"
((failed == 0))
