// SPDX-License-Identifier: GPL-2.0
/*
 * Degrade, don't fail: a device bound through a macvtap on nicsim, as
 * QEMU binds it (datapath_macvtap), runs accelerated; when the NIC takes
 * its queue pair back (the "reset_qps" knob: cb->detached) the device goes
 * on copying through the macvtap without its guest noticing, and is
 * accelerated again once it gets a queue pair back (it tries every 200 ms).
 *
 * A guest thread keeps transmitting numbered frames and receiving the
 * peer's; the traffic engine's sender and reader do the same on the wire
 * end of nicsim.  Checked:
 *
 *  - switch_once: one reset under traffic both ways: GET_STATS shows the
 *    copying datapath, then the accelerated one again, datapath_switches
 *    exactly 2, no queue error (counter and eventfd), bytes_copied on
 *    both queues, nothing duplicated or reordered either way, every frame
 *    lost counted (NIC, wire end, macvtap, switch_drops) and at most
 *    SW_LOSS_MAX(qlen) a switch;
 *  - switch_cycles: 20 resets under traffic, some with the NIC's link
 *    down while copying (the way back waits for the link) or while
 *    accelerated (no switch): 2 switches a reset, never a queue error,
 *    traffic both ways after every cycle, and at the end a phase with
 *    exact delivery (nothing lost, in order); which cycles bounce the
 *    link is random: the seed is printed, VG_SWITCH_SEED=n replays it;
 *  - switch_busy_host: switch_once while another process (an address
 *    space without the guest's memory) spins on every CPU: the switches
 *    run outside the owner's threads and must still reach its rings;
 *  - accel_only: VHOST_ACCEL_BIND_F_ACCEL_ONLY (SET_NIC, ifindex 0) before
 *    SET_BACKEND keeps the old behaviour: the reset stops both queues
 *    with their error eventfd, datapath NONE, no switch, nothing copied;
 *  - release_degraded, reset_owner_degraded: the fd closed, or
 *    RESET_OWNER, while the device copies (the NIC's link held down so
 *    that it cannot go back): no queue pair left attached, VmLck and the
 *    module reference back, and the macvtap fd binds a new device that
 *    runs accelerated.
 *
 * Everything lives in this process's network namespace and the peer's
 * (private MACs, Ethertype 0x88b5 test frames only).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "dptest.h"
#include "mvtap.h"

#define SW_FLOW		200	/* frames each way that make "traffic flows" */
#define SW_CYCLE_FLOW	50	/* the same between two cycles */
#define SW_CYCLES	20
#define SW_VQ_NUM	256	/* guest rings; nicsim's ring is as large */
/* Grows with VG_TIME_SCALE: the peer's frames this long without progress are lost (pacing only) */
#define SW_STALL_MS	(50 * vg_time_scale())
/*
 * Copying -> accelerated: the device tries every 200 ms (nic.c); a
 * retry that found dev->mutex taken comes a jiffy later.
 */
#define SW_BACK_MS	(1000 * vg_time_scale())
#define SW_LINK_HOLD_MS	300	/* link down this long: an attempt fails */
/* After the way back: no further switch may come in this window. */
#define SW_SETTLE_MS	500
/*
 * Frames from the wire a switch may lose: what the NIC held for the guest
 * beyond its Rx buffers (at most a ring, SW_VQ_NUM) and what the macvtap
 * queued (its tx_queue_len, @qlen) thrown away by the switch.
 */
#define SW_LOSS_MAX(qlen)	(SW_VQ_NUM + (qlen))

#define SW_DP(x)	VHOST_ACCEL_DATAPATH_##x
#define SW_MAX_SPIN	64

/* Where a frame may be lost, every counter of it. */
struct sw_drops {
	/* peer -> guest */
	uint64_t no_buf, too_big, link_down, injected;	/* the NIC */
	uint64_t peer_tx;	/* the wire end refused it */
	uint64_t nic_rx;	/* the NIC's host port (to the macvtap) */
	uint64_t mvt_rx;	/* the macvtap's queue was full (its own) */
	uint64_t switch_drops, copy_too_big;	/* the device */
	/* guest -> peer */
	uint64_t dev_tx;	/* drops_nic of the Tx queue */
	uint64_t nic_tx;	/* the NIC's host port (from the macvtap) */
	uint64_t mvt_tx, peer_rx, sock;
};

FIXTURE(sw) {
	struct dp_ctx c;
	struct vg_net g;
	struct dp_traffic t;
	uint64_t sock_drops;	/* PACKET_STATISTICS, summed (reads reset) */
	uint8_t mac[6];		/* the macvtap's */
	char mvt[VP_IFNAMSIZ];
	int mvt_idx;
	int tapfd;		/* the macvtap's queue fd */
	int tx_fd;		/* the peer's sending socket */
	unsigned int qlen;	/* the macvtap's tx_queue_len */
	/* the counters once the guest ran, before the traffic */
	struct sw_drops base;
	pid_t spin[SW_MAX_SPIN];	/* busy processes (switch_busy_host) */
	unsigned int nspin;
	char why[800];
};

/* ---- what the kernel shows ---- */

static int sw_stats(struct vg_net *g, struct vhost_accel_stats *st)
{
	memset(st, 0, sizeof(*st));
	return vg_get_stats(&g->d, st);
}

static const char *sw_dp_name(uint32_t dp)
{
	switch (dp) {
	case SW_DP(NONE):
		return "none";
	case SW_DP(ACCEL):
		return "accelerated";
	case SW_DP(COPY):
		return "copying";
	}
	return "?";
}

/*
 * Wait until the device runs @dp with at least @switches switches: the
 * milliseconds it took, or -ETIMEDOUT (*@st: the last stats read).
 */
static int sw_wait_dp(struct vg_net *g, uint32_t dp, uint64_t switches,
		      int ms, struct vhost_accel_stats *st)
{
	uint64_t t0 = vg_now_ms();

	for (;;) {
		if (sw_stats(g, st))
			return -EIO;
		if (st->datapath == dp && st->datapath_switches >= switches)
			return (int)(vg_now_ms() - t0);
		if (vg_now_ms() - t0 > (uint64_t)ms)
			return -ETIMEDOUT;
		vg_sleep_ms(1);
	}
}

static int sw_read_drops(struct _test_data_sw *self, struct sw_drops *d)
{
	struct dp_traffic *t = &self->t;
	struct vhost_accel_stats st;
	struct tpacket_stats ps;
	socklen_t sl = sizeof(ps);
	int r;

	memset(d, 0, sizeof(*d));
	if (vp_nic_ethtool_stat(&self->c.nic, "rx_dropped_no_buf", &d->no_buf) ||
	    vp_nic_ethtool_stat(&self->c.nic, "rx_dropped_too_big", &d->too_big) ||
	    vp_nic_ethtool_stat(&self->c.nic, "dropped_link_down", &d->link_down) ||
	    vp_nic_ethtool_stat(&self->c.nic, "rx_dropped_injected", &d->injected))
		return -EIO;
	if (dp_netdev_drops(self->c.nic.name, &d->nic_rx, &d->nic_tx) ||
	    dp_netdev_drops(self->mvt, &d->mvt_rx, &d->mvt_tx))
		return -EIO;
	r = dp_peer_netdev_drops(&self->c.nic, &d->peer_rx, &d->peer_tx);
	if (r)
		return r;
	if (getsockopt(t->rx_fd, SOL_PACKET, PACKET_STATISTICS, &ps, &sl))
		return -errno;
	self->sock_drops += ps.tp_drops;
	d->sock = self->sock_drops;
	if (sw_stats(&self->g, &st))
		return -EIO;
	d->switch_drops = st.switch_drops;
	d->copy_too_big = st.vq[VG_VQ_RX].drops_too_big;
	d->dev_tx = st.vq[VG_VQ_TX].drops_nic;
	/* the macvtap counts the NIC's drops of the accelerated traffic too */
	d->mvt_rx -= d->mvt_rx < d->no_buf ? d->mvt_rx : d->no_buf;
	d->mvt_tx -= d->mvt_tx < d->dev_tx ? d->mvt_tx : d->dev_tx;
	return 0;
}

/* @d minus @base, counter by counter. */
static void sw_drops_since(struct sw_drops *d, const struct sw_drops *base)
{
	uint64_t *v = (uint64_t *)d;
	const uint64_t *b = (const uint64_t *)base;
	size_t i;

	for (i = 0; i < sizeof(*d) / sizeof(*v); i++)
		v[i] -= b[i];
}

static uint64_t sw_rx_counted(const struct sw_drops *d)
{
	return d->no_buf + d->too_big + d->link_down + d->injected +
	       d->peer_tx + d->nic_rx + d->mvt_rx + d->switch_drops +
	       d->copy_too_big;
}

static uint64_t sw_tx_counted(const struct sw_drops *d)
{
	return d->dev_tx + d->nic_tx + d->mvt_tx + d->peer_rx + d->sock;
}

/*
 * Threads stopped and settled after @switches switches: every frame lost
 * from the wire is counted somewhere, switch_drops within what the
 * macvtap holds; with @exact (no link down: a copying device's frames
 * then die uncounted in the lower device's qdisc, as vhost-net's do) also
 * every frame the guest sent, and nothing counted that was not lost (but
 * for the wire end's refusals of failed sends).  The losses are printed.
 * Returns the frames lost peer -> guest.
 */
static uint64_t sw_account(struct __test_metadata *_metadata,
			   struct _test_data_sw *self, uint64_t switches,
			   bool exact)
{
	struct dp_traffic *t = &self->t;
	uint64_t lost, counted, tx_lost;
	struct sw_drops d;

	EXPECT_EQ(0, sw_read_drops(self, &d));
	sw_drops_since(&d, &self->base);
	/* a frame out of order is no loss (DP_TRAFFIC_CHECK_CLEAN() fails it) */
	lost = DP_TR_SENT(t) - atomic_load(&t->rx_got) - t->rx_bad;
	counted = sw_rx_counted(&d);
	TH_LOG("peer->guest: %u sent, %u received in order, %u gaps; drops: NIC %llu no buffer, %llu too big, %llu link down; wire end %llu; host port %llu; macvtap %llu; switch_drops %llu",
	       DP_TR_SENT(t), atomic_load(&t->rx_got), t->rx_gaps,
	       (unsigned long long)d.no_buf, (unsigned long long)d.too_big,
	       (unsigned long long)d.link_down, (unsigned long long)d.peer_tx,
	       (unsigned long long)d.nic_rx, (unsigned long long)d.mvt_rx,
	       (unsigned long long)d.switch_drops);
	tx_lost = self->g.tx_completed - DP_TR_GOT(t) - t->peer_bad;
	TH_LOG("guest->peer: %llu sent, %u received in order, %u gaps; drops: device %llu, host port %llu, macvtap %llu, wire end %llu, socket %llu",
	       (unsigned long long)self->g.tx_completed, DP_TR_GOT(t),
	       t->peer_gaps, (unsigned long long)d.dev_tx,
	       (unsigned long long)d.nic_tx, (unsigned long long)d.mvt_tx,
	       (unsigned long long)d.peer_rx, (unsigned long long)d.sock);
	EXPECT_EQ(self->g.tx_queued, self->g.tx_completed)
		TH_LOG("Tx chains never came back");
	EXPECT_LE(lost, counted) TH_LOG("peer->guest: frames lost without a count");
	/* a switch discards no more than the macvtap can hold */
	EXPECT_GE((uint64_t)self->qlen * switches, d.switch_drops)
		TH_LOG("switch_drops %llu in %llu switches, the macvtap holds %u",
		       (unsigned long long)d.switch_drops,
		       (unsigned long long)switches, self->qlen);
	if (exact) {
		EXPECT_LE(tx_lost, sw_tx_counted(&d))
			TH_LOG("guest->peer: frames lost without a count");
		EXPECT_GE(lost + (DP_TR_SEND_FAILED(t) + DP_TR_SEND_CUT(t)), counted)
			TH_LOG("peer->guest: more drops counted than frames lost (%u failed sends)",
			       (DP_TR_SEND_FAILED(t) + DP_TR_SEND_CUT(t)));
		/*
		 * The macvtap's tx_dropped also counts the host's own frames
		 * (IPv6 neighbour discovery while it comes up): not an
		 * upper bound of the guest's.
		 */
		EXPECT_GE(tx_lost, sw_tx_counted(&d) - d.mvt_tx)
			TH_LOG("guest->peer: more drops counted than frames lost");
	}
	return lost;
}

/* Neither queue reported an error: counter 0, eventfd never written. */
static void sw_no_error(struct __test_metadata *_metadata,
			struct _test_data_sw *self, const char *when)
{
	struct vhost_accel_stats st;
	unsigned int q;

	ASSERT_EQ(0, sw_stats(&self->g, &st));
	for (q = 0; q < VG_NVQS; q++) {
		EXPECT_EQ(0ULL, st.vq[q].errors)
			TH_LOG("vq %u: errors %s", q, when);
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, q, 0))
			TH_LOG("vq %u: error eventfd %s", q, when);
	}
}

/* A process of its own (no guest memory in its mm) spinning on @cpu. */
static pid_t sw_spin(int cpu)
{
	pid_t pid = fork();
	cpu_set_t set;

	if (pid)
		return pid;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	execl("/bin/sh", "sh", "-c", "while :; do :; done", (char *)NULL);
	_exit(127);
}

static void sw_spin_stop(pid_t *pids, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
		pids[i] = 0;
	}
}

/* ---- the fixture ---- */

static int sw_build(struct _test_data_sw *self)
{
	uint64_t qlen;
	char path[128];
	int r;

	self->tapfd = mv_ctx_macvtap(&self->c, 's', self->mvt, self->mac,
				     &self->mvt_idx, self->why,
				     sizeof(self->why));
	if (self->tapfd < 0)
		return self->tapfd;
	snprintf(path, sizeof(path), "/sys/class/net/%s/tx_queue_len",
		 self->mvt);
	r = vg_read_u64_file(path, &qlen);
	if (r) {
		snprintf(self->why, sizeof(self->why), "%s: %s", path,
			 dp_strerr(r));
		return r;
	}
	self->qlen = (unsigned int)qlen;
	/* a downed wire must fail the peer's sends visibly */
	self->tx_fd = vp_packet_open(&self->c.nic, VP_ETH_P_TEST,
				     VP_PKT_QDISC_BYPASS);
	if (self->tx_fd < 0) {
		snprintf(self->why, sizeof(self->why), "peer socket: %s",
			 dp_strerr(self->tx_fd));
		return self->tx_fd;
	}
	return 0;
}

static void sw_destroy(struct _test_data_sw *self)
{
	int idx;

	dp_traffic_stop(&self->t);
	vg_net_close(&self->g);
	if (self->tx_fd >= 0)
		close(self->tx_fd);
	self->tx_fd = -1;
	if (self->tapfd >= 0)
		close(self->tapfd);
	self->tapfd = -1;
	idx = self->mvt[0] ? (int)if_nametoindex(self->mvt) : 0;
	if (idx)
		vp_nl_link_del(idx);
	dp_ctx_fini(&self->c);
}

FIXTURE_SETUP(sw)
{
	int r;

	self->tapfd = self->tx_fd = -1;
	r = sw_build(self);
	if (r) {
		sw_destroy(self);
		ASSERT_EQ(0, r) TH_LOG("%s", self->why);
	}
}

FIXTURE_TEARDOWN(sw)
{
	sw_spin_stop(self->spin, self->nspin);
	/* a test that failed with the link down leaves it up again */
	vp_nic_knob_write(&self->c.nic, "link", "1");
	sw_destroy(self);
}

static const struct vg_net_cfg sw_cfg = {
	/* what QEMU negotiates with a Linux guest */
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
	.rx_num = SW_VQ_NUM,
	.tx_num = SW_VQ_NUM,
};

/*
 * Guest @g opened as QEMU does, @bind_flags (SET_NIC ifindex 0) if any,
 * both queues started on the macvtap fd, its Rx buffers at the NIC, and
 * the datapath accelerated.
 */
static void sw_guest_start(struct __test_metadata *_metadata,
			   struct _test_data_sw *self, struct vg_net *g,
			   uint32_t bind_flags)
{
	static const uint8_t zero[6];
	struct vhost_accel_stats st;
	int r;

	r = vg_net_open(g, VG_DEV_ACCEL, &sw_cfg);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", VG_DEV_ACCEL, dp_strerr(r));
	if (bind_flags) {
		r = vg_set_nic(&g->d, 0, zero, bind_flags);
		ASSERT_EQ(0, r) TH_LOG("SET_NIC(0, flags %#x): %s", bind_flags,
				       dp_strerr(r));
	}
	r = vg_set_backend(&g->d, VG_VQ_RX, self->tapfd);
	ASSERT_EQ(0, r) TH_LOG("SET_BACKEND(vq 0, macvtap fd): %s%s",
			       dp_strerr(r), dp_hint(r));
	r = vg_set_backend(&g->d, VG_VQ_TX, self->tapfd);
	ASSERT_EQ(0, r) TH_LOG("SET_BACKEND(vq 1, macvtap fd): %s",
			       dp_strerr(r));
	ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nfree));
	ASSERT_LE(0, vg_vq_kick(&g->d, VG_VQ_RX));
	ASSERT_EQ(0, dp_wait_rx_posted(g, false, 0))
		TH_LOG("the NIC did not get the %u Rx buffers",
		       vg_net_rx_posted(g));
	ASSERT_EQ(0, sw_stats(g, &st));
	ASSERT_EQ(SW_DP(ACCEL), st.datapath)
		TH_LOG("datapath %s, want accelerated", sw_dp_name(st.datapath));
	ASSERT_EQ(0ULL, st.datapath_switches);
}

/* Traffic both ways for @g, bad frames told with the datapath then. */
static void sw_traffic_init(struct _test_data_sw *self, struct vg_net *g)
{
	dp_traffic_init(&self->t, g, self->mac, SW_STALL_MS);
	self->t.say_dp = true;
	dp_traffic_peer(&self->t, &self->c.nic, self->c.pkt, self->tx_fd);
}

/* The fixture's guest started, traffic both ways. */
static void sw_up(struct __test_metadata *_metadata,
		  struct _test_data_sw *self, uint32_t bind_flags)
{
	sw_guest_start(_metadata, self, &self->g, bind_flags);
	sw_traffic_init(self, &self->g);
	/* what the host sent or dropped before (a macvtap coming up) */
	ASSERT_EQ(0, sw_read_drops(self, &self->base));
	ASSERT_EQ(0, dp_traffic_start(&self->t, true, true));
	DP_TRAFFIC_FLOWS(&self->t, SW_FLOW);
}

static void sw_stop(struct __test_metadata *_metadata,
		    struct _test_data_sw *self)
{
	dp_traffic_stop(&self->t);
	ASSERT_EQ(0, dp_traffic_settle(&self->t, true));
}

static int sw_reset_qps(struct _test_data_sw *self)
{
	return vp_nic_knob_write(&self->c.nic, "reset_qps", "1");
}

static int sw_link(struct _test_data_sw *self, bool up)
{
	return vp_nic_knob_write(&self->c.nic, "link", up ? "1" : "0");
}

/*
 * One reset under traffic: the device copies (@saw_copy: seen in
 * GET_STATS) and is accelerated again with @base + 2 switches; with
 * @hold_ms, the NIC's link is down that long once it copies, and the way
 * back waits for it.  Returns the milliseconds from the reset to the
 * accelerated datapath again.
 */
static int sw_one_reset(struct __test_metadata *_metadata,
			struct _test_data_sw *self, uint64_t base,
			unsigned int hold_ms, bool *saw_copy)
{
	struct vhost_accel_stats st;
	uint64_t t0 = vg_now_ms();
	int copy_ms, back_ms;

	*saw_copy = false;
	EXPECT_EQ(0, sw_reset_qps(self));
	copy_ms = sw_wait_dp(&self->g, SW_DP(COPY), base + 1, DP_WAIT_MS, &st);
	*saw_copy = copy_ms >= 0 && st.datapath_switches == base + 1;
	if (hold_ms && copy_ms >= 0) {
		EXPECT_EQ(0, sw_link(self, false));
		vg_sleep_ms(hold_ms);
		/* no queue pair without a link: still copying */
		EXPECT_EQ(0, sw_stats(&self->g, &st));
		EXPECT_EQ(SW_DP(COPY), st.datapath)
			TH_LOG("the link is down: %s", sw_dp_name(st.datapath));
		EXPECT_EQ(0, sw_link(self, true));
	}
	back_ms = sw_wait_dp(&self->g, SW_DP(ACCEL), base + 2,
			     SW_BACK_MS + hold_ms, &st);
	EXPECT_LE(0, back_ms)
		TH_LOG("not accelerated again %d ms after the reset (%s, %llu switches, want %llu; errors Rx %llu Tx %llu)",
		       (int)(vg_now_ms() - t0), sw_dp_name(st.datapath),
		       (unsigned long long)st.datapath_switches,
		       (unsigned long long)base + 2,
		       (unsigned long long)st.vq[VG_VQ_RX].errors,
		       (unsigned long long)st.vq[VG_VQ_TX].errors);
	return (int)(vg_now_ms() - t0);
}

/* Exactly @want switches, and no further one within SW_SETTLE_MS. */
static void sw_switches_are(struct __test_metadata *_metadata,
			    struct _test_data_sw *self, uint64_t want)
{
	struct vhost_accel_stats st;

	vg_sleep_ms(SW_SETTLE_MS);
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	EXPECT_EQ(want, st.datapath_switches);
	EXPECT_EQ(SW_DP(ACCEL), st.datapath)
		TH_LOG("datapath %s", sw_dp_name(st.datapath));
}

/*
 * 1. One reset under traffic both ways: copying, then accelerated again,
 * two switches, no queue error, both queues copied, nothing duplicated
 * or reordered, every loss counted and within the bound of two switches.
 */
TEST_F_TIMEOUT(sw, switch_once, 90)
{
	struct dp_traffic *t = &self->t;
	struct vhost_accel_stats st;
	uint64_t lost;
	bool saw_copy;
	int ms;

	sw_up(_metadata, self, 0);
	ms = sw_one_reset(_metadata, self, 0, 0, &saw_copy);
	EXPECT_TRUE(saw_copy)
		TH_LOG("GET_STATS never showed the copying datapath with 1 switch");
	TH_LOG("reset -> accelerated again: %d ms", ms);
	sw_no_error(_metadata, self, "after a switch and back");
	/* the guest noticed nothing: its rings go on */
	DP_TRAFFIC_FLOWS(t, SW_FLOW);
	sw_switches_are(_metadata, self, 2);
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	EXPECT_LT(0ULL, st.vq[VG_VQ_RX].bytes_copied)
		TH_LOG("no frame reached the guest through the copying datapath");
	EXPECT_LT(0ULL, st.vq[VG_VQ_TX].bytes_copied)
		TH_LOG("no guest frame left through the copying datapath");
	TH_LOG("bytes copied: Rx %llu, Tx %llu; switch_drops %llu",
	       (unsigned long long)st.vq[VG_VQ_RX].bytes_copied,
	       (unsigned long long)st.vq[VG_VQ_TX].bytes_copied,
	       (unsigned long long)st.switch_drops);
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(t);
	lost = sw_account(_metadata, self, 2, true);
	EXPECT_GE(2ULL * SW_LOSS_MAX(self->qlen), lost)
		TH_LOG("more lost than two switches may lose (macvtap queue %u)",
		       self->qlen);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* VG_SWITCH_SEED or the clock, printed. */
static unsigned int sw_seed(void)
{
	const char *env = getenv("VG_SWITCH_SEED");
	unsigned int seed = env && *env ? (unsigned int)strtoul(env, NULL, 0) :
					  (unsigned int)(vg_now_ms() ^ getpid());

	printf("# VG_SWITCH_SEED=%u\n", seed);
	fflush(stdout);
	return seed;
}

/*
 * 2. SW_CYCLES resets under traffic; a random third of them with the
 * link down while copying, another third after a link down and up while
 * accelerated (no switch).  Every cycle: 2 switches, no queue error,
 * traffic both ways after it.  At the end nothing was duplicated or
 * reordered, every loss is counted, and a last phase delivers exactly.
 */
TEST_F_TIMEOUT(sw, switch_cycles, 300)
{
	struct dp_traffic *t = &self->t;
	unsigned int seed = sw_seed(), i, kind, max_ms = 0, copies = 0;
	unsigned int sent0, got0, tx0, pgot0;
	struct vhost_accel_stats st;
	struct sw_drops d0, d1;
	bool saw_copy;
	int ms;

	srand(seed);
	sw_up(_metadata, self, 0);
	for (i = 0; i < SW_CYCLES; i++) {
		kind = (unsigned int)rand() % 3;
		if (kind == 2) {
			/* link loss while accelerated: a pause, no switch */
			ASSERT_EQ(0, sw_link(self, false));
			vg_sleep_ms(50 + (unsigned int)rand() % 150);
			ASSERT_EQ(0, sw_link(self, true));
			ASSERT_EQ(0, sw_stats(&self->g, &st));
			EXPECT_EQ(2ULL * i, st.datapath_switches)
				TH_LOG("cycle %u: a switch on link loss", i);
		}
		vg_sleep_ms((unsigned int)rand() % 50);
		ms = sw_one_reset(_metadata, self, 2ULL * i,
				  kind == 1 ? SW_LINK_HOLD_MS : 0, &saw_copy);
		copies += saw_copy;
		if (kind != 1 && (unsigned int)ms > max_ms)
			max_ms = (unsigned int)ms;
		sw_no_error(_metadata, self, "after a cycle");
		ASSERT_EQ(0, sw_stats(&self->g, &st));
		ASSERT_EQ(2ULL * (i + 1), st.datapath_switches)
			TH_LOG("cycle %u (kind %u)", i, kind);
		/* the guest's rings never stop */
		DP_TRAFFIC_FLOWS(t, SW_CYCLE_FLOW);
	}
	TH_LOG("%u cycles, copying seen in %u, longest way back %u ms (without a held link)",
	       SW_CYCLES, copies, max_ms);
	sw_switches_are(_metadata, self, 2ULL * SW_CYCLES);
	sw_no_error(_metadata, self, "after the cycles");
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(t);
	/* links went down: only what was lost must have been counted */
	sw_account(_metadata, self, 2ULL * SW_CYCLES, false);

	/* a last phase without events: every frame arrives, in order */
	t->rx_bad = t->peer_bad = 0;
	t->rx_last = (int64_t)DP_TR_SENT(t) - 1;
	t->peer_last = (int64_t)t->tx_seq - 1;
	t->rx_gaps = t->peer_gaps = 0;
	t->strict = true;
	sent0 = DP_TR_SENT(t);
	got0 = atomic_load(&t->rx_got);
	tx0 = (unsigned int)self->g.tx_completed;
	pgot0 = DP_TR_GOT(t);
	ASSERT_EQ(0, sw_read_drops(self, &d0));
	ASSERT_EQ(0, dp_traffic_start(t, true, true));
	DP_TRAFFIC_FLOWS(t, SW_FLOW);
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(t);
	ASSERT_EQ(0, sw_read_drops(self, &d1));
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	EXPECT_EQ(2ULL * SW_CYCLES, st.datapath_switches)
		TH_LOG("a switch in the last phase");
	TH_LOG("last phase: peer->guest %u sent, %u received, drops %llu (NIC no buffer %llu, switch %llu); guest->peer %u sent, %u received",
	       DP_TR_SENT(t) - sent0, atomic_load(&t->rx_got) - got0,
	       (unsigned long long)(sw_rx_counted(&d1) - sw_rx_counted(&d0)),
	       (unsigned long long)(d1.no_buf - d0.no_buf),
	       (unsigned long long)(d1.switch_drops - d0.switch_drops),
	       (unsigned int)self->g.tx_completed - tx0,
	       DP_TR_GOT(t) - pgot0);
	EXPECT_EQ(DP_TR_SENT(t) - sent0, atomic_load(&t->rx_got) - got0)
		TH_LOG("peer->guest: lost after the cycles");
	EXPECT_EQ((unsigned int)self->g.tx_completed - tx0,
		  DP_TR_GOT(t) - pgot0)
		TH_LOG("guest->peer: lost after the cycles");
	EXPECT_EQ(0U, t->rx_gaps);
	EXPECT_EQ(0U, t->peer_gaps);
	sw_no_error(_metadata, self, "at the end");
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * 3. Acceleration or nothing (VHOST_ACCEL_BIND_F_ACCEL_ONLY before
 * SET_BACKEND): the reset stops both queues with an error, as before the
 * copying datapath existed; no switch, nothing copied, and the NIC's
 * queue pair is gone.
 */
TEST_F_TIMEOUT(sw, accel_only, 60)
{
	struct vhost_accel_stats st;
	unsigned int q;

	sw_up(_metadata, self, VHOST_ACCEL_BIND_F_ACCEL_ONLY);
	ASSERT_EQ(0, sw_reset_qps(self));
	for (q = 0; q < VG_NVQS; q++)
		EXPECT_EQ(0, vg_vq_wait_err(&self->g.d, q, DP_WAIT_MS))
			TH_LOG("vq %u: no error eventfd after the reset", q);
	/* a degrading device would be accelerated again by now */
	vg_sleep_ms(SW_BACK_MS);
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	EXPECT_EQ(SW_DP(NONE), st.datapath)
		TH_LOG("datapath %s", sw_dp_name(st.datapath));
	EXPECT_EQ(0ULL, st.datapath_switches);
	EXPECT_EQ(0ULL, st.switch_drops);
	for (q = 0; q < VG_NVQS; q++) {
		EXPECT_EQ(1ULL, st.vq[q].errors) TH_LOG("vq %u", q);
		EXPECT_EQ(0ULL, st.vq[q].bytes_copied) TH_LOG("vq %u", q);
	}
	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(&self->t);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * 4. One switch on a busy host: another process (a shell's busy loop, an
 * address space without the guest's memory) runs on every CPU while the
 * device switches and comes back.  The switches are made outside the
 * owner's threads: they must reach the guest's rings through the owner's
 * address space, not whichever one the CPU had last.
 */
TEST_F_TIMEOUT(sw, switch_busy_host, 90)
{
	struct dp_traffic *t = &self->t;
	struct vhost_accel_stats st;
	bool saw_copy;
	int ms, i;

	self->nspin = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (self->nspin > SW_MAX_SPIN)
		self->nspin = SW_MAX_SPIN;
	sw_up(_metadata, self, 0);
	for (i = 0; i < (int)self->nspin; i++)
		ASSERT_LT(0, self->spin[i] = sw_spin(i));
	vg_sleep_ms(100);
	ms = sw_one_reset(_metadata, self, 0, 0, &saw_copy);
	TH_LOG("reset -> accelerated again: %d ms (copying seen: %s)", ms,
	       saw_copy ? "yes" : "no");
	sw_no_error(_metadata, self, "after a switch and back on a busy host");
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	EXPECT_EQ(SW_DP(ACCEL), st.datapath)
		TH_LOG("datapath %s, %llu switches", sw_dp_name(st.datapath),
		       (unsigned long long)st.datapath_switches);
	sw_spin_stop(self->spin, self->nspin);
	DP_TRAFFIC_FLOWS(t, SW_FLOW);
	sw_switches_are(_metadata, self, 2);
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(t);
	sw_account(_metadata, self, 2, true);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

static int sw_refcnt(uint64_t *v)
{
	return vg_read_u64_file("/sys/module/vhost_accel/refcnt", v);
}

/*
 * Reset under traffic with the link held down once the device copies:
 * it stays degraded.  Returns with the traffic stopped; false if the
 * device was accelerated again before the link went down.
 */
static bool sw_degrade_held(struct __test_metadata *_metadata,
			    struct _test_data_sw *self)
{
	struct vhost_accel_stats st;
	int r;

	sw_up(_metadata, self, 0);
	ASSERT_EQ(0, sw_reset_qps(self));
	r = sw_wait_dp(&self->g, SW_DP(COPY), 1, DP_WAIT_MS, &st);
	ASSERT_LE(0, r) TH_LOG("not copying after the reset: %s",
			       sw_dp_name(st.datapath));
	ASSERT_EQ(0, sw_link(self, false));
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	if (st.datapath != SW_DP(COPY)) {
		TH_LOG("accelerated again before the link went down (%llu switches)",
		       (unsigned long long)st.datapath_switches);
		return false;
	}
	/* several attempts to get a queue pair back fail meanwhile */
	vg_sleep_ms(SW_LINK_HOLD_MS);
	ASSERT_EQ(0, sw_stats(&self->g, &st));
	ASSERT_EQ(SW_DP(COPY), st.datapath);
	ASSERT_EQ(1ULL, st.datapath_switches);
	sw_stop(_metadata, self);
	DP_TRAFFIC_CHECK_CLEAN(&self->t);
	return true;
}

#define SW_DEGRADE_HELD(_self) do {					\
	if (!sw_degrade_held(_metadata, (_self)))			\
		SKIP(return, "the load was too slow for the 200 ms window: not copying when the link went down"); \
} while (0)

/*
 * After the degraded device went: nothing of it stays (no queue pair on
 * the NIC, VmLck and the module reference back) and the macvtap fd binds
 * a new device, accelerated, with traffic both ways.
 */
static void sw_after_degraded(struct __test_metadata *_metadata,
			      struct _test_data_sw *self, uint64_t ref0)
{
	struct vg_net g2 = { 0 };
	uint64_t ref, deadline = vg_now_ms() + DP_WAIT_MS;

	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	EXPECT_EQ(self->c.vmlck0, dp_wait_vmlck(self->c.vmlck0, DP_VMLCK_MS));
	while (!sw_refcnt(&ref) && ref != ref0 && vg_now_ms() < deadline)
		vg_sleep_ms(10);
	EXPECT_EQ(0, sw_refcnt(&ref));
	EXPECT_EQ(ref0, ref) TH_LOG("vhost_accel module references");
	ASSERT_EQ(0, sw_link(self, true));
	sw_guest_start(_metadata, self, &g2, 0);
	sw_traffic_init(self, &g2);
	/* frames the old device left on the wire */
	vg_traffic_drain(self->c.pkt, 100);
	ASSERT_EQ(0, dp_traffic_start(&self->t, true, true));
	DP_TRAFFIC_FLOWS(&self->t, SW_FLOW);
	dp_traffic_stop(&self->t);
	DP_TRAFFIC_CHECK_CLEAN(&self->t);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &g2 }, 1));
}

/* 5. The fd closed while the device copies (and cannot go back). */
TEST_F_TIMEOUT(sw, release_degraded, 90)
{
	uint64_t ref0;

	ASSERT_EQ(0, sw_refcnt(&ref0));
	SW_DEGRADE_HELD(self);
	vg_net_close(&self->g);
	sw_after_degraded(_metadata, self, ref0);
}

/*
 * 6. VHOST_RESET_OWNER while the device copies: the datapath stops, the
 * binding and the queue pair go; the fd, owned again, starts accelerated.
 */
TEST_F_TIMEOUT(sw, reset_owner_degraded, 90)
{
	struct vhost_accel_stats st;
	uint64_t ref0;
	int r;

	ASSERT_EQ(0, sw_refcnt(&ref0));
	SW_DEGRADE_HELD(self);
	r = vg_reset_owner(&self->g.d);
	ASSERT_EQ(0, r) TH_LOG("RESET_OWNER: %s", dp_strerr(r));
	/* ioctls that need no owner see it stopped */
	r = vg_get_stats(&self->g.d, &st);
	if (!r)
		EXPECT_EQ(SW_DP(NONE), st.datapath)
			TH_LOG("datapath %s after RESET_OWNER",
			       sw_dp_name(st.datapath));
	/* the device lets go of the macvtap fd: it binds elsewhere */
	vg_sleep_ms(SW_BACK_MS);
	EXPECT_EQ(0, dp_qps_attached(&self->c.nic));
	vg_net_close(&self->g);
	sw_after_degraded(_metadata, self, ref0);
}

TEST_HARNESS_MAIN
