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

/* An ioctl that reads one u64; *@out is written only on success. */
static int vg_ioctl_get_u64(struct vg_dev *d, unsigned long req,
			    uint64_t *out)
{
	__u64 v = 0;
	int r;

	r = vg_ioctl(d, req, &v);
	if (!r)
		*out = v;
	return r;
}

int vg_get_features(struct vg_dev *d, uint64_t *features)
{
	return vg_ioctl_get_u64(d, VHOST_GET_FEATURES, features);
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
	return vg_ioctl_get_u64(d, VHOST_GET_BACKEND_FEATURES, features);
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

/* ---- process helpers ------------------------------------------------- */

uint64_t vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned int vg_time_scale(void)
{
	static unsigned int scale;
	const char *e;
	char *end;
	unsigned long v;

	if (scale)
		return scale;
	scale = 1;
	e = getenv("VG_TIME_SCALE");
	if (e && *e) {
		errno = 0;
		v = strtoul(e, &end, 10);
		if (!errno && !*end && v >= 1 && v <= 20)
			scale = (unsigned int)v;
	}
	return scale;
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

/* ---- datapath: NIC binding and backends ------------------------------ */

int vg_set_nic(struct vg_dev *d, int ifindex, const uint8_t mac[6],
	       uint32_t flags)
{
	struct vhost_accel_nic_bind b;

	memset(&b, 0, sizeof(b));
	b.ifindex = ifindex;
	b.flags = flags;
	if (mac)
		memcpy(b.mac, mac, 6);
	return vg_ioctl(d, VHOST_ACCEL_SET_NIC, &b);
}

int vg_clear_nic(struct vg_dev *d)
{
	return vg_set_nic(d, 0, NULL, 0);
}

int vg_backend_start(struct vg_dev *d, int fd)
{
	int r;

	r = vg_set_backend(d, VG_VQ_RX, fd);
	if (r)
		return r;
	return vg_set_backend(d, VG_VQ_TX, fd);
}

int vg_backend_stop(struct vg_dev *d)
{
	int r1 = vg_set_backend(d, VG_VQ_RX, -1);
	int r2 = vg_set_backend(d, VG_VQ_TX, -1);

	return r1 ? r1 : r2;
}

unsigned int vg_net_hdr_len(uint64_t features)
{
	if (features & (VG_FBIT(VIRTIO_F_VERSION_1) |
			VG_FBIT(VIRTIO_NET_F_MRG_RXBUF)))
		return sizeof(struct virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct virtio_net_hdr);
}

/* ---- virtio-net guest ------------------------------------------------ */

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

int vg_net_open(struct vg_net *n, const char *path,
		const struct vg_net_cfg *cfg)
{
	uint64_t ps = vg_page_size(), size, gpa;
	struct vg_net_cfg c = *cfg;
	bool indirect;
	unsigned int i, vqflags;
	void *hva;
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
	r = vg_mem_alloc(&n->d, (uint64_t)n->rx_nbufs * n->rx_stride, ps,
			 &gpa, &hva);
	if (r)
		goto err;
	n->rx_pool = hva;
	n->rx_pool_gpa = gpa;
	r = vg_mem_alloc(&n->d, (uint64_t)n->tx_nslots * n->tx_stride, ps,
			 &gpa, &hva);
	if (r)
		goto err;
	n->tx_pool = hva;
	n->tx_pool_gpa = gpa;

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

/* ---- Rx ---- */

static int vg_net_rx_add(struct vg_net *n, uint32_t id)
{
	struct vg_buf in[VG_NET_MAX_BUF_DESCS];
	uint64_t gpa = n->rx_pool_gpa + (uint64_t)id * n->rx_stride;
	unsigned int k = n->rx_buf_descs, i;
	int r;

	if (k > VG_NET_MAX_BUF_DESCS)
		return -EINVAL;
	if (k == 1) {
		in[0].gpa = gpa;
		in[0].len = n->rx_buf_len;
	} else {
		uint32_t data = n->rx_buf_len - n->hdr_len;
		uint32_t each = data / (k - 1), rem = data % (k - 1);

		in[0].gpa = gpa;
		in[0].len = n->hdr_len;
		gpa += n->hdr_len;
		for (i = 1; i < k; i++) {
			in[i].gpa = gpa;
			in[i].len = each + (i - 1 < rem ? 1 : 0);
			gpa += in[i].len;
		}
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
	void *cookie = NULL;
	int r;

	r = vg_vq_get_used(&n->d, VG_VQ_RX, len, &cookie);
	if (r == -EAGAIN)
		return r;
	if (r < 0) {
		vg_net_set_err(n, "Rx used entry with a bad id (%d)", r);
		return -EIO;
	}
	*id = (uint32_t)((uintptr_t)cookie - 1);
	if (!cookie || *id >= n->rx_nbufs) {
		vg_net_set_err(n, "Rx used id %d has no buffer", r);
		return -EIO;
	}
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
		uint64_t now;

		r = vg_net_rx_get(n, f);
		if (r != -EAGAIN)
			return r;
		now = vg_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = vg_vq_wait_call(&n->d, VG_VQ_RX,
				    (int)(deadline - now < 50 ?
					  deadline - now : 50));
		if (r && r != -ETIMEDOUT)
			return r;
	}
}

/* ---- Tx ---- */

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
		void *cookie = NULL;
		uint32_t id;

		r = vg_vq_get_used(&n->d, VG_VQ_TX, NULL, &cookie);
		if (r == -EAGAIN)
			return done;
		if (r < 0) {
			vg_net_set_err(n, "Tx used entry with a bad id");
			return -EIO;
		}
		id = (uint32_t)((uintptr_t)cookie - 1);
		if (!cookie || id >= n->tx_nslots) {
			vg_net_set_err(n, "Tx used id %d has no slot", r);
			return -EIO;
		}
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
		uint64_t now;

		r = vg_net_tx_reap(n);
		if (r < 0)
			return r;
		if (!vg_net_tx_inflight(n))
			return 0;
		now = vg_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = vg_vq_wait_call(&n->d, VG_VQ_TX,
				    (int)(deadline - now < 50 ?
					  deadline - now : 50));
		if (r && r != -ETIMEDOUT)
			return r;
	}
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
			if (pending) {
				r = vg_vq_notify(&n->d, VG_VQ_TX);
				if (r < 0)
					return r;
				pending = 0;
			}
			r = vg_net_tx_reap(n);
			if (r < 0)
				return r;
			if (r > 0) {
				last = vg_now_ms();
				continue;
			}
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
			r = vg_vq_notify(&n->d, VG_VQ_TX);
			if (r < 0)
				return r;
			pending = 0;
			r = vg_net_tx_reap(n);
			if (r < 0)
				return r;
			if (r)
				last = vg_now_ms();
		} else if (!batch) {
			pending++;
		}
	}
	if (pending) {
		r = vg_vq_notify(&n->d, VG_VQ_TX);
		if (r < 0)
			return r;
	}
	return (int)count;
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
	r = vg_net_rx_fill(n, n->rx_nbufs);
	if (r < 0)
		return r;
	r = vg_net_rx_kick(n);
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
				r = vg_net_rx_fill(n, n->rx_nfree);
				if (r < 0)
					return r;
				r = vg_net_rx_kick(n);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (r != -EAGAIN)
			return r;
		if (n->rx_nfree) {
			r = vg_net_rx_fill(n, n->rx_nfree);
			if (r < 0)
				return r;
			r = vg_net_rx_kick(n);
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

int vg_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int vg_kmsg_count(int fd, const char *tag, char *last, size_t len,
		  bool echo)
{
	char rec[8192];
	int n = 0;

	if (len)
		last[0] = '\0';
	for (;;) {
		ssize_t got = read(fd, rec, sizeof(rec) - 1);
		char *msg;
		size_t l;

		/* EPIPE: records were overwritten; the next read goes on. */
		if (got < 0 && errno == EPIPE)
			continue;
		if (got <= 0)
			break;
		rec[got] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		if (!strstr(msg, tag))
			continue;
		n++;
		if (echo)
			fprintf(stderr, "#   kernel: %s\n", msg);
		if (!len)
			continue;
		l = strlen(msg);
		if (l >= len)
			l = len - 1;
		memcpy(last, msg, l);
		last[l] = '\0';
	}
	return n;
}

void vg_desc_set(struct vring_desc *d, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}
