// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: device set-up, ioctls and guest memory.
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

/* ---- device ---------------------------------------------------------- */

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
	uint64_t off;
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
	off = (flags & VG_MEM_MIDPAGE) ? VG_MEM_MIDPAGE_OFF : 0;
	p = mmap(NULL, size + (off ? ps : 0), PROT_READ | PROT_WRITE, mflags,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;

	rg = &d->region[d->nregions];
	rg->gpa = gpa;
	rg->size = size;
	rg->hva = (char *)p + off;
	rg->map_off = off;
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
		munmap((char *)d->region[i].hva - d->region[i].map_off,
		       d->region[i].size +
		       (d->region[i].map_off ? vg_page_size() : 0));
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
