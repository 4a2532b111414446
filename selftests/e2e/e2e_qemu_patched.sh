#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The patched QEMU's own netdev, no tap (make check-qemu) (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/e2e/e2e.sh" --qemu patched
