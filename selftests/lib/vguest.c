// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: user-space virtio guest for vhost-net style devices.
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

#include "vguest.h"

#define VG_PF_KTHREAD	0x00200000UL

static uint64_t vg_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

static uint64_t vg_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static bool vg_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static void vg_close_fdp(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- device ---------------------------------------------------------- */

static void vg_vq_reset_state(struct vg_vq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

int vg_open(struct vg_dev *d, const char *path)
{
	unsigned int i;
	int fd;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	for (i = 0; i < VG_NVQS; i++)
		vg_vq_reset_state(&d->vq[i]);
	if (!path)
		return -EINVAL;
	snprintf(d->path, sizeof(d->path), "%s", path);

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d->fd = fd;
	return 0;
}

int vg_reopen(struct vg_dev *d)
{
	int fd;

	if (d->fd >= 0)
		return -EBUSY;
	fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d->fd = fd;
	return 0;
}

int vg_close_fd(struct vg_dev *d)
{
	int r = 0;

	if (d->fd >= 0 && close(d->fd))
		r = -errno;
	d->fd = -1;
	return r;
}

int vg_close(struct vg_dev *d)
{
	unsigned int i;
	int r;

	r = vg_close_fd(d);
	for (i = 0; i < VG_NVQS; i++)
		vg_vq_fini(d, i);
	vg_mem_release(d);
	return r;
}

int vg_xioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		return -errno;
	return r;
}

int vg_ioctl(struct vg_dev *d, unsigned long req, void *arg)
{
	return vg_xioctl(d->fd, req, arg);
}

int vg_set_owner(struct vg_dev *d)
{
	return vg_ioctl(d, VHOST_SET_OWNER, NULL);
}

int vg_reset_owner(struct vg_dev *d)
{
	return vg_ioctl(d, VHOST_RESET_OWNER, NULL);
}

int vg_get_features(struct vg_dev *d, uint64_t *features)
{
	__u64 f = 0;
	int r;

	r = vg_ioctl(d, VHOST_GET_FEATURES, &f);
	if (!r)
		*features = f;
	return r;
}

int vg_set_features(struct vg_dev *d, uint64_t features)
{
	__u64 f = features;
	int r;

	r = vg_ioctl(d, VHOST_SET_FEATURES, &f);
	if (!r)
		d->features = features;
	return r;
}

int vg_get_backend_features(struct vg_dev *d, uint64_t *features)
{
	__u64 f = 0;
	int r;

	r = vg_ioctl(d, VHOST_GET_BACKEND_FEATURES, &f);
	if (!r)
		*features = f;
	return r;
}

int vg_set_backend_features(struct vg_dev *d, uint64_t features)
{
	__u64 f = features;

	return vg_ioctl(d, VHOST_SET_BACKEND_FEATURES, &f);
}

int vg_get_stats(struct vg_dev *d, struct vhost_accel_stats *st)
{
	memset(st, 0, sizeof(*st));
	return vg_ioctl(d, VHOST_ACCEL_GET_STATS, st);
}

/* ---- guest memory ---------------------------------------------------- */

int vg_mem_add(struct vg_dev *d, uint64_t gpa, uint64_t size,
	       unsigned int flags)
{
	uint64_t ps = vg_page_size();
	struct vg_region *rg;
	unsigned int i;
	int mflags;
	void *p;

	if (!size || (gpa | size) & (ps - 1) || gpa + size < gpa)
		return -EINVAL;
	if (d->nregions >= VG_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < d->nregions; i++) {
		rg = &d->region[i];
		if (gpa < rg->gpa + rg->size && rg->gpa < gpa + size)
			return -EEXIST;
	}

	mflags = MAP_ANONYMOUS;
	mflags |= (flags & VG_MEM_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	if (flags & VG_MEM_POPULATE)
		mflags |= MAP_POPULATE;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, mflags, -1, 0);
	if (p == MAP_FAILED)
		return -errno;

	rg = &d->region[d->nregions];
	rg->gpa = gpa;
	rg->size = size;
	rg->hva = p;
	rg->used = 0;
	return d->nregions++;
}

int vg_mem_init(struct vg_dev *d, uint64_t size)
{
	int r = vg_mem_add(d, 0, vg_align_up(size, vg_page_size()), 0);

	return r < 0 ? r : 0;
}

void vg_mem_release(struct vg_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nregions; i++)
		munmap(d->region[i].hva, d->region[i].size);
	d->nregions = 0;
}

uint64_t vg_mem_size(const struct vg_dev *d)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < d->nregions; i++)
		total += d->region[i].size;
	return total;
}

int vg_mem_alloc(struct vg_dev *d, uint64_t size, uint64_t align,
		 uint64_t *gpa, void **hva)
{
	unsigned int i;

	if (!size || !vg_is_pow2(align ? align : 1))
		return -EINVAL;
	if (!align)
		align = 1;
	for (i = 0; i < d->nregions; i++) {
		struct vg_region *rg = &d->region[i];
		/* align the GPA: the device sees GPAs in descriptors */
		uint64_t start = vg_align_up(rg->gpa + rg->used, align);
		uint64_t off = start - rg->gpa;

		if (off > rg->size || rg->size - off < size)
			continue;
		rg->used = off + size;
		if (gpa)
			*gpa = start;
		if (hva)
			*hva = (char *)rg->hva + off;
		return 0;
	}
	return -ENOMEM;
}

void *vg_gpa_to_hva(const struct vg_dev *d, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < d->nregions; i++) {
		const struct vg_region *rg = &d->region[i];

		if (gpa >= rg->gpa && gpa - rg->gpa <= rg->size &&
		    len <= rg->size - (gpa - rg->gpa))
			return (char *)rg->hva + (gpa - rg->gpa);
	}
	return NULL;
}

int vg_hva_to_gpa(const struct vg_dev *d, const void *hva, uint64_t len,
		  uint64_t *gpa)
{
	uintptr_t a = (uintptr_t)hva;
	unsigned int i;

	for (i = 0; i < d->nregions; i++) {
		const struct vg_region *rg = &d->region[i];
		uintptr_t base = (uintptr_t)rg->hva;

		if (a >= base && a - base <= rg->size &&
		    len <= rg->size - (a - base)) {
			*gpa = rg->gpa + (a - base);
			return 0;
		}
	}
	return -ENOENT;
}

int vg_set_mem_table_raw(int fd, const struct vhost_memory_region *r,
			 uint32_t nregions, uint32_t padding)
{
	struct vhost_memory *m;
	int ret;

	m = calloc(1, sizeof(*m) + (size_t)nregions * sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = nregions;
	m->padding = padding;
	if (nregions && r)
		memcpy(m->regions, r, (size_t)nregions * sizeof(*r));
	ret = vg_xioctl(fd, VHOST_SET_MEM_TABLE, m);
	free(m);
	return ret;
}

int vg_set_mem_table(struct vg_dev *d)
{
	struct vhost_memory_region r[VG_MAX_REGIONS];
	unsigned int i;

	memset(r, 0, sizeof(r));
	for (i = 0; i < d->nregions; i++) {
		r[i].guest_phys_addr = d->region[i].gpa;
		r[i].memory_size = d->region[i].size;
		r[i].userspace_addr = (uintptr_t)d->region[i].hva;
	}
	return vg_set_mem_table_raw(d->fd, r, d->nregions, 0);
}

/* ---- raw per-vring ioctls -------------------------------------------- */

static int vg_vring_state(struct vg_dev *d, unsigned long req,
			  unsigned int idx, unsigned int *num)
{
	struct vhost_vring_state s = { .index = idx, .num = *num };
	int r;

	r = vg_ioctl(d, req, &s);
	if (!r)
		*num = s.num;
	return r;
}

static int vg_vring_file(struct vg_dev *d, unsigned long req,
			 unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return vg_ioctl(d, req, &f);
}

int vg_set_vring_num(struct vg_dev *d, unsigned int idx, unsigned int num)
{
	return vg_vring_state(d, VHOST_SET_VRING_NUM, idx, &num);
}

int vg_set_vring_base(struct vg_dev *d, unsigned int idx, unsigned int num)
{
	return vg_vring_state(d, VHOST_SET_VRING_BASE, idx, &num);
}

int vg_get_vring_base(struct vg_dev *d, unsigned int idx, unsigned int *num)
{
	unsigned int n = 0;
	int r;

	r = vg_vring_state(d, VHOST_GET_VRING_BASE, idx, &n);
	if (!r)
		*num = n;
	return r;
}

int vg_set_vring_addr(struct vg_dev *d, unsigned int idx, uint64_t desc,
		      uint64_t avail, uint64_t used, uint64_t log,
		      unsigned int flags)
{
	struct vhost_vring_addr a = {
		.index = idx,
		.flags = flags,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
		.log_guest_addr = log,
	};

	return vg_ioctl(d, VHOST_SET_VRING_ADDR, &a);
}

int vg_set_vring_kick(struct vg_dev *d, unsigned int idx, int fd)
{
	return vg_vring_file(d, VHOST_SET_VRING_KICK, idx, fd);
}

int vg_set_vring_call(struct vg_dev *d, unsigned int idx, int fd)
{
	return vg_vring_file(d, VHOST_SET_VRING_CALL, idx, fd);
}

int vg_set_vring_err(struct vg_dev *d, unsigned int idx, int fd)
{
	return vg_vring_file(d, VHOST_SET_VRING_ERR, idx, fd);
}

int vg_set_vring_busyloop(struct vg_dev *d, unsigned int idx,
			  unsigned int timeout)
{
	return vg_vring_state(d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, idx,
			      &timeout);
}

int vg_get_vring_busyloop(struct vg_dev *d, unsigned int idx,
			  unsigned int *timeout)
{
	unsigned int n = 0;
	int r;

	r = vg_vring_state(d, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, idx, &n);
	if (!r)
		*timeout = n;
	return r;
}

int vg_set_log_base(struct vg_dev *d, uint64_t base)
{
	__u64 b = base;

	return vg_ioctl(d, VHOST_SET_LOG_BASE, &b);
}

int vg_set_log_fd(struct vg_dev *d, int fd)
{
	return vg_ioctl(d, VHOST_SET_LOG_FD, &fd);
}

int vg_set_backend(struct vg_dev *d, unsigned int idx, int fd)
{
	return vg_vring_file(d, VHOST_NET_SET_BACKEND, idx, fd);
}

/* ---- virtqueues ------------------------------------------------------ */

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

static struct vg_vq *vg_vq_get(struct vg_dev *d, unsigned int idx)
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

	vg_vq_reset_state(vq);
	vq->num = num;

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
		size_t sz = sizeof(struct vring_desc) * VG_INDIRECT_MAX * num;

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
		if (!vq->indirect || total > VG_INDIRECT_MAX)
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
					 (size_t)head * VG_INDIRECT_MAX;
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
			 (uint64_t)head * VG_INDIRECT_MAX * sizeof(*tbl);
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
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;
	int r;

	if (fd < 0)
		return -EINVAL;
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
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

unsigned int vg_vq_num_free(const struct vg_dev *d, unsigned int idx)
{
	if (idx >= VG_NVQS)
		return 0;
	return d->vq[idx].num_free;
}

/* ---- process helpers ------------------------------------------------- */

uint64_t vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vg_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int vg_proc_status_kb(const char *key, uint64_t *kb)
{
	size_t klen = strlen(key);
	char line[256];
	int r = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		errno = 0;
		*kb = strtoull(line + klen + 1, &end, 10);
		r = (errno || end == line + klen + 1) ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return r;
}

int vg_vmlck_kb(uint64_t *kb)
{
	return vg_proc_status_kb("VmLck", kb);
}

static int vg_caps(struct __user_cap_data_struct data[2], bool set)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	long r;

	r = syscall(set ? SYS_capset : SYS_capget, &hdr, data);
	return r ? -errno : 0;
}

int vg_drop_cap(int cap)
{
	struct __user_cap_data_struct data[2];
	__u32 bit;
	int r;

	if (cap < 0 || cap >= 64)
		return -EINVAL;
	r = vg_caps(data, false);
	if (r)
		return r;
	bit = 1U << (cap % 32);
	data[cap / 32].effective &= ~bit;
	data[cap / 32].permitted &= ~bit;
	data[cap / 32].inheritable &= ~bit;
	return vg_caps(data, true);
}

int vg_have_cap(int cap)
{
	struct __user_cap_data_struct data[2];
	int r;

	if (cap < 0 || cap >= 64)
		return -EINVAL;
	r = vg_caps(data, false);
	if (r)
		return r;
	return !!(data[cap / 32].effective & (1U << (cap % 32)));
}

int vg_set_memlock(uint64_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

int vg_read_u64_file(const char *path, uint64_t *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

void vg_worker_comm(pid_t owner, char *buf, size_t len)
{
	snprintf(buf, len, VG_WORKER_PREFIX "%d", (int)owner);
}

bool vg_comm_matches(const char *comm, const char *name)
{
	size_t n = strlen(comm);

	if (!strcmp(comm, name))
		return true;
	return n == VG_TASK_COMM_LEN - 1 && !strncmp(comm, name, n);
}

int vg_task_comm(pid_t tid, char *buf, size_t len, bool *is_kthread)
{
	char path[64], stat[512], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	stat[n] = '\0';

	/* "pid (comm) state ppid ... flags": comm may contain ')' */
	p = strchr(stat, '(');
	if (p && buf && len) {
		char *q = strrchr(stat, ')');
		size_t cl = q && q > p ? (size_t)(q - p - 1) : 0;

		if (cl >= len)
			cl = len - 1;
		memcpy(buf, p + 1, cl);
		buf[cl] = '\0';
	}
	p = strrchr(stat, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* fields after comm: state(3) ppid pgrp session tty tpgid flags(9) */
	for (i = 0; i < 6 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	flags = strtoul(p + 1, NULL, 10);
	if (is_kthread)
		*is_kthread = flags & VG_PF_KTHREAD;
	return 0;
}

int vg_find_worker(pid_t owner, pid_t *tid)
{
	char want[VG_COMM_BUF], comm[VG_COMM_BUF];
	struct dirent *de;
	int found = 0;
	DIR *dir;

	vg_worker_comm(owner, want, sizeof(want));
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		bool kthread = false;
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (vg_task_comm(pid, comm, sizeof(comm), &kthread))
			continue;
		if (!kthread || !vg_comm_matches(comm, want))
			continue;
		if (!found && tid)
			*tid = pid;
		found++;
	}
	closedir(dir);
	return found ? found : -ENOENT;
}
