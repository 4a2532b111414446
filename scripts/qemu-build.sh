#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make qemu: build a QEMU with the `-netdev vhost-accel` backend from
# qemu-patches/ (Documentation/qemu-patches.rst).
#
#   scripts/qemu-build.sh [--fetch] [VERSION]
#       VERSION: a directory of qemu-patches/ (default 7.2, Debian 12's QEMU)
#       --fetch: only fetch the pristine source (to write or refresh patches)
#
# Steps: fetch Debian's qemu source package with apt-get source (a deb-src
# list derived at run time from this machine's own apt sources, kept under
# build/, so no mirror name is ever written into the repository), install the
# few build dependencies that are missing (for 10.0: meson and pycotap from
# bookworm-backports, unpacked under build/), apply the series with patch -p1,
# configure only the x86_64 system emulator with everything optional off,
# build the emulator niced on 2 jobs, install it into
# build/qemu-accel/<VERSION>/prefix/bin.
# A second run with the same series and script does nothing.
set -euo pipefail
shopt -s extglob

TOP=$(cd "$(dirname "$0")/.." && pwd)
FETCH_ONLY=
if [[ ${1:-} == --fetch ]]; then
	FETCH_ONLY=1
	shift
fi
VERSION=${1:-7.2}
PATCHES=$TOP/qemu-patches/$VERSION
OUT=$TOP/build/qemu-accel
WORK=$OUT/$VERSION
PREFIX=$WORK/prefix
BIN=$PREFIX/bin/qemu-system-x86_64
JOBS=${QEMU_BUILD_JOBS:-2}

# Debian suite and source version prefix for each series we ship.
# PYTOOLS: Python packages configure needs in a newer version than Debian 12
# has, taken from bookworm-backports as .debs and unpacked under $WORK/pytools
# (nothing installed system-wide, so the 7.2 build keeps bookworm's meson).
# CONF_EXTRA: configure options of this version only.
PYTOOLS=()
CONF_EXTRA=()
case $VERSION in
7.2)
	SUITE=bookworm
	SRCVER_GLOB='1:7.2+dfsg-*'
	BUILD_MESON=(meson)
	;;
10.0)
	SUITE=bookworm-backports
	SRCVER_GLOB='1:10.0.*'
	# configure's pythondeps.toml: meson >= 1.5 (bookworm: 1.0.1) and
	# pycotap >= 1.1 (bookworm: none); the +ds tarball ships no
	# python/wheels to fall back on.  Debian's python, not one earlier
	# in PATH, so the venv configure makes sees the same packages.
	PYTOOLS=(meson python3-pycotap)
	BUILD_MESON=(python3-setuptools)
	# The +ds tarball has no firmware images to install (Debian's
	# package takes them from seabios, ipxe-qemu...): --firmwarepath
	# below does the same.
	CONF_EXTRA=(--python=/usr/bin/python3 --disable-download
		--disable-install-blobs)
	;;
*)
	echo "qemu-build: no series for QEMU '$VERSION' in qemu-patches/" >&2
	exit 2
	;;
esac
[[ -d $PATCHES ]] || {
	echo "qemu-build: $PATCHES missing" >&2
	exit 2
}

log() { echo "qemu-build: $*"; }

# The stamp names everything the result depends on: the series, this
# script and the source package version; equal stamp means up to date.
stamp_want() {
	{
		cat "$PATCHES"/*.patch
		cat "$0"
		cat "$WORK/srcver" 2>/dev/null || true
	} | sha256sum | cut -d' ' -f1
}

# build/qemu-accel/current: the version built last, which the end-to-end
# test (selftests/e2e/e2e_qemu_patched.sh) runs.
mark_current() {
	ln -sfn "$VERSION" "$OUT/current"
}

if [[ -z $FETCH_ONLY && -x $BIN && -f $WORK/stamp && $(<"$WORK/stamp") == "$(stamp_want)" ]]; then
	log "up to date: $BIN"
	mark_current
	exit 0
fi

mkdir -p "$WORK"

# --- private apt configuration: deb-src twins of the machine's sources ---
APTDIR=$OUT/apt
APT_OPTS=(-o "Dir::Etc::SourceList=$APTDIR/sources.list"
	-o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
	-o "Dir::State::Lists=$APTDIR/lists"
	-o "Dir::Cache=$APTDIR/cache"
	-o "DPkg::Lock::Timeout=600")

# Print deb-src versions of every enabled deb source of the release (and its
# backports, which deps.sh adds from the same mirror): deb822 stanzas get
# their Types rewritten, one-line entries their keyword.
derive_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk '
		/^[ \t]*$/ { if (st != "") print st "\n"; st = ""; next }
		/^[ \t]*#/ { next }
		tolower($1) == "types:" { $0 = "Types: deb-src" }
		{ st = st (st == "" ? "" : "\n") $0 }
		END { if (st != "") print st "\n" }' "$f"
	done >"$APTDIR/sources.list.d/derived.sources"
	: >"$APTDIR/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		sed -n 's/^[ \t]*deb\([ \t]\)/deb-src\1/p' "$f"
	done >>"$APTDIR/sources.list"
}

fetch_source() {
	mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" \
		"$APTDIR/cache/archives/partial"
	derive_sources
	if ! grep -qs "$SUITE" "$APTDIR/sources.list" \
		"$APTDIR/sources.list.d/derived.sources"; then
		log "no apt source for $SUITE on this machine" \
			"(bookworm-backports comes from 'make deps')" >&2
		exit 1
	fi
	log "apt-get update (private deb-src lists under $APTDIR)"
	apt-get -q "${APT_OPTS[@]}" update >"$APTDIR/update.log" 2>&1 || {
		cat "$APTDIR/update.log" >&2
		exit 1
	}
	local ver
	ver=$(apt-cache "${APT_OPTS[@]}" showsrc qemu |
		awk '$1 == "Version:" { print $2 }' |
		while read -r v; do
			# shellcheck disable=SC2053
			if [[ $v == $SRCVER_GLOB ]]; then echo "$v"; fi
		done | sort -uV | tail -1)
	if [[ -z $ver ]]; then
		log "no qemu source $SRCVER_GLOB in $SUITE" >&2
		exit 1
	fi
	if [[ -f $WORK/srcver && -d $WORK/pristine &&
		$(<"$WORK/srcver") == "$ver"?(" (orig tarball only)") ]]; then
		return 0
	fi
	log "apt-get source qemu=$ver"
	rm -rf "$WORK/dl" "$WORK/pristine"
	mkdir -p "$WORK/dl"
	local orig
	if ! (cd "$WORK/dl" && apt-get -q "${APT_OPTS[@]}" source \
		--only-source "qemu=$ver" >"$WORK/source.log" 2>&1); then
		# A mirror that serves the upstream tarball but not the .dsc
		# and Debian diff (seen for bookworm-backports' qemu): build
		# the upstream source, and say so.
		orig=$(find "$WORK/dl" -maxdepth 1 -name 'qemu_*.orig.tar.*' | head -1)
		if [[ -z $orig ]]; then
			cat "$WORK/source.log" >&2
			exit 1
		fi
		grep -E '^(E|Err):' "$WORK/source.log" >&2 || true
		log "WARNING: no .dsc/Debian diff for qemu=$ver: using" \
			"$(basename "$orig") without Debian's patches" >&2
		tar -xf "$orig" -C "$WORK/dl" --no-same-owner
		ver="$ver (orig tarball only)"
	fi
	local d
	d=$(find "$WORK/dl" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -1)
	[[ -n $d ]] || {
		log "apt-get source left no qemu-* directory" >&2
		exit 1
	}
	mv "$d" "$WORK/pristine"
	rm -rf "$WORK/dl"
	echo "$ver" >"$WORK/srcver"
}

# Build dependencies of the minimal configuration only (the package's own
# Build-Depends pull in ~300 packages for features we switch off).
BUILD_DEPS=(gcc make ninja-build "${BUILD_MESON[@]}" pkg-config python3
	python3-venv libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev)

install_build_deps() {
	local miss=() p s
	local -A have=()
	while read -r p s; do
		[[ $s == ii* ]] && have[$p]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
		"${BUILD_DEPS[@]}" 2>/dev/null || true)
	for p in "${BUILD_DEPS[@]}"; do
		[[ -n ${have[$p]:-} ]] || miss+=("$p")
	done
	((${#miss[@]})) || return 0
	log "installing build dependencies: ${miss[*]}"
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo --)
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -y -q \
		-o DPkg::Lock::Timeout=600 install --no-install-recommends \
		--no-upgrade "${miss[@]}"
}

# PYTOOLS from $SUITE with the machine's own apt sources (make deps adds
# bookworm-backports from the machine's mirror): `apt-get download` and
# `dpkg -x` into $PYDIR, which configure and ninja see through PYTHONPATH.
PYDIR=$WORK/pytools
PYSITE=$PYDIR/usr/lib/python3/dist-packages
fetch_pytools() {
	((${#PYTOOLS[@]})) || return 0
	local want have
	want="${PYTOOLS[*]} from $SUITE"
	have=$(cat "$PYDIR/.unpacked" 2>/dev/null || true)
	[[ $have == "$want" ]] && return 0
	log "fetching ${PYTOOLS[*]} from $SUITE into $PYDIR"
	local dl
	dl=$(mktemp -d)
	# apt's download sandbox user must be able to write there
	chmod 755 "$dl"
	if ! (cd "$dl" && apt-get -q download "${PYTOOLS[@]/%//$SUITE}") \
		>"$dl/log" 2>&1; then
		cat "$dl/log" >&2
		rm -rf "$dl"
		log "cannot download ${PYTOOLS[*]} from $SUITE" \
			"(make deps adds $SUITE to the apt sources)" >&2
		exit 1
	fi
	rm -rf "$PYDIR"
	mkdir -p "$PYDIR"
	local deb
	for deb in "$dl"/*.deb; do
		log "  $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
		dpkg -x "$deb" "$PYDIR"
	done
	rm -rf "$dl"
	echo "$want" >"$PYDIR/.unpacked"
}

fetch_source
if [[ -n $FETCH_ONLY ]]; then
	log "pristine source: $WORK/pristine"
	exit 0
fi
install_build_deps
fetch_pytools
if ((${#PYTOOLS[@]})); then
	export PYTHONPATH=$PYSITE${PYTHONPATH:+:$PYTHONPATH}
fi

# --- the patched source: pristine + series, kept between runs so that a
# changed series rebuilds only what it touches.  $WORK/applied holds the
# series the tree carries; a different series is reverse-applied first
# (patch sets new mtimes, so ninja sees every file that changed).
SRC=$WORK/src
BLD=$WORK/obj
APPLIED=$WORK/applied

fresh_tree() {
	rm -rf "$SRC" "$BLD" "$APPLIED"
	cp -a "$WORK/pristine" "$SRC"
	mkdir -p "$APPLIED"
	no_edk2_blobs
}

# The +ds tarball has the compressed EDK2 firmware images removed (Debian
# builds them from its own edk2 source), but 10.0's meson.build still lists
# them for an x86_64 target whenever bzip2 is installed, so setup fails on
# the missing files.  The x86 emulator boots SeaBIOS from --firmwarepath and
# needs none of them: switch the unpacking off in the build copy (never in
# pristine/, from which series are made).
no_edk2_blobs() {
	local mb=$SRC/meson.build
	grep -q '^ *unpack_edk2_blobs = bzip2.found()' "$mb" || return 0
	compgen -G "$SRC/pc-bios/edk2-*.fd.bz2" >/dev/null && return 0
	log "no EDK2 images in this source: not unpacking them"
	sed -i 's/^\( *unpack_edk2_blobs = \)bzip2.found()/\1false/' "$mb"
}

same_series() {
	diff -rq "$PATCHES" "$APPLIED" >/dev/null 2>&1
}

update_tree() {
	local p
	if [[ ! -d $SRC || ! -d $APPLIED ||
		$(cat "$WORK/src.ver" 2>/dev/null) != "$(<"$WORK/srcver")" ]]; then
		fresh_tree
		cp "$WORK/srcver" "$WORK/src.ver"
	fi
	same_series && return 0
	for p in $(find "$APPLIED" -name '*.patch' | sort -r); do
		log "reverting $(basename "$p")"
		if ! patch -d "$SRC" -p1 -R --batch --quiet <"$p"; then
			log "revert failed: starting from the pristine source"
			fresh_tree
			break
		fi
	done
	rm -f "$APPLIED"/*.patch
	for p in "$PATCHES"/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$SRC" -p1 --batch --forward --quiet <"$p"
		cp "$p" "$APPLIED/"
	done
}

update_tree

# --- configure: x86_64 system emulator (KVM and TCG, the default devices,
# vhost-net); every optional library off.  --without-default-features turns
# off every "auto" feature, vhost support among them, so the kernel vhost
# side is switched back on.  Firmware comes from Debian's own packages, as
# Debian's QEMU does (the dfsg source has no prebuilt ROMs).
CONF=(--prefix="$PREFIX" --target-list=x86_64-softmmu
	--without-default-features --enable-kvm --enable-tcg
	--enable-vhost-net --enable-vhost-kernel
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--disable-docs --disable-werror "${CONF_EXTRA[@]}")
if [[ ! -f $BLD/build.ninja || $(cat "$BLD/configure.args" 2>/dev/null) != "${CONF[*]}" ]]; then
	rm -rf "$BLD"
	mkdir -p "$BLD"
	log "configure (log: $BLD/configure.log)"
	(cd "$BLD" && "$SRC/configure" "${CONF[@]}" >configure.log 2>&1) || {
		tail -40 "$BLD/configure.log" >&2
		exit 1
	}
	echo "${CONF[*]}" >"$BLD/configure.args"
	# ninja reruns meson from configure's venv when a meson.build
	# changes: make the unpacked tools part of that venv, so a plain
	# `ninja -C obj` finds them without PYTHONPATH.
	if ((${#PYTOOLS[@]})); then
		for d in "$BLD"/pyvenv/lib/python3*/site-packages; do
			echo "$PYSITE" >"$d/qemu-accel-pytools.pth"
		done
	fi
fi

rm -f "$WORK/stamp"
start=$(date +%s)
# Only the emulator: "all" would also build the unit tests and qtests,
# twice the work.  Installing is copying it: firmware comes from
# --firmwarepath, and nothing else the tests use is installed data.
log "building qemu-system-x86_64 with -j$JOBS, niced (tens of minutes on 2 cores)"
nice -n "${QEMU_BUILD_NICE:-10}" ninja -C "$BLD" -j "$JOBS" qemu-system-x86_64 >"$BLD/build.log" 2>&1 || {
	grep -E 'error|FAILED' "$BLD/build.log" | head -40 >&2
	exit 1
}
rm -rf "$PREFIX"
install -D -m 0755 "$BLD/qemu-system-x86_64" "$BIN"
log "built in $(($(date +%s) - start)) s: $BIN"
"$BIN" -netdev help | grep -q '^vhost-accel$' || {
	log "$BIN does not list the vhost-accel netdev" >&2
	exit 1
}
stamp_want >"$WORK/stamp"
mark_current
