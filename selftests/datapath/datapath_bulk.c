// SPDX-License-Identifier: GPL-2.0
/*
 * Volume and backpressure through the accelerated datapath.
 *
 *  - 100 000 frames each way, nothing lost, duplicated or reordered, while
 *    buffers are available (Tx: the peer drains a socket with a large
 *    buffer and the sender keeps a bounded window; Rx: the peer sends no
 *    more than the buffers the NIC holds, read from the counters);
 *  - Rx depletion without flow control: exactly the frames that had a
 *    buffer arrive, the rest are counted as drops for lack of buffers;
 *  - Rx with flow control: the sender is held instead, nothing is lost;
 *  - a slow NIC (small ring, completion delay): Tx never drops.
 *
 * The fast path is vg_net_tx_burst() / vg_net_rx_burst(), the same calls
 * the benchmark uses.  VG_BULK_FRAMES=<n> overrides 100 000.
 *
 * The vnic_* variant runs on the VM's virtio-net NIC (virtio_net_accel),
 * with the expectations of a device that holds frames instead of dropping
 * them (Documentation/testing.rst, "The suite on the virtio-net NIC").
 */
#include <stdatomic.h>
#include <sys/socket.h>

#include "dptest.h"

#define BULK_FRAMES	100000
#define BULK_LEN	128
#define SEQ_OFF		VP_TEST_MIN_LEN	/* LE counter in the payload */
#define TX_WINDOW	4096		/* frames ahead of the peer reader */
#define TX_CHUNK	256
#define TX_BATCH	64
/*
 * The virtio-net NIC's frames cross the outer host's taps, whose queues
 * (1000 frames) drop what the far side's QEMU has not read yet: stay
 * within its ring (256) there.
 */
#define VNIC_TX_WINDOW	128

FIXTURE(bulk) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	uint8_t tmpl[BULK_LEN];
};

FIXTURE_VARIANT(bulk) {
	uint64_t features;
	unsigned int rx_buf_len;	/* 0: library default */
	unsigned int rx_buf_descs;
	struct dp_be be;		/* zero: nicsim */
};

FIXTURE_VARIANT_ADD(bulk, mrg_evidx) {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
};

FIXTURE_VARIANT_ADD(bulk, small_bufs_legacy) {
	/* 10-byte header, one 1536-byte descriptor per Rx buffer */
	.features = 0,
	.rx_buf_len = 1536,
	.rx_buf_descs = 1,
};

FIXTURE_VARIANT_ADD(bulk, indirect_evidx) {
	.features = DP_F_V1 | DP_F_IND | DP_F_EVIDX,
	.rx_buf_len = 1536,
	.rx_buf_descs = 2,
};

FIXTURE_VARIANT_ADD(bulk, vnic_mrg_evidx) {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
	.be = { .kind = DP_BE_VNIC },
};

static unsigned int bulk_frames(void)
{
	const char *e = getenv("VG_BULK_FRAMES");
	long n = e ? strtol(e, NULL, 0) : 0;

	return n > 0 && n <= 10000000 ? (unsigned int)n : BULK_FRAMES;
}

FIXTURE_SETUP(bulk)
{
	char why[256];
	int r;

	if (!dp_be_available(&variant->be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	dp_guest_mac(self->mac, 0);
	r = dp_ctx_init_be(&self->c, 'b', 0, &variant->be, variant->features);
	if (r) {
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(bulk)
{
	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
}

static void bulk_cfg(const struct _fixture_variant_bulk *v, struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->features = v->features;
	cfg->rx_buf_len = v->rx_buf_len;
	cfg->rx_buf_descs = v->rx_buf_descs;
	cfg->rx_indirect = v->features & DP_F_IND;
	cfg->tx_slot_len = 2048;
}

/* Guest bound with @_flags; @_post: all Rx buffers posted. */
#define GUEST_UP_FLAGS(_cfg, _flags, _post) do {			\
	int __r = bulk_guest_up(self, (_cfg), (_flags), (_post));	\
	ASSERT_EQ(0, __r) TH_LOG("%s", self->c.why);			\
} while (0)

static int bulk_guest_up(struct _test_data_bulk *self,
			 const struct vg_net_cfg *cfg, uint32_t flags,
			 bool post)
{
	int r;

	if (!flags && post)
		return dp_guest_up(&self->c, &self->g, cfg, self->mac);
	r = vg_net_open(&self->g, VG_DEV_ACCEL, cfg);
	if (r) {
		snprintf(self->c.why, sizeof(self->c.why), "guest: %s",
			 dp_strerr(r));
		return r;
	}
	r = vg_net_bind(&self->g, self->c.nic.ifindex, self->mac, flags);
	if (r) {
		snprintf(self->c.why, sizeof(self->c.why),
			 "SET_NIC flags %#x: %s%s", flags, dp_strerr(r),
			 dp_hint(r));
		return r;
	}
	r = vg_net_start(&self->g, -1);
	if (r)
		snprintf(self->c.why, sizeof(self->c.why), "SET_BACKEND: %s%s",
			 dp_strerr(r), dp_hint(r));
	return r;
}

/* Template: a test frame; bulk frames carry a LE counter at SEQ_OFF. */
static void make_tmpl(struct _test_data_bulk *self, const uint8_t *dst,
		      const uint8_t *src)
{
	vp_test_frame(self->tmpl, BULK_LEN, dst, src, 0);
}

/* 0 and the counter in *@seq if @f is the template with a counter. */
static int bulk_check(const uint8_t *tmpl, const uint8_t *f, size_t len,
		      uint32_t *seq)
{
	return vg_frame_seq_check(tmpl, BULK_LEN, SEQ_OFF, f, len, seq);
}

/* ---- guest -> peer ---- */

/* The peer's reader (vg_reader): the guest's frames, each in turn. */
struct peer_check {
	const uint8_t *tmpl;
	uint32_t next;		/* = frames in order so far */
	unsigned int bad_len, bad_data, bad_seq;
	uint32_t first_bad_seq, first_bad_want;
};

static int peer_check_fn(void *ctx, const uint8_t *f, size_t len)
{
	struct peer_check *pc = ctx;
	uint32_t seq;
	int r;

	r = vg_frame_seq_check(pc->tmpl, BULK_LEN, SEQ_OFF, f, len, &seq);
	if (r) {
		if (r == -EMSGSIZE)
			pc->bad_len++;
		else
			pc->bad_data++;
		return r;
	}
	if (seq != pc->next) {
		if (!pc->bad_seq++) {
			pc->first_bad_seq = seq;
			pc->first_bad_want = pc->next;
		}
		return -EBADMSG;
	}
	pc->next++;
	return 0;
}

/* Start reading the peer's socket until @want frames came in order. */
static int peer_reader_start(struct _test_data_bulk *self,
			     struct vg_reader *rd, struct peer_check *pc,
			     unsigned int want)
{
	memset(pc, 0, sizeof(*pc));
	pc->tmpl = self->tmpl;
	memset(rd, 0, sizeof(*rd));
	rd->fd = self->c.pkt;
	rd->check = peer_check_fn;
	rd->ctx = pc;
	rd->count = want;
	rd->idle_ms = 10000;
	return vg_reader_start(rd);
}

TEST_F_TIMEOUT(bulk, tx_100k, 120)
{
	const unsigned int want = bulk_frames();
	const unsigned int window = dp_vnic(&self->c) ? VNIC_TX_WINDOW :
							TX_WINDOW;
	struct peer_check pc;
	struct vg_reader pr;
	struct vg_net_cfg cfg;
	unsigned int sent = 0;
	uint64_t t0, ms;
	int r;

	bulk_cfg(variant, &cfg);
	GUEST_UP_FLAGS(&cfg, 0, true);
	make_tmpl(self, self->c.nic.peer_mac, self->mac);
	ASSERT_EQ(0, peer_reader_start(self, &pr, &pc, want));

	t0 = vg_now_ms();
	while (sent < want) {
		unsigned int chunk = want - sent < TX_CHUNK ? want - sent :
							      TX_CHUNK;

		if (chunk > window)
			chunk = window;

		if (sent - atomic_load(&pr.good) > window) {
			if (pr.err || vg_now_ms() - t0 > 100000)
				break;
			vg_net_tx_reap(&self->g);
			vg_sleep_ms(1);
			continue;
		}
		r = vg_net_tx_burst(&self->g, self->tmpl, BULK_LEN, sent,
				    SEQ_OFF, chunk, TX_BATCH, DP_WAIT_MS);
		if (r != (int)chunk)
			break;
		sent += chunk;
	}
	EXPECT_EQ(want, sent) TH_LOG("burst stopped: %s",
				     self->g.err[0] ? self->g.err : "timeout");
	EXPECT_EQ(0, vg_net_tx_drain(&self->g, DP_WAIT_MS));
	while (atomic_load(&pr.good) < want && !pr.err &&
	       vg_now_ms() - t0 < 110000)
		vg_sleep_ms(5);
	vg_reader_stop(&pr);
	ms = vg_now_ms() - t0;
	TH_LOG("%u frames of %u bytes guest -> peer in %llu ms (%llu frames/s)",
	       (unsigned int)atomic_load(&pr.good), BULK_LEN,
	       (unsigned long long)ms,
	       (unsigned long long)(ms ? atomic_load(&pr.good) * 1000ULL / ms : 0));
	EXPECT_EQ(0, pr.err);
	EXPECT_EQ(0U, pc.bad_len);
	EXPECT_EQ(0U, pc.bad_data);
	EXPECT_EQ(0U, pc.bad_seq)
		TH_LOG("first out of order: seq %u where %u was due",
		       pc.first_bad_seq, pc.first_bad_want);
	ASSERT_EQ(want, atomic_load(&pr.good));
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
		TH_LOG("a duplicate or extra frame reached the peer");

	EXPECT_EQ(want, dp_wait_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(packets),
				     want, 2000));
	EXPECT_EQ((uint64_t)want * BULK_LEN,
		  dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* ---- peer -> guest ---- */

struct rx_check {
	const uint8_t *tmpl;
	unsigned int got;
	unsigned int bad;
	char why[160];
};

static int rx_check_cb(void *ctx, const struct vg_net_rx *f)
{
	struct rx_check *rc = ctx;
	uint32_t seq;

	if (vp_test_frame_seq(f->data, f->len) < 0)
		return 0;	/* not ours */
	if (bulk_check(rc->tmpl, f->data, f->len, &seq)) {
		snprintf(rc->why, sizeof(rc->why),
			 "frame %u: %u bytes, content differs", rc->got, f->len);
		return -EBADMSG;
	}
	if (seq != rc->got) {
		snprintf(rc->why, sizeof(rc->why), "seq %u where %u was due",
			 seq, rc->got);
		return -EBADMSG;
	}
	if (f->hdr.hdr.flags || f->hdr.hdr.gso_type) {
		snprintf(rc->why, sizeof(rc->why), "header flags %#x gso %#x",
			 f->hdr.hdr.flags, f->hdr.hdr.gso_type);
		return -EBADMSG;
	}
	rc->got++;
	return 0;
}

/* Frames of @n the NIC can take now: buffers it holds minus in flight. */
static unsigned int nic_room(struct _test_data_bulk *self, unsigned int sent,
			     unsigned int got)
{
	uint64_t posted = dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted));
	uint64_t used = self->g.rx_bufs_used + (sent - got);

	return posted > used ? (unsigned int)(posted - used) : 0;
}

TEST_F_TIMEOUT(bulk, rx_100k, 120)
{
	const unsigned int want = bulk_frames();
	struct vg_net_cfg cfg;
	struct rx_check rc;
	unsigned int sent = 0, got, i, k, stray;
	void *bufs[64];
	size_t lens[64];
	uint64_t t0, ms, last;
	int r;

	bulk_cfg(variant, &cfg);
	GUEST_UP_FLAGS(&cfg, 0, true);
	make_tmpl(self, self->mac, self->c.nic.peer_mac);
	memset(&rc, 0, sizeof(rc));
	rc.tmpl = self->tmpl;
	for (i = 0; i < 64; i++) {
		bufs[i] = malloc(BULK_LEN);
		ASSERT_NE(NULL, bufs[i]);
		memcpy(bufs[i], self->tmpl, BULK_LEN);
		lens[i] = BULK_LEN;
	}

	t0 = last = vg_now_ms();
	while (rc.got < want) {
		unsigned int room = nic_room(self, sent, rc.got);

		k = want - sent;
		if (k > room)
			k = room;
		if (k > 64)
			k = 64;
		if (k) {
			for (i = 0; i < k; i++) {
				uint32_t s = htole32(sent + i);

				memcpy((uint8_t *)bufs[i] + SEQ_OFF, &s, 4);
			}
			r = vp_packet_send_many(&self->c.nic, self->c.pkt, bufs,
						lens, k);
			ASSERT_LT(0, r) TH_LOG("peer sendmmsg: %s",
					       dp_strerr(r));
			sent += (unsigned int)r;
		}
		got = rc.got;
		r = vg_net_rx_burst(&self->g, sent - rc.got, k ? 0 : 20,
				    rx_check_cb, &rc, NULL);
		ASSERT_EQ(0, r) TH_LOG("guest Rx: %s%s", rc.why,
				       r == -EIO ? self->g.err : "");
		if (rc.got != got)
			last = vg_now_ms();
		ASSERT_GT(5000, vg_now_ms() - last)
			TH_LOG("stuck: %u of %u sent, %u received, NIC room %u",
			       sent, want, rc.got, nic_room(self, sent, rc.got));
	}
	ms = vg_now_ms() - t0;
	TH_LOG("%u frames of %u bytes peer -> guest in %llu ms (%llu frames/s)",
	       rc.got, BULK_LEN, (unsigned long long)ms,
	       (unsigned long long)(ms ? rc.got * 1000ULL / ms : 0));
	stray = 0;
	EXPECT_EQ(0, dp_guest_quiet(&self->g, DP_QUIET_MS));
	EXPECT_EQ(want, dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(packets),
				     want, 2000));
	EXPECT_EQ((uint64_t)want * BULK_LEN,
		  dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(drops_no_buf)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
	EXPECT_EQ(0U, stray);
	for (i = 0; i < 64; i++)
		free(bufs[i]);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* Wait until the NIC holds @n guest buffers (counter bufs_posted). */
static int wait_posted(struct _test_data_bulk *self, uint64_t n)
{
	return dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted), n,
			    DP_WAIT_MS) == n ? 0 : -1;
}

/*
 * No flow control: 16 buffers posted, 100 frames sent.  Exactly the first
 * 16 arrive, 84 are dropped for lack of buffers (counted), and after the
 * guest posts again traffic flows again.
 *
 * The virtio-net NIC drops nothing: its device holds the 84 (QEMU stops
 * reading its tap while no buffer is posted; 100 frames fit the tap's
 * queue), so none is counted and they arrive, in order, after the refill.
 */
TEST_F_TIMEOUT(bulk, rx_depletion_drops, 60)
{
	const unsigned int posted = 16, burst = 100;
	const bool held = dp_vnic(&self->c);
	const uint64_t dropped = held ? 0 : burst - posted;
	struct vg_net_cfg cfg;
	struct vg_net_rx f;
	unsigned int i;
	uint32_t seq;
	char why[160];

	bulk_cfg(variant, &cfg);
	GUEST_UP_FLAGS(&cfg, 0, false);
	ASSERT_EQ(posted, (unsigned int)vg_net_rx_fill(&self->g, posted));
	ASSERT_LE(0, vg_net_rx_kick(&self->g));
	ASSERT_EQ(0, wait_posted(self, posted))
		TH_LOG("the NIC never got the %u buffers", posted);

	for (i = 0; i < burst; i++) {
		vp_test_frame(self->c.tx, 200, self->mac, self->c.nic.peer_mac, i);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 200));
	}
	for (i = 0; i < posted; i++) {
		ASSERT_EQ(0, vg_net_rx_wait(&self->g, &f, DP_WAIT_MS))
			TH_LOG("frame %u of %u with a buffer missing", i, posted);
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, self->mac, NULL,
						 &seq, why, sizeof(why)))
			TH_LOG("%s", why);
		ASSERT_EQ(i, seq);
	}
	EXPECT_EQ(0, dp_guest_quiet(&self->g, DP_QUIET_MS));
	EXPECT_EQ(dropped,
		  dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(drops_no_buf),
			       dropped, held ? DP_QUIET_MS : 2000));
	EXPECT_LE(1ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(depletions)));
	EXPECT_EQ(posted, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(packets)));
	/* the guest had nothing left to post: saturated (backpressure.rst) */
	EXPECT_EQ(1ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(saturations)));
	EXPECT_LT(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(saturated_ns)));

	/* buffers again: traffic again */
	ASSERT_LE(0, vg_net_rx_fill(&self->g, self->g.rx_nfree));
	ASSERT_LE(0, vg_net_rx_kick(&self->g));
	ASSERT_EQ(0, wait_posted(self, posted + self->g.rx_nbufs));
	/* the held frames first, in order */
	if (held)
		ASSERT_EQ(0, dp_guest_expect_seq(&self->g, self->mac, posted,
						 burst, why, sizeof(why)))
			TH_LOG("held frames: %s", why);
	for (i = 0; i < 10; i++) {
		vp_test_frame(self->c.tx, 200, self->mac, self->c.nic.peer_mac,
			      1000 + i);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 200));
		ASSERT_EQ(0, dp_guest_recv(&self->g, &f, DP_WAIT_MS, NULL));
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, self->mac, NULL,
						 &seq, why, sizeof(why)))
			TH_LOG("%s", why);
		ASSERT_EQ(1000 + i, seq);
	}
	EXPECT_EQ(dropped,
		  dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(drops_no_buf)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * Flow control: the NIC holds the sender instead of dropping.  The guest
 * posts 16 buffers at a time; the peer sends 2000 frames, retrying while
 * its queue is full.  All arrive, in order; no drop is counted.
 */
TEST_F_TIMEOUT(bulk, rx_flow_control, 90)
{
	const unsigned int total = 2000, step = 16;
	struct vg_net_cfg cfg;
	struct vg_net_rx f;
	unsigned int sent = 0, got = 0, retries = 0;
	uint64_t last;
	int fd;
	uint32_t seq;
	char why[160];
	int r;

	bulk_cfg(variant, &cfg);
	GUEST_UP_FLAGS(&cfg, VHOST_ACCEL_BIND_F_FLOW_CONTROL, false);
	/* a held queue must fail our sends, not fill a qdisc */
	fd = vp_packet_open(&self->c.nic, VP_ETH_P_TEST, VP_PKT_QDISC_BYPASS);
	ASSERT_LE(0, fd);
	last = vg_now_ms();
	while (got < total) {
		/* the peer pushes as hard as it can */
		while (sent < total) {
			vp_test_frame(self->c.tx, 200, self->mac,
				      self->c.nic.peer_mac, sent);
			r = vp_packet_send(&self->c.nic, fd, self->c.tx, 200);
			if (r == -ENOBUFS || r == -EAGAIN) {
				retries++;
				break;
			}
			ASSERT_EQ(0, r) TH_LOG("peer send: %s", dp_strerr(r));
			sent++;
			if (sent - got > 4 * step)
				break;
		}
		/* the guest trickles buffers */
		if (vg_net_rx_posted(&self->g) < step) {
			ASSERT_LE(0, vg_net_rx_fill(&self->g, step));
			ASSERT_LE(0, vg_net_rx_kick(&self->g));
		}
		while (!(r = vg_net_rx_wait(&self->g, &f, 10))) {
			ASSERT_EQ(0, vp_test_frame_check(f.data, f.len,
							 self->mac, NULL, &seq,
							 why, sizeof(why)))
				TH_LOG("%s", why);
			ASSERT_EQ(got, seq) TH_LOG("lost or reordered");
			got++;
			last = vg_now_ms();
		}
		ASSERT_EQ(-ETIMEDOUT, r) TH_LOG("%s", self->g.err);
		if (vg_now_ms() - last >= 5000) {
			char qps[1024] = "";

			vp_nic_knob_read(&self->c.nic, "qps", qps, sizeof(qps));
			TH_LOG("stuck at %u of %u (sent %u, %u buffers posted, NIC holds %llu); debugfs qps:\n%s",
			       got, total, sent, vg_net_rx_posted(&self->g),
			       (unsigned long long)(dp_stat(&self->g, VG_VQ_RX,
							   DP_STAT_OFF(bufs_posted)) -
						    self->g.rx_bufs_used),
			       qps);
			ASSERT_TRUE(false);
		}
	}
	close(fd);
	TH_LOG("%u frames, sender held back %u times", got, retries);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(drops_no_buf)));
	EXPECT_EQ(total, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(packets)));
	EXPECT_LE(1ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(depletions)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * A slow NIC (8-entry ring, 500 us to complete): the guest's ring fills
 * and waits, nothing is dropped, everything arrives in order.
 */
TEST_F_TIMEOUT(bulk, tx_slow_nic, 90)
{
	const unsigned int total = 3000;
	struct peer_check pc;
	struct vg_reader pr;
	struct vg_net_cfg cfg;
	int r;

	/* the device's ring size and timing are the outer QEMU's */
	DP_SKIP_ON_VNIC(&self->c, "no ring_size or completion_delay_us knob");
	ASSERT_EQ(0, vp_nic_knob_write(&self->c.nic, "ring_size", "8"))
		TH_LOG("debugfs nicsim/%s/ring_size", self->c.nic.name);
	ASSERT_EQ(0, vp_nic_knob_write(&self->c.nic, "completion_delay_us",
				       "500"));
	bulk_cfg(variant, &cfg);
	/* no Rx buffers: an 8-entry NIC ring takes only 8 anyway */
	GUEST_UP_FLAGS(&cfg, 0, false);
	make_tmpl(self, self->c.nic.peer_mac, self->mac);
	ASSERT_EQ(0, peer_reader_start(self, &pr, &pc, total));
	r = vg_net_tx_burst(&self->g, self->tmpl, BULK_LEN, 0, SEQ_OFF, total,
			    TX_BATCH, DP_WAIT_MS);
	EXPECT_EQ((int)total, r) TH_LOG("%s", self->g.err);
	EXPECT_EQ(0, vg_net_tx_drain(&self->g, DP_WAIT_MS));
	while (atomic_load(&pr.good) < total && !pr.err)
		vg_sleep_ms(5);
	vg_reader_stop(&pr);
	EXPECT_EQ(0, pr.err);
	EXPECT_EQ(0U, pc.bad_seq + pc.bad_data + pc.bad_len);
	ASSERT_EQ(total, atomic_load(&pr.good));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(total, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(packets)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_HARNESS_MAIN
