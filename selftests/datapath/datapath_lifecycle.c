// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle events while traffic flows both ways.
 *
 * A guest thread keeps transmitting numbered frames and receiving the
 * peer's; the traffic engine's sender and reader threads keep sending
 * numbered frames to the guest and receiving the guest's (AF_PACKET on
 * the wire end of nicsim).  While both directions are busy, the test:
 *
 *  - deletes the NIC, or unloads nicsim: both queues signal their error
 *    eventfd, every head the guest made available is either in the used
 *    ring exactly once or at/after the index GET_VRING_BASE returns, and
 *    the same fd binds a new NIC and carries traffic again;
 *  - takes the NIC's link, or the peer's, down and up: traffic pauses
 *    without a queue error and resumes; every frame lost is counted as a
 *    drop by the NIC (exact accounting, both directions);
 *  - SIGKILLs the owner: the worker, the debugfs directory, the module
 *    reference and the NIC queue pair go, and the same MAC binds again;
 *  - replaces the memory table (hotplug, split, unplug): the datapath
 *    quiesces, re-pins and resumes; VmLck follows, nothing is lost,
 *    duplicated or reordered beyond the counted Rx drops;
 *  - stops and resumes the rings as QEMU does (SET_BACKEND -1,
 *    GET_VRING_BASE, SET_VRING_BASE, SET_BACKEND): the index is final
 *    (equals used->idx), Tx loses nothing, order is kept;
 *  - closes the fd from another thread: everything is released and the
 *    device never writes guest memory again.
 *
 * Every case ends with VmLck at its baseline and bytes_copied 0.  The
 * runner unloads both modules after the suite and scans dmesg.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/if_packet.h>

#include "dptest.h"

#define LC_STALL_MS	20	/* peer: in-flight frames this old are lost */
#define LC_FLOW		200	/* frames each way that make "traffic flows" */
/* Grows with VG_TIME_SCALE: frames in flight land later there. */
#define LC_EVENT_MS	(300 * vg_time_scale())	/* traffic goes on this long after an event */

#define VHOST_DEBUGFS	"/sys/kernel/debug/vhost-accel"
#define NICSIM_DEBUGFS	"/sys/kernel/debug/nicsim"

FIXTURE(life) {
	struct dp_ctx c;
	struct vg_net g;
	/* MAP_SHARED: a forked owner (owner_sigkill) reports its progress */
	struct dp_traffic *t;
	uint8_t mac[6];
	struct vp_nic nic2;	/* a second NIC to bind again to */
	int rx2, tx2;
	int tx_fd;
	void *reload;		/* nicsim to load again if a test left it out */
};

static void lc_nic_zero(struct vp_nic *nic)
{
	memset(nic, 0, sizeof(*nic));
	nic->self_ns = nic->peer_ns = -1;
}

FIXTURE_SETUP(life)
{
	int r;

	self->rx2 = self->tx2 = self->tx_fd = -1;
	lc_nic_zero(&self->nic2);
	self->t = mmap(NULL, sizeof(*self->t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->t);
	memset(self->t, 0, sizeof(*self->t));
	dp_guest_mac(self->mac, 0);
	r = dp_ctx_init(&self->c, 'l', 0);
	if (r) {
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
	/* a stopped or downed wire must fail the peer's sends visibly */
	self->tx_fd = vp_packet_open(&self->c.nic, VP_ETH_P_TEST,
				     VP_PKT_QDISC_BYPASS);
	ASSERT_LE(0, self->tx_fd);
}

static int lc_insmod_nicsim(void *arg);

FIXTURE_TEARDOWN(life)
{
	/* the tests after this one need nicsim, with the runner's options */
	if (self->reload && access("/sys/module/nicsim", F_OK))
		lc_insmod_nicsim(self->reload);
	dp_traffic_stop(self->t);
	vg_net_close(&self->g);
	if (self->rx2 >= 0)
		close(self->rx2);
	if (self->tx2 >= 0)
		close(self->tx2);
	if (self->tx_fd >= 0)
		close(self->tx_fd);
	vp_nic_destroy(&self->nic2);
	dp_ctx_fini(&self->c);
	munmap(self->t, sizeof(*self->t));
}

/* ---- what the kernel shows ---- */

/* Directories under debugfs vhost-accel/, and whether one is @pid's. */
static int lc_debugfs_devs(pid_t pid, bool *has_pid)
{
	struct dirent *e;
	char path[300], line[64];
	int n = 0;
	DIR *dir;

	*has_pid = false;
	dir = opendir(VHOST_DEBUGFS);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(path, sizeof(path), VHOST_DEBUGFS "/%s/stats",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    !strncmp(line, "owner_pid ", 10) &&
		    atoi(line + 10) == (int)pid)
			*has_pid = true;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* The worker of @owner is gone (a reaped kthread leaves /proc soon). */
static int lc_worker_gone(pid_t owner)
{
	uint64_t deadline = vg_now_ms() + DP_WAIT_MS;
	pid_t tid;
	int r;

	while ((r = vg_find_worker(owner, &tid)) > 0 &&
	       vg_now_ms() < deadline)
		vg_sleep_ms(10);
	return r;
}

struct lc_drops {
	uint64_t no_buf, too_big, link_down, injected;
	uint64_t peer_rx, peer_tx, sock;
};

static int lc_read_drops(struct dp_traffic *t, struct vp_nic *nic,
			 struct lc_drops *d)
{
	struct tpacket_stats ps;
	socklen_t sl = sizeof(ps);

	memset(d, 0, sizeof(*d));
	if (vp_nic_ethtool_stat(nic, "rx_dropped_no_buf", &d->no_buf) ||
	    vp_nic_ethtool_stat(nic, "rx_dropped_too_big", &d->too_big) ||
	    vp_nic_ethtool_stat(nic, "dropped_link_down", &d->link_down) ||
	    vp_nic_ethtool_stat(nic, "rx_dropped_injected", &d->injected))
		return -EIO;
	if (dp_peer_netdev_drops(nic, &d->peer_rx, &d->peer_tx))
		return -EIO;
	if (getsockopt(t->rx_fd, SOL_PACKET, PACKET_STATISTICS, &ps, &sl))
		return -errno;
	d->sock = ps.tp_drops;
	return 0;
}

/*
 * Accounting after dp_traffic_settle(), everything since the guest and @nic
 * were made: each frame the guest sent came back from the device and
 * reached the peer or is a counted drop (exactly); each frame the wire
 * end accepted reached the guest or is a counted drop.  For the latter
 * the wire end's tx_dropped also counts sends the kernel refused before
 * the driver (no carrier), which the sender saw fail: at most one per
 * failed or short send, so the count may exceed the loss by that much.
 */
#define LC_CHECK_EXACT(_t, _nic) do {					\
	struct lc_drops __d;						\
	uint64_t __nic_tx, __lost, __nic_rx;				\
									\
	ASSERT_EQ(0, lc_read_drops((_t), (_nic), &__d));		\
	__nic_tx = dp_stat((_t)->g, VG_VQ_TX, DP_STAT_OFF(drops_nic));	\
	TH_LOG("peer->guest: %u sent, %u received, drops: %llu no buffer, %llu too big, %llu link down, %llu at the wire end",	\
	       DP_TR_SENT(_t), atomic_load(&(_t)->rx_got),		\
	       (unsigned long long)__d.no_buf,				\
	       (unsigned long long)__d.too_big,				\
	       (unsigned long long)__d.link_down,			\
	       (unsigned long long)__d.peer_tx);			\
	TH_LOG("guest->peer: %llu sent, %u received, drops: %llu NIC, %llu at the wire end, %llu socket",	\
	       (unsigned long long)(_t)->g->tx_completed,		\
	       DP_TR_GOT(_t),						\
	       (unsigned long long)__nic_tx,				\
	       (unsigned long long)__d.peer_rx,				\
	       (unsigned long long)__d.sock);				\
	__lost = DP_TR_SENT(_t) - atomic_load(&(_t)->rx_got);		\
	__nic_rx = __d.no_buf + __d.too_big + __d.link_down + __d.injected;	\
	EXPECT_LE(__lost, __nic_rx + __d.peer_tx)			\
		TH_LOG("peer->guest: frames lost without a count");	\
	EXPECT_GE(__lost + DP_TR_SEND_FAILED(_t) + DP_TR_SEND_CUT(_t),		\
		  __nic_rx + __d.peer_tx)				\
		TH_LOG("peer->guest: more drops counted than frames lost (%u failed sends)",	\
		       DP_TR_SEND_FAILED(_t) + DP_TR_SEND_CUT(_t));		\
	EXPECT_EQ((_t)->g->tx_completed,				\
		  DP_TR_GOT(_t) + __nic_tx + __d.peer_rx +		\
		  __d.sock);						\
	EXPECT_EQ((_t)->g->tx_queued, (_t)->g->tx_completed)		\
		TH_LOG("Tx chains never came back");			\
} while (0)


static const struct vg_net_cfg lc_cfg = {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
};

/*
 * Guest up on the fixture's NIC (@when prefixes a failure), traffic on
 * both ends running, the peer sending on @tx; with @drain_ms, what an
 * earlier guest left on the wire is taken off the peer's socket first.
 */
static void lc_up(struct __test_metadata *_metadata,
		  struct _test_data_life *self, int tx, const char *when,
		  unsigned int drain_ms)
{
	int r = dp_guest_up(&self->c, &self->g, &lc_cfg, self->mac);

	ASSERT_EQ(0, r) TH_LOG("%s%s", when, self->c.why);
	dp_traffic_init(self->t, &self->g, self->mac, LC_STALL_MS);
	dp_traffic_peer(self->t, &self->c.nic, self->c.pkt, tx);
	if (drain_ms)
		vg_traffic_drain(self->c.pkt, drain_ms);
	ASSERT_EQ(0, dp_traffic_start(self->t, true, true));
}

#define LC_UP(_self)	lc_up(_metadata, (_self), (_self)->tx_fd, "", 0)

/* Threads stopped, what was on its way taken on both ends. */
static void lc_stop(struct __test_metadata *_metadata, struct dp_traffic *t)
{
	dp_traffic_stop(t);
	ASSERT_EQ(0, dp_traffic_settle(t, true));
}

/* What lc_check_end() checks beyond clean threads and a full unpin. */
#define LC_END_EXACT	0x01	/* every frame counted (LC_CHECK_EXACT) */
#define LC_END_TX_BACK	0x02	/* every Tx chain came back */
#define LC_END_NO_NICTX	0x04	/* the NIC dropped no guest frame */
#define LC_END_NO_ERR	0x08	/* no queue error */
#define LC_END_NO_COPY	0x10	/* no byte copied */

/*
 * Traffic stopped: no thread saw a bad frame, what @flags asks holds,
 * the guest's own frames all arrived in order unless @gaps is NULL (the
 * message for a gap), and closing the fd unpins every page.
 */
static void lc_check_end(struct __test_metadata *_metadata,
			 struct _test_data_life *self, unsigned int flags,
			 const char *gaps)
{
	struct dp_traffic *t = self->t;
	unsigned int q;

	DP_TRAFFIC_CHECK_CLEAN(t);
	if (flags & LC_END_EXACT)
		LC_CHECK_EXACT(t, &self->c.nic);
	if (flags & LC_END_TX_BACK)
		EXPECT_EQ(self->g.tx_queued, self->g.tx_completed);
	if (gaps)
		EXPECT_EQ(0U, t->peer_gaps) TH_LOG("%s", gaps);
	if (flags & LC_END_NO_NICTX)
		EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX,
					DP_STAT_OFF(drops_nic)));
	for (q = 0; q < VG_NVQS; q++) {
		if (flags & LC_END_NO_ERR)
			EXPECT_EQ(0ULL, dp_stat(&self->g, q,
						DP_STAT_OFF(errors)));
		if (flags & LC_END_NO_COPY)
			EXPECT_EQ(0ULL, dp_stat(&self->g, q,
						DP_STAT_OFF(bytes_copied)));
	}
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

static void lc_end(struct __test_metadata *_metadata,
		   struct _test_data_life *self, unsigned int flags,
		   const char *gaps)
{
	lc_stop(_metadata, self->t);
	lc_check_end(_metadata, self, flags, gaps);
}

/*
 * The NIC under traffic went away (@gone deletes it or unloads its
 * driver): both queues report it, every head is accounted for, and the
 * fd binds a second NIC and carries traffic again.
 */
static void lc_removal(struct __test_metadata *_metadata,
		       struct _test_data_life *self, int (*gone)(void *),
		       int (*again)(void *), void *arg)
{
	struct dp_traffic *t = self->t;
	char why[300];
	int r;

	/*
	 * The peer sends through the qdisc here: a PACKET_QDISC_BYPASS send
	 * racing with its netdev's unregistration divides by zero in
	 * packet_pick_tx_queue() (real_num_tx_queues is 0 by then) on 6.1,
	 * a kernel bug outside this project.
	 */
	lc_up(_metadata, self, self->c.pkt, "", 0);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(0, gone(arg));
	EXPECT_EQ(0, dp_nic_gone_check(t, &self->g, LC_EVENT_MS, why,
				       sizeof(why)))
		TH_LOG("%s", why);
	DP_TRAFFIC_CHECK_CLEAN(t);

	/* a new NIC: same fd, same rings, traffic again */
	if (again) {
		r = again(arg);
		ASSERT_EQ(0, r) TH_LOG("%s", dp_strerr(r));
	}
	r = vp_nic_create(&self->nic2, 'n');
	ASSERT_EQ(0, r) TH_LOG("second NIC: %s", self->nic2.err);
	self->rx2 = vp_packet_open(&self->nic2, VP_ETH_P_TEST, VP_PKT_AUXDATA);
	self->tx2 = vp_packet_open(&self->nic2, VP_ETH_P_TEST,
				   VP_PKT_QDISC_BYPASS);
	ASSERT_LE(0, self->rx2);
	ASSERT_LE(0, self->tx2);
	ASSERT_EQ(0, vg_net_bind(&self->g, self->nic2.ifindex, self->mac, 0));
	ASSERT_EQ(0, vg_net_start(&self->g, -1));
	/* frames queued for the old wire now go out on the new one */
	dp_traffic_peer(t, &self->nic2, self->rx2, self->tx2);
	ASSERT_EQ(0, dp_traffic_start(t, true, true));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	lc_end(_metadata, self, LC_END_TX_BACK | LC_END_NO_COPY, NULL);
}

static int lc_link_del(void *arg)
{
	struct vp_nic *nic = arg;

	return vp_nl_link_del(nic->ifindex);
}

TEST_F_TIMEOUT(life, nic_delete, 90)
{
	lc_removal(_metadata, self, lc_link_del, NULL, &self->c.nic);
}

/*
 * The NIC resets its queue pairs (cb->detached): vhost detaches them from
 * a work item, which the NIC, still there, sees as no queue pair lent.
 */
static int lc_reset_qps(void *arg)
{
	uint64_t end = vg_now_ms() + DP_WAIT_MS;
	int r = vp_nic_knob_write(arg, "reset_qps", "1");

	while (!r && dp_qps_attached(arg) > 0) {
		if (vg_now_ms() > end)
			return -ETIMEDOUT;
		vg_sleep_ms(10);
	}
	return r;
}

TEST_F_TIMEOUT(life, nic_resets_queue, 90)
{
	lc_removal(_metadata, self, lc_reset_qps, NULL, &self->c.nic);
}

/* ---- module unload ---- */

/* nicsim.ko as vpeer finds it: VP_NICSIM_KO, else next to the project. */
static int lc_nicsim_ko(char *path, size_t len)
{
	return vp_module_ko("drivers/net/nicsim/nicsim.ko", "VP_NICSIM_KO",
			    path, len);
}

static int lc_count_dir(const char *path)
{
	struct dirent *e;
	DIR *dir = opendir(path);
	int n = 0;

	if (!dir)
		return -errno;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

struct lc_module {
	char ko[PATH_MAX + 64];
	char params[64];
};

static int lc_rmmod_nicsim(void *arg)
{
	(void)arg;
	return syscall(SYS_delete_module, "nicsim", O_NONBLOCK) ? -errno : 0;
}

/* Load nicsim again as the runner did (same max_qps). */
static int lc_insmod_nicsim(void *arg)
{
	struct lc_module *m = arg;
	int fd = open(m->ko, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, m->params, 0))
		r = -errno;
	close(fd);
	return r;
}

/*
 * Unloading nicsim under traffic: as a deletion, for every NIC at once.
 * The module is loaded again with the same max_qps for the tests after.
 */
TEST_F_TIMEOUT(life, nicsim_unload, 90)
{
	static struct lc_module m;	/* teardown may need it */
	uint64_t max_qps;
	int others;

	if (lc_nicsim_ko(m.ko, sizeof(m.ko)))
		SKIP(return, "nicsim.ko not found (VP_NICSIM_KO or next to the project): cannot load it again after the unload");
	others = lc_count_dir(NICSIM_DEBUGFS) - 1;
	if (others)
		SKIP(return, "%d other nicsim NICs exist (their users would lose them)",
		     others);
	ASSERT_EQ(0, vg_read_u64_file("/sys/module/nicsim/parameters/max_qps",
				 &max_qps));
	snprintf(m.params, sizeof(m.params), "max_qps=%llu",
		 (unsigned long long)max_qps);
	self->reload = &m;
	lc_removal(_metadata, self, lc_rmmod_nicsim, lc_insmod_nicsim, &m);
}

/* ---- link down and up ---- */

static int lc_peer_set_up(struct vp_nic *nic, bool up)
{
	int r = vp_enter_peer(nic);

	if (r)
		return r;
	r = vp_nl_link_set(nic->peer_ifindex, up, 0, -1, -1);
	if (vp_leave_peer(nic))
		abort();
	return r;
}

static void lc_link_bounce(struct __test_metadata *_metadata,
			   struct _test_data_life *self, bool peer)
{
	struct dp_traffic *t = self->t;
	unsigned int i, q, tx0, rx0;

	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, peer ? lc_peer_set_up(&self->c.nic, false) :
				    vp_nic_set_up(&self->c.nic, false));
		/* what was on its way lands; then nothing moves */
		vg_sleep_ms(LC_EVENT_MS / 2);
		tx0 = DP_TR_GOT(t);
		rx0 = atomic_load(&t->rx_got);
		vg_sleep_ms(LC_EVENT_MS);
		EXPECT_EQ(tx0, DP_TR_GOT(t))
			TH_LOG("guest frames crossed a link that is down");
		EXPECT_EQ(rx0, atomic_load(&t->rx_got))
			TH_LOG("wire frames crossed a link that is down");
		for (q = 0; q < VG_NVQS; q++)
			EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, q, 0))
				TH_LOG("vq %u: error eventfd on link down", q);
		ASSERT_EQ(0, peer ? lc_peer_set_up(&self->c.nic, true) :
				    vp_nic_set_up(&self->c.nic, true));
		/* the host stack does not hear of the NIC: no ARP, no IPv6 */
		DP_TRAFFIC_FLOWS(t, LC_FLOW);
	}
	lc_end(_metadata, self, LC_END_EXACT | LC_END_NO_ERR | LC_END_NO_COPY,
	       NULL);
}

TEST_F_TIMEOUT(life, nic_link_down_up, 90)
{
	lc_link_bounce(_metadata, self, false);
}

TEST_F_TIMEOUT(life, peer_link_down_up, 90)
{
	lc_link_bounce(_metadata, self, true);
}

/* ---- owner killed ---- */

static int lc_refcnt(const char *mod, uint64_t *v)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", mod);
	return vg_read_u64_file(path, v);
}

/* The forked owner: a guest of its own, pumping until killed. */
static void lc_owner_child(struct _test_data_life *self, int ready_fd)
{
	struct dp_traffic *t = self->t;
	struct vg_net g;
	char ok = 1;

	if (dp_guest_up(&self->c, &g, &lc_cfg, self->mac))
		ok = 0;
	t->g = &g;
	if (write(ready_fd, &ok, 1) != 1 || !ok)
		_exit(1);
	for (;;) {
		if (dp_traffic_step(t, true) < 0)
			pause();
		dp_traffic_wait(t, 2);
	}
}

TEST_F_TIMEOUT(life, owner_sigkill, 90)
{
	struct dp_traffic *t = self->t;
	uint64_t ref_accel0, ref_nicsim0, ref;
	int devs0, devs, pfd[2], status;
	bool has;
	pid_t pid, tid;
	char ok = 0;

	ASSERT_EQ(0, lc_refcnt("vhost_accel", &ref_accel0));
	ASSERT_EQ(0, lc_refcnt("nicsim", &ref_nicsim0));
	devs0 = lc_debugfs_devs(0, &has);
	ASSERT_LE(0, devs0) TH_LOG("no %s", VHOST_DEBUGFS);
	dp_traffic_init(t, NULL, self->mac, LC_STALL_MS);
	dp_traffic_peer(t, &self->c.nic, self->c.pkt, self->tx_fd);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pfd[0]);
		lc_owner_child(self, pfd[1]);
	}
	close(pfd[1]);
	EXPECT_EQ(1, read(pfd[0], &ok, 1));
	close(pfd[0]);
	if (!ok) {
		waitpid(pid, NULL, 0);
		ASSERT_TRUE(ok) TH_LOG("the owner could not set its guest up");
	}
	ASSERT_EQ(0, dp_traffic_start(t, false, true));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(1, dp_qps_attached(&self->c.nic));
	devs = lc_debugfs_devs(pid, &has);
	EXPECT_EQ(devs0 + 1, devs);
	EXPECT_TRUE(has);
	ASSERT_EQ(1, vg_find_worker(pid, &tid));

	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	dp_traffic_stop(t);

	/* the last fput ran before the owner was reaped: all gone now */
	EXPECT_EQ(-ENOENT, lc_worker_gone(pid));
	devs = lc_debugfs_devs(pid, &has);
	EXPECT_EQ(devs0, devs);
	EXPECT_FALSE(has);
	EXPECT_EQ(0, lc_refcnt("vhost_accel", &ref));
	EXPECT_EQ(ref_accel0, ref);
	EXPECT_EQ(0, lc_refcnt("nicsim", &ref));
	EXPECT_EQ(ref_nicsim0, ref);
	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	EXPECT_EQ(self->c.vmlck0, dp_wait_vmlck(self->c.vmlck0, DP_VMLCK_MS));
	EXPECT_EQ(0U, t->rx_bad + t->peer_bad + t->rx_stray);

	/* the same MAC binds again, and carries traffic */
	lc_up(_metadata, self, self->tx_fd,
	      "binding the killed owner's MAC again: ", 300);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	lc_end(_metadata, self, 0, NULL);
}

/* ---- memory table replaced under traffic ---- */

static uint64_t lc_vmlck(void)
{
	uint64_t kb = UINT64_MAX;

	vg_vmlck_kb(&kb);
	return kb;
}

static uint64_t lc_pinned(struct vg_net *g)
{
	struct vhost_accel_stats st;

	return vg_get_stats(&g->d, &st) ? UINT64_MAX : st.pinned_pages;
}

/*
 * Hotplug, a new layout of the same memory, unplug; and two tables that
 * are refused (rings not covered, over RLIMIT_MEMLOCK) without a hiccup.
 * Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK just above what the
 * largest table pins: a replacement is charged only for what it pins
 * beyond the table it replaces.
 */
TEST_F_TIMEOUT(life, mem_table_replace, 90)
{
	const uint64_t plug = 2 << 20;
	struct dp_traffic *t = self->t;
	struct vhost_memory_region r[4], bad[3];
	struct vg_region *m;
	uint64_t base, size, cut1, cut2, pinned, kb;
	void *hot;
	int ret;

	LC_UP(self);
	ASSERT_EQ(0, vg_vmlck_kb(&kb));
	ASSERT_EQ(0, vg_drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, vg_set_memlock((kb << 10) + plug + 4096));
	m = &self->g.d.region[0];
	base = m->gpa;
	size = m->size;
	/* the rings lie before the pools: cut between whole buffers */
	cut1 = self->g.rx_pool_gpa - base;
	cut2 = self->g.tx_pool_gpa - base;
	ASSERT_EQ(1U, self->g.d.nregions);
	hot = mmap(NULL, plug, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, hot);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);

	/* hotplug: a second region appears */
	memset(r, 0, sizeof(r));
	r[0].guest_phys_addr = base;
	r[0].memory_size = size;
	r[0].userspace_addr = (uintptr_t)m->hva;
	r[1].guest_phys_addr = base + size + (1ULL << 30);
	r[1].memory_size = plug;
	r[1].userspace_addr = (uintptr_t)hot;
	ret = vg_set_mem_table_raw(self->g.d.fd, r, 2, 0);
	ASSERT_EQ(0, ret) TH_LOG("hotplug table: %s", dp_strerr(ret));
	pinned = (size + plug) >> 10;
	EXPECT_EQ(self->c.vmlck0 + pinned, lc_vmlck());
	EXPECT_EQ((size + plug) / (uint64_t)getpagesize(), lc_pinned(&self->g));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);

	/* refused: more than RLIMIT_MEMLOCK allows; nothing changes */
	memcpy(bad, r, 2 * sizeof(r[0]));
	bad[2] = r[1];
	bad[2].guest_phys_addr += 1ULL << 30;
	ret = vg_set_mem_table_raw(self->g.d.fd, bad, 3, 0);
	EXPECT_EQ(-ENOMEM, ret);
	/* refused: a region that is no user memory (the rings and buffers
	 * need not be in a table: vhost-net takes one without them)
	 */
	memcpy(bad, r, 2 * sizeof(r[0]));
	bad[1].userspace_addr = 0xffff888000000000ULL;	/* direct map */
	ret = vg_set_mem_table_raw(self->g.d.fd, bad, 2, 0);
	EXPECT_EQ(-EFAULT, ret);
	EXPECT_EQ(self->c.vmlck0 + pinned, lc_vmlck());
	EXPECT_EQ((size + plug) / (uint64_t)getpagesize(), lc_pinned(&self->g));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);

	/* the same memory in three regions, as after a layout change */
	r[3] = r[1];
	r[0].memory_size = cut1;
	r[1].guest_phys_addr = base + cut1;
	r[1].memory_size = cut2 - cut1;
	r[1].userspace_addr = (uintptr_t)m->hva + cut1;
	r[2].guest_phys_addr = base + cut2;
	r[2].memory_size = size - cut2;
	r[2].userspace_addr = (uintptr_t)m->hva + cut2;
	ret = vg_set_mem_table_raw(self->g.d.fd, r, 4, 0);
	ASSERT_EQ(0, ret) TH_LOG("split table: %s", dp_strerr(ret));
	EXPECT_EQ(self->c.vmlck0 + pinned, lc_vmlck());
	EXPECT_EQ((size + plug) / (uint64_t)getpagesize(), lc_pinned(&self->g));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);

	/* unplug: back to the original table */
	ret = vg_set_mem_table(&self->g.d);
	ASSERT_EQ(0, ret) TH_LOG("unplug table: %s", dp_strerr(ret));
	EXPECT_EQ(self->c.vmlck0 + (size >> 10), lc_vmlck());
	EXPECT_EQ(size / (uint64_t)getpagesize(), lc_pinned(&self->g));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);

	lc_stop(_metadata, t);
	munmap(hot, plug);
	lc_check_end(_metadata, self, LC_END_EXACT | LC_END_NO_NICTX |
		     LC_END_NO_ERR | LC_END_NO_COPY,
		     "guest frames lost on the way");
}

/* ---- QEMU's stop and cont ---- */

TEST_F_TIMEOUT(life, vring_base_stop_resume, 90)
{
	struct dp_traffic *t = self->t;
	unsigned int i, q, base[VG_NVQS];
	uint16_t used;

	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	for (i = 0; i < 4; i++) {
		/* vm stop: backends off, then read where each ring stands */
		ASSERT_EQ(0, vg_net_stop(&self->g));
		for (q = 0; q < VG_NVQS; q++) {
			ASSERT_EQ(0, vg_get_vring_base(&self->g.d, q, &base[q]));
			used = vg_vq_used_idx(&self->g.d, q);
			/* every buffer taken came back: the index is final */
			EXPECT_EQ((uint16_t)base[q], used)
				TH_LOG("cycle %u vq %u: index %u, used->idx %u",
				       i, q, base[q], used);
		}
		vg_sleep_ms(LC_EVENT_MS / 3);
		for (q = 0; q < VG_NVQS; q++)
			EXPECT_EQ((uint16_t)base[q],
				  vg_vq_used_idx(&self->g.d, q))
				TH_LOG("vq %u written while stopped", q);
		/* cont: from the same index */
		for (q = 0; q < VG_NVQS; q++)
			ASSERT_EQ(0, vg_set_vring_base(&self->g.d, q, base[q]));
		ASSERT_EQ(0, vg_net_start(&self->g, -1));
		DP_TRAFFIC_FLOWS(t, LC_FLOW);
	}
	lc_end(_metadata, self, LC_END_EXACT | LC_END_NO_NICTX | LC_END_NO_ERR |
	       LC_END_NO_COPY, "guest frames lost or reordered");
}

/* ---- fd closed by another thread ---- */

TEST_F_TIMEOUT(life, close_under_traffic, 90)
{
	struct dp_traffic *t = self->t;
	uint64_t ref0, ref;
	uint16_t used[VG_NVQS];
	int devs0, devs, fd;
	unsigned int q;
	bool has;

	ASSERT_EQ(0, lc_refcnt("vhost_accel", &ref0));
	devs0 = lc_debugfs_devs(0, &has);
	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes_copied)));

	/* the guest thread keeps going; this thread pulls the fd away */
	fd = self->g.d.fd;
	self->g.d.fd = -1;
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-ENOENT, lc_worker_gone(getpid()));
	devs = lc_debugfs_devs(getpid(), &has);
	EXPECT_EQ(devs0, devs);
	EXPECT_FALSE(has);
	EXPECT_EQ(0, lc_refcnt("vhost_accel", &ref));
	EXPECT_EQ(ref0, ref);
	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	/* every page unpinned although the memory is still mapped */
	EXPECT_EQ(self->c.vmlck0, dp_wait_vmlck(self->c.vmlck0, DP_VMLCK_MS));

	/* nothing writes the rings any more */
	vg_sleep_ms(LC_EVENT_MS);
	ASSERT_EQ(0, dp_traffic_hold(t));
	for (q = 0; q < VG_NVQS; q++)
		used[q] = vg_vq_used_idx(&self->g.d, q);
	vg_sleep_ms(LC_EVENT_MS);
	for (q = 0; q < VG_NVQS; q++)
		EXPECT_EQ(used[q], vg_vq_used_idx(&self->g.d, q))
			TH_LOG("vq %u: used ring written after close", q);
	dp_traffic_stop(t);
	DP_TRAFFIC_CHECK_CLEAN(t);
	vg_net_close(&self->g);

	/* the MAC is free again */
	lc_up(_metadata, self, self->tx_fd, "after close: ", 0);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	lc_end(_metadata, self, 0, NULL);
}

/* ---- the fault matrix, continued (Documentation/fault-matrix.rst) ---- */

static int lc_knob(struct vp_nic *nic, const char *knob, unsigned long v)
{
	char val[32];

	snprintf(val, sizeof(val), "%lu", v);
	return vp_nic_knob_write(nic, knob, val);
}

/*
 * A slow device: the NIC holds back every completion, first a little,
 * then longer than the guest's windows last.  Traffic keeps flowing,
 * a stop in the middle of delayed completions still returns a final
 * index (every buffer the NIC holds came back first), and nothing is
 * lost, repeated or reordered.
 */
TEST_F_TIMEOUT(life, completion_delayed, 90)
{
	static const unsigned long delays[] = { 2000, 20000 };
	struct dp_traffic *t = self->t;
	unsigned int i, q, base;
	int r;

	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	for (i = 0; i < 2; i++) {
		r = lc_knob(&self->c.nic, "completion_delay_us", delays[i]);
		ASSERT_EQ(0, r) TH_LOG("completion_delay_us: %s", self->c.nic.err);
		DP_TRAFFIC_FLOWS(t, LC_FLOW);
	}
	/* QEMU's stop while completions are held back */
	ASSERT_EQ(0, vg_net_stop(&self->g));
	for (q = 0; q < VG_NVQS; q++) {
		ASSERT_EQ(0, vg_get_vring_base(&self->g.d, q, &base));
		EXPECT_EQ((uint16_t)base, vg_vq_used_idx(&self->g.d, q))
			TH_LOG("vq %u: stopped with completions outstanding", q);
		ASSERT_EQ(0, vg_set_vring_base(&self->g.d, q, base));
	}
	ASSERT_EQ(0, vg_net_start(&self->g, -1));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(0, lc_knob(&self->c.nic, "completion_delay_us", 0));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	lc_end(_metadata, self, LC_END_EXACT | LC_END_NO_NICTX | LC_END_NO_ERR |
	       LC_END_NO_COPY, "guest frames lost or reordered");
}

/*
 * The NIC drops every 7th frame it takes from the wire: the guest sees
 * gaps in the peer's sequence, never a wrong or repeated frame, and the
 * frames it misses are exactly the NIC's counted drops (the injected
 * ones among them).  The guest's own direction loses nothing.
 */
TEST_F_TIMEOUT(life, nic_drops_frames, 90)
{
	struct dp_traffic *t = self->t;
	struct lc_drops d0, d1;
	int r;

	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(0, lc_read_drops(t, &self->c.nic, &d0));
	r = lc_knob(&self->c.nic, "drop_every_n", 7);
	ASSERT_EQ(0, r) TH_LOG("drop_every_n: %s", self->c.nic.err);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(0, lc_knob(&self->c.nic, "drop_every_n", 0));
	ASSERT_EQ(0, lc_read_drops(t, &self->c.nic, &d1));
	/* 2 * LC_FLOW frames arrived: at least one in 7 of what was sent */
	EXPECT_LE((uint64_t)(2 * LC_FLOW / 7), d1.injected - d0.injected)
		TH_LOG("only %llu injected drops",
		       (unsigned long long)(d1.injected - d0.injected));
	TH_LOG("%llu frames dropped by the NIC on purpose",
	       (unsigned long long)(d1.injected - d0.injected));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	lc_end(_metadata, self, LC_END_EXACT | LC_END_NO_ERR | LC_END_NO_COPY,
	       "guest frames lost on the way");
}

/*
 * Pinning refused half-way: a hotplugged region whose second half is
 * read-only cannot be pinned for writing.  The table is refused with
 * EFAULT, the pages pinned before the failure are released (VmLck and
 * pinned_pages unchanged) and the old table keeps carrying traffic.
 */
TEST_F_TIMEOUT(life, mem_table_pin_refused, 90)
{
	const size_t plug = 2 << 20;
	struct dp_traffic *t = self->t;
	struct vhost_memory_region r[2];
	struct vg_region *m;
	uint64_t kb0, pinned0;
	uint8_t *hot;
	int ret;

	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	kb0 = lc_vmlck();
	pinned0 = lc_pinned(&self->g);
	hot = mmap(NULL, plug, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, hot);
	ASSERT_EQ(0, mprotect(hot + plug / 2, plug / 2, PROT_READ));
	m = &self->g.d.region[0];
	memset(r, 0, sizeof(r));
	r[0].guest_phys_addr = m->gpa;
	r[0].memory_size = m->size;
	r[0].userspace_addr = (uintptr_t)m->hva;
	r[1].guest_phys_addr = m->gpa + m->size + (1ULL << 30);
	r[1].memory_size = plug;
	r[1].userspace_addr = (uintptr_t)hot;
	ret = vg_set_mem_table_raw(self->g.d.fd, r, 2, 0);
	EXPECT_EQ(-EFAULT, ret);
	EXPECT_EQ(kb0, lc_vmlck());
	EXPECT_EQ(pinned0, lc_pinned(&self->g));
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	/* the same region writable: accepted, then unplugged again */
	ASSERT_EQ(0, mprotect(hot + plug / 2, plug / 2, PROT_READ | PROT_WRITE));
	ret = vg_set_mem_table_raw(self->g.d.fd, r, 2, 0);
	ASSERT_EQ(0, ret) TH_LOG("writable hotplug: %s", dp_strerr(ret));
	EXPECT_EQ(kb0 + (plug >> 10), lc_vmlck());
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	ASSERT_EQ(0, vg_set_mem_table(&self->g.d));
	EXPECT_EQ(kb0, lc_vmlck());
	lc_stop(_metadata, t);
	munmap(hot, plug);
	lc_check_end(_metadata, self, LC_END_EXACT | LC_END_NO_ERR,
		     "guest frames lost on the way");
}

/* Owner-side control thread: ioctls on the fd until it is gone. */
struct lc_ioctl_loop {
	struct vg_dev *d;
	int fd;
	atomic_bool stop;
	unsigned long calls, ebadf;
	int other;		/* an unexpected error, 0 if none */
};

static void *lc_ioctl_fn(void *arg)
{
	struct lc_ioctl_loop *l = arg;
	struct vhost_vring_state s = { .index = VG_VQ_TX, .num = 0 };
	struct vhost_accel_stats st;

	while (!atomic_load(&l->stop)) {
		int r1 = vg_xioctl(l->fd, VHOST_ACCEL_GET_STATS, &st);
		int r2 = vg_xioctl(l->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);

		l->calls++;
		if (r1 == -EBADF && r2 == -EBADF) {
			l->ebadf++;
			break;
		}
		if ((r1 && r1 != -EBADF) || (r2 && r2 != -EBADF)) {
			l->other = r1 ? r1 : r2;
			break;
		}
	}
	return NULL;
}

/*
 * The fd closed while one owner thread moves traffic and another keeps
 * issuing ioctls on it: the ioctls in flight finish, later ones see
 * EBADF, and the device is released as after a plain close.
 */
TEST_F_TIMEOUT(life, close_during_ioctls, 90)
{
	struct dp_traffic *t = self->t;
	struct lc_ioctl_loop l = { 0 };
	pthread_t th;
	uint64_t ref0, ref;
	int fd;

	ASSERT_EQ(0, lc_refcnt("vhost_accel", &ref0));
	LC_UP(self);
	DP_TRAFFIC_FLOWS(t, LC_FLOW);
	l.fd = self->g.d.fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, lc_ioctl_fn, &l));
	vg_sleep_ms(LC_EVENT_MS);
	fd = self->g.d.fd;
	self->g.d.fd = -1;
	ASSERT_EQ(0, close(fd));
	/* no new fd may take the number while the loop still uses it */
	vg_sleep_ms(LC_EVENT_MS);
	atomic_store(&l.stop, true);
	pthread_join(th, NULL);
	EXPECT_EQ(0, l.other) TH_LOG("ioctl: %s", dp_strerr(l.other));
	EXPECT_LT(0UL, l.calls);
	EXPECT_EQ(1UL, l.ebadf) TH_LOG("the loop never saw the fd gone");
	EXPECT_EQ(-ENOENT, lc_worker_gone(getpid()));
	EXPECT_EQ(0, lc_refcnt("vhost_accel", &ref));
	EXPECT_EQ(ref0, ref);
	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	EXPECT_EQ(self->c.vmlck0, dp_wait_vmlck(self->c.vmlck0, DP_VMLCK_MS));
	ASSERT_EQ(0, dp_traffic_hold(t));
	dp_traffic_stop(t);
	DP_TRAFFIC_CHECK_CLEAN(t);
	vg_net_close(&self->g);
}

TEST_HARNESS_MAIN
