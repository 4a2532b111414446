#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel release (what `uname -r` says when that kernel runs)
# of the kernel build directory KDIR.  That is neither "make
# kernelrelease" nor include/config/kernel.release on Debian's header
# packages (both say e.g. 6.1.192 there); utsrelease.h is right
# everywhere, the other ways are for trees without it.
#
# Usage: scripts/kernel-release.sh KDIR   (prints nothing when it cannot tell)
set -u

[ $# -eq 1 ] || { echo "usage: $0 KDIR" >&2; exit 2; }
kdir=$1
f=$kdir/include/generated/utsrelease.h
rel=''
if [ -r "$f" ]; then
	rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$f")
fi
if [ -z "$rel" ]; then
	for d in /lib/modules/*/build; do
		if [ "$(readlink -f "$d")" = "$(readlink -f "$kdir")" ]; then
			rel=$(basename "$(dirname "$d")")
			break
		fi
	done
fi
if [ -z "$rel" ]; then
	case $(basename "$(readlink -f "$kdir")") in
	linux-headers-*) rel=$(basename "$(readlink -f "$kdir")"); rel=${rel#linux-headers-} ;;
	*) rel=$(make -s -C "$kdir" kernelrelease 2>/dev/null || true) ;;
	esac
fi
echo "$rel"
