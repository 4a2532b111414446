#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unmodified QEMU 7.2 on /dev/vhost-accel through a tap on a bridge and a
# macvtap on a veth: the copying datapath (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu 7.2 --via qemu --copy
