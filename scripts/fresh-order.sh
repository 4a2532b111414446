#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The fresh-machine order, checked without a fresh machine: the Makefile,
# scripts/check.sh and .ci/run of this tree run in a scratch directory
# where the installers are stubs that create the "kernel headers", and
# scripts/find-kdir.sh is a stub that finds them only once installed.
# make check and .ci/run must run their install step before they decide
# the kernel; make and make sparse must install nothing: without headers
# they stop with one line, with headers they build.  Nothing is installed
# and no kernel is built; a few seconds.  TAP out.
#
#   scripts/fresh-order.sh
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SB=$(mktemp -d)
trap 'rm -rf "$SB"' EXIT

stub() { printf '#!/usr/bin/env bash\n%s\n' "$2" >"$1"; chmod +x "$1"; }

# sandbox NAME: a copy of the tree's make/CI layer with stubs below it
sandbox() {
	local d=$SB/$1
	mkdir -p "$d/scripts" "$d/selftests/vm" "$d/bin" "$d/.ci"
	cp "$TOP/Makefile" "$d/"
	cp "$TOP"/scripts/*.sh "$d/scripts/"
	cp "$TOP/.ci/run" "$d/.ci/run"
	cp "$TOP/selftests/tests.list" "$d/selftests/"
	stub "$d/scripts/deps.sh" '
echo "deps.sh $*" >>"$LOG"
if [[ ${1:-} == --check ]]; then [[ -e $D/headers ]]; exit; fi
mkdir -p "$D/headers"
printf "modules clean:\n\t@echo \"kbuild \$@\" >>\"%s\"\n" "$LOG" >"$D/headers/Makefile"'
	stub "$d/scripts/qemu-backports.sh" 'echo "qemu-backports.sh $*" >>"$LOG"'
	stub "$d/scripts/find-kdir.sh" '
if [[ -d $D/headers ]]; then
	echo "find-kdir.sh: found" >>"$LOG"; printf "%s\tstub\n" "$D/headers"
else
	echo "find-kdir.sh: none" >>"$LOG"; exit 1
fi'
	stub "$d/scripts/checkpatch.sh" 'echo checkpatch >>"$LOG"'
	stub "$d/scripts/check-install.sh" 'echo check-install >>"$LOG"'
	stub "$d/scripts/build-all-kernels.sh" 'echo kernels >>"$LOG"'
	stub "$d/scripts/check-dkms.sh" 'echo check-dkms >>"$LOG"'
	stub "$d/selftests/vm/run.sh" '
echo "run.sh $*" >>"$LOG"
[[ ${1:-} == --kdir && -n ${2:-} ]] || { echo "run.sh: --kdir is required" >&2; exit 2; }
mkdir -p "$D/selftests/results"
echo "passed=1 failed=0 skipped=0" >"$D/selftests/results/summary"'
	printf 'all:\n\t@echo selftests >>"$(LOG)"\nharness-check:\n\t@echo harness-check >>"$(LOG)"\n' \
		>"$d/selftests/Makefile"
	stub "$d/bin/apt-get" 'echo "apt-get $*" >>"$LOG"'
}

n=0 failed=0
# report NAME WHY LOG: a TAP line; WHY empty is a pass, else LOG follows.
report() {
	n=$((n + 1))
	if [[ -z $2 ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1 # $2"
		sed 's/^/#   /' "$3"
		failed=$((failed + 1))
	fi
}

# run_in DIR CMD...: CMD in sandbox DIR, its stubs first on PATH; output
# in DIR/out.log.
run_in() {
	local d=$1
	shift
	(cd "$d" && LOG=$d/order.log D=$d PATH=$d/bin:$PATH "$@") >"$d/out.log" 2>&1
}

# check NAME CMD...: run CMD in a fresh sandbox; the kernel must be decided
# (find-kdir.sh) only after the first install (deps.sh), never before, and
# the command must succeed.
check() {
	local name=$1 d=$SB/$((n + 1)) rc=0 why=
	shift
	sandbox "$((n + 1))"
	run_in "$d" "$@" || rc=$?
	local first_deps first_kdir
	first_deps=$(grep -n -m1 '^deps.sh' "$d/order.log" | cut -d: -f1 || true)
	first_kdir=$(grep -n -m1 '^find-kdir.sh' "$d/order.log" | cut -d: -f1 || true)
	if ((rc)); then
		why="exit $rc: $(tail -n 1 "$d/out.log")"
	elif [[ -z $first_deps ]]; then
		why="no install step"
	elif [[ -n $first_kdir ]] && ((first_kdir < first_deps)); then
		why="the kernel was decided before the install step"
	elif grep -q '^find-kdir.sh: none' "$d/order.log"; then
		why="find-kdir.sh ran without headers"
	fi
	report "$name" "$why" "$d/order.log"
}

# check_builder NAME CMD...: a build-only command: no installer may run
# (deps.sh, qemu-backports.sh, apt-get); without headers it fails with one
# line naming linux-headers-$(uname -r) and make deps, and once headers are
# there (put by hand) it succeeds.
check_builder() {
	local name=$1 d=$SB/$((n + 1)) rc=0 why=
	shift
	sandbox "$((n + 1))"
	run_in "$d" "$@" || rc=$?
	if ((rc == 0)); then
		why="succeeded without kernel headers"
	elif grep -qE '^(deps|qemu-backports)\.sh|^apt-get' "$d/order.log"; then
		why="it installed: $(grep -E '^(deps|qemu-backports)\.sh|^apt-get' "$d/order.log" | tr '\n' ' ')"
	elif [[ $(grep -c . "$d/out.log") != 1 ]] ||
		! grep -q "linux-headers-$(uname -r).*make deps" "$d/out.log"; then
		why="not one line naming linux-headers-$(uname -r) and make deps: $(tr '\n' '|' <"$d/out.log")"
	else
		: >"$d/order.log"
		mkdir -p "$d/headers"
		printf 'modules clean:\n\t@echo "kbuild $@" >>"%s"\n' "$d/order.log" >"$d/headers/Makefile"
		rc=0
		run_in "$d" "$@" || rc=$?
		if ((rc)); then
			why="with headers: exit $rc: $(tail -n 1 "$d/out.log")"
		elif grep -qE '^(deps|qemu-backports)\.sh|^apt-get' "$d/order.log"; then
			why="with headers, it installed"
		elif ! grep -q '^kbuild modules' "$d/order.log"; then
			why="with headers, it did not build"
		fi
	fi
	report "$name" "$why" "$d/order.log"
}

echo "TAP version 13"
echo "1..4"
check_builder "make" make --no-print-directory
check_builder "make sparse" make --no-print-directory sparse
check "make check" make --no-print-directory check
check ".ci/run" bash .ci/run
((failed == 0))
