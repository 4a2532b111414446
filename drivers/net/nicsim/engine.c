// SPDX-License-Identifier: GPL-2.0
/*
 * nicsim: the hardware engines.
 *
 * Kthreads play the NIC's hardware: "engines" of them per NIC (the module
 * parameter at creation, 1-16), as a NIC has several DMA engines and
 * interrupt vectors.  Each queue pair belongs to engine (slot index %
 * engines); engine 0 also takes the wire and host-port inputs.  Each pass
 * of an engine, with nic->engine_lock held shared (engines run their
 * passes in parallel), it
 *  - writes frames held for lack of buffers (flow control) into the Rx
 *    rings of its queue pairs,
 *  - consumes its queue pairs' Tx descriptors: reads the frame from guest
 *    memory by DMA address (the simulated DMA: the copy is the device's,
 *    counted as engine_dma_bytes, not as a CPU copy), builds an skb and
 *    applies the offload metadata,
 *  - engine 0: takes frames from the wire (the peer's xmit) and from the
 *    host port (the NIC netdev's xmit),
 *  - switches every frame: to the queue pair that owns the destination
 *    MAC (its Rx ring, written under that queue pair's rx_lock by whichever
 *    engine switches the frame, which then kicks the owner), to the host
 *    port, to the wire, or, broadcast and multicast, to several of them, as
 *    the ports' modes allow (see nicsim_route()),
 *  - waits completion_delay_us if set, then marks its queue pairs'
 *    descriptors done and raises the "interrupt" of each one that has
 *    news: NAPI.
 * Attach, detach, reclaim_rx and debugfs take engine_lock exclusive: no
 * engine is in a pass then.  No lock is held while an engine waits for
 * another: an engine only kicks another (a bit and a wake-up).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-direct.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/sched/clock.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/virtio_net.h>
#include <net/flow_dissector.h>
#include <net/gso.h>

#include "nicsim.h"

/* Frames up to this size are built linear; larger ones get page frags. */
#define NICSIM_TX_LINEAR	2048
#define NICSIM_TX_HDR		256
#define NICSIM_TX_MAX_FRAME	(NICSIM_TX_HDR + MAX_SKB_FRAGS * PAGE_SIZE)

enum nicsim_src {
	NICSIM_SRC_QP,		/* a queue pair's Tx ring */
	NICSIM_SRC_WIRE,	/* the peer */
	NICSIM_SRC_HOST,	/* the host port */
};

/* Where a frame goes. */
struct nicsim_route {
	struct nicsim_qp *qp;		/* the dst MAC's pool, RSS picked */
	const struct nicsim_group *skip; /* with @flood: not back to it */
	u32 hash;			/* RSS hash of the frame */
	bool flood;			/* one queue pair of every pool the
					 * modes allow (nicsim_may_reach())
					 */
	bool host;
	bool wire;
	/* where it comes from, for the modes */
	bool local;			/* a port of this NIC: a queue pair,
					 * the host port, or (@reflected) a
					 * queue pair's frame back from the wire
					 */
	bool reflected;
	u8 from_mode;			/* that port's; the host port: NONE */
};

/* --- the engines parameter ------------------------------------------------ */

static unsigned int nicsim_engines = 1;

/* Out of range is clamped, not refused: what reads back is what a NIC
 * created now gets.
 */
static int nicsim_engines_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int err;

	err = kstrtouint(val, 0, &n);
	if (err)
		return err;
	WRITE_ONCE(nicsim_engines, clamp_t(unsigned int, n, 1,
					   NICSIM_MAX_ENGINES));
	return 0;
}

static const struct kernel_param_ops nicsim_engines_ops = {
	.set = nicsim_engines_set,
	.get = param_get_uint,
};

module_param_cb(engines, &nicsim_engines_ops, &nicsim_engines, 0644);
MODULE_PARM_DESC(engines, "engine kthreads of each NIC created from now on (1-16, default 1; clamped)");

/* --- counters ------------------------------------------------------------- */

static void nicsim_ns_inc(struct nicsim_engine *e, enum nicsim_nic_stat s)
{
	u64_stats_update_begin(&e->stats.syncp);
	u64_stats_inc(&e->stats.v[s]);
	u64_stats_update_end(&e->stats.syncp);
}

/* The NIC's counters: the sum of its engines'. */
void nicsim_ns_read(const struct nicsim_nic *nic, u64 *v)
{
	unsigned int start, i, j;
	u64 t[NICSIM_NS_NUM];

	memset(v, 0, sizeof(t));
	for (j = 0; j < nic->nr_engines; j++) {
		const struct nicsim_nic_counters *c = &nic->engines[j].stats;

		do {
			start = u64_stats_fetch_begin(&c->syncp);
			for (i = 0; i < NICSIM_NS_NUM; i++)
				t[i] = u64_stats_read(&c->v[i]);
		} while (u64_stats_fetch_retry(&c->syncp, start));
		for (i = 0; i < NICSIM_NS_NUM; i++)
			v[i] += t[i];
	}
}

/* --- the simulated DMA: the device's view of memory ----------------------- */

/* Map a DMA address (direct mapping: a physical one) for the engine. */
static void *nicsim_dma_kmap(struct nicsim_nic *nic, dma_addr_t addr)
{
	phys_addr_t phys = dma_to_phys(nic->dma_dev, addr);

	return kmap_local_page(pfn_to_page(PHYS_PFN(phys))) +
	       offset_in_page(phys);
}

/* Read a Tx buffer into @skb, already sized to the frame. */
static void nicsim_dma_read(struct nicsim_nic *nic,
			    const struct nicsim_desc *d, struct sk_buff *skb)
{
	unsigned int i, pos = 0;

	for (i = 0; i < d->nsegs; i++) {
		void *va = nicsim_dma_kmap(nic, d->sg[i].addr);

		skb_store_bits(skb, pos, va, d->sg[i].len);
		kunmap_local(va);
		pos += d->sg[i].len;
	}
}

/* Write @len bytes of @skb from *@pos into the buffer of @d, starting
 * @skip bytes into it.
 */
static void nicsim_dma_write(struct nicsim_nic *nic,
			     const struct nicsim_desc *d, u32 skip,
			     const struct sk_buff *skb, u32 *pos, u32 len)
{
	unsigned int i;

	for (i = 0; i < d->nsegs && len; i++) {
		const struct nicsim_sg *sg = &d->sg[i];
		u32 n;
		void *va;

		if (skip >= sg->len) {
			skip -= sg->len;
			continue;
		}
		n = min(sg->len - skip, len);
		va = nicsim_dma_kmap(nic, sg->addr + skip);
		skb_copy_bits(skb, *pos, va, n);
		kunmap_local(va);
		*pos += n;
		len -= n;
		skip = 0;
	}
}

/* --- Rx: writing frames into a queue pair's ring -------------------------- */

/* Bytes of frame data descriptor @d can take as buffer number @i. */
static u32 nicsim_rx_room(const struct nicsim_qp *qp,
			  const struct nicsim_desc *d, unsigned int i)
{
	return i ? d->len : d->len - qp->headroom;
}

/* Pick the descriptors for a frame of @len bytes starting at qp->rx.next:
 * return how many, -ENOSPC (not enough posted now) or -EMSGSIZE (it can
 * never fit).
 */
static int nicsim_rx_pick(struct nicsim_qp *qp, u32 len)
{
	struct nicsim_ring *ring = &qp->rx;
	u32 prod = nicsim_idx_get(&ring->prod);
	bool merge = qp->flags & VHOST_ACCEL_ATTACH_RX_MERGE;
	unsigned int n = 0;
	u32 have = 0;

	while (have < len) {
		if (ring->next + n == prod) {
			qp->rx_fail_prod = prod;
			return prod - ring->next == nicsim_ring_size(ring) ?
			       -EMSGSIZE : -ENOSPC;
		}
		if (n && !merge)
			return -EMSGSIZE;
		have += nicsim_rx_room(qp, nicsim_desc(ring, ring->next + n),
				       n);
		n++;
	}
	return n;
}

/* rx_lock held */
static int nicsim_rx_write(struct nicsim_nic *nic, struct nicsim_qp *qp,
			   const struct sk_buff *skb, bool csum_ok)
{
	struct nicsim_ring *ring = &qp->rx;
	u32 pos = 0, left = skb->len;
	int n, i;

	n = nicsim_rx_pick(qp, skb->len);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		struct nicsim_desc *d = nicsim_desc(ring, ring->next + i);
		u32 chunk = min(left, nicsim_rx_room(qp, d, i));
		u32 skip = i ? 0 : qp->headroom;

		nicsim_dma_write(nic, d, skip, skb, &pos, chunk);
		left -= chunk;
		d->used = skip + chunk;
		d->cflags = i == n - 1 ? VHOST_ACCEL_COMP_EOP : 0;
		memset(&d->meta, 0, sizeof(d->meta));
		if (!i && csum_ok)
			d->meta.flags = VHOST_ACCEL_META_CSUM_VALID;
	}
	ring->next += n;
	qp->depleted = false;
	WRITE_ONCE(qp->rx_irq, true);
	nicsim_qs_add_rx(qp, NICSIM_QS_RX_PACKETS, 1);
	nicsim_qs_add_rx(qp, NICSIM_QS_RX_BYTES, skb->len);
	nicsim_qs_add_rx(qp, NICSIM_QS_ENGINE_DMA_BYTES, skb->len);
	return 0;
}

/* Inputs stop while a queue pair holds frames: the pause-frame analogue.
 * Any engine may pause (it holds the queue pair's rx_lock); the last
 * unpause kicks engine 0, which takes the inputs and restarts the queues.
 */
static void nicsim_pause(struct nicsim_engine *e)
{
	struct nicsim_nic *nic = e->nic;

	if (atomic_inc_return(&nic->paused) == 1) {
		netif_stop_queue(nic->peer);
		netif_stop_queue(nic->netdev);
		nicsim_ns_inc(e, NICSIM_NS_PAUSES);
	}
}

static void nicsim_unpause(struct nicsim_nic *nic)
{
	/* queues restart in nicsim_wake_queues() */
	if (atomic_dec_and_test(&nic->paused))
		nicsim_input_kick(nic);
}

/* rx_lock held */
static void nicsim_qp_hold(struct nicsim_engine *e, struct nicsim_qp *qp,
			   struct sk_buff *skb, bool csum_ok)
{
	struct sk_buff *clone = NULL;

	if (skb_queue_len(&qp->held) < NICSIM_HOLD_MAX)
		clone = skb_clone(skb, GFP_ATOMIC);
	if (!clone) {
		nicsim_qs_add_rx(qp, NICSIM_QS_RX_DROPPED_NO_BUF, 1);
		return;
	}
	nicsim_cb(clone)->csum_ok = csum_ok;
	if (skb_queue_empty(&qp->held))
		nicsim_pause(e);
	__skb_queue_tail(&qp->held, clone);
	nicsim_qs_add_rx(qp, NICSIM_QS_RX_HELD, 1);
}

/* rx_lock held */
static void nicsim_qp_depleted(struct nicsim_qp *qp)
{
	if (qp->depleted)
		return;
	qp->depleted = true;
	set_bit(NICSIM_QP_EVENT_DEPLETED, &qp->events);
	WRITE_ONCE(qp->rx_irq, true);
	nicsim_qs_add_rx(qp, NICSIM_QS_RX_DEPLETED, 1);
}

/* rx_lock held */
static void __nicsim_qp_rx(struct nicsim_engine *e, struct nicsim_qp *qp,
			   struct sk_buff *skb, bool csum_ok)
{
	int err;

	if (READ_ONCE(qp->port_flags) & VHOST_ACCEL_PORT_DOWN) {
		nicsim_qs_add_rx(qp, NICSIM_QS_DROPPED_PORT_DOWN, 1);
		return;
	}
	if (!skb_queue_empty(&qp->held)) {
		/* keep the order: behind the frames already held */
		nicsim_qp_hold(e, qp, skb, csum_ok);
		return;
	}
	err = nicsim_rx_write(e->nic, qp, skb, csum_ok);
	if (!err)
		return;
	if (err == -EMSGSIZE) {
		nicsim_qs_add_rx(qp, NICSIM_QS_RX_DROPPED_TOO_BIG, 1);
		return;
	}
	nicsim_qp_depleted(qp);
	if (qp->flow_control)
		nicsim_qp_hold(e, qp, skb, csum_ok);
	else
		nicsim_qs_add_rx(qp, NICSIM_QS_RX_DROPPED_NO_BUF, 1);
}

/* Give @skb (not consumed) to @qp's Rx ring.  Another engine's queue pair:
 * its owner is kicked to publish the Rx news (and arm want_rx).  BHs off.
 */
static void nicsim_qp_rx(struct nicsim_engine *e, struct nicsim_qp *qp,
			 struct sk_buff *skb, bool csum_ok)
{
	spin_lock(&qp->rx_lock);
	__nicsim_qp_rx(e, qp, skb, csum_ok);
	spin_unlock(&qp->rx_lock);
	if (qp->engine != e)
		nicsim_engine_kick(qp->engine);
}

/* Write held frames into newly posted buffers; true: call again soon.
 * The owner engine.  An engine that holds a frame here kicks the owner
 * afterwards, so the unlocked look cannot miss one for good.
 */
static bool nicsim_flush_held(struct nicsim_engine *e, struct nicsim_qp *qp)
{
	struct sk_buff *skb;
	unsigned int n = 0;
	bool more;
	int err;

	if (skb_queue_empty_lockless(&qp->held))
		return false;
	local_bh_disable();
	spin_lock(&qp->rx_lock);
	while ((skb = skb_peek(&qp->held)) && n < NICSIM_QUOTA) {
		err = nicsim_rx_write(e->nic, qp, skb,
				      nicsim_cb(skb)->csum_ok);
		if (err == -ENOSPC)
			break;
		if (err == -EMSGSIZE)
			nicsim_qs_add_rx(qp, NICSIM_QS_RX_DROPPED_TOO_BIG, 1);
		__skb_unlink(skb, &qp->held);
		consume_skb(skb);
		n++;
	}
	if (n && skb_queue_empty(&qp->held)) {
		nicsim_unpause(e->nic);
		WRITE_ONCE(qp->want_rx, false);
	}
	more = n == NICSIM_QUOTA && !skb_queue_empty(&qp->held);
	spin_unlock(&qp->rx_lock);
	local_bh_enable();
	return more;
}

/* A queue pair holding frames waits for buffers: post_rx kicks the owner
 * engine once it sees want_rx.  True if buffers came after the last
 * attempt.
 */
static bool nicsim_arm_rx(struct nicsim_qp *qp)
{
	bool more = false;

	if (skb_queue_empty_lockless(&qp->held))
		return false;
	spin_lock_bh(&qp->rx_lock);
	if (!skb_queue_empty(&qp->held)) {
		WRITE_ONCE(qp->want_rx, true);
		/* pairs with the barrier in nicsim_post_rx() */
		smp_mb();
		more = nicsim_idx_get(&qp->rx.prod) != qp->rx_fail_prod;
	}
	spin_unlock_bh(&qp->rx_lock);
	return more;
}

/* --- switching ------------------------------------------------------------ */

/* --- RSS: spreading a pool's frames over its queue pairs ----------------- */

/* The Toeplitz hash of RSS hardware: every set bit of @in, counted from
 * the most significant bit of its first byte, XORs in the 32 key bits
 * starting at the same bit position of @key.  @len + 4 <= key length.
 */
static u32 nicsim_toeplitz(const u8 *key, const u8 *in, unsigned int len)
{
	u32 window = (u32)key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3];
	unsigned int i, b;
	u32 hash = 0;

	for (i = 0; i < len; i++) {
		for (b = 0; b < 8; b++) {
			if (in[i] & (0x80 >> b))
				hash ^= window;
			window = (window << 1) | ((key[i + 4] >> (7 - b)) & 1);
		}
	}
	return hash;
}

/* Hash input as RSS hardware builds it: source and destination address,
 * then, for TCP and UDP unless the packet is a fragment, source and
 * destination port, all in network order.  Frames that are not IP hash
 * to 0.  The frame is read from its Ethernet header on, whatever
 * skb->protocol says (a packet socket sets its own).
 */
static u32 nicsim_rss_hash(struct nicsim_nic *nic, const struct sk_buff *skb)
{
	struct flow_keys keys;
	u8 in[36];
	unsigned int len;

	memset(&keys, 0, sizeof(keys));
	if (skb_headlen(skb) < ETH_HLEN ||
	    !__skb_flow_dissect(dev_net(nic->netdev), skb, &flow_keys_dissector,
				&keys, skb->data, eth_hdr(skb)->h_proto,
				ETH_HLEN, skb_headlen(skb), 0))
		return 0;
	switch (keys.control.addr_type) {
	case FLOW_DISSECTOR_KEY_IPV4_ADDRS:
		memcpy(in, &keys.addrs.v4addrs.src, 4);
		memcpy(in + 4, &keys.addrs.v4addrs.dst, 4);
		len = 8;
		break;
	case FLOW_DISSECTOR_KEY_IPV6_ADDRS:
		memcpy(in, &keys.addrs.v6addrs.src, 16);
		memcpy(in + 16, &keys.addrs.v6addrs.dst, 16);
		len = 32;
		break;
	default:
		return 0;
	}
	if ((keys.basic.ip_proto == IPPROTO_TCP ||
	     keys.basic.ip_proto == IPPROTO_UDP) &&
	    !(keys.control.flags & FLOW_DIS_IS_FRAGMENT)) {
		memcpy(in + len, &keys.ports.src, 2);
		memcpy(in + len + 2, &keys.ports.dst, 2);
		len += 4;
	}
	return nicsim_toeplitz(nic->rss_key, in, len);
}

static struct nicsim_qp *nicsim_rss_pick(const struct nicsim_group *g,
					 u32 hash)
{
	return g->indir[hash % NICSIM_RSS_INDIR];
}

/* The member after @qp in @g, round-robin; the first one for NULL. */
static struct nicsim_qp *nicsim_rss_next(struct nicsim_group *g,
					 struct nicsim_qp *qp)
{
	if (!qp || list_is_last(&qp->group_node, &g->members))
		return list_first_entry(&g->members, struct nicsim_qp,
					group_node);
	return list_next_entry(qp, group_node);
}

/* The default table, as ethtool -X default: entry i is member i mod n. */
static void nicsim_rss_fill(struct nicsim_group *g)
{
	struct nicsim_qp *qp = NULL;
	unsigned int i;

	for (i = 0; i < NICSIM_RSS_INDIR; i++) {
		qp = nicsim_rss_next(g, qp);
		g->indir[i] = qp;
	}
}

/* @gone left: its entries go round-robin to the members left, so the
 * flows of the others stay where they are.
 */
static void nicsim_rss_reassign(struct nicsim_group *g,
				const struct nicsim_qp *gone)
{
	struct nicsim_qp *qp = NULL;
	unsigned int i;

	for (i = 0; i < NICSIM_RSS_INDIR; i++) {
		if (g->indir[i] != gone)
			continue;
		qp = nicsim_rss_next(g, qp);
		g->indir[i] = qp;
	}
}

/* --- switching ------------------------------------------------------------ */

static struct nicsim_group *nicsim_group_by_mac(struct nicsim_nic *nic,
						const u8 *mac)
{
	struct nicsim_group *g;

	list_for_each_entry(g, &nic->groups, node)
		if (ether_addr_equal(g->mac, mac))
			return g;
	return NULL;
}

/* --- isolation: what the ports' modes allow -------------------------------- */

/* NONE (SET_NIC) and BRIDGE ports, and the host port, switch locally. */
static bool nicsim_mode_local(u8 mode)
{
	return mode == VHOST_ACCEL_MODE_NONE || mode == VHOST_ACCEL_MODE_BRIDGE;
}

/* The mode of a pool: its members share a MAC, a macvtap, so a mode. */
static u8 nicsim_group_mode(const struct nicsim_group *g)
{
	const struct nicsim_qp *qp = list_first_entry(&g->members,
						      struct nicsim_qp,
						      group_node);

	return READ_ONCE(qp->mode);
}

/* May a frame routed as @r reach a port of mode @to?  Directly between
 * two local-switching ports; back from the wire (the external switch's
 * hairpin) unless either end is private, and a multicast frame only to
 * ports that did not get it directly on its way out.  Frames from outside
 * the NIC reach every port.
 */
static bool nicsim_may_reach(const struct nicsim_route *r, u8 to)
{
	bool direct = nicsim_mode_local(r->from_mode) && nicsim_mode_local(to);

	if (!r->local)
		return true;
	if (!r->reflected)
		return direct;
	if (r->from_mode == VHOST_ACCEL_MODE_PRIVATE ||
	    to == VHOST_ACCEL_MODE_PRIVATE)
		return false;
	return !(r->flood && direct);
}

/* Where a frame comes from: @from's port, the host port, or the wire (a
 * queue pair's own frame coming back if its source MAC is a pool's).
 */
static void nicsim_route_src(struct nicsim_nic *nic, const struct sk_buff *skb,
			     enum nicsim_src src, struct nicsim_qp *from,
			     struct nicsim_route *r)
{
	const struct nicsim_group *g;

	r->local = true;
	switch (src) {
	case NICSIM_SRC_QP:
		r->from_mode = READ_ONCE(from->mode);
		r->skip = from->group;
		return;
	case NICSIM_SRC_HOST:
		r->from_mode = VHOST_ACCEL_MODE_NONE;
		return;
	case NICSIM_SRC_WIRE:
		g = nicsim_group_by_mac(nic, skb->data + ETH_ALEN);
		if (!g) {
			r->local = false;
			return;
		}
		r->reflected = true;
		r->from_mode = nicsim_group_mode(g);
		r->skip = g;
		return;
	}
}

/* A frame from the wire for a port it may not reach: dropped, counted. */
static void nicsim_route_refuse(struct nicsim_engine *e, struct nicsim_qp *to)
{
	spin_lock(&to->rx_lock);
	nicsim_qs_add_rx(to, NICSIM_QS_RX_DROPPED_ISOLATION, 1);
	spin_unlock(&to->rx_lock);
	nicsim_ns_inc(e, NICSIM_NS_DROPPED_ISOLATION);
}

/* The VEB: a pool's MAC goes to one queue pair of that pool, picked by
 * RSS; broadcast and multicast go to every pool (one queue pair of each,
 * picked the same way) but not back to the sender's; otherwise frames from
 * the wire go to the host port (its own MAC or unknown unicast), frames
 * from a queue pair for the host port's MAC go to it, everything else
 * goes to the wire.  The ports' modes restrict it (nicsim_may_reach()):
 * a frame that may not go from one port to another directly goes to the
 * wire instead; one back from the wire that may not reach its port is
 * dropped.
 */
static void nicsim_route(struct nicsim_engine *e, const struct sk_buff *skb,
			 enum nicsim_src src, struct nicsim_qp *from,
			 struct nicsim_route *r)
{
	struct nicsim_nic *nic = e->nic;
	const u8 *dst = skb->data;
	struct nicsim_group *g;

	memset(r, 0, sizeof(*r));
	nicsim_route_src(nic, skb, src, from, r);
	if (is_multicast_ether_addr(dst)) {
		r->flood = true;
		r->host = src == NICSIM_SRC_WIRE ||
			  (src == NICSIM_SRC_QP && nicsim_mode_local(r->from_mode));
		r->wire = src != NICSIM_SRC_WIRE;
		if (nic->nr_groups > (r->skip ? 1 : 0))
			r->hash = nicsim_rss_hash(nic, skb);
		return;
	}
	g = nicsim_group_by_mac(nic, dst);
	if (g && (src != NICSIM_SRC_QP || g != from->group)) {
		struct nicsim_qp *to;

		if (g->n > 1)
			r->hash = nicsim_rss_hash(nic, skb);
		to = nicsim_rss_pick(g, r->hash);
		if (g == r->skip || nicsim_may_reach(r, READ_ONCE(to->mode))) {
			r->qp = to;
			return;
		}
		if (src == NICSIM_SRC_WIRE) {
			nicsim_route_refuse(e, to);
			return;
		}
		r->wire = true;
		return;
	}
	if (src == NICSIM_SRC_WIRE ||
	    (src == NICSIM_SRC_QP && nicsim_mode_local(r->from_mode) &&
	     ether_addr_equal(dst, nic->netdev->dev_addr)))
		r->host = true;
	else
		r->wire = true;
}

/* Queue @skb for @dev's stack; nicsim_deliver() hands the batch over at the
 * end of the engine's pass over an input, one list per device, instead of
 * one backlog enqueue per frame.
 */
static void nicsim_forward(struct nicsim_engine *e, struct net_device *dev,
			   struct sk_buff *skb, enum nicsim_nic_stat stat)
{
	unsigned int len = skb->len;

	/* a refused frame is already in the core's rx_dropped of @dev */
	if (__dev_forward_skb(dev, skb))
		return;
	nicsim_dstats_add(&e->port_rx[dev == e->nic->peer ? NICSIM_PORT_WIRE :
						      NICSIM_PORT_HOST], len);
	nicsim_ns_inc(e, stat);
	list_add_tail(&skb->list,
		      dev == e->nic->peer ? &e->to_wire : &e->to_host);
}

/* Hand the queued frames to the stacks of the wire and the host port.  BHs
 * off: the stack runs here, as it would in the NIC's NAPI poll.
 */
static void nicsim_deliver(struct nicsim_engine *e)
{
	if (!list_empty(&e->to_wire)) {
		netif_receive_skb_list(&e->to_wire);
		INIT_LIST_HEAD(&e->to_wire);
	}
	if (!list_empty(&e->to_host)) {
		netif_receive_skb_list(&e->to_host);
		INIT_LIST_HEAD(&e->to_host);
	}
}

/* Host port and wire targets of @r; consumes @skb. */
static void nicsim_out(struct nicsim_engine *e, struct sk_buff *skb,
		       const struct nicsim_route *r)
{
	struct nicsim_nic *nic = e->nic;
	struct sk_buff *clone;

	if (r->host && r->wire) {
		clone = skb_clone(skb, GFP_ATOMIC);
		if (clone)
			nicsim_forward(e, nic->netdev, clone,
				       NICSIM_NS_HOST_RX);
		else
			nicsim_dstats_drop(&e->port_rx[NICSIM_PORT_HOST]);
	} else if (r->host) {
		nicsim_forward(e, nic->netdev, skb, NICSIM_NS_HOST_RX);
		return;
	}
	if (r->wire)
		nicsim_forward(e, nic->peer, skb, NICSIM_NS_WIRE_TX);
	else
		consume_skb(skb);
}

/* Every target of @r; consumes @skb (not GSO, checksum complete). */
static void nicsim_fanout(struct nicsim_engine *e, struct sk_buff *skb,
			  const struct nicsim_route *r, bool csum_ok)
{
	struct nicsim_group *g;

	if (r->qp)
		nicsim_qp_rx(e, r->qp, skb, csum_ok);
	if (r->flood)
		list_for_each_entry(g, &e->nic->groups, node) {
			struct nicsim_qp *to = nicsim_rss_pick(g, r->hash);

			if (g == r->skip)
				continue;
			if (nicsim_may_reach(r, READ_ONCE(to->mode)))
				nicsim_qp_rx(e, to, skb, csum_ok);
			else if (r->reflected)
				nicsim_route_refuse(e, to);
		}
	nicsim_out(e, skb, r);
}

static void nicsim_drop_offload(struct nicsim_engine *e, struct sk_buff *skb)
{
	nicsim_ns_inc(e, NICSIM_NS_DROPPED_OFFLOAD);
	kfree_skb(skb);
}

/* A frame must be complete before it is written into guest buffers. */
static int nicsim_csum_finish(struct sk_buff *skb)
{
	if (skb->ip_summed != CHECKSUM_PARTIAL)
		return 0;
	return skb_csum_hwoffload_help(skb, 0);
}

/* GSO frames for queue pairs are segmented (the NIC cannot know which
 * receive offloads the guest negotiated), so are those the host stack
 * cannot take whole; the segments go to every target.
 */
static void nicsim_fanout_gso(struct nicsim_engine *e, struct sk_buff *skb,
			      const struct nicsim_route *r, bool csum_ok)
{
	struct sk_buff *segs, *seg, *next;

	/* segmenting frames whose checksum nobody computes would WARN */
	if (skb->ip_summed != CHECKSUM_PARTIAL &&
	    skb->ip_summed != CHECKSUM_UNNECESSARY) {
		nicsim_drop_offload(e, skb);
		return;
	}
	/* the receive path's rules: CHECKSUM_UNNECESSARY is no error */
	segs = __skb_gso_segment(skb, 0, false);
	if (IS_ERR(segs)) {
		nicsim_drop_offload(e, skb);
		return;
	}
	if (!segs) {
		/* one segment only: an ordinary frame */
		skb_gso_reset(skb);
		if (nicsim_csum_finish(skb))
			nicsim_drop_offload(e, skb);
		else
			nicsim_fanout(e, skb, r, csum_ok);
		return;
	}
	consume_skb(skb);
	skb_list_walk_safe(segs, seg, next) {
		skb_mark_not_on_list(seg);
		if (nicsim_csum_finish(seg))
			nicsim_drop_offload(e, seg);
		else
			nicsim_fanout(e, seg, r, csum_ok);
	}
}

/* Switch one frame; consumes @skb.  BHs off. */
static void nicsim_switch(struct nicsim_engine *e, struct sk_buff *skb,
			  enum nicsim_src src, struct nicsim_qp *from)
{
	struct nicsim_nic *nic = e->nic;
	struct nicsim_route r;
	bool csum_ok;

	skb_reset_mac_header(skb);
	nicsim_route(e, skb, src, from, &r);
	if (!r.qp && !(r.flood && nic->nr_groups > (from ? 1 : 0)) &&
	    (!skb_is_gso(skb) || compat_stack_takes_gso(skb))) {
		nicsim_out(e, skb, &r);
		return;
	}
	csum_ok = skb->ip_summed == CHECKSUM_PARTIAL ||
		  skb->ip_summed == CHECKSUM_UNNECESSARY ||
		  nicsim_cb(skb)->csum_ok;
	if (skb_is_gso(skb)) {
		nicsim_fanout_gso(e, skb, &r, csum_ok);
		return;
	}
	if (nicsim_csum_finish(skb)) {
		nicsim_drop_offload(e, skb);
		return;
	}
	nicsim_fanout(e, skb, &r, csum_ok);
}

/* --- Tx: consuming a queue pair's descriptors ----------------------------- */

static int nicsim_skb_add_pages(struct sk_buff *skb, u32 len)
{
	int i = 0;

	while (len) {
		u32 chunk = min_t(u32, len, PAGE_SIZE);
		struct page *page;

		if (i == MAX_SKB_FRAGS)
			return -EMSGSIZE;
		page = alloc_page(GFP_KERNEL);
		if (!page)
			return -ENOMEM;
		skb_add_rx_frag(skb, i++, page, 0, chunk, PAGE_SIZE);
		len -= chunk;
	}
	return 0;
}

/* A linear skb for a frame of up to NICSIM_TX_LINEAR bytes, built around a
 * page fragment of the per-CPU NAPI cache, as NIC drivers build their Rx
 * skbs: no kmalloc per frame.  BHs off.
 */
static struct sk_buff *nicsim_small_skb(struct nicsim_nic *nic, u32 len)
{
	unsigned int size = SKB_DATA_ALIGN(NET_SKB_PAD + NET_IP_ALIGN + len) +
			    SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	struct sk_buff *skb;
	void *data;

	data = napi_alloc_frag(size);
	if (!data)
		return NULL;
	skb = napi_build_skb(data, size);
	if (!skb) {
		skb_free_frag(data);
		return NULL;
	}
	skb_reserve(skb, NET_SKB_PAD + NET_IP_ALIGN);
	skb->dev = nic->netdev;
	return skb;
}

/* A frame larger than NICSIM_TX_LINEAR: a head and page frags.  Sleeps. */
static struct sk_buff *nicsim_large_skb(struct nicsim_nic *nic, u32 len)
{
	struct sk_buff *skb;

	skb = __netdev_alloc_skb_ip_align(nic->netdev, NICSIM_TX_HDR,
					  GFP_KERNEL);
	if (!skb)
		return NULL;
	skb_put(skb, NICSIM_TX_HDR);
	if (nicsim_skb_add_pages(skb, len - NICSIM_TX_HDR)) {
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

/* Offload metadata: the fields mean what virtio_net_hdr's mean, so the
 * kernel's own parser validates them (the guest is not trusted).  GSO
 * frames stay GSO (the stack or our Rx path segments them); a partial
 * checksum of any other frame is filled in here, by the "hardware".
 */
static int nicsim_tx_meta(struct nicsim_nic *nic, struct sk_buff *skb,
			  const struct vhost_accel_meta *m)
{
	struct virtio_net_hdr hdr = {
		.gso_type = m->gso_type,
		.hdr_len = __cpu_to_virtio16(true, m->hdr_len),
		.gso_size = __cpu_to_virtio16(true, m->gso_size),
		.csum_start = __cpu_to_virtio16(true, m->csum_start),
		.csum_offset = __cpu_to_virtio16(true, m->csum_offset),
	};
	bool partial = m->flags & VHOST_ACCEL_META_CSUM_PARTIAL;

	skb->dev = nic->netdev;
	skb_reset_mac_header(skb);
	skb->protocol = eth_hdr(skb)->h_proto;
	skb_set_network_header(skb, ETH_HLEN);
	/* GSO needs the checksum offload; the stack would WARN without */
	if (m->gso_type != VIRTIO_NET_HDR_GSO_NONE && !partial)
		return -EINVAL;
	if (partial)
		hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (virtio_net_hdr_to_skb(skb, &hdr, true))
		return -EINVAL;
	if (skb->ip_summed == CHECKSUM_PARTIAL && !skb_is_gso(skb)) {
		if (skb_checksum_help(skb))
			return -EINVAL;
		nicsim_cb(skb)->csum_ok = true;
	}
	return 0;
}

/* Build the skb of Tx descriptor @d (valid length).  Called with BHs off;
 * they are on again while a large frame's pages are allocated.
 */
static struct sk_buff *nicsim_tx_skb(struct nicsim_nic *nic,
				     const struct nicsim_desc *d)
{
	struct sk_buff *skb;

	if (d->len <= NICSIM_TX_LINEAR) {
		skb = nicsim_small_skb(nic, d->len);
		if (skb)
			skb_put(skb, d->len);
	} else {
		local_bh_enable();
		skb = nicsim_large_skb(nic, d->len);
		local_bh_disable();
	}
	if (!skb)
		return NULL;
	nicsim_cb(skb)->csum_ok = false;
	nicsim_dma_read(nic, d, skb);
	if (nicsim_tx_meta(nic, skb, &d->meta)) {
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

/* Anti-spoofing: unless the port opted out, a frame leaves only with the
 * queue pair's MAC as its source.  Drops and counts a spoofed @skb.
 */
static bool nicsim_tx_spoofed(struct nicsim_qp *qp, u32 port_flags,
			      struct sk_buff *skb)
{
	if ((port_flags & VHOST_ACCEL_PORT_NO_SPOOFCHK) ||
	    ether_addr_equal(skb->data + ETH_ALEN, qp->mac))
		return false;
	nicsim_qs_add(qp, NICSIM_QS_TX_DROPPED_SPOOFED, 1);
	kfree_skb(skb);
	return true;
}

/* One Tx descriptor: read, check, switch, count.  BHs off. */
static void nicsim_tx_one(struct nicsim_engine *e, struct nicsim_qp *qp,
			  struct nicsim_desc *d)
{
	u32 port_flags = READ_ONCE(qp->port_flags);
	struct nicsim_nic *nic = e->nic;
	struct sk_buff *skb = NULL;

	if (d->status == NICSIM_DESC_OK && netif_carrier_ok(nic->netdev) &&
	    !(port_flags & VHOST_ACCEL_PORT_DOWN) &&
	    d->len >= ETH_HLEN && d->len <= NICSIM_TX_MAX_FRAME) {
		nicsim_qs_add(qp, NICSIM_QS_ENGINE_DMA_BYTES, d->len);
		skb = nicsim_tx_skb(nic, d);
		if (skb && nicsim_tx_spoofed(qp, port_flags, skb))
			skb = NULL;
	} else if (port_flags & VHOST_ACCEL_PORT_DOWN) {
		nicsim_qs_add(qp, NICSIM_QS_DROPPED_PORT_DOWN, 1);
	}
	if (!skb) {
		d->status = NICSIM_DESC_ERROR;
		nicsim_qs_add(qp, NICSIM_QS_TX_DROPPED, 1);
		return;
	}
	nicsim_qs_add(qp, NICSIM_QS_TX_PACKETS, 1);
	nicsim_qs_add(qp, NICSIM_QS_TX_BYTES, d->len);
	nicsim_switch(e, skb, NICSIM_SRC_QP, qp);
}

/* Consume up to a quota of Tx descriptors, BHs off once for the batch;
 * true: more are waiting.
 */
static bool nicsim_engine_tx(struct nicsim_engine *e, struct nicsim_qp *qp)
{
	struct nicsim_ring *ring = &qp->tx;
	u32 prod = nicsim_idx_get(&ring->prod);
	unsigned int n;

	local_bh_disable();
	for (n = 0; ring->next != prod && n < NICSIM_QUOTA; n++) {
		nicsim_tx_one(e, qp, nicsim_desc(ring, ring->next));
		ring->next++;
		qp->tx_irq = true;
	}
	nicsim_deliver(e);
	local_bh_enable();
	return ring->next != prod;
}

/* --- wire and host port inputs -------------------------------------------- */

static bool nicsim_drop_injected(struct nicsim_nic *nic)
{
	u32 n = READ_ONCE(nic->drop_every_n);

	return n && ++nic->wire_seq % n == 0;
}

static void nicsim_input_one(struct nicsim_engine *e, struct sk_buff *skb,
			     enum nicsim_src src)
{
	struct nicsim_nic *nic = e->nic;

	if (!netif_carrier_ok(nic->netdev)) {
		nicsim_ns_inc(e, NICSIM_NS_DROPPED_LINK_DOWN);
		kfree_skb(skb);
		return;
	}
	if (src == NICSIM_SRC_WIRE) {
		nicsim_ns_inc(e, NICSIM_NS_WIRE_RX);
		if (nicsim_drop_injected(nic)) {
			nicsim_ns_inc(e, NICSIM_NS_DROPPED_INJECTED);
			kfree_skb(skb);
			return;
		}
	} else {
		nicsim_ns_inc(e, NICSIM_NS_HOST_TX);
	}
	nicsim_switch(e, skb, src, NULL);
}

/* Engine 0 only. */
static bool nicsim_engine_input(struct nicsim_engine *e,
				struct sk_buff_head *q, enum nicsim_src src)
{
	struct sk_buff *skb;
	unsigned int n;

	local_bh_disable();
	for (n = 0; n < NICSIM_QUOTA; n++) {
		/* Paused: the backlog waits in its queue (whose device is
		 * stopped) instead of overflowing a qp's hold queue.
		 */
		if (atomic_read(&e->nic->paused))
			break;
		skb = skb_dequeue(q);
		if (!skb)
			break;
		nicsim_input_one(e, skb, src);
	}
	nicsim_deliver(e);
	local_bh_enable();
	return n == NICSIM_QUOTA && !skb_queue_empty_lockless(q);
}

/* --- completion and "interrupts" ------------------------------------------ */

static void nicsim_wake_queue(struct nicsim_nic *nic, struct net_device *dev,
			      struct sk_buff_head *q)
{
	if (netif_queue_stopped(dev) && !atomic_read(&nic->paused) &&
	    skb_queue_len_lockless(q) < NICSIM_QUEUE_LEN / 2)
		netif_wake_queue(dev);
}

static void nicsim_wake_queues(struct nicsim_nic *nic)
{
	nicsim_wake_queue(nic, nic->peer, &nic->wire_q);
	nicsim_wake_queue(nic, nic->netdev, &nic->host_q);
}

/* The owner's "interrupt" for @qp: publish the done indices, schedule
 * NAPI, if anything happened on either ring.  BHs off.
 */
static void nicsim_irq(struct nicsim_qp *qp)
{
	bool irq = qp->tx_irq;

	if (READ_ONCE(qp->rx_irq)) {
		spin_lock(&qp->rx_lock);
		nicsim_idx_set(&qp->rx.done, qp->rx.next);
		WRITE_ONCE(qp->rx_irq, false);
		spin_unlock(&qp->rx_lock);
		irq = true;
	}
	if (!irq)
		return;
	nicsim_idx_set(&qp->tx.done, qp->tx.next);
	qp->tx_irq = false;
	napi_schedule(&qp->slot->napi);
}

/* An engine that wrote into @qp's Rx ring set rx_irq under rx_lock and
 * kicked us after: reading it unlocked here cannot miss it for good.
 */
static bool nicsim_qp_news(const struct nicsim_qp *qp)
{
	return qp->tx_irq || READ_ONCE(qp->rx_irq);
}

static void nicsim_publish(struct nicsim_engine *e)
{
	u32 delay = READ_ONCE(e->nic->delay_us);
	struct nicsim_qp *qp;
	bool news = false;

	list_for_each_entry(qp, &e->qps, engine_node)
		news |= nicsim_qp_news(qp);
	if (news && delay)
		fsleep(min_t(u32, delay, NICSIM_MAX_DELAY_US));
	local_bh_disable();
	list_for_each_entry(qp, &e->qps, engine_node)
		nicsim_irq(qp);
	nicsim_wake_queues(e->nic);
	local_bh_enable();
}

/* One pass over this engine's queue pairs (engine 0: and the inputs);
 * true: work is left for the next one.
 */
static bool nicsim_engine_pass(struct nicsim_engine *e)
{
	struct nicsim_nic *nic = e->nic;
	struct nicsim_qp *qp;
	bool more = false;

	down_read(&nic->engine_lock);
	list_for_each_entry(qp, &e->qps, engine_node)
		more |= nicsim_flush_held(e, qp);
	list_for_each_entry(qp, &e->qps, engine_node)
		more |= nicsim_engine_tx(e, qp);
	if (!e->index) {
		more |= nicsim_engine_input(e, &nic->wire_q, NICSIM_SRC_WIRE);
		more |= nicsim_engine_input(e, &nic->host_q, NICSIM_SRC_HOST);
	}
	list_for_each_entry(qp, &e->qps, engine_node)
		more |= nicsim_arm_rx(qp);
	nicsim_publish(e);
	up_read(&nic->engine_lock);
	return more;
}

/* poll_us: how long an engine keeps looking for work after a pass before
 * it sleeps.  Hardware does not sleep: a doorbell rung or a frame arriving
 * in that time costs no wake-up, which under emulation is most of what a
 * frame's round trip through the simulated NIC costs.  The time polled is
 * the engine's (simulated hardware), not the host's datapath CPU.
 */
#define NICSIM_MAX_POLL_US	1000
static unsigned int nicsim_poll_us;
module_param_named(poll_us, nicsim_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "microseconds an engine polls for work after a pass before it sleeps (0-1000, default 0: at once)");

/* Spin until a kick, poll_us, or another task could use this CPU: the
 * simulated hardware must not take it from the threads it serves (as
 * KVM's halt polling, it stops once anything else is runnable here).
 */
static void nicsim_engine_poll(unsigned long *flags)
{
	u32 us = min_t(u32, READ_ONCE(nicsim_poll_us), NICSIM_MAX_POLL_US);
	u64 end = local_clock() + (u64)us * NSEC_PER_USEC;

	while (us && !test_bit(NICSIM_ENGINE_KICK, flags) &&
	       single_task_running() && !need_resched() &&
	       !kthread_should_stop() && local_clock() < end)
		cpu_relax();
}

static int nicsim_engine_fn(void *data)
{
	struct nicsim_engine *e = data;

	while (!kthread_should_stop()) {
		wait_event_idle(e->wq,
				test_bit(NICSIM_ENGINE_KICK, &e->flags) ||
				kthread_should_stop());
		if (!test_and_clear_bit(NICSIM_ENGINE_KICK, &e->flags))
			continue;
		if (nicsim_engine_pass(e))
			set_bit(NICSIM_ENGINE_KICK, &e->flags);
		cond_resched();
		nicsim_engine_poll(&e->flags);
	}
	return 0;
}

void nicsim_engine_kick(struct nicsim_engine *e)
{
	if (!test_and_set_bit(NICSIM_ENGINE_KICK, &e->flags))
		wake_up(&e->wq);
}

void nicsim_engine_kick_all(struct nicsim_nic *nic)
{
	unsigned int i;

	for (i = 0; i < nic->nr_engines; i++)
		nicsim_engine_kick(&nic->engines[i]);
}

/* The wire and host-port inputs are engine 0's. */
void nicsim_input_kick(struct nicsim_nic *nic)
{
	nicsim_engine_kick(&nic->engines[0]);
}

/* The engines of a new NIC, as many as the parameter says now; no
 * threads yet (nicsim_engine_start()).
 */
int nicsim_engine_init(struct nicsim_nic *nic)
{
	unsigned int i, n = READ_ONCE(nicsim_engines);

	nic->engines = kcalloc(n, sizeof(*nic->engines), GFP_KERNEL);
	if (!nic->engines)
		return -ENOMEM;
	nic->nr_engines = n;
	for (i = 0; i < n; i++) {
		struct nicsim_engine *e = &nic->engines[i];

		e->nic = nic;
		e->index = i;
		init_waitqueue_head(&e->wq);
		INIT_LIST_HEAD(&e->qps);
		INIT_LIST_HEAD(&e->to_host);
		INIT_LIST_HEAD(&e->to_wire);
		u64_stats_init(&e->stats.syncp);
		u64_stats_init(&e->port_rx[NICSIM_PORT_HOST].syncp);
		u64_stats_init(&e->port_rx[NICSIM_PORT_WIRE].syncp);
	}
	return 0;
}

void nicsim_engine_free(struct nicsim_nic *nic)
{
	kfree(nic->engines);
	nic->engines = NULL;
	nic->nr_engines = 0;
}

/* Engine 0 keeps the name of the single engine, "nicsim/NAME"; the others
 * are "nicsim/NAME/N" (a comm is cut at 15 characters).
 */
static struct task_struct *nicsim_engine_run(struct nicsim_engine *e)
{
	const char *name = e->nic->netdev->name;

	if (!e->index)
		return kthread_run(nicsim_engine_fn, e, "nicsim/%s", name);
	return kthread_run(nicsim_engine_fn, e, "nicsim/%s/%u", name,
			   e->index);
}

int nicsim_engine_start(struct nicsim_nic *nic)
{
	struct task_struct *t;
	unsigned int i;

	for (i = 0; i < nic->nr_engines; i++) {
		t = nicsim_engine_run(&nic->engines[i]);
		if (IS_ERR(t)) {
			nicsim_engine_stop(nic);
			return PTR_ERR(t);
		}
		nic->engines[i].task = t;
	}
	return 0;
}

/* Every engine, one after the other; no lock held. */
void nicsim_engine_stop(struct nicsim_nic *nic)
{
	unsigned int i;

	for (i = 0; i < nic->nr_engines; i++) {
		struct nicsim_engine *e = &nic->engines[i];

		if (!e->task)
			continue;
		kthread_stop(e->task);
		e->task = NULL;
	}
}

/* --- queue pairs joining and leaving the engine --------------------------- */

/* @qp joins the pool of its MAC, made of *@fresh (then taken) if none
 * exists; the pool's indirection table is reset to the default spread.
 * It belongs to engine (slot index % engines).  Caller holds engine_lock
 * exclusive.
 */
void nicsim_engine_add_qp(struct nicsim_nic *nic, struct nicsim_qp *qp,
			  struct nicsim_group **fresh)
{
	struct nicsim_group *g = nicsim_group_by_mac(nic, qp->mac);

	if (!g) {
		g = *fresh;
		*fresh = NULL;
		ether_addr_copy(g->mac, qp->mac);
		INIT_LIST_HEAD(&g->members);
		list_add_tail(&g->node, &nic->groups);
		nic->nr_groups++;
	}
	list_add_tail(&qp->group_node, &g->members);
	g->n++;
	qp->group = g;
	nicsim_rss_fill(g);
	list_add_tail(&qp->node, &nic->qps);
	nic->nr_qps++;
	qp->engine = &nic->engines[qp->slot->index % nic->nr_engines];
	list_add_tail(&qp->engine_node, &qp->engine->qps);
	qp->engine->nr_qps++;
}

/* @qp leaves its pool; the last one out frees it.  engine_lock held
 * exclusive.
 */
static void nicsim_group_leave(struct nicsim_nic *nic, struct nicsim_qp *qp)
{
	struct nicsim_group *g = qp->group;

	list_del(&qp->group_node);
	qp->group = NULL;
	if (--g->n) {
		nicsim_rss_reassign(g, qp);
		return;
	}
	list_del(&g->node);
	nic->nr_groups--;
	kfree(g);
}

/* Mark every descriptor the engine has not reached with @status. */
static void nicsim_ring_retire(struct nicsim_ring *ring, u8 status)
{
	u32 prod = nicsim_idx_get(&ring->prod);

	for (; ring->next != prod; ring->next++) {
		struct nicsim_desc *d = nicsim_desc(ring, ring->next);

		d->status = status;
		d->used = 0;
	}
	nicsim_idx_set(&ring->done, ring->next);
}

/* Detach: the engines forget @qp, unsent Tx buffers fail, posted Rx
 * buffers come back unused, held frames are dropped.  Caller holds
 * ctrl_lock; NAPI then completes everything.
 */
void nicsim_engine_remove_qp(struct nicsim_nic *nic, struct nicsim_qp *qp)
{
	u32 unsent, held;

	down_write(&nic->engine_lock);
	list_del(&qp->node);
	nic->nr_qps--;
	list_del(&qp->engine_node);
	qp->engine->nr_qps--;
	nicsim_group_leave(nic, qp);
	unsent = nicsim_idx_get(&qp->tx.prod) - qp->tx.next;
	nicsim_ring_retire(&qp->tx, NICSIM_DESC_ERROR);
	nicsim_ring_retire(&qp->rx, NICSIM_DESC_UNUSED);
	held = skb_queue_len(&qp->held);
	if (held)
		nicsim_unpause(nic);
	__skb_queue_purge(&qp->held);
	local_bh_disable();
	nicsim_qs_add(qp, NICSIM_QS_TX_DROPPED, unsent);
	nicsim_qs_add_rx(qp, NICSIM_QS_RX_DROPPED_NO_BUF, held);
	nicsim_wake_queues(nic);
	local_bh_enable();
	up_write(&nic->engine_lock);
}

/* reclaim_rx: every posted Rx buffer not filled yet comes back unused. */
void nicsim_engine_reclaim_rx(struct nicsim_nic *nic, struct nicsim_qp *qp)
{
	down_write(&nic->engine_lock);
	nicsim_ring_retire(&qp->rx, NICSIM_DESC_UNUSED);
	up_write(&nic->engine_lock);
}
