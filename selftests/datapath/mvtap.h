/* SPDX-License-Identifier: GPL-2.0 */
/*
 * macvtap helpers of the datapath tests: create a macvtap with
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

int mv_macvtap_add(const char *name, int lower, const uint8_t *mac,
		   uint32_t mode);

int mv_macvtap_set_mode(int ifindex, uint32_t mode);

void mv_write(const char *path, const char *val);

int mv_tap_open(const char *name, int idx);

int mv_macvtap_create(char *name, char tag, int lower,
		      const uint8_t *mac, int *idx);

int mv_ctx_macvtap(struct dp_ctx *c, char tag, char *name, uint8_t *mac,
		   int *idx, char *why, size_t wl);

#endif /* MVTAP_H */
