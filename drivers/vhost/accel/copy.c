// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel copying datapath: guest virtqueue buffers to and from the
 * socket of the backend fd, as /dev/vhost-net moves them, for every
 * backend that cannot be accelerated (a tun/tap fd, a macvtap or ipvtap on
 * a NIC that does not cooperate, an AF_PACKET socket).
 *
 * It runs on the same ring engine, memory table, dirty log, worker and
 * budget as the accelerated datapath (datapath.c).  The payload is copied
 * by the socket's own sendmsg and recvmsg, between its skbs and the pinned
 * guest pages of a chain, described as a bio_vec iterator: the worker
 * never touches guest memory through user addresses for payload, and
 * nothing of a chain is held once the call returned, so a memory table
 * swap needs no restart here.
 *
 * The virtio-net header follows vhost-net: with VHOST_NET_F_VIRTIO_NET_HDR
 * the device adds (Rx, an empty header) and strips (Tx) it and the socket
 * sees bare frames; without it the socket reads and writes it (a tap with
 * IFF_VNET_HDR, a packet socket with PACKET_VNET_HDR) and only Rx's
 * num_buffers is ours to write.
 *
 * Rx from a tun or tap queue takes frames off its pointer ring in batches
 * (struct copy_rx_batch).
 *
 * Wake-ups: guest kicks (vq->poll) run both queues; a socket with frames
 * to read runs Rx (c->poll, EPOLLIN), armed only while the socket has been
 * drained, so that a guest out of buffers is not woken once per frame; a
 * socket that refused a frame for lack of room runs Tx when it has room
 * again (c->poll, EPOLLOUT).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bvec.h>
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/if_packet.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/if_vlan.h>
#include <linux/net.h>
#include <linux/ptr_ring.h>
#include <linux/sched/clock.h>
#include <linux/skb_array.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "accel.h"
#include "tap_internals.h"

/* Segments (page pieces) of the chains one frame uses. */
#define COPY_SEGS		2048
/* Tx used entries written to the ring at a time. */
#define COPY_TX_BATCH		64
/* Frames taken off a tun/tap's ring at a time. */
#define COPY_RX_BATCH		64

/*
 * Rx frames taken off a tun or tap queue's pointer ring in one batch (one
 * lock for many frames, as vhost-net does), each handed back to the
 * socket's recvmsg in msg_control, which then reads it instead of the
 * ring.  Whatever is left when the queue stops goes back to the ring.
 */
struct copy_rx_batch {
	struct ptr_ring *ring;		/* NULL: a packet socket, no batching */
	unsigned int head;		/* next to receive */
	unsigned int tail;		/* taken */
	void *ptrs[COPY_RX_BATCH];
};

/* One chain of the frame being received. */
struct copy_rx_buf {
	u16 head;
	u16 nsegs;
	u32 len;			/* bytes of it the frame fills */
};

/* A queue's copying datapath, vq->copy. */
struct vhost_accel_copy {
	struct vhost_accel_vq *vq;
	struct file *file;		/* the backend fd's file, held */
	struct socket *sock;
	enum vhost_accel_copy_kind kind;
	struct vhost_accel_poll poll;	/* the socket */
	struct vhost_accel_seg *segs;
	u64 *gpas;
	struct bio_vec *bvec;
	struct vring_used_elem *used;	/* batch of used entries */
	unsigned int nused;		/* its capacity */
	unsigned int rx_pending;	/* Rx: entries in @used not written */
	struct copy_rx_buf *rx_bufs;	/* vq->num */
	struct copy_rx_batch rxq;
};

static const char *const copy_kind_name[] = {
	[VHOST_ACCEL_COPY_TUN] = "tun/tap",
	[VHOST_ACCEL_COPY_TAP] = "macvtap/ipvtap",
	[VHOST_ACCEL_COPY_PACKET] = "packet socket",
};

const char *vhost_accel_copy_kind_name(enum vhost_accel_copy_kind kind)
{
	return copy_kind_name[kind];
}

/*
 * The header lengths vhost-net uses: @vhost_hlen the device adds and
 * strips, @sock_hlen the socket reads and writes; one of them is 0.
 */
static void copy_hdr_lens(const struct vhost_accel_vq *vq,
			  unsigned int *vhost_hlen, unsigned int *sock_hlen)
{
	const struct vhost_accel_dev *dev = vq->dev;
	unsigned int hlen = vhost_accel_vnet_hdr_len(dev);

	*vhost_hlen = 0;
	*sock_hlen = hlen;
	if (vhost_accel_has_feature(dev, VHOST_NET_F_VIRTIO_NET_HDR)) {
		*vhost_hlen = hlen;
		*sock_hlen = 0;
	}
}

/*
 * A run starts with the socket's wake-ups and the guest's kicks off: it
 * drains what is there and re-arms what it waits for when it stops.
 */
static void copy_run_begin(struct vhost_accel_vq *vq,
			   unsigned int *vhost_hlen, unsigned int *sock_hlen)
{
	copy_hdr_lens(vq, vhost_hlen, sock_hlen);
	vhost_accel_poll_stop(&vq->copy->poll);
	vhost_accel_ring_disable_notify(vq);
}

/* @n segments as a bio_vec iterator of @len bytes. */
static void copy_iter(struct vhost_accel_copy *c, struct iov_iter *iter,
		      unsigned int dir, const struct vhost_accel_seg *segs,
		      unsigned int n, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		c->bvec[i].bv_page = segs[i].page;
		c->bvec[i].bv_offset = segs[i].offset;
		c->bvec[i].bv_len = segs[i].len;
	}
	iov_iter_bvec(iter, dir, c->bvec, n, len);
}

/*
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT: before waiting for a kick or the
 * socket, spin up to the queue's timeout (microseconds) for @ready, as
 * vhost-net does; not when the worker has other work or should yield.
 */
static bool copy_busy_wait(struct vhost_accel_vq *vq,
			   bool (*ready)(struct vhost_accel_vq *vq))
{
	u64 end;

	if (!vq->busyloop_timeout)
		return false;
	end = local_clock() + (u64)vq->busyloop_timeout * NSEC_PER_USEC;
	while (local_clock() < end) {
		if (need_resched() ||
		    !llist_empty(&vq->dev->worker.work_list))
			return false;
		if (ready(vq))
			return true;
		cpu_relax();
	}
	return false;
}

/* ---- TX ---- */

static void copy_tx_flush(struct vhost_accel_vq *vq, unsigned int *n)
{
	if (*n && !vhost_accel_ring_add_used(vq, vq->copy->used, *n))
		vhost_accel_ring_signal(vq);
	*n = 0;
}

static bool copy_tx_ready(struct vhost_accel_vq *vq)
{
	return !vhost_accel_ring_avail_empty(vq);
}

/*
 * Send one chain.  Return 1 when it was used (sent, or refused by the
 * socket for good: counted in drops_nic, as vhost-net drops it), 0 when
 * the socket has no room now (the chain went back to the avail ring), or
 * -errno after a guest error.
 */
static int copy_tx_one(struct vhost_accel_vq *vq,
		       const struct vhost_accel_chain *chain,
		       unsigned int vhost_hlen, unsigned int sock_hlen)
{
	struct vhost_accel_copy *c = vq->copy;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t len;
	int err;

	if (chain->nsegs != chain->nout || chain->out_len <= vhost_hlen) {
		vhost_accel_vq_err(vq, "TX chain with writable descriptors or no frame");
		return -EINVAL;
	}
	copy_iter(c, &msg.msg_iter, ITER_SOURCE, chain->segs, chain->nout,
		  chain->out_len);
	iov_iter_advance(&msg.msg_iter, vhost_hlen);
	len = iov_iter_count(&msg.msg_iter);
	err = c->sock->ops->sendmsg(c->sock, &msg, len);
	if (err == -EAGAIN || err == -ENOMEM || err == -ENOBUFS) {
		vhost_accel_ring_unget(vq, 1);
		return 0;
	}
	if (err < 0) {
		vq->stats.drops_nic++;
		return 1;
	}
	/* the frame's bytes, as on Rx: not the socket's header */
	len -= min_t(size_t, len, sock_hlen);
	vq->stats.packets++;
	vq->stats.bytes += len;
	vq->stats.bytes_copied += len;
	vq->stats.bufs_posted++;
	return 1;
}

static void copy_tx(struct vhost_accel_vq *vq, struct vhost_accel_budget *bg)
{
	struct vhost_accel_copy *c = vq->copy;
	unsigned int vhost_hlen, sock_hlen, n = 0;
	struct vhost_accel_chain chain;
	int ret;

	copy_run_begin(vq, &vhost_hlen, &sock_hlen);
	while (!vq->broken) {
		if (vhost_accel_budget_yield(vq, bg))
			break;
		chain.segs = c->segs;
		chain.gpas = c->gpas;
		chain.max_segs = COPY_SEGS;
		ret = vhost_accel_ring_get_chain(vq, &chain);
		if (!ret) {
			if (copy_busy_wait(vq, copy_tx_ready))
				continue;
			if (!vhost_accel_ring_enable_notify(vq))
				break;
			vhost_accel_ring_disable_notify(vq);
			continue;
		}
		if (ret < 0 && ret != -ENOSPC)
			break;
		vhost_accel_budget_charge(bg, &chain);
		if (ret == -ENOSPC) {
			vq->stats.drops_too_big++;
		} else {
			ret = copy_tx_one(vq, &chain, vhost_hlen, sock_hlen);
			if (ret < 0)
				break;
			if (!ret) {
				/* the socket's room comes back: run again */
				vhost_accel_poll_start(&c->poll, c->file);
				break;
			}
		}
		c->used[n++] = vhost_accel_used_elem(vq, chain.head, 0);
		if (n == COPY_TX_BATCH)
			copy_tx_flush(vq, &n);
	}
	copy_tx_flush(vq, &n);
}

/* ---- RX ---- */

/* Length of a frame from a tun/tap ring (an skb or a tun XDP frame). */
static int copy_ptr_len(void *ptr)
{
	if (tun_is_xdp_frame(ptr))
		return tun_ptr_to_xdp(ptr)->len;
	return __skb_array_len_with_tag(ptr);
}

/* Length of the next frame the socket holds, 0 if none. */
static int copy_rx_peek(struct vhost_accel_copy *c)
{
	struct copy_rx_batch *q = &c->rxq;
	struct sock *sk = c->sock->sk;
	struct sk_buff *skb;
	unsigned long flags;
	int len = 0;

	if (q->ring) {
		if (q->head == q->tail) {
			q->head = 0;
			q->tail = ptr_ring_consume_batched(q->ring, q->ptrs,
							   COPY_RX_BATCH);
		}
		return q->head < q->tail ? copy_ptr_len(q->ptrs[q->head]) : 0;
	}
	if (c->sock->ops->peek_len)
		return c->sock->ops->peek_len(c->sock);
	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	skb = skb_peek(&sk->sk_receive_queue);
	if (skb) {
		len = skb->len;
		if (skb_vlan_tag_present(skb))
			len += VLAN_HLEN;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return len;
}

/*
 * The frame copy_rx_peek() saw, for recvmsg's msg_control: the socket
 * reads (and frees) it instead of taking one off its ring.
 */
static void *copy_rx_take(struct vhost_accel_copy *c)
{
	struct copy_rx_batch *q = &c->rxq;

	return q->ring && q->head < q->tail ? q->ptrs[q->head++] : NULL;
}

/* Frames taken but not received go back to the ring, in order. */
static void copy_rx_untake(struct vhost_accel_copy *c)
{
	struct copy_rx_batch *q = &c->rxq;

	if (q->ring && q->head < q->tail)
		ptr_ring_unconsume(q->ring, q->ptrs + q->head,
				   q->tail - q->head, tun_ptr_free);
	q->head = 0;
	q->tail = 0;
}

static bool copy_rx_ready(struct vhost_accel_vq *vq)
{
	return copy_rx_peek(vq->copy) > 0;
}

/*
 * Take chains until they hold @need bytes: one chain without mergeable
 * buffers, as many as it takes with them.  Return how many, 0 when the
 * avail ring ran out first (every chain taken went back), -E2BIG when the
 * frame cannot fit (chains back too; the caller drops the frame), -EAGAIN
 * when chains no frame can use spent the run's budget, or another -errno
 * after a guest error.
 */
static int copy_rx_bufs(struct vhost_accel_vq *vq, u32 need, bool merge,
			unsigned int *nsegs, struct vhost_accel_budget *bg)
{
	struct vhost_accel_copy *c = vq->copy;
	struct vhost_accel_chain chain;
	unsigned int n = 0, segs = 0;
	int ret;

	while (need) {
		if (n == vq->num || (!merge && n == 1) || segs == COPY_SEGS) {
			vhost_accel_ring_unget(vq, n);
			return -E2BIG;
		}
		chain.segs = c->segs + segs;
		chain.gpas = c->gpas + segs;
		chain.max_segs = COPY_SEGS - segs;
		ret = vhost_accel_ring_get_chain(vq, &chain);
		if (!ret) {
			vhost_accel_ring_unget(vq, n);
			return 0;
		}
		if (ret == -ENOSPC && !n) {
			/* a chain no frame can use: back to the guest, empty */
			struct vring_used_elem e;

			vhost_accel_budget_charge(bg, &chain);
			vq->stats.drops_too_big++;
			e = vhost_accel_used_elem(vq, chain.head, 0);
			if (!vhost_accel_ring_add_used(vq, &e, 1))
				vhost_accel_ring_signal(vq);
			if (!vhost_accel_budget_left(bg))
				return -EAGAIN;
			continue;
		}
		if (ret == -ENOSPC) {
			vhost_accel_ring_unget(vq, n + 1);
			return -E2BIG;
		}
		if (ret < 0)
			return ret;
		vhost_accel_budget_charge(bg, &chain);
		if (chain.nout) {
			vhost_accel_vq_err(vq, "RX chain with readable descriptors");
			return -EINVAL;
		}
		c->rx_bufs[n].head = chain.head;
		c->rx_bufs[n].nsegs = chain.nsegs;
		c->rx_bufs[n].len = min(chain.in_len, need);
		need -= c->rx_bufs[n].len;
		segs += chain.nsegs;
		n++;
	}
	*nsegs = segs;
	return n;
}

/* With LOG_ALL, mark what a frame wrote into its @n chains dirty. */
static int copy_rx_log(struct vhost_accel_vq *vq, unsigned int n)
{
	struct vhost_accel_copy *c = vq->copy;
	unsigned int i, j, s = 0;
	u32 left, step;

	if (!vhost_accel_has_feature(vq->dev, VHOST_F_LOG_ALL))
		return 0;
	for (i = 0; i < n; i++) {
		left = c->rx_bufs[i].len;
		for (j = 0; j < c->rx_bufs[i].nsegs; j++, s++) {
			step = min(left, c->segs[s].len);
			if (step && vhost_accel_log_write(vq, c->gpas[s], step))
				return -EFAULT;
			left -= step;
		}
	}
	return 0;
}

/* Throw away the frame at the head of the socket (no buffer fits it). */
static void copy_rx_discard(struct vhost_accel_copy *c)
{
	struct msghdr msg = { .msg_control = copy_rx_take(c) };
	u8 byte;
	struct kvec one = { .iov_base = &byte, .iov_len = 1 };

	/* a tap or tun read into no room at all takes no frame off */
	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &one, 1, 1);
	c->sock->ops->recvmsg(c->sock, &msg, 1, MSG_DONTWAIT | MSG_TRUNC);
}

/*
 * The frame's header: the device's own when it adds one (vhost_hlen), and
 * num_buffers with mergeable buffers, behind the part the socket wrote.
 */
static int copy_rx_hdr(struct vhost_accel_vq *vq, struct iov_iter *fixup,
		       unsigned int vhost_hlen, bool merge, unsigned int n)
{
	struct virtio_net_hdr hdr = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	__virtio16 num_buffers = cpu_to_vq16(vq, n);

	if (vhost_hlen) {
		if (copy_to_iter(&hdr, sizeof(hdr), fixup) != sizeof(hdr))
			return -EFAULT;
	} else {
		iov_iter_advance(fixup, sizeof(hdr));
	}
	if (merge && copy_to_iter(&num_buffers, sizeof(num_buffers),
				  fixup) != sizeof(num_buffers))
		return -EFAULT;
	return 0;
}

/*
 * Write the used entries of the frames received so far: once per run or
 * per full batch, not per frame (one used->idx update for all of them).
 */
static int copy_rx_flush(struct vhost_accel_vq *vq)
{
	struct vhost_accel_copy *c = vq->copy;
	unsigned int n = c->rx_pending;

	c->rx_pending = 0;
	return n ? vhost_accel_ring_add_used(vq, c->used, n) : 0;
}

/*
 * Receive one frame of @sock_len bytes (the socket's header included)
 * into the chains gathered for it.  Return 1 when it went to the guest, 0
 * when it was lost (the chains went back), or -errno after an error that
 * stopped the queue.
 */
static int copy_rx_one(struct vhost_accel_vq *vq, unsigned int n,
		       unsigned int nsegs, size_t sock_len,
		       unsigned int vhost_hlen, bool merge)
{
	struct vhost_accel_copy *c = vq->copy;
	struct msghdr msg = { .msg_control = copy_rx_take(c) };
	struct iov_iter fixup;
	size_t total = 0;
	unsigned int i;
	int err;

	for (i = 0; i < nsegs; i++)
		total += c->segs[i].len;
	copy_iter(c, &msg.msg_iter, ITER_DEST, c->segs, nsegs, total);
	fixup = msg.msg_iter;
	iov_iter_advance(&msg.msg_iter, vhost_hlen);
	err = c->sock->ops->recvmsg(c->sock, &msg, sock_len,
				    MSG_DONTWAIT | MSG_TRUNC);
	if (err != sock_len) {
		/* gone or changed since the peek: the guest keeps its chains */
		vhost_accel_ring_unget(vq, n);
		return 0;
	}
	if (copy_rx_hdr(vq, &fixup, vhost_hlen, merge, n)) {
		vhost_accel_vq_err(vq, "RX virtio-net header unwritable");
		return -EFAULT;
	}
	if (copy_rx_log(vq, n)) {
		vhost_accel_vq_err(vq, "RX dirty log unwritable");
		return -EFAULT;
	}
	if (c->rx_pending + n > c->nused && copy_rx_flush(vq))
		return -EFAULT;
	for (i = 0; i < n; i++)
		c->used[c->rx_pending++] =
			vhost_accel_used_elem(vq, c->rx_bufs[i].head,
					      c->rx_bufs[i].len);
	return 1;
}

static void copy_rx(struct vhost_accel_vq *vq, struct vhost_accel_budget *bg)
{
	struct vhost_accel_copy *c = vq->copy;
	bool merge = vhost_accel_has_feature(vq->dev, VIRTIO_NET_F_MRG_RXBUF);
	unsigned int vhost_hlen, sock_hlen, nsegs, got = 0;
	int len, n;

	copy_run_begin(vq, &vhost_hlen, &sock_hlen);
	while (!vq->broken) {
		if (vhost_accel_budget_yield(vq, bg))
			break;
		len = copy_rx_peek(c);
		if (len <= 0) {
			if (copy_busy_wait(vq, copy_rx_ready))
				continue;
			/* drained: the next frame wakes us */
			vhost_accel_poll_start(&c->poll, c->file);
			break;
		}
		len += sock_hlen;
		n = copy_rx_bufs(vq, len + vhost_hlen, merge, &nsegs, bg);
		if (n == -E2BIG) {
			copy_rx_discard(c);
			vq->stats.drops_too_big++;
			continue;
		}
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			break;
		if (!n) {
			/* no buffer: the frames wait in the socket */
			if (!vhost_accel_ring_enable_notify(vq))
				break;
			vhost_accel_ring_disable_notify(vq);
			continue;
		}
		if (copy_rx_one(vq, n, nsegs, len, vhost_hlen, merge) <= 0)
			continue;
		got++;
		vq->stats.packets++;
		vq->stats.bytes += len - sock_hlen;
		vq->stats.bytes_copied += len - sock_hlen;
		vq->stats.bufs_posted += n;
	}
	if (!copy_rx_flush(vq) && got)
		vhost_accel_ring_signal(vq);
}

/**
 * vhost_accel_copy_handle - run a queue's copying datapath
 * @vq: the queue, vq->mutex held, in the worker, vq->copy set
 * @bg: the run's budget
 */
void vhost_accel_copy_handle(struct vhost_accel_vq *vq,
			     struct vhost_accel_budget *bg)
{
	if (vq->index == VHOST_ACCEL_VQ_RX)
		copy_rx(vq, bg);
	else
		copy_tx(vq, bg);
}

/* ---- start and stop ---- */

/* The socket's readiness (c->poll's work), in the worker. */
static void copy_sock_work(struct vhost_accel_work *work)
{
	struct vhost_accel_poll *poll = container_of(work,
						     struct vhost_accel_poll,
						     work);
	struct vhost_accel_copy *c = container_of(poll,
						  struct vhost_accel_copy,
						  poll);

	vhost_accel_dp_run(c->vq);
}

/*
 * The socket behind a backend fd, as vhost-net takes them: an AF_PACKET
 * raw socket, a macvtap or ipvtap queue, or a tun/tap queue.  The file
 * holds the socket.
 */
static struct socket *copy_socket(struct file *file,
				  enum vhost_accel_copy_kind *kind)
{
	struct socket *sock = sock_from_file(file);

	if (sock) {
		*kind = VHOST_ACCEL_COPY_PACKET;
		if (sock->sk->sk_family != AF_PACKET ||
		    sock->sk->sk_type != SOCK_RAW)
			return ERR_PTR(-ENOTSOCK);
		return sock;
	}
	sock = tap_get_socket(file);
	*kind = VHOST_ACCEL_COPY_TAP;
	if (!IS_ERR(sock))
		return sock;
	sock = tun_get_socket(file);
	*kind = VHOST_ACCEL_COPY_TUN;
	if (!IS_ERR(sock))
		return sock;
	return ERR_PTR(-ENOTSOCK);
}

/* A tun or tap queue's pointer ring, for batched Rx; else NULL. */
static struct ptr_ring *copy_rx_ring(struct file *file,
				     enum vhost_accel_copy_kind kind)
{
	struct ptr_ring *ring = NULL;

	if (kind == VHOST_ACCEL_COPY_TAP)
		ring = tap_get_ptr_ring(file);
	else if (kind == VHOST_ACCEL_COPY_TUN)
		ring = tun_get_tx_ring(file);
	return IS_ERR(ring) ? NULL : ring;
}

/**
 * vhost_accel_copy_socket_ok - could @file back the copying datapath?
 * @file: a backend fd's file
 *
 * Return: 0, or -ENOTSOCK for an fd vhost-net would refuse too.
 */
int vhost_accel_copy_socket_ok(struct file *file)
{
	enum vhost_accel_copy_kind kind;

	return PTR_ERR_OR_ZERO(copy_socket(file, &kind));
}

static void copy_free(struct vhost_accel_copy *c)
{
	if (!c)
		return;
	kvfree(c->rx_bufs);
	kvfree(c->used);
	kvfree(c->bvec);
	kvfree(c->gpas);
	kvfree(c->segs);
	if (c->file)
		fput(c->file);
	kfree(c);
}

static struct vhost_accel_copy *copy_alloc(struct vhost_accel_vq *vq,
					   struct file *file,
					   struct socket *sock)
{
	unsigned int nused = max_t(unsigned int, vq->num, COPY_TX_BATCH);
	struct vhost_accel_copy *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c)
		return NULL;
	c->vq = vq;
	c->segs = kvmalloc_array(COPY_SEGS, sizeof(*c->segs),
				 GFP_KERNEL_ACCOUNT);
	c->gpas = kvmalloc_array(COPY_SEGS, sizeof(*c->gpas),
				 GFP_KERNEL_ACCOUNT);
	c->bvec = kvmalloc_array(COPY_SEGS, sizeof(*c->bvec),
				 GFP_KERNEL_ACCOUNT);
	c->used = kvmalloc_array(nused, sizeof(*c->used), GFP_KERNEL_ACCOUNT);
	c->nused = nused;
	c->rx_bufs = kvmalloc_array(nused, sizeof(*c->rx_bufs),
				    GFP_KERNEL_ACCOUNT);
	if (!c->segs || !c->gpas || !c->bvec || !c->used || !c->rx_bufs) {
		copy_free(c);
		return NULL;
	}
	c->file = get_file(file);
	c->sock = sock;
	vhost_accel_poll_init(&c->poll, vq->dev, copy_sock_work,
			      vq->index == VHOST_ACCEL_VQ_RX ? EPOLLIN :
							       EPOLLOUT);
	return c;
}

/* What netlink tells of a copying device's backend (dev->mutex held). */
static void copy_note_backend(struct vhost_accel_dev *dev, struct file *file,
			      struct socket *sock)
{
	struct net_device *tapdev = vhost_accel_tap_netdev_get(file);
	u8 mac[ETH_ALEN] = {};
	int ifindex = 0;

	if (tapdev) {
		ifindex = tapdev->ifindex;
		ether_addr_copy(mac, tapdev->dev_addr);
		dev_put(tapdev);
	}
	WRITE_ONCE(dev->copy_net_cookie, sock_net(sock->sk)->net_cookie);
	WRITE_ONCE(dev->copy_ifindex, ifindex);
	memcpy(dev->copy_mac, mac, ETH_ALEN);
}

/**
 * vhost_accel_copy_start - run a queue on the copying datapath
 * @dev: the device, dev->mutex held
 * @vq: the queue, stopped (neither datapath set); rings checked against
 *	the memory table
 * @file: the backend fd's file (SET_BACKEND), a socket vhost-net takes
 *
 * Return: 0, -ENOTSOCK, -EFAULT (rings unreachable), -ENOMEM.
 */
int vhost_accel_copy_start(struct vhost_accel_dev *dev,
			   struct vhost_accel_vq *vq, struct file *file)
{
	enum vhost_accel_copy_kind kind;
	struct vhost_accel_copy *c;
	struct socket *sock;
	int ret;

	sock = copy_socket(file, &kind);
	if (IS_ERR(sock))
		return PTR_ERR(sock);
	c = copy_alloc(vq, file, sock);
	if (!c)
		return -ENOMEM;
	c->kind = kind;
	if (vq->index == VHOST_ACCEL_VQ_RX)
		c->rxq.ring = copy_rx_ring(file, kind);
	/* as in vhost_accel_backend_start(): only dev->mutex held here */
	ret = vhost_accel_ring_start(vq);
	if (ret) {
		copy_free(c);
		return ret;
	}
	copy_note_backend(dev, file, sock);
	mutex_lock(&vq->mutex);
	vq->copy = c;
	mutex_unlock(&vq->mutex);
	/* what the guest queued already, and frames already waiting */
	vhost_accel_dp_queue(vq);
	return 0;
}

/**
 * vhost_accel_copy_stop - stop a queue's copying datapath, if it runs
 * @dev: the device, dev->mutex held
 * @vq: the queue
 *
 * Nothing of the guest's is held by the socket afterwards: every frame
 * was copied before the call that moved it returned.
 */
void vhost_accel_copy_stop(struct vhost_accel_dev *dev,
			   struct vhost_accel_vq *vq)
{
	struct vhost_accel_copy *c;

	mutex_lock(&vq->mutex);
	c = vq->copy;
	vq->copy = NULL;
	mutex_unlock(&vq->mutex);
	if (!c)
		return;
	/* no run arms it again: vq->copy is gone */
	vhost_accel_poll_stop(&c->poll);
	/* a wake-up may have queued c->poll's work: let it run first */
	vhost_accel_worker_flush(dev);
	copy_rx_untake(c);
	copy_free(c);
}

/**
 * vhost_accel_copy_discard - throw away the frames a backend socket holds
 * @file: the backend fd's file
 * @max: at most this many
 *
 * For a switch of datapath (nic.c): what a macvtap queued while the NIC
 * steered the guest's frames elsewhere is stale or a copy.  The caller
 * holds dev->mutex and no queue of the device reads @file meanwhile.
 *
 * Return: how many frames were thrown away.
 */
unsigned int vhost_accel_copy_discard(struct file *file, unsigned int max)
{
	enum vhost_accel_copy_kind kind;
	struct vhost_accel_copy c = {};
	unsigned int n = 0;

	c.sock = copy_socket(file, &kind);
	if (IS_ERR(c.sock))
		return 0;
	while (n < max && copy_rx_peek(&c) > 0) {
		copy_rx_discard(&c);
		n++;
	}
	return n;
}

/**
 * vhost_accel_copy_wait_sent - wait until a backend socket let go of the
 *	frames it was given to send
 * @file: the backend fd's file
 * @timeout_ms: at most this long
 *
 * A frame written to a macvtap or tap is charged to its socket until the
 * device below sent (or dropped) it: for a switch of datapath (nic.c), so
 * that the guest's next frames, sent another way, do not overtake it.
 */
void vhost_accel_copy_wait_sent(struct file *file, unsigned int timeout_ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);
	enum vhost_accel_copy_kind kind;
	struct socket *sock;

	sock = copy_socket(file, &kind);
	if (IS_ERR(sock))
		return;
	while (sk_wmem_alloc_get(sock->sk) && time_before(jiffies, end))
		usleep_range(100, 200);
}

/* The same socket again (vhost-net: no change) or another one? */
bool vhost_accel_copy_same_file(const struct vhost_accel_vq *vq,
				const struct file *file)
{
	return vq->copy && vq->copy->file == file;
}

enum vhost_accel_copy_kind vhost_accel_copy_kind(const struct vhost_accel_vq *vq)
{
	return vq->copy->kind;
}
