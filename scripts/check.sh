#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every host-side check, then the VM test suite, as one TAP
# stream, closing with exactly one line `N passed, N failed` that counts
# the host steps plus the VM tests (skips on a line `# N skipped` before it).
# Exits 0 iff nothing failed.
#
#   1 deps           make deps-if-missing (scripts/deps.sh and
#                    scripts/qemu-backports.sh --if-missing); only then
#                    is KDIR chosen (scripts/find-kdir.sh)
#   2 make modules   WERROR=1: W=1, warnings are errors (every make step
#                    here gets WERROR=1; a user's plain make does not)
#   3 make sparse    sparse warnings are errors too
#   4 make checkpatch
#   5 make kernels   every installed Debian header tree
#   6 make selftests
#   7 make harness-check
#   8 make install   scripts/check-install.sh: install/uninstall into a
#                    DESTDIR, versions, an out-of-tree cooperating driver
#                    against the staged contract, plain make installs nothing
#   9 VM suite       selftests/vm/run.sh --kdir KDIR (its TAP is a subtest)
#  10 VM suite       the same on the second kernel (6.12), e2e_* excepted
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

# Seconds per step.  Generous: a step that needs more is broken or hung.
T_DEPS=1800 T_BUILD=900 T_CHECKPATCH=600 T_KERNELS=1800 T_SELFTESTS=900
T_VM=${CHECK_VM_TIMEOUT:-2400}

# The host steps (the `step` lines below) and the two VM suites.
NSTEPS=$(($(grep -c '^step "' "${BASH_SOURCE[0]}") + 2))
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

MAKE=(make --no-print-directory -C "$TOP" WERROR=1)

# Everything make check needs, as make deps-if-missing installs it (the
# packages, both kernels' headers, QEMU 10.0 unpacked): on a fresh machine
# this is where the kernel headers arrive.
step "deps" "$T_DEPS" "${MAKE[@]}" deps-if-missing

# Only now, with the headers installed, decide the kernel: the same KDIR
# for the build and the VM run, so the VM boots the kernel the modules
# were built for.  Passed to make explicitly, so every target agrees even
# if the headers change mid-run.
if [[ -z ${KDIR:-} ]]; then
	KDIR=$(scripts/find-kdir.sh 2>/dev/null | cut -f1 || true)
fi
[[ -z $KDIR ]] || MAKE+=("KDIR=$KDIR")

step "make modules" "$T_BUILD" "${MAKE[@]}" modules
step "make sparse" "$T_BUILD" "${MAKE[@]}" sparse
step "make checkpatch" "$T_CHECKPATCH" "${MAKE[@]}" checkpatch
step "make kernels" "$T_KERNELS" "${MAKE[@]}" kernels
step "make selftests" "$T_SELFTESTS" "${MAKE[@]}" selftests
step "make harness-check" "$T_SELFTESTS" \
	"${MAKE[@]}" harness-check
step "make install" "$T_BUILD" env KDIR="$KDIR" scripts/check-install.sh
step "ynl spec" "$T_BUILD" "$TOP/scripts/ynl-check.sh"
step "dkms and Debian package" "$T_KERNELS" scripts/check-dkms.sh

# --- the VM suites ------------------------------------------------------------

# vm_suite <kdir> [VAR=value...]: run.sh on the kernel of <kdir> as one TAP
# case with the suite's TAP as a subtest; its counts join ours.  The words
# after <kdir> are run.sh's environment (which modules, which tests).
vm_suite() {
	local kdir=$1
	shift
	n=$((n + 1))
	local vm_log=$LOGS/$n-vm-${kdir##*/linux-headers-}.log
	local label="selftests/vm/run.sh --kdir $kdir"
	if [[ -z $kdir ]]; then
		echo "not ok $n - selftests/vm/run.sh # not run: no kernel build directory (scripts/find-kdir.sh found none after the deps step)"
		failed=$((failed + 1))
		return
	fi
	if [[ ${result[make modules]} != ok || ${result[make selftests]} != ok ]]; then
		# Nothing to test: the suite would only report the build failure
		# again.  Counted as a failure, not a skip, so a broken build can
		# never pass.
		echo "not ok $n - $label # not run: modules or selftests did not build"
		failed=$((failed + 1))
		return
	fi
	if [[ ! -x selftests/vm/run.sh ]]; then
		echo "not ok $n - $label # missing or not executable"
		failed=$((failed + 1))
		return
	fi
	# The suite's own TAP, indented as a TAP subtest, live (it is slow).
	echo "# Subtest: $label${*:+ ($*)}"
	local marker=$LOGS/.vm-start
	touch "$marker"
	local rc=0 t0=$SECONDS
	# run.sh's own bound (the guest's) inside this step's
	env "$@" timeout --kill-after=30 "$T_VM" selftests/vm/run.sh \
		--kdir "$kdir" --timeout $((T_VM - 300)) </dev/null 2>&1 |
		tee "$vm_log" | sed -u 's/^/    /' || rc=${PIPESTATUS[0]}
	local secs=$((SECONDS - t0))
	local vp=0 vf=0 vs=0 ok_summary='' line why=''
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
	if [[ -z $ok_summary ]]; then
		why="no summary from this run in ${SUMMARY#"$TOP"/}"
	elif ((rc != 0 && vf == 0)); then
		# It failed without saying which test: count the run itself.
		why="run.sh exited $rc without a failed test"
	fi
	((rc == 124 || rc == 137)) && why="timed out after ${T_VM}s${why:+; $why}"
	if [[ -n $why ]]; then
		failed=$((failed + 1))
		echo "not ok $n - $label # $why"
	elif ((vf > 0)); then
		echo "not ok $n - $label ($vp passed, $vf failed, $vs skipped)"
	else
		echo "ok $n - $label ($vp passed, $vf failed, $vs skipped)"
	fi
	echo "# ${secs}s, log: ${vm_log#"$TOP"/}"
}

# The whole suite on the kernel the modules were built for (Debian 12's
# 6.1), nested-QEMU end-to-end tests included.
vm_suite "$KDIR"

# Then again on the newest other kernel whose headers `make kernels` built
# the modules for (bookworm-backports' 6.12): every test but the
# nested-QEMU e2e_* ones, which boot a second guest for minutes and test
# QEMU and libvirt rather than the kernel (they run on 6.1 above).
second_kdir() {
	local d kver
	for d in $(printf '%s\n' /usr/src/linux-headers-*-amd64 | sort -rV); do
		[[ -f $d/Makefile && $d != "$KDIR" ]] || continue
		kver=$("$TOP/scripts/kernel-release.sh" "$d" 2>/dev/null) || continue
		[[ -n $kver && $kver != "$("$TOP/scripts/kernel-release.sh" "$KDIR")" ]] || continue
		echo "$d"
		return
	done
}
KDIR2=$(second_kdir || true)
if [[ -z $KDIR2 ]]; then
	n=$((n + 1))
	echo "not ok $n - VM suite on a second kernel # no second kernel's headers (run make deps)"
	failed=$((failed + 1))
else
	kdir2_out=$TOP/build/kernels/${KDIR2#/usr/src/linux-headers-}
	second=$TOP/build/vm/second-kernel
	mkdir -p "$second"
	printf '%s\n' "$kdir2_out/drivers/vhost/accel/vhost_accel.ko" \
		"$kdir2_out/drivers/net/nicsim/nicsim.ko" \
		"$kdir2_out/drivers/net/virtio_net_accel/virtio_net_accel.ko" \
		>"$second/modules.list"
	grep -vE '^e2e_' selftests/tests.list >"$second/tests.list"
	vm_suite "$KDIR2" VM_MODULES_LIST="$second/modules.list" \
		VM_TESTS_LIST="$second/tests.list"
fi

# The closing line is exactly "N passed, N failed", as CI reads it; skips
# (a case that says why it cannot run here) go on the line before.
((skipped == 0)) || echo "# $skipped skipped"
echo "$passed passed, $failed failed"
((failed == 0))
