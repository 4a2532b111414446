// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_SET_MEM_TABLE on /dev/vhost-accel: validation, pinning and its
 * accounting (stats.pinned_pages, the owner's VmLck, RLIMIT_MEMLOCK), the
 * kinds of memory a table may use (anonymous, shmem/memfd/tmpfs, hugetlbfs
 * and private file mappings; not shared mappings of a file on ext4, whose
 * long-term pins break writeback) and regions too large to track.
 */
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "vtest.h"

#define MEM_SIZE	(256 * 1024)	/* guest memory of the fixture */

FIXTURE(mem) {
	struct vg_dev d;
	uint64_t ps;
	uint64_t base_kb;	/* VmLck before anything was pinned */
	void *hva;		/* the fixture's guest memory */
};

FIXTURE_SETUP(mem)
{
	self->ps = vt_page();
	VT_OPEN_DUT(&self->d);
	ASSERT_EQ(0, vg_mem_init(&self->d, MEM_SIZE));
	self->hva = self->d.region[0].hva;
	VT_VMLCK(self->base_kb);
	ASSERT_EQ(0, vg_set_owner(&self->d));
}

FIXTURE_TEARDOWN(mem)
{
	vg_close(&self->d);
}

static struct vhost_memory_region mr(uint64_t gpa, uint64_t size,
				     uint64_t uaddr)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return r;
}

#define HVA(_self, _off)	((uintptr_t)(_self)->hva + (_off))

/* pinned_pages and VmLck both say @bytes are registered. */
#define EXPECT_PINNED(_self, _bytes) do {				\
	struct vhost_accel_stats __st;					\
	uint64_t __kb;							\
	ASSERT_EQ(0, vg_get_stats(&(_self)->d, &__st));			\
	EXPECT_EQ((uint64_t)(_bytes) / (_self)->ps, __st.pinned_pages);	\
	VT_VMLCK(__kb);							\
	EXPECT_EQ((_self)->base_kb + (uint64_t)(_bytes) / 1024, __kb);	\
} while (0)

TEST_F(mem, empty_table)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	EXPECT_PINNED(self, 0);
}

TEST_F(mem, single_region)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
}

TEST_F(mem, multi_region)
{
	struct vhost_memory_region r[3] = {
		mr(0, 4 * self->ps, HVA(self, 0)),
		mr(1ULL << 30, 16 * self->ps, HVA(self, 8 * self->ps)),
		mr(1ULL << 40, 2 * self->ps, HVA(self, 32 * self->ps)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 3, 0));
	EXPECT_PINNED(self, 22 * self->ps);
}

/* Touching ranges, in GPA and in HVA, are not overlapping. */
TEST_F(mem, adjacent_regions)
{
	struct vhost_memory_region r[2] = {
		mr(0x100000, 4 * self->ps, HVA(self, 4 * self->ps)),
		mr(0x100000 + 4 * self->ps, 4 * self->ps, HVA(self, 0)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 8 * self->ps);
}

/* Two GPA ranges backed by the same HVA range (aliasing) are fine. */
TEST_F(mem, aliased_hva)
{
	struct vhost_memory_region r[2] = {
		mr(0, 4 * self->ps, HVA(self, 0)),
		mr(1ULL << 32, 4 * self->ps, HVA(self, 0)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
}

TEST_F(mem, replace_table)
{
	struct vhost_memory_region r = mr(0, 16 * self->ps, HVA(self, 0));
	struct vhost_memory_region r2 = mr(0x10000000, 8 * self->ps,
					   HVA(self, 32 * self->ps));

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 16 * self->ps);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r2, 1, 0));
	EXPECT_PINNED(self, 8 * self->ps);
	/* the same table again: still counted once */
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r2, 1, 0));
	EXPECT_PINNED(self, 8 * self->ps);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	EXPECT_PINNED(self, 0);
}

static int read_max_regions(uint64_t *max)
{
	return vg_read_u64_file(VT_MAX_REGIONS_PARAM, max);
}

TEST_F(mem, max_regions)
{
	struct vhost_memory_region *r;
	uint64_t max = 0, i;
	char *area;

	VT_SKIPPED();
	ASSERT_EQ(0, read_max_regions(&max))
		TH_LOG("cannot read %s", VT_MAX_REGIONS_PARAM);
	ASSERT_LT(0ULL, max);
	if (max > 8192)
		SKIP(return, "max_mem_regions %llu: too many to fill",
		     (unsigned long long)max);

	/* max + 1 one-page regions, 2 pages apart in GPA and in HVA */
	area = mmap(NULL, (max + 1) * 2 * self->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	r = calloc(max + 1, sizeof(*r));
	ASSERT_NE(NULL, r);
	for (i = 0; i <= max; i++)
		r[i] = mr(i * 2 * self->ps, self->ps,
			  (uintptr_t)area + i * 2 * self->ps);

	EXPECT_EQ(-E2BIG, vg_set_mem_table_raw(self->d.fd, r, max + 1, 0));
	EXPECT_PINNED(self, 0);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, max, 0));
	EXPECT_PINNED(self, max * self->ps);
	/* a failing replacement keeps the table in place */
	EXPECT_EQ(-E2BIG, vg_set_mem_table_raw(self->d.fd, r, max + 1, 0));
	EXPECT_PINNED(self, max * self->ps);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	free(r);
	munmap(area, (max + 1) * 2 * self->ps);
}

TEST_F(mem, huge_nregions_e2big)
{
	/* checked before the array is read: no array behind the header */
	struct vhost_memory hdr = { .nregions = 65536, .padding = 0 };

	VT_SKIPPED();
	ASSERT_EQ(-E2BIG, vg_ioctl(&self->d, VHOST_SET_MEM_TABLE, &hdr));
	hdr.nregions = 0xffffffff;
	ASSERT_EQ(-E2BIG, vg_ioctl(&self->d, VHOST_SET_MEM_TABLE, &hdr));
	EXPECT_PINNED(self, 0);
}

/* QEMU sizes its slots from vhost's parameter, not ours (BRIEF 6). */
TEST_F(mem, at_least_vhost_max_regions)
{
	uint64_t ours = 0, theirs = 0;

	VT_SKIPPED();
	if (vg_read_u64_file(VT_VHOST_MAX_REGIONS, &theirs))
		SKIP(return, "%s not readable (vhost.ko not loaded)",
		     VT_VHOST_MAX_REGIONS);
	ASSERT_EQ(0, read_max_regions(&ours));
	ASSERT_LE(theirs, ours);
}

TEST_F(mem, padding_eopnotsupp)
{
	struct vhost_memory_region r = mr(0, MEM_SIZE, HVA(self, 0));

	VT_SKIPPED();
	ASSERT_EQ(-EOPNOTSUPP, vg_set_mem_table_raw(self->d.fd, &r, 1, 1));
	ASSERT_EQ(-EOPNOTSUPP, vg_set_mem_table_raw(self->d.fd, &r, 1,
						    0x80000000));
	EXPECT_PINNED(self, 0);
}

TEST_F(mem, bad_pointer_efault)
{
	VT_SKIPPED();
	ASSERT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_MEM_TABLE, NULL));
	ASSERT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_MEM_TABLE,
				    (void *)(uintptr_t)VT_KERNEL_ADDR));
}

/* Header readable, regions array not: nregions claims more than exists. */
TEST_F(mem, regions_array_unreadable_efault)
{
	struct vhost_memory *m;
	char *page;

	VT_SKIPPED();
	/* header at the very end of a page followed by an unmapped page */
	page = mmap(NULL, 2 * self->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + self->ps, self->ps));
	m = (struct vhost_memory *)(page + self->ps - sizeof(*m));
	m->nregions = 1;
	m->padding = 0;
	ASSERT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_MEM_TABLE, m));
	munmap(page, self->ps);
	EXPECT_PINNED(self, 0);
}

/*
 * Overlapping regions are taken, as vhost-net takes them: a guest address
 * belongs to the region that starts lowest (the first given on a tie), so
 * only the part of a region no earlier one covers is pinned.
 */
TEST_F(mem, overlap_identical_pins_once)
{
	struct vhost_memory_region r[2] = {
		mr(0, 4 * self->ps, HVA(self, 0)),
		mr(0, 4 * self->ps, HVA(self, 8 * self->ps)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 4 * self->ps);
}

TEST_F(mem, overlap_partial_pins_the_rest)
{
	struct vhost_memory_region r[3] = {
		mr(1ULL << 32, 2 * self->ps, HVA(self, 32 * self->ps)),
		mr(0x100000, 4 * self->ps, HVA(self, 0)),
		/* overlaps the second one's last page: 3 pages of its own */
		mr(0x100000 + 3 * self->ps, 4 * self->ps,
		   HVA(self, 8 * self->ps)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 3, 0));
	EXPECT_PINNED(self, 9 * self->ps);
}

TEST_F(mem, overlap_contained_pins_the_outer)
{
	struct vhost_memory_region r[2] = {
		mr(0x100000 + self->ps, self->ps, HVA(self, 16 * self->ps)),
		mr(0x100000, 8 * self->ps, HVA(self, 0)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 8 * self->ps);
}

/*
 * The part of an overlapping region that is not covered must still be
 * pinnable: here it runs into a hole.
 */
TEST_F(mem, overlap_rest_unmapped_efault)
{
	void *hole = vt_unmapped_area(4 * self->ps);
	struct vhost_memory_region r[2] = {
		mr(0x100000, 4 * self->ps, HVA(self, 0)),
		mr(0x100000 + 2 * self->ps, 4 * self->ps, (uintptr_t)hole),
	};

	VT_SKIPPED();
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 0);
}

/* As vhost-net: size 0 is an empty range at gpa 0, a wrapping one else. */
TEST_F(mem, zero_size)
{
	struct vhost_memory_region r[2] = {
		mr(0, 4 * self->ps, HVA(self, 0)),
		mr(1ULL << 32, 0, HVA(self, 8 * self->ps)),
	};

	VT_SKIPPED();
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r[1], 1, 0));
	EXPECT_PINNED(self, 0);
	r[1].guest_phys_addr = 0;
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r[1], 1, 0));
	EXPECT_PINNED(self, 0);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 4 * self->ps);
}

TEST_F(mem, gpa_wrap_efault)
{
	struct vhost_memory_region r = mr(~0ULL - self->ps + 1, 2 * self->ps,
					  HVA(self, 0));

	VT_SKIPPED();
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	r = mr(1ULL << 63, 1ULL << 63 | self->ps, HVA(self, 0));
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
	/* ending on the last byte is no wrap */
	r = mr(~0ULL - 2 * self->ps + 1, 2 * self->ps, HVA(self, 0));
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 2 * self->ps);
}

/* A user range past the end of the address space is no user memory. */
TEST_F(mem, uaddr_wrap_efault)
{
	struct vhost_memory_region r = mr(0, 2 * self->ps,
					  ~0ULL - self->ps + 1);

	VT_SKIPPED();
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
}

/*
 * Any alignment is taken: a region pins every page its user range
 * touches, and both counters say exactly that many.
 */
TEST_F(mem, unaligned_gpa)
{
	struct vhost_memory_region r = mr(0x100, 4 * self->ps, HVA(self, 0));

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 4 * self->ps);
}

TEST_F(mem, unaligned_uaddr)
{
	struct vhost_memory_region r = mr(0, 4 * self->ps, HVA(self, 8));

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 5 * self->ps);
}

TEST_F(mem, unaligned_size)
{
	struct vhost_memory_region r = mr(0, 4 * self->ps + 512,
					  HVA(self, 0));

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 5 * self->ps);
	r.memory_size = self->ps - 1;
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, self->ps);
	r.memory_size = 1;
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, self->ps);
}

/*
 * Two regions whose user ranges meet inside a page both pin it: each pin
 * is counted, in pinned_pages and in VmLck, and all are dropped again.
 */
TEST_F(mem, unaligned_shared_page_accounting)
{
	uint64_t ps = self->ps;
	struct vhost_memory_region r[3] = {
		/* 0x456 + 3 pages: 4 pages */
		mr(0x123, 3 * ps, HVA(self, 0x456)),
		/* starts in r[0]'s last page, 2 pages + 1 byte: 3 pages */
		mr(0x100000, 2 * ps + 1, HVA(self, 0x456 + 3 * ps)),
		/* inside r[1]'s first page: 1 page */
		mr(1ULL << 32, 16, HVA(self, 3 * ps + 0x800)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 3, 0));
	EXPECT_PINNED(self, 8 * ps);
	/* the same table again: counted once */
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 3, 0));
	EXPECT_PINNED(self, 8 * ps);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 1, 0));
	EXPECT_PINNED(self, 4 * ps);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 3, 0));
	EXPECT_PINNED(self, 8 * ps);
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
}

/* What a user-space client may well do: its guest memory from malloc(). */
TEST_F(mem, malloc_buffer)
{
	size_t size = 100 * 1000;
	char *buf = malloc(size);
	uintptr_t first, last;
	struct vhost_memory_region r;

	VT_SKIPPED();
	ASSERT_NE(NULL, buf);
	memset(buf, 0x5a, size);
	first = (uintptr_t)buf & ~(uintptr_t)(self->ps - 1);
	last = ((uintptr_t)buf + size - 1) & ~(uintptr_t)(self->ps - 1);
	r = mr(0x3000, size, (uintptr_t)buf);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, last - first + self->ps);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	EXPECT_PINNED(self, 0);
	free(buf);
}

TEST_F(mem, unmapped_uaddr_efault)
{
	void *hole = vt_unmapped_area(4 * self->ps);
	struct vhost_memory_region r = mr(0, 4 * self->ps, (uintptr_t)hole);

	VT_SKIPPED();
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
}

TEST_F(mem, kernel_uaddr_efault)
{
	struct vhost_memory_region r = mr(0, 4 * self->ps, VT_KERNEL_ADDR);

	VT_SKIPPED();
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
}

/* The second region runs into a hole: nothing of the new table stays. */
TEST_F(mem, partly_unmapped_efault_keeps_old)
{
	struct vhost_memory_region old = mr(0, 16 * self->ps, HVA(self, 0));
	struct vhost_memory_region r[2];
	char *area;

	VT_SKIPPED();
	area = mmap(NULL, 8 * self->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, munmap(area + 6 * self->ps, 2 * self->ps));
	r[0] = mr(0, 16 * self->ps, HVA(self, 16 * self->ps));
	r[1] = mr(1ULL << 32, 8 * self->ps, (uintptr_t)area);

	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &old, 1, 0));
	EXPECT_PINNED(self, 16 * self->ps);
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	/* the old table is still the table, counted once */
	EXPECT_PINNED(self, 16 * self->ps);
	munmap(area, 6 * self->ps);
}

/* Same check on a region that fails validation, not pinning. */
TEST_F(mem, invalid_replacement_keeps_old)
{
	struct vhost_memory_region r[2] = {
		mr(0, 4 * self->ps, HVA(self, 0)),
		mr(2 * self->ps, 0, HVA(self, 8 * self->ps)),
	};

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
	ASSERT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, MEM_SIZE);
	r[1] = mr(0, 1ULL << 40, HVA(self, 0));
	ASSERT_EQ(-EINVAL, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, MEM_SIZE);
}

TEST_F(mem, memlock_fits_without_cap_ipc_lock)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_have_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_set_memlock(self->base_kb * 1024 + MEM_SIZE));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
}

TEST_F(mem, memlock_enomem_without_cap_ipc_lock)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_have_cap(CAP_IPC_LOCK));
	/* one page short */
	ASSERT_EQ(0, vg_set_memlock(self->base_kb * 1024 + MEM_SIZE -
				    self->ps));
	ASSERT_EQ(-ENOMEM, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, 0);
}

TEST_F(mem, memlock_enomem_keeps_old)
{
	struct vhost_memory_region small = mr(0, 16 * self->ps, HVA(self, 0));

	VT_SKIPPED();
	ASSERT_EQ(0, vg_drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_set_memlock(self->base_kb * 1024 + MEM_SIZE / 2));
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &small, 1, 0));
	EXPECT_PINNED(self, 16 * self->ps);
	ASSERT_EQ(-ENOMEM, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, 16 * self->ps);
}

/* With CAP_IPC_LOCK the limit does not apply, the charge still does. */
TEST_F(mem, memlock_ignored_with_cap_ipc_lock)
{
	VT_SKIPPED();
	ASSERT_EQ(1, vg_have_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_set_memlock(0));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
}

TEST_F(mem, close_unpins)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	EXPECT_PINNED(self, MEM_SIZE);
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
}

/* ---- which memory a table may use ---- */

#define MEM_EXT4_DIR	"/tmp/control_mem.ext4"
#define MEM_EXT4_IMG	"/tmp/control_mem.ext4.img"
#define MEM_KMSG_TAG	"vhost_accel: "

/* A fresh file of @size bytes mapped read-write with @flags; -1 fd on error. */
static void *mem_map_file(const char *path, size_t size, int flags, int *fd)
{
	void *p;

	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*fd < 0)
		return MAP_FAILED;
	if (ftruncate(*fd, (off_t)size)) {
		close(*fd);
		*fd = -1;
		return MAP_FAILED;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, *fd, 0);
	if (p == MAP_FAILED) {
		close(*fd);
		*fd = -1;
	}
	return p;
}

static int mem_one_region(struct vg_dev *d, const void *hva, uint64_t size)
{
	struct vhost_memory_region r = mr(0, size, (uintptr_t)hva);

	return vg_set_mem_table_raw(d->fd, &r, 1, 0);
}

/* Both kinds of anonymous memory: private (anon) and shared (shmem). */
TEST_F(mem, anonymous_private_and_shared_accepted)
{
	struct vhost_memory_region r[2];
	char *priv, *shared;

	VT_SKIPPED();
	priv = mmap(NULL, 16 * self->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared = mmap(NULL, 16 * self->ps, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, priv);
	ASSERT_NE(MAP_FAILED, shared);
	r[0] = mr(0, 16 * self->ps, (uintptr_t)priv);
	r[1] = mr(1ULL << 32, 16 * self->ps, (uintptr_t)shared);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 32 * self->ps);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	munmap(priv, 16 * self->ps);
	munmap(shared, 16 * self->ps);
}

/* QEMU's memory-backend-memfd: shared memfd pages are shmem. */
TEST_F(mem, memfd_accepted)
{
	size_t size = 16 * self->ps;
	char *p;
	int fd;

	VT_SKIPPED();
	fd = memfd_create("control_mem", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, (off_t)size));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, mem_one_region(&self->d, p, size));
	EXPECT_PINNED(self, size);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	munmap(p, size);
	close(fd);
}

/* memory-backend-file on tmpfs (/dev/shm): shmem too. */
TEST_F(mem, tmpfs_file_accepted)
{
	const char *path = "/tmp/control_mem.tmpfs";
	size_t size = 16 * self->ps;
	struct statfs sf;
	char *p;
	int fd;

	VT_SKIPPED();
	ASSERT_EQ(0, statfs("/tmp", &sf));
	ASSERT_EQ(TMPFS_MAGIC, (unsigned long)sf.f_type)
		TH_LOG("/tmp is no tmpfs here (the VM mounts one)");
	p = mem_map_file(path, size, MAP_SHARED, &fd);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0, mem_one_region(&self->d, p, size));
	EXPECT_PINNED(self, size);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	munmap(p, size);
	close(fd);
	unlink(path);
}

#define MEM_NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* QEMU's hugepage backends: private and shared hugetlb mappings. */
TEST_F(mem, hugetlb_accepted)
{
	size_t huge = 2UL << 20;
	uint64_t old = 0;
	char *priv, *shared, val[32];
	struct vhost_memory_region r[2];
	int fd;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_read_u64_file(MEM_NR_HUGEPAGES, &old));
	fd = open(MEM_NR_HUGEPAGES, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)old + 2);
	ASSERT_LT(0, write(fd, val, strlen(val)));
	priv = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	shared = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED) {
		snprintf(val, sizeof(val), "%llu\n", (unsigned long long)old);
		if (write(fd, val, strlen(val)) < 0)
			TH_LOG("could not restore %s", MEM_NR_HUGEPAGES);
		close(fd);
		SKIP(return, "no two free 2 MiB huge pages");
	}
	r[0] = mr(0, huge, (uintptr_t)priv);
	r[1] = mr(1ULL << 32, huge, (uintptr_t)shared);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
	EXPECT_PINNED(self, 2 * huge);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	munmap(priv, huge);
	munmap(shared, huge);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)old);
	EXPECT_LT(0, write(fd, val, strlen(val)));
	close(fd);
}

/* An ext4 file system on a loop device under /tmp, mounted at MEM_EXT4_DIR. */
static int mem_ext4_mount(void)
{
	static const char *const steps[] = {
		"modprobe -q loop",
		"modprobe -q ext4",
		"truncate -s 16M " MEM_EXT4_IMG,
		"mkfs.ext4 -q -F " MEM_EXT4_IMG,
		"mkdir -p " MEM_EXT4_DIR,
		"mount -t ext4 -o loop " MEM_EXT4_IMG " " MEM_EXT4_DIR,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (system(steps[i])) {
			fprintf(stderr, "# %s: failed\n", steps[i]);
			return -1;
		}
	}
	return 0;
}

static void mem_ext4_umount(void)
{
	if (umount(MEM_EXT4_DIR))
		fprintf(stderr, "# umount %s: %s\n", MEM_EXT4_DIR,
			strerror(errno));
	rmdir(MEM_EXT4_DIR);
	unlink(MEM_EXT4_IMG);
}

/*
 * A shared mapping of an ext4 file is refused with EOPNOTSUPP and one
 * kernel line, also as the second half of an otherwise anonymous region,
 * and the table in place stays; a private mapping of the same file is
 * accepted (what is pinned are anonymous copies of its pages).
 */
TEST_F(mem, ext4_shared_file_refused)
{
	const char *path = MEM_EXT4_DIR "/guest-ram";
	struct vhost_memory_region old = mr(0, 16 * self->ps, HVA(self, 0));
	size_t size = 16 * self->ps;
	char *shared, *priv, *mixed, last[512];
	int fd, fd2, kmsg, n;

	VT_SKIPPED();
	ASSERT_EQ(0, mem_ext4_mount())
		TH_LOG("cannot make and mount an ext4 loop device in /tmp");
	shared = mem_map_file(path, size, MAP_SHARED, &fd);
	ASSERT_NE(MAP_FAILED, shared) TH_LOG("%s: %s", path, strerror(errno));
	memset(shared, 1, size);
	ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, &old, 1, 0));

	kmsg = vg_kmsg_open();
	EXPECT_LE(0, kmsg);
	EXPECT_EQ(-EOPNOTSUPP, mem_one_region(&self->d, shared, size));
	EXPECT_PINNED(self, 16 * self->ps);
	n = vg_kmsg_count(kmsg, MEM_KMSG_TAG, last, sizeof(last), false);
	EXPECT_EQ(1, n) TH_LOG("kernel lines: %d, last: %s", n, last);
	EXPECT_NE(NULL, strstr(last, "file")) TH_LOG("%s", last);
	TH_LOG("kernel: %s", last);

	/* anonymous, then the file: refused as a whole */
	mixed = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mixed);
	ASSERT_EQ(mixed + size, mmap(mixed + size, size,
				     PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_FIXED, fd, 0));
	EXPECT_EQ(-EOPNOTSUPP, mem_one_region(&self->d, mixed, 2 * size));
	EXPECT_PINNED(self, 16 * self->ps);

	/* private: writes go to anonymous copies, never to the file */
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd2, 0);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ(0, mem_one_region(&self->d, priv, size));
	EXPECT_PINNED(self, size);
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));

	munmap(priv, size);
	munmap(mixed, 2 * size);
	munmap(shared, size);
	close(fd2);
	close(fd);
	if (kmsg >= 0)
		close(kmsg);
	mem_ext4_umount();
}

/*
 * A region whose page array kvmalloc() would refuse with a WARN (over
 * INT_MAX bytes: 1 TiB of 4 KiB pages) is EINVAL before anything is
 * charged, allocated or pinned; the address range need not even be
 * mapped.  One page less passes that check and fails on the hole, EFAULT,
 * before its 2 GiB page array is allocated.
 */
TEST_F(mem, region_too_large_einval)
{
	uint64_t tib = 1ULL << 40;
	struct vhost_memory_region r = mr(0, tib, HVA(self, 0));

	VT_SKIPPED();
	EXPECT_EQ(-EINVAL, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	r.memory_size = 64 * tib;
	EXPECT_EQ(-EINVAL, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
	r.memory_size = tib - self->ps;
	EXPECT_EQ(-EFAULT, vg_set_mem_table_raw(self->d.fd, &r, 1, 0));
	EXPECT_PINNED(self, 0);
}

/* Library self-check: GPA <-> HVA over several regions (no device). */
TEST(lib_gpa_translation)
{
	struct vg_dev d;
	uint64_t ps = vt_page(), gpa = 0;
	void *hva = NULL;
	char *h;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	ASSERT_EQ(0, vg_mem_add(&d, 0, 4 * ps, 0));
	ASSERT_EQ(1, vg_mem_add(&d, 1ULL << 32, 2 * ps, VG_MEM_SHARED));
	ASSERT_EQ(-EEXIST, vg_mem_add(&d, 2 * ps, 4 * ps, 0));
	ASSERT_EQ(-EINVAL, vg_mem_add(&d, 8 * ps, ps + 1, 0));
	ASSERT_EQ(6 * ps, vg_mem_size(&d));

	h = vg_gpa_to_hva(&d, (1ULL << 32) + 16, 32);
	ASSERT_EQ((char *)d.region[1].hva + 16, h);
	ASSERT_EQ(NULL, vg_gpa_to_hva(&d, 4 * ps - 8, 16));
	ASSERT_NE(NULL, vg_gpa_to_hva(&d, 4 * ps - 16, 16));
	ASSERT_EQ(NULL, vg_gpa_to_hva(&d, 5 * ps, 1));
	ASSERT_EQ(0, vg_hva_to_gpa(&d, h, 8, &gpa));
	ASSERT_EQ((1ULL << 32) + 16, gpa);

	ASSERT_EQ(0, vg_mem_alloc(&d, 100, 64, &gpa, &hva));
	ASSERT_EQ(0ULL, gpa);
	ASSERT_EQ(0, vg_mem_alloc(&d, 10, 16, &gpa, &hva));
	ASSERT_EQ(112ULL, gpa);
	ASSERT_EQ((char *)d.region[0].hva + 112, hva);
	ASSERT_EQ(0, vg_mem_alloc(&d, 3 * ps + ps / 2, 16, &gpa, &hva));
	ASSERT_EQ(128ULL, gpa);
	/* does not fit region 0 any more: taken from region 1 */
	ASSERT_EQ(0, vg_mem_alloc(&d, ps, 16, &gpa, &hva));
	ASSERT_EQ(1ULL << 32, gpa);
	ASSERT_EQ(d.region[1].hva, hva);
	ASSERT_EQ(-ENOMEM, vg_mem_alloc(&d, 2 * ps, 16, &gpa, &hva));
	vg_mem_release(&d);
}

TEST_HARNESS_MAIN
