#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build everything, boot the test VM, move real traffic through
# vhost-net + tap and through vhost-accel + nicsim from the same user-space
# guest (the raw datapath packet rate), then run a real Linux guest under
# unmodified QEMU on each backend with iperf3 TCP and UDP, and print what
# was measured (Documentation/demo.rst).
#
#   1 packages      scripts/deps.sh --if-missing (apt, only when needed)
#   2 modules       make modules KDIR=...        (vhost_accel.ko, nicsim.ko)
#   3 demo program  make -C selftests/demo        (selftests/demo/build/,
#                   and in selftests/build/e2e/ the nested guest's test,
#                   e2e.sh, which demo_guest.sh runs with --demo, and its
#                   initramfs)
#   4 VM run        selftests/vm/run.sh with the demo's own lists:
#                   VM_TESTS_LIST=selftests/demo/tests.list,
#                   VM_TESTS_DIR=selftests/demo/build,
#                   VM_MODULES_LIST=build/demo/modules.list
#
# The steps are in scripts/vm-program.sh (shared with scripts/bench.sh).
# Build output goes to build/demo/*.log (its tail is shown on failure); the
# VM run's full TAP to build/demo/vm.tap.  Exit status 0 iff every step and
# every case in the VM passed.  Run as root on Debian 12.
# Environment: KDIR (default: scripts/find-kdir.sh), DEMO_VM_TIMEOUT
# (seconds for the VM run, default 1200), and run.sh's VM_* variables.
set -euo pipefail

NAME=demo
PROG=vhost_accel_demo
# The raw datapath rate, then a real Linux guest on each backend.
PROGS="vhost_accel_demo demo_guest.sh"
# shellcheck source=scripts/vm-program.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm-program.sh"

vmp_init
vmp_build
vmp_modules_list
rc=0
# iperf3's and ping's own report lines stay in vm.tap: the cases and the
# table say it.
IPERF_LINES='^(# (\[ *([0-9]+|ID)\]|- - -|Connecting to|Reverse mode|iperf Done|$)|PING |64 bytes from|--- .* ping statistics|[0-9]+ packets transmitted|rtt min|$)'
vmp_run "${DEMO_VM_TIMEOUT:-1200}" "$IPERF_LINES" || rc=$?

if ((rc == 0)); then
	say "PASSED in $((SECONDS - T_START)) s"
else
	say "FAILED (exit $rc) after $((SECONDS - T_START)) s"
fi
exit "$rc"
