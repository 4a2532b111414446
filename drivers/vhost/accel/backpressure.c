// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel backpressure: a guest without Rx buffers
 * (Documentation/backpressure.rst).
 *
 * The NIC says when it has no posted buffer left for a queue pair (the
 * rx_depleted callback); the Rx datapath then tells us whether it could
 * post new ones.  From these two this file keeps each Rx queue's
 * saturation state: an episode starts when the NIC ran dry and the
 * guest's avail ring is empty, and ends when a buffer is posted again or
 * the datapath stops.  Each transition is counted, traced and sent as a
 * netlink event (the family is in genl.c, which also answers requests
 * with vhost_accel_bp_snapshot()); never anything per frame.
 *
 * The module's tracepoints are created here, the worker's budget-yield
 * one (fired by datapath.c) included: one trace header, one event system.
 *
 * The state lives in the queue (vq->rx_saturated ...), not in its
 * datapath state, because netlink may read it without vq->mutex; it is
 * changed by the worker with vq->mutex held, or by the thread stopping
 * the queue.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/ktime.h>
#include <linux/pid_namespace.h>
#include <net/net_namespace.h>

#include "accel.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/**
 * vhost_accel_bp_rx_depleted - the NIC has no posted Rx buffer left
 * @b: the binding whose queue pair ran dry
 *
 * Any context but hard irq (the driver's callback): counts and notes the
 * depletion; the caller wakes the worker, whose next Rx run decides
 * whether the guest is saturated (vhost_accel_bp_rx_pumped()).
 */
void vhost_accel_bp_rx_depleted(struct vhost_accel_binding *b)
{
	struct vhost_accel_vq *vq = &b->dev->vqs[VHOST_ACCEL_VQ_RX];

	atomic64_inc(&b->rx_depletions);
	trace_vhost_accel_rx_depleted(b->dev->id, b->netdev->ifindex);
	set_bit(VHOST_ACCEL_DP_EV_DEPLETED, &vq->dp_events);
}

/* Did the NIC run dry since the last run?  The worker, vq->mutex held. */
bool vhost_accel_bp_take_depleted(struct vhost_accel_vq *vq)
{
	return test_and_clear_bit(VHOST_ACCEL_DP_EV_DEPLETED, &vq->dp_events);
}

/* Time saturated, the running episode included; vq->mutex held. */
u64 vhost_accel_bp_saturated_ns(const struct vhost_accel_vq *vq)
{
	u64 ns = vq->stats.saturated_ns;

	if (vq->rx_saturated)
		ns += ktime_get_ns() - vq->rx_sat_start;
	return ns;
}

/*
 * @b is bound to @vq's device; the caller holds vq->mutex, or b->lock
 * (see vhost_accel_bp_snapshot()).  The owner's pid is given in @ns (0 if
 * NULL or the owner is not in it).
 */
static void __bp_snapshot(struct vhost_accel_vq *vq,
			  struct vhost_accel_binding *b,
			  struct vhost_accel_bp_state *s,
			  struct pid_namespace *ns)
{
	struct vhost_accel_qp_stats qs = {};

	s->dev_id = vq->dev->id;
	s->owner_pid = ns ? pid_nr_ns(vq->dev->owner_pid, ns) : 0;
	s->ifindex = b->netdev->ifindex;
	ether_addr_copy(s->mac, b->mac);
	s->flow_control = b->flags & VHOST_ACCEL_BIND_F_FLOW_CONTROL;
	s->datapath = vhost_accel_dev_datapath(vq->dev);
	s->depletions = atomic64_read(&b->rx_depletions);
	/* The worker's; read without vq->mutex by vhost_accel_bp_snapshot(). */
	s->saturated = data_race(vq->rx_saturated);
	/* Likewise: a snapshot that may be a moment old. */
	s->saturations = data_race(vq->stats.saturations);
	/* Likewise. */
	s->saturated_ns = data_race(vhost_accel_bp_saturated_ns(vq));
	/* No queue pair any more while the binding comes down. */
	s->have_drops = b->qp && b->nic->ops->get_stats;
	if (s->have_drops) {
		b->nic->ops->get_stats(b->qp, &qs);
		s->drops_no_buf = qs.rx_dropped_no_buf;
	}
}

static void bp_snapshot(struct vhost_accel_vq *vq,
			struct vhost_accel_binding *b,
			struct vhost_accel_bp_state *s, struct pid_namespace *ns)
{
	lockdep_assert_held(&vq->mutex);
	__bp_snapshot(vq, b, s, ns);
}

/**
 * vhost_accel_bp_snapshot - a bound device's state, for a netlink request
 * @b: the binding, b->lock held (it keeps the device)
 * @s: filled in
 * @ns: the requester's pid namespace, for the owner's pid
 */
void vhost_accel_bp_snapshot(struct vhost_accel_binding *b,
			     struct vhost_accel_bp_state *s,
			     struct pid_namespace *ns)
{
	struct vhost_accel_vq *vq = &b->dev->vqs[VHOST_ACCEL_VQ_RX];

	/*
	 * The worker holds vq->mutex while it reads and writes guest memory,
	 * which may never complete (a fault nobody answers): a request about
	 * every device must not wait for one.  Without the mutex the
	 * counters are read as they are, a snapshot that may be a moment
	 * old.
	 */
	if (!mutex_trylock(&vq->mutex)) {
		__bp_snapshot(vq, b, s, ns);
		return;
	}
	bp_snapshot(vq, b, s, ns);
	mutex_unlock(&vq->mutex);
}

/*
 * Multicast a state change; vq->mutex held, process context.  When nobody
 * listens, no message is built.  An event in the initial network namespace
 * carries the owner's pid in the initial pid namespace, elsewhere 0.
 */
static void bp_notify(struct vhost_accel_vq *vq, struct vhost_accel_binding *b,
		      u8 cmd, u64 duration_ns)
{
	struct net *net = dev_net(b->netdev);
	struct vhost_accel_bp_state s = {};

	if (!vhost_accel_genl_listening(net))
		return;
	bp_snapshot(vq, b, &s, net_eq(net, &init_net) ? &init_pid_ns : NULL);
	vhost_accel_genl_event(net, &s, cmd, duration_ns);
}

static void rx_sat_begin(struct vhost_accel_vq *vq,
			 struct vhost_accel_binding *b)
{
	if (vq->rx_saturated)
		return;
	vq->rx_saturated = true;
	vq->rx_sat_start = ktime_get_ns();
	vq->rx_sat_b = b;
	vq->stats.saturations++;
	trace_vhost_accel_rx_saturated(vq->dev->id, b->netdev->ifindex,
				       vq->stats.saturations);
	bp_notify(vq, b, VHOST_ACCEL_CMD_SATURATED, 0);
}

/* Buffers posted again, or the datapath stops (the binding still exists). */
static void rx_sat_end(struct vhost_accel_vq *vq)
{
	struct vhost_accel_binding *b = vq->rx_sat_b;
	u64 ns;

	if (!vq->rx_saturated)
		return;
	ns = ktime_get_ns() - vq->rx_sat_start;
	vq->stats.saturated_ns += ns;
	vq->rx_saturated = false;
	vq->rx_sat_b = NULL;
	trace_vhost_accel_rx_recovered(vq->dev->id, b->netdev->ifindex, ns);
	bp_notify(vq, b, VHOST_ACCEL_CMD_RECOVERED, ns);
}

/**
 * vhost_accel_bp_rx_pumped - an Rx datapath run ended: saturated or not?
 * @vq: the Rx queue, vq->mutex held, in the worker
 * @b: its binding
 * @depleted: the NIC ran dry before the run (vhost_accel_bp_take_depleted())
 * @posted: the run posted buffers to the NIC
 * @empty: it stopped at an empty avail ring, with guest notification armed
 *	(so the guest's next kick refills at once)
 * @yielded: it stopped because its budget was spent, and was requeued
 *
 * A saturation episode starts when the NIC reported depletion and the run
 * could post no buffer because the guest's avail ring is empty; it ends
 * when a buffer is posted again.  Events go out only on these transitions,
 * from the worker, never per frame.
 */
void vhost_accel_bp_rx_pumped(struct vhost_accel_vq *vq,
			      struct vhost_accel_binding *b, bool depleted,
			      bool posted, bool empty, bool yielded)
{
	if (posted) {
		rx_sat_end(vq);
	} else if (depleted && empty) {
		rx_sat_begin(vq, b);
	} else if (depleted && yielded) {
		/* Undecided: the requeued run looks at the rest of the ring. */
		set_bit(VHOST_ACCEL_DP_EV_DEPLETED, &vq->dp_events);
	}
}

/**
 * vhost_accel_bp_stop - a queue's datapath stops
 * @vq: the queue, vq->mutex held; its binding still exists
 *
 * A stopped datapath is no longer saturated: the episode's end is reported,
 * and a depletion not yet looked at is forgotten.
 */
void vhost_accel_bp_stop(struct vhost_accel_vq *vq)
{
	rx_sat_end(vq);
	clear_bit(VHOST_ACCEL_DP_EV_DEPLETED, &vq->dp_events);
}
