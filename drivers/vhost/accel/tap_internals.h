/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-accel's dependency on tap internals.
 *
 * Binding through a macvtap fd (vhost_accel_bind_tap()) needs the macvtap
 * netdev behind the fd: its MAC steers the queue pair and its lower device
 * is the NIC asked to cooperate.  tap.ko exports no call that answers
 * that.  It exports tap_get_socket() and tap_get_ptr_ring(), which are all
 * vhost-net needs, because vhost-net moves packets through the socket and
 * never looks at the device.
 *
 * So this file reads two structures that <linux/if_tap.h> defines for the
 * tap drivers' own use (tap.c, macvtap.c, ipvtap.c), not as an interface:
 *  - struct tap_queue: the socket tap_get_socket() returns is its member
 *    @sock, and its RCU-protected @tap points at the device while the
 *    queue is attached (NULL once the macvtap is deleted);
 *  - struct tap_dev: its @dev is the macvtap (or ipvtap) netdev.
 * Both are as described here from 6.1 to 6.12; a kernel that moves them
 * breaks the build here and nowhere else.  Upstreaming would add such a
 * helper to tap.c, beside tap_get_socket(), and delete this file.
 */
#ifndef _VHOST_ACCEL_TAP_INTERNALS_H
#define _VHOST_ACCEL_TAP_INTERNALS_H

#include <linux/err.h>
#include <linux/if_tap.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>

/*
 * The netdev behind a macvtap or ipvtap queue fd, held with dev_hold(), or
 * NULL when @file is no such fd or its macvtap is gone.
 */
static inline struct net_device *vhost_accel_tap_netdev_get(struct file *file)
{
	struct net_device *dev = NULL;
	struct tap_queue *q;
	struct tap_dev *tap;
	struct socket *sock;

	sock = tap_get_socket(file);
	if (IS_ERR(sock))
		return NULL;
	q = container_of(sock, struct tap_queue, sock);
	rcu_read_lock();
	tap = rcu_dereference(q->tap);
	if (tap) {
		dev = tap->dev;
		dev_hold(dev);
	}
	rcu_read_unlock();
	return dev;
}

#endif /* _VHOST_ACCEL_TAP_INTERNALS_H */
