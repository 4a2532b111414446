#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel build directory to build against, then a tab and why it
# was chosen.  Order: the running kernel's build dir; otherwise Debian's
# default headers (linux-headers-amd64) when their image is installed;
# otherwise the newest installed Debian headers that have a matching kernel
# image in /boot (so the VM tests can boot what we built for); otherwise the
# newest headers at all.
set -eu

running=/lib/modules/$(uname -r)/build
if [ -d "$running" ]; then
	printf '%s\trunning kernel %s\n' "$running" "$(uname -r)"
	exit 0
fi

# Debian's default kernel: what the linux-headers-amd64 metapackage points
# to (6.1 on Debian 12, even when newer backports headers are installed).
default=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
	  sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p')
if [ -n "$default" ] && [ -d "/usr/src/$default" ] &&
   [ -e "/boot/vmlinuz-${default#linux-headers-}" ]; then
	printf '%s\tDebian default kernel headers (%s)\n' "/usr/src/$default" \
		"${default#linux-headers-}"
	exit 0
fi

best=
bootable=
for d in $(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V); do
	best=$d
	kver=${d#/usr/src/linux-headers-}
	[ -e "/boot/vmlinuz-$kver" ] && bootable=$d
done

if [ -n "$bootable" ]; then
	printf '%s\tnewest Debian headers with an installed image (%s)\n' \
		"$bootable" "${bootable#/usr/src/linux-headers-}"
elif [ -n "$best" ]; then
	printf '%s\tnewest installed Debian headers (%s, no image)\n' \
		"$best" "${best#/usr/src/linux-headers-}"
else
	echo "no kernel headers found: install linux-headers-$(uname -r) or run 'make deps'" >&2
	exit 1
fi
