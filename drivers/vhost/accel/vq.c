// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel virtqueue configuration: the VHOST_*_VRING_* ioctls.
 *
 * Semantics and error codes follow vhost-net so that QEMU and libvirt can
 * use /dev/vhost-accel in its place, and every argument vhost-net takes is
 * taken: the rings are reached at their user addresses, so they need not
 * lie in the memory table, and (as vhost-net) only the avail and used rings
 * and the used ring's log address have an alignment.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>

#include "accel.h"

/**
 * vhost_accel_lock_vqs - take every queue's mutex, in index order
 * @dev: the device, dev->mutex held
 *
 * For changes queues read under their own mutex (features, memory table,
 * log).  The mutexes share a lock class: lockdep is told their order.
 */
void vhost_accel_lock_vqs(struct vhost_accel_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		mutex_lock_nested(&dev->vqs[i].mutex, i);
}

void vhost_accel_unlock_vqs(struct vhost_accel_dev *dev)
{
	unsigned int i;

	for (i = VHOST_ACCEL_NVQS; i-- > 0;)
		mutex_unlock(&dev->vqs[i].mutex);
}

/* @handle_kick runs in the worker when the guest kicks (vq->poll). */
void vhost_accel_vq_init(struct vhost_accel_dev *dev, unsigned int index,
			 vhost_accel_work_fn_t handle_kick)
{
	struct vhost_accel_vq *vq = &dev->vqs[index];

	mutex_init(&vq->mutex);
	vq->dev = dev;
	vq->index = index;
	vhost_accel_poll_init(&vq->poll, dev, handle_kick, EPOLLIN);
	vhost_accel_vq_reset(vq);
}

static void vq_set_kick(struct vhost_accel_vq *vq, struct file *kick)
{
	vhost_accel_poll_stop(&vq->poll);
	if (vq->kick)
		fput(vq->kick);
	vq->kick = kick;
	if (kick)
		vhost_accel_poll_start(&vq->poll, kick);
}

static void ctx_replace(struct eventfd_ctx **slot, struct eventfd_ctx *ctx)
{
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = ctx;
}

/* Back to the state of a freshly opened device; called with no backend and
 * (except at init) with the worker already stopped or flushed.
 */
void vhost_accel_vq_reset(struct vhost_accel_vq *vq)
{
	vq_set_kick(vq, NULL);
	ctx_replace(&vq->call_ctx, NULL);
	ctx_replace(&vq->err_ctx, NULL);
	vq->num = 0;
	vq->desc_uaddr = 0;
	vq->avail_uaddr = 0;
	vq->used_uaddr = 0;
	vq->log_guest_addr = 0;
	vq->log_used = false;
	vq->last_avail_idx = 0;
	vq->busyloop_timeout = 0;
	vq->backend = NULL;
	memset(&vq->stats, 0, sizeof(vq->stats));
}

/*
 * Signal the queue's error eventfd and count it: for a guest error
 * (vhost_accel_vq_err()), or when the queue lost its NIC or could not be
 * restarted.
 */
void vhost_accel_vq_signal_err(struct vhost_accel_vq *vq)
{
	vq->stats.errors++;
	if (vq->err_ctx)
		eventfd_signal(vq->err_ctx);
}

/**
 * vhost_accel_vq_err - the guest broke this queue's rules: stop the queue
 * @vq: the queue, vq->mutex held
 * @fmt: what was wrong, for the kernel log
 *
 * The one way a guest error (or a fault on its rings) is reported: the
 * queue stops until its ring is started again (vq->broken), its error
 * eventfd is signalled and one rate-limited line is logged.  Nothing else
 * is affected; errors of a queue already stopped are not reported again.
 */
void vhost_accel_vq_err(struct vhost_accel_vq *vq, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (vq->broken)
		return;
	vq->broken = true;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_info_ratelimited("dev %u vq %u stopped: %pV\n", vq->dev->id,
			    vq->index, &vaf);
	va_end(args);
	vhost_accel_vq_signal_err(vq);
}

/* Are the three parts of a split ring of vq->num entries user memory? */
static bool rings_ok(const struct vhost_accel_vq *vq, u64 desc, u64 avail,
		     u64 used)
{
	u64 num = vq->num;
	u64 event = vhost_accel_has_feature(vq->dev, VIRTIO_RING_F_EVENT_IDX) ?
		    sizeof(__virtio16) : 0;

	return access_ok(u64_to_user_ptr(desc),
			 num * sizeof(struct vring_desc)) &&
	       access_ok(u64_to_user_ptr(avail), sizeof(struct vring_avail) +
			 num * sizeof(__virtio16) + event) &&
	       access_ok(u64_to_user_ptr(used), sizeof(struct vring_used) +
			 num * sizeof(struct vring_used_elem) + event);
}

/**
 * vhost_accel_vq_rings_ok - may the queue's rings be used?
 * @vq: the queue
 *
 * The check vhost-net makes before a queue runs: the rings, at the size
 * SET_VRING_NUM gave, are user addresses.  Whether they are mapped shows
 * when they are read.
 */
bool vhost_accel_vq_rings_ok(const struct vhost_accel_vq *vq)
{
	return rings_ok(vq, vq->desc_uaddr, vq->avail_uaddr, vq->used_uaddr);
}

static long vq_set_num(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_state s;

	if (vhost_accel_vq_running(vq))
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (!s.num || s.num > 0xffff || (s.num & (s.num - 1)))
		return -EINVAL;
	vq->num = s.num;
	return 0;
}

static long vq_set_addr(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_addr a;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~BIT(VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	if (!vhost_accel_addr_fits(a.desc_user_addr) ||
	    !vhost_accel_addr_fits(a.used_user_addr) ||
	    !vhost_accel_addr_fits(a.avail_user_addr))
		return -EFAULT;
	/* Descriptors are copied, so their table may sit anywhere. */
	if ((a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;
	/*
	 * A queue without a backend is checked when one is bound.  A running
	 * one uses the new rings at once, and logs at once: the log must
	 * cover its used ring.
	 */
	if (vhost_accel_vq_running(vq) &&
	    (!rings_ok(vq, a.desc_user_addr, a.avail_user_addr,
		       a.used_user_addr) ||
	     ((a.flags & BIT(VHOST_VRING_F_LOG)) &&
	      !vhost_accel_log_used_ok(vq, a.log_guest_addr))))
		return -EINVAL;

	vq->desc_uaddr = a.desc_user_addr;
	vq->avail_uaddr = a.avail_user_addr;
	vq->used_uaddr = a.used_user_addr;
	vq->log_guest_addr = a.log_guest_addr;
	vq->log_used = !!(a.flags & BIT(VHOST_VRING_F_LOG));
	return 0;
}

static long vq_set_base(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_state s;

	if (vhost_accel_vq_running(vq))
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.num > 0xffff)
		return -EINVAL;
	vq->last_avail_idx = s.num;
	return 0;
}

static long vq_get_base(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_state s = {
		.index = vq->index,
		.num = vq->last_avail_idx,
	};

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/* Resolve a vhost_vring_file fd to an eventfd: -1 unbinds. */
static long vq_get_eventfd_file(struct vhost_vring_file *f, struct file **out)
{
	struct eventfd_ctx *ctx;
	struct file *file;

	*out = NULL;
	if (f->fd == VHOST_FILE_UNBIND)
		return 0;
	file = fget(f->fd);
	if (!file)
		return -EBADF;
	/* Only to check that it is an eventfd. */
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return PTR_ERR(ctx);
	}
	eventfd_ctx_put(ctx);
	*out = file;
	return 0;
}

static long vq_get_eventfd_ctx(struct vhost_vring_file *f,
			       struct eventfd_ctx **out)
{
	struct eventfd_ctx *ctx;

	*out = NULL;
	if (f->fd == VHOST_FILE_UNBIND)
		return 0;
	ctx = eventfd_ctx_fdget(f->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	*out = ctx;
	return 0;
}

static long vq_set_eventfd(struct vhost_accel_vq *vq, unsigned int cmd,
			   struct vhost_vring_file *f)
{
	struct eventfd_ctx *ctx;
	struct file *file;
	long ret;

	if (cmd == VHOST_SET_VRING_KICK) {
		ret = vq_get_eventfd_file(f, &file);
		if (!ret)
			vq_set_kick(vq, file);
		return ret;
	}
	ret = vq_get_eventfd_ctx(f, &ctx);
	if (ret)
		return ret;
	ctx_replace(cmd == VHOST_SET_VRING_CALL ? &vq->call_ctx : &vq->err_ctx,
		    ctx);
	return 0;
}

static long vq_set_busyloop(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_state s;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	vq->busyloop_timeout = s.num;
	return 0;
}

static long vq_get_busyloop(struct vhost_accel_vq *vq, void __user *argp)
{
	struct vhost_vring_state s = {
		.index = vq->index,
		.num = vq->busyloop_timeout,
	};

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long vq_ioctl_locked(struct vhost_accel_vq *vq, unsigned int cmd,
			    void __user *argp)
{
	struct vhost_vring_file f;

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		return vq_set_num(vq, argp);
	case VHOST_SET_VRING_ADDR:
		return vq_set_addr(vq, argp);
	case VHOST_SET_VRING_BASE:
		return vq_set_base(vq, argp);
	case VHOST_GET_VRING_BASE:
		return vq_get_base(vq, argp);
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		if (copy_from_user(&f, argp, sizeof(f)))
			return -EFAULT;
		return vq_set_eventfd(vq, cmd, &f);
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		return vq_set_busyloop(vq, argp);
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return vq_get_busyloop(vq, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

static bool is_vring_ioctl(unsigned int cmd)
{
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return true;
	default:
		return false;
	}
}

/**
 * vhost_accel_vring_ioctl - one of the per-virtqueue ioctls
 * @dev: the device, dev->mutex held, caller is the owner
 * @cmd: ioctl number
 * @argp: user argument; its first u32 is the virtqueue index
 *
 * Return: 0, a negative errno, or -ENOIOCTLCMD for an unknown @cmd with a
 * readable, valid queue index.
 */
long vhost_accel_vring_ioctl(struct vhost_accel_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct vhost_accel_vq *vq;
	u32 idx;
	long ret;

	/*
	 * As vhost-net, any ioctl that reaches here reads a queue index
	 * first, even one that turns out to be unknown (VHOST_SET_VRING_ENDIAN
	 * included: legacy cross-endian rings are not supported, as in
	 * kernels built without CONFIG_VHOST_CROSS_ENDIAN_LEGACY).
	 */
	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= VHOST_ACCEL_NVQS)
		return -ENOBUFS;
	if (!is_vring_ioctl(cmd))
		return -ENOIOCTLCMD;

	vq = &dev->vqs[array_index_nospec(idx, VHOST_ACCEL_NVQS)];
	mutex_lock(&vq->mutex);
	ret = vq_ioctl_locked(vq, cmd, argp);
	mutex_unlock(&vq->mutex);
	return ret;
}
