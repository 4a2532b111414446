#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# BENCH_PROFILE=1 make bench: the benchmark under `perf record -a -g`
# (cpu-clock: the emulated CPUs have no PMU), then, per thread name that
# took more than 1 % of the samples, its hottest kernel and user symbols,
# as "#" lines after the benchmark's own output.  Without perf in the VM
# the benchmark runs alone.  Exit status: the benchmark's.

cd "$(dirname "$0")" || exit 1
if ! command -v perf >/dev/null; then
	echo "# profile: no perf here (Debian: linux-perf); benchmark only"
	exec ./vhost_accel_bench
fi
data=/tmp/vhost-accel-bench.perf
perf record -q -e cpu-clock -F 1000 -a -g -o "$data" -- ./vhost_accel_bench
rc=$?
report() {
	perf report -q -i "$data" --stdio --no-children -g none "$@" 2>/dev/null
}
echo "# profile: samples per thread name (all CPUs, idle included)"
report --sort comm | head -12 | sed 's/^/# /'
for comm in $(report --sort comm | awk '$1 + 0 > 1 && $2 != "swapper" { print $2 }'); do
	echo "# profile: $comm, hottest symbols (% of its samples)"
	report --percentage relative --comms "$comm" --sort sym \
		--percent-limit 2 | head -15 | sed 's/^/# /'
done
exit "$rc"
