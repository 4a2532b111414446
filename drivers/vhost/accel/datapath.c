// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel datapath: guest virtqueue buffers to and from a NIC queue
 * pair, without copying payload.
 *
 * TX: the worker takes the guest's transmit chains, turns the virtio-net
 * header into offload metadata, and hands the rest of each chain to the
 * driver's xmit op as pinned guest pages.  A chain goes back to the guest
 * (used ring) only when the NIC completes it; when the NIC ring is full the
 * worker stops pulling, so the guest sees a full ring.
 *
 * RX: the worker posts the guest's empty receive chains to the NIC; the NIC
 * writes frames straight into them, leaving room for the virtio-net header
 * in each frame's first buffer; on completion the worker writes the header
 * (num_buffers, checksum and GSO fields) and the used entries.  With
 * VHOST_F_LOG_ALL (live migration) the pages of the bytes written, by the
 * NIC and by us, are marked in the dirty log then: the guest-physical
 * ranges of every posted chain are kept for that until it completes.
 *
 * Completions arrive from the driver in softirq context; they are queued
 * in a small FIFO per virtqueue and the worker is woken once per batch.
 * Through a macvtap, the worker also counts each batch on the macvtap's
 * netdev, as the macvtap counts what passes through it (dp_tap_count()).
 * The pump and the reaping run in the worker with vq->mutex held; starting
 * and stopping a queue (VHOST_NET_SET_BACKEND, a memory table swap) run in
 * the owner's ioctl, on a binding made by nic.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/if_macvlan.h>
#include <linux/if_vlan.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_net.h>
#include <linux/vhost_accel_nic.h>

#include "accel.h"

/* The budget-yield tracepoint; backpressure.c creates them. */
#include "trace.h"

/* Chains gathered per call into the driver. */
#define DP_BATCH		64
/* Completions popped at a time. */
#define DP_POP			16

/* Guest chains longer than this are given back unsent (drops_too_big). */
#define VHOST_ACCEL_MAX_SEGS	64
/* How long stopping a queue waits for the NIC to return its buffers. */
#define VHOST_ACCEL_STOP_TIMEOUT	(5 * HZ)

/* Most bytes of a virtio-net header (struct virtio_net_hdr_mrg_rxbuf). */
#define VHOST_ACCEL_VNET_HDR_MAX	12

/* Completions from the NIC, queued in softirq, consumed by the worker. */
struct vhost_accel_comp_fifo {
	spinlock_t lock;
	unsigned int head;		/* next to consume */
	unsigned int tail;		/* next to fill */
	unsigned int mask;		/* capacity - 1 (a power of two) */
	struct vhost_accel_completion *ents;
};

/* Where a posted Rx chain's virtio-net header goes (up to 12 pieces). */
struct vhost_accel_rx_head {
	u8 npieces;
	u32 nranges;			/* its vhost_accel_log_range entries */
	struct vhost_accel_seg hdr[VHOST_ACCEL_VNET_HDR_MAX];
};

/* A guest-physical range of a posted Rx chain, for dirty logging. */
struct vhost_accel_log_range {
	u64 gpa;
	u32 len;
};

/*
 * A queue's datapath state, vq->dp: allocated by a successful start and
 * freed once the NIC returned every buffer (vhost_accel_dp_release()), so
 * vq->dp is non-NULL exactly while the datapath runs or drains.  Used by
 * the worker under vq->mutex; @comp also by the NIC's callbacks.
 */
struct vhost_accel_dp {
	/* The table the NIC's buffers come from: held until they are back. */
	struct vhost_accel_mem *mem;
	struct vhost_accel_comp_fifo comp;
	unsigned int vnet_hdr_len;
	bool backend_merge;			/* RX: frames span buffers */
	unsigned int max_segs;			/* per chain */
	unsigned int inflight;			/* buffers the NIC holds */
	struct vhost_accel_seg *segs;		/* batch storage */
	u64 *gpas;
	struct vhost_accel_buf *bufs;
	struct vring_used_elem *used;		/* TX: used entries not yet */
	unsigned int used_n;			/*     published: dp_publish() */
	struct vhost_accel_rx_head *rx_heads;	/* RX: per head, num entries */
	struct vring_used_elem *rx_frame;	/* RX: buffers of the frame */
	unsigned int rx_frame_n;		/*     being assembled, */
	u64 *rx_frame_seq;			/*     their seq */
	u64 seq;			/* chains taken (less ungot) since start */
	u64 floor;			/* no unget below: see rx_give_back() */
	struct vhost_accel_meta rx_meta;
	/* RX: the ranges of each posted chain, max_segs per head. */
	struct vhost_accel_log_range *rx_log;
	/* The binding it started on: outlives it (freed under b->lock). */
	struct vhost_accel_binding *b;
	u32 *tx_len;			/* TX: frame bytes, per head */
	bool rx_nobuf_sync;		/* RX: read the NIC's drops next run */
};

/* What one batch adds to the counters of the binding's macvtap. */
struct dp_tap_counts {
	u64 packets;
	u64 bytes;
	u32 dropped;
};

/*
 * Count a batch on the macvtap the binding was made through, where the
 * macvtap counts the same traffic when it passes through it: the guest's
 * Tx as its transmit (tx_packets, tx_bytes; a frame the NIC failed in
 * tx_dropped), the guest's Rx as its receive (rx_packets, rx_bytes; a
 * frame lost for want of a guest buffer in rx_errors, which it reports as
 * rx_dropped too).  Multicast frames are not told apart (rx_multicast).
 * Lock-free but for RCU; see nic.c for the macvtap's lifetime.
 */
static void tap_count(struct vhost_accel_binding *b, bool tx,
		      const struct dp_tap_counts *n)
{
	struct vlan_pcpu_stats *ps;
	const struct macvlan_dev *vlan;
	struct net_device *tap;

	if (!n->packets && !n->dropped)
		return;
	rcu_read_lock();
	tap = rcu_dereference(b->stats_tap);
	if (!tap || READ_ONCE(tap->reg_state) != NETREG_REGISTERED)
		goto out;
	vlan = netdev_priv(tap);
	/* the macvtap's own updates run in softirq on this CPU */
	local_bh_disable();
	ps = this_cpu_ptr(vlan->pcpu_stats);
	u64_stats_update_begin(&ps->syncp);
	u64_stats_add(tx ? &ps->tx_packets : &ps->rx_packets, n->packets);
	u64_stats_add(tx ? &ps->tx_bytes : &ps->rx_bytes, n->bytes);
	u64_stats_update_end(&ps->syncp);
	if (tx)
		this_cpu_add(vlan->pcpu_stats->tx_dropped, n->dropped);
	else
		this_cpu_add(vlan->pcpu_stats->rx_errors, n->dropped);
	local_bh_enable();
out:
	rcu_read_unlock();
}

static void dp_tap_count(struct vhost_accel_vq *vq,
			 const struct dp_tap_counts *n)
{
	tap_count(vq->dp->b, vq->index == VHOST_ACCEL_VQ_TX, n);
}

/**
 * vhost_accel_tap_count_nobuf - count the Rx frames the NIC dropped for
 *	want of a guest buffer since the last call on the binding's macvtap
 * @b: the binding, its queue pair attached
 *
 * Called by the Rx queue's worker (vq->mutex) while the datapath runs on
 * @b, and with b->lock and vq->mutex before the queue pair is detached:
 * every drop the NIC counts on the queue pair is counted once.
 */
void vhost_accel_tap_count_nobuf(struct vhost_accel_binding *b)
{
	struct vhost_accel_qp_stats qs = {};
	struct dp_tap_counts tc = {};

	if (!b->qp || !b->nic->ops->get_stats)
		return;
	b->nic->ops->get_stats(b->qp, &qs);
	tc.dropped = qs.rx_dropped_no_buf - b->rx_nobuf_counted;
	b->rx_nobuf_counted = qs.rx_dropped_no_buf;
	tap_count(b, false, &tc);
}

/*
 * A buffer's cookie: the chain's head and its place in the sequence of
 * chains taken (dp->seq when it was taken), 48 bits that never wrap.
 */
static u64 dp_cookie(u16 head, u64 seq)
{
	return head | seq << 16;
}

static u16 dp_cookie_head(u64 cookie)
{
	return cookie & 0xffff;
}

static u64 dp_cookie_seq(u64 cookie)
{
	return cookie >> 16;
}

/* Give the last @n chains taken back to the avail ring. */
static void dp_unget(struct vhost_accel_vq *vq, unsigned int n)
{
	vhost_accel_ring_unget(vq, n);
	vq->dp->seq -= n;
}

static void dp_destroy(struct vhost_accel_dp *dp)
{
	kvfree(dp->comp.ents);
	kvfree(dp->segs);
	kvfree(dp->gpas);
	kfree(dp->bufs);
	kvfree(dp->used);
	kvfree(dp->rx_heads);
	kvfree(dp->rx_frame);
	kvfree(dp->rx_frame_seq);
	kvfree(dp->rx_log);
	kvfree(dp->tx_len);
	kfree(dp);
}

/*
 * A stopped queue's datapath state, sized by its ring and by the segments
 * the NIC scatters, for vq->dp; vq->mutex held.
 */
static int vhost_accel_dp_alloc(struct vhost_accel_vq *vq,
				unsigned int max_segs)
{
	/* sized by the owner's ring: charged to the owner's memory cgroup */
	const gfp_t gfp = GFP_KERNEL_ACCOUNT;
	unsigned int num = vq->num;
	struct vhost_accel_dp *dp;

	dp = kzalloc(sizeof(*dp), gfp);
	if (!dp)
		return -ENOMEM;
	dp->max_segs = max_segs;
	dp->comp.ents = kvcalloc(num, sizeof(*dp->comp.ents), gfp);
	dp->segs = kvcalloc(DP_BATCH * max_segs, sizeof(*dp->segs), gfp);
	dp->gpas = kvcalloc(DP_BATCH * max_segs, sizeof(*dp->gpas), gfp);
	dp->bufs = kcalloc(DP_BATCH, sizeof(*dp->bufs), gfp);
	if (vq->index == VHOST_ACCEL_VQ_RX) {
		dp->rx_heads = kvcalloc(num, sizeof(*dp->rx_heads), gfp);
		dp->rx_frame = kvcalloc(num, sizeof(*dp->rx_frame), gfp);
		dp->rx_frame_seq = kvcalloc(num, sizeof(*dp->rx_frame_seq),
					    gfp);
		dp->rx_log = kvcalloc(num * max_segs, sizeof(*dp->rx_log), gfp);
	} else {
		dp->tx_len = kvcalloc(num, sizeof(*dp->tx_len), gfp);
		dp->used = kvcalloc(num, sizeof(*dp->used), gfp);
	}
	if (!dp->comp.ents || !dp->segs || !dp->gpas || !dp->bufs ||
	    (vq->index == VHOST_ACCEL_VQ_RX &&
			  (!dp->rx_heads || !dp->rx_frame ||
			   !dp->rx_frame_seq || !dp->rx_log)) ||
	    (vq->index == VHOST_ACCEL_VQ_TX && (!dp->tx_len || !dp->used))) {
		dp_destroy(dp);
		return -ENOMEM;
	}
	spin_lock_init(&dp->comp.lock);
	dp->comp.mask = num - 1;
	vq->dp = dp;
	return 0;
}

/* Called once the NIC holds none of this queue's buffers; vq->mutex held. */
static void vhost_accel_dp_free(struct vhost_accel_vq *vq)
{
	WARN_ON(vq->dp->inflight);
	vhost_accel_bp_stop(vq);
	dp_destroy(vq->dp);
	vq->dp = NULL;
}

/* Run the queue's handler in the worker: completions, a yield, a start. */
void vhost_accel_dp_queue(struct vhost_accel_vq *vq)
{
	vhost_accel_work_queue(vq->dev, &vq->dp_work);
}

/**
 * vhost_accel_budget_yield - end a run whose budget is spent
 * @vq: the queue, in its handler
 * @bg: the run's budget
 *
 * Return: true when @bg is spent: the run is marked as yielded and queued
 * again, and the caller returns.
 */
bool vhost_accel_budget_yield(struct vhost_accel_vq *vq,
			      struct vhost_accel_budget *bg)
{
	if (vhost_accel_budget_left(bg))
		return false;
	bg->yielded = true;
	vhost_accel_dp_queue(vq);
	return true;
}

/*
 * vhost_accel_dp_complete - queue completions from the driver
 * @vq: the virtqueue the buffers belong to
 * @c: completions
 * @n: how many
 *
 * Any context but hard irq.  The FIFO holds as many entries as the ring,
 * and the NIC never holds more buffers than that, so it cannot overflow
 * unless the driver completes a buffer twice.
 */
static void vhost_accel_dp_complete(struct vhost_accel_vq *vq,
				    const struct vhost_accel_completion *c,
				    unsigned int n)
{
	struct vhost_accel_comp_fifo *fifo = &vq->dp->comp;
	unsigned int i;

	spin_lock_bh(&fifo->lock);
	for (i = 0; i < n; i++) {
		if (WARN_ON_ONCE(fifo->tail - fifo->head > fifo->mask))
			break;
		fifo->ents[fifo->tail++ & fifo->mask] = c[i];
	}
	spin_unlock_bh(&fifo->lock);
	vhost_accel_dp_queue(vq);
}

static unsigned int comp_pop(struct vhost_accel_vq *vq,
			     struct vhost_accel_completion *c)
{
	struct vhost_accel_comp_fifo *fifo = &vq->dp->comp;
	unsigned int n = 0;

	spin_lock_bh(&fifo->lock);
	while (n < DP_POP && fifo->head != fifo->tail)
		c[n++] = fifo->ents[fifo->head++ & fifo->mask];
	spin_unlock_bh(&fifo->lock);
	return n;
}

static void dp_inflight_sub(struct vhost_accel_vq *vq, unsigned int n)
{
	struct vhost_accel_dp *dp = vq->dp;

	dp->inflight -= n;
	if (!dp->inflight)
		wake_up(&vq->dev->dp_wait);
}

/*
 * Copy @len bytes between a kernel buffer and the start of a chain: its
 * virtio-net header, metadata, never payload.  Through the kernel's
 * mapping of the pages the memory table pinned (the pages the NIC reads
 * and writes), not the owner's mapping: no user access and no region
 * lookup per frame.  The chain's walk checked the pages are guest memory.
 */
static void dp_hdr_copy(const struct vhost_accel_seg *segs, unsigned int nsegs,
			void *buf, unsigned int len, bool to_guest)
{
	unsigned int i, step, done = 0;
	void *p;

	for (i = 0; i < nsegs && done < len; i++) {
		step = min(segs[i].len, len - done);
		p = kmap_local_page(segs[i].page);
		if (to_guest) {
			memcpy(p + segs[i].offset, buf + done, step);
			flush_dcache_page(segs[i].page);
		} else {
			memcpy(buf + done, p + segs[i].offset, step);
		}
		kunmap_local(p);
		done += step;
	}
}

/* Free NIC descriptors, so we do not gather chains it cannot take. */
static unsigned int dp_space(struct vhost_accel_vq *vq,
			     unsigned int (*space)(struct vhost_accel_qp *qp))
{
	return space ? space(vq->qp) : DP_BATCH;
}

/*
 * Publish the Tx used entries collected in a run of completions: one
 * used->idx update per run, not per pop.  (Rx publishes each frame at
 * once: see rx_finish_frame().)
 */
static int dp_publish(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	unsigned int n = dp->used_n;

	dp->used_n = 0;
	return vhost_accel_ring_add_used(vq, dp->used, n);
}

/* Give a chain back to the guest untouched (used, length 0). */
static void dp_return_chain(struct vhost_accel_vq *vq, u16 head)
{
	struct vring_used_elem used = vhost_accel_used_elem(vq, head, 0);

	if (!vhost_accel_ring_add_used(vq, &used, 1))
		vhost_accel_ring_signal(vq);
}

/*
 * Give the chain just taken straight back to the guest.  The guest now
 * sees it used while chains taken before it may still be at the NIC: none
 * of those may go back to the avail ring any more (rx_give_back()).
 */
static void dp_give_back(struct vhost_accel_vq *vq, u16 head)
{
	struct vhost_accel_dp *dp = vq->dp;

	dp_return_chain(vq, head);
	dp->floor = dp->seq;
}

typedef int (*dp_prepare_fn)(struct vhost_accel_vq *vq,
			     struct vhost_accel_chain *chain,
			     struct vhost_accel_buf *buf);

/*
 * Take chains from the avail ring while @bg lasts, until @room (at most
 * DP_BATCH) of them became buffers for the driver in dp->bufs.  @prepare
 * returns 1 for a buffer, 0 for a chain to give back unused, or -errno
 * after a guest error; a chain with more segments than the NIC scatters
 * is given back too.  Such a chain goes back at once when it comes first
 * in a batch; otherwise it is left for the next batch, so that a batch's
 * buffers are the last chains taken and what the driver refuses of them
 * can be ungot.  Return how many buffers are ready.
 */
static unsigned int dp_gather(struct vhost_accel_vq *vq, unsigned int room,
			      dp_prepare_fn prepare, struct vhost_accel_budget *bg)
{
	struct vhost_accel_dp *dp = vq->dp;
	struct vhost_accel_chain chain;
	unsigned int n = 0;
	bool too_big;
	int ret;

	room = min_t(unsigned int, room, DP_BATCH);
	while (n < room && vhost_accel_budget_left(bg)) {
		chain.segs = dp->segs + n * dp->max_segs;
		chain.gpas = dp->gpas + n * dp->max_segs;
		chain.max_segs = dp->max_segs;
		ret = vhost_accel_ring_get_chain(vq, &chain);
		if (ret != 1 && ret != -ENOSPC)
			break;
		vhost_accel_budget_charge(bg, &chain);
		dp->seq++;
		too_big = ret == -ENOSPC;
		if (!too_big) {
			ret = prepare(vq, &chain, &dp->bufs[n]);
			if (ret < 0)
				break;
			if (ret) {
				dp->bufs[n++].cookie = dp_cookie(chain.head,
								 dp->seq - 1);
				continue;
			}
		}
		if (n) {
			dp_unget(vq, 1);
			break;
		}
		if (too_big)
			vq->stats.drops_too_big++;
		dp_give_back(vq, chain.head);
	}
	return n;
}

typedef unsigned int (*dp_hand_fn)(struct vhost_accel_qp *qp,
				   const struct vhost_accel_buf *bufs,
				   unsigned int n);

/*
 * Move guest chains to the NIC (@hand: xmit or post_rx) until the guest
 * ring is empty (kicks re-armed, *@empty set; on Tx only once the NIC has
 * nothing left to complete), the NIC is full (its completions requeue us:
 * backpressure), or the run's budget @bg is spent (requeued: the worker
 * yields).  Return how many buffers the NIC took.
 */
static unsigned int dp_pump(struct vhost_accel_vq *vq, dp_prepare_fn prepare,
			    dp_hand_fn hand,
			    unsigned int (*space)(struct vhost_accel_qp *qp),
			    struct vhost_accel_budget *bg, bool *empty)
{
	struct vhost_accel_dp *dp = vq->dp;
	unsigned int room, n, accepted, i, done = 0;

	*empty = false;
	vhost_accel_ring_disable_notify(vq);
	for (;;) {
		if (vhost_accel_budget_yield(vq, bg))
			return done;
		/* The NIC never holds more of our buffers than the ring has. */
		room = min(vq->num - dp->inflight, dp_space(vq, space));
		if (!room)
			return done;
		n = dp_gather(vq, room, prepare, bg);
		if (vq->broken)
			return done;
		/* Every chain went back and the budget is spent: yield. */
		if (!n && !vhost_accel_budget_left(bg))
			continue;
		if (!n) {
			/*
			 * Tx buffers still at the NIC: their completion runs
			 * us again, so the guest need not kick for what it
			 * adds meanwhile.  Rx keeps kicks on: an idle wire
			 * would leave new buffers unposted until a burst.
			 */
			if (vq->index == VHOST_ACCEL_VQ_TX && dp->inflight)
				return done;
			if (!vhost_accel_ring_enable_notify(vq)) {
				*empty = true;
				return done;
			}
			vhost_accel_ring_disable_notify(vq);
			continue;
		}
		accepted = hand(vq->qp, dp->bufs, n);
		dp->inflight += accepted;
		vq->stats.bufs_posted += accepted;
		if (vq->index == VHOST_ACCEL_VQ_TX) {
			vq->stats.packets += accepted;
			for (i = 0; i < accepted; i++)
				vq->stats.bytes += dp->bufs[i].len;
		}
		if (accepted < n) {
			dp_unget(vq, n - accepted);
			return done + accepted;
		}
		done += n;
	}
}

/* ---- TX ---- */

static void tx_reap(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	struct vhost_accel_completion c[DP_POP];
	struct dp_tap_counts tc = {};
	unsigned int n, i, total = 0;
	u16 head;

	while ((n = comp_pop(vq, c))) {
		dp_inflight_sub(vq, n);
		/* A broken queue still drains, but leaves the ring alone. */
		if (vq->broken)
			continue;
		total += n;
		/* at most num buffers are out: full only if a driver misbehaves */
		if (dp->used_n + n > vq->num && dp_publish(vq))
			continue;
		for (i = 0; i < n; i++) {
			head = dp_cookie_head(c[i].cookie);
			dp->used[dp->used_n++] = vhost_accel_used_elem(vq, head,
								       0);
			if (c[i].flags & VHOST_ACCEL_COMP_ERROR) {
				vq->stats.drops_nic++;
				tc.dropped++;
			} else if (head < vq->num) {
				tc.packets++;
				tc.bytes += dp->tx_len[head];
			}
		}
	}
	/* counted before the guest sees its buffers back */
	dp_tap_count(vq, &tc);
	if (!vq->broken && !dp_publish(vq) && total)
		vhost_accel_ring_signal(vq);
	dp->used_n = 0;
}

static void tx_meta_from_hdr(struct vhost_accel_vq *vq,
			     const struct virtio_net_hdr *hdr,
			     struct vhost_accel_meta *meta)
{
	meta->flags = hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM ?
		      VHOST_ACCEL_META_CSUM_PARTIAL : 0;
	meta->gso_type = hdr->gso_type;
	meta->hdr_len = vq16_to_cpu(vq, hdr->hdr_len);
	meta->gso_size = vq16_to_cpu(vq, hdr->gso_size);
	meta->csum_start = vq16_to_cpu(vq, hdr->csum_start);
	meta->csum_offset = vq16_to_cpu(vq, hdr->csum_offset);
}

/* Drop the first @skip bytes (the header) from a chain's segments. */
static void chain_skip(struct vhost_accel_chain *chain, unsigned int skip,
		       struct vhost_accel_buf *buf)
{
	struct vhost_accel_seg *seg = chain->segs;
	unsigned int n = chain->nsegs;

	while (n && skip >= seg->len) {
		skip -= seg->len;
		seg++;
		n--;
	}
	if (n && skip) {
		seg->offset += skip;
		seg->len -= skip;
	}
	buf->segs = seg;
	buf->nsegs = n;
}

/* Turn a TX chain into a buffer for the driver.  Return 1 when @buf is
 * ready (but for its cookie), 0 when the chain is to be given back to the
 * guest unused, or -errno after a guest error (the queue is then stopped).
 */
static int tx_prepare(struct vhost_accel_vq *vq,
		      struct vhost_accel_chain *chain,
		      struct vhost_accel_buf *buf)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	unsigned int hlen = vq->dp->vnet_hdr_len;

	if (chain->nsegs != chain->nout || chain->out_len < hlen) {
		vhost_accel_vq_err(vq, "TX chain without a readable virtio-net header");
		return -EINVAL;
	}
	/* A header and no frame: nothing to send, give it back. */
	if (chain->out_len == hlen)
		return 0;
	/* out_len >= hlen: the segments hold the whole header */
	dp_hdr_copy(chain->segs, chain->nsegs, &hdr, hlen, false);
	buf->len = chain->out_len - hlen;
	vq->dp->tx_len[chain->head] = buf->len;
	tx_meta_from_hdr(vq, &hdr.hdr, &buf->meta);
	chain_skip(chain, hlen, buf);
	return 1;
}

static void tx_handle(struct vhost_accel_vq *vq, struct vhost_accel_budget *bg)
{
	struct vhost_accel_binding *b = vq->backend;
	bool empty;

	tx_reap(vq);
	if (b && !vq->broken)
		dp_pump(vq, tx_prepare, b->nic->ops->xmit,
			b->nic->ops->tx_space, bg, &empty);
}

/* ---- RX ---- */

static void rx_write_hdr(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	const struct vhost_accel_rx_head *rh;
	struct virtio_net_hdr_mrg_rxbuf hdr = {};
	const struct vhost_accel_meta *m = &dp->rx_meta;

	rh = &dp->rx_heads[vq32_to_cpu(vq, dp->rx_frame[0].id)];
	if (m->flags & VHOST_ACCEL_META_CSUM_VALID)
		hdr.hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	hdr.hdr.gso_type = m->gso_type;
	hdr.hdr.hdr_len = cpu_to_vq16(vq, m->hdr_len);
	hdr.hdr.gso_size = cpu_to_vq16(vq, m->gso_size);
	hdr.hdr.csum_start = cpu_to_vq16(vq, m->csum_start);
	hdr.hdr.csum_offset = cpu_to_vq16(vq, m->csum_offset);
	hdr.num_buffers = cpu_to_vq16(vq, dp->rx_frame_n);
	dp_hdr_copy(rh->hdr, rh->npieces, &hdr, dp->vnet_hdr_len, true);
}

/*
 * With LOG_ALL, mark the first @len bytes of the chain at @head dirty:
 * what the NIC (and, in a frame's first buffer, the virtio-net header)
 * wrote there.
 */
static int rx_log_buf(struct vhost_accel_vq *vq, u32 head, u32 len)
{
	struct vhost_accel_dp *dp = vq->dp;
	const struct vhost_accel_log_range *r;
	unsigned int i;
	u32 step;

	if (!vhost_accel_has_feature(vq->dev, VHOST_F_LOG_ALL))
		return 0;
	if (WARN_ON_ONCE(head >= vq->num))
		return -EINVAL;
	r = dp->rx_log + (size_t)head * dp->max_segs;
	for (i = 0; i < dp->rx_heads[head].nranges && len; i++) {
		step = min(len, r[i].len);
		if (vhost_accel_log_write(vq, r[i].gpa, step))
			return -EFAULT;
		len -= step;
	}
	return 0;
}

/* Log the buffers of the frame being assembled (dp->rx_frame). */
static int rx_log_frame(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	unsigned int i;
	u32 len;

	for (i = 0; i < dp->rx_frame_n; i++) {
		len = vq32_to_cpu(vq, dp->rx_frame[i].len);
		/* The header is ours even if a NIC reported less. */
		if (!i)
			len = max(len, dp->vnet_hdr_len);
		if (rx_log_buf(vq, vq32_to_cpu(vq, dp->rx_frame[i].id),
			       len))
			return -EFAULT;
	}
	return 0;
}

/*
 * A whole frame arrived: header first, then publish its used entries at
 * once, not with the rest of the run: the guest reaps and refills while
 * the run goes on, so the NIC gets buffers back sooner (collecting a
 * run's frames first lost frames to an empty NIC ring in datapath_switch).
 */
static int rx_finish_frame(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	unsigned int i;
	u64 bytes = 0;

	rx_write_hdr(vq);
	if (rx_log_frame(vq)) {
		vhost_accel_vq_err(vq, "RX dirty log unwritable");
		return -EFAULT;
	}
	for (i = 0; i < dp->rx_frame_n; i++)
		bytes += vq32_to_cpu(vq, dp->rx_frame[i].len);
	if (vhost_accel_ring_add_used(vq, dp->rx_frame, dp->rx_frame_n))
		return -EFAULT;
	vq->stats.packets++;
	vq->stats.bytes += bytes - dp->vnet_hdr_len;
	dp->rx_frame_n = 0;
	return 0;
}

/*
 * A posted chain the NIC gives back unfilled (len 0, after reclaim_rx or
 * a detach), or that holds part of a frame cut short by those.  Buffers
 * are filled in posting order, so these are the last chains posted, and
 * normally they go back to the avail ring: the next start takes them
 * again, and VHOST_GET_VRING_BASE reports them unconsumed.  But a chain
 * taken after this one may be in the guest's used ring already (given
 * back straight, dp_give_back()), and the avail ring cannot express a
 * hole: a chain taken before dp->floor goes to the guest used, with
 * length 0, instead.  Either way the guest sees every chain before
 * last_avail_idx used exactly once, and none after it.
 */
static void rx_give_back(struct vhost_accel_vq *vq, u16 head, u64 seq)
{
	struct vhost_accel_dp *dp = vq->dp;

	if (seq < dp->floor)
		dp_return_chain(vq, head);
	else if (seq < dp->seq)
		dp_unget(vq, dp->seq - seq);
}

/* Unused buffers follow a frame's first ones: the NIC gave up on it. */
static void rx_cut_frame(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	unsigned int i;

	/* The NIC did write into these: log them all the same. */
	if (rx_log_frame(vq))
		vhost_accel_vq_err(vq, "RX dirty log unwritable");
	for (i = 0; i < dp->rx_frame_n && !vq->broken; i++)
		rx_give_back(vq, vq32_to_cpu(vq, dp->rx_frame[i].id),
			     dp->rx_frame_seq[i]);
	dp->rx_frame_n = 0;
}

static void rx_reap(struct vhost_accel_vq *vq)
{
	struct vhost_accel_dp *dp = vq->dp;
	bool merge = dp->backend_merge;
	struct vhost_accel_completion c[DP_POP];
	unsigned int n, i, unused = 0, frames = 0;
	struct dp_tap_counts tc = {
		.packets = vq->stats.packets,
		.bytes = vq->stats.bytes,
	};
	u64 seq;
	u16 head;

	while ((n = comp_pop(vq, c))) {
		dp_inflight_sub(vq, n);
		for (i = 0; i < n && !vq->broken; i++) {
			head = dp_cookie_head(c[i].cookie);
			seq = dp_cookie_seq(c[i].cookie);
			if (!c[i].len) {
				unused++;
				if (dp->rx_frame_n)
					rx_cut_frame(vq);
				if (!vq->broken)
					rx_give_back(vq, head, seq);
				continue;
			}
			WARN_ON_ONCE(unused);
			if (!dp->rx_frame_n)
				dp->rx_meta = c[i].meta;
			dp->rx_frame_seq[dp->rx_frame_n] = seq;
			dp->rx_frame[dp->rx_frame_n++] =
				vhost_accel_used_elem(vq, head, c[i].len);
			if (merge && !(c[i].flags & VHOST_ACCEL_COMP_EOP))
				continue;
			if (rx_finish_frame(vq))
				break;
			frames++;
		}
	}
	/* the frames and bytes rx_finish_frame() counted for the guest */
	tc.packets = vq->stats.packets - tc.packets;
	tc.bytes = vq->stats.bytes - tc.bytes;
	dp_tap_count(vq, &tc);
	if (frames)
		vhost_accel_ring_signal(vq);
}

/*
 * Frames the NIC dropped for want of a guest buffer, on the macvtap: read
 * after each depletion it reports, and on the next run until nothing new
 * shows (a drop may be counted just after the report).
 */
static void rx_count_nobuf(struct vhost_accel_vq *vq,
			   struct vhost_accel_binding *b, bool depleted)
{
	struct vhost_accel_dp *dp = vq->dp;
	u64 before = b->rx_nobuf_counted;

	if (!depleted && !dp->rx_nobuf_sync)
		return;
	vhost_accel_tap_count_nobuf(b);
	dp->rx_nobuf_sync = depleted || b->rx_nobuf_counted != before;
}

/* Remember where the first vnet_hdr_len bytes of a chain live. */
static void rx_note_hdr(struct vhost_accel_vq *vq,
			const struct vhost_accel_chain *chain)
{
	struct vhost_accel_dp *dp = vq->dp;
	struct vhost_accel_rx_head *rh = &dp->rx_heads[chain->head];
	unsigned int i, need = dp->vnet_hdr_len;

	rh->npieces = 0;
	for (i = 0; i < chain->nsegs && need; i++) {
		unsigned int step = min(chain->segs[i].len, need);

		rh->hdr[rh->npieces] = chain->segs[i];
		rh->hdr[rh->npieces].len = step;
		rh->npieces++;
		need -= step;
	}
}

/*
 * Remember the guest-physical ranges of a chain (its page segments, merged
 * where contiguous) for logging what the NIC writes into it.
 */
static void rx_note_log(struct vhost_accel_vq *vq,
			const struct vhost_accel_chain *chain)
{
	struct vhost_accel_dp *dp = vq->dp;
	struct vhost_accel_log_range *r = dp->rx_log +
					  (size_t)chain->head * dp->max_segs;
	unsigned int i, n = 0;

	for (i = 0; i < chain->nsegs; i++) {
		u64 gpa = chain->gpas[i];
		u32 len = chain->segs[i].len;

		if (n && r[n - 1].gpa + r[n - 1].len == gpa &&
		    r[n - 1].len <= U32_MAX - len) {
			r[n - 1].len += len;
			continue;
		}
		r[n].gpa = gpa;
		r[n].len = len;
		n++;
	}
	dp->rx_heads[chain->head].nranges = n;
}

/* Turn an RX chain into an empty buffer; as tx_prepare(). */
static int rx_prepare(struct vhost_accel_vq *vq,
		      struct vhost_accel_chain *chain,
		      struct vhost_accel_buf *buf)
{
	if (chain->nout || chain->in_len < vq->dp->vnet_hdr_len) {
		vhost_accel_vq_err(vq, "RX chain not writable or smaller than the virtio-net header");
		return -EINVAL;
	}
	rx_note_hdr(vq, chain);
	rx_note_log(vq, chain);
	buf->len = chain->in_len;
	buf->segs = chain->segs;
	buf->nsegs = chain->nsegs;
	memset(&buf->meta, 0, sizeof(buf->meta));
	return 1;
}

/* Completions, then new buffers; backpressure.c follows the saturation. */
static void rx_handle(struct vhost_accel_vq *vq, struct vhost_accel_budget *bg)
{
	struct vhost_accel_binding *b = vq->backend;
	bool depleted, empty;
	unsigned int posted;

	depleted = vhost_accel_bp_take_depleted(vq);
	rx_reap(vq);
	if (!b || vq->broken)
		return;
	rx_count_nobuf(vq, b, depleted);
	posted = dp_pump(vq, rx_prepare, b->nic->ops->post_rx,
			 b->nic->ops->rx_space, bg, &empty);
	vhost_accel_bp_rx_pumped(vq, b, depleted, posted, empty, bg->yielded);
}

/*
 * Run a virtqueue's datapath, accelerated or copying: vq->mutex held, in
 * the worker.  Accelerated, turns completions into used entries, then
 * moves new guest buffers to the NIC while a backend is set.  Safe to call
 * with neither datapath set.
 */
static void dp_handle(struct vhost_accel_vq *vq)
{
	struct vhost_accel_budget bg = {};

	if (vq->copy)
		vhost_accel_copy_handle(vq, &bg);
	else if (!vq->dp)
		return;
	else if (vq->index == VHOST_ACCEL_VQ_RX)
		rx_handle(vq, &bg);
	else
		tx_handle(vq, &bg);
	vhost_accel_log_flush(vq);
	if (bg.chains > vq->stats.run_chains_max)
		vq->stats.run_chains_max = bg.chains;
	if (bg.yielded) {
		vq->stats.budget_yields++;
		trace_vhost_accel_budget_yield(vq->dev->id, vq->index,
					       bg.chains, bg.bytes);
	}
}

/**
 * vhost_accel_dp_run - run a queue's datapath now, in the worker
 * @vq: the queue; vq->mutex not held
 */
void vhost_accel_dp_run(struct vhost_accel_vq *vq)
{
	mutex_lock(&vq->mutex);
	dp_handle(vq);
	mutex_unlock(&vq->mutex);
}

/**
 * vhost_accel_dp_handle_kick - the guest kicked a queue (vq->poll's work)
 * @work: the queue's poll work
 */
void vhost_accel_dp_handle_kick(struct vhost_accel_work *work)
{
	struct vhost_accel_poll *poll = container_of(work,
						     struct vhost_accel_poll,
						     work);
	struct vhost_accel_vq *vq = container_of(poll, struct vhost_accel_vq,
						 poll);

	mutex_lock(&vq->mutex);
	vq->stats.kicks++;
	dp_handle(vq);
	mutex_unlock(&vq->mutex);
}

/* Completions or a depletion from the NIC (vq->dp_work). */
static void dp_work(struct vhost_accel_work *work)
{
	vhost_accel_dp_run(container_of(work, struct vhost_accel_vq, dp_work));
}

/* At open: the work the NIC's callbacks queue. */
void vhost_accel_dp_init(struct vhost_accel_vq *vq)
{
	vhost_accel_work_init(&vq->dp_work, dp_work);
}

/* ---- start and stop ---- */

/*
 * Free a stopped queue's datapath state once the NIC returned every buffer
 * and the worker consumed the completions; only then may the memory table
 * the buffers came from be unpinned, which dropping the queue's reference
 * allows.
 */
void vhost_accel_dp_release(struct vhost_accel_vq *vq)
{
	struct vhost_accel_mem *mem = NULL;

	mutex_lock(&vq->mutex);
	if (vq->dp) {
		mem = vq->dp->mem;
		vhost_accel_dp_free(vq);
	}
	mutex_unlock(&vq->mutex);
	vhost_accel_mem_put(mem);
}

/**
 * vhost_accel_backend_start - start a queue's datapath
 * @dev: the device, dev->mutex held
 * @vq: the queue; its rings were checked against the memory table
 * @stay_broken: a restart of a queue a guest error had stopped (memory
 *	table swap): set up everything, but leave it stopped until
 *	SET_BACKEND or a new vring base, as before the swap
 *
 * Return: 0, -EOPNOTSUPP when not bound to a NIC, -EFAULT for rings the
 * device cannot reach, -EBUSY (also while a teardown of the binding still
 * drains the queue), -ENOLINK (the binding was torn down meanwhile), an
 * attach error (-ENETDOWN, ...), -ENOMEM.
 */
int vhost_accel_backend_start(struct vhost_accel_dev *dev,
			      struct vhost_accel_vq *vq, bool stay_broken)
{
	struct vhost_accel_binding *b;
	bool busy;
	int ret;

	mutex_lock(&vq->mutex);
	busy = vq->dp;
	ret = vq->backend ? 0 : -EBUSY;
	mutex_unlock(&vq->mutex);
	/* Running, or a teardown still turns completions into used entries. */
	if (busy)
		return ret;
	b = vhost_accel_binding_get(dev);
	if (!b)
		return -EOPNOTSUPP;
	/*
	 * The guest's rings are read and written here, which may fault and
	 * wait for as long as the owner lets it (userfaultfd): with no lock
	 * but dev->mutex.  The queue is stopped, so no worker touches its
	 * ring state (dp_handle() needs datapath state), and
	 * SET_BACKEND, the memory table and the vring ioctls all need
	 * dev->mutex.
	 */
	ret = vhost_accel_ring_start(vq);
	if (ret)
		goto out;

	mutex_lock(&b->lock);
	ret = -ENOLINK;
	if (b->dead)
		goto unlock;
	ret = vhost_accel_binding_refresh(b);
	if (ret)
		goto unlock;
	if (WARN_ON_ONCE(!b->qp)) {
		ret = -ENOLINK;
		goto unlock;
	}
	mutex_lock(&vq->mutex);
	ret = vhost_accel_dp_alloc(vq, min_t(unsigned int, b->nic->max_segs,
					     VHOST_ACCEL_MAX_SEGS));
	if (!ret) {
		/* Buffers posted from now on pin this table (see dp->mem). */
		vq->dp->mem = vhost_accel_mem_get(dev->mem);
		vq->dp->vnet_hdr_len = b->rx_headroom;
		vq->dp->backend_merge = b->attach_flags &
					VHOST_ACCEL_ATTACH_RX_MERGE;
		vq->dp->b = b;
		vq->backend = b;
		vq->qp = b->qp;
		vq->broken = stay_broken;
		vhost_accel_dp_queue(vq);
	}
	mutex_unlock(&vq->mutex);
unlock:
	mutex_unlock(&b->lock);
out:
	vhost_accel_binding_put(b);
	return ret;
}

/**
 * vhost_accel_backend_stop - stop a queue's datapath (SET_BACKEND fd -1)
 * @dev: the device, dev->mutex held
 * @vq: the queue
 *
 * Stops pulling guest buffers, takes posted RX buffers back, and waits for
 * the NIC to return everything it holds, so that the ring index read by
 * VHOST_GET_VRING_BASE afterwards is final.  A NIC that does not return
 * its buffers in time loses the binding (detach returns them by contract).
 */
void vhost_accel_backend_stop(struct vhost_accel_dev *dev,
			      struct vhost_accel_vq *vq)
{
	struct vhost_accel_binding *b;
	struct vhost_accel_qp *qp;
	struct vhost_accel_dp *dp;

	mutex_lock(&vq->mutex);
	b = vq->backend;
	qp = vq->qp;
	/* set with the backend; freed below, by us: the backend is cleared */
	dp = vq->dp;
	vq->backend = NULL;
	vq->qp = NULL;
	/* alive: its teardown clears vq->backend before dropping anything */
	if (b)
		refcount_inc(&b->ref);
	mutex_unlock(&vq->mutex);
	if (!b)
		return;

	if (vq->index == VHOST_ACCEL_VQ_RX) {
		mutex_lock(&b->lock);
		/* not if a teardown detached it meanwhile (it returned all) */
		if (b->qp == qp)
			b->nic->ops->reclaim_rx(qp);
		mutex_unlock(&b->lock);
	}
	vhost_accel_dp_queue(vq);
	/* No lock shared with other devices is held across this wait. */
	if (!wait_event_timeout(dev->dp_wait, !READ_ONCE(dp->inflight),
				VHOST_ACCEL_STOP_TIMEOUT)) {
		pr_warn("%s kept %u buffers of a stopped queue: detaching\n",
			netdev_name(b->netdev), READ_ONCE(dp->inflight));
		vhost_accel_binding_teardown(b, true);
	}
	vhost_accel_worker_flush(dev);
	/* b->lock: ending a saturation episode reads the binding's qp */
	mutex_lock(&b->lock);
	vhost_accel_dp_release(vq);
	mutex_unlock(&b->lock);
	vhost_accel_binding_put(b);
}

/* ---- callbacks the NIC driver calls (any context but hard irq) ---- */

static void cb_tx_done(void *ctx, const struct vhost_accel_completion *c,
		       unsigned int n)
{
	struct vhost_accel_binding *b = ctx;

	vhost_accel_dp_complete(&b->dev->vqs[VHOST_ACCEL_VQ_TX], c, n);
}

static void cb_rx_done(void *ctx, const struct vhost_accel_completion *c,
		       unsigned int n)
{
	struct vhost_accel_binding *b = ctx;

	vhost_accel_dp_complete(&b->dev->vqs[VHOST_ACCEL_VQ_RX], c, n);
}

static void cb_rx_depleted(void *ctx)
{
	struct vhost_accel_binding *b = ctx;

	vhost_accel_bp_rx_depleted(b);
	vhost_accel_dp_queue(&b->dev->vqs[VHOST_ACCEL_VQ_RX]);
}

static void cb_detached(void *ctx)
{
	struct vhost_accel_binding *b = ctx;

	WRITE_ONCE(b->detach_requested, true);
	mod_delayed_work(system_wq, &b->dev->detach_work, 0);
}

const struct vhost_accel_callbacks vhost_accel_nic_callbacks = {
	.tx_done = cb_tx_done,
	.rx_done = cb_rx_done,
	.rx_depleted = cb_rx_depleted,
	.detached = cb_detached,
};
