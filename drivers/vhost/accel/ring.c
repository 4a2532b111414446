// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel split virtqueue engine.
 *
 * Everything here runs under vq->mutex, in the per-device worker (which has
 * adopted the owner's mm) or in an ioctl of the owner, so the rings are
 * reached with ordinary user accesses at the owner's (QEMU's) virtual
 * addresses.  Buffers are not: a descriptor's guest-physical range is
 * translated through the pinned memory table into (page, offset, length)
 * segments that a cooperating NIC maps for DMA.  Nothing here allocates.
 *
 * Every value read from the rings is the guest's and is untrusted: indices
 * are bounded, chains are bounded by the ring size (an indirect table by its
 * own size), lengths may not overflow and every byte of a buffer must lie in
 * guest memory.  A violation stops the queue (vq->broken) and signals the
 * error eventfd, as vhost-net does; only a new ring start clears it.
 *
 * Ordering follows the virtio spec and mainline vhost: read avail->idx, then
 * smp_rmb() before reading the entries it covers; write used entries, then
 * smp_wmb() before publishing used->idx; smp_mb() between publishing
 * used->idx and reading the guest's interrupt suppression, and between
 * re-enabling kicks and re-reading avail->idx.
 *
 * With VHOST_VRING_F_LOG (vq->log_used), every write to the used ring is
 * marked in the dirty log at log_guest_addr + offset, as in vhost-net: only
 * the bytes written, so only the 4 KiB pages they lie in.  A log that cannot
 * be written stops the queue like any other fault.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/kernel.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>
#include <uapi/linux/virtio_config.h>

#include "accel.h"

/*
 * Descriptors are 16 bytes, read once per buffer: as word loads in one
 * user access window they cost less than a string copy with its per-call
 * hardened-usercopy checks (the worker's hottest code otherwise).
 */
#define RING_SMALL_COPY	32

/**
 * vhost_accel_read_user - copy a few bytes from the owner's memory
 * @dst: kernel buffer
 * @src: user address
 * @len: bytes
 *
 * Return: 0, or -EFAULT.
 */
int vhost_accel_read_user(void *dst, const void __user *src, unsigned int len)
{
	const u8 __user *s = src;
	u8 *d = dst;

	if (!IS_ENABLED(CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS) ||
	    len > RING_SMALL_COPY)
		return copy_from_user(dst, src, len) ? -EFAULT : 0;
	if (!user_access_begin(src, len))
		return -EFAULT;
	for (; len >= 8; len -= 8, s += 8, d += 8) {
		u64 v;

		unsafe_get_user(v, (const u64 __user *)s, efault);
		put_unaligned(v, (u64 *)d);
	}
	for (; len >= 2; len -= 2, s += 2, d += 2) {
		u16 v;

		unsafe_get_user(v, (const u16 __user *)s, efault);
		put_unaligned(v, (u16 *)d);
	}
	if (len)
		unsafe_get_user(*d, s, efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/*
 * Most entries in one indirect table: the virtio spec forbids a chain
 * longer than the queue size, indirect tables included, and QEMU's own
 * device model never allows more than 1024.  The smaller of the two bounds
 * the work a guest can ask for per chain.
 */
#define RING_MAX_INDIRECT	1024

static unsigned int ring_max_indirect(const struct vhost_accel_vq *vq)
{
	return min_t(unsigned int, vq->num, RING_MAX_INDIRECT);
}

static __always_inline bool ring_event_idx(const struct vhost_accel_vq *vq)
{
	return vhost_accel_has_feature(vq->dev, VIRTIO_RING_F_EVENT_IDX);
}

static __always_inline struct vring_desc __user *
ring_desc(const struct vhost_accel_vq *vq)
{
	return u64_to_user_ptr(vq->desc_uaddr);
}

static __always_inline struct vring_avail __user *
ring_avail(const struct vhost_accel_vq *vq)
{
	return u64_to_user_ptr(vq->avail_uaddr);
}

static __always_inline struct vring_used __user *
ring_used(const struct vhost_accel_vq *vq)
{
	return u64_to_user_ptr(vq->used_uaddr);
}

/* avail->ring[num]: the used index at which the guest wants a signal. */
static __always_inline __virtio16 __user *
ring_used_event(const struct vhost_accel_vq *vq)
{
	return &ring_avail(vq)->ring[vq->num];
}

/* used->ring[num]: the avail index at which we want a kick. */
static __always_inline __virtio16 __user *
ring_avail_event(const struct vhost_accel_vq *vq)
{
	return (__virtio16 __user *)&ring_used(vq)->ring[vq->num];
}

/*
 * Stop the queue after a guest error (or a fault on its rings) with
 * vhost_accel_vq_err(), and return @err so callers can write
 * "return ring_fail(...)".
 */
static __cold __printf(3, 4) int ring_fail(struct vhost_accel_vq *vq, int err,
					   const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	vhost_accel_vq_err(vq, "%pV", &vaf);
	va_end(args);
	return err;
}

/*
 * Read avail->idx into vq->avail_idx.  Return 1 when entries are waiting
 * (ordered before the caller reads them), 0 when every entry is consumed,
 * or a negative errno after a guest error.
 */
static int ring_fetch_avail_idx(struct vhost_accel_vq *vq)
{
	__virtio16 raw;
	u16 idx;

	if (unlikely(get_user(raw, &ring_avail(vq)->idx)))
		return ring_fail(vq, -EFAULT, "cannot read avail->idx");
	idx = vq16_to_cpu(vq, raw);
	if (unlikely((u16)(idx - vq->last_avail_idx) > vq->num))
		return ring_fail(vq, -EINVAL,
				 "avail->idx %u is more than %u ahead of %u",
				 idx, vq->num, vq->last_avail_idx);
	vq->avail_idx = idx;
	if (idx == vq->last_avail_idx)
		return 0;
	/* Entries and descriptors are read after the index that covers them. */
	smp_rmb();
	return 1;
}

/* Byte offset of avail_event (used->ring[num]) in the used ring. */
static __always_inline u64 ring_avail_event_off(const struct vhost_accel_vq *vq)
{
	return offsetof(struct vring_used, ring) +
	       (u64)vq->num * sizeof(struct vring_used_elem);
}

/* Mark @len bytes written at @off into the used ring, if asked to. */
static int ring_log_used(struct vhost_accel_vq *vq, u64 off, u64 len)
{
	if (!vq->log_used)
		return 0;
	return vhost_accel_log_write(vq, vq->log_guest_addr + off, len);
}

static int ring_write_used_flags(struct vhost_accel_vq *vq)
{
	if (unlikely(put_user(cpu_to_vq16(vq, vq->used_flags),
			      &ring_used(vq)->flags)))
		return ring_fail(vq, -EFAULT, "cannot write used->flags");
	if (unlikely(ring_log_used(vq, offsetof(struct vring_used, flags),
				   sizeof(__virtio16))))
		return ring_fail(vq, -EFAULT, "cannot log used->flags");
	return 0;
}

/* Does @reg hold the @len >= 1 bytes at @gpa? */
static __always_inline bool region_holds(const struct vhost_accel_region *reg,
					 u64 gpa, u64 len)
{
	u64 off = gpa - reg->gpa;	/* huge when gpa < reg->gpa */

	return off < reg->size && len <= reg->size - off;
}

/*
 * The region holding [@gpa, @gpa + @len), @len >= 1: first the one the
 * last translation used (@hint, an index so that it cannot dangle across a
 * table change), then a binary search.  Sets *@hint to the region found.
 */
static const struct vhost_accel_region *
ring_find_region(const struct vhost_accel_mem *mem, u32 *hint, u64 gpa,
		 u64 len)
{
	const struct vhost_accel_region *reg;

	if (likely(*hint < mem->nregions)) {
		reg = &mem->region[*hint];
		if (likely(region_holds(reg, gpa, len)))
			return reg;
	}
	reg = vhost_accel_mem_find_gpa(mem, gpa, len);
	if (reg)
		*hint = reg - mem->region;
	return reg;
}

/* State of one chain walk in vhost_accel_ring_get_chain(). */
struct ring_walk {
	struct vhost_accel_vq *vq;
	const struct vhost_accel_mem *mem;
	struct vhost_accel_chain *chain;
	u32 hint;		/* region index of the last translation */
	bool in;		/* a writable descriptor was seen */
	bool overflow;		/* more segments than chain->max_segs */
};

/* Append [@gpa, @gpa + @len), which lies in @reg, as page segments. */
static void walk_add_segs(struct ring_walk *w,
			  const struct vhost_accel_region *reg, u64 gpa,
			  u64 len, bool write)
{
	struct vhost_accel_chain *chain = w->chain;
	u64 off = gpa - reg->gpa;

	while (len) {
		/* Pages are counted from the one holding reg->uaddr. */
		u64 uoff = off + offset_in_page(reg->uaddr);
		u32 poff = offset_in_page(uoff);
		u32 slen = min_t(u64, len, PAGE_SIZE - poff);
		unsigned long pg = uoff >> PAGE_SHIFT;
		struct vhost_accel_seg *seg;

		if (unlikely(chain->nsegs == chain->max_segs)) {
			w->overflow = true;
			return;
		}
		seg = &chain->segs[chain->nsegs];
		seg->page = reg->pages[array_index_nospec(pg, reg->npages)];
		seg->offset = poff;
		seg->len = slen;
		if (chain->gpas)
			chain->gpas[chain->nsegs] = reg->gpa + off;
		chain->nsegs++;
		if (!write)
			chain->nout++;
		off += slen;
		len -= slen;
	}
}

/* Account for one (non-indirect) descriptor and translate its buffer. */
static int walk_add_desc(struct ring_walk *w, const struct vring_desc *desc,
			 u16 flags)
{
	struct vhost_accel_vq *vq = w->vq;
	struct vhost_accel_chain *chain = w->chain;
	bool write = flags & VRING_DESC_F_WRITE;
	u64 gpa = vq64_to_cpu(vq, desc->addr);
	u32 len = vq32_to_cpu(vq, desc->len);
	const struct vhost_accel_region *reg;
	u64 chunk;

	chain->ndesc++;
	/* Zero-length descriptors carry nothing: skip them otherwise. */
	if (!len)
		return 0;
	if (write)
		w->in = true;
	else if (unlikely(w->in))
		return ring_fail(vq, -EINVAL,
				 "chain %u: readable descriptor after a writable one",
				 chain->head);
	if (unlikely(len > U32_MAX - chain->out_len - chain->in_len))
		return ring_fail(vq, -EINVAL,
				 "chain %u: total length overflows 32 bits",
				 chain->head);
	if (unlikely(gpa + len - 1 < gpa))
		return ring_fail(vq, -EFAULT,
				 "chain %u: buffer %#llx+%#x wraps", chain->head,
				 gpa, len);
	if (write)
		chain->in_len += len;
	else
		chain->out_len += len;
	/*
	 * Usually one region; a buffer may cross into an adjacent one.  Once
	 * the segments overflow, the chain will be returned unused, but every
	 * buffer is still checked to lie in guest memory (one lookup per
	 * region crossed, so the work stays bounded).
	 */
	while (len) {
		reg = ring_find_region(w->mem, &w->hint, gpa, 1);
		if (unlikely(!reg))
			return ring_fail(vq, -EFAULT,
					 "chain %u: buffer at %#llx is outside guest memory",
					 chain->head, gpa);
		chunk = min_t(u64, len, reg->size - (gpa - reg->gpa));
		if (likely(!w->overflow))
			walk_add_segs(w, reg, gpa, chunk, write);
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* Walk the indirect table that descriptor @ind (with @flags) points to. */
static int walk_indirect(struct ring_walk *w, const struct vring_desc *ind,
			 u16 flags)
{
	struct vhost_accel_vq *vq = w->vq;
	u16 head = w->chain->head;
	u64 gpa = vq64_to_cpu(vq, ind->addr);
	u32 len = vq32_to_cpu(vq, ind->len);
	const struct vhost_accel_region *reg;
	struct vring_desc __user *table;
	unsigned int count, i = 0, found = 0;
	struct vring_desc desc;
	u16 dflags;
	int ret;

	if (unlikely(!vhost_accel_has_feature(vq->dev,
					      VIRTIO_RING_F_INDIRECT_DESC)))
		return ring_fail(vq, -EINVAL,
				 "chain %u: indirect descriptor, INDIRECT_DESC not negotiated",
				 head);
	if (unlikely(flags & VRING_DESC_F_NEXT))
		return ring_fail(vq, -EINVAL,
				 "chain %u: indirect descriptor with NEXT set",
				 head);
	if (unlikely(!len || len % sizeof(desc)))
		return ring_fail(vq, -EINVAL,
				 "chain %u: indirect table length %u", head,
				 len);
	count = len / sizeof(desc);
	if (unlikely(count > ring_max_indirect(vq)))
		return ring_fail(vq, -EINVAL,
				 "chain %u: indirect table of %u entries (max %u)",
				 head, count, ring_max_indirect(vq));
	reg = ring_find_region(w->mem, &w->hint, gpa, len);
	if (unlikely(!reg))
		return ring_fail(vq, -EFAULT,
				 "chain %u: indirect table %#llx+%#x is not inside one memory region",
				 head, gpa, len);
	table = u64_to_user_ptr(reg->uaddr + (gpa - reg->gpa));

	for (;;) {
		if (unlikely(++found > count))
			return ring_fail(vq, -EINVAL,
					 "chain %u: loop in indirect table",
					 head);
		if (unlikely(vhost_accel_read_user(&desc, table + i, sizeof(desc))))
			return ring_fail(vq, -EFAULT,
					 "chain %u: cannot read indirect descriptor %u",
					 head, i);
		dflags = vq16_to_cpu(vq, desc.flags);
		if (unlikely(dflags & VRING_DESC_F_INDIRECT))
			return ring_fail(vq, -EINVAL,
					 "chain %u: nested indirect descriptor",
					 head);
		ret = walk_add_desc(w, &desc, dflags);
		if (unlikely(ret))
			return ret;
		if (!(dflags & VRING_DESC_F_NEXT))
			return 0;
		i = vq16_to_cpu(vq, desc.next);
		if (unlikely(i >= count))
			return ring_fail(vq, -EINVAL,
					 "chain %u: indirect next %u >= table size %u",
					 head, i, count);
	}
}

/**
 * vhost_accel_ring_start - prepare the rings for the datapath
 * @vq: the queue, vq->mutex held, in the owner's mm
 *
 * Checks that the rings are user memory (as vhost-net, they need not lie
 * in the memory table: they are reached at their user addresses) and can
 * be read and written, reads used->idx into vq->last_used_idx (the guest's ring is the
 * authority, as in vhost-net), and resets the engine state: avail_idx =
 * last_avail_idx, no signal recorded, not broken.  Guest kicks are enabled
 * (used->flags = 0 and, with EVENT_IDX, avail_event = last_avail_idx) so a
 * queue that was stopped with kicks suppressed cannot stay silent.
 *
 * Return: 0, or -EFAULT if the rings are unsized or unreachable; the
 * queue is then left broken.
 */
int vhost_accel_ring_start(struct vhost_accel_vq *vq)
{
	size_t event = ring_event_idx(vq) ? sizeof(__virtio16) : 0;
	size_t num = vq->num;
	__virtio16 raw;

	vq->broken = true;
	if (!num || !vhost_accel_vq_rings_ok(vq))
		return -EFAULT;

	if (get_user(raw, &ring_avail(vq)->idx))
		return -EFAULT;
	if (get_user(raw, &ring_used(vq)->idx))
		return -EFAULT;
	vq->last_used_idx = vq16_to_cpu(vq, raw);

	vq->used_flags = 0;
	if (put_user(cpu_to_vq16(vq, 0), &ring_used(vq)->flags))
		return -EFAULT;
	if (ring_log_used(vq, offsetof(struct vring_used, flags),
			  sizeof(__virtio16)))
		return -EFAULT;
	if (event && put_user(cpu_to_vq16(vq, vq->last_avail_idx),
			      ring_avail_event(vq)))
		return -EFAULT;
	if (event && ring_log_used(vq, ring_avail_event_off(vq), event))
		return -EFAULT;

	vq->avail_idx = vq->last_avail_idx;
	vq->signalled_used = vq->last_used_idx;
	vq->signalled_used_valid = false;
	vq->region_hint = 0;
	vq->heads_n = 0;
	vq->broken = false;
	return 0;
}

/*
 * The avail->ring entry at last_avail_idx, into *@raw.  Entries the
 * published avail->idx covers are read ahead, up to
 * VHOST_ACCEL_HEADS_AHEAD in one user access window, instead of one
 * get_user() per chain; those are the guest's until it sees them used, and
 * each head is checked when it is taken, whatever the guest wrote.
 */
static int ring_avail_head(struct vhost_accel_vq *vq, __virtio16 *raw)
{
	const __virtio16 __user *ring = ring_avail(vq)->ring;
	u16 idx = vq->last_avail_idx;
	unsigned int slot = idx & (vq->num - 1);
	unsigned int i, n;

	if ((u16)(idx - vq->heads_idx) < vq->heads_n) {
		*raw = vq->heads[(u16)(idx - vq->heads_idx)];
		return 0;
	}
	n = min3((unsigned int)(u16)(vq->avail_idx - idx),
		 vq->num - slot, (unsigned int)VHOST_ACCEL_HEADS_AHEAD);
	vq->heads_n = 0;
	if (!user_access_begin(ring + slot, n * sizeof(*ring)))
		return -EFAULT;
	for (i = 0; i < n; i++)
		unsafe_get_user(vq->heads[i], ring + slot + i, efault);
	user_access_end();
	vq->heads_idx = idx;
	vq->heads_n = n;
	*raw = vq->heads[0];
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/**
 * vhost_accel_ring_get_chain - take the next descriptor chain from the guest
 * @vq: the queue, vq->mutex held, in the owner's mm
 * @chain: the caller's @segs, @gpas and @max_segs; the rest is filled in
 *
 * Reads the next head from the avail ring and walks its chain, direct and
 * indirect, into page-sized segments of pinned guest memory: readable ones
 * first (@nout of them, @out_len bytes), then writable ones (@in_len bytes).
 * Zero-length descriptors are skipped; a chain of only those yields no
 * segment.  Callers keep kicks disabled (vhost_accel_ring_disable_notify())
 * while they drain the ring.
 *
 * Guest errors stop the queue: the chain is not consumed, vq->broken is set
 * and the error eventfd signalled; every later call returns -EIO until the
 * ring is started again.  They are: avail->idx more than the ring size
 * ahead, a head or next index out of range, a loop (more descriptors than
 * the ring or indirect table holds), a readable descriptor after a
 * writable one, a total length above 4 GiB - 1, a buffer not inside guest
 * memory, and for indirect descriptors: INDIRECT_DESC not negotiated, NEXT
 * set with INDIRECT, a table length of 0, not a multiple of 16 or above
 * the queue size (at most %RING_MAX_INDIRECT) entries, a table not inside
 * one memory region, and a nested indirect descriptor.
 *
 * Return:
 * * 1       - a chain was taken: @head and every count are valid
 * * 0       - the avail ring holds no new entry
 * * -ENOSPC - the chain needs more than @max_segs segments.  It was
 *             consumed anyway (@head, @out_len, @in_len and @ndesc are
 *             valid; the segments are not): return it used with length 0
 *             and count a drop.  Not a guest error.
 * * -EINVAL - malformed ring or chain (queue now broken)
 * * -EFAULT - ring unreadable or buffer outside guest memory (now broken)
 * * -EIO    - the queue was already broken
 */
int vhost_accel_ring_get_chain(struct vhost_accel_vq *vq,
			       struct vhost_accel_chain *chain)
{
	struct vring_desc __user *descs = ring_desc(vq);
	struct ring_walk w = {
		.vq = vq,
		.mem = vq->dev->mem,
		.chain = chain,
		.hint = vq->region_hint,
	};
	unsigned int i, found = 0;
	struct vring_desc desc;
	__virtio16 raw;
	u16 flags;
	int ret;

	if (unlikely(vq->broken))
		return -EIO;
	if (vq->avail_idx == vq->last_avail_idx) {
		ret = ring_fetch_avail_idx(vq);
		if (ret <= 0)
			return ret;
	}

	if (unlikely(ring_avail_head(vq, &raw)))
		return ring_fail(vq, -EFAULT, "cannot read avail entry %u",
				 vq->last_avail_idx);
	i = vq16_to_cpu(vq, raw);
	if (unlikely(i >= vq->num))
		return ring_fail(vq, -EINVAL,
				 "avail entry %u: head %u >= ring size %u",
				 vq->last_avail_idx, i, vq->num);

	/* The head indexes per-head arrays (datapath.c): no speculation past num. */
	chain->head = i = array_index_nospec(i, vq->num);
	chain->out_len = 0;
	chain->in_len = 0;
	chain->nout = 0;
	chain->nsegs = 0;
	chain->ndesc = 0;

	for (;;) {
		if (unlikely(++found > vq->num))
			return ring_fail(vq, -EINVAL,
					 "chain %u: loop in descriptor table",
					 chain->head);
		if (unlikely(vhost_accel_read_user(&desc, descs + i, sizeof(desc))))
			return ring_fail(vq, -EFAULT,
					 "chain %u: cannot read descriptor %u",
					 chain->head, i);
		flags = vq16_to_cpu(vq, desc.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* Without NEXT (checked): it ends the chain. */
			chain->ndesc++;
			ret = walk_indirect(&w, &desc, flags);
			if (unlikely(ret))
				return ret;
			break;
		}
		ret = walk_add_desc(&w, &desc, flags);
		if (unlikely(ret))
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = vq16_to_cpu(vq, desc.next);
		if (unlikely(i >= vq->num))
			return ring_fail(vq, -EINVAL,
					 "chain %u: next %u >= ring size %u",
					 chain->head, i, vq->num);
	}

	vq->region_hint = w.hint;
	vq->last_avail_idx++;
	return unlikely(w.overflow) ? -ENOSPC : 1;
}

/**
 * vhost_accel_ring_unget - give back chains taken but not used
 * @vq: the queue, vq->mutex held
 * @n: how many of the last chains taken to give back
 *
 * The next vhost_accel_ring_get_chain() returns them again, in order.
 */
void vhost_accel_ring_unget(struct vhost_accel_vq *vq, unsigned int n)
{
	vq->last_avail_idx -= n;
}

/*
 * Write @n used elements: field by field in one user access window, as
 * vhost_accel_read_user() reads a few bytes, since copy_to_user() would
 * check the kernel array as a heap object on every call (hardened
 * usercopy), once per run of completions.
 */
static int ring_write_used(struct vring_used_elem __user *dst,
			   const struct vring_used_elem *used, unsigned int n)
{
	unsigned int i;

	if (!user_access_begin(dst, (size_t)n * sizeof(*dst)))
		return -EFAULT;
	for (i = 0; i < n; i++) {
		unsafe_put_user(used[i].id, &dst[i].id, efault);
		unsafe_put_user(used[i].len, &dst[i].len, efault);
	}
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/**
 * vhost_accel_ring_add_used - return chains to the guest
 * @vq: the queue, vq->mutex held, in the owner's mm
 * @used: @n elements, in ring byte order (__cpu_to_virtio32(true, ...) is
 *	right for VIRTIO_F_VERSION_1, and for legacy on a little-endian host)
 * @n: number of elements, at most vq->num
 *
 * Writes the elements at vq->last_used_idx (wrapping once at most), then
 * publishes the new used->idx after a write barrier; with
 * VHOST_VRING_F_LOG both writes are marked in the dirty log.  The guest is
 * not signalled; see vhost_accel_ring_signal().
 *
 * Return: 0, or -EFAULT if the used ring or the dirty log cannot be written
 * (the queue is then broken; nothing is published unless only logging the
 * index failed).
 */
int vhost_accel_ring_add_used(struct vhost_accel_vq *vq,
			      const struct vring_used_elem *used,
			      unsigned int n)
{
	struct vring_used __user *ring = ring_used(vq);
	u16 old = vq->last_used_idx;
	u16 new = old + n;
	unsigned int start = old & (vq->num - 1);
	unsigned int first = min(n, vq->num - start);

	if (unlikely(!n))
		return 0;
	if (WARN_ON_ONCE(n > vq->num))
		return -EINVAL;

	if (unlikely(ring_write_used(&ring->ring[start], used, first)))
		return ring_fail(vq, -EFAULT, "cannot write used entry %u",
				 start);
	if (n > first &&
	    unlikely(ring_write_used(&ring->ring[0], used + first, n - first)))
		return ring_fail(vq, -EFAULT, "cannot write used entry 0");
	/* Logged before they are published: a failure publishes nothing. */
	if (unlikely(ring_log_used(vq, offsetof(struct vring_used, ring) +
				   start * sizeof(*used),
				   first * sizeof(*used)) ||
		     ring_log_used(vq, offsetof(struct vring_used, ring),
				   (n - first) * sizeof(*used))))
		return ring_fail(vq, -EFAULT, "cannot log used entries");

	/* The guest must see the entries before the index that covers them. */
	smp_wmb();
	if (unlikely(put_user(cpu_to_vq16(vq, new), &ring->idx)))
		return ring_fail(vq, -EFAULT, "cannot write used->idx");
	vq->last_used_idx = new;

	/*
	 * Had used->idx gone round 2^16 since the last signal, the window
	 * (signalled_used, new] that vring_need_event() checks would be wrong:
	 * signal unconditionally next time.
	 */
	if (unlikely((u16)(new - vq->signalled_used) < (u16)(new - old)))
		vq->signalled_used_valid = false;
	if (unlikely(ring_log_used(vq, offsetof(struct vring_used, idx),
				   sizeof(__virtio16))))
		return ring_fail(vq, -EFAULT, "cannot log used->idx");
	return 0;
}

/* Does the guest want a used-buffer notification now? */
static bool ring_need_signal(struct vhost_accel_vq *vq)
{
	__virtio16 raw;
	u16 old, new;
	bool valid;

	/*
	 * Our used->idx write must be visible before we read the guest's
	 * suppression state, or a guest re-enabling interrupts and then
	 * checking used->idx could miss both (pairs with its barrier).
	 */
	smp_mb();

	/* Legacy: signal when we run out of buffers, suppression or not. */
	if (vhost_accel_has_feature(vq->dev, VIRTIO_F_NOTIFY_ON_EMPTY) &&
	    unlikely(vq->avail_idx == vq->last_avail_idx))
		return true;

	if (!ring_event_idx(vq)) {
		if (unlikely(get_user(raw, &ring_avail(vq)->flags))) {
			ring_fail(vq, -EFAULT, "cannot read avail->flags");
			return true;
		}
		return !(vq16_to_cpu(vq, raw) & VRING_AVAIL_F_NO_INTERRUPT);
	}

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->last_used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (unlikely(!valid))
		return true;
	if (unlikely(get_user(raw, ring_used_event(vq)))) {
		ring_fail(vq, -EFAULT, "cannot read used_event");
		return true;
	}
	return vring_need_event(vq16_to_cpu(vq, raw), new, old);
}

/**
 * vhost_accel_ring_signal - signal the guest if it asked for it
 * @vq: the queue, vq->mutex held, in the owner's mm
 *
 * Call after vhost_accel_ring_add_used(), once per batch.  With EVENT_IDX
 * the guest is signalled when used->idx crossed its used_event since the
 * last signal; otherwise unless it set VRING_AVAIL_F_NO_INTERRUPT; and with
 * VIRTIO_F_NOTIFY_ON_EMPTY always once the avail ring is used up.  Counts
 * vq->stats.calls.
 */
void vhost_accel_ring_signal(struct vhost_accel_vq *vq)
{
	if (vq->call_ctx && ring_need_signal(vq)) {
		eventfd_signal(vq->call_ctx);
		vq->stats.calls++;
	}
}

/**
 * vhost_accel_ring_disable_notify - ask the guest not to kick
 * @vq: the queue, vq->mutex held, in the owner's mm
 *
 * Sets VRING_USED_F_NO_NOTIFY in used->flags.  With EVENT_IDX there is
 * nothing to write: the guest kicks only when it crosses avail_event, which
 * stays behind until vhost_accel_ring_enable_notify() moves it.  A hint
 * only; the guest may kick anyway.
 */
void vhost_accel_ring_disable_notify(struct vhost_accel_vq *vq)
{
	if (vq->used_flags & VRING_USED_F_NO_NOTIFY)
		return;
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	if (!ring_event_idx(vq) && !vq->broken)
		ring_write_used_flags(vq);
}

/**
 * vhost_accel_ring_enable_notify - ask the guest to kick again
 * @vq: the queue, vq->mutex held, in the owner's mm
 *
 * Clears VRING_USED_F_NO_NOTIFY or, with EVENT_IDX, sets avail_event to the
 * avail index last seen, then re-reads avail->idx: the guest may have added
 * entries before it saw the change, and would not kick for those.
 *
 * Return: true if unconsumed entries are waiting (poll again, perhaps after
 * disabling kicks again), false if the caller may sleep until the next kick
 * (also when the queue is broken).
 */
bool vhost_accel_ring_enable_notify(struct vhost_accel_vq *vq)
{
	if (unlikely(vq->broken))
		return false;
	if (ring_event_idx(vq)) {
		/* Always: avail_event must follow every avail index we see. */
		vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
		if (unlikely(put_user(cpu_to_vq16(vq, vq->avail_idx),
				      ring_avail_event(vq)))) {
			ring_fail(vq, -EFAULT, "cannot write avail_event");
			return false;
		}
		if (unlikely(ring_log_used(vq, ring_avail_event_off(vq),
					   sizeof(__virtio16)))) {
			ring_fail(vq, -EFAULT, "cannot log avail_event");
			return false;
		}
	} else if (vq->used_flags & VRING_USED_F_NO_NOTIFY) {
		vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
		if (ring_write_used_flags(vq))
			return false;
	}
	/* Publish the change before looking for entries added meanwhile. */
	smp_mb();
	return ring_fetch_avail_idx(vq) > 0;
}

/**
 * vhost_accel_ring_avail_empty - has the guest nothing for us?
 * @vq: the queue, vq->mutex held, in the owner's mm
 *
 * Re-reads avail->idx when every entry seen so far is consumed.
 *
 * Return: true if no unconsumed entry is waiting, or the queue is broken
 * (so that polling loops stop); false otherwise.
 */
bool vhost_accel_ring_avail_empty(struct vhost_accel_vq *vq)
{
	if (unlikely(vq->broken))
		return true;
	if (vq->avail_idx != vq->last_avail_idx)
		return false;
	return ring_fetch_avail_idx(vq) <= 0;
}
