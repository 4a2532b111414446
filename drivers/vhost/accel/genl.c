// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel backpressure reporting: the generic netlink family
 * "vhost_accel" (commands and attributes in the uapi header).
 *
 * One multicast group, "backpressure", carries SATURATED and RECOVERED
 * events when a device's Rx queue runs out of guest buffers and when it
 * gets some again; backpressure.c decides when and sends them through
 * vhost_accel_genl_event(), on these transitions only.  GET reads one
 * device's state (vhost_accel_bp_snapshot()) and every counter
 * VHOST_ACCEL_GET_STATS has, or, as a dump, every device's, so a daemon
 * (or vhost-accel-stat) that starts late catches up before it waits for
 * events.  Nothing here calls the datapath or waits for a device's worker:
 * a queue whose mutex is busy is read as it is (vhost_accel_vq_stats()),
 * and the pinned page count only when the device's mutex is free.
 *
 * Netlink rather than a pollable file per device: one socket sees every
 * guest of the host without holding their fds (only the owner, QEMU, has
 * those), events are queued in order with what they report, and a
 * daemon can find devices that existed before it started.
 *
 * Scope: events go to the network namespace of the NIC the device is
 * bound to, and the dump lists the bindings on NICs of the caller's
 * namespace; both need CAP_NET_ADMIN over that namespace, as binding does
 * (a guest's MAC and load are not for unprivileged users).
 *
 * The owner's pid is given as the asking process sees it (0 when the
 * owner is outside its pid namespace).  An event has no one asker: in the
 * initial network namespace it carries the pid of the initial pid
 * namespace, elsewhere 0 (a listener there asks with GET).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/pid_namespace.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "accel.h"

static const struct nla_policy bp_policy[VHOST_ACCEL_A_MAX + 1] = {
	[VHOST_ACCEL_A_DEV_ID] = { .type = NLA_U32 },
};

static struct genl_family bp_family;

enum { BP_MCGRP };

static const struct genl_multicast_group bp_mcgrps[] = {
	[BP_MCGRP] = {
		.name = VHOST_ACCEL_GENL_MCGRP_BP,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

/*
 * What a GET reply or dump entry says beyond an event: the device's
 * counters (as GET_STATS) and where it is bound.
 */
struct get_info {
	struct vhost_accel_bp_state s;
	struct vhost_accel_stats st;
	char ifname[IFNAMSIZ];
	int backend_ifindex;
	u32 queue_pairs;
	bool have_pinned;
};

static int put_u64(struct sk_buff *skb, int type, u64 v, int pad)
{
	return nla_put_u64_64bit(skb, type, v, pad);
}

static int fill_queue(struct sk_buff *skb, u32 index,
		      const struct vhost_accel_vq_stats *q)
{
	const int pad = VHOST_ACCEL_A_Q_PAD;
	struct nlattr *nest;

	nest = nla_nest_start(skb, VHOST_ACCEL_A_QUEUE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_ACCEL_A_Q_INDEX, index) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_KICKS, q->kicks, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_CALLS, q->calls, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_ERRORS, q->errors, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_PACKETS, q->packets, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_BYTES, q->bytes, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_BYTES_COPIED, q->bytes_copied, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_BUFS_POSTED, q->bufs_posted, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_DEPLETIONS, q->depletions, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_DROPS_NO_BUF, q->drops_no_buf, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_DROPS_TOO_BIG, q->drops_too_big, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_DROPS_NIC, q->drops_nic, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_SATURATIONS, q->saturations, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_SATURATED_NS, q->saturated_ns, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_RUN_CHAINS_MAX, q->run_chains_max,
		    pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_BUDGET_YIELDS, q->budget_yields,
		    pad) ||
	    put_u64(skb, VHOST_ACCEL_A_Q_DROPS_SPOOFED, q->drops_spoofed,
		    pad)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The GET-only attributes. */
static int fill_info(struct sk_buff *skb, const struct get_info *i)
{
	const int pad = VHOST_ACCEL_A_PAD;
	unsigned int q;

	if ((i->ifname[0] &&
	     nla_put_string(skb, VHOST_ACCEL_A_IFNAME, i->ifname)) ||
	    nla_put_u32(skb, VHOST_ACCEL_A_BACKEND_IFINDEX, i->backend_ifindex) ||
	    nla_put_u32(skb, VHOST_ACCEL_A_QUEUE_PAIRS, i->queue_pairs) ||
	    put_u64(skb, VHOST_ACCEL_A_WORKER_WAKEUPS, i->st.worker_wakeups,
		    pad) ||
	    put_u64(skb, VHOST_ACCEL_A_DATAPATH_SWITCHES,
		    i->st.datapath_switches, pad) ||
	    put_u64(skb, VHOST_ACCEL_A_SWITCH_DROPS, i->st.switch_drops, pad))
		return -EMSGSIZE;
	if (i->have_pinned &&
	    put_u64(skb, VHOST_ACCEL_A_PINNED_PAGES, i->st.pinned_pages, pad))
		return -EMSGSIZE;
	for (q = 0; q < VHOST_ACCEL_NVQS; q++)
		if (fill_queue(skb, q, &i->st.vq[q]))
			return -EMSGSIZE;
	return 0;
}

static int bp_fill(struct sk_buff *skb, const struct vhost_accel_bp_state *s,
		   const struct get_info *info, u8 cmd, u64 duration_ns,
		   u32 portid, u32 seq, int flags)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &bp_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_ACCEL_A_DEV_ID, s->dev_id) ||
	    nla_put_u32(skb, VHOST_ACCEL_A_OWNER_PID, s->owner_pid) ||
	    nla_put_u32(skb, VHOST_ACCEL_A_IFINDEX, s->ifindex) ||
	    nla_put(skb, VHOST_ACCEL_A_MAC, ETH_ALEN, s->mac) ||
	    nla_put_u8(skb, VHOST_ACCEL_A_SATURATED, s->saturated) ||
	    nla_put_u8(skb, VHOST_ACCEL_A_FLOW_CONTROL, s->flow_control) ||
	    nla_put_u8(skb, VHOST_ACCEL_A_DATAPATH, s->datapath) ||
	    nla_put_u64_64bit(skb, VHOST_ACCEL_A_DEPLETIONS, s->depletions,
			      VHOST_ACCEL_A_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_ACCEL_A_SATURATIONS, s->saturations,
			      VHOST_ACCEL_A_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_ACCEL_A_SATURATED_NS,
			      s->saturated_ns, VHOST_ACCEL_A_PAD))
		goto cancel;
	if (s->have_drops &&
	    nla_put_u64_64bit(skb, VHOST_ACCEL_A_DROPS_NO_BUF,
			      s->drops_no_buf, VHOST_ACCEL_A_PAD))
		goto cancel;
	if (cmd == VHOST_ACCEL_CMD_RECOVERED &&
	    nla_put_u64_64bit(skb, VHOST_ACCEL_A_DURATION_NS, duration_ns,
			      VHOST_ACCEL_A_PAD))
		goto cancel;
	if (info && fill_info(skb, info))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/**
 * vhost_accel_genl_listening - does anyone listen for backpressure events?
 * @net: the network namespace of the NIC the device is bound to
 */
bool vhost_accel_genl_listening(struct net *net)
{
	return genl_has_listeners(&bp_family, net, BP_MCGRP);
}

/**
 * vhost_accel_genl_event - multicast a backpressure state change
 * @net: the network namespace of the NIC the device is bound to
 * @s: the device's state, taken by backpressure.c
 * @cmd: VHOST_ACCEL_CMD_SATURATED or VHOST_ACCEL_CMD_RECOVERED
 * @duration_ns: RECOVERED: how long the episode lasted
 *
 * Process context.  An event that cannot be allocated is lost; the
 * counters still tell.
 */
void vhost_accel_genl_event(struct net *net,
			    const struct vhost_accel_bp_state *s, u8 cmd,
			    u64 duration_ns)
{
	struct sk_buff *skb;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (bp_fill(skb, s, NULL, cmd, duration_ns, 0, 0, 0)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast_netns(&bp_family, net, skb, 0, BP_MCGRP, GFP_KERNEL);
}

struct bp_find {
	u32 dev_id;
	struct get_info i;
};

/*
 * The device's own counters, without waiting for it: each queue's as
 * GET_STATS reads them, the rest as they are; the memory table (replaced
 * under dev->mutex) only if the mutex is free.  The caller keeps @dev.
 */
static void dev_counters(struct vhost_accel_dev *dev, struct get_info *i)
{
	struct vhost_accel_stats *st = &i->st;
	unsigned int q;

	st->worker_wakeups = READ_ONCE(dev->worker.wakeups);
	/* Written under dev->mutex: a snapshot that may be a moment old. */
	st->datapath_switches = data_race(dev->datapath_switches);
	/* Likewise. */
	st->switch_drops = data_race(dev->switch_drops);
	for (q = 0; q < VHOST_ACCEL_NVQS; q++)
		vhost_accel_vq_stats(&dev->vqs[q], &st->vq[q]);
	if (mutex_trylock(&dev->mutex)) {
		st->pinned_pages = dev->mem->npages;
		i->have_pinned = true;
		mutex_unlock(&dev->mutex);
	}
}

/* A bound device's state and counters; b->lock held. */
static void bound_info(struct vhost_accel_binding *b, struct get_info *i)
{
	vhost_accel_bp_snapshot(b, &i->s, task_active_pid_ns(current));
	dev_counters(b->dev, i);
	vhost_accel_binding_stats(b, &i->st);
	strscpy(i->ifname, b->netdev->name, sizeof(i->ifname));
	i->queue_pairs = vhost_accel_binding_peers(b, &i->backend_ifindex);
}

static int bp_find_fn(struct vhost_accel_binding *b, void *arg)
{
	struct bp_find *f = arg;

	if (b->dev->id != f->dev_id)
		return 0;
	bound_info(b, &f->i);
	return 1;
}

/*
 * A copying device's state, read without waiting for it: no NIC, no
 * backpressure; the owner's pid only for a requester in the initial pid
 * namespace (0 otherwise).  Its "NIC" is the macvtap it copies through,
 * looked up in @net (the walk keeps only devices whose socket is there).
 */
static void copy_snapshot(struct vhost_accel_dev *dev, struct get_info *i,
			  struct net *net)
{
	struct vhost_accel_bp_state *s = &i->s;
	struct net_device *nd;

	s->dev_id = dev->id;
	if (task_active_pid_ns(current) == &init_pid_ns)
		s->owner_pid = READ_ONCE(dev->owner_tgid);
	s->ifindex = READ_ONCE(dev->copy_ifindex);
	memcpy(s->mac, dev->copy_mac, ETH_ALEN);
	s->datapath = VHOST_ACCEL_DATAPATH_COPY;
	dev_counters(dev, i);
	i->backend_ifindex = s->ifindex;
	i->queue_pairs = 1;
	if (!s->ifindex)
		return;
	rcu_read_lock();
	nd = dev_get_by_index_rcu(net, s->ifindex);
	if (nd)
		strscpy(i->ifname, nd->name, sizeof(i->ifname));
	rcu_read_unlock();
}

struct copy_find {
	struct bp_find *f;
	struct net *net;
};

static int copy_find_fn(struct vhost_accel_dev *dev, void *arg)
{
	struct copy_find *c = arg;

	if (dev->id != c->f->dev_id)
		return 0;
	copy_snapshot(dev, &c->f->i, c->net);
	return 1;
}

static int bp_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[VHOST_ACCEL_A_DEV_ID];
	struct net *net = genl_info_net(info);
	struct copy_find c = { .net = net };
	struct sk_buff *msg;
	struct bp_find *f;
	int ret;

	if (!attr) {
		NL_SET_ERR_MSG(info->extack,
			       "VHOST_ACCEL_A_DEV_ID missing (or use a dump)");
		return -EINVAL;
	}
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	c.f = f;
	f->dev_id = nla_get_u32(attr);
	if (!vhost_accel_bindings_walk(net, bp_find_fn, f) &&
	    !vhost_accel_copying_walk(net, copy_find_fn, &c)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no device of that id bound to a NIC or copying through a backend in this namespace");
		ret = -ENODEV;
		goto out;
	}
	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	ret = bp_fill(msg, &f->i.s, &f->i, VHOST_ACCEL_CMD_GET, 0,
		      info->snd_portid, info->snd_seq, 0);
	if (ret) {
		nlmsg_free(msg);
		goto out;
	}
	ret = genlmsg_reply(msg, info);
out:
	kfree(f);
	return ret;
}

struct bp_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	struct net *net;
	struct get_info *i;	/* scratch, one device at a time */
	long idx;		/* bindings visited */
	long skip;		/* already sent in earlier parts */
};

/*
 * Add one device to the dump, or skip it if an earlier part sent it;
 * @snap fills its state (from a binding or a copying device).
 */
static int dump_one(struct bp_dump *d,
		    void (*snap)(void *obj, struct bp_dump *d), void *obj)
{
	int ret;

	if (d->idx < d->skip) {
		d->idx++;
		return 0;
	}
	memset(d->i, 0, sizeof(*d->i));
	snap(obj, d);
	ret = bp_fill(d->skb, &d->i->s, d->i, VHOST_ACCEL_CMD_GET, 0,
		      NETLINK_CB(d->cb->skb).portid, d->cb->nlh->nlmsg_seq,
		      NLM_F_MULTI);
	if (ret)
		return ret;
	d->idx++;
	return 0;
}

static void bound_snap(void *obj, struct bp_dump *d)
{
	bound_info(obj, d->i);
}

static int bp_dump_fn(struct vhost_accel_binding *b, void *arg)
{
	return dump_one(arg, bound_snap, b);
}

static void copy_snap(void *obj, struct bp_dump *d)
{
	copy_snapshot(obj, d->i, d->net);
}

static int copy_dump_fn(struct vhost_accel_dev *dev, void *arg)
{
	return dump_one(arg, copy_snap, dev);
}

/*
 * The bound devices (cb->args[0] sent so far), then the copying ones
 * (cb->args[1]).  Devices that come or go between the parts of a dump
 * may be missed or listed twice; the events tell what changed after.
 * Each device is read without waiting for its worker (see above), so a
 * stuck device does not hold up the others' entries.
 */
static int bp_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct bp_dump d = {
		.skb = skb,
		.cb = cb,
		.net = net,
		.skip = cb->args[0],
	};
	struct bp_dump c;
	int ret;

	d.i = kmalloc(sizeof(*d.i), GFP_KERNEL);
	if (!d.i)
		return -ENOMEM;
	c = d;
	c.skip = cb->args[1];
	ret = vhost_accel_bindings_walk(net, bp_dump_fn, &d);
	cb->args[0] = d.idx;
	if (!ret) {
		ret = vhost_accel_copying_walk(net, copy_dump_fn, &c);
		cb->args[1] = c.idx;
	}
	kfree(d.i);
	/* Not even one entry fits an empty message: report it. */
	if (ret && d.idx == d.skip && c.idx == c.skip)
		return ret;
	return skb->len;
}

static const struct genl_small_ops bp_ops[] = {
	{
		.cmd = VHOST_ACCEL_CMD_GET,
		.doit = bp_get_doit,
		.dumpit = bp_get_dumpit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family bp_family __ro_after_init = {
	.name = VHOST_ACCEL_GENL_NAME,
	.version = VHOST_ACCEL_GENL_VERSION,
	.maxattr = VHOST_ACCEL_A_MAX,
	.policy = bp_policy,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.small_ops = bp_ops,
	.n_small_ops = ARRAY_SIZE(bp_ops),
	.resv_start_op = VHOST_ACCEL_CMD_MAX + 1,
	.mcgrps = bp_mcgrps,
	.n_mcgrps = ARRAY_SIZE(bp_mcgrps),
};

int vhost_accel_genl_init(void)
{
	return genl_register_family(&bp_family);
}

void vhost_accel_genl_exit(void)
{
	genl_unregister_family(&bp_family);
}
