// SPDX-License-Identifier: GPL-2.0
/*
 * Races between the binding's teardown paths, the owner's ioctls and the
 * datapath (issue 13):
 *
 *  - refresh_link_down: a feature change makes a bound device attach again
 *    while the NIC's link is down; the attach fails, the features are set
 *    back, and SET_BACKEND must fail cleanly (no datapath on a missing
 *    queue pair, no oops), and work again once the link is back;
 *  - ioctl_storm: four threads of one owner issue random vhost and
 *    vhost-accel ioctls on one fd while the NIC's link flaps every 300 ms,
 *    its queue pairs are reset now and then, and a macvtap on the NIC is
 *    deleted and re-created, its queue fd used as SET_BACKEND's fd half the
 *    time.  Prints its seed (VG_RACE_SEED=n replays, VG_RACE_SECS=n runs
 *    that long, default 40);
 *  - unpin_vs_teardown: under traffic into a slow NIC (completion delay),
 *    the NIC is deleted while the owner swaps the memory table for a
 *    disjoint one and gives the old pages back; nothing the NIC writes may
 *    land in memory that was freed (fresh memory is scanned for the test
 *    frames' signature), in a loop (VG_RACE_LOOPS=n, default 12);
 *  - stuck_fault_isolation: device A's Rx rings lie in a userfaultfd range
 *    whose fault is never answered, so A hangs in SET_BACKEND; meanwhile
 *    device B binds, starts, carries a frame each way and unbinds, a
 *    macvtap on the NIC is deleted and a netlink dump answers, each within
 *    1 s; then the fault is answered and A's ioctl ends and A works;
 *  - stuck_worker_isolation: the same with A's worker stuck in such a
 *    fault (holding A's Rx queue mutex): a netlink dump and device B's
 *    binding and unbinding answer within 1 s;
 *  - log_check_at_backend: SET_BACKEND refuses a queue whose dirty log
 *    cannot cover what it would write (LOG_ALL: the memory table; the
 *    used ring with VHOST_VRING_F_LOG), as vhost-net checks there;
 *  - tap_gone: SET_BACKEND with the queue fd of a macvtap being deleted
 *    is refused or revoked with the macvtap; no binding outlives it.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include <linux/genetlink.h>

#include "dptest.h"
#include "mvtap.h"

#define RACE_NEFD	6
#define RACE_THREADS	4

FIXTURE(races) {
	struct dp_ctx c;
};

FIXTURE_SETUP(races)
{
	int r;

	vp_nic_reap_stale();
	r = dp_ctx_init(&self->c, 'r', 0);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
}

FIXTURE_TEARDOWN(races)
{
	vp_nic_knob_write(&self->c.nic, "link", "1");
	vp_nic_knob_write(&self->c.nic, "completion_delay_us", "0");
	dp_ctx_fini(&self->c);
}

static const struct vg_net_cfg race_cfg = {
	.features = DP_F_V1 | DP_F_MRG,
	.rx_num = 256,
	.tx_num = 256,
};

/* Peer -> guest: one test frame arrives intact within DP_WAIT_MS. */
static int race_rx_one(struct dp_ctx *c, struct vg_net *g, const uint8_t *mac,
		       uint32_t seq, char *why, size_t wl)
{
	struct vg_net_rx f;
	int r;

	vp_test_frame(c->tx, 200, mac, c->nic.peer_mac, seq);
	r = vp_packet_send(&c->nic, c->pkt, c->tx, 200);
	if (r) {
		snprintf(why, wl, "peer send: %s", dp_strerr(r));
		return r;
	}
	r = dp_guest_recv(g, &f, DP_WAIT_MS, NULL);
	if (r) {
		snprintf(why, wl, "guest receive: %s", dp_strerr(r));
		return r;
	}
	return dp_rx_check(g, &f, c->tx, 200, 0, why, wl);
}

/*
 * Defect 4, single-threaded: the re-attach after a feature change fails
 * (link down), the features go back to what the last attach had, and the
 * queue must not start on the queue pair that no longer exists.
 */
TEST_F_TIMEOUT(races, refresh_link_down, 120)
{
	struct dp_ctx *c = &self->c;
	uint8_t mac[6];
	struct vg_net g;
	char why[256];
	int efd, r;

	dp_guest_mac(mac, 1);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vg_net_open(&g, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_bind(&g, c->nic.ifindex, mac, 0));

	ASSERT_EQ(0, vp_nic_knob_write(&c->nic, "link", "0"));
	/* mergeable buffers off: the queue pair must be attached anew */
	ASSERT_EQ(0, vg_set_features(&g.d, DP_F_V1));
	r = vg_set_backend(&g.d, VG_VQ_RX, efd);
	EXPECT_NE(0, r) TH_LOG("re-attach with the link down succeeded");
	/* back to the features of the first attach */
	ASSERT_EQ(0, vg_set_features(&g.d, DP_F_V1 | DP_F_MRG));
	r = vg_set_backend(&g.d, VG_VQ_RX, efd);
	EXPECT_NE(0, r) TH_LOG("RX started without a queue pair");
	r = vg_set_backend(&g.d, VG_VQ_TX, efd);
	EXPECT_NE(0, r) TH_LOG("TX started without a queue pair");
	/* let a worker run that a start may have queued */
	vg_sleep_ms(200);
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_RX, -1));
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_TX, -1));

	/* the link comes back: the same binding works */
	ASSERT_EQ(0, vp_nic_knob_write(&c->nic, "link", "1"));
	vg_sleep_ms(100);
	r = vg_net_start(&g, -1);
	ASSERT_EQ(0, r) TH_LOG("SET_BACKEND after link up: %s", dp_strerr(r));
	ASSERT_LT(0, vg_net_rx_fill(&g, g.rx_nbufs));
	ASSERT_LE(0, vg_net_rx_kick(&g));
	ASSERT_EQ(0, dp_wait_rx_posted(&g, false, 0));
	r = race_rx_one(c, &g, mac, 1, why, sizeof(why));
	EXPECT_EQ(0, r) TH_LOG("%s", why);
	EXPECT_EQ(0, vg_net_stop(&g));
	vg_net_close(&g);
	close(efd);
}

/* ---- ioctl storm ------------------------------------------------------- */

struct storm {
	struct dp_ctx *c;
	struct vg_net *g;
	uint8_t mac[6];		/* SET_NIC's */
	uint8_t tapmac[6];	/* the macvtap's */
	unsigned int seed;
	int efd[RACE_NEFD];
	atomic_int tapfd;	/* current macvtap queue fd or -1 */
	atomic_int stop;
	atomic_ullong calls;
	atomic_ullong started;	/* SET_BACKEND starts that succeeded */
	atomic_ullong tap_binds;
	atomic_ullong busy_since[RACE_THREADS];	/* ms, 0: idle */
	atomic_ullong taps;
	char why[256];
};

static const uint64_t storm_features[] = {
	DP_F_V1 | DP_F_MRG, DP_F_V1, DP_F_MRG, 0,
	DP_F_V1 | DP_F_MRG | DP_F_EVIDX, DP_F_V1 | DP_F_IND,
};

static int storm_backend_fd(struct storm *s, unsigned int *rs)
{
	int fd = atomic_load(&s->tapfd);

	if (fd >= 0 && rand_r(rs) % 2)
		return fd;
	return s->efd[rand_r(rs) % RACE_NEFD];
}

static void storm_one(struct storm *s, unsigned int *rs)
{
	struct vg_dev *d = &s->g->d;
	unsigned int q = rand_r(rs) % VG_NVQS;
	struct vg_vq *vq = &d->vq[q];
	struct vhost_accel_stats st;
	unsigned int base;
	uint64_t one = 1;
	int fd, r;

	switch (rand_r(rs) % 16) {
	case 0:
		vg_set_mem_table(d);
		break;
	case 1:
		if (rand_r(rs) % 4 == 0)
			vg_set_mem_table_raw(d->fd, NULL, 0, 0);
		else
			vg_set_mem_table(d);
		break;
	case 2:
		vg_set_vring_num(d, q, rand_r(rs) % 2 ? vq->num : 64);
		break;
	case 3:
		vg_set_vring_addr(d, q, (uintptr_t)vq->desc,
				  (uintptr_t)vq->avail, (uintptr_t)vq->used,
				  0, 0);
		break;
	case 4:
		vg_set_vring_base(d, q, 0);
		break;
	case 5:
		vg_set_features(d, storm_features[rand_r(rs) %
						  VP_ARRAY_SIZE(storm_features)]);
		break;
	case 6:
		vg_set_nic(d, s->c->nic.ifindex, s->mac, 0);
		break;
	case 7:
		vg_clear_nic(d);
		break;
	case 8:
	case 9:
		fd = storm_backend_fd(s, rs);
		r = vg_set_backend(d, q, fd);
		if (!r)
			atomic_fetch_add(&s->started, 1);
		if (!r && fd == atomic_load(&s->tapfd))
			atomic_fetch_add(&s->tap_binds, 1);
		break;
	case 10:
	case 11:
		vg_set_backend(d, q, -1);
		break;
	case 12:
		fd = s->efd[rand_r(rs) % RACE_NEFD];
		switch (rand_r(rs) % 3) {
		case 0:
			vg_set_vring_kick(d, q, fd);
			break;
		case 1:
			vg_set_vring_call(d, q, fd);
			break;
		default:
			vg_set_vring_err(d, q, fd);
		}
		break;
	case 13:
		vg_get_stats(d, &st);
		break;
	case 14:
		vg_get_vring_base(d, q, &base);
		break;
	default:
		if (write(s->efd[rand_r(rs) % RACE_NEFD], &one,
			  sizeof(one)) < 0)
			break;
	}
	atomic_fetch_add(&s->calls, 1);
}

struct storm_thread {
	struct storm *s;
	unsigned int idx;
};

static void *storm_ioctls(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = t->s;
	unsigned int rs = s->seed * 31 + t->idx;

	while (!atomic_load(&s->stop)) {
		atomic_store(&s->busy_since[t->idx], vg_now_ms());
		storm_one(s, &rs);
		atomic_store(&s->busy_since[t->idx], 0);
		if (rand_r(&rs) % 8 == 0)
			usleep(rand_r(&rs) % 2000);
	}
	return NULL;
}

/* The NIC's link flaps every 300 ms; now and then its queue pairs reset. */
static void *storm_flap(void *arg)
{
	struct storm *s = arg;
	unsigned int n = 0;

	while (!atomic_load(&s->stop)) {
		vp_nic_knob_write(&s->c->nic, "link", n % 2 ? "1" : "0");
		if (n % 7 == 3)
			vp_nic_knob_write(&s->c->nic, "reset_qps", "1");
		n++;
		vg_sleep_ms(300);
	}
	vp_nic_knob_write(&s->c->nic, "link", "1");
	return NULL;
}

/* A macvtap on the NIC, deleted and re-created; its fd published. */
static void *storm_macvtap(void *arg)
{
	struct storm *s = arg;
	unsigned int rs = s->seed * 7 + 1;
	int old = -1, idx = 0, fd;
	char name[VP_IFNAMSIZ];

	while (!atomic_load(&s->stop)) {
		if (!mv_macvtap_create(name, 'm', s->c->nic.ifindex, s->tapmac,
				       &idx)) {
			fd = mv_tap_open(name, idx);
			if (fd >= 0)
				atomic_store(&s->tapfd, fd);
			atomic_fetch_add(&s->taps, 1);
		}
		/* the fd before last: no thread is between load and use */
		if (old >= 0)
			close(old);
		old = atomic_load(&s->tapfd);
		vg_sleep_ms(200 + rand_r(&rs) % 600);
		if (idx)
			vp_nl_link_del(idx);
		idx = 0;
		vg_sleep_ms(rand_r(&rs) % 200);
	}
	fd = atomic_exchange(&s->tapfd, -1);
	if (fd >= 0)
		close(fd);
	if (old >= 0 && old != fd)
		close(old);
	return NULL;
}

static unsigned int race_seed(void)
{
	const char *e = getenv("VG_RACE_SEED");

	if (e && *e)
		return (unsigned int)strtoul(e, NULL, 0);
	return (unsigned int)(time(NULL) ^ getpid());
}

static unsigned int race_secs(unsigned int def)
{
	const char *e = getenv("VG_RACE_SECS");

	if (e && *e && atoi(e) > 0)
		return (unsigned int)atoi(e);
	return def;
}

/* An ioctl that has not returned for this long is a hang. */
#define STORM_HANG_MS	(30000ULL * vg_time_scale())

TEST_F_TIMEOUT(races, ioctl_storm, 240)
{
	struct dp_ctx *c = &self->c;
	pthread_t th[RACE_THREADS], flap, mvt;
	struct storm_thread st[RACE_THREADS];
	unsigned int i, secs = race_secs(40);
	uint64_t end, now, since;
	struct storm *s;
	struct vg_net *g;
	bool hung = false;
	char why[256];
	uint64_t kb;

	s = calloc(1, sizeof(*s));
	g = calloc(1, sizeof(*g));
	ASSERT_TRUE(s && g);
	s->c = c;
	s->g = g;
	s->seed = race_seed();
	atomic_init(&s->tapfd, -1);
	dp_guest_mac(s->mac, 1);
	dp_guest_mac(s->tapmac, 2);
	TH_LOG("seed %u (VG_RACE_SEED=%u replays), %u s", s->seed, s->seed,
	       secs);
	for (i = 0; i < RACE_NEFD; i++) {
		s->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, s->efd[i]);
	}
	ASSERT_EQ(0, vg_net_open(g, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_bind(g, c->nic.ifindex, s->mac, 0));
	ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nbufs));

	ASSERT_EQ(0, pthread_create(&flap, NULL, storm_flap, s));
	ASSERT_EQ(0, pthread_create(&mvt, NULL, storm_macvtap, s));
	for (i = 0; i < RACE_THREADS; i++) {
		st[i].s = s;
		st[i].idx = i;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, storm_ioctls,
					    &st[i]));
	}
	end = vg_now_ms() + secs * 1000ULL;
	while ((now = vg_now_ms()) < end && !hung) {
		for (i = 0; i < RACE_THREADS; i++) {
			since = atomic_load(&s->busy_since[i]);
			if (since && now > since + STORM_HANG_MS)
				hung = true;
		}
		vg_sleep_ms(100);
	}
	atomic_store(&s->stop, 1);
	ASSERT_FALSE(hung) TH_LOG("an ioctl did not return for %llu ms (seed %u)",
				  (unsigned long long)STORM_HANG_MS, s->seed);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(flap, NULL);
	pthread_join(mvt, NULL);
	TH_LOG("%llu ioctls, %llu starts (%llu through the macvtap), %llu macvtaps",
	       (unsigned long long)atomic_load(&s->calls),
	       (unsigned long long)atomic_load(&s->started),
	       (unsigned long long)atomic_load(&s->tap_binds),
	       (unsigned long long)atomic_load(&s->taps));

	/* the device still works after all that */
	vg_set_backend(&g->d, VG_VQ_RX, -1);
	vg_set_backend(&g->d, VG_VQ_TX, -1);
	vg_net_close(g);
	memset(g, 0, sizeof(*g));
	vg_sleep_ms(100);
	ASSERT_EQ(0, dp_guest_up(c, g, &race_cfg, s->mac)) TH_LOG("%s", c->why);
	EXPECT_EQ(0, race_rx_one(c, g, s->mac, 7, why, sizeof(why)))
		TH_LOG("%s", why);
	vg_net_close(g);
	kb = dp_wait_vmlck(c->vmlck0, DP_VMLCK_MS);
	EXPECT_EQ(c->vmlck0, kb) TH_LOG("pinned memory left behind");
	for (i = 0; i < RACE_NEFD; i++)
		close(s->efd[i]);
	free(g);
	free(s);
}

/* ---- unpin vs teardown (defect 2) --------------------------------------- */

struct unpin {
	struct dp_ctx *c;
	struct vg_net *g;
	uint8_t mac[6];
	atomic_int stop_guest;
	atomic_int stop_peer;
	atomic_ullong rx;
};

/* The peer sends test frames to the guest as fast as it can. */
static void *unpin_peer(void *arg)
{
	struct unpin *u = arg;
	uint8_t frame[200];
	uint32_t seq = 0;

	while (!atomic_load(&u->stop_peer)) {
		vp_test_frame(frame, sizeof(frame), u->mac,
			      u->c->nic.peer_mac, seq++);
		if (vp_packet_send(&u->c->nic, u->c->pkt, frame,
				   sizeof(frame)))
			usleep(200);
	}
	return NULL;
}

/* The guest takes what arrives and posts its buffers again. */
static void *unpin_guest(void *arg)
{
	struct unpin *u = arg;
	struct vg_net_rx f;

	while (!atomic_load(&u->stop_guest)) {
		while (!vg_net_rx_get(u->g, &f))
			atomic_fetch_add(&u->rx, 1);
		if (vg_net_rx_fill(u->g, u->g->rx_nfree) < 0 ||
		    vg_net_rx_kick(u->g) < 0)
			break;
		usleep(100);
	}
	return NULL;
}

struct unpin_del {
	int ifindex;
	int ret;
};

static void *unpin_delete(void *arg)
{
	struct unpin_del *d = arg;

	d->ret = vp_nl_link_del(d->ifindex);
	return NULL;
}

static unsigned int race_loops(unsigned int def)
{
	const char *e = getenv("VG_RACE_LOOPS");

	if (e && *e && atoi(e) > 0)
		return (unsigned int)atoi(e);
	return def;
}

#define UNPIN_FRESH	(64UL << 20)
#define UNPIN_T2	(2UL << 20)
#define UNPIN_T2_GPA	(64ULL << 30)
#define UNPIN_DELAY_US	20000

/*
 * One round: traffic into a guest on a slow NIC; the NIC is deleted
 * while the owner swaps the memory table for a disjoint one and gives the
 * old pages back (MADV_DONTNEED).  Pages the NIC may still write must stay
 * pinned: had they been unpinned, they are free, and fresh memory of ours
 * (allocated at once, on the same CPU) is where they come back.  Returns
 * the number of test frames found in that fresh memory, or -errno.
 */
static int unpin_round(struct __test_metadata *_metadata, char tag,
		       unsigned int *rs, unsigned long long *rx)
{
	struct vhost_memory_region t2 = {};
	pthread_t peer, guest, del;
	struct unpin_del d = {};
	struct unpin u = {};
	struct dp_ctx c;
	struct vg_net g;
	uint8_t *fresh, *p, *t2hva;
	int found = 0, r;
	size_t left;

	r = dp_ctx_init(&c, tag, 0);
	if (r) {
		TH_LOG("%s", c.why);
		dp_ctx_fini(&c);
		return r;
	}
	u.c = &c;
	u.g = &g;
	dp_guest_mac(u.mac, 3);
	vp_nic_knob_write(&c.nic, "completion_delay_us", "20000");
	r = dp_guest_up(&c, &g, &race_cfg, u.mac);
	if (r) {
		TH_LOG("%s", c.why);
		goto out_ctx;
	}
	t2hva = mmap(NULL, UNPIN_T2, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (t2hva == MAP_FAILED) {
		r = -errno;
		goto out_guest;
	}
	t2.guest_phys_addr = UNPIN_T2_GPA;
	t2.memory_size = UNPIN_T2;
	t2.userspace_addr = (uintptr_t)t2hva;

	pthread_create(&peer, NULL, unpin_peer, &u);
	pthread_create(&guest, NULL, unpin_guest, &u);
	vg_sleep_ms(300);
	d.ifindex = c.nic.ifindex;
	pthread_create(&del, NULL, unpin_delete, &d);
	usleep(rand_r(rs) % (2 * UNPIN_DELAY_US));
	atomic_store(&u.stop_guest, 1);
	pthread_join(guest, NULL);
	/* the old table (rings, buffers) goes; the pages go back */
	r = vg_set_mem_table_raw(g.d.fd, &t2, 1, 0);
	madvise(g.d.region[0].hva, g.d.region[0].size, MADV_DONTNEED);
	fresh = mmap(NULL, UNPIN_FRESH, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh != MAP_FAILED)
		memset(fresh, 0x5a, UNPIN_FRESH);
	pthread_join(del, NULL);
	vg_sleep_ms(3 * UNPIN_DELAY_US / 1000 + 100);
	atomic_store(&u.stop_peer, 1);
	pthread_join(peer, NULL);
	*rx = atomic_load(&u.rx);
	if (fresh != MAP_FAILED) {
		for (p = fresh, left = UNPIN_FRESH;
		     (p = memmem(p, left, "VDPT", 4));
		     left = UNPIN_FRESH - (size_t)(p - fresh)) {
			found++;
			p += 4;
			left = UNPIN_FRESH - (size_t)(p - fresh);
		}
		munmap(fresh, UNPIN_FRESH);
	}
	if (r && r != -EFAULT)
		TH_LOG("SET_MEM_TABLE: %s", dp_strerr(r));
	if (d.ret)
		TH_LOG("NIC delete: %s", dp_strerr(d.ret));
	munmap(t2hva, UNPIN_T2);
	r = found;
out_guest:
	vg_net_close(&g);
out_ctx:
	dp_ctx_fini(&c);
	return r;
}

TEST_F_TIMEOUT(races, unpin_vs_teardown, 300)
{
	unsigned int i, loops = race_loops(12), seed = race_seed();
	unsigned long long rx;
	int found;
	uint64_t kb;

	TH_LOG("seed %u (VG_RACE_SEED=%u replays), %u rounds", seed, seed,
	       loops);
	for (i = 0; i < loops; i++) {
		found = unpin_round(_metadata, (char)('A' + i % 26), &seed,
				    &rx);
		ASSERT_LE(0, found) TH_LOG("round %u: %s", i,
					   dp_strerr(found));
		EXPECT_EQ(0, found)
			TH_LOG("round %u: %d test frames written into memory given back after SET_MEM_TABLE (%llu received before)",
			       i, found, rx);
		if (found)
			break;
	}
	kb = dp_wait_vmlck(self->c.vmlck0, DP_VMLCK_MS);
	EXPECT_EQ(self->c.vmlck0, kb) TH_LOG("pinned memory left behind");
}

/* ---- a stuck fault stalls nobody else (defect 3) ------------------------- */

/* The vhost_accel generic netlink family id, or -errno. */
static int genl_family(int fd)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		struct nlattr a;
		char name[32];
	} req = {};
	char buf[8192];
	struct nlmsghdr *h;
	struct nlattr *a;
	ssize_t len;
	int rem;

	req.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + NLA_HDRLEN +
				       sizeof(VHOST_ACCEL_GENL_NAME));
	req.h.nlmsg_type = GENL_ID_CTRL;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	req.a.nla_type = CTRL_ATTR_FAMILY_NAME;
	req.a.nla_len = NLA_HDRLEN + sizeof(VHOST_ACCEL_GENL_NAME);
	memcpy(req.name, VHOST_ACCEL_GENL_NAME, sizeof(VHOST_ACCEL_GENL_NAME));
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0)
		return -errno;
	h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, (unsigned int)len) || h->nlmsg_type == NLMSG_ERROR)
		return -ENOENT;
	a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
	for (rem = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	     rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
	     rem -= NLA_ALIGN(a->nla_len),
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			return *(uint16_t *)((char *)a + NLA_HDRLEN);
	return -ENOENT;
}

/* A GET dump of the backpressure family: entries, or -errno. */
static int genl_dump(void)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
	} req = {};
	char buf[16384];
	struct nlmsghdr *h;
	int fd, fam, n = 0, r = -EIO;
	ssize_t len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	fam = genl_family(fd);
	if (fam < 0) {
		close(fd);
		return fam;
	}
	req.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req.h.nlmsg_type = (uint16_t)fam;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = 7;
	req.g.cmd = VHOST_ACCEL_CMD_GET;
	req.g.version = VHOST_ACCEL_GENL_VERSION;
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0) {
			r = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned int)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = n;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				r = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			n++;
		}
	}
out:
	close(fd);
	return r;
}

struct stuck;

static size_t race_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* One operation in a thread of its own, so a stalled one can be waited out. */
struct stuck_op {
	struct stuck *s;
	const char *what;
	int (*fn)(struct stuck *s);
	pthread_t th;
	atomic_int done;
	int ret;
	bool started;
};

struct stuck {
	struct dp_ctx *c;
	struct vg_net a, b;
	uint8_t amac[6], bmac[6], mvmac[6];
	int aefd;
	int mvidx;
	char why[256];
};

static void *stuck_op_fn(void *arg)
{
	struct stuck_op *op = arg;

	op->ret = op->fn(op->s);
	atomic_store(&op->done, 1);
	return NULL;
}

/* Start @op; 0 if it finished within @ms, else -ETIMEDOUT (still running). */
static int stuck_op_run(struct stuck_op *op, uint64_t ms, uint64_t *took)
{
	uint64_t t0 = vg_now_ms();

	op->started = !pthread_create(&op->th, NULL, stuck_op_fn, op);
	if (!op->started)
		return -EAGAIN;
	while (!atomic_load(&op->done) && vg_now_ms() < t0 + ms)
		usleep(1000);
	*took = vg_now_ms() - t0;
	return atomic_load(&op->done) ? 0 : -ETIMEDOUT;
}

static int op_a_start(struct stuck *s)
{
	return vg_set_backend(&s->a.d, VG_VQ_RX, s->aefd);
}

static int op_b_bind(struct stuck *s)
{
	return vg_net_bind(&s->b, s->c->nic.ifindex, s->bmac, 0);
}

static int op_b_start(struct stuck *s)
{
	int r = vg_net_start(&s->b, -1);

	if (!r && vg_net_rx_fill(&s->b, s->b.rx_nbufs) < 0)
		r = -EIO;
	if (!r && vg_net_rx_kick(&s->b) < 0)
		r = -EIO;
	if (!r)
		r = dp_wait_rx_posted(&s->b, false, 0);
	return r;
}

static int op_b_traffic(struct stuck *s)
{
	uint8_t frame[128];
	ssize_t n;
	int r;

	r = race_rx_one(s->c, &s->b, s->bmac, 11, s->why, sizeof(s->why));
	if (r)
		return r;
	vp_test_frame(frame, sizeof(frame), s->c->nic.peer_mac, s->bmac, 12);
	r = dp_guest_send(&s->b, frame, sizeof(frame), NULL, NULL);
	if (r)
		return r;
	n = vp_packet_recv(s->c->pkt, s->c->rx, DP_BUFSZ, 1000, NULL);
	return n == (ssize_t)sizeof(frame) ? 0 : -EIO;
}

static int op_b_unbind(struct stuck *s)
{
	int r = vg_net_stop(&s->b);

	return r ? r : vg_clear_nic(&s->b.d);
}

static int op_mv_del(struct stuck *s)
{
	return vp_nl_link_del(s->mvidx);
}

static int op_dump(struct stuck *s)
{
	int r = genl_dump();

	(void)s;
	return r < 0 ? r : 0;
}

static void *stuck_page(struct vg_net *g)
{
	uintptr_t ps = (uintptr_t)race_page_size();

	return (void *)((uintptr_t)g->d.vq[VG_VQ_RX].avail & ~(ps - 1));
}

/* Register @page with a new userfaultfd (missing faults) and drop it. */
static int stuck_arm(void *page, void *save)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {};
	size_t ps = race_page_size();
	int fd;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api))
		goto err;
	reg.range.start = (uintptr_t)page;
	reg.range.len = ps;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		goto err;
	memcpy(save, page, ps);
	if (madvise(page, ps, MADV_DONTNEED))
		goto err;
	return fd;
err:
	close(fd);
	return -errno;
}

/* Wait for the fault on the page (someone is stuck in it): 0 or -errno. */
static int stuck_wait_fault(int ufd, int ms)
{
	struct pollfd pfd = { .fd = ufd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return -ETIMEDOUT;
	if (read(ufd, &msg, sizeof(msg)) != sizeof(msg))
		return -errno;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 0 : -EIO;
}

static int stuck_resolve(int ufd, void *page, void *save)
{
	struct uffdio_copy cp = {
		.dst = (uintptr_t)page,
		.src = (uintptr_t)save,
		.len = race_page_size(),
	};

	return ioctl(ufd, UFFDIO_COPY, &cp) ? -errno : 0;
}

#define STUCK_BUDGET_MS	(1000ULL * vg_time_scale())

TEST_F_TIMEOUT(races, stuck_fault_isolation, 180)
{
	struct dp_ctx *c = &self->c;
	struct stuck_op a_op = { .what = "A: SET_BACKEND", .fn = op_a_start };
	struct stuck_op ops[] = {
		{ .what = "B: SET_NIC", .fn = op_b_bind },
		{ .what = "B: SET_BACKEND", .fn = op_b_start },
		{ .what = "B: traffic", .fn = op_b_traffic },
		{ .what = "B: stop and unbind", .fn = op_b_unbind },
		{ .what = "macvtap delete", .fn = op_mv_del },
		{ .what = "netlink dump", .fn = op_dump },
	};
	char mvname[VP_IFNAMSIZ];
	unsigned int i, late = 0;
	uint64_t took;
	struct stuck *s;
	void *page, *save;
	int ufd, r;

	s = calloc(1, sizeof(*s));
	save = malloc(race_page_size());
	ASSERT_TRUE(s && save);
	s->c = c;
	a_op.s = s;
	for (i = 0; i < VP_ARRAY_SIZE(ops); i++)
		ops[i].s = s;
	dp_guest_mac(s->amac, 4);
	dp_guest_mac(s->bmac, 5);
	dp_guest_mac(s->mvmac, 6);
	s->aefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, s->aefd);
	ASSERT_EQ(0, vg_net_open(&s->a, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_bind(&s->a, c->nic.ifindex, s->amac, 0));
	ASSERT_EQ(0, vg_net_open(&s->b, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, mv_macvtap_create(mvname, 'k', c->nic.ifindex, s->mvmac,
				       &s->mvidx));

	/* A's Rx rings: a page whose fault nobody answers */
	page = stuck_page(&s->a);
	ufd = stuck_arm(page, save);
	ASSERT_LE(0, ufd) TH_LOG("userfaultfd: %s", dp_strerr(ufd));
	r = stuck_op_run(&a_op, 0, &took);
	ASSERT_NE(-EAGAIN, r);
	r = stuck_wait_fault(ufd, 5000 * vg_time_scale());
	ASSERT_EQ(0, r) TH_LOG("A's SET_BACKEND never touched its ring: %s",
			       dp_strerr(r));
	vg_sleep_ms(100);
	ASSERT_FALSE(atomic_load(&a_op.done));

	for (i = 0; i < VP_ARRAY_SIZE(ops); i++) {
		r = stuck_op_run(&ops[i], STUCK_BUDGET_MS, &took);
		if (r == -ETIMEDOUT) {
			TH_LOG("%s did not return within %llu ms while A is stuck",
			       ops[i].what, (unsigned long long)STUCK_BUDGET_MS);
			late++;
			continue;
		}
		EXPECT_EQ(0, ops[i].ret)
			TH_LOG("%s: %s (%s)", ops[i].what,
			       dp_strerr(ops[i].ret), s->why);
		TH_LOG("%s: %llu ms", ops[i].what, (unsigned long long)took);
	}
	EXPECT_EQ(0, late);
	EXPECT_FALSE(atomic_load(&a_op.done)) TH_LOG("A was not stuck");

	/* answer the fault: A's ioctl ends, and A works (or failed cleanly) */
	ASSERT_EQ(0, stuck_resolve(ufd, page, save));
	for (i = 0; i < VP_ARRAY_SIZE(ops); i++)
		if (ops[i].started)
			pthread_join(ops[i].th, NULL);
	pthread_join(a_op.th, NULL);
	TH_LOG("A: SET_BACKEND after the fault: %s", dp_strerr(a_op.ret));
	if (!a_op.ret) {
		ASSERT_EQ(0, vg_set_backend(&s->a.d, VG_VQ_TX, s->aefd));
		ASSERT_LT(0, vg_net_rx_fill(&s->a, s->a.rx_nbufs));
		ASSERT_LE(0, vg_net_rx_kick(&s->a));
		ASSERT_EQ(0, dp_wait_rx_posted(&s->a, false, 0));
		r = race_rx_one(c, &s->a, s->amac, 21, s->why, sizeof(s->why));
		EXPECT_EQ(0, r) TH_LOG("A after the fault: %s", s->why);
	} else {
		EXPECT_TRUE(a_op.ret == -EFAULT || a_op.ret == -EINTR);
	}
	close(ufd);
	vg_net_close(&s->a);
	vg_net_close(&s->b);
	close(s->aefd);
	free(save);
	free(s);
}

/*
 * The same with A's worker stuck (it holds A's Rx queue mutex in the
 * fault): a netlink dump, which lists A too, and B's binding answer within
 * 1 s; then the fault is answered and A stops cleanly.
 */
TEST_F_TIMEOUT(races, stuck_worker_isolation, 120)
{
	struct dp_ctx *c = &self->c;
	struct stuck_op ops[] = {
		{ .what = "netlink dump", .fn = op_dump },
		{ .what = "B: SET_NIC", .fn = op_b_bind },
		{ .what = "B: stop and unbind", .fn = op_b_unbind },
	};
	unsigned int i, late = 0;
	void *page, *save;
	struct stuck *s;
	uint64_t took;
	int ufd, r;

	s = calloc(1, sizeof(*s));
	save = malloc(race_page_size());
	ASSERT_TRUE(s && save);
	s->c = c;
	for (i = 0; i < VP_ARRAY_SIZE(ops); i++)
		ops[i].s = s;
	dp_guest_mac(s->amac, 4);
	dp_guest_mac(s->bmac, 5);
	ASSERT_EQ(0, vg_net_open(&s->a, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_bind(&s->a, c->nic.ifindex, s->amac, 0));
	ASSERT_EQ(0, vg_net_start(&s->a, -1));
	ASSERT_EQ(0, vg_net_open(&s->b, VG_DEV_ACCEL, &race_cfg));

	page = stuck_page(&s->a);
	ufd = stuck_arm(page, save);
	ASSERT_LE(0, ufd) TH_LOG("userfaultfd: %s", dp_strerr(ufd));
	ASSERT_EQ(0, vg_vq_kick(&s->a.d, VG_VQ_RX));
	r = stuck_wait_fault(ufd, 5000 * vg_time_scale());
	ASSERT_EQ(0, r) TH_LOG("A's worker never touched its ring: %s",
			       dp_strerr(r));
	vg_sleep_ms(100);

	for (i = 0; i < VP_ARRAY_SIZE(ops); i++) {
		r = stuck_op_run(&ops[i], STUCK_BUDGET_MS, &took);
		if (r == -ETIMEDOUT) {
			TH_LOG("%s did not return within %llu ms while A's worker is stuck",
			       ops[i].what, (unsigned long long)STUCK_BUDGET_MS);
			late++;
			continue;
		}
		EXPECT_EQ(0, ops[i].ret)
			TH_LOG("%s: %s", ops[i].what, dp_strerr(ops[i].ret));
		TH_LOG("%s: %llu ms", ops[i].what, (unsigned long long)took);
	}
	EXPECT_EQ(0, late);

	ASSERT_EQ(0, stuck_resolve(ufd, page, save));
	for (i = 0; i < VP_ARRAY_SIZE(ops); i++)
		if (ops[i].started)
			pthread_join(ops[i].th, NULL);
	EXPECT_EQ(0, vg_net_stop(&s->a));
	close(ufd);
	vg_net_close(&s->a);
	vg_net_close(&s->b);
	free(save);
	free(s);
}

/* ---- item 7: the dirty log at SET_BACKEND; a macvtap already going ------ */

/*
 * A log base whose bitmap for guest memory at 4 GiB would wrap around the
 * address space: no user range (access_ok() fails with 4- and 5-level
 * paging alike), yet SET_LOG_BASE accepts it while no queue runs.
 */
#define LOG_BAD_BASE	0xffffffffffff0000ULL

TEST_F_TIMEOUT(races, log_check_at_backend, 60)
{
	struct dp_ctx *c = &self->c;
	size_t bytes = 1 << 20;
	uint8_t mac[6];
	struct vg_net g;
	void *bitmap;
	int efd, r;

	dp_guest_mac(mac, 7);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	bitmap = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bitmap);
	ASSERT_EQ(0, vg_net_open(&g, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_bind(&g, c->nic.ifindex, mac, 0));

	/* nothing runs: a log that covers nothing is accepted for now */
	ASSERT_EQ(0, vg_set_log_base(&g.d, LOG_BAD_BASE));
	ASSERT_EQ(0, vg_set_features(&g.d, race_cfg.features |
				     VG_FBIT(VHOST_F_LOG_ALL)));
	r = vg_set_backend(&g.d, VG_VQ_RX, efd);
	EXPECT_EQ(-EFAULT, r) TH_LOG("LOG_ALL, log cannot cover the memory: %s",
				     dp_strerr(r));
	if (!r)
		vg_set_backend(&g.d, VG_VQ_RX, -1);

	/* the used ring's log alone */
	ASSERT_EQ(0, vg_set_features(&g.d, race_cfg.features));
	ASSERT_EQ(0, vg_vq_set_log(&g.d, VG_VQ_TX, true));
	r = vg_set_backend(&g.d, VG_VQ_TX, efd);
	EXPECT_EQ(-EFAULT, r) TH_LOG("VRING_F_LOG, log cannot cover the used ring: %s",
				     dp_strerr(r));
	if (!r)
		vg_set_backend(&g.d, VG_VQ_TX, -1);

	/* a log that covers it all: both start */
	ASSERT_EQ(0, vg_set_log_base(&g.d, (uintptr_t)bitmap));
	ASSERT_EQ(0, vg_set_features(&g.d, race_cfg.features |
				     VG_FBIT(VHOST_F_LOG_ALL)));
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_RX, efd));
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_TX, efd));
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_RX, -1));
	EXPECT_EQ(0, vg_set_backend(&g.d, VG_VQ_TX, -1));
	vg_net_close(&g);
	munmap(bitmap, bytes);
	close(efd);
}

struct tapgone {
	struct vg_dev *d;
	int fd;
	int ret;
	struct vg_net *other;	/* keeps the nics lock busy */
	struct dp_ctx *c;
	uint8_t omac[6];
	atomic_int stop;
};

static void *tapgone_bind(void *arg)
{
	struct tapgone *t = arg;

	t->ret = vg_set_backend(t->d, VG_VQ_RX, t->fd);
	return NULL;
}

static void *tapgone_busy(void *arg)
{
	struct tapgone *t = arg;

	while (!atomic_load(&t->stop)) {
		vg_net_bind(t->other, t->c->nic.ifindex, t->omac, 0);
		vg_clear_nic(&t->other->d);
	}
	return NULL;
}

/* Is a queue pair with @mac attached to the NIC? 1, 0 or -errno. */
static int tapgone_attached(struct dp_ctx *c, const uint8_t *mac)
{
	char buf[16384], m[24];
	int r;

	r = vp_nic_knob_read(&c->nic, "qps", buf, sizeof(buf));
	if (r)
		return r;
	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	return strstr(buf, m) != NULL;
}

/*
 * SET_BACKEND with the queue fd of a macvtap that is being deleted: either
 * the binding is refused or it is revoked with the macvtap; none outlives
 * it.  Another device binds and unbinds meanwhile (the binding path waits
 * for it: a wider window).
 */
TEST_F_TIMEOUT(races, tap_gone, 180)
{
	struct dp_ctx *c = &self->c;
	unsigned int i, loops = race_loops(12) * 3, seed = race_seed();
	unsigned int refused = 0, revoked = 0;
	struct tapgone t = { .c = c };
	char name[VP_IFNAMSIZ];
	pthread_t th, busy;
	struct vg_net g, o;
	uint8_t mac[6];
	uint64_t end;
	int idx, r;

	dp_guest_mac(mac, 8);
	dp_guest_mac(t.omac, 9);
	TH_LOG("seed %u (VG_RACE_SEED=%u replays), %u rounds", seed, seed,
	       loops);
	ASSERT_EQ(0, vg_net_open(&g, VG_DEV_ACCEL, &race_cfg));
	ASSERT_EQ(0, vg_net_open(&o, VG_DEV_ACCEL, &race_cfg));
	t.d = &g.d;
	t.other = &o;
	ASSERT_EQ(0, pthread_create(&busy, NULL, tapgone_busy, &t));
	for (i = 0; i < loops; i++) {
		r = mv_macvtap_create(name, 'g', c->nic.ifindex, mac, &idx);
		ASSERT_EQ(0, r) TH_LOG("macvtap: %s", dp_strerr(r));
		t.fd = mv_tap_open(name, idx);
		ASSERT_LE(0, t.fd);
		ASSERT_EQ(0, pthread_create(&th, NULL, tapgone_bind, &t));
		usleep(rand_r(&seed) % 3000);
		ASSERT_EQ(0, vp_nl_link_del(idx));
		pthread_join(th, NULL);
		if (t.ret)
			refused++;
		/* a binding made through it goes with it, soon */
		end = vg_now_ms() + 2000 * vg_time_scale();
		while ((r = tapgone_attached(c, mac)) == 1 && vg_now_ms() < end)
			vg_sleep_ms(10);
		EXPECT_EQ(0, r)
			TH_LOG("round %u: a binding through the deleted macvtap is still attached (SET_BACKEND: %s)",
			       i, dp_strerr(t.ret));
		if (!t.ret)
			revoked++;
		vg_set_backend(&g.d, VG_VQ_RX, -1);
		close(t.fd);
		if (r)
			break;
	}
	atomic_store(&t.stop, 1);
	pthread_join(busy, NULL);
	TH_LOG("%u rounds: %u refused, %u bound and revoked", i, refused,
	       revoked);
	vg_net_close(&g);
	vg_net_close(&o);
}

TEST_HARNESS_MAIN
