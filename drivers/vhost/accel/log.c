// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel dirty log (VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD) and marking.
 *
 * The log is a bitmap in the owner's memory, one bit per VHOST_PAGE_SIZE of
 * guest-physical memory (bit n of byte n / 8 for page n, vhost-net's
 * layout), that QEMU reads and clears during live migration.  The datapath
 * marks what the device writes with vhost_accel_log_write(): the used ring
 * (ring.c, with VHOST_VRING_F_LOG) and filled Rx buffers (datapath.c, with
 * VHOST_F_LOG_ALL).
 *
 * QEMU fetches and clears the bitmap with atomic exchanges while we run, so
 * a plain read-modify-write of a user word could lose its clear or our set.
 * Bits are therefore set with set_bit() on the bitmap page pinned for the
 * moment (pin_user_pages_fast() in the owner's mm, which the worker has
 * adopted): the same locked operation on the same memory as QEMU's.  One
 * pin covers the 32768 bits of a bitmap page (128 MiB of guest memory).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>


#include "accel.h"

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

/* Can the bitmap at @base cover @vq's used ring at guest address @gpa? */
static bool log_used_ok(u64 base, const struct vhost_accel_vq *vq, u64 gpa)
{
	return !vq->num ||
	       log_range_ok(base, gpa, sizeof(struct vring_used) +
			    vq->num * sizeof(struct vring_used_elem));
}

/**
 * vhost_accel_log_used_ok - may a running @vq log its used ring at @gpa?
 * @vq: the queue, dev->mutex and vq->mutex held
 * @gpa: the used ring's guest address VHOST_SET_VRING_ADDR gives
 *
 * A queue with a backend logs from its next used-ring write on, so the
 * current log must cover the ring (as vhost-net checks).
 */
bool vhost_accel_log_used_ok(const struct vhost_accel_vq *vq, u64 gpa)
{
	return log_used_ok(vq->dev->log_base, vq, gpa);
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

		if (!vhost_accel_vq_running(vq))
			continue;
		if (vq->log_used &&
		    !log_used_ok(base, vq, vq->log_guest_addr))
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

/**
 * vhost_accel_log_vq_ok - can the current log cover what @vq would write?
 * @vq: a queue about to get (or lose) a backend, dev->mutex held
 *
 * The check vhost-net makes at SET_BACKEND: its used ring when
 * VHOST_VRING_F_LOG is set, and with LOG_ALL every region of the memory
 * table.  vhost_accel_log_access_ok() only checks queues that run, so a
 * log set (or LOG_ALL acked) while none did is checked here.
 */
bool vhost_accel_log_vq_ok(const struct vhost_accel_vq *vq)
{
	const struct vhost_accel_dev *dev = vq->dev;
	const struct vhost_accel_mem *mem = dev->mem;
	u32 r;

	if (vq->log_used && !log_used_ok(dev->log_base, vq, vq->log_guest_addr))
		return false;
	if (!vhost_accel_has_feature(dev, VHOST_F_LOG_ALL))
		return true;
	for (r = 0; r < mem->nregions; r++)
		if (!log_range_ok(dev->log_base, mem->region[r].gpa,
				  mem->region[r].size))
			return false;
	return true;
}

/*
 * The worker reads the log under vq->mutex only: change it with every
 * vq->mutex held, so a batch of marks never mixes two logs and every write
 * after the ioctl returns lands in the new one.
 */
long vhost_accel_set_log_base(struct vhost_accel_dev *dev, u64 __user *argp)
{
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if (!vhost_accel_addr_fits(base))
		return -EFAULT;
	if (!vhost_accel_log_access_ok(dev, base, dev->mem))
		return -EFAULT;
	vhost_accel_lock_vqs(dev);
	dev->log_base = base;
	vhost_accel_unlock_vqs(dev);
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
	vhost_accel_lock_vqs(dev);
	swap(dev->log_ctx, ctx);
	vhost_accel_unlock_vqs(dev);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

void vhost_accel_log_reset(struct vhost_accel_dev *dev)
{
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = 0;
}

/* Set bits @first..@last of the bitmap page at user address @page_uaddr. */
static int log_set_bits(unsigned long page_uaddr, unsigned long first,
			unsigned long last)
{
	struct page *page;
	unsigned long *bits;
	unsigned long nr;

	if (pin_user_pages_fast(page_uaddr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	bits = kmap_local_page(page);
	for (nr = first; nr <= last; nr++)
		set_bit(nr, bits);
	kunmap_local(bits);
	unpin_user_pages_dirty_lock(&page, 1, true);
	return 0;
}

/**
 * vhost_accel_log_write - mark guest-physical memory dirty in the log
 * @vq: the queue that wrote it, vq->mutex held, in the owner's mm
 * @gpa: first byte written
 * @len: bytes written (0: nothing to do)
 *
 * Sets the bit of every VHOST_PAGE_SIZE page that [@gpa, @gpa + @len)
 * touches, in the bitmap at dev->log_base, atomically with respect to the
 * owner clearing bits; the log eventfd is signalled later, once per batch
 * (vhost_accel_log_flush()).  The caller decides whether logging is on.
 *
 * Return: 0, or -EFAULT if the range wraps or the bitmap cannot be
 * written (unmapped or read-only): the caller must stop the queue rather
 * than lose dirty bits.
 */
int vhost_accel_log_write(struct vhost_accel_vq *vq, u64 gpa, u64 len)
{
	const u64 bits_per_page = PAGE_SIZE * LOG_BITS_PER_BYTE;
	u64 base = vq->dev->log_base;
	u64 pfn, last, byte, page_uaddr, first_bit, span;

	if (!len)
		return 0;
	if (gpa + len - 1 < gpa)
		return -EFAULT;
	pfn = gpa / VHOST_PAGE_SIZE;
	last = (gpa + len - 1) / VHOST_PAGE_SIZE;
	while (pfn <= last) {
		byte = base + pfn / LOG_BITS_PER_BYTE;
		if (byte < base || !vhost_accel_addr_fits(byte))
			return -EFAULT;
		page_uaddr = byte & PAGE_MASK;
		first_bit = (byte - page_uaddr) * LOG_BITS_PER_BYTE +
			    pfn % LOG_BITS_PER_BYTE;
		span = min(last - pfn, bits_per_page - 1 - first_bit);
		if (log_set_bits(page_uaddr, first_bit, first_bit + span))
			return -EFAULT;
		vq->log_pending = true;
		pfn += span + 1;
	}
	return 0;
}

/**
 * vhost_accel_log_flush - tell the owner that the log has new bits
 * @vq: the queue, vq->mutex held
 *
 * Signals the log eventfd (VHOST_SET_LOG_FD) if vhost_accel_log_write()
 * set bits since the last call: once per batch, not per page.
 */
void vhost_accel_log_flush(struct vhost_accel_vq *vq)
{
	if (!vq->log_pending)
		return;
	vq->log_pending = false;
	if (vq->dev->log_ctx)
		eventfd_signal(vq->dev->log_ctx);
}
