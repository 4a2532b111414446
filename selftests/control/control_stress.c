// SPDX-License-Identifier: GPL-2.0
/*
 * Repetition: open / own / register / set up / close cycles and friends
 * must leave the process's VmLck and the module refcount where they were.
 *
 * The refcount checks assume no other process holds /dev/vhost-accel
 * open while this runs (the test VM runs one test binary at a time).
 *
 * VG_STRESS_CYCLES=<n> overrides the number of full cycles (1000),
 * VG_STRESS_THREADS=<n> the threads they are spread over (8).
 */
#include <pthread.h>

#include "vtest.h"

#define MEM_PAGES	16
#define NUM		64
#define CYCLES		1000
#define THREADS		8

FIXTURE(stress) {
	struct vg_dev d;	/* owns the guest memory; fd reopened per cycle */
	uint64_t ps, base_kb, base_ref;
	bool have_ref;
};

static bool read_refcnt(uint64_t *v)
{
	return !vg_read_u64_file(VT_REFCNT, v);
}

/* Refcount back to @want within the bounded wait; last value seen. */
static uint64_t wait_refcnt(uint64_t want)
{
	uint64_t deadline = vg_now_ms() + VT_GONE_WAIT_MS, v = UINT64_MAX;

	for (;;) {
		if (!read_refcnt(&v) || v == want || vg_now_ms() >= deadline)
			return v;
		vg_sleep_ms(10);
	}
}

FIXTURE_SETUP(stress)
{
	self->ps = vt_page();
	VT_OPEN_DUT(&self->d);
	ASSERT_EQ(0, vg_mem_init(&self->d, MEM_PAGES * self->ps));
	/* rings and eventfds laid out once, reused by every cycle */
	ASSERT_EQ(0, vg_vq_init(&self->d, 0, NUM, 0, 0));
	ASSERT_EQ(0, vg_vq_init(&self->d, 1, NUM, 0, 0));
	ASSERT_EQ(0, vg_close_fd(&self->d));
	VT_VMLCK(self->base_kb);
	self->have_ref = read_refcnt(&self->base_ref);
}

FIXTURE_TEARDOWN(stress)
{
	vg_close(&self->d);
}

static unsigned int env_uint(const char *name, unsigned int dflt,
			     unsigned int max)
{
	const char *e = getenv(name);
	long n = e ? strtol(e, NULL, 0) : 0;

	return n > 0 && n <= max ? (unsigned int)n : dflt;
}

static unsigned int cycles(void)
{
	return env_uint("VG_STRESS_CYCLES", CYCLES, 1000000);
}

static unsigned int threads(void)
{
	return env_uint("VG_STRESS_THREADS", THREADS, 64);
}

/* Reopen, SET_OWNER, SET_MEM_TABLE, both vrings: 0 or the failing step. */
static int one_setup(struct vg_dev *d, int *err)
{
	unsigned int i;

	*err = vg_reopen(d);
	if (*err)
		return 1;
	*err = vg_set_owner(d);
	if (*err)
		return 2;
	*err = vg_set_mem_table(d);
	if (*err)
		return 3;
	for (i = 0; i < VG_NVQS; i++) {
		*err = vg_vq_setup(d, i);
		if (*err)
			return 4 + i;
	}
	return 0;
}

struct cycler {
	struct vg_dev d;	/* copy of the fixture's: shared memory/rings */
	unsigned int n;
	unsigned int failed_cycle;
	int step, err;
	pthread_t th;
};

static void *cycler_run(void *arg)
{
	struct cycler *c = arg;
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		c->step = one_setup(&c->d, &c->err);
		vg_close_fd(&c->d);
		if (c->step) {
			c->failed_cycle = i;
			break;
		}
	}
	return NULL;
}

/*
 * The cycles run in parallel threads of this process: under QEMU TCG a
 * cycle mostly waits (worker start/stop, RCU), and one after the other
 * they would not fit the time budget.  Concurrent open/release is worth
 * having anyway.  Threads share the mm, so VmLck is the process total.
 */
TEST_F_TIMEOUT(stress, open_setup_close_cycles, 55)
{
	unsigned int i, n = cycles(), nt = threads();
	uint64_t t0, kb, ref;
	struct cycler *c;
	int step, err = 0;

	VT_SKIPPED();
	if (!self->have_ref)
		TH_LOG("%s not readable: refcount not checked", VT_REFCNT);
	/* one cycle alone, with exact accounting while it is open */
	step = one_setup(&self->d, &err);
	ASSERT_EQ(0, step) TH_LOG("step %d failed: %s", step, strerror(-err));
	VT_VMLCK(kb);
	EXPECT_EQ(self->base_kb + MEM_PAGES * self->ps / 1024, kb);
	if (self->have_ref && read_refcnt(&ref))
		EXPECT_EQ(self->base_ref + 1, ref);
	ASSERT_EQ(0, vg_close_fd(&self->d));

	c = calloc(nt, sizeof(*c));
	ASSERT_NE(NULL, c);
	t0 = vg_now_ms();
	for (i = 0; i < nt; i++) {
		c[i].d = self->d;
		c[i].d.fd = -1;
		c[i].n = n / nt + (i < n % nt);
		ASSERT_EQ(0, pthread_create(&c[i].th, NULL, cycler_run, &c[i]));
	}
	for (i = 0; i < nt; i++)
		ASSERT_EQ(0, pthread_join(c[i].th, NULL));
	TH_LOG("%u cycles in %u threads: %llu ms", n, nt,
	       (unsigned long long)(vg_now_ms() - t0));
	for (i = 0; i < nt; i++)
		EXPECT_EQ(0, c[i].step)
			TH_LOG("thread %u cycle %u: step %d failed: %s", i,
			       c[i].failed_cycle, c[i].step,
			       strerror(-c[i].err));
	free(c);

	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
	if (self->have_ref)
		EXPECT_EQ(self->base_ref, wait_refcnt(self->base_ref));
	EXPECT_TRUE(vt_wait_no_worker(getpid(), VT_GONE_WAIT_MS));
}

TEST_F(stress, refcnt_follows_open_fds)
{
	int fds[3], i;

	VT_SKIPPED();
	if (!self->have_ref)
		SKIP(return, "%s not readable", VT_REFCNT);
	for (i = 0; i < 3; i++) {
		uint64_t ref = 0;

		fds[i] = open(vt_dut(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
		ASSERT_TRUE(read_refcnt(&ref));
		EXPECT_EQ(self->base_ref + i + 1, ref);
	}
	for (i = 0; i < 3; i++)
		close(fds[i]);
	EXPECT_EQ(self->base_ref, wait_refcnt(self->base_ref));
}

TEST_F(stress, reset_owner_cycles)
{
	unsigned int i, n = cycles() / 10;
	int step, err = 0;
	uint64_t kb;

	VT_SKIPPED();
	step = one_setup(&self->d, &err);
	ASSERT_EQ(0, step) TH_LOG("step %d: %s", step, strerror(-err));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vg_reset_owner(&self->d)) TH_LOG("cycle %u", i);
		VT_VMLCK(kb);
		ASSERT_EQ(self->base_kb, kb) TH_LOG("cycle %u", i);
		ASSERT_EQ(0, vg_set_owner(&self->d)) TH_LOG("cycle %u", i);
		ASSERT_EQ(0, vg_set_mem_table(&self->d)) TH_LOG("cycle %u", i);
		ASSERT_EQ(0, vg_vq_setup(&self->d, 0)) TH_LOG("cycle %u", i);
		ASSERT_EQ(0, vg_vq_setup(&self->d, 1)) TH_LOG("cycle %u", i);
		VT_VMLCK(kb);
		ASSERT_EQ(self->base_kb + MEM_PAGES * self->ps / 1024, kb)
			TH_LOG("cycle %u", i);
	}
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
}

TEST_F(stress, mem_table_replace_cycles)
{
	struct vhost_memory_region r[3];
	struct vhost_accel_stats st;
	unsigned int i, n = cycles() / 2;
	uintptr_t hva = (uintptr_t)self->d.region[0].hva;
	uint64_t kb;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_reopen(&self->d));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	/* 16 pages, 4 pages, nothing, 2 + 1 pages in two regions */
	for (i = 0; i < n; i++) {
		uint64_t pages;

		memset(r, 0, sizeof(r));
		switch (i % 4) {
		case 0:
			r[0].memory_size = MEM_PAGES * self->ps;
			r[0].userspace_addr = hva;
			ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 1, 0));
			pages = MEM_PAGES;
			break;
		case 1:
			r[0].guest_phys_addr = 1ULL << 32;
			r[0].memory_size = 4 * self->ps;
			r[0].userspace_addr = hva + 4 * self->ps;
			ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 1, 0));
			pages = 4;
			break;
		case 2:
			ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 0, 0));
			pages = 0;
			break;
		default:
			r[0].memory_size = 2 * self->ps;
			r[0].userspace_addr = hva;
			r[1].guest_phys_addr = 1ULL << 20;
			r[1].memory_size = self->ps;
			r[1].userspace_addr = hva + 8 * self->ps;
			ASSERT_EQ(0, vg_set_mem_table_raw(self->d.fd, r, 2, 0));
			pages = 3;
			break;
		}
		ASSERT_EQ(0, vg_get_stats(&self->d, &st));
		ASSERT_EQ(pages, st.pinned_pages) TH_LOG("cycle %u", i);
		VT_VMLCK(kb);
		ASSERT_EQ(self->base_kb + pages * self->ps / 1024, kb)
			TH_LOG("cycle %u", i);
	}
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
}

static int child_own_and_exit(void *arg)
{
	struct vg_dev *d = arg;

	if (vg_set_owner(d))
		return 1;
	if (vg_set_mem_table(d))
		return 2;
	if (vg_vq_setup(d, 0) || vg_vq_setup(d, 1))
		return 3;
	return 0;	/* exits as the owner, device still open in parent */
}

TEST_F(stress, owner_exits_first_cycles)
{
	unsigned int i, n = cycles() / 50;
	uint64_t kb;

	VT_SKIPPED();
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vg_reopen(&self->d));
		ASSERT_EQ(0, vt_run_child(child_own_and_exit, &self->d))
			TH_LOG("cycle %u", i);
		ASSERT_EQ(-EBUSY, vg_set_owner(&self->d));
		ASSERT_EQ(0, vg_close_fd(&self->d));
	}
	/* all of that was charged to the children, never to us */
	VT_VMLCK(kb);
	EXPECT_EQ(self->base_kb, kb);
	if (self->have_ref)
		EXPECT_EQ(self->base_ref, wait_refcnt(self->base_ref));
}

TEST_F(stress, many_devices_open)
{
	struct vg_dev *devs;
	unsigned int i, n = 64;
	uint64_t kb;
	int step, err = 0;

	VT_SKIPPED();
	devs = calloc(n, sizeof(*devs));
	ASSERT_NE(NULL, devs);
	for (i = 0; i < n; i++) {
		/* share the fixture's memory and rings */
		devs[i] = self->d;
		devs[i].fd = -1;
		step = one_setup(&devs[i], &err);
		ASSERT_EQ(0, step) TH_LOG("device %u step %d: %s", i, step,
					  strerror(-err));
	}
	/* each table is charged on its own */
	VT_VMLCK(kb);
	EXPECT_EQ(self->base_kb + n * MEM_PAGES * self->ps / 1024, kb);
	if (self->have_ref) {
		uint64_t ref = 0;

		ASSERT_TRUE(read_refcnt(&ref));
		EXPECT_EQ(self->base_ref + n, ref);
	}
	for (i = 0; i < n; i++)
		vg_close_fd(&devs[i]);
	free(devs);
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
	if (self->have_ref)
		EXPECT_EQ(self->base_ref, wait_refcnt(self->base_ref));
	EXPECT_TRUE(vt_wait_no_worker(getpid(), VT_GONE_WAIT_MS));
}

/* A burst of kicks: counted at most once each, the device still answers. */
TEST_F(stress, kick_burst)
{
	struct vhost_accel_stats st;
	unsigned int i, v = 1, n = 10000;
	uint64_t seen = 0, one = 1;
	int step, err = 0;

	VT_SKIPPED();
	step = one_setup(&self->d, &err);
	ASSERT_EQ(0, step) TH_LOG("step %d: %s", step, strerror(-err));
	for (i = 0; i < n; i++)
		ASSERT_EQ((ssize_t)sizeof(one),
			  write(self->d.vq[VG_VQ_TX].kick_fd, &one,
				sizeof(one)));
	ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_TX, 1, VT_KICK_WAIT_MS,
				   &seen));
	vg_sleep_ms(100);
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_GE(n, st.vq[VG_VQ_TX].kicks);
	EXPECT_EQ(0ULL, st.vq[VG_VQ_RX].kicks);
	ASSERT_EQ(0, vg_get_vring_base(&self->d, VG_VQ_TX, &v));
	EXPECT_EQ(0U, v);
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(self->base_kb, vt_wait_vmlck(self->base_kb,
					       VT_GONE_WAIT_MS));
}

TEST_HARNESS_MAIN
