#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The accelerated mode of e2e_qemu.sh with QEMU 10.0 from bookworm-backports
# (unpacked into build/qemu-10.0/ by scripts/qemu-backports.sh, which
# `make deps` and `make check` run; the test VM sees it over 9p): nicsim +
# macvtap + /dev/vhost-accel with
#   -netdev tap,id=n0,fd=3,vhost=on,vhostfd=4 -device virtio-net-pci,...
# and the same checks: ping both ways, iperf3 both ways, the device's
# counters carried the traffic with nothing copied.  One nested boot.
# A missing QEMU 10.0 fails (it is installed by make check, so its absence
# is a setup bug, not a reason to skip).
#
# E2E_QEMU10 overrides the QEMU 10.0 binary (default: the wrapper under
# the repository's build/qemu-10.0/bin).

set -u

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# installed as selftests/build/e2e_qemu10.sh: the repository is two up
E2E_QEMU=${E2E_QEMU10:-$(cd "$SELF_DIR/../.." && pwd)/build/qemu-10.0/bin/qemu-system-x86_64}
# QEMU 10.0's TCG boots the L2 guest more slowly than 7.2's in the
# nested VM (220 s were not enough on a loaded host): allow more.
E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-330}
# shellcheck source=selftests/e2e/lib.sh
. "$SELF_DIR/e2e/lib.sh"

NIC=e2e10nic
NS=e2e10-accel
MV=e2e10mv0
# 1 version case, 6 common cases, 4 counter cases
PLAN=11

cleanup() {
	kill_qemu
	ip link del "$MV" 2>/dev/null
	ip link del "$NIC" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

e2e_require "$PLAN" iperf3 ethtool

ver=$("$QEMU" --version 2>&1 | head -1)
echo "# $QEMU: $ver"
if ! grep -q 'version 10\.0\.' <<<"$ver"; then
	nok "qemu 10.0 at $QEMU # run scripts/qemu-backports.sh (make deps)"
	pad 1 10 "qemu10: not reached"
	exit 1
fi
ok "qemu 10.0 at $QEMU"

tap=
if ip link add "$NIC" type nicsim && ip link set "$NIC" up &&
   setup_peer_ns "$NS" "${NIC}p"; then
	tap=$(macvtap "$MV" "$NIC")
fi
if [ -z "$tap" ]; then
	pad 1 10 "qemu10: setup failed"
elif run_guest qemu10 "$NS" tap,id=n0,fd=3,vhost=on,vhostfd=4 \
	"$tap" /dev/vhost-accel; then
	accel_counter_checks qemu10 "$QPID" "$NIC" "$MV"
else
	pad 7 4 "qemu10: guest did not come up"
fi
kill_qemu
pad 1 10 "qemu10: case not reached"

printf '# throughput (Mbit/s, nested TCG, QEMU 10.0)  guest->peer %s  peer->guest %s\n' \
	"${TPUT_qemu10_TX:-0}" "${TPUT_qemu10_RX:-0}"
echo "# $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
