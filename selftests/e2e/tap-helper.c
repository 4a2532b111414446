// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU tap "helper" (the qemu-bridge-helper protocol: QEMU runs
 * HELPER --use-vnet --fd=N --br=NAME and receives one fd over the unix
 * socket N) that hands QEMU the /dev/tapX of the existing macvtap NAME
 * instead of creating a tap on a bridge.  e2e_libvirt.sh needs it because
 * libvirt opens no vhost device for a TCG (type='qemu') domain, so in the
 * test VM the accelerated interface is given with <qemu:commandline>:
 *   -netdev tap,id=...,helper=tap-helper,br=MACVTAP,vhost=on,
 *	     vhostdev=/dev/vhost-accel
 * (QEMU opens the vhost device itself, the helper only the macvtap).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &fd, .iov_len = sizeof(fd) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == (ssize_t)sizeof(fd) ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	char path[64];
	unsigned int idx;
	int sock = -1, fd, i;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--fd=", 5))
			sock = atoi(argv[i] + 5);
		else if (!strncmp(argv[i], "--br=", 5))
			name = argv[i] + 5;
	}
	if (sock < 0 || !name) {
		fprintf(stderr, "usage: %s --fd=SOCKET --br=MACVTAP\n", argv[0]);
		return 1;
	}
	idx = if_nametoindex(name);
	if (!idx) {
		perror(name);
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/tap%u", idx);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	if (send_fd(sock, fd)) {
		perror("sendmsg");
		return 1;
	}
	return 0;
}
