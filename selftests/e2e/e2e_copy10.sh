#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# e2e_copy.sh with QEMU 10.0 of bookworm-backports (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu 10.0 --via qemu --copy
