// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel dirty log configuration (VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD).
 *
 * The log is a bitmap in the owner's memory, one bit per VHOST_PAGE_SIZE of
 * guest-physical memory, that QEMU reads during live migration.  Only its
 * location and the notification eventfd are set here; marking pages is done
 * by the datapath.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "vhost_accel.h"

#define LOG_BITS_PER_BYTE	8
#define LOG_BYTES_FOR(len)	DIV_ROUND_UP((len), VHOST_PAGE_SIZE * LOG_BITS_PER_BYTE)

/* Can the bitmap at @base cover [@gpa, @gpa + @len)? */
static bool log_range_ok(u64 base, u64 gpa, u64 len)
{
	u64 start = base + gpa / VHOST_PAGE_SIZE / LOG_BITS_PER_BYTE;
	u64 bytes = LOG_BYTES_FOR(len + gpa % (VHOST_PAGE_SIZE * LOG_BITS_PER_BYTE));

	if (start < base || !vhost_accel_addr_fits(start) ||
	    !vhost_accel_addr_fits(bytes))
		return false;
	return access_ok((void __user *)(unsigned long)start, bytes);
}

/**
 * vhost_accel_log_access_ok - can a log at @base cover what may be written?
 * @dev: the device, dev->mutex held
 * @base: user address of the bitmap
 * @mem: the memory table to cover
 *
 * As in vhost-net, only queues with a bound backend are checked (others are
 * checked when bound): their memory when LOG_ALL is acked and their used
 * ring when VHOST_VRING_F_LOG is set.
 */
bool vhost_accel_log_access_ok(const struct vhost_accel_dev *dev, u64 base,
			       const struct vhost_accel_mem *mem)
{
	bool log_all = vhost_accel_has_feature(dev, VHOST_F_LOG_ALL);
	unsigned int i;
	u32 r;

	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		const struct vhost_accel_vq *vq = &dev->vqs[i];

		if (!vq->backend)
			continue;
		if (vq->log_used && vq->num &&
		    !log_range_ok(base, vq->log_guest_addr,
				  sizeof(struct vring_used) +
				  vq->num * sizeof(struct vring_used_elem)))
			return false;
		if (!log_all)
			continue;
		for (r = 0; r < mem->nregions; r++)
			if (!log_range_ok(base, mem->region[r].gpa,
					  mem->region[r].size))
				return false;
	}
	return true;
}

long vhost_accel_set_log_base(struct vhost_accel_dev *dev, u64 __user *argp)
{
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if (!vhost_accel_addr_fits(base))
		return -EFAULT;
	if (!vhost_accel_log_access_ok(dev, base, dev->mem))
		return -EFAULT;
	dev->log_base = base;
	return 0;
}

long vhost_accel_set_log_fd(struct vhost_accel_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = ctx;
	return 0;
}

void vhost_accel_log_reset(struct vhost_accel_dev *dev)
{
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = 0;
}
