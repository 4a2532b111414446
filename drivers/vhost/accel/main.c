// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel: an accelerated vhost-net backend.
 *
 * /dev/vhost-accel speaks the vhost-net ioctl ABI: each open is one device
 * with one queue pair (RX vq 0, TX vq 1), so QEMU and libvirt can open it
 * where they would open /dev/vhost-net.  This file holds the character
 * device and the device-level ioctls; vq.c the per-virtqueue ones, mem.c
 * the memory table, log.c the dirty log and worker.c the worker thread.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "accel.h"

/*
 * QEMU sizes its memory table by the in-tree vhost module's
 * max_mem_regions (default 64); ours must be at least as large, so the
 * default leaves room for an administrator who raised that one.
 */
unsigned short vhost_accel_max_mem_regions = 509;
module_param_named(max_mem_regions, vhost_accel_max_mem_regions, ushort,
		   0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Maximum number of memory regions in a memory table (default 509)");

static bool accel_only;
module_param(accel_only, bool, 0644);
MODULE_PARM_DESC(accel_only,
		 "Refuse backends that cannot be accelerated instead of copying through them, as vhost-net does (every device; default N)");

#define VHOST_ACCEL_FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) |		\
			      BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |	\
			      BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
			      BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |		\
			      BIT_ULL(VIRTIO_F_ANY_LAYOUT) |		\
			      BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY) |	\
			      BIT_ULL(VHOST_F_LOG_ALL) |		\
			      BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR))

/*
 * No IOTLB: we offer no VIRTIO_F_ACCESS_PLATFORM, so no IOTLB message is
 * ever exchanged.  The message format bit vhost-net offers is accepted all
 * the same (it changes nothing here), so QEMU sets what it sets there.
 */
#define VHOST_ACCEL_BACKEND_FEATURES	BIT_ULL(VHOST_BACKEND_F_IOTLB_MSG_V2)

/* Device ids, one per open, never reused while the module is loaded. */
static atomic_t vhost_accel_dev_ids = ATOMIC_INIT(0);

/*
 * Every open device, for netlink requests about copying devices (bound
 * ones are found through their NIC).  The lock is held only to walk the
 * list and read fields without waiting: never across a device's mutex,
 * guest memory or a worker.
 */
static LIST_HEAD(vhost_accel_devs);
static DEFINE_MUTEX(vhost_accel_devs_lock);

static int vhost_accel_open(struct inode *inode, struct file *f)
{
	struct vhost_accel_dev *dev;
	unsigned int i;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return -ENOMEM;
	dev->mem = vhost_accel_mem_alloc_empty();
	if (!dev->mem) {
		kfree(dev);
		return -ENOMEM;
	}
	/* Names the device in debugfs, netlink, tracepoints and the log. */
	dev->id = atomic_inc_return(&vhost_accel_dev_ids);
	mutex_init(&dev->mutex);
	ratelimit_state_init(&dev->log_rs, DEFAULT_RATELIMIT_INTERVAL,
			     DEFAULT_RATELIMIT_BURST);
	init_waitqueue_head(&dev->dp_wait);
	INIT_DELAYED_WORK(&dev->detach_work, vhost_accel_detach_work);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		vhost_accel_vq_init(dev, i, vhost_accel_dp_handle_kick);
		vhost_accel_dp_init(&dev->vqs[i]);
	}
	vhost_accel_debugfs_add(dev);
	mutex_lock(&vhost_accel_devs_lock);
	list_add_tail(&dev->node, &vhost_accel_devs);
	mutex_unlock(&vhost_accel_devs_lock);
	f->private_data = dev;
	return 0;
}

/* debugfs and netlink read the owner's pid under either kind of mutex. */
static void dev_set_owner_pid(struct vhost_accel_dev *dev, struct pid *pid)
{
	struct pid *old;

	vhost_accel_lock_vqs(dev);
	old = dev->owner_pid;
	dev->owner_pid = pid;
	WRITE_ONCE(dev->owner_tgid, pid_nr(pid));
	vhost_accel_unlock_vqs(dev);
	put_pid(old);
}

/* Stop all activity and drop everything the owner gave us, memory table
 * included (dev->mem is NULL afterwards).  Called with dev->mutex held or
 * on release.
 */
static void vhost_accel_dev_cleanup(struct vhost_accel_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		vhost_accel_copy_stop(dev, &dev->vqs[i]);
	/* The NIC returns every buffer before we unpin guest memory. */
	vhost_accel_unbind(dev);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		vhost_accel_poll_stop(&dev->vqs[i].poll);
	vhost_accel_worker_stop(dev);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		vhost_accel_vq_reset(&dev->vqs[i]);
	vhost_accel_log_reset(dev);
	/* No queue holds a table any more: this unpins and uncharges. */
	vhost_accel_mem_put(dev->mem);
	dev->mem = NULL;
	dev->mem_table_set = false;
	if (dev->mm) {
		mmput(dev->mm);
		dev->mm = NULL;
	}
	dev_set_owner_pid(dev, NULL);
	dev->features = 0;
	dev->backend_features = 0;
	dev->accel_only = false;
	dev->datapath = VHOST_ACCEL_DATAPATH_NONE;
	dev->degraded = false;
}

static int vhost_accel_release(struct inode *inode, struct file *f)
{
	struct vhost_accel_dev *dev = f->private_data;

	mutex_lock(&vhost_accel_devs_lock);
	list_del(&dev->node);
	mutex_unlock(&vhost_accel_devs_lock);
	vhost_accel_debugfs_remove(dev);
	/* the detach work may switch datapaths under it until cancelled */
	mutex_lock(&dev->mutex);
	vhost_accel_dev_cleanup(dev);
	mutex_unlock(&dev->mutex);
	kfree(dev);
	return 0;
}

/* As vhost-net: back to unowned with an empty table; SET_OWNER may follow. */
static long vhost_accel_reset_owner(struct vhost_accel_dev *dev)
{
	struct vhost_accel_mem *empty = vhost_accel_mem_alloc_empty();

	if (!empty)
		return -ENOMEM;
	vhost_accel_dev_cleanup(dev);
	dev->mem = empty;
	/* vhost-net's reset leaves an empty table in place, not none. */
	dev->mem_table_set = true;
	return 0;
}

static long vhost_accel_set_owner(struct vhost_accel_dev *dev)
{
	long ret;

	mutex_lock(&dev->mutex);
	if (dev->mm) {
		ret = -EBUSY;
		goto out;
	}
	dev->mm = get_task_mm(current);
	if (!dev->mm) {
		ret = -EINVAL;
		goto out;
	}
	ret = vhost_accel_worker_start(dev);
	if (ret) {
		mmput(dev->mm);
		dev->mm = NULL;
		goto out;
	}
	dev_set_owner_pid(dev, get_task_pid(current, PIDTYPE_TGID));
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long vhost_accel_set_features(struct vhost_accel_dev *dev,
				     u64 __user *argp)
{
	u64 features;
	long ret = 0;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~VHOST_ACCEL_FEATURES)
		return -EOPNOTSUPP;

	mutex_lock(&dev->mutex);
	if ((features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhost_accel_log_access_ok(dev, dev->log_base, dev->mem)) {
		ret = -EFAULT;
		goto out;
	}
	/* Queues read the features under their own mutex. */
	vhost_accel_lock_vqs(dev);
	dev->features = features;
	vhost_accel_unlock_vqs(dev);
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long vhost_accel_set_backend_features(struct vhost_accel_dev *dev,
					     u64 __user *argp)
{
	u64 features;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~VHOST_ACCEL_BACKEND_FEATURES)
		return -EOPNOTSUPP;
	mutex_lock(&dev->mutex);
	dev->backend_features = features;
	mutex_unlock(&dev->mutex);
	return 0;
}

static long vhost_accel_set_mem_table(struct vhost_accel_dev *dev,
				      struct vhost_memory __user *argp)
{
	struct vhost_accel_mem *mem, *old;
	bool running[VHOST_ACCEL_NVQS], broken[VHOST_ACCEL_NVQS];
	unsigned int i;
	long ret;

	ret = vhost_accel_mem_from_user(dev, argp, &mem);
	if (ret)
		return ret;
	/* A bound queue's log must cover the new table (rings need not). */
	if (!vhost_accel_log_access_ok(dev, dev->log_base, mem)) {
		ret = -EFAULT;
		goto err;
	}

	/* The NIC may hold buffers in the old pages: stop, swap, restart. */
	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		running[i] = dev->vqs[i].backend;
		if (running[i])
			vhost_accel_backend_stop(dev, &dev->vqs[i]);
		/* Stopped, so no worker changes it: a swap is no reset. */
		broken[i] = dev->vqs[i].broken;
	}
	vhost_accel_lock_vqs(dev);
	old = dev->mem;
	dev->mem = mem;
	vhost_accel_mem_take_charge(mem, old);
	dev->mem_table_set = true;
	vhost_accel_unlock_vqs(dev);
	/*
	 * Work already running may still use the old pages.  A queue whose
	 * binding is being torn down (its backend already cleared) may still
	 * have buffers of @old at the NIC: it holds @old until the NIC gave
	 * them back, so this only drops the device's reference.
	 */
	vhost_accel_worker_flush(dev);
	vhost_accel_mem_put(old);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		if (running[i] &&
		    vhost_accel_backend_start(dev, &dev->vqs[i], broken[i]))
			vhost_accel_vq_signal_err(&dev->vqs[i]);
	return 0;

err:
	vhost_accel_mem_put(mem);
	return ret;
}

/* The checks vhost-net makes before binding or unbinding a queue: a memory
 * table was set (RESET_OWNER sets an empty one) and the rings and log lie
 * where the device can reach them.
 */
static bool vq_access_ok(struct vhost_accel_dev *dev,
			 const struct vhost_accel_vq *vq)
{
	return dev->mem_table_set && vhost_accel_vq_rings_ok(vq) &&
	       vhost_accel_log_vq_ok(vq);
}

/* The datapath the device runs now (VHOST_ACCEL_DATAPATH_*); any lock. */
u32 vhost_accel_dev_datapath(const struct vhost_accel_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		if (READ_ONCE(dev->vqs[i].backend))
			return VHOST_ACCEL_DATAPATH_ACCEL;
		if (READ_ONCE(dev->vqs[i].copy))
			return VHOST_ACCEL_DATAPATH_COPY;
	}
	return VHOST_ACCEL_DATAPATH_NONE;
}

/**
 * vhost_accel_copying_walk - call @fn for each device that runs the
 *	copying datapath unbound, through a backend in @net
 * @net: the requester's network namespace
 * @fn: called under the device list's lock: it reads the device without
 *	waiting for it; a non-zero return stops the walk and is returned
 * @arg: for @fn
 *
 * Devices bound to a NIC (degraded ones included) are the NIC's: see
 * vhost_accel_bindings_walk().
 */
int vhost_accel_copying_walk(struct net *net,
			     int (*fn)(struct vhost_accel_dev *dev, void *arg),
			     void *arg)
{
	struct vhost_accel_dev *dev;
	int ret = 0;

	mutex_lock(&vhost_accel_devs_lock);
	list_for_each_entry(dev, &vhost_accel_devs, node) {
		if (vhost_accel_dev_datapath(dev) != VHOST_ACCEL_DATAPATH_COPY ||
		    READ_ONCE(dev->binding) ||
		    READ_ONCE(dev->copy_net_cookie) != net->net_cookie)
			continue;
		ret = fn(dev, arg);
		if (ret)
			break;
	}
	mutex_unlock(&vhost_accel_devs_lock);
	return ret;
}

/* Acceleration or nothing: the module parameter or the device's flag. */
bool vhost_accel_dev_accel_only(const struct vhost_accel_dev *dev)
{
	return READ_ONCE(dev->accel_only) || READ_ONCE(accel_only);
}

/*
 * One line in the log each time a device starts moving frames, saying how;
 * @why: the reason a copying device is not accelerated.
 */
static void dev_note_datapath(struct vhost_accel_dev *dev,
			      struct vhost_accel_vq *vq, int why)
{
	u32 now = vhost_accel_dev_datapath(dev);

	if (!vq->copy)
		vq = &dev->vqs[!vq->index];

	if (now == dev->datapath)
		return;
	dev->datapath = now;
	if (now == VHOST_ACCEL_DATAPATH_ACCEL)
		pr_info("dev %u: accelerated datapath\n", dev->id);
	else if (now == VHOST_ACCEL_DATAPATH_COPY)
		pr_info("dev %u: copying datapath through a %s (not accelerated: %pe)\n",
			dev->id,
			vhost_accel_copy_kind_name(vhost_accel_copy_kind(vq)),
			ERR_PTR(why));
}

static void vq_stop(struct vhost_accel_dev *dev, struct vhost_accel_vq *vq)
{
	vhost_accel_copy_stop(dev, vq);
	vhost_accel_backend_stop(dev, vq);
}

/*
 * One line in the log for each backend SET_BACKEND refuses, rate-limited
 * per device: one owner's refusals do not hide another's.
 */
static void vq_refused(struct vhost_accel_dev *dev, int err)
{
	if (!__ratelimit(&dev->log_rs))
		return;
	if (err == -ENOTSOCK)
		pr_info("dev %u: backend fd is no socket or tap vhost-net takes\n",
			dev->id);
	else if (vhost_accel_dev_accel_only(dev))
		pr_info("dev %u: backend refused: it cannot be accelerated (%pe) and the device wants acceleration or nothing\n",
			dev->id, ERR_PTR(err));
	else
		pr_info("dev %u: backend refused (%pe)\n", dev->id, ERR_PTR(err));
}

/*
 * Which datapath a queue runs on @file: the one its device runs already;
 * else accelerated when @file is a macvtap whose lower device cooperates
 * and lends a queue pair; else the copying one, unless the device or the
 * module parameter wants acceleration or nothing.  A MAC bound with
 * SET_NIC elsewhere (-EADDRINUSE), a macvtap through which other devices
 * run accelerated (the queues of one multiqueue guest run on one
 * datapath) and a lack of memory are errors on either path.  *@why: what
 * kept the queue from being accelerated.
 */
static int vq_start(struct vhost_accel_dev *dev, struct vhost_accel_vq *vq,
		    struct file *file, int *why)
{
	struct vhost_accel_vq *other = &dev->vqs[!vq->index];
	int ret;

	*why = -EOPNOTSUPP;
	if (vhost_accel_copy_same_file(vq, file))
		return 0;
	vhost_accel_copy_stop(dev, vq);
	if (other->copy)
		return vhost_accel_copy_start(dev, vq, file);
	ret = 0;
	if (!vhost_accel_is_bound(dev))
		ret = vhost_accel_bind_tap(dev, file);
	if (!ret)
		return vhost_accel_backend_start(dev, vq, false);
	if (ret == -ENOTSOCK || ret == -EADDRINUSE || ret == -ENOMEM ||
	    vhost_accel_dev_accel_only(dev) ||
	    vhost_accel_tap_accelerated(file)) {
		vq_refused(dev, ret);
		return ret;
	}
	*why = ret;
	return vhost_accel_copy_start(dev, vq, file);
}

static long vhost_accel_set_backend(struct vhost_accel_dev *dev,
				    const struct vhost_vring_file *backend)
{
	struct vhost_accel_vq *vq;
	struct file *file;
	int ret, why;

	if (backend->index >= VHOST_ACCEL_NVQS)
		return -ENOBUFS;
	vq = &dev->vqs[array_index_nospec(backend->index, VHOST_ACCEL_NVQS)];
	if (!vq_access_ok(dev, vq))
		return -EFAULT;
	if (backend->fd == -1) {
		vq_stop(dev, vq);
		vhost_accel_unbind_idle_tap(dev);
		dev_note_datapath(dev, vq, 0);
		return 0;
	}
	/* As vhost-net, an fd that is no socket or tap at all is -ENOTSOCK. */
	file = fget(backend->fd);
	if (!file)
		return -ENOTSOCK;
	ret = vq_start(dev, vq, file, &why);
	fput(file);
	dev_note_datapath(dev, vq, why);
	return ret;
}

/*
 * A queue's counters.  The worker holds vq->mutex for a whole run, and a
 * run may wait on guest memory: a stats call must not wait behind it.
 * When the queue is busy its counters are read as they are (each an
 * aligned u64 written under vq->mutex only), a snapshot that may be a
 * moment old, and a saturation still running is not yet counted.
 */
void vhost_accel_vq_stats(struct vhost_accel_vq *vq,
			  struct vhost_accel_vq_stats *s)
{
	if (!mutex_trylock(&vq->mutex)) {
		/* Busy: a racy copy, see above. */
		*s = data_race(vq->stats);
		return;
	}
	*s = vq->stats;
	s->saturated_ns = vhost_accel_bp_saturated_ns(vq);
	mutex_unlock(&vq->mutex);
}

/**
 * vhost_accel_dev_stats - snapshot a device's counters
 * @dev: the device, dev->mutex held
 * @st: zeroed by the caller
 */
void vhost_accel_dev_stats(struct vhost_accel_dev *dev,
			   struct vhost_accel_stats *st)
{
	unsigned int i;

	st->version = VHOST_ACCEL_ABI_VERSION;
	st->nvqs = VHOST_ACCEL_NVQS;
	st->pinned_pages = dev->mem->npages;
	st->worker_wakeups = READ_ONCE(dev->worker.wakeups);
	st->datapath = vhost_accel_dev_datapath(dev);
	st->datapath_switches = dev->datapath_switches;
	st->switch_drops = dev->switch_drops;
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		vhost_accel_vq_stats(&dev->vqs[i], &st->vq[i]);
	vhost_accel_nic_stats(dev, st);
}

static long vhost_accel_get_stats(struct vhost_accel_dev *dev,
				  struct vhost_accel_stats __user *argp)
{
	struct vhost_accel_stats *st;
	long ret = 0;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	vhost_accel_dev_stats(dev, st);
	if (copy_to_user(argp, st, sizeof(*st)))
		ret = -EFAULT;
	kfree(st);
	return ret;
}

/* Only the owner's address space may use an owned device (as vhost-net). */
static long vhost_accel_check_owner(const struct vhost_accel_dev *dev)
{
	return dev->mm && dev->mm == current->mm ? 0 : -EPERM;
}

static long vhost_accel_owner_ioctl(struct vhost_accel_dev *dev,
				    unsigned int cmd, void __user *argp)
{
	switch (cmd) {
	case VHOST_RESET_OWNER:
		return vhost_accel_reset_owner(dev);
	case VHOST_SET_MEM_TABLE:
		return vhost_accel_set_mem_table(dev, argp);
	case VHOST_SET_LOG_BASE:
		return vhost_accel_set_log_base(dev, argp);
	case VHOST_SET_LOG_FD:
		return vhost_accel_set_log_fd(dev, argp);
	case VHOST_ACCEL_GET_STATS:
		return vhost_accel_get_stats(dev, argp);
	case VHOST_ACCEL_SET_NIC:
		return vhost_accel_set_nic(dev, argp);
	default:
		return vhost_accel_vring_ioctl(dev, cmd, argp);
	}
}

static long vhost_accel_ioctl(struct file *f, unsigned int cmd,
			      unsigned long arg)
{
	struct vhost_accel_dev *dev = f->private_data;
	void __user *argp = (void __user *)arg;
	struct vhost_vring_file backend;
	u64 features;
	long ret;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = VHOST_ACCEL_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
			-EFAULT : 0;
	case VHOST_SET_FEATURES:
		return vhost_accel_set_features(dev, argp);
	case VHOST_GET_BACKEND_FEATURES:
		features = VHOST_ACCEL_BACKEND_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
			-EFAULT : 0;
	case VHOST_SET_BACKEND_FEATURES:
		return vhost_accel_set_backend_features(dev, argp);
	case VHOST_SET_OWNER:
		return vhost_accel_set_owner(dev);
	case VHOST_NET_SET_BACKEND:
		/* vhost-net copies the argument before checking the owner. */
		if (copy_from_user(&backend, argp, sizeof(backend)))
			return -EFAULT;
		mutex_lock(&dev->mutex);
		ret = vhost_accel_check_owner(dev);
		if (!ret)
			ret = vhost_accel_set_backend(dev, &backend);
		mutex_unlock(&dev->mutex);
		return ret;
	}

	mutex_lock(&dev->mutex);
	ret = vhost_accel_check_owner(dev);
	if (!ret)
		ret = vhost_accel_owner_ioctl(dev, cmd, argp);
	mutex_unlock(&dev->mutex);
	return ret;
}

static const struct file_operations vhost_accel_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_accel_open,
	.release	= vhost_accel_release,
	.unlocked_ioctl	= vhost_accel_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhost_accel_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vhost-accel",
	.fops	= &vhost_accel_fops,
};

static int __init vhost_accel_init(void)
{
	int ret;

	ret = vhost_accel_nic_init();
	if (ret)
		return ret;
	vhost_accel_debugfs_init();
	ret = vhost_accel_genl_init();
	if (ret)
		goto err_debugfs;
	ret = misc_register(&vhost_accel_misc);
	if (ret)
		goto err_genl;
	pr_info("/dev/%s ready (vhost-net ABI, max_mem_regions=%u)\n",
		vhost_accel_misc.name, vhost_accel_max_mem_regions);
	return 0;

err_genl:
	vhost_accel_genl_exit();
err_debugfs:
	vhost_accel_debugfs_exit();
	vhost_accel_nic_exit();
	return ret;
}

static void __exit vhost_accel_exit(void)
{
	misc_deregister(&vhost_accel_misc);
	vhost_accel_genl_exit();
	vhost_accel_debugfs_exit();
	vhost_accel_nic_exit();
}

module_init(vhost_accel_init);
module_exit(vhost_accel_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(VHOST_ACCEL_VERSION);
MODULE_AUTHOR("vhost-accel developers");
MODULE_DESCRIPTION("Accelerated vhost-net backend for cooperating NICs");
