#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Compile the modules against every installed Debian header tree
# (/usr/src/linux-headers-*-amd64), so an API change in a newer kernel
# breaks `make check` here rather than on a user's machine.  With WERROR=1
# in the environment (make check passes it; `make WERROR=1 kernels`), W=1
# with warnings as errors.  Prints `ok build <kver>` / `not ok build <kver>` per kernel and
# exits non-zero if any failed.  Used by `make kernels`.
#
#   scripts/build-all-kernels.sh [--src DIR]
#
# --src builds another module tree (Kbuild + sources) instead of this
# repository's; it exists to test this script.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$TOP
while (($#)); do
	case $1 in
	--src)
		SRC=$(cd "${2:?--src needs a directory}" && pwd)
		shift 2
		;;
	-h | --help)
		sed -n '3,13p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--src DIR]" >&2
		exit 2
		;;
	esac
done

OUT=$TOP/build/kernels
# Bounded: one kernel's build never takes minutes; a hang must not eat the
# CI budget.
PER_KERNEL_TIMEOUT=${PER_KERNEL_TIMEOUT:-600}
JOBS=$(nproc 2>/dev/null || echo 2)

# Header trees with a Makefile (a half-removed package leaves an empty dir).
kdirs=()
for d in /usr/src/linux-headers-*-amd64; do
	[[ -f $d/Makefile ]] && kdirs+=("$d")
done
if ((${#kdirs[@]})); then
	mapfile -t kdirs < <(printf '%s\n' "${kdirs[@]}" | sort -V)
fi

# The point is coverage of an old and a new kernel API: Debian 12's 6.1 and
# the 6.12 headers from bookworm-backports (scripts/deps.sh installs both).
have_61='' have_612=''
for d in "${kdirs[@]}"; do
	case ${d#/usr/src/linux-headers-} in
	6.1.*) have_61=1 ;;
	6.12.*) have_612=1 ;;
	esac
done
if ((${#kdirs[@]} < 2)) || [[ -z $have_61 || -z $have_612 ]]; then
	echo "not ok build - need Debian kernel headers for 6.1 and 6.12," \
		"found: ${kdirs[*]:-none}; run 'make deps'" >&2
	exit 1
fi

# What a module build needs from the tree; out-of-tree builds write their
# objects next to the sources, so every kernel gets its own copy.  Build
# products in the source tree (from a plain `make`) are not copied: their
# .cmd files belong to another kernel.
ITEMS=()
for f in Kbuild Makefile VERSION compat drivers include; do
	[[ -e $SRC/$f ]] && ITEMS+=("$f")
done
if [[ ! -f $SRC/Kbuild ]]; then
	echo "not ok build - no Kbuild in $SRC" >&2
	exit 1
fi

copy_tree() {
	local dest=$1
	# A fresh copy each time: a file deleted or renamed in the source must
	# not linger in the copy.  The module is small; a full rebuild is cheap.
	rm -rf "$dest"
	mkdir -p "$dest"
	tar -C "$SRC" -c \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='*.cmd' --exclude='*.a' \
		--exclude='*.d' --exclude='*.dwo' --exclude='*.symvers' \
		--exclude='modules.order' --exclude='.tmp_versions' \
		"${ITEMS[@]}" | tar -C "$dest" -x
}

WFLAGS=()
[[ ${WERROR:-} != 1 ]] || WFLAGS=(W=1 KCFLAGS=-Werror)

failed=0
for kdir in "${kdirs[@]}"; do
	kver=${kdir#/usr/src/linux-headers-}
	dest=$OUT/$kver
	log=$OUT/$kver.log
	copy_tree "$dest"
	rc=0
	timeout --kill-after=10 "$PER_KERNEL_TIMEOUT" \
		make -C "$kdir" M="$dest" "${WFLAGS[@]}" -j"$JOBS" modules \
		>"$log" 2>&1 </dev/null || rc=$?
	# A build that "succeeds" without producing a module (e.g. an empty
	# obj-m) proves nothing.
	if ((rc == 0)) && [[ -z $(find "$dest" -name '*.ko' -print -quit) ]]; then
		echo "no .ko produced" >>"$log"
		rc=1
	fi
	if ((rc == 0)); then
		echo "ok build $kver"
	else
		((rc == 124)) && echo "timed out after ${PER_KERNEL_TIMEOUT}s" >>"$log"
		echo "not ok build $kver (log: ${log#"$TOP"/})"
		# The compiler's diagnostics, then the end of the log.
		{
			grep -E 'error:|warning:' "$log" | head -n 30
			echo "..."
			tail -n 15 "$log"
		} | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done

if ((failed)); then
	echo "build-all-kernels: $failed of ${#kdirs[@]} kernels failed" >&2
	exit 1
fi
