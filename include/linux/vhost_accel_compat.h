/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences for the vhost-accel modules, kept in one place
 * so the rest of the code is written against one API.  Each wrapper names
 * the kernel release that changed the underlying interface.
 */
#ifndef _LINUX_VHOST_ACCEL_COMPAT_H
#define _LINUX_VHOST_ACCEL_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>

/* 6.8 dropped the counter argument of eventfd_signal(); it always adds 1. */
static inline void vhost_accel_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* _LINUX_VHOST_ACCEL_COMPAT_H */
