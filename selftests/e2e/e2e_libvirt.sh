#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest started by libvirtd on /dev/vhost-accel (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu 7.2 --via libvirt
