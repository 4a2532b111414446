// SPDX-License-Identifier: GPL-2.0
/*
 * Ownership, features, reset and the worker thread of /dev/vhost-accel.
 */
#include <pthread.h>

#include "vtest.h"

#define MEM_SIZE	(256 * 1024)

FIXTURE(dev) {
	struct vg_dev d;
};

FIXTURE_SETUP(dev)
{
	VT_OPEN_DUT(&self->d);
	ASSERT_EQ(0, vg_mem_init(&self->d, MEM_SIZE));
}

FIXTURE_TEARDOWN(dev)
{
	vg_close(&self->d);
}

TEST_F(dev, set_owner)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
}

TEST_F(dev, set_owner_twice_ebusy)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(-EBUSY, vg_set_owner(&self->d));
	/* still the owner */
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, 256));
}

TEST_F(dev, stats_after_owner)
{
	struct vhost_accel_stats st;
	unsigned int i;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ((__u32)VHOST_ACCEL_ABI_VERSION, st.version);
	EXPECT_EQ(2U, st.nvqs);
	EXPECT_EQ(0ULL, st.pinned_pages);
	for (i = 0; i < VG_NVQS; i++) {
		EXPECT_EQ(0ULL, st.vq[i].kicks);
		EXPECT_EQ(0ULL, st.vq[i].packets);
	}
}

/* The host administrator's view: debugfs shows the owner and counters. */
TEST_F(dev, debugfs_stats)
{
	char buf[4096];
	uint64_t seen = 0, one = 1;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(1, vg_debugfs_stats(getpid(), buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "nic none\n"));
	EXPECT_NE(NULL, strstr(buf, "tx_kicks 0\n"));
	EXPECT_NE(NULL, strstr(buf, "rx_bytes_copied 0\n"));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	ASSERT_EQ(0, vg_setup_vring(&self->d, VG_VQ_TX, 256));
	ASSERT_EQ((ssize_t)sizeof(one),
		  write(self->d.vq[VG_VQ_TX].kick_fd, &one, sizeof(one)));
	ASSERT_EQ(0, vt_wait_kicks(&self->d, VG_VQ_TX, 1, VT_KICK_WAIT_MS,
				   &seen));
	ASSERT_EQ(1, vg_debugfs_stats(getpid(), buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "tx_kicks 1\n")) TH_LOG("%s", buf);
	EXPECT_EQ(NULL, strstr(buf, "pinned_pages 0\n"));
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(0, vg_debugfs_stats(getpid(), buf, sizeof(buf)));
}

/* Every ioctl but SET_OWNER and the feature ioctls needs an owner. */
TEST_F(dev, eperm_before_owner)
{
	struct vg_dev *d = &self->d;
	struct vhost_vring_state s = { .index = 0, .num = 0 };
	unsigned int num;
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t log[8] = { 0 };
	struct vg_region *rg = &d->region[0];
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = rg->size,
		.userspace_addr = (uintptr_t)rg->hva,
	};

	VT_SKIPPED();
	ASSERT_LE(0, efd);
	EXPECT_EQ(-EPERM, vg_reset_owner(d));
	EXPECT_EQ(-EPERM, vg_set_mem_table_raw(d->fd, &r, 1, 0));
	EXPECT_EQ(-EPERM, vg_set_mem_table_raw(d->fd, NULL, 0, 0));
	EXPECT_EQ(-EPERM, vg_set_log_base(d, (uintptr_t)log));
	EXPECT_EQ(-EPERM, vg_set_log_fd(d, efd));
	EXPECT_EQ(-EPERM, vg_set_log_fd(d, -1));
	EXPECT_EQ(-EPERM, vg_set_vring_num(d, 0, 256));
	EXPECT_EQ(-EPERM, vg_set_vring_addr(d, 0, (uintptr_t)rg->hva,
					    (uintptr_t)rg->hva + 4096,
					    (uintptr_t)rg->hva + 8192, 0, 0));
	EXPECT_EQ(-EPERM, vg_set_vring_base(d, 0, 0));
	EXPECT_EQ(-EPERM, vg_get_vring_base(d, 1, &num));
	EXPECT_EQ(-EPERM, vg_set_vring_kick(d, 0, efd));
	EXPECT_EQ(-EPERM, vg_set_vring_call(d, 0, efd));
	EXPECT_EQ(-EPERM, vg_set_vring_err(d, 1, efd));
	EXPECT_EQ(-EPERM, vg_set_vring_busyloop(d, 0, 10));
	EXPECT_EQ(-EPERM, vg_get_vring_busyloop(d, 0, &num));
	EXPECT_EQ(-EPERM, vg_set_backend(d, 0, -1));
	EXPECT_EQ(-EPERM, vg_set_backend(d, 1, -1));
	/* owner check comes before argument checks, as in vhost-net */
	EXPECT_EQ(-EPERM, vg_set_vring_num(d, 2, 256));
	EXPECT_EQ(-EPERM, vg_set_backend(d, 2, -1));
	EXPECT_EQ(-EPERM, vg_ioctl(d, VHOST_SET_VRING_NUM, &s));
	close(efd);
}

TEST_F(dev, features_allowed_before_owner)
{
	uint64_t f = 0;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_get_features(&self->d, &f));
	ASSERT_EQ(0, vg_set_features(&self->d, f));
	ASSERT_EQ(0, vg_set_features(&self->d, 0));
	ASSERT_EQ(0, vg_get_backend_features(&self->d, &f));
	ASSERT_EQ(0, vg_set_backend_features(&self->d, 0));
	/* and still no owner */
	ASSERT_EQ(-EPERM, vg_set_vring_num(&self->d, 0, 256));
}

static void expect_offered(struct __test_metadata *_metadata, uint64_t f,
			   int bit, const char *name)
{
	EXPECT_TRUE(!!(f & VG_FBIT(bit)))
		TH_LOG("feature %s (bit %d) not offered", name, bit);
}

#define EXPECT_OFFERED(_f, _bit) expect_offered(_metadata, _f, _bit, #_bit)

TEST_F(dev, features_offered)
{
	uint64_t f = 0;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_get_features(&self->d, &f));
	EXPECT_OFFERED(f, VIRTIO_F_VERSION_1);
	EXPECT_OFFERED(f, VIRTIO_RING_F_EVENT_IDX);
	EXPECT_OFFERED(f, VIRTIO_RING_F_INDIRECT_DESC);
	EXPECT_OFFERED(f, VIRTIO_NET_F_MRG_RXBUF);
	EXPECT_OFFERED(f, VIRTIO_F_ANY_LAYOUT);
	EXPECT_OFFERED(f, VIRTIO_F_NOTIFY_ON_EMPTY);
	EXPECT_OFFERED(f, VHOST_F_LOG_ALL);
	EXPECT_OFFERED(f, VHOST_NET_F_VIRTIO_NET_HDR);
	/* no IOTLB, no packed ring */
	EXPECT_FALSE(!!(f & VG_FBIT(VIRTIO_F_ACCESS_PLATFORM)));
	EXPECT_FALSE(!!(f & VG_FBIT(VIRTIO_F_RING_PACKED)));
	EXPECT_EQ((uint64_t)VG_ACCEL_FEATURES, f)
		TH_LOG("offered 0x%llx, expected 0x%llx",
		       (unsigned long long)f,
		       (unsigned long long)VG_ACCEL_FEATURES);
	/* same answer after SET_OWNER */
	ASSERT_EQ(0, vg_set_owner(&self->d));
	f = 0;
	ASSERT_EQ(0, vg_get_features(&self->d, &f));
	EXPECT_EQ((uint64_t)VG_ACCEL_FEATURES, f);
}

TEST_F(dev, set_features_unoffered_eopnotsupp)
{
	uint64_t offered = 0;
	unsigned int bit;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_get_features(&self->d, &offered));
	for (bit = 0; bit < 64; bit++) {
		int want = (offered & VG_FBIT(bit)) ? 0 : -EOPNOTSUPP;

		EXPECT_EQ(want, vg_set_features(&self->d, VG_FBIT(bit)))
			TH_LOG("SET_FEATURES bit %u", bit);
	}
	EXPECT_EQ(-EOPNOTSUPP, vg_set_features(&self->d, ~0ULL));
	EXPECT_EQ(-EOPNOTSUPP,
		  vg_set_features(&self->d, offered |
				  VG_FBIT(VIRTIO_F_ACCESS_PLATFORM)));
	EXPECT_EQ(0, vg_set_features(&self->d, offered));
	/* the same after SET_OWNER */
	ASSERT_EQ(0, vg_set_owner(&self->d));
	EXPECT_EQ(-EOPNOTSUPP, vg_set_features(&self->d, VG_FBIT(63)));
	EXPECT_EQ(0, vg_set_features(&self->d, offered));
}

TEST_F(dev, backend_features)
{
	uint64_t f = ~0ULL;

	VT_SKIPPED();
	/* vhost-net's one bit (no IOTLB message is ever sent without
	 * ACCESS_PLATFORM, so it changes nothing)
	 */
	ASSERT_EQ(0, vg_get_backend_features(&self->d, &f));
	EXPECT_EQ(VG_FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2), f);
	EXPECT_EQ(0, vg_set_backend_features(&self->d, 0));
	EXPECT_EQ(0, vg_set_backend_features(&self->d,
			VG_FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2)));
	EXPECT_EQ(-EOPNOTSUPP, vg_set_backend_features(&self->d,
			VG_FBIT(VHOST_BACKEND_F_IOTLB_BATCH)));
	EXPECT_EQ(-EOPNOTSUPP, vg_set_backend_features(&self->d, ~0ULL));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	f = ~0ULL;
	ASSERT_EQ(0, vg_get_backend_features(&self->d, &f));
	EXPECT_EQ(VG_FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2), f);
	EXPECT_EQ(0, vg_set_backend_features(&self->d, 0));
}

TEST_F(dev, features_bad_pointer_efault)
{
	VT_SKIPPED();
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_GET_FEATURES, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_FEATURES, NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_GET_BACKEND_FEATURES,
				    NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_SET_BACKEND_FEATURES,
				    NULL));
	EXPECT_EQ(-EFAULT, vg_ioctl(&self->d, VHOST_GET_FEATURES,
				    (void *)(uintptr_t)VT_KERNEL_ADDR));
}

/* A forked child shares the fd but not the mm: it is not the owner. */
static int child_not_owner(void *arg)
{
	struct vg_dev *d = arg;
	struct vg_region *rg = &d->region[0];
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = rg->size,
		.userspace_addr = (uintptr_t)rg->hva,
	};
	unsigned int num;
	uint64_t f;

	VT_CHILD_EXPECT(1, -EPERM, vg_set_vring_num(d, 0, 256));
	VT_CHILD_EXPECT(2, -EPERM, vg_get_vring_base(d, 0, &num));
	VT_CHILD_EXPECT(3, -EPERM, vg_set_mem_table_raw(d->fd, &r, 1, 0));
	VT_CHILD_EXPECT(4, -EPERM, vg_set_vring_kick(d, 0, -1));
	VT_CHILD_EXPECT(5, -EPERM, vg_set_log_fd(d, -1));
	VT_CHILD_EXPECT(6, -EPERM, vg_set_backend(d, 0, -1));
	VT_CHILD_EXPECT(7, -EPERM, vg_reset_owner(d));
	VT_CHILD_EXPECT(8, -EBUSY, vg_set_owner(d));
	VT_CHILD_EXPECT(9, 0, vg_get_features(d, &f));
	return 0;
}

TEST_F(dev, fork_child_not_owner)
{
	unsigned int num = 1;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_vring_base(&self->d, 0, 42));
	ASSERT_EQ(0, vt_run_child(child_not_owner, &self->d));
	/* the parent is still the owner, its state untouched */
	ASSERT_EQ(0, vg_get_vring_base(&self->d, 0, &num));
	ASSERT_EQ(42U, num);
	ASSERT_EQ(0, vg_set_vring_num(&self->d, 0, 256));
}

struct owner_child {
	struct vg_dev *d;
	int to_parent[2];
	int to_child[2];
	int rc;
};

static int child_becomes_owner(void *arg)
{
	struct owner_child *oc = arg;
	char c = 0;

	close(oc->to_parent[0]);
	close(oc->to_child[1]);
	oc->rc = vg_set_owner(oc->d);
	if (!oc->rc)
		oc->rc = vg_set_mem_table(oc->d);
	if (write(oc->to_parent[1], &oc->rc, sizeof(oc->rc)) !=
	    sizeof(oc->rc))
		return 2;
	/* stay alive (and owner) until the parent has checked */
	if (read(oc->to_child[0], &c, 1) < 0)
		return 3;
	return 0;
}

TEST_F(dev, fork_child_becomes_owner)
{
	struct owner_child oc = { .d = &self->d };
	char want[VG_COMM_BUF];
	int status, rc = -1;
	pid_t pid, tid = 0;

	VT_SKIPPED();
	ASSERT_EQ(0, pipe(oc.to_parent));
	ASSERT_EQ(0, pipe(oc.to_child));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_becomes_owner(&oc));
	close(oc.to_parent[1]);
	close(oc.to_child[0]);
	ASSERT_EQ((ssize_t)sizeof(rc), read(oc.to_parent[0], &rc,
					     sizeof(rc)));
	ASSERT_EQ(0, rc);

	EXPECT_EQ(-EBUSY, vg_set_owner(&self->d));
	EXPECT_EQ(-EPERM, vg_set_vring_num(&self->d, 0, 256));
	EXPECT_EQ(-EPERM, vg_reset_owner(&self->d));
	EXPECT_LT(0, vg_find_worker(pid, &tid));

	/* the owner exits while the device stays open here */
	close(oc.to_child[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-EBUSY, vg_set_owner(&self->d));
	EXPECT_EQ(-EPERM, vg_set_vring_num(&self->d, 0, 256));

	/* last close releases the dead owner's state and its worker */
	ASSERT_EQ(0, vg_close_fd(&self->d));
	if (tid > 0) {
		vg_worker_comm(pid, want, sizeof(want));
		EXPECT_TRUE(vt_wait_task_gone(tid, want, VT_GONE_WAIT_MS));
	}
	close(oc.to_parent[0]);
}

struct thread_arg {
	struct vg_dev *d;
	int rc_num, rc_base, rc_get;
	unsigned int base;
};

static void *owner_thread(void *p)
{
	struct thread_arg *ta = p;

	ta->rc_num = vg_set_vring_num(ta->d, 1, 128);
	ta->rc_base = vg_set_vring_base(ta->d, 1, 7);
	ta->rc_get = vg_get_vring_base(ta->d, 1, &ta->base);
	return NULL;
}

/* QEMU issues vhost ioctls from vCPU threads: same mm, same owner. */
TEST_F(dev, owner_thread_allowed)
{
	struct thread_arg ta = { .d = &self->d };
	unsigned int base = 0;
	pthread_t th;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, pthread_create(&th, NULL, owner_thread, &ta));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, ta.rc_num);
	EXPECT_EQ(0, ta.rc_base);
	EXPECT_EQ(0, ta.rc_get);
	EXPECT_EQ(7U, ta.base);
	ASSERT_EQ(0, vg_get_vring_base(&self->d, 1, &base));
	EXPECT_EQ(7U, base);
}

TEST_F(dev, reset_owner_before_owner_eperm)
{
	VT_SKIPPED();
	ASSERT_EQ(-EPERM, vg_reset_owner(&self->d));
}

TEST_F(dev, reset_owner_then_set_owner)
{
	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_reset_owner(&self->d));
	/* no owner any more */
	EXPECT_EQ(-EPERM, vg_set_vring_num(&self->d, 0, 256));
	EXPECT_EQ(-EPERM, vg_reset_owner(&self->d));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	EXPECT_EQ(0, vg_set_vring_num(&self->d, 0, 256));
	EXPECT_EQ(-EBUSY, vg_set_owner(&self->d));
}

TEST_F(dev, reset_owner_resets_vrings)
{
	unsigned int v = 1;

	VT_SKIPPED();
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_vring_base(&self->d, 0, 77));
	ASSERT_EQ(0, vg_set_vring_busyloop(&self->d, 1, 50));
	ASSERT_EQ(0, vg_reset_owner(&self->d));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_get_vring_base(&self->d, 0, &v));
	EXPECT_EQ(0U, v);
	v = 1;
	ASSERT_EQ(0, vg_get_vring_busyloop(&self->d, 1, &v));
	EXPECT_EQ(0U, v);
}

TEST_F(dev, reset_owner_releases_pinned)
{
	uint64_t base, kb, pages = MEM_SIZE / vt_page();
	struct vhost_accel_stats st;

	VT_SKIPPED();
	VT_VMLCK(base);
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ(pages, st.pinned_pages);
	VT_VMLCK(kb);
	EXPECT_EQ(base + MEM_SIZE / 1024, kb);

	ASSERT_EQ(0, vg_reset_owner(&self->d));
	EXPECT_EQ(base, vt_wait_vmlck(base, VT_GONE_WAIT_MS));

	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_get_stats(&self->d, &st));
	EXPECT_EQ(0ULL, st.pinned_pages);
	VT_VMLCK(kb);
	EXPECT_EQ(base, kb);
	/* and the memory can be registered again */
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	VT_VMLCK(kb);
	EXPECT_EQ(base + MEM_SIZE / 1024, kb);
}

TEST_F(dev, close_releases_pinned)
{
	uint64_t base, kb;

	VT_SKIPPED();
	VT_VMLCK(base);
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(0, vg_set_mem_table(&self->d));
	VT_VMLCK(kb);
	EXPECT_EQ(base + MEM_SIZE / 1024, kb);
	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_EQ(base, vt_wait_vmlck(base, VT_GONE_WAIT_MS));
}

TEST_F(dev, no_worker_before_owner)
{
	pid_t tid;

	VT_SKIPPED();
	ASSERT_TRUE(vt_wait_no_worker(getpid(), VT_GONE_WAIT_MS));
	/* opening alone starts nothing */
	vg_sleep_ms(50);
	ASSERT_EQ(-ENOENT, vg_find_worker(getpid(), &tid));
}

TEST_F(dev, worker_kthread_named)
{
	char want[VG_COMM_BUF], comm[VG_COMM_BUF];
	bool kthread = false;
	pid_t tid = 0;

	VT_SKIPPED();
	ASSERT_TRUE(vt_wait_no_worker(getpid(), VT_GONE_WAIT_MS));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	vg_worker_comm(getpid(), want, sizeof(want));
	ASSERT_EQ(1, vt_wait_worker(getpid(), &tid, VT_KICK_WAIT_MS))
		TH_LOG("no single kernel thread named '%s'", want);
	ASSERT_EQ(0, vg_task_comm(tid, comm, sizeof(comm), &kthread));
	EXPECT_TRUE(vg_comm_matches(comm, want))
		TH_LOG("worker is named '%s', want '%s'", comm, want);
	EXPECT_TRUE(kthread);

	ASSERT_EQ(0, vg_close_fd(&self->d));
	EXPECT_TRUE(vt_wait_task_gone(tid, want, VT_GONE_WAIT_MS))
		TH_LOG("worker %d still there after close", tid);
}

TEST_F(dev, worker_restarts_after_reset_owner)
{
	char want[VG_COMM_BUF];
	pid_t tid = 0, tid2 = 0;

	VT_SKIPPED();
	vg_worker_comm(getpid(), want, sizeof(want));
	ASSERT_TRUE(vt_wait_no_worker(getpid(), VT_GONE_WAIT_MS));
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(1, vt_wait_worker(getpid(), &tid, VT_KICK_WAIT_MS));
	ASSERT_EQ(0, vg_reset_owner(&self->d));
	EXPECT_TRUE(vt_wait_task_gone(tid, want, VT_GONE_WAIT_MS))
		TH_LOG("worker %d survives RESET_OWNER", tid);
	ASSERT_EQ(0, vg_set_owner(&self->d));
	ASSERT_EQ(1, vt_wait_worker(getpid(), &tid2, VT_KICK_WAIT_MS));
}

/* Library self-check of the name matching (no device). */
TEST(lib_worker_name)
{
	char name[VG_COMM_BUF], comm[VG_COMM_BUF];
	bool kthread = true;

	vg_worker_comm(12345, name, sizeof(name));
	ASSERT_STREQ("vhost-accel-12345", name);
	EXPECT_TRUE(vg_comm_matches("vhost-accel-12345", name));
	EXPECT_TRUE(vg_comm_matches("vhost-accel-123", name));
	EXPECT_FALSE(vg_comm_matches("vhost-accel-124", name));
	EXPECT_FALSE(vg_comm_matches("vhost-accel-12", name));
	EXPECT_FALSE(vg_comm_matches("vhost-accel-1234", name));
	EXPECT_FALSE(vg_comm_matches("vhost-accel-123456", name));
	vg_worker_comm(42, name, sizeof(name));
	EXPECT_TRUE(vg_comm_matches("vhost-accel-42", name));
	EXPECT_FALSE(vg_comm_matches("vhost-accel-420", name));

	ASSERT_EQ(0, vg_task_comm(getpid(), comm, sizeof(comm), &kthread));
	EXPECT_STREQ("control_owner", comm);
	EXPECT_FALSE(kthread);
	/* pid 2 is kthreadd, unless in a pid namespace */
	if (!vg_task_comm(2, comm, sizeof(comm), &kthread) &&
	    !strcmp(comm, "kthreadd"))
		EXPECT_TRUE(kthread);
}

TEST_HARNESS_MAIN
