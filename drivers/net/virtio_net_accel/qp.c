// SPDX-License-Identifier: GPL-2.0
/* The NIC contract's queue-pair operations on a virtio-net device.
 *
 * A guest buffer becomes one descriptor chain in the device's virtqueue:
 * the virtio core maps each pinned guest page through the DMA API when it
 * adds the chain and unmaps it when we take the chain back, so the device
 * reads and writes guest memory directly.  Only the device's virtio-net
 * header (and, on Tx, a copy of the Ethernet header, see vna_xmit_one())
 * lives in our own memory.
 *
 * Completions come from the virtqueue callbacks through one NAPI per queue
 * pair, as one tx_done and one rx_done per poll.  Taking buffers back that
 * the device still holds (reclaim_rx, detach) needs a ring reset
 * (VIRTIO_F_RING_RESET), which probe insists on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "virtio_net_accel.h"

#define VNA_TX_ERR_MAX	256	/* failed Tx buffers waiting for a poll */

static inline struct vna_qp *to_vna_qp(struct vhost_accel_qp *qp)
{
	return (struct vna_qp *)qp;
}

static struct vna_qp *vna_vq_qp(struct virtqueue *vq)
{
	struct vna_info *vi = vq->vdev->priv;

	return &vi->qps[vq->index / 2];
}

static bool vna_vq_is_rx(struct virtqueue *vq)
{
	return !(vq->index & 1);
}

/* --- slots ---------------------------------------------------------------- */

static void vna_ring_reset_slots(struct vna_ring *r)
{
	unsigned int i;

	for (i = 0; i < r->size; i++)
		r->free[i] = r->size - 1 - i;
	r->nfree = r->size;
	r->posted = 0;
}

static int vna_ring_init(struct vna_ring *r, struct virtqueue *vq)
{
	r->vq = vq;
	spin_lock_init(&r->lock);
	r->size = virtqueue_get_vring_size(vq);
	r->slots = kvcalloc(r->size, sizeof(*r->slots), GFP_KERNEL);
	r->free = kvcalloc(r->size, sizeof(*r->free), GFP_KERNEL);
	if (!r->slots || !r->free)
		return -ENOMEM;
	vna_ring_reset_slots(r);
	return 0;
}

static void vna_ring_free(struct vna_ring *r)
{
	kvfree(r->slots);
	kvfree(r->free);
}

static struct vna_slot *vna_slot_get(struct vna_ring *r)
{
	if (!r->nfree)
		return NULL;
	return &r->slots[r->free[--r->nfree]];
}

static void vna_slot_put(struct vna_ring *r, struct vna_slot *s)
{
	r->free[r->nfree++] = s - r->slots;
}

/* --- transmit ------------------------------------------------------------- */

/* Which device feature a guest's gso_type needs; 0 if none can carry it. */
static unsigned int vna_gso_feature(u8 gso_type)
{
	switch (gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return VIRTIO_NET_F_HOST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return VIRTIO_NET_F_HOST_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP:
		return VIRTIO_NET_F_HOST_UFO;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return VIRTIO_NET_F_HOST_USO;
	}
	return 0;
}

/* The guest's metadata is untrusted: it reaches the device only if it is
 * consistent and the device negotiated the offload; otherwise the frame
 * fails (the contract: honour it or drop it).
 */
static bool vna_tx_meta_ok(struct vna_info *vi, const struct vhost_accel_buf *b)
{
	const struct vhost_accel_meta *m = &b->meta;
	unsigned int f;

	if (m->flags & VHOST_ACCEL_META_CSUM_PARTIAL) {
		if (!virtio_has_feature(vi->vdev, VIRTIO_NET_F_CSUM) ||
		    (u32)m->csum_start + m->csum_offset + 2 > b->len)
			return false;
	}
	if (m->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	f = vna_gso_feature(m->gso_type);
	if (!f || !virtio_has_feature(vi->vdev, f) || !m->gso_size ||
	    !(m->flags & VHOST_ACCEL_META_CSUM_PARTIAL) || m->hdr_len > b->len)
		return false;
	return !(m->gso_type & VIRTIO_NET_HDR_GSO_ECN) ||
	       virtio_has_feature(vi->vdev, VIRTIO_NET_F_HOST_ECN);
}

static void vna_tx_hdr(struct vna_info *vi, struct virtio_net_hdr *h,
		       const struct vhost_accel_meta *m)
{
	struct virtio_device *vdev = vi->vdev;

	memset(h, 0, vi->hdr_len);
	if (m->flags & VHOST_ACCEL_META_CSUM_PARTIAL) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = cpu_to_virtio16(vdev, m->csum_start);
		h->csum_offset = cpu_to_virtio16(vdev, m->csum_offset);
	}
	h->gso_type = m->gso_type;
	h->hdr_len = cpu_to_virtio16(vdev, m->hdr_len);
	h->gso_size = cpu_to_virtio16(vdev, m->gso_size);
}

/* Copy the frame's Ethernet header into @eth.  The device reads this copy,
 * not the guest's page, so the source address we checked is the one that
 * leaves: the guest cannot rewrite it between the check and the DMA.
 */
static void vna_tx_eth(const struct vhost_accel_buf *b, u8 *eth)
{
	unsigned int i, got = 0, n;

	for (i = 0; i < b->nsegs && got < ETH_HLEN; i++) {
		n = min_t(u32, b->segs[i].len, ETH_HLEN - got);
		memcpy_from_page(eth + got, b->segs[i].page,
				 b->segs[i].offset, n);
		got += n;
	}
}

/* After @n entries of ours, @b's guest pages from byte @skip on: empty
 * pieces need no descriptor.  Returns the entries in @sg, at least one.
 */
static unsigned int vna_sg_guest(struct scatterlist *sg, unsigned int n,
				 const struct vhost_accel_buf *b,
				 unsigned int skip)
{
	unsigned int i, off, len;

	for (i = 0; i < b->nsegs; i++) {
		len = b->segs[i].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		off = skip;
		skip = 0;
		sg_set_page(&sg[n++], b->segs[i].page, len - off,
			    b->segs[i].offset + off);
	}
	sg_mark_end(&sg[n - 1]);
	return n;
}

/* The descriptor chain: our header and Ethernet copy (one descriptor),
 * then the guest's pages from byte ETH_HLEN on.
 */
static unsigned int vna_tx_sg(struct vna_ring *r, struct vna_info *vi,
			      struct vna_slot *s,
			      const struct vhost_accel_buf *b)
{
	struct scatterlist *sg = r->sg;
	unsigned int n = 0;

	sg_init_table(sg, b->nsegs + 1);
	sg_set_buf(&sg[n++], s->head, vi->hdr_len + ETH_HLEN);
	return vna_sg_guest(sg, n, b, ETH_HLEN);
}

/* A Tx buffer that fails: it comes back with the next poll. */
static void vna_tx_fail(struct vna_qp *qp, const struct vhost_accel_buf *b,
			bool spoofed)
{
	struct vhost_accel_completion *c = &qp->tx_err[qp->ntx_err++];

	c->cookie = b->cookie;
	c->len = 0;
	c->flags = VHOST_ACCEL_COMP_ERROR;
	qp->stats.tx_dropped++;
	if (spoofed)
		qp->stats.tx_dropped_spoofed++;
}

/* One buffer; false if the device's ring is full. tx.lock held. */
static bool vna_xmit_one(struct vna_qp *qp, const struct vhost_accel_buf *b)
{
	struct vna_info *vi = qp->vi;
	struct vna_ring *r = &qp->tx;
	struct vna_slot *s;
	unsigned int nsg;
	bool spoofed;
	u8 *eth;

	if (b->len < ETH_HLEN || !b->nsegs || b->nsegs > VNA_MAX_SEGS ||
	    (qp->port_flags & VHOST_ACCEL_PORT_DOWN) ||
	    !vna_tx_meta_ok(vi, b)) {
		vna_tx_fail(qp, b, false);
		return true;
	}
	s = vna_slot_get(r);
	if (!s)
		return false;
	eth = s->head + vi->hdr_len;
	vna_tx_eth(b, eth);
	spoofed = !(qp->port_flags & VHOST_ACCEL_PORT_NO_SPOOFCHK) &&
		  !ether_addr_equal(eth + ETH_ALEN, vi->lent_mac);
	if (spoofed) {
		vna_slot_put(r, s);
		vna_tx_fail(qp, b, true);
		return true;
	}
	vna_tx_hdr(vi, (struct virtio_net_hdr *)s->head, &b->meta);
	nsg = vna_tx_sg(r, vi, s, b);
	if (virtqueue_add_outbuf(r->vq, r->sg, nsg, s, GFP_ATOMIC)) {
		vna_slot_put(r, s);
		return false;
	}
	s->cookie = b->cookie;
	s->len = b->len;
	r->posted++;
	qp->stats.tx_packets++;
	qp->stats.tx_bytes += b->len;
	return true;
}

static unsigned int vna_xmit(struct vhost_accel_qp *vqp,
			     const struct vhost_accel_buf *bufs, unsigned int n)
{
	struct vna_qp *qp = to_vna_qp(vqp);
	struct vna_ring *r = &qp->tx;
	unsigned int i, posted, errs;
	bool kick;

	spin_lock_bh(&r->lock);
	posted = r->posted;
	errs = qp->ntx_err;
	for (i = 0; i < n && !qp->gone && qp->ntx_err < VNA_TX_ERR_MAX; i++)
		if (!vna_xmit_one(qp, &bufs[i]))
			break;
	kick = r->posted != posted && virtqueue_kick_prepare(r->vq);
	errs = qp->ntx_err != errs;
	spin_unlock_bh(&r->lock);
	if (kick)
		virtqueue_notify(r->vq);
	if (errs) {
		local_bh_disable();
		napi_schedule(&qp->napi);
		local_bh_enable();
	}
	return i;
}

/* tx.lock held; completions into qp->tx_comp. */
static unsigned int vna_tx_reap(struct vna_qp *qp)
{
	struct vna_ring *r = &qp->tx;
	struct vhost_accel_completion *c;
	unsigned int n = 0, len;
	struct vna_slot *s;

	while ((s = virtqueue_get_buf(r->vq, &len))) {
		c = &qp->tx_comp[n++];
		c->cookie = s->cookie;
		c->len = 0;
		c->flags = 0;
		vna_slot_put(r, s);
		r->posted--;
	}
	memcpy(&qp->tx_comp[n], qp->tx_err, qp->ntx_err * sizeof(*c));
	n += qp->ntx_err;
	qp->ntx_err = 0;
	return n;
}

static void vna_tx_complete(struct vna_qp *qp)
{
	unsigned int n;

	spin_lock(&qp->tx.lock);
	n = vna_tx_reap(qp);
	spin_unlock(&qp->tx.lock);
	if (n)
		qp->cb->tx_done(qp->ctx, qp->tx_comp, n);
}

/* --- receive -------------------------------------------------------------- */

/* The chain for one Rx buffer.  With the header in the guest's headroom
 * the buffer goes as it is; otherwise our header comes first and the
 * guest's segments follow from @headroom on, so the device never writes
 * the headroom (which may be smaller than its header).
 */
static unsigned int vna_rx_sg(struct vna_qp *qp, struct vna_slot *s,
			      const struct vhost_accel_buf *b)
{
	struct scatterlist *sg = qp->rx.sg;
	unsigned int n = 0, skip = 0;

	sg_init_table(sg, b->nsegs + 1);
	if (!qp->hdr_in_guest) {
		sg_set_buf(&sg[n++], s->head, qp->vi->hdr_len);
		skip = qp->headroom;
	}
	return vna_sg_guest(sg, n, b, skip);
}

/* Can the device use @b?  A buffer it cannot is refused, not skipped. */
static bool vna_rx_usable(struct vna_qp *qp, const struct vhost_accel_buf *b)
{
	if (!b->nsegs || b->nsegs > VNA_MAX_SEGS || b->len < qp->rx_min)
		return false;
	return !qp->hdr_in_guest || b->segs[0].len >= qp->vi->hdr_len;
}

static unsigned int vna_post_rx(struct vhost_accel_qp *vqp,
				const struct vhost_accel_buf *bufs,
				unsigned int n)
{
	struct vna_qp *qp = to_vna_qp(vqp);
	struct vna_ring *r = &qp->rx;
	const struct vhost_accel_buf *b;
	struct vna_slot *s;
	unsigned int i, nsg;
	bool kick;

	spin_lock_bh(&r->lock);
	for (i = 0; i < n && !qp->gone; i++) {
		b = &bufs[i];
		if (!vna_rx_usable(qp, b))
			break;
		s = vna_slot_get(r);
		if (!s)
			break;
		nsg = vna_rx_sg(qp, s, b);
		if (virtqueue_add_inbuf(r->vq, r->sg, nsg, s, GFP_ATOMIC)) {
			vna_slot_put(r, s);
			break;
		}
		s->cookie = b->cookie;
		s->len = b->len;
		s->hdr_page = b->segs[0].page;
		s->hdr_off = b->segs[0].offset;
		r->posted++;
	}
	if (i)
		qp->depleted = false;
	kick = i && virtqueue_kick_prepare(r->vq);
	spin_unlock_bh(&r->lock);
	if (kick)
		virtqueue_notify(r->vq);
	return i;
}

/* The device's header of a frame's first buffer: ours, or the guest's. */
static void vna_rx_read_hdr(struct vna_qp *qp, struct vna_slot *s,
			    struct virtio_net_hdr_mrg_rxbuf *h)
{
	unsigned int len = qp->vi->hdr_len;

	if (!qp->hdr_in_guest) {
		memcpy(h, s->head, len);
		return;
	}
	memcpy_from_page((char *)h, s->hdr_page, s->hdr_off, len);
}

/* The first buffer of a frame: how many buffers it has, its metadata. */
static void vna_rx_first(struct vna_qp *qp, struct vna_slot *s,
			 unsigned int len, struct vhost_accel_completion *c)
{
	struct vna_info *vi = qp->vi;
	struct virtio_net_hdr_mrg_rxbuf h = {};
	unsigned int nbufs = 1;

	vna_rx_read_hdr(qp, s, &h);
	if (vi->mrg_rxbuf)
		nbufs = max_t(u16, virtio16_to_cpu(vi->vdev, h.num_buffers), 1);
	/* The frame as vhost sees it: headroom, then the frame's bytes.  Our
	 * header may be longer than the guest's headroom (12 and 10 bytes):
	 * the frame's part is what fits after the headroom.
	 */
	if (qp->hdr_in_guest)
		c->len = min(len, s->len);
	else
		c->len = qp->headroom +
			 min(len > vi->hdr_len ? len - vi->hdr_len : 0,
			     s->len - qp->headroom);
	/* no Rx checksum or GSO offload is negotiated: nothing to report */
	if (nbufs > 1 && !(qp->flags & VHOST_ACCEL_ATTACH_RX_MERGE)) {
		/* Only if a frame outgrew rx_min: each buffer goes back as
		 * an empty frame (the guest drops it as a runt).
		 */
		qp->stats.rx_dropped_too_big++;
		c->len = qp->headroom;
	}
	qp->rx_frame_left = nbufs;
}

/* One buffer back from the device; rx.lock held. */
static void vna_rx_one(struct vna_qp *qp, struct vna_slot *s,
		       unsigned int len)
{
	struct vhost_accel_completion *c = &qp->rx_comp[qp->nrx_comp++];
	bool first = !qp->rx_frame_left;

	memset(c, 0, sizeof(*c));
	c->cookie = s->cookie;
	if (first)
		vna_rx_first(qp, s, len, c);
	else if (qp->flags & VHOST_ACCEL_ATTACH_RX_MERGE)
		c->len = min(len, s->len);
	else
		c->len = qp->headroom;
	if (--qp->rx_frame_left == 0 ||
	    !(qp->flags & VHOST_ACCEL_ATTACH_RX_MERGE)) {
		c->flags |= VHOST_ACCEL_COMP_EOP;
		qp->rx_carry = 0;
	} else {
		qp->rx_carry++;
	}
	if (first)
		qp->stats.rx_packets++;
	qp->stats.rx_bytes += c->len - (first ? min(c->len, qp->headroom) : 0);
	vna_slot_put(&qp->rx, s);
	qp->rx.posted--;
}

/* Reap up to @budget frames; rx.lock held.  Returns frames completed. */
static unsigned int vna_rx_reap(struct vna_qp *qp, unsigned int budget)
{
	unsigned int frames = 0, len;
	struct vna_slot *s;

	while (frames < budget || qp->rx_frame_left) {
		s = virtqueue_get_buf(qp->rx.vq, &len);
		if (!s)
			break;
		vna_rx_one(qp, s, len);
		if (!qp->rx_frame_left)
			frames++;
	}
	return frames;
}

/* Hand vhost the whole frames gathered; keep an open frame's buffers. */
static void vna_rx_flush(struct vna_qp *qp)
{
	unsigned int n = qp->nrx_comp - qp->rx_carry;

	if (!n)
		return;
	qp->cb->rx_done(qp->ctx, qp->rx_comp, n);
	memmove(qp->rx_comp, &qp->rx_comp[n],
		qp->rx_carry * sizeof(*qp->rx_comp));
	qp->nrx_comp = qp->rx_carry;
}

static unsigned int vna_rx_complete(struct vna_qp *qp, unsigned int budget)
{
	bool depleted = false;
	unsigned int frames;

	spin_lock(&qp->rx.lock);
	frames = vna_rx_reap(qp, budget);
	if (!qp->rx.posted && !qp->depleted) {
		qp->depleted = true;
		qp->stats.rx_depleted++;
		depleted = true;
	}
	spin_unlock(&qp->rx.lock);
	vna_rx_flush(qp);
	if (depleted && qp->cb->rx_depleted)
		qp->cb->rx_depleted(qp->ctx);
	return frames;
}

/* --- NAPI and the virtqueue callbacks ------------------------------------- */

void vna_vq_done(struct virtqueue *vq)
{
	struct vna_qp *qp = vna_vq_qp(vq);

	virtqueue_disable_cb(vq);
	napi_schedule(&qp->napi);
}

/* Interrupts back on; false if work arrived meanwhile. */
static bool vna_enable_cbs(struct vna_qp *qp)
{
	bool idle;

	/* Tx completions can wait until most of the ring is done */
	spin_lock(&qp->tx.lock);
	idle = virtqueue_enable_cb_delayed(qp->tx.vq) && !qp->ntx_err;
	spin_unlock(&qp->tx.lock);
	spin_lock(&qp->rx.lock);
	idle &= virtqueue_enable_cb(qp->rx.vq);
	spin_unlock(&qp->rx.lock);
	return idle;
}

static int vna_poll(struct napi_struct *napi, int budget)
{
	struct vna_qp *qp = container_of(napi, struct vna_qp, napi);
	unsigned int done;

	/* netpoll: the contract allows no callback here */
	if (!budget)
		return 0;
	vna_tx_complete(qp);
	done = vna_rx_complete(qp, budget);
	if (done < budget && napi_complete_done(napi, done) &&
	    !vna_enable_cbs(qp))
		napi_schedule(napi);
	return done;
}

/* --- taking buffers back: ring resets ------------------------------------ */

/* virtqueue_reset()'s callback for each buffer the device still held. */
static void vna_recycle(struct virtqueue *vq, void *buf)
{
	struct vna_qp *qp = vna_vq_qp(vq);
	struct vna_slot *s = buf;
	struct vhost_accel_completion *c;

	if (vna_vq_is_rx(vq)) {
		c = &qp->rx_comp[qp->nrx_comp++];
		c->flags = 0;
	} else {
		c = &qp->tx_comp[qp->ntx_comp++];
		c->flags = VHOST_ACCEL_COMP_ERROR;
	}
	c->cookie = s->cookie;
	c->len = 0;
	memset(&c->meta, 0, sizeof(c->meta));
}

/* The device gives back what it holds on @r.  NAPI is disabled and
 * nothing adds to @r: the reset sleeps, so no ring lock is held.  On a
 * failed reset the buffers would stay with the device: reset it whole so
 * they are ours again, and say so (the device needs a rebind).
 */
static void vna_ring_take_back(struct vna_qp *qp, struct vna_ring *r)
{
	void *buf;
	int err;

	err = virtqueue_reset(r->vq, vna_recycle, NULL);
	if (err) {
		dev_err(&qp->vi->vdev->dev,
			"queue %u: ring reset failed (%d): device reset, rebind it\n",
			r->vq->index, err);
		qp->vi->broken = true;
		virtio_reset_device(qp->vi->vdev);
		while ((buf = virtqueue_detach_unused_buf(r->vq)))
			vna_recycle(r->vq, buf);
	}
	vna_ring_reset_slots(r);
}

/* Every Rx buffer back to vhost: filled ones, then unused ones. */
static void vna_rx_take_back(struct vna_qp *qp)
{
	spin_lock_bh(&qp->rx.lock);
	vna_rx_reap(qp, UINT_MAX);
	spin_unlock_bh(&qp->rx.lock);
	/* A frame the device never finished goes as it is, without EOP:
	 * the unused buffers after it tell vhost it was cut short.
	 */
	qp->rx_carry = 0;
	qp->rx_frame_left = 0;
	vna_rx_flush(qp);
	vna_ring_take_back(qp, &qp->rx);
	qp->depleted = false;
	vna_rx_flush(qp);
}

/* Every Tx buffer back to vhost: sent ones, then the unsent as failed. */
static void vna_tx_take_back(struct vna_qp *qp)
{
	spin_lock_bh(&qp->tx.lock);
	qp->ntx_comp = vna_tx_reap(qp);
	spin_unlock_bh(&qp->tx.lock);
	vna_ring_take_back(qp, &qp->tx);
	if (qp->ntx_comp)
		qp->cb->tx_done(qp->ctx, qp->tx_comp, qp->ntx_comp);
	qp->ntx_comp = 0;
}

static void vna_napi_restart(struct vna_qp *qp)
{
	napi_enable(&qp->napi);
	local_bh_disable();
	napi_schedule(&qp->napi);
	local_bh_enable();
}

static void vna_reclaim_rx(struct vhost_accel_qp *vqp)
{
	struct vna_qp *qp = to_vna_qp(vqp);

	napi_disable(&qp->napi);
	vna_rx_take_back(qp);
	vna_napi_restart(qp);
}

static void vna_add_stats(struct vhost_accel_qp_stats *sum,
			  const struct vhost_accel_qp_stats *s)
{
	sum->tx_packets += s->tx_packets;
	sum->tx_bytes += s->tx_bytes;
	sum->tx_dropped += s->tx_dropped;
	sum->rx_packets += s->rx_packets;
	sum->rx_bytes += s->rx_bytes;
	sum->rx_dropped_no_buf += s->rx_dropped_no_buf;
	sum->rx_dropped_too_big += s->rx_dropped_too_big;
}

/* --- lending: the device's filter --------------------------------------- */

/* Is a lent queue pair's port down?  Then the device takes no frame. */
static bool vna_rx_closed(struct vna_info *vi)
{
	unsigned int i;

	for (i = 0; i < vi->max_qps; i++)
		if (vi->qps[i].lent &&
		    (vi->qps[i].port_flags & VHOST_ACCEL_PORT_DOWN))
			return true;
	return false;
}

static int vna_filter_close(struct vna_info *vi, bool closed)
{
	int err;

	err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_NOUNI, closed);
	if (!err)
		err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_NOMULTI, closed);
	if (!err)
		err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_NOBCAST, closed);
	return err;
}

/* The device takes the guest's frames: its MAC, broadcast, multicast. */
static int vna_filter_lend(struct vna_info *vi, const u8 *mac)
{
	int err;

	err = vna_ctrl_set_mac(vi, mac);
	if (!err)
		err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_PROMISC, false);
	if (!err)
		err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_ALLMULTI, true);
	if (!err)
		err = vna_ctrl_clear_mac_table(vi);
	return err;
}

/* Back to the device's own address, no multicast, nothing closed. */
static void vna_filter_return(struct vna_info *vi)
{
	int err;

	err = vna_ctrl_set_mac(vi, vi->netdev->dev_addr);
	if (!err)
		err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_ALLMULTI, false);
	if (!err)
		err = vna_filter_close(vi, false);
	if (err)
		dev_warn(&vi->vdev->dev, "device filter not restored (%d)\n",
			 err);
}

/* Queue pairs the device must spread frames over: up to the last lent. */
static unsigned int vna_qps_in_use(struct vna_info *vi)
{
	unsigned int i, n = 1;

	for (i = 0; i < vi->max_qps; i++)
		if (vi->qps[i].lent)
			n = i + 1;
	return n;
}

/* --- lending: attach, detach, port state ---------------------------------- */

static struct vna_qp *vna_qp_pick(struct vna_info *vi)
{
	unsigned int i;

	for (i = 0; i < vi->max_qps; i++)
		if (!vi->qps[i].lent)
			return &vi->qps[i];
	return NULL;
}

static void vna_qp_setup(struct vna_qp *qp, const struct vhost_accel_attach *a)
{
	struct vna_info *vi = qp->vi;

	qp->cb = a->cb;
	qp->ctx = a->ctx;
	qp->flags = a->flags;
	qp->headroom = a->rx_headroom;
	qp->mode = a->mode;
	qp->port_flags = a->port_flags;
	/* the device's header lands where the guest's goes */
	qp->hdr_in_guest = vi->mrg_rxbuf &&
			   (a->flags & VHOST_ACCEL_ATTACH_RX_MERGE) &&
			   a->rx_headroom == vi->hdr_len;
	/* otherwise a frame must fit one buffer: the device never merges */
	qp->rx_min = qp->hdr_in_guest ? vi->hdr_len + 1 :
		     a->rx_headroom + vi->netdev->mtu + ETH_HLEN + VLAN_HLEN;
	qp->gone = false;
	qp->depleted = false;
	qp->ntx_err = 0;
	qp->nrx_comp = 0;
	qp->rx_carry = 0;
	qp->rx_frame_left = 0;
	memset(&qp->stats, 0, sizeof(qp->stats));
}

static void vna_qp_start(struct vna_qp *qp)
{
	napi_enable(&qp->napi);
	local_bh_disable();
	if (!vna_enable_cbs(qp))
		napi_schedule(&qp->napi);
	local_bh_enable();
}

static struct vna_qp *vna_attach_locked(struct vna_info *vi,
					const struct vhost_accel_attach *a)
{
	struct net_device *netdev = vi->netdev;
	struct vna_qp *qp;
	int err;

	if (vi->removing || vi->broken)
		return ERR_PTR(-ENODEV);
	if (!netif_running(netdev) || !netif_carrier_ok(netdev))
		return ERR_PTR(-ENETDOWN);
	if (a->mode != VHOST_ACCEL_MODE_PASSTHRU &&
	    ether_addr_equal(a->mac, netdev->dev_addr))
		return ERR_PTR(-EADDRINUSE);
	/* one guest MAC at a time: the device has one filter, no steering */
	if (vi->nlent && !ether_addr_equal(a->mac, vi->lent_mac))
		return ERR_PTR(-EBUSY);
	qp = vna_qp_pick(vi);
	if (!qp)
		return ERR_PTR(-EBUSY);
	if (!vi->nlent) {
		err = vna_filter_lend(vi, a->mac);
		if (err)
			goto err_filter;
		ether_addr_copy(vi->lent_mac, a->mac);
	}
	vna_qp_setup(qp, a);
	qp->lent = true;
	vi->nlent++;
	err = vna_ctrl_set_queue_pairs(vi, vna_qps_in_use(vi));
	if (!err)
		err = vna_filter_close(vi, vna_rx_closed(vi));
	if (err)
		goto err_lent;
	vna_qp_start(qp);
	return qp;

err_lent:
	qp->lent = false;
	if (--vi->nlent)
		return ERR_PTR(-EIO);
err_filter:
	dev_warn(&vi->vdev->dev, "control command failed (%d): not lent\n",
		 err);
	vna_filter_return(vi);
	return ERR_PTR(-EIO);
}

static struct vhost_accel_qp *vna_attach(struct net_device *netdev,
					 const struct vhost_accel_attach *a)
{
	struct vna_info *vi = netdev_priv(netdev);
	struct vna_qp *qp;
	int err;

	err = vhost_accel_attach_valid(a, VNA_MAX_HEADROOM);
	if (err)
		return ERR_PTR(err);
	mutex_lock(&vi->lend_lock);
	qp = vna_attach_locked(vi, a);
	mutex_unlock(&vi->lend_lock);
	if (IS_ERR(qp))
		return ERR_CAST(qp);
	return (struct vhost_accel_qp *)qp;
}

static void vna_detach(struct vhost_accel_qp *vqp)
{
	struct vna_qp *qp = to_vna_qp(vqp);
	struct vna_info *vi = qp->vi;

	mutex_lock(&vi->lend_lock);
	napi_disable(&qp->napi);
	vna_tx_take_back(qp);
	vna_rx_take_back(qp);
	spin_lock_bh(&vi->stats_lock);
	vna_add_stats(&vi->returned, &qp->stats);
	qp->lent = false;
	spin_unlock_bh(&vi->stats_lock);
	vi->nlent--;
	if (!vi->removing && !vi->broken) {
		if (!vi->nlent)
			vna_filter_return(vi);
		else
			vna_filter_close(vi, vna_rx_closed(vi));
		vna_ctrl_set_queue_pairs(vi, vna_qps_in_use(vi));
	}
	mutex_unlock(&vi->lend_lock);
}

static int vna_set_port(struct vhost_accel_qp *vqp, u8 mode, u32 port_flags)
{
	struct vna_qp *qp = to_vna_qp(vqp);
	struct vna_info *vi = qp->vi;
	int err;

	if (mode > VHOST_ACCEL_MODE_MAX ||
	    port_flags & ~(VHOST_ACCEL_PORT_NO_SPOOFCHK |
			   VHOST_ACCEL_PORT_DOWN))
		return -EINVAL;
	/* a passthru port is the device's only one: no way in or out */
	if (mode != qp->mode && (mode == VHOST_ACCEL_MODE_PASSTHRU ||
				 qp->mode == VHOST_ACCEL_MODE_PASSTHRU))
		return -EINVAL;
	mutex_lock(&vi->lend_lock);
	spin_lock_bh(&qp->tx.lock);
	qp->mode = mode;
	qp->port_flags = port_flags;
	spin_unlock_bh(&qp->tx.lock);
	err = vna_filter_close(vi, vna_rx_closed(vi));
	mutex_unlock(&vi->lend_lock);
	return err;
}

static unsigned int vna_tx_space(struct vhost_accel_qp *vqp)
{
	return READ_ONCE(to_vna_qp(vqp)->tx.nfree);
}

static unsigned int vna_rx_space(struct vhost_accel_qp *vqp)
{
	return READ_ONCE(to_vna_qp(vqp)->rx.nfree);
}

static void vna_get_stats(struct vhost_accel_qp *vqp,
			  struct vhost_accel_qp_stats *stats)
{
	*stats = to_vna_qp(vqp)->stats;
}

const struct vhost_accel_nic_ops vna_nic_ops = {
	.attach = vna_attach,
	.detach = vna_detach,
	.xmit = vna_xmit,
	.post_rx = vna_post_rx,
	.reclaim_rx = vna_reclaim_rx,
	.tx_space = vna_tx_space,
	.rx_space = vna_rx_space,
	.get_stats = vna_get_stats,
	.set_port = vna_set_port,
};

/* The device lost its lent queue pairs (it asked for a reset, or the
 * debugfs knob says so): they take no more buffers, and vhost detaches
 * them from a work item, as the contract's detached() says.
 */
void vna_reset_lent(struct vna_info *vi)
{
	struct vna_qp *qp;
	unsigned int i;

	mutex_lock(&vi->lend_lock);
	for (i = 0; i < vi->max_qps && !vi->removing; i++) {
		qp = &vi->qps[i];
		if (!qp->lent || qp->gone)
			continue;
		spin_lock_bh(&qp->tx.lock);
		qp->gone = true;
		spin_unlock_bh(&qp->tx.lock);
		spin_lock_bh(&qp->rx.lock);
		qp->gone = true;
		spin_unlock_bh(&qp->rx.lock);
		if (qp->cb->detached)
			qp->cb->detached(qp->ctx);
	}
	mutex_unlock(&vi->lend_lock);
}

/* What the device moved for guests since probe, for the netdev's
 * counters: the queue pairs lent now, and those given back before.
 */
void vna_sum_stats(struct vna_info *vi, struct vhost_accel_qp_stats *sum)
{
	unsigned int i;

	spin_lock_bh(&vi->stats_lock);
	*sum = vi->returned;
	for (i = 0; i < vi->max_qps; i++)
		if (READ_ONCE(vi->qps[i].lent))
			vna_add_stats(sum, &vi->qps[i].stats);
	spin_unlock_bh(&vi->stats_lock);
}

/* --- setup ---------------------------------------------------------------- */

static int vna_qp_init(struct vna_qp *qp, struct virtqueue *rx,
		       struct virtqueue *tx)
{
	int err;

	err = vna_ring_init(&qp->rx, rx);
	if (!err)
		err = vna_ring_init(&qp->tx, tx);
	if (err)
		return err;
	qp->tx_err = kcalloc(VNA_TX_ERR_MAX, sizeof(*qp->tx_err), GFP_KERNEL);
	qp->tx_comp = kvcalloc(qp->tx.size + VNA_TX_ERR_MAX,
			       sizeof(*qp->tx_comp), GFP_KERNEL);
	qp->rx_comp = kvcalloc(qp->rx.size, sizeof(*qp->rx_comp), GFP_KERNEL);
	if (!qp->tx_err || !qp->tx_comp || !qp->rx_comp)
		return -ENOMEM;
	/* NAPI stays disabled until the queue pair is lent */
	netif_napi_add(qp->vi->netdev, &qp->napi, vna_poll);
	qp->napi_added = true;
	return 0;
}

/* Rx and Tx virtqueues come in pairs: rx0, tx0, rx1, tx1, ... */
int vna_qps_init(struct vna_info *vi, struct virtqueue **vqs)
{
	unsigned int i;
	int err;

	vi->qps = kcalloc(vi->max_qps, sizeof(*vi->qps), GFP_KERNEL);
	if (!vi->qps)
		return -ENOMEM;
	for (i = 0; i < vi->max_qps; i++) {
		vi->qps[i].vi = vi;
		vi->qps[i].index = i;
		err = vna_qp_init(&vi->qps[i], vqs[2 * i], vqs[2 * i + 1]);
		if (err)
			return err;	/* vna_qps_free() undoes the rest */
	}
	return 0;
}

void vna_qps_free(struct vna_info *vi)
{
	struct vna_qp *qp;
	unsigned int i;

	for (i = 0; vi->qps && i < vi->max_qps; i++) {
		qp = &vi->qps[i];
		if (qp->napi_added)
			netif_napi_del(&qp->napi);
		vna_ring_free(&qp->rx);
		vna_ring_free(&qp->tx);
		kfree(qp->tx_err);
		kvfree(qp->tx_comp);
		kvfree(qp->rx_comp);
	}
	kfree(vi->qps);
	vi->qps = NULL;
}
