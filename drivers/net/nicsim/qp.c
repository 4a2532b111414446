// SPDX-License-Identifier: GPL-2.0
/*
 * nicsim: queue pairs lent to vhost-accel (struct vhost_accel_nic_ops) and
 * their completion path.
 *
 * xmit/post_rx map the guest pages for the NIC's DMA device, fill
 * descriptors and move the producer index; the engine does the rest.  The
 * engine's "interrupt" schedules the queue pair's NAPI, whose poll unmaps
 * what is done and hands it back with one tx_done and one rx_done call per
 * poll.  detach and reclaim_rx stop the engines (engine_lock exclusive)
 * for the queue pair, disable NAPI and complete what is left themselves.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "nicsim.h"

/* --- counters ------------------------------------------------------------- */

static void nicsim_ctr_add(struct nicsim_counters *c, enum nicsim_qp_stat s,
			   u64 v)
{
	u64_stats_update_begin(&c->syncp);
	u64_stats_add(&c->v[s], v);
	u64_stats_update_end(&c->syncp);
}

/* The owner engine's set (or detach, engines excluded). */
void nicsim_qs_add(struct nicsim_qp *qp, enum nicsim_qp_stat s, u64 v)
{
	nicsim_ctr_add(&qp->slot->stats[NICSIM_CTR_TX], s, v);
}

/* The Rx side's set: qp->rx_lock held (or detach, engines excluded). */
void nicsim_qs_add_rx(struct nicsim_qp *qp, enum nicsim_qp_stat s, u64 v)
{
	nicsim_ctr_add(&qp->slot->stats[NICSIM_CTR_RX], s, v);
}

/* A slot's counters: the sum of both sets. */
void nicsim_slot_read(const struct nicsim_slot *slot, u64 *v)
{
	unsigned int start, i, j;
	u64 t[NICSIM_QS_NUM];

	memset(v, 0, sizeof(t));
	for (j = 0; j < NICSIM_CTR_SETS; j++) {
		const struct nicsim_counters *c = &slot->stats[j];

		do {
			start = u64_stats_fetch_begin(&c->syncp);
			for (i = 0; i < NICSIM_QS_NUM; i++)
				t[i] = u64_stats_read(&c->v[i]);
		} while (u64_stats_fetch_retry(&c->syncp, start));
		for (i = 0; i < NICSIM_QS_NUM; i++)
			v[i] += t[i];
	}
}

/* --- rings ---------------------------------------------------------------- */

static int nicsim_ring_alloc(struct nicsim_ring *ring, u32 size)
{
	u32 i;

	ring->desc = kvcalloc(size, sizeof(*ring->desc), GFP_KERNEL);
	ring->sg = kvcalloc(size * NICSIM_MAX_SEGS, sizeof(*ring->sg),
			    GFP_KERNEL);
	if (!ring->desc || !ring->sg)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		ring->desc[i].sg = &ring->sg[i * NICSIM_MAX_SEGS];
	ring->mask = size - 1;
	return 0;
}

static void nicsim_ring_free(struct nicsim_ring *ring)
{
	kvfree(ring->desc);
	kvfree(ring->sg);
}

static u32 nicsim_ring_space(const struct nicsim_ring *ring)
{
	return nicsim_ring_size(ring) -
	       (ring->prod - nicsim_idx_get(&ring->clean));
}

static void nicsim_unmap(struct nicsim_nic *nic, struct nicsim_desc *d,
			 enum dma_data_direction dir)
{
	unsigned int i;

	for (i = 0; i < d->nsegs; i++)
		dma_unmap_page(nic->dma_dev, d->sg[i].addr, d->sg[i].len, dir);
	d->nsegs = 0;
}

static bool nicsim_buf_valid(const struct vhost_accel_buf *buf)
{
	u32 i, len = 0;

	if (!buf->nsegs || buf->nsegs > NICSIM_MAX_SEGS)
		return false;
	for (i = 0; i < buf->nsegs; i++) {
		const struct vhost_accel_seg *seg = &buf->segs[i];

		if (!seg->page || seg->offset > PAGE_SIZE ||
		    seg->len > PAGE_SIZE - seg->offset)
			return false;
		len += seg->len;
	}
	return len == buf->len;
}

/* Map @buf into @d for the device.  Empty segments are skipped.  On any
 * failure nothing stays mapped and the caller marks the descriptor bad.
 */
static int nicsim_buf_map(struct nicsim_nic *nic, struct nicsim_desc *d,
			  const struct vhost_accel_buf *buf,
			  enum dma_data_direction dir)
{
	u32 i;

	d->cookie = buf->cookie;
	d->len = 0;
	d->nsegs = 0;
	if (!nicsim_buf_valid(buf))
		return -EINVAL;
	for (i = 0; i < buf->nsegs; i++) {
		const struct vhost_accel_seg *seg = &buf->segs[i];
		dma_addr_t addr;

		if (!seg->len)
			continue;
		addr = dma_map_page(nic->dma_dev, seg->page, seg->offset,
				    seg->len, dir);
		if (dma_mapping_error(nic->dma_dev, addr)) {
			nicsim_unmap(nic, d, dir);
			return -ENOMEM;
		}
		d->sg[d->nsegs].addr = addr;
		d->sg[d->nsegs].len = seg->len;
		d->nsegs++;
		d->len += seg->len;
	}
	return 0;
}

/* --- datapath ops: vhost worker, one call at a time per queue pair -------- */

/* The xmit_accept_max knob: at most that many buffers per call, whatever
 * the ring's space, like a NIC whose ring filled after vhost's space query.
 */
static unsigned int nicsim_accept(const struct nicsim_qp *qp,
				  const struct nicsim_ring *ring,
				  unsigned int n)
{
	u32 max = READ_ONCE(qp->nic->accept_max);

	n = min(n, nicsim_ring_space(ring));
	return max ? min(n, max) : n;
}

static unsigned int nicsim_xmit(struct vhost_accel_qp *handle,
				const struct vhost_accel_buf *bufs,
				unsigned int n)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	struct nicsim_ring *ring = &qp->tx;
	unsigned int i;

	n = nicsim_accept(qp, ring, n);
	for (i = 0; i < n; i++) {
		struct nicsim_desc *d = nicsim_desc(ring, ring->prod + i);

		d->status = NICSIM_DESC_OK;
		d->meta = bufs[i].meta;
		if (nicsim_buf_map(qp->nic, d, &bufs[i], DMA_TO_DEVICE)) {
			net_warn_ratelimited("%s: qp %u: bad Tx buffer\n",
					     qp->nic->netdev->name,
					     qp->slot->index);
			d->status = NICSIM_DESC_ERROR;
		}
	}
	if (n) {
		nicsim_idx_set(&ring->prod, ring->prod + n);
		nicsim_engine_kick(qp->engine);
	}
	return n;
}

static unsigned int nicsim_post_rx(struct vhost_accel_qp *handle,
				   const struct vhost_accel_buf *bufs,
				   unsigned int n)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	struct nicsim_ring *ring = &qp->rx;
	unsigned int i;

	n = nicsim_accept(qp, ring, n);
	for (i = 0; i < n; i++) {
		struct nicsim_desc *d = nicsim_desc(ring, ring->prod + i);

		d->status = NICSIM_DESC_OK;
		d->used = 0;
		d->cflags = 0;
		if (nicsim_buf_map(qp->nic, d, &bufs[i], DMA_FROM_DEVICE))
			break;
		if (d->len < qp->headroom) {
			nicsim_unmap(qp->nic, d, DMA_FROM_DEVICE);
			break;
		}
	}
	/* Rx buffers come back unused only after reclaim or detach: refuse
	 * a bad one (it stays vhost's) rather than skip it.
	 */
	if (i < n)
		net_warn_ratelimited("%s: qp %u: unusable Rx buffer\n",
				     qp->nic->netdev->name, qp->slot->index);
	n = i;
	if (!n)
		return 0;
	nicsim_idx_set(&ring->prod, ring->prod + n);
	/* pairs with the barrier in nicsim_arm_rx() */
	smp_mb();
	if (READ_ONCE(qp->want_rx))
		nicsim_engine_kick(qp->engine);
	return n;
}

static unsigned int nicsim_tx_space(struct vhost_accel_qp *handle)
{
	return nicsim_ring_space(&nicsim_qp(handle)->tx);
}

static unsigned int nicsim_rx_space(struct vhost_accel_qp *handle)
{
	return nicsim_ring_space(&nicsim_qp(handle)->rx);
}

static void nicsim_get_stats(struct vhost_accel_qp *handle,
			     struct vhost_accel_qp_stats *stats)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	u64 v[NICSIM_QS_NUM];
	unsigned int i;

	nicsim_slot_read(qp->slot, v);
	for (i = 0; i < NICSIM_QS_NUM; i++)
		v[i] -= qp->base[i];
	stats->tx_packets = v[NICSIM_QS_TX_PACKETS];
	stats->tx_bytes = v[NICSIM_QS_TX_BYTES];
	stats->tx_dropped = v[NICSIM_QS_TX_DROPPED];
	stats->tx_dropped_spoofed = v[NICSIM_QS_TX_DROPPED_SPOOFED];
	stats->rx_packets = v[NICSIM_QS_RX_PACKETS];
	stats->rx_bytes = v[NICSIM_QS_RX_BYTES];
	stats->rx_dropped_no_buf = v[NICSIM_QS_RX_DROPPED_NO_BUF];
	stats->rx_dropped_too_big = v[NICSIM_QS_RX_DROPPED_TOO_BIG];
	stats->rx_depleted = v[NICSIM_QS_RX_DEPLETED];
}

/* --- completion: NAPI ----------------------------------------------------- */

/* Hand back every finished Tx buffer in one tx_done call. */
static void nicsim_complete_tx(struct nicsim_qp *qp)
{
	struct nicsim_ring *ring = &qp->tx;
	u32 done = nicsim_idx_get(&ring->done);
	u32 clean = ring->clean;
	unsigned int n = 0;

	for (; clean != done; clean++) {
		struct nicsim_desc *d = nicsim_desc(ring, clean);
		struct vhost_accel_completion *c = &qp->comp[n++];

		nicsim_unmap(qp->nic, d, DMA_TO_DEVICE);
		memset(c, 0, sizeof(*c));
		c->cookie = d->cookie;
		if (d->status != NICSIM_DESC_OK)
			c->flags = VHOST_ACCEL_COMP_ERROR;
	}
	if (!n)
		return;
	/* the space is free before vhost hears of it and retries */
	nicsim_idx_set(&ring->clean, clean);
	qp->cb->tx_done(qp->ctx, qp->comp, n);
}

/* Hand back up to @budget finished Rx frames, in posted order, in one
 * rx_done call; a frame's buffers always go together.  Returns frames.
 */
static int nicsim_complete_rx(struct nicsim_qp *qp, int budget)
{
	struct nicsim_ring *ring = &qp->rx;
	u32 done = nicsim_idx_get(&ring->done);
	u32 clean = ring->clean;
	unsigned int n = 0;
	int frames = 0;

	for (; clean != done && frames < budget; clean++) {
		struct nicsim_desc *d = nicsim_desc(ring, clean);
		struct vhost_accel_completion *c = &qp->comp[n++];

		nicsim_unmap(qp->nic, d, DMA_FROM_DEVICE);
		memset(c, 0, sizeof(*c));
		c->cookie = d->cookie;
		if (d->status == NICSIM_DESC_OK) {
			c->len = d->used;
			c->flags = d->cflags;
			c->meta = d->meta;
		}
		if (d->status != NICSIM_DESC_OK ||
		    (d->cflags & VHOST_ACCEL_COMP_EOP))
			frames++;
	}
	if (!n)
		return 0;
	nicsim_idx_set(&ring->clean, clean);
	qp->cb->rx_done(qp->ctx, qp->comp, n);
	return frames;
}

static void nicsim_complete_events(struct nicsim_qp *qp)
{
	if (test_and_clear_bit(NICSIM_QP_EVENT_DEPLETED, &qp->events) &&
	    qp->cb->rx_depleted)
		qp->cb->rx_depleted(qp->ctx);
}

int nicsim_poll(struct napi_struct *napi, int budget)
{
	struct nicsim_slot *slot = container_of(napi, struct nicsim_slot, napi);
	struct nicsim_qp *qp = slot->qp;
	int frames;

	/* netpoll (budget 0) may run with IRQs off: not for our callbacks */
	if (!budget)
		return 0;
	nicsim_complete_tx(qp);
	frames = nicsim_complete_rx(qp, budget);
	nicsim_complete_events(qp);
	if (frames < budget)
		napi_complete_done(napi, frames);
	return frames;
}

/* Complete everything done so far, NAPI disabled, like a poll would. */
static void nicsim_complete_all(struct nicsim_qp *qp)
{
	local_bh_disable();
	nicsim_complete_tx(qp);
	nicsim_complete_rx(qp, INT_MAX);
	nicsim_complete_events(qp);
	local_bh_enable();
}

/* --- control ops: process context ----------------------------------------- */

static void nicsim_qp_free(struct nicsim_qp *qp)
{
	nicsim_ring_free(&qp->tx);
	nicsim_ring_free(&qp->rx);
	kvfree(qp->comp);
	kfree(qp);
}

static struct nicsim_qp *nicsim_qp_alloc(struct nicsim_nic *nic,
					 const struct vhost_accel_attach *args)
{
	u32 size = READ_ONCE(nic->ring_size);
	struct nicsim_qp *qp;

	qp = kzalloc(sizeof(*qp), GFP_KERNEL);
	if (!qp)
		return NULL;
	qp->comp = kvcalloc(size, sizeof(*qp->comp), GFP_KERNEL);
	if (!qp->comp || nicsim_ring_alloc(&qp->tx, size) ||
	    nicsim_ring_alloc(&qp->rx, size)) {
		nicsim_qp_free(qp);
		return NULL;
	}
	qp->nic = nic;
	ether_addr_copy(qp->mac, args->mac);
	qp->flags = args->flags;
	qp->headroom = args->rx_headroom;
	qp->flow_control = (args->flags & VHOST_ACCEL_ATTACH_FLOW_CONTROL) ||
			   READ_ONCE(nic->flow_control);
	qp->mode = args->mode;
	qp->port_flags = args->port_flags;
	qp->cb = args->cb;
	qp->ctx = args->ctx;
	spin_lock_init(&qp->rx_lock);
	__skb_queue_head_init(&qp->held);
	return qp;
}

/* A queue pair may share its MAC with others (one pool, flows spread by
 * RSS) but not take the address of either of the NIC's own netdevs; a
 * passthru port takes the NIC over, its MAC included (macvlan gives a
 * passthru macvlan its lower device's address).
 */
static bool nicsim_mac_is_port(struct nicsim_nic *nic,
			       const struct nicsim_qp *qp)
{
	if (ether_addr_equal(qp->mac, nic->peer->dev_addr))
		return true;
	return qp->mode != VHOST_ACCEL_MODE_PASSTHRU &&
	       ether_addr_equal(qp->mac, nic->netdev->dev_addr);
}

/* A passthru port is the NIC's only one: queue pairs of other MACs may
 * not join it, nor it them.  engine_lock held exclusive.
 */
static bool nicsim_passthru_conflict(struct nicsim_nic *nic,
				     const struct nicsim_qp *qp)
{
	struct nicsim_qp *o;

	list_for_each_entry(o, &nic->qps, node)
		if (!ether_addr_equal(o->mac, qp->mac) &&
		    (READ_ONCE(o->mode) == VHOST_ACCEL_MODE_PASSTHRU ||
		     qp->mode == VHOST_ACCEL_MODE_PASSTHRU))
			return true;
	return false;
}

static struct nicsim_slot *nicsim_free_slot(struct nicsim_nic *nic)
{
	unsigned int i;

	for (i = 0; i < nic->max_qps; i++)
		if (!nic->slots[i].qp)
			return &nic->slots[i];
	return NULL;
}

/* Give @qp a slot and start it, in the pool of its MAC (a new one made
 * of *@fresh, which is then taken).  ctrl_lock held.
 */
static int nicsim_qp_install(struct nicsim_nic *nic, struct nicsim_qp *qp,
			     struct nicsim_group **fresh)
{
	struct nicsim_slot *slot;
	int err = 0;

	if (nic->dead)
		return -ENODEV;
	if (!netif_running(nic->netdev) || !netif_carrier_ok(nic->netdev))
		return -ENETDOWN;
	down_write(&nic->engine_lock);
	slot = nicsim_free_slot(nic);
	if (nicsim_mac_is_port(nic, qp))
		err = -EADDRINUSE;
	else if (nicsim_passthru_conflict(nic, qp))
		err = -EBUSY;
	else if (!slot)
		err = -EBUSY;
	if (!err) {
		qp->slot = slot;
		nicsim_slot_read(slot, qp->base);
		slot->qp = qp;
		napi_enable(&slot->napi);
		nicsim_engine_add_qp(nic, qp, fresh);
	}
	up_write(&nic->engine_lock);
	return err;
}

static struct vhost_accel_qp *nicsim_attach(struct net_device *netdev,
					    const struct vhost_accel_attach *args)
{
	struct nicsim_nic *nic = netdev_priv(netdev);
	struct nicsim_group *fresh;
	struct nicsim_qp *qp;
	int err;

	err = vhost_accel_attach_valid(args, NICSIM_MAX_HEADROOM);
	if (err)
		return ERR_PTR(err);
	qp = nicsim_qp_alloc(nic, args);
	/* a new pool, in case the MAC has none yet: no allocation under
	 * engine_lock
	 */
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	if (!qp || !fresh) {
		kfree(fresh);
		if (qp)
			nicsim_qp_free(qp);
		return ERR_PTR(-ENOMEM);
	}
	mutex_lock(&nic->ctrl_lock);
	err = nicsim_qp_install(nic, qp, &fresh);
	mutex_unlock(&nic->ctrl_lock);
	kfree(fresh);
	if (err) {
		nicsim_qp_free(qp);
		return ERR_PTR(err);
	}
	netdev_dbg(nic->netdev, "qp %u attached to %pM\n", qp->slot->index,
		   qp->mac);
	return nicsim_handle(qp);
}

static void nicsim_detach(struct vhost_accel_qp *handle)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	struct nicsim_nic *nic = qp->nic;
	struct nicsim_slot *slot = qp->slot;

	mutex_lock(&nic->ctrl_lock);
	nicsim_engine_remove_qp(nic, qp);
	napi_disable(&slot->napi);
	nicsim_complete_all(qp);
	slot->qp = NULL;
	mutex_unlock(&nic->ctrl_lock);
	netdev_dbg(nic->netdev, "qp %u detached\n", slot->index);
	nicsim_qp_free(qp);
	/* queues stopped for this queue pair's held frames restart */
	nicsim_engine_kick_all(nic);
}

static void nicsim_reclaim_rx(struct vhost_accel_qp *handle)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	struct nicsim_nic *nic = qp->nic;

	mutex_lock(&nic->ctrl_lock);
	nicsim_engine_reclaim_rx(nic, qp);
	napi_disable(&qp->slot->napi);
	nicsim_complete_all(qp);
	napi_enable(&qp->slot->napi);
	/* an interrupt raised while NAPI was off is not lost */
	local_bh_disable();
	napi_schedule(&qp->slot->napi);
	local_bh_enable();
	mutex_unlock(&nic->ctrl_lock);
}

/* A port changes mode or state: the engine reads both once per frame, so
 * the next frame it switches sees the change.  Passthru is for the life
 * of the queue pair, as for a macvlan.
 */
static int nicsim_set_port(struct vhost_accel_qp *handle, u8 mode,
			   u32 port_flags)
{
	struct nicsim_qp *qp = nicsim_qp(handle);
	bool pt = mode == VHOST_ACCEL_MODE_PASSTHRU;
	bool was_pt = qp->mode == VHOST_ACCEL_MODE_PASSTHRU;

	if (mode > VHOST_ACCEL_MODE_MAX ||
	    port_flags & ~(VHOST_ACCEL_PORT_NO_SPOOFCHK |
			   VHOST_ACCEL_PORT_DOWN) ||
	    pt != was_pt)
		return -EINVAL;
	WRITE_ONCE(qp->mode, mode);
	WRITE_ONCE(qp->port_flags, port_flags);
	netdev_dbg(qp->nic->netdev, "qp %u: mode %u, port flags %#x\n",
		   qp->slot->index, mode, port_flags);
	nicsim_engine_kick(qp->engine);
	return 0;
}

/**
 * nicsim_reset_qps - lose every attached queue pair, as a queue reset would
 * @nic: the NIC
 *
 * Tells each owner through cb->detached; the queue pairs keep working until
 * their owners detach them, which the contract lets them do from process
 * context soon after.  Return: how many were told.
 */
unsigned int nicsim_reset_qps(struct nicsim_nic *nic)
{
	unsigned int i, n = 0;

	mutex_lock(&nic->ctrl_lock);
	for (i = 0; i < nic->max_qps; i++) {
		struct nicsim_qp *qp = nic->slots[i].qp;

		if (!qp)
			continue;
		qp->cb->detached(qp->ctx);
		n++;
	}
	mutex_unlock(&nic->ctrl_lock);
	return n;
}

const struct vhost_accel_nic_ops nicsim_vnic_ops = {
	.attach		= nicsim_attach,
	.detach		= nicsim_detach,
	.xmit		= nicsim_xmit,
	.post_rx	= nicsim_post_rx,
	.reclaim_rx	= nicsim_reclaim_rx,
	.tx_space	= nicsim_tx_space,
	.rx_space	= nicsim_rx_space,
	.get_stats	= nicsim_get_stats,
	.set_port	= nicsim_set_port,
};
