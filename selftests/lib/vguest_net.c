// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: the virtio-net guest (header, Rx and Tx frames).
 * See vguest.h for the conventions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "vguest_int.h"

/* ---- virtio-net guest ------------------------------------------------ */

unsigned int vg_net_hdr_len(uint64_t features)
{
	if (features & (VG_FBIT(VIRTIO_F_VERSION_1) |
			VG_FBIT(VIRTIO_NET_F_MRG_RXBUF)))
		return sizeof(struct virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct virtio_net_hdr);
}

#define VG_NET_DEF_NUM		256
#define VG_NET_DEF_TX_SLOT	2048
#define VG_NET_DEF_IMAX		64
#define VG_NET_DEF_GPA		(4ULL << 30)

static void vg_net_set_err(struct vg_net *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vg_net_set_err(struct vg_net *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->err, sizeof(n->err), fmt, ap);
	va_end(ap);
}

static unsigned int vg_div_up(unsigned int a, unsigned int b)
{
	return (a + b - 1) / b;
}

void vg_net_close(struct vg_net *n)
{
	if (!n->opened)
		return;
	n->opened = false;
	vg_close(&n->d);
	free(n->rx_free);
	free(n->tx_free);
	free(n->rx_scratch);
	n->rx_free = NULL;
	n->tx_free = NULL;
	n->rx_scratch = NULL;
	vg_close_fdp(&n->backend_fd);
	n->d.fd = -1;
	n->d.nregions = 0;
}

/* @count buffers of @stride bytes in guest memory, page aligned. */
static int vg_net_pool(struct vg_net *n, unsigned int count,
		       unsigned int stride, uint8_t **pool, uint64_t *gpa)
{
	void *hva;
	int r;

	r = vg_mem_alloc(&n->d, (uint64_t)count * stride, vg_page_size(), gpa,
			 &hva);
	if (!r)
		*pool = hva;
	return r;
}

int vg_net_open(struct vg_net *n, const char *path,
		const struct vg_net_cfg *cfg)
{
	uint64_t ps = vg_page_size(), size;
	struct vg_net_cfg c = *cfg;
	bool indirect;
	unsigned int i, vqflags;
	int r;

	memset(n, 0, sizeof(*n));
	n->backend_fd = -1;
	n->d.fd = -1;
	n->hdr_len = vg_net_hdr_len(c.features);
	n->mrg = c.features & VG_FBIT(VIRTIO_NET_F_MRG_RXBUF);
	indirect = c.features & VG_FBIT(VIRTIO_RING_F_INDIRECT_DESC);

	if (!c.rx_num)
		c.rx_num = VG_NET_DEF_NUM;
	if (!c.tx_num)
		c.tx_num = VG_NET_DEF_NUM;
	if (!c.indirect_max)
		c.indirect_max = VG_NET_DEF_IMAX;
	if (!c.gpa_base)
		c.gpa_base = VG_NET_DEF_GPA;
	if (!c.rx_buf_len)
		c.rx_buf_len = n->mrg ? (unsigned int)ps :
			       n->hdr_len + VG_NET_MAX_FRAME;
	if (!c.rx_buf_descs)
		c.rx_buf_descs = n->mrg ? 1 :
			1 + vg_div_up(c.rx_buf_len - n->hdr_len, (unsigned int)ps);
	if (!c.tx_slot_len)
		c.tx_slot_len = VG_NET_DEF_TX_SLOT;
	if (!c.tx_slots)
		c.tx_slots = c.tx_num;
	if (c.rx_indirect && !indirect)
		return -EINVAL;
	if (c.rx_buf_descs > 1 && c.rx_buf_len < n->hdr_len + c.rx_buf_descs - 1)
		return -EINVAL;
	if (c.rx_buf_descs > (c.rx_indirect ? c.indirect_max : c.rx_num))
		return -EINVAL;
	if (!c.rx_bufs)
		c.rx_bufs = c.rx_indirect ? c.rx_num : c.rx_num / c.rx_buf_descs;
	if (!c.rx_bufs || c.tx_slot_len <= n->hdr_len)
		return -EINVAL;
	n->cfg = c;

	n->rx_nbufs = c.rx_bufs;
	n->rx_buf_len = c.rx_buf_len;
	n->rx_buf_descs = c.rx_buf_descs;
	n->rx_stride = (unsigned int)vg_align_up(c.rx_buf_len, 64);
	n->tx_nslots = c.tx_slots;
	n->tx_slot_len = c.tx_slot_len;
	n->tx_stride = (unsigned int)vg_align_up(c.tx_slot_len, 64);

	size = 0;
	for (i = 0; i < VG_NVQS; i++) {
		unsigned int num = i == VG_VQ_RX ? c.rx_num : c.tx_num;

		size += vg_align_up(vg_vring_desc_size(num), 64) +
			vg_align_up(vg_vring_avail_size(num), 64) +
			vg_align_up(vg_vring_used_size(num), 64);
		if (indirect)
			size += (uint64_t)num * c.indirect_max *
				sizeof(struct vring_desc) + 64;
	}
	size += vg_align_up((uint64_t)n->rx_nbufs * n->rx_stride, ps) + ps;
	size += vg_align_up((uint64_t)n->tx_nslots * n->tx_stride, ps) + ps;
	size = vg_align_up(size + c.extra_mem + 4 * ps, ps);

	r = vg_open(&n->d, path);
	n->opened = true;
	if (r)
		goto err;
	r = vg_set_owner(&n->d);
	if (r)
		goto err;
	r = vg_set_features(&n->d, c.features);
	if (r)
		goto err;
	r = vg_mem_add(&n->d, c.gpa_base, size, VG_MEM_POPULATE | c.mem_flags);
	if (r < 0)
		goto err;
	vqflags = indirect ? VG_VQ_INDIRECT : 0;
	r = vg_vq_init2(&n->d, VG_VQ_RX, c.rx_num, vqflags, 0, c.indirect_max);
	if (r)
		goto err;
	r = vg_vq_init2(&n->d, VG_VQ_TX, c.tx_num, vqflags, 0, c.indirect_max);
	if (r)
		goto err;
	r = vg_net_pool(n, n->rx_nbufs, n->rx_stride, &n->rx_pool,
			&n->rx_pool_gpa);
	if (r)
		goto err;
	r = vg_net_pool(n, n->tx_nslots, n->tx_stride, &n->tx_pool,
			&n->tx_pool_gpa);
	if (r)
		goto err;

	r = -ENOMEM;
	n->rx_free = calloc(n->rx_nbufs, sizeof(*n->rx_free));
	n->tx_free = calloc(n->tx_nslots, sizeof(*n->tx_free));
	n->rx_scratch = malloc(n->hdr_len + VG_NET_MAX_FRAME + 2 * ps);
	if (!n->rx_free || !n->tx_free || !n->rx_scratch)
		goto err;
	/* stacks: lowest ids on top */
	for (i = 0; i < n->rx_nbufs; i++)
		n->rx_free[i] = n->rx_nbufs - 1 - i;
	n->rx_nfree = n->rx_nbufs;
	for (i = 0; i < n->tx_nslots; i++)
		n->tx_free[i] = n->tx_nslots - 1 - i;
	n->tx_nfree = n->tx_nslots;

	r = vg_set_mem_table(&n->d);
	if (r)
		goto err;
	r = vg_vq_setup(&n->d, VG_VQ_RX);
	if (r)
		goto err;
	r = vg_vq_setup(&n->d, VG_VQ_TX);
	if (r)
		goto err;
	return 0;
err:
	vg_net_close(n);
	return r;
}

int vg_net_bind(struct vg_net *n, int ifindex, const uint8_t mac[6],
		uint32_t flags)
{
	return vg_set_nic(&n->d, ifindex, mac, flags);
}

int vg_net_start(struct vg_net *n, int fd)
{
	if (fd < 0) {
		if (n->backend_fd < 0)
			n->backend_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->backend_fd < 0)
			return -errno;
		fd = n->backend_fd;
	}
	return vg_backend_start(&n->d, fd);
}

int vg_net_stop(struct vg_net *n)
{
	return vg_backend_stop(&n->d);
}

/* Spread @len bytes at @gpa over @k buffers, the first ones a byte longer. */
static void vg_split(struct vg_buf *b, unsigned int k, uint64_t gpa,
		     uint32_t len)
{
	uint32_t each = len / k, rem = len % k;
	unsigned int i;

	for (i = 0; i < k; i++) {
		b[i].gpa = gpa;
		b[i].len = each + (i < rem ? 1 : 0);
		gpa += b[i].len;
	}
}

/* Sleep on @vq's call eventfd until @deadline, 50 ms at most; -ETIMEDOUT past it. */
static int vg_net_wait_until(struct vg_net *n, unsigned int vq,
			     uint64_t deadline)
{
	uint64_t now = vg_now_ms();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = vg_vq_wait_call(&n->d, vq,
			    (int)(deadline - now < 50 ? deadline - now : 50));
	return r == -ETIMEDOUT ? 0 : r;
}

/*
 * The next used entry of @vq: its pool index in @id (the cookie is index + 1,
 * below @nids), or -EAGAIN; -EIO with n->err set on a bad entry.
 */
static int vg_net_used_id(struct vg_net *n, unsigned int vq, uint32_t *len,
			  uint32_t nids, uint32_t *id)
{
	const char *dir = vq == VG_VQ_RX ? "Rx" : "Tx";
	void *cookie = NULL;
	int r;

	r = vg_vq_get_used(&n->d, vq, len, &cookie);
	if (r == -EAGAIN)
		return r;
	if (r < 0) {
		if (vq == VG_VQ_RX)
			vg_net_set_err(n, "Rx used entry with a bad id (%d)", r);
		else
			vg_net_set_err(n, "Tx used entry with a bad id");
		return -EIO;
	}
	*id = (uint32_t)((uintptr_t)cookie - 1);
	if (!cookie || *id >= nids) {
		vg_net_set_err(n, "%s used id %d has no %s", dir, r,
			       vq == VG_VQ_RX ? "buffer" : "slot");
		return -EIO;
	}
	return 0;
}

/* ---- Rx ---- */

static int vg_net_rx_add(struct vg_net *n, uint32_t id)
{
	struct vg_buf in[VG_NET_MAX_BUF_DESCS];
	uint64_t gpa = n->rx_pool_gpa + (uint64_t)id * n->rx_stride;
	unsigned int k = n->rx_buf_descs;
	int r;

	if (k > VG_NET_MAX_BUF_DESCS)
		return -EINVAL;
	if (k == 1) {
		vg_split(in, 1, gpa, n->rx_buf_len);
	} else {
		vg_split(in, 1, gpa, n->hdr_len);
		vg_split(in + 1, k - 1, gpa + n->hdr_len,
			 n->rx_buf_len - n->hdr_len);
	}
	r = vg_vq_add(&n->d, VG_VQ_RX, NULL, 0, in, k,
		      (void *)(uintptr_t)(id + 1),
		      n->cfg.rx_indirect ? VG_ADD_INDIRECT : 0);
	return r < 0 ? r : 0;
}

int vg_net_rx_fill(struct vg_net *n, unsigned int max)
{
	unsigned int done = 0;
	int r;

	while (done < max && n->rx_nfree) {
		r = vg_net_rx_add(n, n->rx_free[n->rx_nfree - 1]);
		if (r == -ENOSPC)
			break;
		if (r)
			return r;
		n->rx_nfree--;
		done++;
	}
	return (int)done;
}

int vg_net_rx_kick(struct vg_net *n)
{
	return vg_vq_notify(&n->d, VG_VQ_RX);
}

unsigned int vg_net_rx_posted(const struct vg_net *n)
{
	return n->rx_nbufs - n->rx_nfree;
}

static uint8_t *vg_net_rx_buf(struct vg_net *n, uint32_t id)
{
	return n->rx_pool + (size_t)id * n->rx_stride;
}

/* One used Rx entry: buffer id and length, or -EAGAIN / -EIO. */
static int vg_net_rx_used(struct vg_net *n, uint32_t *id, uint32_t *len)
{
	int r;

	r = vg_net_used_id(n, VG_VQ_RX, len, n->rx_nbufs, id);
	if (r)
		return r;
	n->rx_free[n->rx_nfree++] = *id;
	n->rx_bufs_used++;
	if (n->rx_used_cb)
		n->rx_used_cb(n->rx_used_ctx, *id, *len);
	if (*len > n->rx_buf_len) {
		vg_net_set_err(n, "Rx used len %u > buffer %u", *len,
			       n->rx_buf_len);
		return -EIO;
	}
	return 0;
}

int vg_net_rx_get(struct vg_net *n, struct vg_net_rx *f)
{
	uint32_t id, len, total;
	unsigned int nb, i;
	uint8_t *b;
	int r;

	r = vg_net_rx_used(n, &id, &len);
	if (r)
		return r;
	b = vg_net_rx_buf(n, id);
	if (len < n->hdr_len) {
		vg_net_set_err(n, "Rx used len %u < header %u", len,
			       n->hdr_len);
		return -EIO;
	}
	memset(&f->hdr, 0, sizeof(f->hdr));
	memcpy(&f->hdr, b, n->hdr_len);
	f->nbufs = 1;
	f->data = b + n->hdr_len;
	f->len = len - n->hdr_len;
	n->rx_frames++;
	if (!n->mrg)
		return 0;

	nb = le16toh(f->hdr.num_buffers);
	if (!nb || nb > n->rx_nbufs) {
		vg_net_set_err(n, "Rx num_buffers %u (buffers %u)", nb,
			       n->rx_nbufs);
		return -EIO;
	}
	if (nb == 1)
		return 0;
	memcpy(n->rx_scratch, f->data, f->len);
	total = f->len;
	for (i = 1; i < nb; i++) {
		/* the device publishes a frame's buffers together */
		uint64_t deadline = vg_now_ms() + 2000;

		while ((r = vg_net_rx_used(n, &id, &len)) == -EAGAIN &&
		       vg_now_ms() < deadline)
			vg_vq_wait_call(&n->d, VG_VQ_RX, 10);
		if (r == -EAGAIN) {
			vg_net_set_err(n, "Rx frame: %u of %u buffers used",
				       i, nb);
			return -EIO;
		}
		if (r)
			return r;
		if (total + len > n->hdr_len + VG_NET_MAX_FRAME + 4096) {
			vg_net_set_err(n, "Rx frame over %u bytes",
				       VG_NET_MAX_FRAME);
			return -EIO;
		}
		memcpy(n->rx_scratch + total, vg_net_rx_buf(n, id), len);
		total += len;
	}
	f->nbufs = nb;
	f->data = n->rx_scratch;
	f->len = total;
	return 0;
}

int vg_net_rx_wait(struct vg_net *n, struct vg_net_rx *f, int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	for (;;) {
		r = vg_net_rx_get(n, f);
		if (r != -EAGAIN)
			return r;
		r = vg_net_wait_until(n, VG_VQ_RX, deadline);
		if (r)
			return r;
	}
}

/* ---- Tx ---- */

int vg_net_tx(struct vg_net *n, const struct virtio_net_hdr_mrg_rxbuf *hdr,
	      const void *frame, uint32_t len,
	      const struct vg_tx_layout *lay)
{
	static const struct vg_tx_layout one = { 0, 1, false };
	struct vg_buf out[VG_NET_MAX_BUF_DESCS];
	unsigned int hd, dd, total;
	uint64_t gpa;
	uint32_t id;
	uint8_t *slot;
	int r;

	if (!lay)
		lay = &one;
	hd = lay->hdr_descs;
	dd = lay->data_descs ? lay->data_descs : 1;
	total = hd + dd;
	if (hd > n->hdr_len || total > VG_NET_MAX_BUF_DESCS ||
	    (hd ? dd > len : dd > n->hdr_len + len) ||
	    (lay->indirect && (!n->d.vq[VG_VQ_TX].indirect ||
			       total > n->d.vq[VG_VQ_TX].indirect_max)))
		return -EINVAL;
	if (n->hdr_len + len > n->tx_slot_len)
		return -EMSGSIZE;
	if (!n->tx_nfree ||
	    vg_vq_num_free(&n->d, VG_VQ_TX) < (lay->indirect ? 1 : total))
		return -ENOSPC;

	id = n->tx_free[n->tx_nfree - 1];
	slot = n->tx_pool + (size_t)id * n->tx_stride;
	gpa = n->tx_pool_gpa + (uint64_t)id * n->tx_stride;
	if (hdr)
		memcpy(slot, hdr, n->hdr_len);
	else
		memset(slot, 0, n->hdr_len);
	memcpy(slot + n->hdr_len, frame, len);
	if (hd) {
		vg_split(out, hd, gpa, n->hdr_len);
		vg_split(out + hd, dd, gpa + n->hdr_len, len);
	} else {
		vg_split(out, dd, gpa, n->hdr_len + len);
	}
	r = vg_vq_add(&n->d, VG_VQ_TX, out, total, NULL, 0,
		      (void *)(uintptr_t)(id + 1),
		      lay->indirect ? VG_ADD_INDIRECT : 0);
	if (r < 0)
		return r;
	n->tx_nfree--;
	n->tx_queued++;
	return r;
}

int vg_net_tx_kick(struct vg_net *n)
{
	return vg_vq_notify(&n->d, VG_VQ_TX);
}

int vg_net_tx_reap(struct vg_net *n)
{
	int done = 0, r;

	for (;;) {
		uint32_t id;

		r = vg_net_used_id(n, VG_VQ_TX, NULL, n->tx_nslots, &id);
		if (r == -EAGAIN)
			return done;
		if (r)
			return r;
		n->tx_free[n->tx_nfree++] = id;
		n->tx_completed++;
		done++;
	}
}

unsigned int vg_net_tx_inflight(const struct vg_net *n)
{
	return n->tx_nslots - n->tx_nfree;
}

int vg_net_tx_drain(struct vg_net *n, int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	for (;;) {
		r = vg_net_tx_reap(n);
		if (r < 0)
			return r;
		if (!vg_net_tx_inflight(n))
			return 0;
		r = vg_net_wait_until(n, VG_VQ_TX, deadline);
		if (r)
			return r;
	}
}

/* Kick Tx if @pending frames were queued since the last kick. */
static int vg_net_tx_flush(struct vg_net *n, unsigned int *pending)
{
	int r;

	if (!*pending)
		return 0;
	r = vg_vq_notify(&n->d, VG_VQ_TX);
	if (r < 0)
		return r;
	*pending = 0;
	return 0;
}

/* Kick what is pending, then reap; a completion restarts the @last clock. */
static int vg_net_tx_turn(struct vg_net *n, unsigned int *pending,
			  uint64_t *last)
{
	int r;

	r = vg_net_tx_flush(n, pending);
	if (r < 0)
		return r;
	r = vg_net_tx_reap(n);
	if (r > 0)
		*last = vg_now_ms();
	return r;
}

int vg_net_tx_burst(struct vg_net *n, const void *frame, uint32_t len,
		    uint32_t seq, size_t seq_off, unsigned int count,
		    unsigned int batch, int timeout_ms)
{
	struct vg_vq *vq = &n->d.vq[VG_VQ_TX];
	unsigned int sent = 0, pending = 0;
	uint64_t last = vg_now_ms();
	int r;

	if (n->hdr_len + len > n->tx_slot_len)
		return -EMSGSIZE;
	if (seq_off != VG_NO_SEQ && seq_off + 4 > len)
		return -EINVAL;
	while (sent < count) {
		struct vg_buf b;
		uint8_t *slot;
		uint32_t id, s;

		if (!n->tx_nfree || !vq->num_free) {
			r = vg_net_tx_turn(n, &pending, &last);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
			if (vg_now_ms() - last > (uint64_t)timeout_ms)
				return -ETIMEDOUT;
			r = vg_vq_wait_call(&n->d, VG_VQ_TX, 20);
			if (r && r != -ETIMEDOUT)
				return r;
			continue;
		}
		id = n->tx_free[--n->tx_nfree];
		slot = n->tx_pool + (size_t)id * n->tx_stride;
		memset(slot, 0, n->hdr_len);
		memcpy(slot + n->hdr_len, frame, len);
		if (seq_off != VG_NO_SEQ) {
			s = htole32(seq + sent);
			memcpy(slot + n->hdr_len + seq_off, &s, 4);
		}
		b.gpa = n->tx_pool_gpa + (uint64_t)id * n->tx_stride;
		b.len = n->hdr_len + len;
		r = vg_vq_add(&n->d, VG_VQ_TX, &b, 1, NULL, 0,
			      (void *)(uintptr_t)(id + 1), 0);
		if (r < 0) {
			n->tx_free[n->tx_nfree++] = id;
			return r;
		}
		n->tx_queued++;
		sent++;
		if (batch && ++pending >= batch) {
			r = vg_net_tx_turn(n, &pending, &last);
			if (r < 0)
				return r;
		} else if (!batch) {
			pending++;
		}
	}
	r = vg_net_tx_flush(n, &pending);
	if (r < 0)
		return r;
	return (int)count;
}

/* Post every free Rx buffer and kick. */
static int vg_net_rx_refill(struct vg_net *n)
{
	int r;

	r = vg_net_rx_fill(n, n->rx_nfree);
	if (r < 0)
		return r;
	return vg_net_rx_kick(n);
}

int vg_net_rx_burst(struct vg_net *n, unsigned int max, int idle_ms,
		    vg_net_rx_cb cb, void *ctx, unsigned int *got)
{
	unsigned int rcvd = 0, low = n->rx_nbufs / 4 ? n->rx_nbufs / 4 : 1;
	uint64_t last = vg_now_ms();
	struct vg_net_rx f;
	int r;

	if (got)
		*got = 0;
	r = vg_net_rx_refill(n);
	if (r < 0)
		return r;
	while (rcvd < max) {
		r = vg_net_rx_get(n, &f);
		if (!r) {
			rcvd++;
			if (got)
				*got = rcvd;
			last = vg_now_ms();
			if (cb) {
				r = cb(ctx, &f);
				if (r)
					return r;
			}
			if (n->rx_nfree >= low) {
				r = vg_net_rx_refill(n);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (r != -EAGAIN)
			return r;
		if (n->rx_nfree) {
			r = vg_net_rx_refill(n);
			if (r < 0)
				return r;
		}
		if (vg_now_ms() - last >= (uint64_t)idle_ms)
			break;
		r = vg_vq_wait_call(&n->d, VG_VQ_RX, 20);
		if (r && r != -ETIMEDOUT)
			return r;
	}
	return 0;
}

uint64_t vg_net_rx_buf_gpa(const struct vg_net *n, uint32_t id)
{
	return n->rx_pool_gpa + (uint64_t)id * n->rx_stride;
}
