#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo's real guest on each backend, installed in selftests/demo/build (e2e.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../../build/e2e/e2e.sh" --demo
