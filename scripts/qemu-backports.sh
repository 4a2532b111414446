#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# QEMU 10.0 from bookworm-backports in a private prefix beside the system's
# QEMU 7.2, which stays untouched: the .debs are fetched with
# `apt-get download` and unpacked with `dpkg -x` under build/qemu-10.0/
# (gitignored), and build/qemu-10.0/bin/qemu-system-x86_64 is a wrapper that
# points QEMU at the prefix's firmware.  The nested end-to-end test
# (selftests/e2e/e2e_qemu10.sh) runs with it; the test VM sees this tree
# read-only over 9p.  Used by `make deps` and, with --if-missing, in front
# of every make target (a file test when the prefix is there).
#
#   scripts/qemu-backports.sh               (re)check, unpack if needed
#   scripts/qemu-backports.sh --if-missing  unpack only if absent
#   scripts/qemu-backports.sh --check       exit 1 if absent or broken
#
# The backports apt source is the one scripts/deps.sh writes from this
# machine's own mirror; this script writes no source and installs nothing
# system-wide.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=bookworm-backports
SERIES=10.0
DEST=${QEMU10_DIR:-$TOP/build/qemu-$SERIES}
WRAPPER=$DEST/bin/qemu-system-x86_64
STAMP=$DEST/.unpacked
# What bookworm lacks: QEMU 10.0 itself (the emulator, its common files and
# firmware data) and the SeaBIOS it depends on (>> 1.16.3; bookworm has
# 1.16.2).  Every shared library it links is in bookworm (checked below).
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

mode=full
case "${1:-}" in
"") ;;
--if-missing) mode=if-missing ;;
--check) mode=check ;;
*)
	echo "usage: $0 [--if-missing|--check]" >&2
	exit 2
	;;
esac

# works: the wrapper runs and reports SERIES
works() {
	[[ -x $WRAPPER ]] || return 1
	"$WRAPPER" --version 2>/dev/null | head -1 | grep -q "version $SERIES\."
}

if [[ $mode == if-missing && -f $STAMP ]]; then
	exit 0
fi
if [[ $mode != full ]] && works; then
	exit 0
fi
if [[ $mode == check ]]; then
	echo "qemu-backports: no working QEMU $SERIES in $DEST" >&2
	exit 1
fi

dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
# apt's download sandbox user must be able to write there
chmod 755 "$dl"
fetch() {
	(cd "$dl" && apt-get -q download "${PKGS[@]/%//$SUITE}") >"$dl/log" 2>&1
}
if ! fetch; then
	# the lists may predate the backports source deps.sh adds
	if [[ $(id -u) -eq 0 ]]; then
		apt-get -q update >/dev/null 2>&1 || true
	fi
	if ! fetch; then
		cat "$dl/log" >&2
		echo "qemu-backports: cannot download ${PKGS[*]} from $SUITE" \
			"(run make deps: it adds $SUITE to the apt sources)" >&2
		exit 1
	fi
fi
deb=$(ls "$dl"/qemu-system-x86_*.deb)
ver=$(dpkg-deb -f "$deb" Version)
case $ver in
*:$SERIES.*) ;;
*)
	echo "qemu-backports: $SUITE now has qemu-system-x86 $ver, not $SERIES;" \
		"update SERIES in $0" >&2
	exit 1
	;;
esac

rm -rf "$DEST"
mkdir -p "$DEST/root" "$DEST/bin"
for deb in "$dl"/*.deb; do
	dpkg -x "$deb" "$DEST/root"
done
missing=$(ldd "$DEST/root/usr/bin/qemu-system-x86_64" | awk '/not found/ { print $1 }')
if [[ -n $missing ]]; then
	echo "qemu-backports: libraries missing on this system: $missing" >&2
	exit 1
fi

# -L: the prefix's option ROMs and SeaBIOS first; QEMU's built-in firmware
# path (the system's /usr/share/qemu, seabios, ipxe) still follows, which
# gives the iPXE ROMs (bookworm's ipxe-qemu satisfies 10.0's dependency).
cat >"$WRAPPER" <<EOF
#!/bin/sh
# QEMU $ver unpacked from $SUITE by scripts/qemu-backports.sh
P=\$(dirname "\$0")/../root
exec "\$P/usr/bin/qemu-system-x86_64" -L "\$P/usr/share/qemu" \\
	-L "\$P/usr/share/seabios" "\$@"
EOF
chmod 755 "$WRAPPER"
if ! works; then
	"$WRAPPER" --version >&2 || true
	echo "qemu-backports: $WRAPPER does not run as QEMU $SERIES" >&2
	exit 1
fi
echo "$ver" >"$STAMP"
echo "qemu-backports: $("$WRAPPER" --version | head -1) in $DEST"
