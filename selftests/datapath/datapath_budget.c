// SPDX-License-Identifier: GPL-2.0
/*
 * The worker's per-run budget (Documentation/datapath.rst, "Worker
 * budget"), and the ring index a stopped queue reports.
 *
 * Fixture "spin": a guest that keeps its avail ring a full ring (1024
 * entries) ahead with chains the datapath gives straight back, re-posting
 * each one as soon as it comes back used.  Variants: Tx chains that are
 * only a virtio-net header, Tx and Rx chains with more segments than the
 * NIC scatters (100 entries of an indirect table), Rx chains smaller than
 * the virtio-net header (a guest error: the queue stops).
 *
 *   - one_run_bounded: no worker run takes more than the budget's 256
 *     chains (stats run_chains_max), runs end by the budget and are
 *     requeued (budget_yields), every chain comes back exactly once;
 *   - stats_meanwhile: the same guest for 10 s while another thread calls
 *     VHOST_ACCEL_GET_STATS every 20 ms: every call answers within 200 ms
 *     (the runner fails a soft lockup in dmesg).
 *
 * Fixture "unget": chains the NIC returns unused (SET_BACKEND -1 reclaims
 * the posted Rx buffers) interleaved with chains that went back to the
 * guest straight away, the NIC's 8-entry ring full.  Afterwards
 * VHOST_GET_VRING_BASE must be what the guest saw consumed: every chain
 * before it used exactly once, none after it; a restart carries on at
 * exactly that entry.  The Tx variant interleaves header-only chains with
 * frames the NIC holds (1 s completion delay), and the NIC's xmit takes at
 * most 2 buffers a call (knob xmit_accept_max) although its ring has room:
 * the datapath gives back what xmit refused between chains it already
 * returned to the guest.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "dptest.h"

/* Documentation/datapath.rst: chains one run may take. */
#define BUDGET_CHAINS	256
#define NUM		1024	/* the spinning guest's ring */
#define SEGS		100	/* > the NIC's 64 segments */
#define XMEM		(256 * 1024)
#define SPIN_MS		10000	/* stats_meanwhile */
#define STATS_EVERY_MS	20
#define STATS_MAX_MS	200

enum shape {
	TX_HDR_ONLY,
	TX_OVER_SEGS,
	RX_OVER_SEGS,
	RX_TOO_SMALL,
};

FIXTURE(spin) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	uint64_t xgpa;		/* spare guest memory */
	uint8_t *xhva;
	uint16_t last_used;	/* next used entry of the raw queue */
	uint64_t returned;	/* used entries seen */
	uint64_t bad_len;	/* used entries with a length */
};

FIXTURE_VARIANT(spin) {
	unsigned int q;
	enum shape shape;
};

FIXTURE_VARIANT_ADD(spin, tx_header_only) {
	.q = VG_VQ_TX,
	.shape = TX_HDR_ONLY,
};

FIXTURE_VARIANT_ADD(spin, tx_over_max_segs) {
	.q = VG_VQ_TX,
	.shape = TX_OVER_SEGS,
};

FIXTURE_VARIANT_ADD(spin, rx_over_max_segs) {
	.q = VG_VQ_RX,
	.shape = RX_OVER_SEGS,
};

FIXTURE_VARIANT_ADD(spin, rx_too_small) {
	.q = VG_VQ_RX,
	.shape = RX_TOO_SMALL,
};

/* An indirect table of SEGS 16-byte entries at the start of spare memory. */
static void seg_table(struct _test_data_spin *self, bool write)
{
	struct vring_desc *t = (struct vring_desc *)self->xhva;
	uint64_t data = self->xgpa + 16384;
	uint16_t w = write ? VRING_DESC_F_WRITE : 0;
	unsigned int i;

	for (i = 0; i < SEGS; i++)
		vg_desc_set(&t[i], data + 16 * i, 16,
			 w | (i + 1 < SEGS ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)(i + 1));
}

/* Every descriptor of queue @q becomes one chain of @shape; publish all. */
static int spin_fill(struct _test_data_spin *self, unsigned int q,
		     enum shape shape)
{
	struct vg_dev *d = &self->g.d;
	struct vg_vq *vq = &d->vq[q];
	uint64_t data = self->xgpa + 16384;
	uint16_t ids[NUM];
	unsigned int i;
	int r;

	r = vg_vq_take_descs(d, q, NUM, ids);
	if (r)
		return r;
	if (shape == TX_OVER_SEGS || shape == RX_OVER_SEGS)
		seg_table(self, shape == RX_OVER_SEGS);
	for (i = 0; i < NUM; i++) {
		struct vring_desc *desc = &vq->desc[ids[i]];

		switch (shape) {
		case TX_HDR_ONLY:
			vg_desc_set(desc, data, self->g.hdr_len, 0, 0);
			break;
		case TX_OVER_SEGS:
		case RX_OVER_SEGS:
			vg_desc_set(desc, self->xgpa,
				 SEGS * sizeof(struct vring_desc),
				 VRING_DESC_F_INDIRECT, 0);
			break;
		case RX_TOO_SMALL:
			vg_desc_set(desc, data, 4, VRING_DESC_F_WRITE, 0);
			break;
		}
	}
	for (i = 0; i < NUM; i++) {
		r = vg_vq_publish_raw(d, q, ids[i]);
		if (r)
			return r;
	}
	return vg_vq_kick(d, q);
}

/* Publish again whatever came back used; kick once.  How many. */
static unsigned int spin_recycle(struct _test_data_spin *self, unsigned int q)
{
	struct vg_dev *d = &self->g.d;
	struct vg_vq *vq = &d->vq[q];
	uint16_t u = vg_vq_used_idx(d, q);
	unsigned int n = 0;

	while (self->last_used != u) {
		struct vring_used_elem *e;

		e = &vq->used->ring[self->last_used & (NUM - 1)];
		if (e->len)
			self->bad_len++;
		vg_vq_publish_raw(d, q, (uint16_t)le32toh(e->id));
		self->last_used++;
		n++;
	}
	self->returned += n;
	if (n)
		vg_vq_kick(d, q);
	return n;
}

/*
 * Open a guest with rings of @num entries on the fixture's NIC, bind and
 * start it, and take its spare memory (*@xgpa, *@xhva).  On failure
 * @c->why says what failed.
 */
static int guest_up(struct dp_ctx *c, struct vg_net *g, const uint8_t *mac,
		    unsigned int num, uint64_t *xgpa, uint8_t **xhva)
{
	struct vg_net_cfg cfg;
	void *hva;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.features = DP_F_V1 | DP_F_MRG | DP_F_IND;
	cfg.rx_num = num;
	cfg.tx_num = num;
	cfg.rx_bufs = 8;
	cfg.tx_slots = 8;
	cfg.extra_mem = XMEM;
	r = vg_net_open(g, VG_DEV_ACCEL, &cfg);
	if (r) {
		snprintf(c->why, sizeof(c->why), "guest: %s", dp_strerr(r));
		return r;
	}
	r = vg_net_bind(g, c->nic.ifindex, mac, 0);
	if (!r)
		r = vg_net_start(g, -1);
	if (r) {
		snprintf(c->why, sizeof(c->why), "bind/start: %s%s",
			 dp_strerr(r), dp_hint(r));
		return r;
	}
	r = vg_mem_alloc(&g->d, XMEM - 8192, 4096, xgpa, &hva);
	if (r) {
		snprintf(c->why, sizeof(c->why), "spare memory: %s",
			 dp_strerr(r));
		return r;
	}
	*xhva = hva;
	return 0;
}

/*
 * The end of a fixture's set-up, the NIC ready unless @r: the guest up
 * with rings of @num entries and its spare memory cleared, or all of it
 * released and the case failed with what went wrong.
 */
static void fixture_guest_up(struct __test_metadata *_metadata,
			     struct dp_ctx *c, struct vg_net *g,
			     const uint8_t *mac, unsigned int num,
			     uint64_t *xgpa, uint8_t **xhva, int r)
{
	if (!r)
		r = guest_up(c, g, mac, num, xgpa, xhva);
	if (r) {
		vg_net_close(g);
		dp_ctx_fini(c);
		ASSERT_EQ(0, r) TH_LOG("%s", c->why);
	}
	memset(*xhva, 0, XMEM - 8192);
}

FIXTURE_SETUP(spin)
{
	int r;

	dp_guest_mac(self->mac, 0);
	r = dp_ctx_init(&self->c, 'b', 0);
	fixture_guest_up(_metadata, &self->c, &self->g, self->mac, NUM,
			 &self->xgpa, &self->xhva, r);
}

FIXTURE_TEARDOWN(spin)
{
	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
}

static uint64_t spin_stat(struct _test_data_spin *self, unsigned int q,
			  size_t off)
{
	return dp_stat(&self->g, q, off);
}

/* The queue broke (RX_TOO_SMALL): the guest error, once, nothing used. */
static void spin_check_broken(struct __test_metadata *_metadata,
			      struct _test_data_spin *self, unsigned int q)
{
	ASSERT_EQ(0, vg_vq_wait_err(&self->g.d, q, DP_WAIT_MS))
		TH_LOG("chains smaller than the header: no error eventfd");
	EXPECT_EQ(1ULL, spin_stat(self, q, DP_STAT_OFF(errors)));
	EXPECT_EQ(0, vg_vq_used_idx(&self->g.d, q));
	EXPECT_GE((uint64_t)BUDGET_CHAINS,
		  spin_stat(self, q, DP_STAT_OFF(run_chains_max)));
}

/*
 * Wait until every published chain came back (the guest stopped
 * re-posting): used idx == avail idx.
 */
static int spin_settle(struct _test_data_spin *self, unsigned int q)
{
	uint64_t deadline = vg_now_ms() + DP_WAIT_MS;
	struct vg_vq *vq = &self->g.d.vq[q];

	while (vg_vq_used_idx(&self->g.d, q) != vq->avail_idx) {
		if (vg_now_ms() > deadline)
			return -ETIMEDOUT;
		vg_sleep_ms(5);
	}
	return 0;
}

/* After the guest stopped: counters add up, the queue is healthy. */
static void spin_check_done(struct __test_metadata *_metadata,
			    struct _test_data_spin *self,
			    const struct _fixture_variant_spin *variant)
{
	unsigned int q = variant->q;
	uint64_t published, max, dbg;
	struct vhost_accel_stats st;

	ASSERT_EQ(0, spin_settle(self, q))
		TH_LOG("used idx %u, avail idx %u: chains not given back",
		       vg_vq_used_idx(&self->g.d, q),
		       self->g.d.vq[q].avail_idx);
	spin_recycle(self, q);
	ASSERT_EQ(0, spin_settle(self, q));
	/* every entry published was taken and returned once */
	published = self->returned + NUM;
	ASSERT_EQ(0, vg_get_stats(&self->g.d, &st));
	max = st.vq[q].run_chains_max;
	TH_LOG("%s: %llu chains returned, run_chains_max %llu, budget_yields %llu",
	       q == VG_VQ_TX ? "Tx" : "Rx",
	       (unsigned long long)published, (unsigned long long)max,
	       (unsigned long long)st.vq[q].budget_yields);
	EXPECT_GE((uint64_t)BUDGET_CHAINS, max)
		TH_LOG("one worker run took %llu chains (budget %u)",
		       (unsigned long long)max, BUDGET_CHAINS);
	EXPECT_LT(0ULL, max);
	/*
	 * The first run found a full ring, 4 budgets' worth: at least 3 runs
	 * were cut short (later ones may find the ring emptier: the guest
	 * need not outrun the worker).
	 */
	EXPECT_LE((uint64_t)(NUM / BUDGET_CHAINS - 1), st.vq[q].budget_yields);
	/* debugfs shows the same two counters (the queue is idle now) */
	ASSERT_EQ(0, vg_debugfs_counter(getpid(), q == VG_VQ_TX ?
					"tx_run_chains_max" :
					"rx_run_chains_max", &dbg));
	EXPECT_EQ(max, dbg);
	ASSERT_EQ(0, vg_debugfs_counter(getpid(), q == VG_VQ_TX ?
					"tx_budget_yields" :
					"rx_budget_yields", &dbg));
	EXPECT_EQ(st.vq[q].budget_yields, dbg);
	EXPECT_EQ(0ULL, self->bad_len);
	EXPECT_EQ(0ULL, st.vq[q].errors);
	EXPECT_EQ(0ULL, st.vq[q].packets);
	EXPECT_EQ(0ULL, st.vq[q].bufs_posted);
	EXPECT_EQ(variant->shape == TX_HDR_ONLY ? 0 : published,
		  st.vq[q].drops_too_big);
	EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, q, 0));
	EXPECT_EQ(0, vg_net_stop(&self->g));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_F_TIMEOUT(spin, one_run_bounded, 60)
{
	unsigned int q = variant->q;
	uint64_t deadline;

	ASSERT_EQ(0, spin_fill(self, q, variant->shape));
	if (variant->shape == RX_TOO_SMALL) {
		spin_check_broken(_metadata, self, q);
		return;
	}
	/* keep a full ring ahead for 8 rings' worth of chains */
	deadline = vg_now_ms() + DP_WAIT_MS * 4;
	while (self->returned < 8 * NUM && vg_now_ms() < deadline)
		if (!spin_recycle(self, q))
			sched_yield();
	ASSERT_LE(8ULL * NUM, self->returned)
		TH_LOG("only %llu chains came back",
		       (unsigned long long)self->returned);
	spin_check_done(_metadata, self, variant);
}

struct stats_poller {
	struct vg_dev *d;
	atomic_bool stop;
	unsigned int calls, slow, failed;
	uint64_t max_ms;
	/*
	 * The same for VHOST_GET_FEATURES, which takes no lock: how long the
	 * VM itself keeps this thread waiting (not a bound, a yardstick).
	 */
	uint64_t max_nolock_ms;
};

static void *stats_poll_fn(void *arg)
{
	struct stats_poller *p = arg;
	struct vhost_accel_stats st;
	uint64_t features;

	while (!atomic_load(&p->stop)) {
		uint64_t t0 = vg_now_ms(), dt;

		if (vg_get_stats(p->d, &st))
			p->failed++;
		dt = vg_now_ms() - t0;
		p->calls++;
		if (dt > p->max_ms)
			p->max_ms = dt;
		if (dt >= STATS_MAX_MS)
			p->slow++;
		t0 = vg_now_ms();
		vg_get_features(p->d, &features);
		dt = vg_now_ms() - t0;
		if (dt > p->max_nolock_ms)
			p->max_nolock_ms = dt;
		vg_sleep_ms(STATS_EVERY_MS);
	}
	return NULL;
}

TEST_F_TIMEOUT(spin, stats_meanwhile, 90)
{
	struct stats_poller p = { .d = &self->g.d };
	unsigned int q = variant->q;
	uint64_t end;
	pthread_t th;

	if (variant->shape == RX_TOO_SMALL)
		SKIP(return, "the queue stops at the first chain: nothing spins");
	ASSERT_EQ(0, pthread_create(&th, NULL, stats_poll_fn, &p));
	ASSERT_EQ(0, spin_fill(self, q, variant->shape));
	end = vg_now_ms() + SPIN_MS;
	while (vg_now_ms() < end)
		if (!spin_recycle(self, q))
			sched_yield();
	atomic_store(&p.stop, true);
	pthread_join(th, NULL);
	TH_LOG("%u GET_STATS calls in %u s, slowest %llu ms (GET_FEATURES, no lock: %llu ms); %llu chains returned",
	       p.calls, SPIN_MS / 1000, (unsigned long long)p.max_ms,
	       (unsigned long long)p.max_nolock_ms,
	       (unsigned long long)self->returned);
	EXPECT_EQ(0U, p.failed);
	EXPECT_EQ(0U, p.slow)
		TH_LOG("%u calls took %u ms or more (slowest %llu ms)", p.slow,
		       STATS_MAX_MS, (unsigned long long)p.max_ms);
	/* 500 at most; the VM's timer slack and load take some */
	EXPECT_LE(SPIN_MS / STATS_EVERY_MS / 10, p.calls);
	/* the guest was served meanwhile */
	EXPECT_LT((uint64_t)NUM, self->returned);
	spin_check_done(_metadata, self, variant);
}

/* ---- unget: GET_VRING_BASE after returned and reclaimed chains ---- */

/* indirect tables of SEGS entries need a ring at least that large */
#define UNUM		128
#define UCHAINS		16	/* Tx pattern length; Rx uses 9 */
#define ULEN		200
#define UBUF		2048
#define UACCEPT		"2"	/* Tx: buffers the NIC's xmit takes a call */
#define UKICK_MS	10	/* Tx: kick again while the NIC takes more */

FIXTURE(unget) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	uint64_t xgpa;
	uint8_t *xhva;
	uint16_t order[UCHAINS];	/* heads in avail order */
	unsigned int n;			/* published */
};

FIXTURE_VARIANT(unget) {
	unsigned int q;
};

FIXTURE_VARIANT_ADD(unget, rx) {
	.q = VG_VQ_RX,
};

FIXTURE_VARIANT_ADD(unget, tx) {
	.q = VG_VQ_TX,
};

FIXTURE_SETUP(unget)
{
	int r;

	dp_guest_mac(self->mac, 0);
	r = dp_ctx_init(&self->c, 'u', 0);
	/*
	 * The NIC holds 8 buffers; Tx completions take a second, and xmit
	 * takes at most UACCEPT buffers a call.
	 */
	if (!r && vp_nic_knob_write(&self->c.nic, "ring_size", "8"))
		r = -EIO;
	if (!r && variant->q == VG_VQ_TX &&
	    (vp_nic_knob_write(&self->c.nic, "completion_delay_us", "1000000") ||
	     vp_nic_knob_write(&self->c.nic, "xmit_accept_max", UACCEPT)))
		r = -EIO;
	if (r && !self->c.why[0])
		snprintf(self->c.why, sizeof(self->c.why), "nicsim knobs: %s",
			 self->c.nic.err);
	fixture_guest_up(_metadata, &self->c, &self->g, self->mac, UNUM,
			 &self->xgpa, &self->xhva, r);
}

FIXTURE_TEARDOWN(unget)
{
	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
}

/* Guest memory of the i-th buffer (Rx) or frame (Tx). */
static uint64_t ubuf_gpa(struct _test_data_unget *self, unsigned int i)
{
	return self->xgpa + 16384 + (uint64_t)i * UBUF;
}

static uint8_t *ubuf_hva(struct _test_data_unget *self, unsigned int i)
{
	return self->xhva + 16384 + (size_t)i * UBUF;
}

/* Position of @head in avail order, or -1. */
static int upos(const struct _test_data_unget *self, uint32_t head)
{
	unsigned int i;

	for (i = 0; i < self->n; i++)
		if (self->order[i] == head)
			return (int)i;
	return -1;
}

/*
 * The stopped queue's GET_VRING_BASE against its used ring: exactly the
 * chains before the base were used, each once.  Returns the base.
 */
static unsigned int ucheck_base(struct __test_metadata *_metadata,
				struct _test_data_unget *self, unsigned int q)
{
	struct vg_vq *vq = &self->g.d.vq[q];
	bool seen[UCHAINS] = { false };
	unsigned int base = ~0U, i;
	uint16_t used;
	int pos;

	EXPECT_EQ(0, vg_get_vring_base(&self->g.d, q, &base));
	used = vg_vq_used_idx(&self->g.d, q);
	TH_LOG("%s: %u chains published, %u used, GET_VRING_BASE %u",
	       q == VG_VQ_TX ? "Tx" : "Rx", self->n, used, base);
	EXPECT_GE(self->n, base);
	EXPECT_EQ(base, (unsigned int)used)
		TH_LOG("the guest saw %u chains used, the device says %u consumed",
		       used, base);
	for (i = 0; i < used && i < UCHAINS; i++) {
		uint32_t id = le32toh(vq->used->ring[i].id);

		pos = upos(self, id);
		EXPECT_LE(0, pos) TH_LOG("used entry %u: head %u never published",
					 i, id);
		if (pos < 0)
			continue;
		EXPECT_GT(base, (unsigned int)pos)
			TH_LOG("used entry %u: head %u (avail entry %d) is at or after the base %u: it will be taken again",
			       i, id, pos, base);
		EXPECT_FALSE(seen[pos])
			TH_LOG("head %u (avail entry %d) used twice", id, pos);
		seen[pos] = true;
	}
	return base;
}

/*
 * Rx: 4 buffers the NIC takes, a chain of 100 segments that goes straight
 * back, 4 more buffers the NIC takes (its ring is now full).  SET_BACKEND
 * -1 reclaims the 8 posted buffers unused.
 */
static void unget_rx(struct __test_metadata *_metadata,
		     struct _test_data_unget *self)
{
	struct vg_dev *d = &self->g.d;
	struct vg_vq *vq = &d->vq[VG_VQ_RX];
	struct vring_desc *t = (struct vring_desc *)self->xhva;
	uint64_t posted0, posted, deadline;
	unsigned int base, i;
	uint16_t used;
	uint32_t id, len;

	self->n = 9;
	ASSERT_EQ(0, vg_vq_take_descs(d, VG_VQ_RX, self->n, self->order));
	for (i = 0; i < SEGS; i++)
		vg_desc_set(&t[i], self->xgpa + 4096 + 16 * i, 16,
			 VRING_DESC_F_WRITE |
			 (i + 1 < SEGS ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)(i + 1));
	for (i = 0; i < self->n; i++) {
		struct vring_desc *desc = &vq->desc[self->order[i]];

		if (i == 4)
			vg_desc_set(desc, self->xgpa,
				 SEGS * sizeof(struct vring_desc),
				 VRING_DESC_F_INDIRECT, 0);
		else
			vg_desc_set(desc, ubuf_gpa(self, i), UBUF,
				 VRING_DESC_F_WRITE, 0);
	}
	for (i = 0; i < self->n; i++)
		ASSERT_EQ(0, vg_vq_publish_raw(d, VG_VQ_RX, self->order[i]));
	ASSERT_EQ(0, vg_vq_kick(d, VG_VQ_RX));
	EXPECT_EQ(8ULL, dp_wait_stat(&self->g, VG_VQ_RX,
				     DP_STAT_OFF(bufs_posted), 8, DP_WAIT_MS));
	EXPECT_EQ(1ULL, dp_wait_stat(&self->g, VG_VQ_RX,
				     DP_STAT_OFF(drops_too_big), 1, DP_WAIT_MS));
	ASSERT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
	ASSERT_EQ(0, vg_net_stop(&self->g));
	base = ucheck_base(_metadata, self, VG_VQ_RX);
	used = vg_vq_used_idx(d, VG_VQ_RX);
	for (i = 0; i < used; i++)
		EXPECT_EQ(0U, le32toh(vq->used->ring[i].len));
	ASSERT_GT(self->n, base);

	/* a restart posts the rest again; a frame lands at the base */
	posted0 = dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted));
	ASSERT_EQ(0, vg_net_start(&self->g, -1));
	posted = dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted),
			      posted0 + self->n - base, DP_WAIT_MS);
	EXPECT_EQ(posted0 + self->n - base, posted);
	vp_test_frame(self->c.tx, ULEN, self->mac, self->c.nic.peer_mac, 1);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx,
				    ULEN));
	/* (the call eventfd still counts the signals from before) */
	deadline = vg_now_ms() + DP_WAIT_MS;
	while (vg_vq_used_idx(d, VG_VQ_RX) == used && vg_now_ms() < deadline)
		vg_sleep_ms(5);
	ASSERT_EQ((uint16_t)(used + 1), vg_vq_used_idx(d, VG_VQ_RX))
		TH_LOG("the frame did not arrive");
	id = le32toh(vq->used->ring[used].id);
	len = le32toh(vq->used->ring[used].len);
	EXPECT_EQ(base, (unsigned int)upos(self, id))
		TH_LOG("the frame went to head %u, avail entry %d", id,
		       upos(self, id));
	EXPECT_EQ(self->g.hdr_len + ULEN, len);
	if (upos(self, id) >= 0 && len == self->g.hdr_len + ULEN) {
		EXPECT_EQ(0, memcmp(ubuf_hva(self, (unsigned int)upos(self, id)) +
				    self->g.hdr_len, self->c.tx, ULEN));
	}
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
}

/* Tx: frames (F) and header-only chains (H), the NIC's ring full. */
static void unget_tx(struct __test_metadata *_metadata,
		     struct _test_data_unget *self)
{
	static const char pattern[UCHAINS + 1] = "FFFHFFHFFFFHFFFF";
	struct vg_dev *d = &self->g.d;
	struct vg_vq *vq = &d->vq[VG_VQ_TX];
	unsigned int base, i, frames_before = 0, frames = 0, got = 0;
	uint8_t seen[UCHAINS] = { 0 };
	uint64_t deadline, posted;

	self->n = UCHAINS;
	ASSERT_EQ(0, vg_vq_take_descs(d, VG_VQ_TX, self->n, self->order));
	for (i = 0; i < self->n; i++) {
		struct vring_desc *desc = &vq->desc[self->order[i]];

		if (pattern[i] == 'H') {
			vg_desc_set(desc, ubuf_gpa(self, i), self->g.hdr_len, 0, 0);
			continue;
		}
		vp_test_frame(ubuf_hva(self, i) + self->g.hdr_len, ULEN,
			      self->c.nic.peer_mac, self->mac, i);
		vg_desc_set(desc, ubuf_gpa(self, i), self->g.hdr_len + ULEN, 0, 0);
		frames++;
	}
	for (i = 0; i < self->n; i++)
		ASSERT_EQ(0, vg_vq_publish_raw(d, VG_VQ_TX, self->order[i]));
	/*
	 * xmit refuses all but 2 of a batch; the datapath retries only after
	 * a completion (a second away) or a kick: kick until the NIC took
	 * 8 frames.  (The stop may still see completions and more frames
	 * taken: the engine's completion delay stalls the Rx reclaim too.)
	 */
	deadline = vg_now_ms() + DP_WAIT_MS;
	do {
		ASSERT_EQ(0, vg_vq_kick(d, VG_VQ_TX));
		posted = dp_wait_stat(&self->g, VG_VQ_TX,
				      DP_STAT_OFF(bufs_posted), 8, UKICK_MS);
	} while (posted < 8 && vg_now_ms() < deadline);
	EXPECT_LE(8ULL, posted);
	ASSERT_EQ(0, vg_net_stop(&self->g));
	base = ucheck_base(_metadata, self, VG_VQ_TX);
	for (i = 0; i < base && i < self->n; i++)
		frames_before += pattern[i] == 'F';

	/* the rest goes after a restart; every frame arrives once */
	ASSERT_EQ(0, vp_nic_knob_write(&self->c.nic, "xmit_accept_max", "0"))
		TH_LOG("%s", self->c.nic.err);
	ASSERT_EQ(0, vg_net_start(&self->g, -1));
	deadline = vg_now_ms() + DP_WAIT_MS;
	while (got < frames && vg_now_ms() < deadline) {
		ssize_t r = vp_packet_recv(self->c.pkt, self->c.rx, DP_BUFSZ,
					   200, NULL);
		int64_t seq;

		if (r < 0)
			continue;
		seq = vp_test_frame_seq(self->c.rx, (size_t)r);
		ASSERT_LE(0, seq);
		ASSERT_GT(UCHAINS, seq);
		EXPECT_EQ(0, seen[seq]) TH_LOG("frame %lld twice",
					      (long long)seq);
		seen[seq]++;
		got++;
		/* frames before the base left first, in order */
		EXPECT_TRUE(got > frames_before || seq < base);
	}
	EXPECT_EQ(frames, got);
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	/* completions come a second after the frames */
	deadline = vg_now_ms() + DP_WAIT_MS;
	while (vg_vq_used_idx(d, VG_VQ_TX) != self->n && vg_now_ms() < deadline)
		vg_sleep_ms(10);
	EXPECT_EQ(self->n, vg_vq_used_idx(d, VG_VQ_TX));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
}

TEST_F_TIMEOUT(unget, stop_with_returned_and_reclaimed, 60)
{
	if (variant->q == VG_VQ_RX)
		unget_rx(_metadata, self);
	else
		unget_tx(_metadata, self);
	EXPECT_EQ(0, vg_net_stop(&self->g));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_HARNESS_MAIN
