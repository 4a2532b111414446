#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install every Debian package that building, testing and demonstrating
# vhost-accel needs.  Used by `make deps` (always installs) and, with
# --if-missing, by the targets that run the tests or boot the VM (make
# check, vm-tests, demo, bench, fuzz, check-debug; it checks in well under
# a second, with no apt call, and installs only when something is absent).
# A plain `make` (and sparse, checkpatch, kernels, selftests, install)
# never calls it: building needs only the kernel headers.
#
#   scripts/deps.sh               apt-get update + install everything
#   scripts/deps.sh --if-missing  install only if something is missing
#   scripts/deps.sh --check       only report what is missing (exit 1 if any)
#
# Two kernels are wanted: Debian 12's own 6.1 (image + headers: the VM tests
# boot it and load the modules we built against it) and the 6.12 headers from
# bookworm-backports (compile coverage for a newer kernel API).  We ask for
# the 6.12 headers only, but Debian's headers package Depends on its image,
# so apt installs linux-image-6.12.* too.  linux-image-amd64 stays 6.1, but
# on a real host with GRUB the newest image becomes the default boot entry:
# set GRUB_DEFAULT there if that matters.  The backports source reuses the
# mirror that this machine's apt sources already use, read at run time, so
# no mirror host name is ever written into the repository.
set -euo pipefail

# Debian release whose backports carry the second kernel, and that kernel's
# series.  The brief verified 6.12 there; if backports moves on, the install
# step below says so instead of silently installing something else.
CODENAME=bookworm
BPO_SUITE=$CODENAME-backports
BPO_SERIES=6.12
BPO_SOURCE=/etc/apt/sources.list.d/vhost-accel-backports.sources

# Packages from the release itself.  We install with --no-install-recommends
# (fast, reproducible CI), so things that are only Recommends elsewhere are
# listed explicitly: libc6-dev (gcc's Recommends; selftests need it).
PKGS=(
	# kernel to boot in the VM, its matching headers, and the full source
	# (checkpatch.pl, kselftest headers, a debug kernel if ever wanted)
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
	# out-of-tree module build and static checks
	gcc make libc6-dev libelf-dev bc flex bison sparse perl
	# unpacking linux-source (xz) and compressed modules/initramfs (zstd)
	xz-utils zstd
	# VM test harness: TCG guest, busybox initramfs, modules, networking
	qemu-system-x86 busybox-static cpio kmod iproute2 iperf3
	# NIC counters (ethtool -S) and ping in the datapath tests
	ethtool iputils-ping
	# scripts/ynl-check.sh: the kernel's YNL tools on our netlink spec
	python3-yaml python3-jsonschema
	# libvirt's QEMU driver for selftests/e2e/e2e_libvirt.sh (libvirtd,
	# virsh, virt-xml-validate); QEMU 10.0 is unpacked beside 7.2 by
	# scripts/qemu-backports.sh, never installed
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	# (-system: the libvirt-qemu user libvirtd resolves before reading
	# qemu.conf; it enables, not starts, the daemons under systemd)
	libvirt-daemon-system
	apparmor	# e2e_libvirt.sh's confined QEMU: apparmor_parser, aa-exec
	# DKMS and the Debian package (scripts/check-dkms.sh)
	dkms dh-dkms debhelper
)

# Files that must exist besides the packages (cheap sanity check that a
# package's payload was not removed by hand).
FILES=(
	/usr/src/linux-source-6.1.tar.xz
	/bin/busybox
)
CMDS=(gcc make sparse perl qemu-system-x86_64 cpio xz zstd iperf3 ip ethtool ping)
CMDS+=(libvirtd virsh virt-xml-validate)

mode=install
case "${1:-}" in
"") ;;
--if-missing) mode=if-missing ;;
--check) mode=check ;;
-h | --help)
	sed -n '3,14p' "$0"
	exit 0
	;;
*)
	echo "usage: $0 [--if-missing|--check]" >&2
	exit 2
	;;
esac

# Print the names of whatever is missing, space separated (empty if none).
# Only dpkg-query and file tests: this runs before every make target.
missing() {
	local -A have=()
	local p s
	# one dpkg-query for all packages; the glob finds the backports headers
	# under whatever exact ABI name (6.12.NN+bpo) they have
	while read -r p s; do
		[[ $s == ii* ]] && have[$p]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
		"${PKGS[@]}" "linux-headers-$BPO_SERIES.*-amd64" 2>/dev/null || true)

	local out=()
	for p in "${PKGS[@]}"; do
		[[ -n ${have[$p]:-} ]] || out+=("$p")
	done

	# 6.12 headers: an installed package and a usable tree in /usr/src
	local bpo_ok=
	for p in "${!have[@]}"; do
		[[ $p == linux-headers-$BPO_SERIES.*-amd64 ]] || continue
		[[ -f /usr/src/$p/Makefile ]] && bpo_ok=1
	done
	[[ -n $bpo_ok ]] || out+=("linux-headers-$BPO_SERIES-amd64($BPO_SUITE)")

	[[ -f /usr/src/linux-source-$BPO_SERIES.tar.xz ]] ||
		out+=("linux-source-$BPO_SERIES($BPO_SUITE)")

	local f
	for f in "${FILES[@]}"; do
		[[ -e $f ]] || out+=("$f")
	done
	for f in "${CMDS[@]}"; do
		command -v "$f" >/dev/null 2>&1 || out+=("command:$f")
	done
	echo "${out[*]}"
}

if [[ $mode != install ]]; then
	m=$(missing)
	if [[ -z $m ]]; then
		exit 0
	fi
	echo "deps: missing: $m"
	[[ $mode == check ]] && exit 1
fi

# Installing needs root: re-exec through sudo when we can (keeping the mode
# so the child re-checks cheaply), otherwise say what to do.
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		echo "deps: not root, re-running under sudo" >&2
		exec sudo -- bash "$0" "$@"
	fi
	echo "deps: installing packages needs root and sudo is not available;" \
		"run 'make deps' (or $0) as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for a dpkg lock held by e.g. unattended-upgrades on a fresh machine
# instead of failing at once.
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600
	-o APT::Get::Upgrade-By-Source-Package=false)

# Print "URI<TAB>Components<TAB>Signed-By" for the first enabled deb source
# of $CODENAME itself (not -updates/-security), from deb822 *.sources files
# first, then one-line *.list files.  Also exits 3 from the awk if a source
# for $BPO_SUITE already exists outside our own file.
find_mirror() {
	local files=() f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f && $f != "$BPO_SOURCE" ]] && files+=("$f")
	done
	local out rc
	if ((${#files[@]})); then
		rc=0
		out=$(awk -v want="$CODENAME" -v bpo="$BPO_SUITE" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
				n = split(suites, s, " ")
				for (i = 1; i <= n; i++) {
					if (s[i] == bpo) has_bpo = 1
					if (s[i] == want && uri == "") {
						split(uris, u, " ")
						uri = u[1]; comp = comps; key = signed
					}
				}
			}
			types = suites = uris = comps = signed = enabled = ""
			field = ""
		}
		FNR == 1 { flush() }	# a new file ends a stanza (mawk: no ENDFILE)
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { next }		# continuation (e.g. inline key)
		{
			i = index($0, ":"); if (!i) next
			field = tolower(substr($0, 1, i - 1))
			val = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
			gsub(/[ \t]+/, " ", val)
			if (field == "types") types = val
			else if (field == "suites") suites = val
			else if (field == "uris") uris = val
			else if (field == "components") comps = val
			else if (field == "signed-by") signed = val
			else if (field == "enabled") enabled = val
		}
		END {
			flush()
			if (has_bpo) exit 3
			if (uri != "") printf "%s\t%s\t%s\n", uri, comp, key
		}' "${files[@]}") || rc=$?
		# found (or backports already configured): done; else try *.list
		if ((rc != 0)) || [[ -n $out ]]; then
			[[ -z $out ]] || echo "$out"
			return "$rc"
		fi
	fi
	files=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] && files+=("$f")
	done
	((${#files[@]})) || return 0
	awk -v want="$CODENAME" -v bpo="$BPO_SUITE" '
	/^[ \t]*deb[ \t]/ {
		line = $0
		sub(/#.*/, "", line)
		sub(/^[ \t]+/, "", line)
		sub(/[ \t]+$/, "", line)
		key = ""
		if (match(line, /\[[^]]*\]/)) {
			opts = substr(line, RSTART + 1, RLENGTH - 2)
			line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
			if (match(opts, /signed-by=[^ \t]+/))
				key = substr(opts, RSTART + 10, RLENGTH - 10)
		}
		n = split(line, w, /[ \t]+/)
		if (w[3] == bpo) has_bpo = 1
		if (w[3] == want && uri == "") {
			uri = w[2]; comp = ""; ukey = key
			for (i = 4; i <= n; i++) comp = comp (comp == "" ? "" : " ") w[i]
		}
	}
	END {
		if (has_bpo) exit 3
		if (uri != "") printf "%s\t%s\t%s\n", uri, comp, ukey
	}' "${files[@]}"
}

# Add (or refresh) our backports source, reusing the release's mirror.
ensure_backports_source() {
	local info rc=0
	info=$(find_mirror) || rc=$?
	if ((rc == 3)); then
		# The admin already has backports configured: a second entry
		# would only make apt warn about duplicates.
		echo "deps: $BPO_SUITE already configured in apt sources"
		rm -f "$BPO_SOURCE"
		return 0
	elif ((rc != 0)); then
		return "$rc"
	fi
	if [[ -z $info ]]; then
		echo "deps: no '$CODENAME' Debian source found in /etc/apt;" \
			"cannot derive the mirror for $BPO_SUITE" >&2
		exit 1
	fi
	local uri comps key
	IFS=$'\t' read -r uri comps key <<<"$info"
	[[ -n $comps ]] || comps=main
	# Reuse the release's keyring only when it is a file path (an inline
	# key block cannot be copied this simply); the archive keyring signs
	# backports as well.
	if [[ $key != /* ]]; then
		key=
		[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] &&
			key=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	local want
	want=$(
		echo "# Added by vhost-accel scripts/deps.sh: $CODENAME-backports from the"
		echo "# same mirror as this machine's $CODENAME source, for kernel headers"
		echo "# (compile coverage only).  Safe to remove."
		echo "Types: deb"
		echo "URIs: $uri"
		echo "Suites: $BPO_SUITE"
		echo "Components: $comps"
		[[ -z $key ]] || echo "Signed-By: $key"
	)
	if [[ ! -f $BPO_SOURCE || $(<"$BPO_SOURCE") != "$want" ]]; then
		echo "deps: writing $BPO_SOURCE ($BPO_SUITE from $uri)"
		printf '%s\n' "$want" >"$BPO_SOURCE"
	fi
}

ensure_backports_source
"${APT[@]}" update
# --no-upgrade: installing is our business, upgrading the admin's (and it
# keeps the linux-image-amd64/linux-headers-amd64 pair as it is).
"${APT[@]}" install --no-install-recommends --no-upgrade "${PKGS[@]}"

# The backports headers: install the versioned package that backports'
# linux-headers-amd64 points at, never that metapackage (nor -t, which makes
# all of backports the target release): either would move the
# linux-image-amd64/linux-headers-amd64 pair, linux-libc-dev and linux-perf
# to 6.12 (apt upgrades binaries of one source package together) and leave
# the 6.1 kernel the VM tests boot to autoremove.  The versioned package and
# its -common/linux-kbuild exist only in backports, so apt finds them there
# without -t.  Note: Debian's headers package Depends on its image
# (signed or -unsigned), so the 6.12 image comes along; nothing boots it.
bpo_ver=$(apt-cache madison linux-headers-amd64 |
	awk -F'|' -v s=" $BPO_SUITE/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
bpo_pkg=
if [[ -n $bpo_ver ]]; then
	bpo_pkg=$(apt-cache depends "linux-headers-amd64=$bpo_ver" |
		awk '$1 == "Depends:" && $2 ~ /^linux-headers-.*-amd64$/ { print $2; exit }')
fi
if [[ -z $bpo_pkg ]]; then
	echo "deps: cannot find linux-headers-amd64 in $BPO_SUITE" >&2
	exit 1
fi
if [[ $bpo_pkg != linux-headers-$BPO_SERIES.*-amd64 ]]; then
	echo "deps: $BPO_SUITE now has $bpo_pkg, not $BPO_SERIES;" \
		"update BPO_SERIES in $0" >&2
	exit 1
fi
# Its source too: the tests are also built against 6.12's kselftest
# harness (make -C selftests harness-check); like the headers, the package
# exists only in backports.
"${APT[@]}" install --no-install-recommends --no-upgrade "$bpo_pkg" \
	"linux-source-$BPO_SERIES"

m=$(missing)
if [[ -n $m ]]; then
	echo "deps: still missing after install: $m" >&2
	exit 1
fi
echo "deps: all present (6.1 image+headers, $bpo_pkg, linux-source-$BPO_SERIES, tools)"
