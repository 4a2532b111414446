/* SPDX-License-Identifier: GPL-2.0 */
/*
 * macvtap helpers of the datapath tests: create a macvtap (or a veth) with
 * rtnetlink and open its queue character device, as libvirt does for
 * QEMU's -netdev tap,fds=...
 */
#ifndef MVTAP_H
#define MVTAP_H

#include <fcntl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "dptest.h"

/* ---- rtnetlink: macvtap and veth (vpeer only knows "type KIND") ------ */

struct mv_nlreq {
	struct nlmsghdr n;
	struct ifinfomsg i;
	char buf[1024];
};

void mv_put(struct mv_nlreq *m, unsigned short type, const void *d,
	    size_t len);

struct rtattr *mv_nest(struct mv_nlreq *m, unsigned short type);

void mv_nest_end(struct mv_nlreq *m, struct rtattr *a);

int mv_nl_talk(struct nlmsghdr *n);

void mv_req_init(struct mv_nlreq *m);

int mv_macvtap_add(const char *name, int lower, const uint8_t *mac);

int mv_veth_add(const char *a, const char *b);

void mv_write(const char *path, const char *val);

int mv_tap_open(const char *name, int idx);

int mv_macvtap_create(char *name, char tag, int lower,
		      const uint8_t *mac, int *idx);

#endif /* MVTAP_H */
