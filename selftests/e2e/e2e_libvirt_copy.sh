#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest started by libvirtd with a type='bridge' and a type='direct'
# interface (on a veth), both on /dev/vhost-accel: the copying datapath
# (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu 7.2 --via libvirt --copy
