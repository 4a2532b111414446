#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unmodified QEMU 7.2 on /dev/vhost-accel through a macvtap on the test VM's
# virtio-net NIC driven by virtio_net_accel (e2e.sh --nic vnic).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu 7.2 --via qemu --nic vnic
