/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stands in for <net/gso.h> on kernels before 6.5, which declare the GSO
 * helpers (__skb_gso_segment(), skb_gso_segment(), ...) in
 * <linux/netdevice.h>.  Kbuild puts compat/include/ after the kernel's own
 * include directories, so a kernel that has the header never reads this
 * one.
 */
#ifndef _VHOST_ACCEL_COMPAT_NET_GSO_H
#define _VHOST_ACCEL_COMPAT_NET_GSO_H

#include <linux/netdevice.h>

#endif
