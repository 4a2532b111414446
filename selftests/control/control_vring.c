// SPDX-License-Identifier: GPL-2.0
/*
 * Per-virtqueue ioctls of /dev/vhost-accel, the log ioctls, the backend
 * ioctl, unknown ioctls, and kicks reaching the worker.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>

#include "vtest.h"

#define MEM_SIZE	(1024 * 1024)
#define NUM		256

/*
 * Guest memory at GPA 0, registered as the memory table; the device is
 * owned.  ring_* are spec-aligned ring addresses (HVA) inside it.
 */
FIXTURE(vring) {
	struct vg_dev d;
	uint64_t ps;
	uintptr_t desc, avail, used;
	char *outside;		/* mapped, but not in the table */
};

FIXTURE_SETUP(vring)
{
	uintptr_t base;

	self->ps = vt_page();
	self->outside = MAP_FAILED;
	VT_OPEN_DUT(&self->d);
	ASSERT_EQ(0, vg_mem_init(&self->d, MEM_SIZE));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	base = (uintptr_t)self->d.region[0].hva;
	self->desc = base + 0x10000;
	self->avail = self->desc + vg_vring_desc_size(NUM);
	self->used = base + 0x20000;
	self->outside = mmap(NULL, 16 * self->ps, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->outside);
}

FIXTURE_TEARDOWN(vring)
{
	vg_close(&self->d);
	if (self->outside != MAP_FAILED)
		munmap(self->outside, 16 * self->ps);
}

TEST_F(vring, num_valid)
{
	static const unsigned int ok[] = { 1, 2, 64, 256, 1024, 32768 };
	unsigned int i;

	VT_SKIPPED();
	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, ok[i]))
			TH_LOG("num %u", ok[i]);
		EXPECT_EQ(0, vg_set_vring_num(&self->d, 1, ok[i]))
			TH_LOG("num %u", ok[i]);
	}
}

TEST_F(vring, num_invalid_einval)
{
	static const unsigned int bad[] = {
		0, 3, 255, 257, 1000, 32767, 32769, 65535, 65536, 131072,
		0x80000000, 0xffffffff,
	};
	unsigned int i;

	VT_SKIPPED();
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, vg_set_vring_num(&self->d, i & 1, bad[i]))
			TH_LOG("num %u", bad[i]);
}

TEST_F(vring, bad_index_enobufs)
{
	static const unsigned int idx[] = { 2, 3, 256, 0x80000000, 0xffffffff };
	struct vg_dev *d = &self->d;
	unsigned int i, v;
	int efd = eventfd(0, EFD_CLOEXEC);

	VT_SKIPPED();
	ASSERT_LE(0, efd);
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		unsigned int x = idx[i];

		EXPECT_EQ(-ENOBUFS, vg_set_vring_num(d, x, NUM));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_addr(d, x, self->desc,
						      self->avail, self->used,
						      0, 0));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_base(d, x, 0));
		EXPECT_EQ(-ENOBUFS, vg_get_vring_base(d, x, &v));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_kick(d, x, efd));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_call(d, x, efd));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_err(d, x, efd));
		EXPECT_EQ(-ENOBUFS, vg_set_vring_busyloop(d, x, 10));
		EXPECT_EQ(-ENOBUFS, vg_get_vring_busyloop(d, x, &v));
		EXPECT_EQ(-ENOBUFS, vg_set_backend(d, x, -1));
	}
	close(efd);
}

TEST_F(vring, bad_pointer_efault)
{
	VT_SKIPPED();
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_NUM, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_ADDR, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_BASE, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_GET_VRING_BASE, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_KICK, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_CALL, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_VRING_ERR, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_LOG_BASE, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_LOG_FD, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_NET_SET_BACKEND, NULL));
}

TEST_F(vring, base_default_zero)
{
	struct vhost_vring_state s;
	unsigned int i;

	VT_SKIPPED();
	for (i = 0; i < VG_NVQS; i++) {
		s.index = i;
		s.num = 0xdeadbeef;
		ASSERT_EQ(0, vg_ioctl(&self->d, VHOST_GET_VRING_BASE, &s));
		EXPECT_EQ(i, s.index);
		EXPECT_EQ(0U, s.num);
	}
}

TEST_F(vring, base_roundtrip)
{
	static const unsigned int vals[] = { 1, 0x1234, 0x8000, 0xffff, 0 };
	struct vhost_vring_state s;
	unsigned int i, v;

	VT_SKIPPED();
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		ASSERT_EQ(0, vg_set_vring_base(&self->d, 0, vals[i]));
		ASSERT_EQ(0, vg_set_vring_base(&self->d, 1, vals[i] ^ 0x5));
		s.index = 1;
		s.num = 0xdeadbeef;
		ASSERT_EQ(0, vg_ioctl(&self->d, VHOST_GET_VRING_BASE, &s));
		EXPECT_EQ(1U, s.index);
		EXPECT_EQ(vals[i] ^ 0x5, s.num);
		ASSERT_EQ(0, vg_get_vring_base(&self->d, 0, &v));
		EXPECT_EQ(vals[i], v);
	}
}

TEST_F(vring, base_too_big_einval)
{
	unsigned int v = 0;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_base(&self->d, 0, 0x4321));
	EXPECT_EQ(-EINVAL, vg_set_vring_base(&self->d, 0, 0x10000));
	EXPECT_EQ(-EINVAL, vg_set_vring_base(&self->d, 0, 0xffffffff));
	ASSERT_EQ(0, vg_get_vring_base(&self->d, 0, &v));
	EXPECT_EQ(0x4321U, v);
}

TEST_F(vring, addr_ok)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	ASSERT_EQ(0, vg_set_vring_addr(&self->d, 0, self->desc, self->avail,
				       self->used, 0, 0));
	/* tightest alignment the spec allows: 16 / 2 / 4 */
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 1, NUM));
	ASSERT_EQ(0, vg_set_vring_addr(&self->d, 1, self->desc + 0x10010,
				       self->avail + 0x10012,
				       self->used + 0x10004, 0, 0));
}

TEST_F(vring, addr_legacy_layout_ok)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_vq_init(&self->d, 0, NUM, VG_VQ_LEGACY_LAYOUT, 4096));
	ASSERT_EQ(0, vg_vq_setup(&self->d, 0));
	ASSERT_EQ((uint64_t)0, self->d.vq[0].desc_gpa % 4096);
	ASSERT_EQ((uint64_t)0, self->d.vq[0].used_gpa % 4096);
}

TEST_F(vring, addr_log_flag_ok)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	ASSERT_EQ(0, vg_set_vring_addr(&self->d, 0, self->desc, self->avail,
				       self->used, 0x20000,
				       1U << VHOST_VRING_F_LOG));
}

TEST_F(vring, addr_bad_flags_eopnotsupp)
{
	static const unsigned int bad[] = { 0x2, 0x4, 0x80000000,
					    0x3, 0xffffffff };
	unsigned int i;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EOPNOTSUPP,
			  vg_set_vring_addr(&self->d, 0, self->desc,
					    self->avail, self->used, 0,
					    bad[i]))
			TH_LOG("flags 0x%x", bad[i]);
}

/* As vhost-net: the descriptor table has no alignment to keep. */
TEST_F(vring, addr_unaligned_desc_ok)
{
	static const unsigned int off[] = { 1, 2, 4, 8 };
	unsigned int i;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	for (i = 0; i < ARRAY_SIZE(off); i++)
		EXPECT_EQ(0,
			  vg_set_vring_addr(&self->d, 0, self->desc + off[i],
					    self->avail + 0x1000, self->used,
					    0, 0))
			TH_LOG("desc + %u", off[i]);
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
}

TEST_F(vring, addr_misaligned_avail_einval)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(-EINVAL, vg_set_vring_addr(&self->d, 0, self->desc,
					     self->avail + 1, self->used,
					     0, 0));
}

TEST_F(vring, addr_misaligned_used_einval)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(-EINVAL, vg_set_vring_addr(&self->d, 0, self->desc,
					     self->avail, self->used + 2,
					     0, 0));
	EXPECT_EQ(-EINVAL, vg_set_vring_addr(&self->d, 0, self->desc,
					     self->avail, self->used + 1,
					     0, 0));
}

TEST_F(vring, addr_misaligned_log_einval)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(-EINVAL, vg_set_vring_addr(&self->d, 0, self->desc,
					     self->avail, self->used, 0x20002,
					     1U << VHOST_VRING_F_LOG));
}

/*
 * As vhost-net, rings are reached at their user addresses: they may lie
 * outside the memory table, or across a region's end, as long as they
 * are user memory once a queue is (un)bound.
 */
TEST_F(vring, addr_outside_table_ok)
{
	uintptr_t out = (uintptr_t)self->outside;
	uintptr_t end = (uintptr_t)self->d.region[0].hva + MEM_SIZE;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 0, out, self->avail,
				       self->used, 0, 0));
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 0, self->desc,
				       out + 0x1000, self->used, 0, 0));
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 0, self->desc,
				       self->avail, out + 0x2000, 0, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	/* straddling the region's end */
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 0, end - 0x1000 + 16,
				       self->avail, end - 0x400, 0, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	/* a table without the rings' memory */
	EXPECT_EQ(0, vg_set_mem_table_raw(self->d.fd, NULL, 0, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
}

/* Not user memory: taken while no backend, refused when (un)bound. */
TEST_F(vring, addr_kernel_efault_at_backend)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 1, NUM));
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 1, VT_KERNEL_ADDR,
				       self->avail, self->used, 0, 0));
	EXPECT_EQ(-EFAULT, vg_set_backend(&self->d, 1, -1));
	EXPECT_EQ(0, vg_set_vring_addr(&self->d, 1, self->desc,
				       self->avail, self->used, 0, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 1, -1));
}

/* Rings in a second region, at a GPA far from the first. */
TEST_F(vring, addr_in_second_region_ok)
{
	int r;

	VT_SKIPPED();
	r = vg_mem_add(&self->d, 1ULL << 32, 64 * 1024, 0);
	ASSERT_EQ(1, r);
	/* first region full: the rings go to the second */
	self->d.region[0].used = MEM_SIZE;
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	ASSERT_EQ(0, vg_setup_vring(&self->d, 1, NUM));
	ASSERT_LE(1ULL << 32, self->d.vq[1].desc_gpa);
}

/* Without a table there is nothing to check the rings against. */
TEST(addr_without_table_ok)
{
	struct vg_dev d;

	VT_OPEN_DUT(&d);
	ASSERT_EQ(0, vg_mem_init(&d, 64 * 1024));
	ASSERT_EQ(0, vg_set_owner(&d));
	ASSERT_EQ(0, vg_setup_vring(&d, 0, 64));
	vg_close(&d);
}

TEST_F(vring, full_setup_both_vqs)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_features(&self->d, VG_FBIT(VIRTIO_F_VERSION_1) |
				     VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |
				     VG_FBIT(VIRTIO_NET_F_MRG_RXBUF)));
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_RX, NUM));
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_TX, NUM));
	ASSERT_EQ(0, vg_set_backend(&self->d, VG_VQ_RX, -1));
	ASSERT_EQ(0, vg_set_backend(&self->d, VG_VQ_TX, -1));
}

/* KICK / CALL / ERR share the same fd rules. */
FIXTURE(vfile) {
	struct vg_dev d;
	int efd, efd2;
};

FIXTURE_VARIANT(vfile) {
	unsigned long req;
	unsigned int idx;
};

FIXTURE_VARIANT_ADD(vfile, kick) {
	.req = VHOST_SET_VRING_KICK, .idx = 1,
};

FIXTURE_VARIANT_ADD(vfile, call) {
	.req = VHOST_SET_VRING_CALL, .idx = 0,
};

FIXTURE_VARIANT_ADD(vfile, err) {
	.req = VHOST_SET_VRING_ERR, .idx = 1,
};

FIXTURE_SETUP(vfile)
{
	self->efd = -1;
	self->efd2 = -1;
	VT_OPEN_DUT(&self->d);
	ASSERT_EQ(0, vg_mem_init(&self->d, 64 * 1024));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	ASSERT_EQ(0, vg_vq_init(&self->d, variant->idx, 64, 0, 0));
	ASSERT_EQ(0, vg_set_vring_num(&self->d, variant->idx, 64));
	self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	self->efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->efd);
	ASSERT_LE(0, self->efd2);
}

FIXTURE_TEARDOWN(vfile)
{
	vg_close(&self->d);
	if (self->efd >= 0)
		close(self->efd);
	if (self->efd2 >= 0)
		close(self->efd2);
}

static int vfile_set(struct vg_dev *d, unsigned long req, unsigned int idx,
		     int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return vg_ioctl(d, req, &f);
}

TEST_F(vfile, eventfd_ok)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd));
	/* the same again, then another one */
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd));
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd2));
}

TEST_F(vfile, unbind_ok)
{
	VT_SKIPPED();
	/* unbinding what was never bound */
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       VHOST_FILE_UNBIND));
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd));
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       VHOST_FILE_UNBIND));
	/* and the fd may go away afterwards */
	close(self->efd);
	self->efd = -1;
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd2));
}

/* Closing our fd after binding: the device keeps its own reference. */
TEST_F(vfile, bound_fd_closed_by_user)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd));
	close(self->efd);
	self->efd = -1;
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       self->efd2));
	ASSERT_EQ(0, vfile_set(&self->d, variant->req, variant->idx,
			       VHOST_FILE_UNBIND));
}

TEST_F(vfile, pipe_einval)
{
	int p[2];

	VT_SKIPPED();
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EINVAL, vfile_set(&self->d, variant->req, variant->idx,
				     p[0]));
	EXPECT_EQ(-EINVAL, vfile_set(&self->d, variant->req, variant->idx,
				     p[1]));
	/* nor the device's own fd */
	EXPECT_EQ(-EINVAL, vfile_set(&self->d, variant->req, variant->idx,
				     self->d.fd));
	close(p[0]);
	close(p[1]);
}

TEST_F(vfile, closed_fd_ebadf)
{
	VT_SKIPPED();
	EXPECT_EQ(-EBADF, vfile_set(&self->d, variant->req, variant->idx,
				    vt_closed_fd()));
	EXPECT_EQ(-EBADF, vfile_set(&self->d, variant->req, variant->idx,
				    -2));
	EXPECT_EQ(-EBADF, vfile_set(&self->d, variant->req, variant->idx,
				    0x7fffffff));
}

TEST_F(vring, log_base_ok)
{
	uint64_t *log = (uint64_t *)self->outside;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_log_base(&self->d, (uintptr_t)log));
	ASSERT_EQ(0, vg_set_log_base(&self->d, 0));
}

TEST_F(vring, log_fd)
{
	int efd = eventfd(0, EFD_CLOEXEC), p[2];

	VT_SKIPPED();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(0, vg_set_log_fd(&self->d, efd));
	EXPECT_EQ(0, vg_set_log_fd(&self->d, efd));
	EXPECT_EQ(0, vg_set_log_fd(&self->d, VHOST_FILE_UNBIND));
	EXPECT_EQ(0, vg_set_log_fd(&self->d, VHOST_FILE_UNBIND));
	EXPECT_EQ(-EINVAL, vg_set_log_fd(&self->d, p[0]));
	EXPECT_EQ(-EBADF, vg_set_log_fd(&self->d, vt_closed_fd()));
	EXPECT_EQ(0, vg_set_log_fd(&self->d, efd));
	close(efd);
	close(p[0]);
	close(p[1]);
}

TEST_F(vring, busyloop_roundtrip)
{
	struct vhost_vring_state s;
	unsigned int v = 1;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_get_vring_busyloop(&self->d, 0, &v));
	EXPECT_EQ(0U, v);
	ASSERT_EQ(0, vg_set_vring_busyloop(&self->d, 0, 50));
	ASSERT_EQ(0, vg_set_vring_busyloop(&self->d, 1, 1000));
	s.index = 0;
	s.num = 0;
	ASSERT_EQ(0, vg_ioctl(&self->d, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
			      &s));
	EXPECT_EQ(0U, s.index);
	EXPECT_EQ(50U, s.num);
	s.index = 1;
	ASSERT_EQ(0, vg_ioctl(&self->d, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
			      &s));
	EXPECT_EQ(1U, s.index);
	EXPECT_EQ(1000U, s.num);
	ASSERT_EQ(0, vg_set_vring_busyloop(&self->d, 0, 0));
	ASSERT_EQ(0, vg_get_vring_busyloop(&self->d, 0, &v));
	EXPECT_EQ(0U, v);
}

TEST_F(vring, backend_bad_index_enobufs)
{
	VT_SKIPPED();
	EXPECT_EQ(-ENOBUFS, vg_set_backend(&self->d, 2, -1));
	EXPECT_EQ(-ENOBUFS, vg_set_backend(&self->d, 0xffffffff, -1));
}

TEST_F(vring, backend_unbind_ok)
{
	VT_SKIPPED();
	/* detaching what was never attached, before and after ring setup */
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	EXPECT_EQ(0, vg_set_backend(&self->d, 1, -1));
	ASSERT_EQ(0, vg_setup_vring(&self->d, 0, NUM));
	ASSERT_EQ(0, vg_setup_vring(&self->d, 1, NUM));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	EXPECT_EQ(0, vg_set_backend(&self->d, 1, -1));
	/* no backend: the rings can still be changed */
	EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(0, vg_set_vring_base(&self->d, 1, 0));
}

/* The datapath GET_STATS reports, or -errno. */
static int vt_datapath(struct vg_dev *d)
{
	struct vhost_accel_stats st;
	int r = vg_get_stats(d, &st);

	return r ? r : (int)st.datapath;
}

/*
 * On an unbound device, what vhost-net accepts but cannot be accelerated
 * (only a macvtap on a cooperating NIC can), an AF_PACKET raw socket and a
 * tun/tap, runs the copying datapath; while it runs, the ring layout is
 * fixed (-EBUSY), as on vhost-net.
 */
TEST_F(vring, backend_real_fd_copying)
{
	char tapname[IFNAMSIZ] = "";
	int sock, tap;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_setup_vring(&self->d, 0, NUM));
	ASSERT_EQ(0, vg_setup_vring(&self->d, 1, NUM));

	sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, sock) TH_LOG("AF_PACKET socket: %s", strerror(errno));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, sock));
	EXPECT_EQ(0, vg_set_backend(&self->d, 1, sock));
	EXPECT_EQ(VHOST_ACCEL_DATAPATH_COPY, vt_datapath(&self->d));
	EXPECT_EQ(-EBUSY, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(-EBUSY, vg_set_vring_base(&self->d, 1, 0));

	/* another backend on a running queue: the tap, if tun is there */
	tap = vt_tap_open("vgtap", 0, tapname, sizeof(tapname));
	if (tap >= 0) {
		EXPECT_EQ(0, vg_set_backend(&self->d, 0, tap));
		EXPECT_EQ(0, vg_set_backend(&self->d, 1, tap));
		EXPECT_EQ(VHOST_ACCEL_DATAPATH_COPY, vt_datapath(&self->d));
		close(tap);
	} else {
		TH_LOG("no tap (%s): socket case only", strerror(-tap));
	}
	close(sock);

	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	EXPECT_EQ(0, vg_set_backend(&self->d, 1, -1));
	EXPECT_EQ(VHOST_ACCEL_DATAPATH_NONE, vt_datapath(&self->d));
	EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(0, vg_set_vring_base(&self->d, 1, 0));
}

/*
 * A device that wants acceleration or nothing (VHOST_ACCEL_SET_NIC with
 * ifindex 0 and VHOST_ACCEL_BIND_F_ACCEL_ONLY) refuses those backends as
 * before the copying datapath: VT_ACCEL_BACKEND_ERRNO, and the refusal
 * leaves the vq as it was.  SET_NIC {0, 0} lifts it again.
 */
TEST_F(vring, backend_real_fd_accel_only)
{
	static const uint8_t none[6];
	char tapname[IFNAMSIZ] = "";
	int sock, tap;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_setup_vring(&self->d, 0, NUM));
	ASSERT_EQ(0, vg_setup_vring(&self->d, 1, NUM));
	ASSERT_EQ(0, vg_set_nic(&self->d, 0, none,
				VHOST_ACCEL_BIND_F_ACCEL_ONLY));

	sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, sock) TH_LOG("AF_PACKET socket: %s", strerror(errno));
	EXPECT_EQ(-VT_ACCEL_BACKEND_ERRNO, vg_set_backend(&self->d, 0, sock));
	EXPECT_EQ(-VT_ACCEL_BACKEND_ERRNO, vg_set_backend(&self->d, 1, sock));

	tap = vt_tap_open("vgtap", 0, tapname, sizeof(tapname));
	if (tap >= 0) {
		EXPECT_EQ(-VT_ACCEL_BACKEND_ERRNO,
			  vg_set_backend(&self->d, 0, tap));
		EXPECT_EQ(-VT_ACCEL_BACKEND_ERRNO,
			  vg_set_backend(&self->d, 1, tap));
		close(tap);
	} else {
		TH_LOG("no tap (%s): socket case only", strerror(-tap));
	}

	/* nothing attached: a running backend would make these -EBUSY */
	EXPECT_EQ(VHOST_ACCEL_DATAPATH_NONE, vt_datapath(&self->d));
	EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
	EXPECT_EQ(0, vg_set_vring_base(&self->d, 1, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));

	/* the policy is the device's: lifted, the socket runs copying */
	ASSERT_EQ(0, vg_set_nic(&self->d, 0, none, 0));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, sock));
	EXPECT_EQ(VHOST_ACCEL_DATAPATH_COPY, vt_datapath(&self->d));
	EXPECT_EQ(0, vg_set_backend(&self->d, 0, -1));
	close(sock);
}

TEST_F(vring, unknown_ioctl_enotty)
{
	struct vhost_vring_state s = { .index = 0, .num = 0 };

	VT_SKIPPED();
	EXPECT_EQ(-ENOTTY, vg_ioctl(&self->d, VT_UNKNOWN_IOCTL, &s));
	EXPECT_EQ(-ENOTTY, vg_ioctl(&self->d, VT_UNKNOWN_IOCTL2, &s));
	EXPECT_EQ(-ENOTTY, vg_ioctl(&self->d, _IO(VHOST_VIRTIO, 0xef), &s));
	/* as vhost-net: the queue index is read and checked first */
	s.index = 2;
	EXPECT_EQ(-ENOBUFS, vg_ioctl(&self->d, VT_UNKNOWN_IOCTL, &s));
	EXPECT_EQ(-ENOBUFS, vg_ioctl(&self->d, VHOST_SET_VRING_ENDIAN, &s));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VT_UNKNOWN_IOCTL2, NULL));
	s.index = 1;
	EXPECT_EQ(-ENOTTY, vg_ioctl(&self->d, VHOST_SET_VRING_ENDIAN, &s));
	/* still working */
	EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, NUM));
}

/* Kicks reach the worker, per queue. */
TEST_F(vring, kicks_wake_worker)
{
	struct vhost_accel_stats st;
	uint64_t seen = 0;
	unsigned int i;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_RX, NUM));
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_TX, NUM));
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	ASSERT_EQ(0ULL, st.vq[VG_VQ_RX].kicks);
	ASSERT_EQ(0ULL, st.vq[VG_VQ_TX].kicks);

	ASSERT_EQ(0, vg_vq_kick(&self->d, VG_VQ_TX));
	ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_TX, 1, VT_KICK_WAIT_MS,
				   &seen))
		TH_LOG("TX kicks %llu after %d ms", (unsigned long long)seen,
		       VT_KICK_WAIT_MS);
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ(0ULL, st.vq[VG_VQ_RX].kicks);
	EXPECT_EQ(1ULL, st.vq[VG_VQ_TX].kicks);

	ASSERT_EQ(0, vg_vq_kick(&self->d, VG_VQ_RX));
	ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_RX, 1, VT_KICK_WAIT_MS,
				   &seen));

	/* one at a time: each is seen, none is counted twice */
	for (i = 2; i <= 6; i++) {
		ASSERT_EQ(0, vg_vq_kick(&self->d, VG_VQ_TX));
		ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_TX, i,
					   VT_KICK_WAIT_MS, &seen))
			TH_LOG("kick %u: TX kicks %llu", i,
			       (unsigned long long)seen);
	}
	vg_sleep_ms(50);
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ(6ULL, st.vq[VG_VQ_TX].kicks);
	EXPECT_EQ(1ULL, st.vq[VG_VQ_RX].kicks);
	EXPECT_LE(7ULL, st.worker_wakeups);
}

/* A kick on a new eventfd after rebinding is seen; the old one is not. */
TEST_F(vring, kick_rebind)
{
	struct vhost_accel_stats st;
	uint64_t one = 1, seen = 0;
	int old;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_TX, NUM));
	old = dup(self->d.vq[VG_VQ_TX].kick_fd);
	ASSERT_LE(0, old);
	ASSERT_EQ(0, vg_set_vring_kick(&self->d, VG_VQ_TX, VHOST_FILE_UNBIND));
	ASSERT_EQ((ssize_t)sizeof(one), write(old, &one, sizeof(one)));
	vg_sleep_ms(100);
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ(0ULL, st.vq[VG_VQ_TX].kicks);

	close(self->d.vq[VG_VQ_TX].kick_fd);
	self->d.vq[VG_VQ_TX].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->d.vq[VG_VQ_TX].kick_fd);
	ASSERT_EQ(0, vg_set_vring_kick(&self->d, VG_VQ_TX,
				       self->d.vq[VG_VQ_TX].kick_fd));
	ASSERT_EQ(0, vg_vq_kick(&self->d, VG_VQ_TX));
	ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_TX, 1, VT_KICK_WAIT_MS,
				   &seen));
	close(old);
}

TEST_HARNESS_MAIN
