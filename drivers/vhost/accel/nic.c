// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel: the registry of cooperating NICs, binding a device's queue
 * pair to one of their queue pairs (VHOST_ACCEL_SET_NIC, or SET_BACKEND
 * with a macvtap fd), and taking a binding down when the NIC or the
 * macvtap goes away.  Starting and stopping the datapath on a binding, and
 * the callbacks the NIC calls, are in datapath.c.
 *
 * Locking (see Documentation/control-plane.rst, "Lifetime and locking
 * guarantees"):
 *
 *   vhost_accel_nics_lock  global: the NIC list, each NIC's list of
 *                          bindings (nic->users, b->nic_node), dev->binding
 *                          and b->tap_gone.  Held only to look at or change
 *                          those lists and pointers: never across a call
 *                          into a driver, a guest-memory access, a wait for
 *                          a mutex of a device or for a worker.
 *   b->lock                one binding: its queue pair (attach, detach,
 *                          reclaim_rx, get_stats), its attach flags, @dead.
 *                          May be held while waiting for the device's
 *                          queue mutexes and worker: it is the device's own.
 *   vq->mutex              as in accel.h.
 *
 * Order: dev->mutex -> b->lock -> vq->mutex; the nics lock nests inside any
 * of them and nothing is taken under it; RTNL -> nics lock (the macvtap
 * notifier).  A binding is reference counted: dev->binding, its place on
 * nic->users and anyone who looked it up hold one.  Teardown (unbind, NIC
 * removal, a driver's detached callback, the macvtap going away) runs under
 * b->lock only, and the binding leaves nic->users and dev->binding only
 * after its queue pair was detached.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/etherdevice.h>
#include <linux/if_macvlan.h>
#include <linux/if_tun.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/refcount.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_net.h>
#include <linux/vhost_accel_nic.h>
#include <net/net_namespace.h>

#include "accel.h"
#include "tap_internals.h"
#include "trace.h"

static DEFINE_MUTEX(vhost_accel_nics_lock);
static LIST_HEAD(vhost_accel_nics);

static bool macvtap_spoofchk = true;
module_param(macvtap_spoofchk, bool, 0644);
MODULE_PARM_DESC(macvtap_spoofchk,
		 "NIC drops guest frames whose source MAC is not the macvtap's (bindings made through a macvtap after a change; default Y)");

/**
 * vhost_accel_nic_register - declare that a netdev cooperates
 * @config: filled by the driver; see &struct vhost_accel_nic_config
 *
 * Process context.
 *
 * Return: the NIC's handle, for vhost_accel_nic_unregister(); or
 * ERR_PTR(-EINVAL) when @config lacks the netdev, the ops, max_qps,
 * max_segs or one of the required ops (attach, detach, xmit, post_rx,
 * reclaim_rx); ERR_PTR(-ENOMEM).
 */
struct vhost_accel_nic *
vhost_accel_nic_register(const struct vhost_accel_nic_config *config)
{
	const struct vhost_accel_nic_ops *ops = config->ops;
	struct vhost_accel_nic *nic;

	if (!config->netdev || !ops || !config->max_qps ||
	    !config->max_segs || !ops->attach || !ops->detach ||
	    !ops->xmit || !ops->post_rx || !ops->reclaim_rx)
		return ERR_PTR(-EINVAL);
	nic = kzalloc(sizeof(*nic), GFP_KERNEL);
	if (!nic)
		return ERR_PTR(-ENOMEM);
	nic->netdev = config->netdev;
	nic->ops = ops;
	nic->max_qps = config->max_qps;
	nic->max_segs = config->max_segs;
	nic->owner = config->owner;
	INIT_LIST_HEAD(&nic->users);
	mutex_lock(&vhost_accel_nics_lock);
	list_add_tail(&nic->list, &vhost_accel_nics);
	mutex_unlock(&vhost_accel_nics_lock);
	pr_info("%s cooperates: %u queue pairs\n", netdev_name(nic->netdev),
		nic->max_qps);
	return nic;
}
EXPORT_SYMBOL_GPL(vhost_accel_nic_register);

/*
 * Counting on the macvtap: a binding made through a macvtap holds it in
 * b->stats_tap, and the datapath's completion handling adds the guest's
 * traffic to its counters under rcu_read_lock() (datapath.c).  The macvtap
 * frees those counters when it unregisters (ndo_uninit), held or not, so
 * the pointer goes before: the netdev notifier clears it for the bindings
 * listed, the teardown for the binding it undoes, each under the nics lock,
 * and puts the macvtap after a grace period.  A reader that still finds it
 * counts only while it is registered: a macvtap marked unregistering waits
 * a grace period before its notifiers and ndo_uninit run, which covers a
 * binding taken off its NIC's list before that.
 */
static struct net_device *stats_tap_take(struct vhost_accel_binding *b)
{
	return rcu_replace_pointer(b->stats_tap, NULL,
				   lockdep_is_held(&vhost_accel_nics_lock));
}

/* After stats_tap_take(), the nics lock dropped: @n references of @tap. */
static void stats_tap_put(struct net_device *tap, unsigned int n)
{
	if (!tap)
		return;
	synchronize_net();
	while (n--)
		dev_put(tap);
}

void vhost_accel_binding_put(struct vhost_accel_binding *b)
{
	if (!b || !refcount_dec_and_test(&b->ref))
		return;
	/* not torn down (a failed bind): no datapath ever counted through it */
	dev_put(rcu_dereference_protected(b->stats_tap, true));
	dev_put(b->netdev);
	if (b->tapfile)
		fput(b->tapfile);
	kfree(b);
}

/* The device's binding with a reference, or NULL. */
struct vhost_accel_binding *
vhost_accel_binding_get(struct vhost_accel_dev *dev)
{
	struct vhost_accel_binding *b;

	mutex_lock(&vhost_accel_nics_lock);
	b = dev->binding;
	if (b)
		refcount_inc(&b->ref);
	mutex_unlock(&vhost_accel_nics_lock);
	return b;
}

/* Take @b off its NIC's list, if still there; true: the list's reference
 * is now the caller's.
 */
static bool binding_unlist(struct vhost_accel_binding *b)
{
	lockdep_assert_held(&vhost_accel_nics_lock);
	if (list_empty(&b->nic_node))
		return false;
	list_del_init(&b->nic_node);
	return true;
}

static struct vhost_accel_nic *nic_find(const struct net_device *netdev)
{
	struct vhost_accel_nic *nic;

	lockdep_assert_held(&vhost_accel_nics_lock);
	list_for_each_entry(nic, &vhost_accel_nics, list)
		if (nic->netdev == netdev)
			return nic;
	return NULL;
}

static u32 attach_flags(const struct vhost_accel_dev *dev, u32 bind_flags)
{
	u32 flags = 0;

	if (vhost_accel_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF))
		flags |= VHOST_ACCEL_ATTACH_RX_MERGE;
	if (bind_flags & VHOST_ACCEL_BIND_F_FLOW_CONTROL)
		flags |= VHOST_ACCEL_ATTACH_FLOW_CONTROL;
	return flags;
}

/* ---- isolation: a binding's port on the NIC's switch ---- */

/* The NIC's switching mode for a macvtap's mode (source mode: strictest). */
static u8 tap_port_mode(const struct net_device *tapdev)
{
	const struct macvlan_dev *vlan = netdev_priv(tapdev);

	switch (READ_ONCE(vlan->mode)) {
	case MACVLAN_MODE_VEPA:
		return VHOST_ACCEL_MODE_VEPA;
	case MACVLAN_MODE_BRIDGE:
		return VHOST_ACCEL_MODE_BRIDGE;
	case MACVLAN_MODE_PASSTHRU:
		return VHOST_ACCEL_MODE_PASSTHRU;
	default:
		return VHOST_ACCEL_MODE_PRIVATE;
	}
}

/*
 * The port a binding asks for: SET_NIC bindings are mode NONE (the owner
 * chose the NIC with CAP_NET_ADMIN); one made through a macvtap takes its
 * mode and is down while the macvtap is.  Anti-spoofing unless the binding
 * opted out (VHOST_ACCEL_BIND_F_NO_SPOOFCHK; for a macvtap binding, the
 * macvtap_spoofchk parameter when it was made).  @tapdev: the binding's
 * macvtap, held (or under RTNL), NULL when it is gone: the strictest port,
 * down, until the binding's revocation takes it away.
 */
static void binding_port(const struct vhost_accel_binding *b,
			 struct net_device *tapdev, u8 *mode, u32 *port_flags)
{
	*mode = VHOST_ACCEL_MODE_NONE;
	*port_flags = 0;
	if (b->flags & VHOST_ACCEL_BIND_F_NO_SPOOFCHK)
		*port_flags |= VHOST_ACCEL_PORT_NO_SPOOFCHK;
	if (!b->tapdev)
		return;
	if (!tapdev) {
		*mode = VHOST_ACCEL_MODE_PRIVATE;
		*port_flags |= VHOST_ACCEL_PORT_DOWN;
		return;
	}
	*mode = tap_port_mode(tapdev);
	if (!netif_running(tapdev))
		*port_flags |= VHOST_ACCEL_PORT_DOWN;
}

/* The binding's macvtap, held, unless there is none or it unregistered. */
static struct net_device *binding_tapdev_get(struct vhost_accel_binding *b)
{
	struct net_device *tapdev = NULL;

	mutex_lock(&vhost_accel_nics_lock);
	if (b->tapdev && !b->tap_gone) {
		tapdev = b->tapdev;
		dev_hold(tapdev);
	}
	mutex_unlock(&vhost_accel_nics_lock);
	return tapdev;
}

static int binding_attach(struct vhost_accel_binding *b)
{
	struct vhost_accel_attach args = {
		.flags = attach_flags(b->dev, b->flags),
		.rx_headroom = vhost_accel_vnet_hdr_len(b->dev),
		.cb = &vhost_accel_nic_callbacks,
		.ctx = b,
	};
	struct net_device *tapdev = binding_tapdev_get(b);
	struct vhost_accel_qp *qp;

	ether_addr_copy(args.mac, b->mac);
	binding_port(b, tapdev, &args.mode, &args.port_flags);
	dev_put(tapdev);
	qp = b->nic->ops->attach(b->nic->netdev, &args);
	if (IS_ERR(qp))
		return PTR_ERR(qp);
	b->qp = qp;
	b->attach_flags = args.flags;
	b->rx_headroom = args.rx_headroom;
	b->rx_nobuf_counted = 0;	/* the NIC counts since the attach */
	return 0;
}

/*
 * Stop pulling from the guest, take every buffer back from the NIC and
 * release the NIC's queue pair; b->lock held.  The queues that ran on it
 * are stopped afterwards and their datapath state freed (a queue being
 * stopped or started by an ioctl meanwhile frees its own).
 */
static void binding_detach(struct vhost_accel_binding *b)
{
	struct vhost_accel_dev *dev = b->dev;
	bool ran[VHOST_ACCEL_NVQS] = {}, any = false;
	unsigned int i;

	lockdep_assert_held(&b->lock);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		struct vhost_accel_vq *vq = &dev->vqs[i];

		mutex_lock(&vq->mutex);
		if (vq->backend == b) {
			vq->backend = NULL;
			vq->qp = NULL;
			ran[i] = true;
			any = true;
		}
		mutex_unlock(&vq->mutex);
	}
	/* the NIC's last drops, while its counters are there */
	mutex_lock(&dev->vqs[VHOST_ACCEL_VQ_RX].mutex);
	vhost_accel_tap_count_nobuf(b);
	mutex_unlock(&dev->vqs[VHOST_ACCEL_VQ_RX].mutex);
	if (b->qp)
		b->nic->ops->detach(b->qp);
	/* Nothing of the old attach stays: the next start attaches anew. */
	b->qp = NULL;
	b->attach_flags = 0;
	b->rx_headroom = 0;
	if (!any)
		return;
	/* The worker turns the returned buffers into used entries. */
	vhost_accel_worker_flush(dev);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		if (ran[i])
			vhost_accel_dp_release(&dev->vqs[i]);
}

/*
 * Undo a binding completely, from any thread that holds a reference to it;
 * returns once it is done, whoever did it.  @nic_gone: report the loss on
 * both queues' error eventfds.
 */
void vhost_accel_binding_teardown(struct vhost_accel_binding *b,
				  bool nic_gone)
{
	struct vhost_accel_dev *dev = b->dev;
	struct net_device *tap;
	bool listed, devs;
	unsigned int i;

	mutex_lock(&b->lock);
	if (b->dead) {
		mutex_unlock(&b->lock);
		return;
	}
	b->dead = true;
	binding_detach(b);
	if (nic_gone) {
		for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
			mutex_lock(&dev->vqs[i].mutex);
			vhost_accel_vq_signal_err(&dev->vqs[i]);
			mutex_unlock(&dev->vqs[i].mutex);
		}
	}
	mutex_lock(&vhost_accel_nics_lock);
	listed = binding_unlist(b);
	devs = dev->binding == b;
	if (devs)
		dev->binding = NULL;
	tap = stats_tap_take(b);
	mutex_unlock(&vhost_accel_nics_lock);
	mutex_unlock(&b->lock);
	/* a queue being stopped meanwhile may still count (datapath.c) */
	stats_tap_put(tap, 1);
	if (listed)
		vhost_accel_binding_put(b);
	if (devs)
		vhost_accel_binding_put(b);
}

/**
 * vhost_accel_nic_unregister - a cooperating netdev is going away
 * @nic: the handle vhost_accel_nic_register() returned
 *
 * Detaches every vhost device bound to @nic (each gets its error eventfd
 * signalled and may bind again elsewhere), returns when none is left and
 * frees @nic.  Process context; call before unregister_netdev() and before
 * the module that implements the NIC's ops goes (bindings do not pin it).
 */
void vhost_accel_nic_unregister(struct vhost_accel_nic *nic)
{
	struct vhost_accel_binding *b;

	mutex_lock(&vhost_accel_nics_lock);
	list_del(&nic->list);
	mutex_unlock(&vhost_accel_nics_lock);
	/*
	 * No new binding finds @nic now.  One being made (attach in progress,
	 * b->lock held by its maker) is on the list: its teardown waits for
	 * the maker, who sees it unlisted and detaches it.
	 */
	for (;;) {
		mutex_lock(&vhost_accel_nics_lock);
		b = list_first_entry_or_null(&nic->users,
					     struct vhost_accel_binding,
					     nic_node);
		if (b)
			binding_unlist(b);	/* its reference is ours */
		mutex_unlock(&vhost_accel_nics_lock);
		if (!b)
			break;
		vhost_accel_binding_teardown(b, true);
		vhost_accel_binding_put(b);
	}
	pr_info("%s no longer cooperates\n", netdev_name(nic->netdev));
	kfree(nic);
}
EXPORT_SYMBOL_GPL(vhost_accel_nic_unregister);

/* ---- degrading to the copying datapath, and back ---- */

/* A degraded device tries for a queue pair again this often. */
#define VHOST_ACCEL_RESTORE_DELAY	msecs_to_jiffies(200)
/* Frames a macvtap may hold (its queue length is a few hundred). */
#define VHOST_ACCEL_SWITCH_DISCARD_MAX	4096
/* How long the frames the guest sent through the macvtap may take to go. */
#define VHOST_ACCEL_SWITCH_DRAIN_MS	100

/* Count and trace a switch of datapath; dev->mutex held. */
static void dev_switched(struct vhost_accel_dev *dev,
			 struct vhost_accel_binding *b, unsigned int drops)
{
	dev->datapath_switches++;
	dev->switch_drops += drops;
	trace_vhost_accel_datapath_switch(dev->id, b->netdev->ifindex,
					  dev->datapath,
					  dev->datapath_switches, drops);
}

/*
 * Run @vq on the copying datapath through the binding's macvtap; if that
 * cannot start, the queue is stopped and says so on its error eventfd.
 */
static void copy_through_tap(struct vhost_accel_dev *dev,
			     struct vhost_accel_vq *vq,
			     struct vhost_accel_binding *b)
{
	if (!vhost_accel_copy_start(dev, vq, b->tapfile))
		return;
	mutex_lock(&vq->mutex);
	vhost_accel_vq_signal_err(vq);
	mutex_unlock(&vq->mutex);
}

/*
 * A binding made through a macvtap that stays can lose its queue pair
 * without its guest noticing: the queues go on through the macvtap on the
 * copying datapath.  Not for SET_NIC bindings (no socket to go through),
 * nor when the device wants acceleration or nothing.
 */
static bool binding_may_degrade(struct vhost_accel_binding *b)
{
	bool ok;

	mutex_lock(&vhost_accel_nics_lock);
	ok = b->from_tap && !b->tap_gone;
	mutex_unlock(&vhost_accel_nics_lock);
	return ok && !vhost_accel_dev_accel_only(b->dev);
}

/*
 * The NIC took the queue pair back (a queue reset, cb->detached) or cannot
 * follow the macvtap: detach it, and run the queues that used it on the
 * copying datapath through the macvtap, with their rings as they are.  What
 * the macvtap queued meanwhile is thrown away first: the NIC may have
 * delivered a copy of it to the guest already (broadcasts), and a frame
 * must never arrive twice.  dev->mutex held.
 */
static void binding_degrade(struct vhost_accel_dev *dev,
			    struct vhost_accel_binding *b)
{
	bool ran[VHOST_ACCEL_NVQS];
	unsigned int i, drops;

	mutex_lock(&b->lock);
	if (b->dead) {
		mutex_unlock(&b->lock);
		return;
	}
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		ran[i] = dev->vqs[i].backend == b;
	binding_detach(b);
	WRITE_ONCE(b->detach_requested, false);
	mutex_unlock(&b->lock);
	drops = vhost_accel_copy_discard(b->tapfile,
					 VHOST_ACCEL_SWITCH_DISCARD_MAX);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		if (!ran[i])
			continue;
		copy_through_tap(dev, &dev->vqs[i], b);
	}
	WRITE_ONCE(dev->degraded, true);
	dev->datapath = VHOST_ACCEL_DATAPATH_COPY;
	dev_switched(dev, b, drops);
	pr_info_ratelimited("dev %u: %s took its queue pair back: copying through the macvtap until it lends one again\n",
			    dev->id, netdev_name(b->netdev));
	mod_delayed_work(system_wq, &dev->detach_work,
			 VHOST_ACCEL_RESTORE_DELAY);
}

/*
 * A degraded device gets a queue pair again: attach, let the copying Rx
 * queue deliver what the macvtap still holds (the NIC steers the guest's
 * frames to the queue pair from the attach on), throw away and count what
 * found no guest buffer, let what the guest sent through the macvtap leave
 * first (so that no frame overtakes an earlier one of the guest's), and
 * start the accelerated datapath on the queues.
 * dev->mutex held.
 */
static void binding_restore(struct vhost_accel_dev *dev,
			    struct vhost_accel_binding *b)
{
	bool on[VHOST_ACCEL_NVQS], any = false;
	unsigned int i, drops;
	int ret;

	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		on[i] = vhost_accel_copy_same_file(&dev->vqs[i], b->tapfile);
		any |= on[i];
	}
	mutex_lock(&b->lock);
	ret = b->dead || !any ? -ENOLINK : vhost_accel_binding_refresh(b);
	mutex_unlock(&b->lock);
	if (ret == -ENOLINK) {
		WRITE_ONCE(dev->degraded, false);
		return;
	}
	if (ret) {
		mod_delayed_work(system_wq, &dev->detach_work,
				 VHOST_ACCEL_RESTORE_DELAY);
		return;
	}
	if (on[VHOST_ACCEL_VQ_RX]) {
		vhost_accel_dp_queue(&dev->vqs[VHOST_ACCEL_VQ_RX]);
		vhost_accel_worker_flush(dev);
	}
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		if (on[i])
			vhost_accel_copy_stop(dev, &dev->vqs[i]);
	/* the guest's frames in the macvtap go out before the NIC's */
	if (on[VHOST_ACCEL_VQ_TX])
		vhost_accel_copy_wait_sent(b->tapfile,
					   VHOST_ACCEL_SWITCH_DRAIN_MS);
	drops = vhost_accel_copy_discard(b->tapfile,
					 VHOST_ACCEL_SWITCH_DISCARD_MAX);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++) {
		if (!on[i] || !vhost_accel_backend_start(dev, &dev->vqs[i],
							 false))
			continue;
		/* the queue pair went again meanwhile: copy on */
		copy_through_tap(dev, &dev->vqs[i], b);
	}
	WRITE_ONCE(dev->degraded, false);
	dev->datapath = vhost_accel_dev_datapath(dev);
	dev_switched(dev, b, drops);
	pr_info_ratelimited("dev %u: %s lends a queue pair again: accelerated\n",
			    dev->id, netdev_name(b->netdev));
}

/*
 * The driver lost the queue pair on its own (cb->detached), the macvtap
 * went or changed, or a degraded device tries for a queue pair again.
 * The work belongs to the device, so it finds the binding, if still
 * there, anew.  Switching datapaths needs dev->mutex, which an owner's
 * ioctl may hold while it waits for this work (reset, release): the work
 * only tries it, and comes back.
 */
void vhost_accel_detach_work(struct work_struct *work)
{
	struct vhost_accel_dev *dev = container_of(to_delayed_work(work),
						   struct vhost_accel_dev,
						   detach_work);
	struct vhost_accel_binding *b = vhost_accel_binding_get(dev);
	bool detach = b && READ_ONCE(b->detach_requested);

	if (!b || (!detach && !READ_ONCE(dev->degraded)))
		goto out;
	if (detach && !binding_may_degrade(b)) {
		vhost_accel_binding_teardown(b, true);
		goto out;
	}
	if (!mutex_trylock(&dev->mutex)) {
		mod_delayed_work(system_wq, &dev->detach_work, 1);
		goto out;
	}
	/*
	 * Starting a datapath reads and writes the guest's rings at their
	 * user addresses: do it in the owner's address space, as the worker
	 * does.  No owner (reset meanwhile): nothing runs to switch.
	 */
	if (dev->mm) {
		kthread_use_mm(dev->mm);
		if (READ_ONCE(b->detach_requested))
			binding_degrade(dev, b);
		else if (dev->degraded)
			binding_restore(dev, b);
		kthread_unuse_mm(dev->mm);
	}
	mutex_unlock(&dev->mutex);
out:
	vhost_accel_binding_put(b);
}

static void unbind(struct vhost_accel_dev *dev)
{
	struct vhost_accel_binding *b = vhost_accel_binding_get(dev);

	if (b)
		vhost_accel_binding_teardown(b, false);
	vhost_accel_binding_put(b);
}

/* Drop the binding, if any, and any pending driver detach (on release). */
void vhost_accel_unbind(struct vhost_accel_dev *dev)
{
	unbind(dev);
	cancel_delayed_work_sync(&dev->detach_work);
}

bool vhost_accel_is_bound(struct vhost_accel_dev *dev)
{
	bool bound;

	mutex_lock(&vhost_accel_nics_lock);
	bound = dev->binding;
	mutex_unlock(&vhost_accel_nics_lock);
	return bound;
}

static int bind_check(const struct vhost_accel_nic_bind *req)
{
	if (req->flags & ~(VHOST_ACCEL_BIND_F_FLOW_CONTROL |
			   VHOST_ACCEL_BIND_F_NO_SPOOFCHK |
			   VHOST_ACCEL_BIND_F_ACCEL_ONLY))
		return -EINVAL;
	if (req->pad[0] || req->pad[1])
		return -EINVAL;
	if (req->ifindex && !is_valid_ether_addr(req->mac))
		return -EINVAL;
	return 0;
}

/*
 * Devices bound with one MAC on one NIC are the queue pairs of one
 * multiqueue guest: the NIC spreads the MAC's flows over them.  They join
 * the way the first came: all with VHOST_ACCEL_SET_NIC, or all through
 * queue fds of the one macvtap that has the MAC (@tapdev), each queue fd
 * backing one device (@tapfile), as QEMU's queues=N passes them.
 */
static int bind_group_check(struct vhost_accel_nic *nic, const u8 *mac,
			    struct net_device *tapdev, struct file *tapfile)
{
	struct vhost_accel_binding *b;

	list_for_each_entry(b, &nic->users, nic_node) {
		/* a macvtap already gone: its binding is on its way out */
		if (b->tap_gone || !ether_addr_equal(b->mac, mac))
			continue;
		if (b->tapdev != tapdev)
			return -EADDRINUSE;
		if (tapfile && b->tapfile == tapfile)
			return -EBUSY;
	}
	return 0;
}

/* Checks and list insertion of a new binding; nics lock held. */
static int bind_list(struct vhost_accel_binding *b,
		     const struct vhost_accel_nic_bind *req,
		     struct net_device *netdev, struct net_device *tapdev,
		     struct file *tapfile)
{
	struct vhost_accel_nic *nic;
	int ret;

	lockdep_assert_held(&vhost_accel_nics_lock);
	nic = nic_find(netdev);
	if (!nic) {
		/* through a macvtap, SET_BACKEND says what runs instead */
		if (!tapdev)
			pr_info_ratelimited("%s does not cooperate with vhost-accel\n",
					    netdev_name(netdev));
		return -EOPNOTSUPP;
	}
	if (!netif_running(netdev))
		return -ENETDOWN;
	/*
	 * A macvtap whose unregistration began may have run the notifier
	 * already (it takes this lock), and a binding made now would never
	 * be revoked: refuse it.  One listed before the notifier runs is
	 * found by it.
	 */
	if (tapdev && READ_ONCE(tapdev->reg_state) != NETREG_REGISTERED)
		return -ENODEV;
	ret = bind_group_check(nic, req->mac, tapdev, tapfile);
	if (ret)
		return ret;
	/*
	 * A driver being unloaded is about to unregister: refuse it.  The
	 * binding itself does not pin the module: unloading unregisters the
	 * NIC, which detaches every binding first, so nothing calls into the
	 * driver afterwards.
	 */
	if (!try_module_get(nic->owner))
		return -ENODEV;
	module_put(nic->owner);
	b->nic = nic;
	/* registered, and listed before its notifier can look */
	if (tapdev) {
		dev_hold(tapdev);
		rcu_assign_pointer(b->stats_tap, tapdev);
	}
	list_add_tail(&b->nic_node, &nic->users);
	refcount_inc(&b->ref);			/* the list's */
	return 0;
}

/*
 * Bind @dev to @netdev; through a macvtap queue if @tapfile is set.
 * dev->mutex held, @dev not bound.  The queue pair is attached without the
 * nics lock, under b->lock: a NIC unregistering meanwhile takes the new
 * binding off its list and waits for b->lock; seeing that, this detaches
 * again and fails.
 */
static int bind_new(struct vhost_accel_dev *dev,
		    const struct vhost_accel_nic_bind *req,
		    struct net_device *netdev, struct net_device *tapdev,
		    struct file *tapfile)
{
	struct vhost_accel_binding *b;
	bool gone, unlisted = false;
	int ret;

	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return -ENOMEM;
	refcount_set(&b->ref, 1);		/* ours */
	mutex_init(&b->lock);
	INIT_LIST_HEAD(&b->nic_node);
	b->dev = dev;
	b->netdev = netdev;
	dev_hold(netdev);
	b->flags = req->flags;
	ether_addr_copy(b->mac, req->mac);
	atomic64_set(&b->rx_depletions, 0);
	b->tapdev = tapdev;	/* its mode and state make the port */
	if (tapfile) {
		b->from_tap = true;
		/* as vhost-net holds its backend; also keeps @tapfile unique */
		b->tapfile = get_file(tapfile);
	}

	mutex_lock(&b->lock);
	mutex_lock(&vhost_accel_nics_lock);
	ret = bind_list(b, req, netdev, tapdev, tapfile);
	mutex_unlock(&vhost_accel_nics_lock);
	if (ret)
		goto out;
	ret = binding_attach(b);

	mutex_lock(&vhost_accel_nics_lock);
	/* unlisted by vhost_accel_nic_unregister(): the reference is its */
	gone = list_empty(&b->nic_node);
	if (ret && !gone) {
		unlisted = binding_unlist(b);
	} else if (!ret && !gone) {
		refcount_inc(&b->ref);		/* dev->binding's */
		dev->binding = b;
		/*
		 * The macvtap went (notifier) or the driver dropped the queue
		 * pair (detached callback) while we attached: their detach
		 * work may have run before dev->binding was set.
		 */
		if (READ_ONCE(b->detach_requested))
			mod_delayed_work(system_wq, &dev->detach_work, 0);
	}
	mutex_unlock(&vhost_accel_nics_lock);
	if (!ret && gone) {
		/* The NIC went away while we attached. */
		b->nic->ops->detach(b->qp);
		b->qp = NULL;
		ret = -ENODEV;
	}
	if (ret)
		b->dead = true;
	if (unlisted)
		vhost_accel_binding_put(b);
out:
	mutex_unlock(&b->lock);
	vhost_accel_binding_put(b);
	return ret;
}

/**
 * vhost_accel_set_nic - VHOST_ACCEL_SET_NIC
 * @dev: the device, dev->mutex held, caller is the owner
 * @argp: struct vhost_accel_nic_bind from user space
 *
 * Return: 0 or a negative errno as documented in the uapi header.
 */
long vhost_accel_set_nic(struct vhost_accel_dev *dev,
			 struct vhost_accel_nic_bind __user *argp)
{
	struct vhost_accel_nic_bind req;
	struct net_device *netdev;
	long ret;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	ret = bind_check(&req);
	if (ret)
		return ret;
	if (vhost_accel_vq_running(&dev->vqs[VHOST_ACCEL_VQ_RX]) ||
	    vhost_accel_vq_running(&dev->vqs[VHOST_ACCEL_VQ_TX]))
		return -EBUSY;
	if (!req.ifindex) {
		unbind(dev);
		dev->accel_only = req.flags & VHOST_ACCEL_BIND_F_ACCEL_ONLY;
		return 0;
	}

	netdev = dev_get_by_index(current->nsproxy->net_ns, req.ifindex);
	if (!netdev)
		return -ENODEV;
	if (!ns_capable(dev_net(netdev)->user_ns, CAP_NET_ADMIN)) {
		ret = -EPERM;
		goto out;
	}
	unbind(dev);
	ret = bind_new(dev, &req, netdev, NULL, NULL);
	if (!ret)
		dev->accel_only = req.flags & VHOST_ACCEL_BIND_F_ACCEL_ONLY;
	if (!ret)
		pr_debug("pid %d bound to %s\n", task_pid_nr(current),
			 netdev_name(netdev));
out:
	dev_put(netdev);
	return ret;
}

/**
 * vhost_accel_bind_tap - bind through a macvtap fd (SET_BACKEND)
 * @dev: the device, dev->mutex held, not bound
 * @file: the fd user space passed, as QEMU's -netdev tap,fd= does
 *
 * The queue pair goes to the macvtap's lower device, steered by the
 * macvtap's MAC.  Holding the macvtap fd is the authorization, as for
 * vhost-net: QEMU under libvirt has no CAP_NET_ADMIN.  A multiqueue
 * macvtap's queue fds (QEMU's fds=, one per vhost device) bind one queue
 * pair each, sharing the MAC; the NIC spreads the flows over them.
 *
 * Return: 0, -ENOTSOCK (no socket vhost-net takes), -EOPNOTSUPP (a
 * tun/tap, an ipvtap, a packet socket, or a lower device that does not
 * cooperate; the caller says which datapath runs instead), -EBUSY (this
 * queue fd already backs another device), -EADDRINUSE (the MAC is bound
 * with VHOST_ACCEL_SET_NIC), or an error of binding (see
 * VHOST_ACCEL_SET_NIC).
 */
int vhost_accel_bind_tap(struct vhost_accel_dev *dev, struct file *file)
{
	struct vhost_accel_nic_bind req = {};
	struct net_device *tapdev, *lower;
	int ret;

	tapdev = vhost_accel_tap_netdev_get(file);
	if (!tapdev)
		return vhost_accel_copy_socket_ok(file) ?: -EOPNOTSUPP;
	ret = -EOPNOTSUPP;
	if (!netif_is_macvlan(tapdev))
		goto out;
	lower = macvlan_dev_real_dev(tapdev);
	ether_addr_copy(req.mac, tapdev->dev_addr);
	req.ifindex = lower->ifindex;
	if (!READ_ONCE(macvtap_spoofchk))
		req.flags |= VHOST_ACCEL_BIND_F_NO_SPOOFCHK;
	ret = bind_new(dev, &req, lower, tapdev, file);
out:
	dev_put(tapdev);
	return ret;
}

/**
 * vhost_accel_tap_accelerated - does another device run accelerated
 *	through the macvtap behind @file?
 * @file: a backend fd's file
 *
 * Then a queue fd of that macvtap must not back a copying device: the NIC
 * delivers the macvtap MAC's broadcasts to the accelerated queue pairs and
 * to the macvtap too, and a multiqueue guest would get them twice.
 */
bool vhost_accel_tap_accelerated(struct file *file)
{
	struct net_device *tapdev = vhost_accel_tap_netdev_get(file);
	struct vhost_accel_binding *b;
	struct vhost_accel_nic *nic;
	bool found = false;

	if (!tapdev)
		return false;
	mutex_lock(&vhost_accel_nics_lock);
	list_for_each_entry(nic, &vhost_accel_nics, list)
		list_for_each_entry(b, &nic->users, nic_node)
			found |= b->tapdev == tapdev && !b->tap_gone;
	mutex_unlock(&vhost_accel_nics_lock);
	dev_put(tapdev);
	return found;
}

/*
 * A macvtap went up or down or changed mode (RTNL held): the ports of the
 * bindings made through it follow.  A NIC that cannot follow loses them,
 * as if the macvtap were gone.  The driver is called under each binding's
 * lock, not the global one.
 */
static int tap_port_changed(struct net_device *tapdev)
{
	struct vhost_accel_binding *b, **all;
	struct vhost_accel_nic *nic;
	unsigned int n = 0, i;
	u32 port_flags;
	u8 mode;

	mutex_lock(&vhost_accel_nics_lock);
	list_for_each_entry(nic, &vhost_accel_nics, list)
		list_for_each_entry(b, &nic->users, nic_node)
			n += b->tapdev == tapdev && !b->tap_gone;
	all = n ? kmalloc_array(n, sizeof(*all), GFP_KERNEL) : NULL;
	n = 0;
	list_for_each_entry(nic, &vhost_accel_nics, list)
		list_for_each_entry(b, &nic->users, nic_node)
			if (all && b->tapdev == tapdev && !b->tap_gone) {
				refcount_inc(&b->ref);
				all[n++] = b;
			}
	mutex_unlock(&vhost_accel_nics_lock);

	for (i = 0; i < n; i++) {
		b = all[i];
		mutex_lock(&b->lock);
		if (!b->dead && b->qp) {
			binding_port(b, tapdev, &mode, &port_flags);
			if (!b->nic->ops->set_port ||
			    b->nic->ops->set_port(b->qp, mode, port_flags)) {
				pr_warn_ratelimited("%s on %s: the NIC cannot follow the macvtap: unbound\n",
						    netdev_name(tapdev),
						    netdev_name(b->netdev));
				WRITE_ONCE(b->detach_requested, true);
				/* dev is alive: b is not torn down */
				mod_delayed_work(system_wq, &b->dev->detach_work, 0);
			}
		}
		mutex_unlock(&b->lock);
		vhost_accel_binding_put(b);
	}
	kfree(all);
	return NOTIFY_DONE;
}

/*
 * A macvtap going away revokes the bindings made through it, as deleting
 * it cuts a vhost-net guest off: the queues stop and report it on their
 * error eventfd.  Called with RTNL held, so it only marks them and leaves
 * the teardown (which waits for the device) to the device's detach work.
 * The binding's tapdev is not dereferenced after this.
 */
static int vhost_accel_netdev_event(struct notifier_block *nb,
				    unsigned long event, void *ptr)
{
	struct net_device *netdev = netdev_notifier_info_to_dev(ptr);
	struct vhost_accel_binding *b;
	struct vhost_accel_nic *nic;
	unsigned int held = 0;

	if (netif_is_macvlan(netdev) && (event == NETDEV_UP ||
					 event == NETDEV_DOWN ||
					 event == NETDEV_CHANGE))
		return tap_port_changed(netdev);
	if (event != NETDEV_UNREGISTER || !netif_is_macvlan(netdev))
		return NOTIFY_DONE;
	mutex_lock(&vhost_accel_nics_lock);
	list_for_each_entry(nic, &vhost_accel_nics, list)
		list_for_each_entry(b, &nic->users, nic_node)
			if (b->tapdev == netdev && !b->tap_gone) {
				b->tap_gone = true;
				held += !!stats_tap_take(b);
				WRITE_ONCE(b->detach_requested, true);
				/* dev is alive while b is listed */
				mod_delayed_work(system_wq, &b->dev->detach_work, 0);
			}
	mutex_unlock(&vhost_accel_nics_lock);
	/* no more counting on it before it frees its counters */
	stats_tap_put(held ? netdev : NULL, held);
	return NOTIFY_DONE;
}

static struct notifier_block vhost_accel_netdev_notifier = {
	.notifier_call = vhost_accel_netdev_event,
};

int vhost_accel_nic_init(void)
{
	return register_netdevice_notifier(&vhost_accel_netdev_notifier);
}

void vhost_accel_nic_exit(void)
{
	unregister_netdevice_notifier(&vhost_accel_netdev_notifier);
}

/* A binding made from a tap fd ends when neither queue runs any more. */
void vhost_accel_unbind_idle_tap(struct vhost_accel_dev *dev)
{
	struct vhost_accel_binding *b = vhost_accel_binding_get(dev);

	if (b && b->from_tap && !READ_ONCE(dev->vqs[VHOST_ACCEL_VQ_RX].backend) &&
	    !READ_ONCE(dev->vqs[VHOST_ACCEL_VQ_TX].backend))
		vhost_accel_binding_teardown(b, false);
	vhost_accel_binding_put(b);
}

/*
 * The features decide the header length and merging; QEMU may set them
 * after binding, so attach again if they changed and nothing runs.  A
 * binding whose last attach failed (link down, no free queue pair) has no
 * queue pair and attaches here too.  Return 0 only with b->qp attached
 * with the current features.  b->lock and dev->mutex held: only this
 * binding's teardown (b->lock) and SET_BACKEND (dev->mutex) set backends.
 */
int vhost_accel_binding_refresh(struct vhost_accel_binding *b)
{
	struct vhost_accel_dev *dev = b->dev;

	lockdep_assert_held(&b->lock);
	if (b->qp && b->attach_flags == attach_flags(dev, b->flags) &&
	    b->rx_headroom == vhost_accel_vnet_hdr_len(dev))
		return 0;
	if (dev->vqs[VHOST_ACCEL_VQ_RX].backend ||
	    dev->vqs[VHOST_ACCEL_VQ_TX].backend)
		return -EBUSY;
	if (b->qp)
		binding_detach(b);
	return binding_attach(b);
}

/* Add the NIC's counters of @b's queue pair to @st; b->lock held. */
void vhost_accel_binding_stats(struct vhost_accel_binding *b,
			       struct vhost_accel_stats *st)
{
	struct vhost_accel_qp_stats qs = {};

	lockdep_assert_held(&b->lock);
	if (b->qp && b->nic->ops->get_stats)
		b->nic->ops->get_stats(b->qp, &qs);
	st->vq[VHOST_ACCEL_VQ_RX].depletions = atomic64_read(&b->rx_depletions);
	/* TX drops by the NIC already came back as ERROR completions. */
	st->vq[VHOST_ACCEL_VQ_RX].drops_no_buf = qs.rx_dropped_no_buf;
	st->vq[VHOST_ACCEL_VQ_RX].drops_too_big += qs.rx_dropped_too_big;
	st->vq[VHOST_ACCEL_VQ_TX].drops_spoofed = qs.tx_dropped_spoofed;
}

/* Counters the NIC keeps for the device's queue pair. */
void vhost_accel_nic_stats(struct vhost_accel_dev *dev,
			   struct vhost_accel_stats *st)
{
	struct vhost_accel_binding *b = vhost_accel_binding_get(dev);

	if (!b)
		return;
	mutex_lock(&b->lock);
	vhost_accel_binding_stats(b, st);
	mutex_unlock(&b->lock);
	vhost_accel_binding_put(b);
}

/**
 * vhost_accel_binding_peers - what netlink says about a binding's neighbours
 * @b: the binding (a reference held)
 * @tap_ifindex: set to its macvtap's ifindex, 0 if none or unregistered
 *
 * Return: the bindings on @b's NIC with @b's MAC, @b included: the queue
 * pairs of one multiqueue guest.  Takes the global lock for the lists only.
 */
u32 vhost_accel_binding_peers(struct vhost_accel_binding *b, int *tap_ifindex)
{
	struct vhost_accel_binding *o;
	u32 n = 0;

	mutex_lock(&vhost_accel_nics_lock);
	*tap_ifindex = b->tapdev && !b->tap_gone ? b->tapdev->ifindex : 0;
	list_for_each_entry(o, &b->nic->users, nic_node)
		if (ether_addr_equal(o->mac, b->mac))
			n++;
	mutex_unlock(&vhost_accel_nics_lock);
	return max(n, 1U);
}

/**
 * vhost_accel_bindings_walk - visit the bindings on NICs in a namespace
 * @net: the NICs' network namespace
 * @fn: called with the binding's b->lock held and no global lock (it may
 *	take the device's vq->mutex); a non-zero return stops the walk and
 *	is returned.  Bindings torn down meanwhile are skipped.
 * @arg: for @fn
 *
 * Return: @fn's non-zero value, 0, or -ENOMEM.
 */
int vhost_accel_bindings_walk(struct net *net,
			      int (*fn)(struct vhost_accel_binding *b,
					void *arg),
			      void *arg)
{
	struct vhost_accel_binding *b, **all;
	struct vhost_accel_nic *nic;
	unsigned int n = 0, i;
	int ret = 0;

	mutex_lock(&vhost_accel_nics_lock);
	list_for_each_entry(nic, &vhost_accel_nics, list)
		if (net_eq(dev_net(nic->netdev), net))
			list_for_each_entry(b, &nic->users, nic_node)
				n++;
	all = kmalloc_array(n, sizeof(*all), GFP_KERNEL);
	if (!all && n) {
		mutex_unlock(&vhost_accel_nics_lock);
		return -ENOMEM;
	}
	n = 0;
	list_for_each_entry(nic, &vhost_accel_nics, list) {
		if (!net_eq(dev_net(nic->netdev), net))
			continue;
		list_for_each_entry(b, &nic->users, nic_node) {
			refcount_inc(&b->ref);
			all[n++] = b;
		}
	}
	mutex_unlock(&vhost_accel_nics_lock);

	for (i = 0; i < n; i++) {
		b = all[i];
		if (!ret) {
			mutex_lock(&b->lock);
			/* dead: its device may be gone already */
			if (!b->dead)
				ret = fn(b, arg);
			mutex_unlock(&b->lock);
		}
		vhost_accel_binding_put(b);
	}
	kfree(all);
	return ret;
}

/* The binding, for the device's debugfs file. */
void vhost_accel_binding_show(struct vhost_accel_dev *dev, struct seq_file *m)
{
	struct vhost_accel_binding *b;

	mutex_lock(&vhost_accel_nics_lock);
	b = dev->binding;
	if (b)
		seq_printf(m, "nic %s\nmac %pM\nflow_control %u\n",
			   netdev_name(b->netdev), b->mac,
			   !!(b->flags & VHOST_ACCEL_BIND_F_FLOW_CONTROL));
	else
		seq_puts(m, "nic none\n");
	mutex_unlock(&vhost_accel_nics_lock);
}
