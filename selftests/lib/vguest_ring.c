// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: split virtqueues: descriptors, avail and used rings.
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

/* ---- virtqueues ------------------------------------------------------ */

void vg_vq_reset_state(struct vg_vq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

size_t vg_vring_desc_size(unsigned int num)
{
	return sizeof(struct vring_desc) * (size_t)num;
}

size_t vg_vring_avail_size(unsigned int num)
{
	/* flags, idx, ring[num], used_event */
	return sizeof(__u16) * (3 + (size_t)num);
}

size_t vg_vring_used_size(unsigned int num)
{
	/* flags, idx, ring[num], avail_event */
	return sizeof(__u16) * 3 + sizeof(struct vring_used_elem) * (size_t)num;
}

size_t vg_vring_legacy_size(unsigned int num, unsigned long align)
{
	if (!align)
		align = 4096;
	return vg_align_up(vg_vring_desc_size(num) + vg_vring_avail_size(num),
			   align) + vg_vring_used_size(num);
}

struct vg_vq *vg_vq_get(struct vg_dev *d, unsigned int idx)
{
	if (idx >= VG_NVQS)
		return NULL;
	return &d->vq[idx];
}

static bool vg_event_idx(const struct vg_dev *d)
{
	return d->features & VG_FBIT(VIRTIO_RING_F_EVENT_IDX);
}

void vg_vq_fini(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq)
		return;
	vg_close_fdp(&vq->kick_fd);
	vg_close_fdp(&vq->call_fd);
	vg_close_fdp(&vq->err_fd);
	free(vq->free_next);
	free(vq->chain_len);
	free(vq->cookie);
	free(vq->in_flight);
	/* ring memory belongs to guest memory: it is not returned */
	vg_vq_reset_state(vq);
}

int vg_vq_init(struct vg_dev *d, unsigned int idx, unsigned int num,
	       unsigned int flags, unsigned long align)
{
	return vg_vq_init2(d, idx, num, flags, align, VG_INDIRECT_MAX);
}

int vg_vq_init2(struct vg_dev *d, unsigned int idx, unsigned int num,
		unsigned int flags, unsigned long align,
		unsigned int indirect_max)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	void *hva;
	unsigned int i;
	int r;

	if (!vq)
		return -EINVAL;
	if (vq->ready)
		return -EBUSY;
	if (!vg_is_pow2(num) || num > VG_VRING_MAX)
		return -EINVAL;
	if (!align)
		align = 4096;
	if (!vg_is_pow2(align) || align < VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	if ((flags & VG_VQ_INDIRECT) && (!indirect_max || indirect_max > 65536))
		return -EINVAL;

	vg_vq_reset_state(vq);
	vq->num = num;
	vq->indirect_max = indirect_max;

	if (flags & VG_VQ_LEGACY_LAYOUT) {
		size_t sz = vg_vring_legacy_size(num, align);
		uint64_t used_off;

		r = vg_mem_alloc(d, sz, align > 4096 ? align : 4096,
				 &vq->desc_gpa, &hva);
		if (r)
			goto err;
		memset(hva, 0, sz);
		vq->avail_gpa = vq->desc_gpa + vg_vring_desc_size(num);
		used_off = vg_align_up(vg_vring_desc_size(num) +
				       vg_vring_avail_size(num), align);
		vq->used_gpa = vq->desc_gpa + used_off;
	} else {
		r = vg_mem_alloc(d, vg_vring_desc_size(num),
				 VRING_DESC_ALIGN_SIZE, &vq->desc_gpa, &hva);
		if (r)
			goto err;
		memset(hva, 0, vg_vring_desc_size(num));
		r = vg_mem_alloc(d, vg_vring_avail_size(num),
				 VRING_AVAIL_ALIGN_SIZE, &vq->avail_gpa, &hva);
		if (r)
			goto err;
		memset(hva, 0, vg_vring_avail_size(num));
		r = vg_mem_alloc(d, vg_vring_used_size(num),
				 VRING_USED_ALIGN_SIZE, &vq->used_gpa, &hva);
		if (r)
			goto err;
		memset(hva, 0, vg_vring_used_size(num));
	}
	vq->desc = vg_gpa_to_hva(d, vq->desc_gpa, vg_vring_desc_size(num));
	vq->avail = vg_gpa_to_hva(d, vq->avail_gpa, vg_vring_avail_size(num));
	vq->used = vg_gpa_to_hva(d, vq->used_gpa, vg_vring_used_size(num));
	if (!vq->desc || !vq->avail || !vq->used) {
		r = -EFAULT;
		goto err;
	}

	if (flags & VG_VQ_INDIRECT) {
		size_t sz = sizeof(struct vring_desc) * vq->indirect_max * num;

		r = vg_mem_alloc(d, sz, VRING_DESC_ALIGN_SIZE,
				 &vq->indirect_gpa, &hva);
		if (r)
			goto err;
		memset(hva, 0, sz);
		vq->indirect = hva;
	}

	vq->free_next = calloc(num, sizeof(*vq->free_next));
	vq->chain_len = calloc(num, sizeof(*vq->chain_len));
	vq->cookie = calloc(num, sizeof(*vq->cookie));
	vq->in_flight = calloc(num, sizeof(*vq->in_flight));
	if (!vq->free_next || !vq->chain_len || !vq->cookie ||
	    !vq->in_flight) {
		r = -ENOMEM;
		goto err;
	}
	for (i = 0; i < num; i++)
		vq->free_next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = num;

	vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0) {
		r = -errno;
		goto err;
	}
	vq->ready = true;
	return 0;
err:
	vg_vq_fini(d, idx);
	return r;
}

int vg_vq_setup(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	int r;

	if (!vq || !vq->ready)
		return -EINVAL;
	r = vg_set_vring_num(d, idx, vq->num);
	if (r)
		return r;
	r = vg_set_vring_base(d, idx, vq->avail_idx);
	if (r)
		return r;
	r = vg_set_vring_addr(d, idx, (uintptr_t)vq->desc,
			      (uintptr_t)vq->avail, (uintptr_t)vq->used, 0, 0);
	if (r)
		return r;
	r = vg_set_vring_kick(d, idx, vq->kick_fd);
	if (r)
		return r;
	r = vg_set_vring_call(d, idx, vq->call_fd);
	if (r)
		return r;
	return vg_set_vring_err(d, idx, vq->err_fd);
}

int vg_setup_vring(struct vg_dev *d, unsigned int idx, unsigned int num)
{
	int r;

	r = vg_vq_init(d, idx, num, 0, 0);
	if (r)
		return r;
	return vg_vq_setup(d, idx);
}

static void vg_desc_fill(struct vring_desc *desc, const struct vg_buf *b,
			 uint16_t flags, uint16_t next)
{
	desc->addr = htole64(b->gpa);
	desc->len = htole32(b->len);
	desc->flags = htole16(flags);
	desc->next = htole16(next);
}

int vg_vq_add(struct vg_dev *d, unsigned int idx,
	      const struct vg_buf *out, unsigned int nout,
	      const struct vg_buf *in, unsigned int nin,
	      void *cookie, unsigned int flags)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	unsigned int total = nout + nin, need, i;
	uint16_t head, cur;

	if (!vq || !vq->ready || !total || total > vq->num ||
	    (nout && !out) || (nin && !in))
		return -EINVAL;
	if (flags & VG_ADD_INDIRECT) {
		if (!vq->indirect || total > vq->indirect_max)
			return -EINVAL;
		need = 1;
	} else {
		need = total;
	}
	if (vq->num_free < need)
		return -ENOSPC;

	head = vq->free_head;
	if (flags & VG_ADD_INDIRECT) {
		struct vring_desc *tbl = vq->indirect +
					 (size_t)head * vq->indirect_max;
		struct vg_buf ib;

		for (i = 0; i < total; i++) {
			const struct vg_buf *b = i < nout ? &out[i] :
							    &in[i - nout];
			uint16_t f = i < nout ? 0 : VRING_DESC_F_WRITE;

			if (i + 1 < total)
				f |= VRING_DESC_F_NEXT;
			vg_desc_fill(&tbl[i], b, f,
				     i + 1 < total ? (uint16_t)(i + 1) : 0);
		}
		ib.gpa = vq->indirect_gpa +
			 (uint64_t)head * vq->indirect_max * sizeof(*tbl);
		ib.len = total * sizeof(*tbl);
		vg_desc_fill(&vq->desc[head], &ib, VRING_DESC_F_INDIRECT, 0);
		cur = vq->free_next[head];
	} else {
		cur = head;
		for (i = 0; i < total; i++) {
			const struct vg_buf *b = i < nout ? &out[i] :
							    &in[i - nout];
			uint16_t f = i < nout ? 0 : VRING_DESC_F_WRITE;
			uint16_t next = vq->free_next[cur];

			if (i + 1 < total)
				f |= VRING_DESC_F_NEXT;
			vg_desc_fill(&vq->desc[cur], b, f,
				     i + 1 < total ? next : 0);
			cur = next;
		}
	}
	vq->free_head = cur;
	vq->num_free -= need;
	vq->chain_len[head] = need;
	vq->cookie[head] = cookie;
	vq->in_flight[head] = true;

	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	/* descriptors and ring entry before the index */
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
	return head;
}

bool vg_vq_kick_needed(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	uint16_t event, new_idx, old_idx;

	if (!vq || !vq->ready)
		return false;
	/* our avail->idx store before reading the device's suppression */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vg_event_idx(d))
		return !(le16toh(__atomic_load_n(&vq->used->flags,
						 __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	event = le16toh(__atomic_load_n((__u16 *)&vq->used->ring[vq->num],
					__ATOMIC_RELAXED));
	new_idx = vq->avail_idx;
	old_idx = vq->kicked_idx;
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

int vg_vq_kick(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	uint64_t one = 1;

	if (!vq || vq->kick_fd < 0)
		return -EINVAL;
	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int vg_vq_notify(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	int r;

	if (!vq || !vq->ready)
		return -EINVAL;
	if (!vg_vq_kick_needed(d, idx)) {
		vq->kicked_idx = vq->avail_idx;
		return 0;
	}
	r = vg_vq_kick(d, idx);
	return r ? r : 1;
}

static void vg_vq_publish_used_event(struct vg_dev *d, struct vg_vq *vq)
{
	if (vg_event_idx(d) && !vq->cb_disabled)
		__atomic_store_n(&vq->avail->ring[vq->num],
				 htole16(vq->last_used_idx), __ATOMIC_RELAXED);
}

int vg_vq_get_used(struct vg_dev *d, unsigned int idx, uint32_t *len,
		   void **cookie)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	struct vring_used_elem *e;
	uint16_t used_idx, last;
	uint32_t id, n;

	if (!vq || !vq->ready)
		return -EINVAL;
	used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	if (used_idx == vq->last_used_idx)
		return -EAGAIN;
	e = &vq->used->ring[vq->last_used_idx & (vq->num - 1)];
	id = le32toh(e->id);
	if (len)
		*len = le32toh(e->len);
	vq->last_used_idx++;
	vg_vq_publish_used_event(d, vq);
	if (id >= vq->num || !vq->in_flight[id])
		return -EIO;

	/* the chain's free_next links are untouched while in flight */
	last = (uint16_t)id;
	for (n = 1; n < vq->chain_len[id]; n++)
		last = vq->free_next[last];
	vq->free_next[last] = vq->free_head;
	vq->free_head = (uint16_t)id;
	vq->num_free += vq->chain_len[id];
	vq->in_flight[id] = false;
	if (cookie)
		*cookie = vq->cookie[id];
	vq->cookie[id] = NULL;
	return (int)id;
}

static int vg_wait_fd(int fd, int timeout_ms)
{
	uint64_t v;
	int r;

	if (fd < 0)
		return -EINVAL;
	r = vg_poll_in(fd, timeout_ms);
	if (r)
		return r;
	if (read(fd, &v, sizeof(v)) != sizeof(v) && errno != EAGAIN)
		return -errno;
	return 0;
}

int vg_vq_wait_call(struct vg_dev *d, unsigned int idx, int timeout_ms)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	return vq ? vg_wait_fd(vq->call_fd, timeout_ms) : -EINVAL;
}

int vg_vq_wait_err(struct vg_dev *d, unsigned int idx, int timeout_ms)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	return vq ? vg_wait_fd(vq->err_fd, timeout_ms) : -EINVAL;
}

int vg_vq_wait_used(struct vg_dev *d, unsigned int idx, int timeout_ms,
		    uint32_t *len, void **cookie)
{
	uint64_t deadline = vg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	for (;;) {
		uint64_t now;

		r = vg_vq_get_used(d, idx, len, cookie);
		if (r != -EAGAIN)
			return r;
		now = vg_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		/* wake up now and then: calls may be suppressed */
		r = vg_vq_wait_call(d, idx, (int)(deadline - now < 100 ?
						  deadline - now : 100));
		if (r && r != -ETIMEDOUT)
			return r;
	}
}

void vg_vq_disable_cb(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq || !vq->ready)
		return;
	vq->cb_disabled = true;
	__atomic_store_n(&vq->avail->flags, htole16(VRING_AVAIL_F_NO_INTERRUPT),
			 __ATOMIC_RELAXED);
	/* with EVENT_IDX the flag is ignored: park used_event behind us */
	if (vg_event_idx(d))
		__atomic_store_n(&vq->avail->ring[vq->num],
				 htole16((uint16_t)(vq->last_used_idx - 1)),
				 __ATOMIC_RELAXED);
}

void vg_vq_enable_cb(struct vg_dev *d, unsigned int idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq || !vq->ready)
		return;
	vq->cb_disabled = false;
	__atomic_store_n(&vq->avail->flags, 0, __ATOMIC_RELAXED);
	vg_vq_publish_used_event(d, vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int vg_vq_arm_cb(struct vg_dev *d, unsigned int idx, bool delayed)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	uint16_t used, bufs = 0;

	if (!vq || !vq->ready)
		return -EINVAL;
	vg_vq_enable_cb(d, idx);
	if (delayed && vg_event_idx(d)) {
		bufs = (uint16_t)((uint16_t)(vq->avail_idx -
					      vq->last_used_idx) * 3 / 4);
		__atomic_store_n(&vq->avail->ring[vq->num],
				 htole16((uint16_t)(vq->last_used_idx + bufs)),
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	/* already past the event: no call will come for those */
	return (uint16_t)(used - vq->last_used_idx) > bufs ||
	       (!bufs && used != vq->last_used_idx);
}

int vg_vq_wait_cb(struct vg_dev *d, unsigned int idx, int timeout_ms,
		  bool delayed)
{
	int r = vg_vq_arm_cb(d, idx, delayed);

	if (r == 0) {
		r = vg_vq_wait_call(d, idx, timeout_ms);
		if (r == -ETIMEDOUT)
			r = 0;
	} else if (r > 0) {
		r = 0;
	}
	vg_vq_disable_cb(d, idx);
	return r;
}

unsigned int vg_vq_num_free(const struct vg_dev *d, unsigned int idx)
{
	if (idx >= VG_NVQS)
		return 0;
	return d->vq[idx].num_free;
}

/* ---- raw ring access ------------------------------------------------- */

int vg_vq_take_descs(struct vg_dev *d, unsigned int idx, unsigned int n,
		     uint16_t *ids)
{
	struct vg_vq *vq = vg_vq_get(d, idx);
	unsigned int i;

	if (!vq || !vq->ready)
		return -EINVAL;
	if (vq->num_free < n)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		ids[i] = vq->free_head;
		vq->free_head = vq->free_next[vq->free_head];
	}
	vq->num_free -= n;
	return 0;
}

int vg_vq_publish_raw(struct vg_dev *d, unsigned int idx, uint16_t head)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq || !vq->ready)
		return -EINVAL;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
	return 0;
}

int vg_vq_set_avail_idx_raw(struct vg_dev *d, unsigned int idx,
			    uint16_t avail_idx)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq || !vq->ready)
		return -EINVAL;
	vq->avail_idx = avail_idx;
	__atomic_store_n(&vq->avail->idx, htole16(avail_idx),
			 __ATOMIC_RELEASE);
	return 0;
}

uint16_t vg_vq_used_idx(const struct vg_dev *d, unsigned int idx)
{
	if (idx >= VG_NVQS || !d->vq[idx].ready)
		return 0;
	return le16toh(__atomic_load_n(&d->vq[idx].used->idx,
				       __ATOMIC_ACQUIRE));
}

int vg_vq_set_log(struct vg_dev *d, unsigned int idx, bool on)
{
	struct vg_vq *vq = vg_vq_get(d, idx);

	if (!vq || !vq->ready)
		return -EINVAL;
	return vg_set_vring_addr(d, idx, (uintptr_t)vq->desc,
				 (uintptr_t)vq->avail, (uintptr_t)vq->used,
				 on ? vq->used_gpa : 0,
				 on ? 1U << VHOST_VRING_F_LOG : 0);
}

void vg_desc_set(struct vring_desc *d, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}
