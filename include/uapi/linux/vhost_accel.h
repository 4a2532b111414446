/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-accel: user-space ABI beyond the vhost-net ioctls.
 *
 * /dev/vhost-accel accepts the vhost-net ioctl set from <linux/vhost.h>
 * unchanged.  The ioctls below are additions; they use the vhost ioctl
 * magic (VHOST_VIRTIO) with numbers from 0xe0 upwards, a range mainline
 * vhost does not use, so a vhost-net client never sends them by accident.
 */
#ifndef _UAPI_LINUX_VHOST_ACCEL_H
#define _UAPI_LINUX_VHOST_ACCEL_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/* Version of this header's structures; bumped on incompatible change. */
#define VHOST_ACCEL_ABI_VERSION		1

/* Per virtqueue counters, as seen by the vhost-accel worker. */
struct vhost_accel_vq_stats {
	__u64 kicks;		/* kick eventfd signals handled by the worker */
	__u64 calls;		/* call eventfd signals raised */
	__u64 errors;		/* times the error eventfd was signalled */
	__u64 packets;		/* frames moved through this queue */
	__u64 bytes;		/* payload bytes moved through this queue */
	__u64 bytes_copied;	/* payload bytes the CPU copied (0 when accelerated) */
	__u64 reserved[10];
};

/*
 * VHOST_ACCEL_GET_STATS: read the device's counters.
 *
 * @version is set by the kernel to VHOST_ACCEL_ABI_VERSION.
 * @pinned_pages is the number of guest pages currently pinned for the
 * memory table; it is charged to the owner's locked_vm.
 */
struct vhost_accel_stats {
	__u32 version;
	__u32 nvqs;
	__u64 pinned_pages;
	__u64 worker_wakeups;
	__u64 reserved[5];
	struct vhost_accel_vq_stats vq[2];
};

#define VHOST_ACCEL_GET_STATS	_IOR(VHOST_VIRTIO, 0xe0, struct vhost_accel_stats)

#endif /* _UAPI_LINUX_VHOST_ACCEL_H */
