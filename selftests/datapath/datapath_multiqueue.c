// SPDX-License-Identifier: GPL-2.0
/*
 * Multiqueue: NQ vhost-accel devices, each one queue pair of the same
 * guest MAC, as QEMU runs a virtio-net device with queues=NQ (one vhost
 * fd per queue pair).  The NIC puts queue pairs of one MAC in one pool and
 * spreads the pool's flows over them by RSS (Toeplitz hash of addresses
 * and ports, indirection table: Documentation/nicsim.rst).
 *
 * Two ways in, as variants: VHOST_ACCEL_SET_NIC with the same MAC on every
 * device, and a multiqueue macvtap whose NQ queue fds (IFF_MULTI_QUEUE)
 * back one device each (-netdev tap,fds=...,vhostfds=...).
 *
 *  - the peer sends many UDP flows: every frame arrives exactly once, on
 *    one queue, intact; every flow stays on one queue, in order; every
 *    queue gets at least a tenth; the NIC's per-slot counters (ethtool -S
 *    qpN_rx_packets) and each device's counters agree; broadcast frames
 *    reach one queue of the pool, once;
 *  - every queue transmits to the peer;
 *  - one queue detached mid-run: the pool shrinks (debugfs rss), the
 *    flows of the other queues stay where they were, the detached queue's
 *    flows move to the others, nothing is lost, Tx still works;
 *  - nothing is copied (bytes_copied 0) and VmLck returns to its value.
 *
 * The vnic variant runs the spread on the test VM's virtio-net NIC
 * (virtio_net_accel, SET_NIC): the device's own spread (the outer tap's
 * flow hash over the queue pairs in use) instead of nicsim's RSS, so no
 * per-slot or rss checks; a fifth queue pair of the MAC gets EBUSY (all
 * four are lent).  detach_one and from_guest do not run there: the device
 * keeps spreading over a queue pair in the middle that went away, and
 * takes one guest MAC at a time (Documentation/virtio-nic.rst).
 */
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "dptest.h"
#include "mvtap.h"

#define NQ	4	/* queue pairs of the guest */
#define NFLOW	128	/* UDP flows from the peer */
#define PER	4	/* frames per flow per round */
#define BATCH	128	/* frames sent before the guests drain */
#define PLEN	32	/* UDP payload bytes */
#define TXPER	20	/* frames each queue transmits */

FIXTURE(mq) {
	struct dp_ctx c;
	struct vg_net g[NQ];
	bool up[NQ];		/* still bound and running */
	uint8_t mac[6];
	char mvt[VP_IFNAMSIZ];
	int mvt_idx;
	int qfd[NQ];		/* macvtap queue fds */
	/* per flow: its tuple, queue (-1: none yet) and next sequence */
	struct vp_l4_opts flow[NFLOW];
	int flow_q[NFLOW];
	uint32_t flow_next[NFLOW];
	unsigned int got[NQ];	/* frames per queue in the last round */
	struct vg_net *from;	/* sender of the flows (NULL: the peer) */
	uint8_t from_mac[6];
	char why[800];
};

FIXTURE_VARIANT(mq) {
	bool macvtap;
	bool vnic;		/* the virtio-net NIC instead of nicsim */
	unsigned int engines;	/* nicsim engines (0: the parameter's) */
};

FIXTURE_VARIANT_ADD(mq, set_nic) {
	.macvtap = false,
};

FIXTURE_VARIANT_ADD(mq, macvtap) {
	.macvtap = true,
};

/* Two engines: queue pairs 0 and 2 on one, 1 and 3 on the other. */
FIXTURE_VARIANT_ADD(mq, set_nic_engines2) {
	.engines = 2,
};

FIXTURE_VARIANT_ADD(mq, vnic) {
	.vnic = true,
};

static void mq_cfg(struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX;
	cfg->rx_num = 256;
	cfg->tx_num = 64;
}

/* One queue fd of the macvtap, set up as QEMU's tap_open() leaves it. */
static int mq_queue_open(struct _test_data_mq *self, unsigned int i)
{
	struct ifreq ifr;
	int vhdr = 12, fd;

	fd = mv_tap_open(self->mvt, self->mvt_idx);
	if (fd < 0) {
		snprintf(self->why, sizeof(self->why), "open /dev/tap%d (queue %u): %s",
			 self->mvt_idx, i, dp_strerr(fd));
		return fd;
	}
	self->qfd[i] = fd;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &vhdr)) {
		snprintf(self->why, sizeof(self->why),
			 "queue %u: TUNSETIFF(IFF_MULTI_QUEUE)/TUNSETVNETHDRSZ: %s",
			 i, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Guest queue pair @i: bound through queue fd @i of the macvtap. */
static int mq_up_macvtap(struct _test_data_mq *self, unsigned int i,
			 const struct vg_net_cfg *cfg)
{
	struct vg_net *g = &self->g[i];
	int r;

	r = mq_queue_open(self, i);
	if (r)
		return r;
	r = vg_net_open(g, VG_DEV_ACCEL, cfg);
	if (!r)
		r = vg_net_start(g, self->qfd[i]);
	if (!r)
		r = vg_net_rx_fill(g, g->rx_nbufs);
	if (r >= 0)
		r = vg_net_rx_kick(g);
	if (r >= 0)
		r = dp_wait_rx_posted(g, false, 0);
	if (r)
		snprintf(self->why, sizeof(self->why),
			 "queue %u: SET_BACKEND with macvtap queue fd: %s%s", i,
			 dp_strerr(r), dp_hint(r));
	return r;
}

static int mq_build(struct _test_data_mq *self, bool macvtap,
		    const struct dp_be *be)
{
	struct vg_net_cfg cfg;
	unsigned int i;
	int r;

	mq_cfg(&cfg);
	r = dp_ctx_init_be(&self->c, 'q', 0, be, cfg.features);
	if (r) {
		snprintf(self->why, sizeof(self->why), "%s", self->c.why);
		return r;
	}
	dp_guest_mac(self->mac, 0);
	if (macvtap) {
		r = mv_macvtap_create(self->mvt, 't', self->c.nic.ifindex,
				      self->mac, &self->mvt_idx);
		if (r) {
			snprintf(self->why, sizeof(self->why),
				 "macvtap on %s: %s", self->c.nic.name,
				 dp_strerr(r));
			return r;
		}
	}
	/* in order: queue i gets slot i of the fresh NIC (qpI_ counters) */
	for (i = 0; i < NQ; i++) {
		if (macvtap) {
			r = mq_up_macvtap(self, i, &cfg);
		} else {
			r = dp_guest_up(&self->c, &self->g[i], &cfg, self->mac);
			if (r)
				snprintf(self->why, sizeof(self->why),
					 "queue %u: %s", i, self->c.why);
		}
		if (r)
			return r;
		self->up[i] = true;
	}
	return 0;
}

static void mq_destroy(struct _test_data_mq *self)
{
	unsigned int i;
	int idx;

	for (i = 0; i < NQ; i++) {
		vg_net_close(&self->g[i]);
		if (self->qfd[i] >= 0)
			close(self->qfd[i]);
		self->qfd[i] = -1;
	}
	idx = self->mvt[0] ? (int)if_nametoindex(self->mvt) : 0;
	if (idx)
		vp_nl_link_del(idx);
	dp_ctx_fini(&self->c);
}

/* Distinct pseudo-random tuples: addresses and ports all vary. */
static void mq_flows(struct _test_data_mq *self)
{
	uint32_t x = 0x9e3779b9u;
	unsigned int f;

	for (f = 0; f < NFLOW; f++) {
		struct vp_l4_opts *o = &self->flow[f];

		memset(o, 0, sizeof(*o));
		x = x * 1664525u + 1013904223u;
		o->saddr = htonl(0x0a630000u | ((x >> 8) & 0xff00) | f);
		o->daddr = htonl(0x0a630101u);
		x = x * 1664525u + 1013904223u;
		o->sport = (uint16_t)(1024 + (x >> 16) % 60000);
		o->dport = (uint16_t)(1024 + ((x >> 4) & 0xfff) * 8 + (f & 7));
		self->flow_q[f] = -1;
		self->flow_next[f] = 0;
	}
}

FIXTURE_SETUP(mq)
{
	struct dp_be be = {
		.kind = variant->vnic ? DP_BE_VNIC : DP_BE_NICSIM,
		.engines = variant->engines,
	};
	unsigned int i;
	char why[256];
	int r;

	for (i = 0; i < NQ; i++)
		self->qfd[i] = -1;
	dp_ctx_none(&self->c);
	if (!dp_be_available(&be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	mq_flows(self);
	r = mq_build(self, variant->macvtap, &be);
	if (r) {
		mq_destroy(self);
		ASSERT_EQ(0, r) TH_LOG("%s", self->why);
	}
}

FIXTURE_TEARDOWN(mq)
{
	mq_destroy(self);
}

/* The frame of flow @f with sequence @seq into @buf; its length. */
static size_t mq_frame(struct _test_data_mq *self, uint8_t *buf,
		       unsigned int f, uint32_t seq)
{
	uint8_t pl[PLEN];
	unsigned int i;

	memcpy(pl, "MQ01", 4);
	for (i = 0; i < 4; i++) {
		pl[4 + i] = (uint8_t)(f >> (24 - 8 * i));
		pl[8 + i] = (uint8_t)(seq >> (24 - 8 * i));
	}
	for (i = 12; i < PLEN; i++)
		pl[i] = (uint8_t)(f * 7 + seq * 13 + i);
	self->flow[f].ip_id = (uint16_t)seq;
	return vp_build_udp4(buf, self->mac,
			     self->from ? self->from_mac : self->c.nic.peer_mac,
			     &self->flow[f], pl, PLEN, NULL, NULL);
}

/* Flow and sequence of a received frame, or -1 if it is none of ours. */
static int mq_parse(const struct vg_net_rx *f, unsigned int *flow,
		    uint32_t *seq)
{
	const uint8_t *pl = f->data + VP_ETH_HLEN + 20 + 8;
	unsigned int i;

	if (f->len != VP_ETH_HLEN + 20 + 8 + PLEN || memcmp(pl, "MQ01", 4))
		return -1;
	*flow = 0;
	*seq = 0;
	for (i = 0; i < 4; i++) {
		*flow = *flow << 8 | pl[4 + i];
		*seq = *seq << 8 | pl[8 + i];
	}
	return *flow < NFLOW ? 0 : -1;
}

/*
 * Take every frame waiting at any running queue, check it and account it;
 * until @want frames came or nothing came for DP_WAIT_MS.
 */
static void mq_collect(struct __test_metadata *_metadata,
		       struct _test_data_mq *self, unsigned int want)
{
	uint64_t idle_since = vg_now_ms();
	unsigned int total = 0, q, fl;
	struct vg_net_rx f;
	uint8_t exp[256];
	uint32_t seq;
	size_t len;

	while (total < want) {
		bool any = false;

		for (q = 0; q < NQ; q++) {
			struct vg_net *g = &self->g[q];

			if (!self->up[q])
				continue;
			while (vg_net_rx_get(g, &f) == 0) {
				any = true;
				ASSERT_EQ(0, mq_parse(&f, &fl, &seq))
					TH_LOG("queue %u: a frame of %u bytes that is no flow frame",
					       q, f.len);
				len = mq_frame(self, exp, fl, seq);
				ASSERT_EQ(len, f.len);
				ASSERT_EQ(0, memcmp(exp, f.data, len))
					TH_LOG("flow %u seq %u: bytes differ", fl, seq);
				if (self->flow_q[fl] < 0)
					self->flow_q[fl] = (int)q;
				ASSERT_EQ(self->flow_q[fl], (int)q)
					TH_LOG("flow %u seq %u on queue %u, before on %d",
					       fl, seq, q, self->flow_q[fl]);
				ASSERT_EQ(self->flow_next[fl], seq)
					TH_LOG("flow %u: order (or a frame twice)", fl);
				self->flow_next[fl]++;
				self->got[q]++;
				total++;
			}
			ASSERT_EQ(0, g->err[0]) TH_LOG("queue %u: %s", q, g->err);
			ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nfree));
			ASSERT_LE(0, vg_net_rx_kick(g));
		}
		if (any) {
			idle_since = vg_now_ms();
			continue;
		}
		ASSERT_GT(idle_since + DP_WAIT_MS, vg_now_ms())
			TH_LOG("%u of %u frames arrived", total, want);
		vg_sleep_ms(2);
	}
}

/* Send the frame in c.tx from the peer or, through the VEB, a guest. */
static void mq_send(struct __test_metadata *_metadata,
		    struct _test_data_mq *self, size_t len)
{
	struct vg_net *g = self->from;

	if (!g) {
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, len));
		return;
	}
	ASSERT_LE(0, vg_net_tx(g, NULL, self->c.tx, (uint32_t)len, NULL));
	ASSERT_LE(0, vg_net_tx_kick(g));
	if (vg_vq_num_free(&g->d, VG_VQ_TX) < 4)
		ASSERT_EQ(0, vg_net_tx_drain(g, DP_WAIT_MS));
}

/*
 * One round: PER frames of every flow, interleaved, sent in batches the
 * posted buffers can take; then each running queue must have had at
 * least a tenth of the frames and nothing more may come.
 */
static void mq_round(struct __test_metadata *_metadata,
		     struct _test_data_mq *self)
{
	unsigned int k, fl, q, sent = 0;
	uint32_t base[NFLOW];

	memset(self->got, 0, sizeof(self->got));
	/* flow_next moves as frames arrive, in the middle of the round */
	memcpy(base, self->flow_next, sizeof(base));
	for (k = 0; k < PER; k++) {
		for (fl = 0; fl < NFLOW; fl++) {
			size_t len = mq_frame(self, self->c.tx, fl,
					      base[fl] + k);

			mq_send(_metadata, self, len);
			if (++sent % BATCH == 0)
				mq_collect(_metadata, self, BATCH);
		}
	}
	if (sent % BATCH)
		mq_collect(_metadata, self, sent % BATCH);
	for (q = 0; q < NQ; q++) {
		if (!self->up[q])
			continue;
		EXPECT_EQ(0, dp_guest_quiet(&self->g[q], q ? 20 : DP_QUIET_MS))
			TH_LOG("queue %u: a frame too many", q);
	}
	for (q = 0; q < NQ; q++) {
		fprintf(stderr, "# queue %u: %u frames\n", q, self->got[q]);
		if (!self->up[q]) {
			EXPECT_EQ(0U, self->got[q]);
			continue;
		}
		EXPECT_LE(sent / 10, self->got[q])
			TH_LOG("queue %u got %u of %u frames: spread degenerate",
			       q, self->got[q], sent);
	}
	for (fl = 0; fl < NFLOW; fl++)
		EXPECT_EQ(base[fl] + PER, self->flow_next[fl]);
}

static uint64_t mq_ethtool(struct __test_metadata *_metadata,
			   struct _test_data_mq *self, unsigned int slot,
			   const char *what)
{
	char name[64];
	uint64_t v = 0;

	snprintf(name, sizeof(name), "qp%u_%s", slot, what);
	EXPECT_EQ(0, vp_nic_ethtool_stat(&self->c.nic, name, &v))
		TH_LOG("ethtool -S %s: no %s", self->c.nic.name, name);
	return v;
}

/* Each running queue's Rx frames: NIC slot, device counters, our count. */
static void mq_expect_counts(struct __test_metadata *_metadata,
			     struct _test_data_mq *self, const uint64_t *want)
{
	unsigned int q;

	for (q = 0; q < NQ; q++) {
		if (!self->up[q])
			continue;
		EXPECT_EQ(want[q], dp_wait_stat(&self->g[q], VG_VQ_RX,
						DP_STAT_OFF(packets), want[q],
						2000)) TH_LOG("queue %u", q);
		if (!dp_vnic(&self->c))
			EXPECT_EQ(want[q],
				  mq_ethtool(_metadata, self, q, "rx_packets"))
				TH_LOG("ethtool qp%u_rx_packets", q);
		EXPECT_EQ(0ULL, dp_stat(&self->g[q], VG_VQ_RX,
					DP_STAT_OFF(drops_no_buf)));
	}
}

/* Every running queue sends TXPER test frames; all reach the peer. */
static void mq_tx_all(struct __test_metadata *_metadata,
		      struct _test_data_mq *self)
{
	unsigned int q, k, next[NQ] = { 0 }, total = 0, want = 0;
	char why[200];

	for (k = 0; k < TXPER; k++)
		for (q = 0; q < NQ; q++) {
			struct vg_net *g = &self->g[q];

			if (!self->up[q])
				continue;
			vp_test_frame(self->c.tx, 200, self->c.nic.peer_mac,
				      self->mac, 1000 * q + k);
			ASSERT_LE(0, vg_net_tx(g, NULL, self->c.tx, 200, NULL));
			ASSERT_LE(0, vg_net_tx_kick(g));
			if (vg_vq_num_free(&g->d, VG_VQ_TX) < 4)
				ASSERT_EQ(0, vg_net_tx_drain(g, DP_WAIT_MS));
			want++;
		}
	for (q = 0; q < NQ; q++)
		if (self->up[q])
			ASSERT_EQ(0, vg_net_tx_drain(&self->g[q], DP_WAIT_MS));
	while (total < want) {
		ssize_t n = vp_packet_recv(self->c.pkt, self->c.rx, DP_BUFSZ,
					   DP_WAIT_MS, NULL);
		uint32_t seq;

		ASSERT_EQ(200, n) TH_LOG("peer: %u of %u frames", total, want);
		ASSERT_EQ(0, vp_test_frame_check(self->c.rx, 200,
						 self->c.nic.peer_mac,
						 self->mac, &seq, why,
						 sizeof(why))) TH_LOG("%s", why);
		q = seq / 1000;
		ASSERT_GT(NQ, q);
		ASSERT_TRUE(self->up[q]);
		ASSERT_EQ(1000 * q + next[q], seq) TH_LOG("queue %u order", q);
		next[q]++;
		total++;
	}
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	for (q = 0; q < NQ; q++)
		if (self->up[q])
			EXPECT_EQ((unsigned int)TXPER, next[q]);
}

static void mq_expect_clean(struct __test_metadata *_metadata,
			    struct _test_data_mq *self)
{
	unsigned int q, v;

	for (q = 0; q < NQ; q++) {
		if (!self->up[q])
			continue;
		for (v = 0; v < VG_NVQS; v++) {
			EXPECT_EQ(0ULL, dp_stat(&self->g[q], v,
						DP_STAT_OFF(bytes_copied)));
			EXPECT_EQ(0ULL, dp_stat(&self->g[q], v,
						DP_STAT_OFF(errors)));
		}
	}
}

static void mq_close_all(struct __test_metadata *_metadata,
			 struct _test_data_mq *self)
{
	struct vg_net *gs[NQ];
	unsigned int q;

	for (q = 0; q < NQ; q++)
		gs[q] = &self->g[q];
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c, gs, NQ));
}

/*
 * "pool MAC qps N: slot/entries ..." of debugfs rss for our MAC: the
 * number of members, each with at least one entry, all entries summing
 * to the table size.  Returns N or -1.
 */
static int mq_rss_members(struct _test_data_mq *self)
{
	char buf[4096], want[64], *p, *line;
	unsigned int n, slot, ent, sum = 0, size = 0, i;
	int used;

	if (vp_nic_knob_read(&self->c.nic, "rss", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "indirection ");
	if (!p || sscanf(p, "indirection %u", &size) != 1)
		return -1;
	snprintf(want, sizeof(want), "pool %02x:%02x:%02x:%02x:%02x:%02x qps ",
		 self->mac[0], self->mac[1], self->mac[2], self->mac[3],
		 self->mac[4], self->mac[5]);
	line = strstr(buf, want);
	if (!line || sscanf(line + strlen(want), "%u:%n", &n, &used) != 1)
		return -1;
	p = line + strlen(want) + used;
	for (i = 0; i < n; i++) {
		if (sscanf(p, " %u/%u%n", &slot, &ent, &used) != 2 || !ent ||
		    slot >= NQ || !self->up[slot])
			return -1;
		sum += ent;
		p += used;
	}
	return sum == size ? (int)n : -1;
}

/*
 * On the virtio-net NIC: every queue pair of the device is lent, to our
 * MAC, and a fifth queue pair of the same MAC finds none free (EBUSY).
 */
static void mq_vnic_all_lent(struct __test_metadata *_metadata,
			     struct _test_data_mq *self)
{
	unsigned int lent = 0, max = 0;
	struct vg_net_cfg cfg;
	struct vg_net fifth;
	int r;

	ASSERT_EQ(0, dp_vnic_lent(&self->c, &lent, &max));
	EXPECT_EQ((unsigned int)NQ, lent);
	EXPECT_EQ((unsigned int)NQ, max) TH_LOG("run.sh gives the device %u queue pairs", NQ);
	memset(&fifth, 0, sizeof(fifth));
	mq_cfg(&cfg);
	r = vg_net_open(&fifth, VG_DEV_ACCEL, &cfg);
	ASSERT_EQ(0, r) TH_LOG("fifth guest: %s", dp_strerr(r));
	r = vg_net_bind(&fifth, self->c.nic.ifindex, self->mac, 0);
	EXPECT_EQ(-EBUSY, r) TH_LOG("a fifth queue pair: %s", dp_strerr(r));
	vg_net_close(&fifth);
}

/*
 * Rx spread over the pool, broadcast to one queue, counters, Tx from all
 * queues.
 */
TEST_F_TIMEOUT(mq, spread, 150)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned int q, k, bq = NQ, stray = 0;
	uint64_t want[NQ];
	struct vg_net_rx f;
	uint32_t seq;

	if (dp_vnic(&self->c))
		mq_vnic_all_lent(_metadata, self);
	else
		EXPECT_EQ(NQ, mq_rss_members(self))
			TH_LOG("debugfs rss of the pool");
	mq_round(_metadata, self);
	for (q = 0; q < NQ; q++)
		want[q] = self->got[q];
	mq_expect_counts(_metadata, self, want);

	/* broadcast (not IP: hash 0): once, at one queue of the pool */
	for (k = 0; k < 10; k++) {
		vp_test_frame(self->c.tx, 100, bcast, self->c.nic.peer_mac, k);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 100));
	}
	for (q = 0; q < NQ && bq == NQ; q++)
		if (!dp_guest_recv(&self->g[q], &f, q ? 200 : DP_WAIT_MS,
				   &stray))
			bq = q;
	ASSERT_GT(NQ, bq) TH_LOG("no queue got the broadcast frames");
	ASSERT_EQ(0, (int)vp_test_frame_seq(f.data, f.len));
	for (k = 1; k < 10; k++) {
		ASSERT_EQ(0, dp_guest_recv(&self->g[bq], &f, DP_WAIT_MS, &stray))
			TH_LOG("broadcast %u of 10 missing at queue %u", k, bq);
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, bcast, NULL,
						 &seq, self->why,
						 sizeof(self->why)));
		EXPECT_EQ(k, seq);
	}
	for (q = 0; q < NQ; q++)
		EXPECT_EQ(0, dp_guest_quiet(&self->g[q], q ? 20 : DP_QUIET_MS))
			TH_LOG("queue %u: broadcast delivered twice", q);
	EXPECT_EQ(0U, stray);

	mq_tx_all(_metadata, self);
	for (q = 0; q < NQ && !dp_vnic(&self->c); q++)
		EXPECT_EQ((uint64_t)TXPER, mq_ethtool(_metadata, self, q,
						      "tx_packets"));
	mq_expect_clean(_metadata, self);
	mq_close_all(_metadata, self);
}

/*
 * Queue 2 goes away between two rounds: the pool has three members, the
 * flows of the others keep their queue, the lost queue's flows move, and
 * nothing is lost or duplicated.
 */
TEST_F_TIMEOUT(mq, detach_one, 150)
{
	int before[NFLOW];
	unsigned int q, fl, moved = 0;
	uint64_t want[NQ];

	DP_SKIP_ON_VNIC(&self->c,
			"the device spreads over queue pairs 0..N-1: one in the middle cannot leave");
	mq_round(_metadata, self);
	memcpy(before, self->flow_q, sizeof(before));
	for (q = 0; q < NQ; q++)
		want[q] = self->got[q];

	if (variant->macvtap) {
		/* QEMU stopping a queue pair: SET_BACKEND -1 on both */
		ASSERT_EQ(0, vg_backend_stop(&self->g[2].d));
	} else {
		vg_net_close(&self->g[2]);
	}
	self->up[2] = false;
	EXPECT_EQ(NQ - 1, mq_rss_members(self))
		TH_LOG("debugfs rss after queue 2 left");
	for (fl = 0; fl < NFLOW; fl++)
		self->flow_q[fl] = -1;
	mq_round(_metadata, self);
	for (fl = 0; fl < NFLOW; fl++) {
		if (before[fl] == 2) {
			moved++;
			EXPECT_NE(2, self->flow_q[fl]);
			continue;
		}
		EXPECT_EQ(before[fl], self->flow_q[fl])
			TH_LOG("flow %u moved from queue %d to %d", fl,
			       before[fl], self->flow_q[fl]);
	}
	fprintf(stderr, "# %u flows moved off queue 2\n", moved);
	EXPECT_LT(0U, moved);
	for (q = 0; q < NQ; q++)
		want[q] += self->got[q];
	mq_expect_counts(_metadata, self, want);
	mq_tx_all(_metadata, self);
	mq_expect_clean(_metadata, self);
	mq_close_all(_metadata, self);
}

/*
 * Another guest (its own MAC, one queue pair) sends the flows to the
 * pool's MAC: the VEB spreads them over the pool as it does the wire's,
 * and nothing leaks to the wire.
 */
TEST_F_TIMEOUT(mq, from_guest, 150)
{
	struct vg_net_cfg cfg;
	struct vg_net other;
	struct vg_net *gs[NQ + 1];
	uint64_t wire0, wire1;
	unsigned int q;
	int r;

	DP_SKIP_ON_VNIC(&self->c, "one guest MAC at a time: no other guest");
	memset(&other, 0, sizeof(other));
	mq_cfg(&cfg);
	dp_guest_mac(self->from_mac, 1);
	r = dp_guest_up(&self->c, &other, &cfg, self->from_mac);
	ASSERT_EQ(0, r) TH_LOG("the other guest: %s", self->c.why);
	self->from = &other;
	ASSERT_EQ(0, vp_nic_ethtool_stat(&self->c.nic, "wire_tx_frames",
					 &wire0));
	mq_round(_metadata, self);
	EXPECT_EQ(0, vg_net_tx_drain(&other, DP_WAIT_MS));
	ASSERT_EQ(0, vp_nic_ethtool_stat(&self->c.nic, "wire_tx_frames",
					 &wire1));
	EXPECT_EQ(wire0, wire1) TH_LOG("frames for the pool leaked to the wire");
	EXPECT_EQ((uint64_t)NFLOW * PER,
		  dp_wait_stat(&other, VG_VQ_TX, DP_STAT_OFF(packets),
			       NFLOW * PER, 2000));
	mq_expect_clean(_metadata, self);
	for (q = 0; q < NQ; q++)
		gs[q] = &self->g[q];
	gs[NQ] = &other;
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c, gs, NQ + 1));
}

TEST_HARNESS_MAIN
