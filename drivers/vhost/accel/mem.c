// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel memory table: validation, pinning and translation.
 *
 * Every region of the table user space gives us is pinned (FOLL_LONGTERM)
 * and charged to the owner's locked_vm, as vhost-vdpa and VFIO do, because a
 * cooperating NIC will DMA straight into guest memory: the pages must not
 * move while they are posted.  Translation from a guest-physical address to
 * a page is then a binary search over the sorted regions and an array index.
 *
 * The table vhost-net accepts is accepted: regions need not be page aligned
 * (a client may hand in a malloc'd buffer), so a region pins every page its
 * user range touches, from the one holding its first byte, and translation
 * stays inside [gpa, gpa + size); two regions may pin the same page, each
 * counted.  Regions may overlap: a guest address belongs to the region that
 * starts lowest, as vhost-net looks it up, so the table keeps only the part
 * of each region no earlier one covers.
 *
 * Only memory whose pages no file system tracks may be pinned that way:
 * anonymous memory, shmem (memfd, tmpfs, shared anonymous) and hugetlbfs,
 * and private mappings of a file (a write pin breaks COW, so the pinned
 * page is an anonymous copy).  A shared mapping of any other file (ext4,
 * xfs, ...) is refused: the file system write-protects and cleans its
 * pages for writeback, and a page the NIC may write at any time for as
 * long as the table lives defeats that (see compat/compat.h for how
 * the kernels differ).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "accel.h"

/* Pin in chunks so a huge region neither needs one giant call nor blocks
 * a fatal signal for long.
 */
#define VHOST_ACCEL_PIN_CHUNK	512

/* A region's page array must stay within what kvmalloc() will allocate
 * (INT_MAX bytes, else it WARNs): 1 TiB less a page with 4 KiB pages.
 */
#define VHOST_ACCEL_REGION_MAX_PAGES	(INT_MAX / sizeof(struct page *))

struct vhost_accel_mem *vhost_accel_mem_alloc_empty(void)
{
	struct vhost_accel_mem *mem;

	mem = kzalloc(sizeof(*mem), GFP_KERNEL);
	if (mem)
		refcount_set(&mem->ref, 1);
	return mem;
}

/* One region as user space gave it, with its place in the table. */
struct mem_in {
	struct vhost_memory_region r;
	u32 idx;
};

/* The pages a user range touches: its first page holds @uaddr. */
static unsigned long region_pages(u64 uaddr, u64 size)
{
	return DIV_ROUND_UP(offset_in_page(uaddr) + size, PAGE_SIZE);
}

/*
 * The checks vhost-net makes (a guest-physical range that wraps, which
 * includes a size of 0, is -EFAULT; a size of 0 at guest address 0 is
 * accepted, see mem_add_region()) and those pinning needs: a user range
 * (-EFAULT) whose page array kvmalloc() can allocate (-EINVAL).  Any
 * alignment is accepted.
 */
static int region_check(const struct vhost_memory_region *r)
{
	if (!r->memory_size)
		return r->guest_phys_addr ? -EFAULT : 0;
	if (r->guest_phys_addr + r->memory_size - 1 < r->guest_phys_addr)
		return -EFAULT;
	if (!vhost_accel_addr_fits(r->userspace_addr) ||
	    !vhost_accel_addr_fits(r->memory_size) ||
	    !access_ok((void __user *)(unsigned long)r->userspace_addr,
		       r->memory_size))
		return -EFAULT;
	if (region_pages(r->userspace_addr, r->memory_size) >
	    VHOST_ACCEL_REGION_MAX_PAGES)
		return -EINVAL;
	return 0;
}

static int cmp_mem_in(const void *a, const void *b)
{
	const struct mem_in *ia = a, *ib = b;

	if (ia->r.guest_phys_addr != ib->r.guest_phys_addr)
		return ia->r.guest_phys_addr < ib->r.guest_phys_addr ? -1 : 1;
	return ia->idx < ib->idx ? -1 : ia->idx > ib->idx;
}

/*
 * Append the part of @r no region before it in gpa order covers (they all
 * start at or below it, so what they cover of it is [gpa, *@covered)):
 * where regions overlap, a guest address belongs to the one that starts
 * lowest, the first given on a tie, as vhost-net's interval tree finds
 * it.  A region left empty, and one of size 0, maps nothing.
 */
static void mem_add_region(struct vhost_accel_mem *mem,
			   const struct vhost_memory_region *r, u64 *covered,
			   bool *top)
{
	u64 gpa = r->guest_phys_addr, skip = 0, last;
	struct vhost_accel_region *reg;

	if (!r->memory_size || *top)
		return;
	last = gpa + r->memory_size - 1;
	if (last < *covered)
		return;
	if (gpa < *covered)
		skip = *covered - gpa;
	reg = &mem->region[mem->nregions++];
	reg->gpa = gpa + skip;
	reg->size = r->memory_size - skip;
	reg->uaddr = r->userspace_addr + skip;
	reg->npages = region_pages(reg->uaddr, reg->size);
	mem->npages += reg->npages;
	/* A region that ends at the top of the space covers the rest. */
	*covered = last + 1;
	*top = !*covered;
}

/* Copy, check, sort and de-overlap the regions; nothing is pinned yet. */
static int mem_copy_regions(struct vhost_memory __user *umem,
			    struct vhost_accel_mem **out)
{
	struct vhost_accel_mem *mem;
	struct vhost_memory hdr;
	struct mem_in *in;
	bool top = false;
	u64 covered = 0;
	int ret = 0;
	u32 i;

	if (copy_from_user(&hdr, umem, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > vhost_accel_max_mem_regions)
		return -E2BIG;

	in = kvmalloc_array(hdr.nregions, sizeof(*in), GFP_KERNEL);
	mem = kvzalloc(struct_size(mem, region, hdr.nregions), GFP_KERNEL);
	if (!mem || (hdr.nregions && !in)) {
		ret = -ENOMEM;
		goto out;
	}
	/* As vhost-net: the whole array is read before any is checked. */
	for (i = 0; i < hdr.nregions; i++) {
		if (copy_from_user(&in[i].r, &umem->regions[i],
				   sizeof(in[i].r))) {
			ret = -EFAULT;
			goto out;
		}
		in[i].idx = i;
	}
	for (i = 0; i < hdr.nregions && !ret; i++)
		ret = region_check(&in[i].r);
	if (ret)
		goto out;

	sort(in, hdr.nregions, sizeof(*in), cmp_mem_in, NULL);
	for (i = 0; i < hdr.nregions; i++)
		mem_add_region(mem, &in[i].r, &covered, &top);
	*out = mem;
	mem = NULL;
out:
	kvfree(mem);
	kvfree(in);
	return ret;
}

static void region_unpin(struct vhost_accel_region *reg, unsigned long pinned)
{
	if (!reg->pages)
		return;
	/* The device may have written any of them: mark all dirty. */
	unpin_user_pages_dirty_lock(reg->pages, pinned, true);
	kvfree(reg->pages);
	reg->pages = NULL;
}

/* May @vma's pages be pinned for as long as the table lives? */
static bool vma_pinnable_longterm(struct vm_area_struct *vma)
{
	if (vma_is_anonymous(vma) || shmem_file(vma->vm_file) ||
	    is_vm_hugetlb_page(vma))
		return true;
	/* A file's page cache, unless the mapping is private (COW). */
	return !(vma->vm_flags & VM_MAYSHARE);
}

/*
 * Is [@start, @start + @len) mapped, and by memory that may be pinned long
 * term?  mmap_lock held.  Return: 0, -EFAULT (a hole) or -EOPNOTSUPP (a
 * shared file mapping, with one line in the log saying so).
 */
static int region_check_vmas(struct mm_struct *mm, unsigned long start,
			     unsigned long len)
{
	unsigned long end = start + len;
	struct vm_area_struct *vma;

	while (start < end) {
		vma = vma_lookup(mm, start);
		if (!vma)
			return -EFAULT;
		if (!vma_pinnable_longterm(vma)) {
			pr_warn_ratelimited("%s[%d]: memory table refused: %#lx is a shared mapping of file %pD, whose pages cannot be pinned long term without breaking writeback; use anonymous memory, memfd, tmpfs or hugetlbfs\n",
					    current->comm,
					    task_tgid_nr(current), start,
					    vma->vm_file);
			return -EOPNOTSUPP;
		}
		start = vma->vm_end;
	}
	return 0;
}

/*
 * Pin @n pages from @addr with the VMAs checked under the same mmap_lock,
 * so that what is pinned is what was checked.
 */
static long region_pin_chunk(unsigned long addr, unsigned long n,
			     struct page **pages)
{
	struct mm_struct *mm = current->mm;
	long ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = region_check_vmas(mm, addr, n << PAGE_SHIFT);
	if (!ret)
		ret = pin_user_pages(addr, n, FOLL_WRITE | FOLL_LONGTERM,
				     pages);
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Pin every page @reg touches: the first holds reg->uaddr, which need not
 * be page aligned, and the last may be shared with the next region.
 */
static int region_pin(struct vhost_accel_region *reg)
{
	unsigned long first = reg->uaddr & PAGE_MASK;
	struct mm_struct *mm = current->mm;
	unsigned long done = 0;
	long ret;

	/* A region that cannot be pinned fails before its array exists. */
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = region_check_vmas(mm, first, reg->npages << PAGE_SHIFT);
	mmap_read_unlock(mm);
	if (ret)
		return ret;

	reg->pages = kvmalloc_array(reg->npages, sizeof(*reg->pages),
				    GFP_KERNEL | __GFP_NOWARN);
	if (!reg->pages)
		return -ENOMEM;

	while (done < reg->npages) {
		unsigned long chunk = min_t(unsigned long, reg->npages - done,
					    VHOST_ACCEL_PIN_CHUNK);
		unsigned long addr = first + (done << PAGE_SHIFT);

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err;
		}
		ret = region_pin_chunk(addr, chunk, reg->pages + done);
		if (ret > 0)
			done += ret;
		if (ret != chunk) {
			/* Unmapped, read-only or not pinnable long term. */
			ret = ret < 0 ? ret : -EFAULT;
			goto err;
		}
		cond_resched();
	}
	return 0;

err:
	region_unpin(reg, done);
	if (ret == -ENOMEM || ret == -EINTR || ret == -EOPNOTSUPP)
		return ret;
	return -EFAULT;
}

static void mem_uncharge(struct mm_struct *mm, unsigned long npages)
{
	if (!npages)
		return;
	/* The owner may be gone; the table holds its mm_struct (mmgrab). */
	account_locked_vm(mm, npages, false);
}

/**
 * vhost_accel_mem_from_user - build a pinned table from VHOST_SET_MEM_TABLE
 * @dev: the device, dev->mutex held; its owner's mm is current->mm
 * @umem: the user's struct vhost_memory
 * @out: the new table on success
 *
 * The new table replaces dev->mem, whose pages stay pinned until the
 * swap: only what it pins beyond dev->mem's charge is charged now (see
 * vhost_accel_mem_take_charge()), so a guest whose table is re-sent with
 * a new layout (memory hotplug) needs no room for two tables under
 * RLIMIT_MEMLOCK.
 *
 * Return: 0, -EFAULT (bad pointer, a guest-physical range that wraps or
 * is empty away from 0, or a user range that is not user memory or not
 * pinnable), -EINVAL (a region touching more than
 * VHOST_ACCEL_REGION_MAX_PAGES pages), -E2BIG (too many regions),
 * -EOPNOTSUPP (padding set, or a region maps a file shared that is neither
 * shmem nor hugetlbfs), -ENOMEM (over RLIMIT_MEMLOCK or out of memory) or
 * -EINTR.
 */
int vhost_accel_mem_from_user(struct vhost_accel_dev *dev,
			      struct vhost_memory __user *umem,
			      struct vhost_accel_mem **out)
{
	struct vhost_accel_mem *mem;
	u32 i;
	int ret;

	ret = mem_copy_regions(umem, &mem);
	if (ret)
		return ret;

	refcount_set(&mem->ref, 1);
	if (mem->npages > dev->mem->charged)
		mem->charged = mem->npages - dev->mem->charged;
	ret = account_locked_vm(dev->mm, mem->charged, true);
	if (ret)
		goto err_free;
	mmgrab(dev->mm);
	mem->mm = dev->mm;

	for (i = 0; i < mem->nregions; i++) {
		ret = region_pin(&mem->region[i]);
		if (ret)
			goto err_unpin;
	}
	*out = mem;
	return 0;

err_unpin:
	while (i--)
		region_unpin(&mem->region[i], mem->region[i].npages);
	mem_uncharge(mem->mm, mem->charged);
	mmdrop(mem->mm);
err_free:
	kvfree(mem);
	return ret;
}

/**
 * vhost_accel_mem_get - one more user of a table's pages
 * @mem: a table someone already holds
 *
 * A queue whose datapath runs holds its table from the start until the NIC
 * has given back every buffer it posted from it (see the pinning rule in
 * Documentation/control-plane.rst), so a table replaced or dropped
 * meanwhile stays pinned until then.
 *
 * Return: @mem.
 */
struct vhost_accel_mem *vhost_accel_mem_get(struct vhost_accel_mem *mem)
{
	refcount_inc(&mem->ref);
	return mem;
}

/*
 * Drop a reference; the last one unpins, uncharges and frees the table.
 * Process context (unpinning may sleep); any thread, not only the owner.
 */
void vhost_accel_mem_put(struct vhost_accel_mem *mem)
{
	u32 i;

	if (!mem || !refcount_dec_and_test(&mem->ref))
		return;
	for (i = 0; i < mem->nregions; i++)
		region_unpin(&mem->region[i], mem->region[i].npages);
	if (mem->mm) {
		mem_uncharge(mem->mm, mem->charged);
		mmdrop(mem->mm);
	}
	kvfree(mem);
}

/**
 * vhost_accel_mem_take_charge - a new table took over from @old
 * @mem: from vhost_accel_mem_from_user(), now dev->mem
 * @old: the table it replaced, about to be freed
 *
 * Moves the part of @old's locked_vm charge that @mem's pages were not
 * charged for over to @mem, so that freeing @old uncharges only the rest.
 */
void vhost_accel_mem_take_charge(struct vhost_accel_mem *mem,
				 struct vhost_accel_mem *old)
{
	unsigned long move = min(old->charged, mem->npages - mem->charged);

	old->charged -= move;
	mem->charged += move;
}

/**
 * vhost_accel_mem_find_gpa - region holding a guest-physical range
 * @mem: the table
 * @gpa: first guest-physical address
 * @len: length in bytes, at least 1
 *
 * Return: the region holding all of [@gpa, @gpa + @len), or NULL when the
 * range is empty, wraps, or is not entirely inside one region.
 */
const struct vhost_accel_region *
vhost_accel_mem_find_gpa(const struct vhost_accel_mem *mem, u64 gpa, u64 len)
{
	u32 lo = 0, hi = mem->nregions;

	if (!len || gpa + len - 1 < gpa)
		return NULL;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct vhost_accel_region *reg = &mem->region[mid];

		if (gpa < reg->gpa) {
			hi = mid;
		} else if (gpa - reg->gpa >= reg->size) {
			lo = mid + 1;
		} else {
			if (len > reg->size - (gpa - reg->gpa))
				return NULL;
			return reg;
		}
	}
	return NULL;
}
