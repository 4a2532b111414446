#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel's checkpatch.pl over our sources: kernel code in drivers/,
# include/ and compat/, and the user-space selftests.  Any ERROR or WARNING
# fails (checkpatch's default level: CHECKs are --strict only and not run).
# Used by `make checkpatch`.
#
# checkpatch.pl is not packaged on its own in Debian, so it is taken from
# the newest installed linux-source-*.tar.xz (scripts/deps.sh installs
# linux-source-6.1) and cached under build/checkpatch/.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$TOP/build/checkpatch
cd "$TOP"

# Types that only make sense for kernel code, ignored for user space:
#  PREFER_DEFINED_ATTRIBUTE_MACRO  __packed, __printf() etc. are kernel macros
#  PREFER_FALLTHROUGH              the `fallthrough` macro is kernel-only
#  SSCANF_TO_KSTRTO                there is no kstrto*() in libc
#  STRLCPY                         strscpy() is kernel-only
#  ENOSYS                          a test may rightly expect ENOSYS from a
#                                  syscall; the rule is about kernel returns
#  MACRO_WITH_FLOW_CONTROL         kselftest_harness.h is built on macros
#                                  that return (ASSERT_*, SKIP(return, ..)),
#                                  and so are helpers wrapping them
USER_IGNORE=PREFER_DEFINED_ATTRIBUTE_MACRO,PREFER_FALLTHROUGH,SSCANF_TO_KSTRTO
USER_IGNORE+=,STRLCPY,ENOSYS,MACRO_WITH_FLOW_CONTROL

# compat/ is, by design, the one place that tests kernel versions;
# checkpatch also misreads
# `LINUX_VERSION_CODE >= KERNEL_VERSION(..)` as a constant on the left.
COMPAT_IGNORE=LINUX_VERSION_CODE,CONSTANT_COMPARISON

# --- get checkpatch.pl --------------------------------------------------------

# 6.1's, the kernel the suite runs on, when installed (deps.sh also
# installs 6.12's source, for the harness check): a newer checkpatch may
# bring new rules, and those arrive as a change of their own.
tarball=/usr/src/linux-source-6.1.tar.xz
[[ -f $tarball ]] ||
	tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
[[ -f $tarball ]] || tarball=  # the glob matched nothing
if [[ -z $tarball ]]; then
	echo "checkpatch: no /usr/src/linux-source-*.tar.xz; run 'make deps'" >&2
	exit 1
fi
# Re-extract only when the tarball changed (a linux-source upgrade).
stamp="$tarball $(stat -c '%s %Y' "$tarball")"
if [[ ! -f $CACHE/checkpatch.pl || ! -f $CACHE/.stamp ||
	$(<"$CACHE/.stamp") != "$stamp" ]]; then
	echo "checkpatch: extracting checkpatch.pl from $tarball"
	# The archive's top directory (linux-source-6.1/); listing stops at the
	# first entry, so this is instant.
	topdir=$(tar -tJf "$tarball" 2>/dev/null | head -n 1 || true)
	topdir=${topdir%%/*}
	mkdir -p "$TOP/build"
	tmp=$(mktemp -d "$TOP/build/.checkpatch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# --occurrence stops reading once all three are found (~10 s instead of
	# decompressing the whole tree).  spelling.txt and
	# const_structs.checkpatch are optional for checkpatch (it only warns
	# without them), so a missing one is not fatal: check the .pl below.
	tar -xJf "$tarball" -C "$tmp" --strip-components=2 --occurrence=1 \
		"$topdir/scripts/checkpatch.pl" \
		"$topdir/scripts/spelling.txt" \
		"$topdir/scripts/const_structs.checkpatch" 2>/dev/null || true
	if [[ ! -f $tmp/checkpatch.pl ]]; then
		echo "checkpatch: $tarball has no scripts/checkpatch.pl" >&2
		exit 1
	fi
	echo "$stamp" >"$tmp/.stamp"
	# Replace the cache in one step so a concurrent run never sees half.
	rm -rf "$CACHE"
	mv "$tmp" "$CACHE"
	trap - EXIT
fi
CHECKPATCH=$CACHE/checkpatch.pl

# --- collect files ------------------------------------------------------------

# Our own sources only: git knows what is ignored (selftests/build/ holds
# copies of the kernel's kselftest headers, build/ our private kernel-tree
# copies).  Outside a git checkout, fall back to find with those pruned.
list() {
	local dir=$1
	[[ -d $dir ]] || return 0
	if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$TOP" ls-files --cached --others --exclude-standard \
			-- "$dir/*.c" "$dir/*.h" |
			while read -r f; do [[ -f $f ]] && echo "$f"; done
	else
		find "$dir" \( -name build -o -name results \) -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print
	fi | sort
}
mapfile -t kmain < <(list drivers; list include)
mapfile -t kcompat < <(list compat)
mapfile -t ufiles < <(list selftests)
kfiles=("${kmain[@]}" "${kcompat[@]}")

if ((${#kfiles[@]} == 0)); then
	echo "checkpatch: no C sources under drivers/, include/ or compat/" >&2
	exit 1
fi

# --- run ----------------------------------------------------------------------

errors=0 warnings=0 crashed=0
# run <label> <checkpatch args...> -- <files...>
run() {
	local out rc=0
	# --showfile: report file:line, not patch-relative lines; -q: silent for
	# clean files; --no-tree: we are not inside a kernel tree.
	out=$(perl "$CHECKPATCH" --no-tree --show-types --showfile -q \
		--color=never --no-summary "$@" 2>&1) || rc=$?
	[[ -z $out ]] || printf '%s\n' "$out"
	local e w
	e=$(grep -cE '(^|: )ERROR:' <<<"$out" || true)
	w=$(grep -cE '(^|: )WARNING:' <<<"$out" || true)
	errors=$((errors + e))
	warnings=$((warnings + w))
	# checkpatch exits 1 for findings; anything else is perl dying, and
	# "exit 1 but nothing counted" means output we failed to parse.
	if ((rc > 1 || (rc == 1 && e + w == 0))); then
		echo "checkpatch: checkpatch.pl failed (exit $rc)" >&2
		crashed=1
	fi
}

((${#kmain[@]} == 0)) || run -f "${kmain[@]}"
((${#kcompat[@]} == 0)) || run --ignore "$COMPAT_IGNORE" -f "${kcompat[@]}"
if ((${#ufiles[@]})); then
	run --ignore "$USER_IGNORE" -f "${ufiles[@]}"
fi

total=$((${#kfiles[@]} + ${#ufiles[@]}))
echo "checkpatch: $total files (${#kfiles[@]} kernel, ${#ufiles[@]} selftests)," \
	"$errors errors, $warnings warnings"
if ((errors + warnings > 0 || crashed)); then
	exit 1
fi
