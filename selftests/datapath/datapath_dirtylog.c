// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for live migration (VHOST_F_LOG_ALL, VHOST_VRING_F_LOG).
 *
 * The guest sets a log base and a log eventfd, acks LOG_ALL and asks for
 * used-ring logging while the datapath runs, as QEMU does at migration
 * start, and moves frames.  The bitmap must then hold exactly the 4 KiB
 * pages the device wrote:
 *   - of each Rx buffer used, the pages of its first len bytes (header and
 *     what the NIC placed), across merged buffers and descriptors; with
 *     chains built by hand, scattered over non-adjacent pages;
 *   - of each used ring, the pages of used->idx and of the entries added.
 * Nothing else, with one allowance: the notification fields (used->flags,
 * avail_event) are written whenever the worker polls a ring, so their
 * pages may or may not be marked.  Tx marks no buffer.  Without LOG_ALL
 * and VRING_F_LOG nothing is marked and the log is never touched (a
 * PROT_NONE log works); with VRING_F_LOG alone only the used rings are
 * (vhost-net's semantics).  A new log base takes effect for every write
 * after the ioctl, also with frames in flight; the log eventfd fires; a
 * log made read-only or unmapped under traffic stops the queue with its
 * error eventfd, and everything is freed at close.
 */
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "dptest.h"

#define LOG_PAGE	4096ULL		/* VHOST_PAGE_SIZE */
#define NSIZES		4
#define REPEAT		2
#define RX_BIG_BUFS	32
#define SETTLE_MS	100

FIXTURE(dirtylog) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	uint32_t sizes[NSIZES];
	size_t log_len;			/* bytes of each bitmap */
	uint8_t *log[2];		/* two bitmaps, for base changes */
	bool log_mapped[2];
	uint8_t *min, *max;		/* pages that must / may be marked */
	bool mark_rx;			/* Rx buffers are to be logged */
	uint16_t used0[VG_NVQS];	/* used->idx when expectations began */
	int log_efd;
};

FIXTURE_VARIANT(dirtylog) {
	uint64_t features;
	bool rx_indirect;
	struct dp_be be;	/* nicsim on /dev/vhost-accel unless set */
};

FIXTURE_VARIANT_ADD(dirtylog, legacy_big) {
	.features = 0,
};

FIXTURE_VARIANT_ADD(dirtylog, v1_mrg) {
	.features = DP_F_V1 | DP_F_MRG,
};

FIXTURE_VARIANT_ADD(dirtylog, v1_indirect_big) {
	.features = DP_F_V1 | DP_F_IND,
	.rx_indirect = true,
};

FIXTURE_VARIANT_ADD(dirtylog, all_indirect) {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX | DP_F_IND,
	.rx_indirect = true,
};

/* The copying datapath (a tap backend) logs what it writes the same way. */
FIXTURE_VARIANT_ADD(dirtylog, copy_tap_v1_mrg) {
	.features = DP_F_V1 | DP_F_MRG,
	.be = { .kind = DP_BE_TAP },
};

FIXTURE_VARIANT_ADD(dirtylog, copy_tap_legacy_big) {
	.features = 0,
	.be = { .kind = DP_BE_TAP },
};

static void exp_mark(uint8_t *bm, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	if (!len)
		return;
	for (p = gpa / LOG_PAGE; p <= (gpa + len - 1) / LOG_PAGE; p++)
		bm[p / 8] |= (uint8_t)(1U << (p % 8));
}

static bool bit_is_set(const uint8_t *bm, uint64_t page)
{
	return bm[page / 8] & (1U << (page % 8));
}

/* vg_net's observer: Rx buffer @id got @len bytes. */
static void rx_used_seen(void *ctx, uint32_t id, uint32_t len)
{
	struct _test_data_dirtylog *self = ctx;
	uint64_t gpa = vg_net_rx_buf_gpa(&self->g, id);

	if (!self->mark_rx)
		return;
	exp_mark(self->min, gpa, len);
	exp_mark(self->max, gpa, len);
}

FIXTURE_SETUP(dirtylog)
{
	int r;

	memset(self->log, 0, sizeof(self->log));
	self->log_efd = -1;
	r = dp_ctx_init_be(&self->c, 'd', 9000, &variant->be,
			   variant->features);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	dp_guest_mac(self->mac, 0);
	self->sizes[0] = 60;
	self->sizes[1] = 1514;
	self->sizes[2] = 4000;
	self->sizes[3] = self->c.mtu + 14;
	self->log_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->log_efd);
}

FIXTURE_TEARDOWN(dirtylog)
{
	unsigned int i;

	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
	for (i = 0; i < 2; i++)
		if (self->log_mapped[i])
			munmap(self->log[i], self->log_len);
	free(self->min);
	free(self->max);
	if (self->log_efd >= 0)
		close(self->log_efd);
}

static void dl_cfg(const struct _fixture_variant_dirtylog *v,
		   struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->features = v->features;
	cfg->rx_indirect = v->rx_indirect;
	cfg->tx_slot_len = 12 + VG_NET_MAX_FRAME;
	cfg->tx_slots = 32;
	if (!(v->features & DP_F_MRG) && v->rx_indirect)
		cfg->rx_bufs = RX_BIG_BUFS;
	cfg->extra_mem = 64 * LOG_PAGE;
}

/* Bitmaps covering all guest memory (it starts at 4 GiB). */
static int dl_alloc_logs(struct _test_data_dirtylog *self)
{
	const struct vg_region *reg = &self->g.d.region[0];
	uint64_t pages = (reg->gpa + reg->size + LOG_PAGE - 1) / LOG_PAGE;
	unsigned int i;

	self->log_len = (size_t)((pages + 8 * LOG_PAGE - 1) / (8 * LOG_PAGE)) *
			LOG_PAGE;
	for (i = 0; i < 2; i++) {
		self->log[i] = mmap(NULL, self->log_len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (self->log[i] == MAP_FAILED) {
			self->log[i] = NULL;
			return -errno;
		}
		self->log_mapped[i] = true;
	}
	self->min = calloc(1, self->log_len);
	self->max = calloc(1, self->log_len);
	return self->min && self->max ? 0 : -ENOMEM;
}

/* Migration start / end as QEMU does it, while the datapath runs. */
static int dl_logging(struct _test_data_dirtylog *self,
		      const struct _fixture_variant_dirtylog *v, bool log_all,
		      bool log_rings)
{
	uint64_t f = v->features | (log_all ? VG_FBIT(VHOST_F_LOG_ALL) : 0);
	unsigned int q;
	int r;

	r = vg_set_features(&self->g.d, f);
	for (q = 0; q < VG_NVQS && !r; q++)
		r = vg_vq_set_log(&self->g.d, q, log_rings);
	self->mark_rx = log_all;
	return r;
}

/*
 * The logs allocated and the log eventfd set on the running guest; with
 * @log, migration started on log[0] (LOG_ALL and used-ring logging).
 */
static void dl_logs_ready(struct __test_metadata *_metadata,
			  struct _test_data_dirtylog *self,
			  const struct _fixture_variant_dirtylog *variant,
			  bool log)
{
	ASSERT_EQ(0, dl_alloc_logs(self));
	ASSERT_EQ(0, vg_set_log_fd(&self->g.d, self->log_efd));
	if (!log)
		return;
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[0]));
	ASSERT_EQ(0, dl_logging(self, variant, true, true));
}

/* The variant's guest up, Rx buffers observed, the logs ready (@log). */
static void dl_up(struct __test_metadata *_metadata,
		  struct _test_data_dirtylog *self,
		  const struct _fixture_variant_dirtylog *variant, bool log)
{
	struct vg_net_cfg cfg;
	int r;

	dl_cfg(variant, &cfg);
	r = dp_guest_up(&self->c, &self->g, &cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	self->g.rx_used_cb = rx_used_seen;
	self->g.rx_used_ctx = self;
	dl_logs_ready(_metadata, self, variant, log);
}

/* Start a phase: nothing expected yet, used indices as they are now. */
static void exp_begin(struct _test_data_dirtylog *self)
{
	unsigned int q;

	memset(self->min, 0, self->log_len);
	memset(self->max, 0, self->log_len);
	for (q = 0; q < VG_NVQS; q++)
		self->used0[q] = vg_vq_used_idx(&self->g.d, q);
}

/*
 * End a phase with used-ring logging on: the entries added since
 * exp_begin() and used->idx must be marked; flags and avail_event may be.
 */
static void exp_used_rings(struct _test_data_dirtylog *self)
{
	const uint64_t elem = sizeof(struct vring_used_elem);
	bool evidx = self->g.d.features & DP_F_EVIDX;
	unsigned int q;

	for (q = 0; q < VG_NVQS; q++) {
		const struct vg_vq *vq = &self->g.d.vq[q];
		uint16_t u1 = vg_vq_used_idx(&self->g.d, q), i;
		uint64_t ring = vq->used_gpa + offsetof(struct vring_used, ring);

		exp_mark(self->max, vq->used_gpa, 2);
		if (evidx)
			exp_mark(self->max, ring + vq->num * elem, 2);
		if (u1 == self->used0[q])
			continue;
		exp_mark(self->min, vq->used_gpa + 2, 2);
		exp_mark(self->max, vq->used_gpa + 2, 2);
		for (i = self->used0[q]; i != u1; i++) {
			exp_mark(self->min, ring + (i % vq->num) * elem, elem);
			exp_mark(self->max, ring + (i % vq->num) * elem, elem);
		}
	}
}

/* Where a guest page is, for messages. */
static const char *dl_what(struct _test_data_dirtylog *self, uint64_t page)
{
	uint64_t gpa = page * LOG_PAGE;
	struct vg_net *g = &self->g;
	unsigned int q;

	for (q = 0; q < VG_NVQS; q++) {
		const struct vg_vq *vq = &g->d.vq[q];

		if (gpa + LOG_PAGE > vq->used_gpa &&
		    gpa < vq->used_gpa + vg_vring_used_size(vq->num))
			return q == VG_VQ_RX ? "Rx used ring" : "Tx used ring";
	}
	if (gpa + LOG_PAGE > g->rx_pool_gpa &&
	    gpa < g->rx_pool_gpa + (uint64_t)g->rx_nbufs * g->rx_stride)
		return "Rx buffers";
	if (gpa + LOG_PAGE > g->tx_pool_gpa &&
	    gpa < g->tx_pool_gpa + (uint64_t)g->tx_nslots * g->tx_stride)
		return "Tx slots";
	return "other guest memory";
}

/*
 * Bitmap @bm against the expectations: every page of min marked (given
 * the worker up to DP_WAIT_MS to get there), then, a moment later,
 * nothing marked outside max.  0, or -1 with @why.
 */
static int dl_check(struct _test_data_dirtylog *self, const uint8_t *bm,
		    char *why, size_t wl)
{
	uint64_t deadline = vg_now_ms() + DP_WAIT_MS, p, npages;
	size_t i;

	npages = (uint64_t)self->log_len * 8;
	for (;;) {
		for (i = 0; i < self->log_len; i++)
			/* the kernel sets bits meanwhile: load afresh */
			if ((__atomic_load_n(&bm[i], __ATOMIC_RELAXED) &
			     self->min[i]) != self->min[i])
				break;
		if (i == self->log_len)
			break;
		if (vg_now_ms() >= deadline) {
			for (p = (uint64_t)i * 8; p < npages; p++)
				if (bit_is_set(self->min, p) &&
				    !bit_is_set(bm, p))
					break;
			snprintf(why, wl,
				 "page %#llx (%s) written but not marked",
				 (unsigned long long)(p * LOG_PAGE),
				 dl_what(self, p));
			return -1;
		}
		vg_sleep_ms(5);
	}
	vg_sleep_ms(SETTLE_MS);
	for (p = 0; p < npages; p++) {
		if (bit_is_set(bm, p) && !bit_is_set(self->max, p)) {
			snprintf(why, wl, "page %#llx (%s) marked, not written",
				 (unsigned long long)(p * LOG_PAGE),
				 dl_what(self, p));
			return -1;
		}
	}
	return 0;
}

static bool dl_all_zero(const uint8_t *bm, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (bm[i])
			return false;
	return true;
}

/* Peer sends each size @n times; the guest receives and checks each. */
static void rx_traffic(struct __test_metadata *_metadata,
		       struct _test_data_dirtylog *self, unsigned int n,
		       uint32_t *seq)
{
	struct vg_net_rx f;
	unsigned int i, k, stray = 0;
	char why[256];

	for (i = 0; i < NSIZES; i++) {
		uint32_t len = self->sizes[i];

		for (k = 0; k < n; k++, (*seq)++) {
			vp_test_frame(self->c.tx, len, self->mac,
				      self->c.nic.peer_mac, *seq);
			ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
						    self->c.tx, len));
			ASSERT_EQ(0, dp_guest_recv(&self->g, &f, DP_WAIT_MS,
						   &stray))
				TH_LOG("frame of %u bytes not received (%s)",
				       len, self->g.err);
			ASSERT_EQ(0, dp_rx_check(&self->g, &f, self->c.tx, len,
						 0, why, sizeof(why)))
				TH_LOG("%s", why);
		}
	}
	EXPECT_EQ(0U, stray);
}

/* The guest sends each size once; the peer gets each. */
static void tx_traffic(struct __test_metadata *_metadata,
		       struct _test_data_dirtylog *self, uint32_t *seq)
{
	unsigned int i;
	char why[256];

	for (i = 0; i < NSIZES; i++, (*seq)++) {
		uint32_t len = self->sizes[i];

		vp_test_frame(self->c.tx, len, self->c.nic.peer_mac, self->mac,
			      *seq);
		ASSERT_EQ(0, dp_guest_send(&self->g, self->c.tx, len, NULL,
					   NULL)) TH_LOG("Tx %u bytes", len);
		ASSERT_EQ(0, dp_peer_expect(&self->c, self->c.tx, len, why,
					    sizeof(why))) TH_LOG("%s", why);
	}
}

/* Log eventfd count since the last call (0 if not signalled). */
static uint64_t dl_log_signals(struct _test_data_dirtylog *self)
{
	uint64_t v = 0;

	if (read(self->log_efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void dl_no_errors(struct __test_metadata *_metadata,
			 struct _test_data_dirtylog *self)
{
	struct vhost_accel_stats st;
	unsigned int q;

	ASSERT_EQ(0, vg_get_stats(&self->g.d, &st));
	for (q = 0; q < VG_NVQS; q++) {
		EXPECT_EQ(0ULL, st.vq[q].errors) TH_LOG("vq %u", q);
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, q, 0))
			TH_LOG("error eventfd of vq %u", q);
	}
}

static void dl_close(struct __test_metadata *_metadata,
		     struct _test_data_dirtylog *self)
{
	struct vg_net *gs[] = { &self->g };
	uint64_t kb = dp_close_all(&self->c, gs, 1);

	EXPECT_EQ(self->c.vmlck0, kb) TH_LOG("VmLck after close");
}

#define DL_CHECK(bm) do {						\
	char __why[256];						\
	ASSERT_EQ(0, dl_check(self, (bm), __why, sizeof(__why)))	\
		TH_LOG("%s", __why);					\
} while (0)

/* No queue failed; the fd closed and every page unpinned. */
static void dl_end(struct __test_metadata *_metadata,
		   struct _test_data_dirtylog *self)
{
	dl_no_errors(_metadata, self);
	dl_close(_metadata, self);
}

/* Each size once from the peer to the guest, then once back. */
static void dl_traffic(struct __test_metadata *_metadata,
		       struct _test_data_dirtylog *self, uint32_t *seq)
{
	rx_traffic(_metadata, self, 1, seq);
	tx_traffic(_metadata, self, seq);
}

/*
 * A logged phase: each size @rx_n times to the guest (none if 0), then
 * once back if @tx; @bm holds exactly the pages written, used rings
 * included.
 */
static void dl_phase(struct __test_metadata *_metadata,
		     struct _test_data_dirtylog *self, unsigned int rx_n,
		     bool tx, const uint8_t *bm, uint32_t *seq)
{
	exp_begin(self);
	if (rx_n)
		rx_traffic(_metadata, self, rx_n, seq);
	if (tx)
		tx_traffic(_metadata, self, seq);
	exp_used_rings(self);
	DL_CHECK(bm);
}

/* Traffic both ways with logging off: log[0] stays clear (@why if not). */
static void dl_unlogged(struct __test_metadata *_metadata,
			struct _test_data_dirtylog *self, uint32_t *seq,
			const char *why)
{
	dl_traffic(_metadata, self, seq);
	vg_sleep_ms(SETTLE_MS);
	EXPECT_TRUE(dl_all_zero(self->log[0], self->log_len))
		TH_LOG("%s", why);
}

/* Rx of every size: exactly the buffer and used-ring pages written. */
TEST_F_TIMEOUT(dirtylog, rx_exact, 90)
{
	uint32_t seq = 0;

	dl_up(_metadata, self, variant, true);
	dl_log_signals(self);
	dl_phase(_metadata, self, REPEAT, false, self->log[0], &seq);
	EXPECT_LT(0ULL, dl_log_signals(self)) TH_LOG("log eventfd not signalled");
	dl_end(_metadata, self);
}

/* Tx marks its used ring only: no slot, no Rx buffer. */
TEST_F_TIMEOUT(dirtylog, tx_used_ring_only, 60)
{
	uint32_t seq = 0;

	dl_up(_metadata, self, variant, true);
	dl_phase(_metadata, self, 0, true, self->log[0], &seq);
	ASSERT_NE(self->used0[VG_VQ_TX], vg_vq_used_idx(&self->g.d, VG_VQ_TX));
	EXPECT_LT(0ULL, dl_log_signals(self)) TH_LOG("log eventfd not signalled");
	dl_end(_metadata, self);
}

/*
 * Logging off: the log is never touched (a PROT_NONE one works), nothing
 * marked in a readable one, no log signal.
 */
TEST_F_TIMEOUT(dirtylog, off_no_access, 90)
{
	uint32_t seq = 0;

	dl_up(_metadata, self, variant, false);
	ASSERT_EQ(0, mprotect(self->log[1], self->log_len, PROT_NONE));
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[1]));
	dl_traffic(_metadata, self, &seq);
	dl_no_errors(_metadata, self);

	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[0]));
	dl_unlogged(_metadata, self, &seq, "pages marked with logging off");
	EXPECT_EQ(0ULL, dl_log_signals(self)) TH_LOG("log eventfd signalled");
	dl_end(_metadata, self);
}

/* Used-ring logging on, LOG_ALL off, traffic: exactly the used rings. */
static void rings_logged(struct __test_metadata *_metadata,
			 struct _test_data_dirtylog *self,
			 const struct _fixture_variant_dirtylog *variant,
			 uint32_t *seq)
{
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[0]));
	ASSERT_EQ(0, dl_logging(self, variant, false, true));
	dl_phase(_metadata, self, 1, true, self->log[0], seq);
	dl_no_errors(_metadata, self);
}

/* VRING_F_LOG without LOG_ALL (vhost-net): used rings only. */
TEST_F_TIMEOUT(dirtylog, ring_log_without_log_all, 60)
{
	uint32_t seq = 0;

	dl_up(_metadata, self, variant, false);
	rings_logged(_metadata, self, variant, &seq);
	dl_close(_metadata, self);
}

/*
 * Turning on used-ring logging for a running queue is refused when the
 * log cannot cover that ring (a base in the kernel half of the address
 * space, whatever the paging depth), and the refusal changes nothing:
 * traffic still runs unlogged, with no error; a covering log is then
 * accepted.
 */
TEST_F_TIMEOUT(dirtylog, vring_log_uncovered, 60)
{
	const uint64_t high = 0xffff800000000000ULL;
	uint32_t seq = 0;
	unsigned int q;

	dl_up(_metadata, self, variant, false);
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, high));
	for (q = 0; q < VG_NVQS; q++)
		ASSERT_EQ(-EINVAL, vg_vq_set_log(&self->g.d, q, true))
			TH_LOG("vq %u: a log that cannot cover the used ring", q);
	dl_traffic(_metadata, self, &seq);
	dl_no_errors(_metadata, self);

	rings_logged(_metadata, self, variant, &seq);
	dl_close(_metadata, self);
}

/* Migration start, then end, then start again, all under traffic. */
TEST_F_TIMEOUT(dirtylog, toggle_while_running, 90)
{
	uint32_t seq = 0;

	dl_up(_metadata, self, variant, false);
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[0]));
	rx_traffic(_metadata, self, 1, &seq);
	vg_sleep_ms(SETTLE_MS);
	ASSERT_TRUE(dl_all_zero(self->log[0], self->log_len));

	ASSERT_EQ(0, dl_logging(self, variant, true, true));
	dl_phase(_metadata, self, 1, true, self->log[0], &seq);

	ASSERT_EQ(0, dl_logging(self, variant, false, false));
	memset(self->log[0], 0, self->log_len);
	dl_unlogged(_metadata, self, &seq,
		    "pages marked after logging was turned off");

	ASSERT_EQ(0, dl_logging(self, variant, true, true));
	dl_phase(_metadata, self, 1, false, self->log[0], &seq);
	dl_end(_metadata, self);
}

/*
 * A new log base: everything after the ioctl lands in the new bitmap, the
 * old one stays as it was.  Then the base flips between the two while
 * frames are in flight: together they hold exactly what was written.
 */
TEST_F_TIMEOUT(dirtylog, base_change, 90)
{
	const unsigned int inflight = 6;
	struct vg_net_rx f;
	uint8_t *snap;
	uint32_t seq = 0;
	unsigned int i, stray = 0;
	size_t k;

	dl_up(_metadata, self, variant, false);
	snap = malloc(self->log_len);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[0]));
	ASSERT_EQ(0, dl_logging(self, variant, true, true));
	dl_phase(_metadata, self, 1, false, self->log[0], &seq);

	ASSERT_EQ(0, vg_set_log_base(&self->g.d, (uintptr_t)self->log[1]));
	memcpy(snap, self->log[0], self->log_len);
	dl_phase(_metadata, self, 1, true, self->log[1], &seq);
	EXPECT_EQ(0, memcmp(snap, self->log[0], self->log_len))
		TH_LOG("the old log changed after SET_LOG_BASE");

	/* flip the base between frames the NIC is still delivering */
	memset(self->log[0], 0, self->log_len);
	memset(self->log[1], 0, self->log_len);
	exp_begin(self);
	for (i = 0; i < 4 * inflight; i++) {
		uint32_t len = self->sizes[i % NSIZES];

		vp_test_frame(self->c.tx, len, self->mac, self->c.nic.peer_mac,
			      seq + i);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, len));
		ASSERT_EQ(0, vg_set_log_base(&self->g.d,
					     (uintptr_t)self->log[i % 2]));
		if (i < inflight)
			continue;
		ASSERT_EQ(0, dp_guest_recv(&self->g, &f, DP_WAIT_MS, &stray))
			TH_LOG("frame %u (%s)", i - inflight, self->g.err);
	}
	for (i = 0; i < inflight; i++)
		ASSERT_EQ(0, dp_guest_recv(&self->g, &f, DP_WAIT_MS, &stray))
			TH_LOG("last frames (%s)", self->g.err);
	EXPECT_EQ(0U, stray);
	exp_used_rings(self);
	vg_sleep_ms(SETTLE_MS);
	for (k = 0; k < self->log_len; k++)
		snap[k] = self->log[0][k] | self->log[1][k];
	DL_CHECK(snap);
	free(snap);
	dl_end(_metadata, self);
}

/* Wait for vq @q's error eventfd; the other queue must not fail. */
static void dl_expect_stopped(struct __test_metadata *_metadata,
			      struct _test_data_dirtylog *self, unsigned int q)
{
	struct vhost_accel_stats st;

	ASSERT_EQ(0, vg_vq_wait_err(&self->g.d, q, DP_WAIT_MS))
		TH_LOG("vq %u not stopped by an unwritable log", q);
	ASSERT_EQ(0, vg_get_stats(&self->g.d, &st));
	EXPECT_EQ(1ULL, st.vq[q].errors);
}

/*
 * A frame of @len bytes from the peer once the log cannot be written:
 * the Rx queue stops and the guest gets nothing.
 */
static void dl_rx_stops(struct __test_metadata *_metadata,
			struct _test_data_dirtylog *self, uint32_t len,
			uint32_t seq)
{
	vp_test_frame(self->c.tx, len, self->mac, self->c.nic.peer_mac, seq);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx,
				    len));
	dl_expect_stopped(_metadata, self, VG_VQ_RX);
	EXPECT_EQ(0, dp_guest_quiet(&self->g, DP_QUIET_MS))
		TH_LOG("a frame was delivered without its pages logged");
}

/* A read-only log under traffic: each queue stops at its next write. */
TEST_F_TIMEOUT(dirtylog, log_readonly, 60)
{
	uint32_t seq = 0, len = 1514;

	dl_up(_metadata, self, variant, true);
	dl_traffic(_metadata, self, &seq);
	dl_no_errors(_metadata, self);

	ASSERT_EQ(0, mprotect(self->log[0], self->log_len, PROT_READ));
	dl_rx_stops(_metadata, self, len, seq);

	vp_test_frame(self->c.tx, len, self->c.nic.peer_mac, self->mac, ++seq);
	ASSERT_LE(0, vg_net_tx(&self->g, NULL, self->c.tx, len, NULL));
	ASSERT_LE(0, vg_net_tx_kick(&self->g));
	dl_expect_stopped(_metadata, self, VG_VQ_TX);
	dl_close(_metadata, self);
}

/* The log unmapped under traffic: the Rx queue stops, nothing crashes. */
TEST_F_TIMEOUT(dirtylog, log_unmapped, 60)
{
	uint32_t seq = 0, len = 4000;

	dl_up(_metadata, self, variant, true);
	rx_traffic(_metadata, self, 1, &seq);

	ASSERT_EQ(0, munmap(self->log[0], self->log_len));
	self->log_mapped[0] = false;
	dl_rx_stops(_metadata, self, len, seq);
	dl_close(_metadata, self);
}

/*
 * Rx chains built by hand over scattered, unaligned pieces of guest
 * memory: only the pages of the bytes actually written are marked, not
 * the whole chain.
 */
struct dl_piece {
	uint32_t page, off, len;
};

static const struct dl_piece dl_chain[] = {
	{ 0, 4090, 0 },		/* the header, straddling pages 0 and 1 */
	{ 3, 2000, 3000 },	/* pages 3, 4 */
	{ 6, 100, 5000 },	/* pages 6, 7 */
	{ 9, 0, 4096 },		/* page 9 */
};

#define DL_CHAIN_PAGES	12

/* Mark the pages of the first @len bytes of chain @in (@n pieces). */
static void exp_chain(struct _test_data_dirtylog *self,
		      const struct vg_buf *in, unsigned int n, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < n && len; i++) {
		uint32_t step = len < in[i].len ? len : in[i].len;

		exp_mark(self->min, in[i].gpa, step);
		exp_mark(self->max, in[i].gpa, step);
		len -= step;
	}
}

TEST_F_TIMEOUT(dirtylog, rx_scattered_chain, 60)
{
	const unsigned int n = ARRAY_SIZE(dl_chain);
	uint32_t lens[2] = { 1000, 0 };
	struct vg_buf in[2][ARRAY_SIZE(dl_chain)];
	struct vg_net_cfg cfg;
	unsigned int b, i;
	uint64_t base;
	uint32_t len;
	void *hva, *cookie;
	int r;

	dl_cfg(variant, &cfg);
	r = vg_net_open(&self->g, VG_DEV_ACCEL, &cfg);
	ASSERT_EQ(0, r) TH_LOG("guest: %s", dp_strerr(r));
	if (self->c.be.kind == DP_BE_NICSIM)
		ASSERT_EQ(0, vg_net_bind(&self->g, self->c.nic.ifindex,
					 self->mac, 0));
	ASSERT_EQ(0, vg_net_start(&self->g, self->c.bfd));
	dl_logs_ready(_metadata, self, variant, true);

	/* 9000 bytes reach page 9; with a smaller MTU, at least page 6 */
	lens[1] = self->c.mtu + 14 < 9000 ? self->c.mtu + 14 : 9000;
	for (b = 0; b < 2; b++) {
		ASSERT_EQ(0, vg_mem_alloc(&self->g.d, DL_CHAIN_PAGES * LOG_PAGE,
					  LOG_PAGE, &base, &hva));
		for (i = 0; i < n; i++) {
			in[b][i].gpa = base + dl_chain[i].page * LOG_PAGE +
				       dl_chain[i].off;
			in[b][i].len = i ? dl_chain[i].len : self->g.hdr_len;
		}
		r = vg_vq_add(&self->g.d, VG_VQ_RX, NULL, 0, in[b], n,
			      (void *)(uintptr_t)(b + 1),
			      variant->rx_indirect ? VG_ADD_INDIRECT : 0);
		ASSERT_LE(0, r);
	}
	ASSERT_LE(0, vg_vq_kick(&self->g.d, VG_VQ_RX));
	/* the NIC got both (the copying path takes them as frames come) */
	if (self->c.be.kind == DP_BE_NICSIM)
		ASSERT_EQ(2ULL, dp_wait_stat(&self->g, VG_VQ_RX,
					     DP_STAT_OFF(bufs_posted), 2,
					     DP_WAIT_MS));

	exp_begin(self);
	for (b = 0; b < 2; b++) {
		vp_test_frame(self->c.tx, lens[b], self->mac,
			      self->c.nic.peer_mac, b);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, lens[b]));
		/* the head, >= 0 */
		ASSERT_LE(0, vg_vq_wait_used(&self->g.d, VG_VQ_RX, DP_WAIT_MS,
					     &len, &cookie));
		ASSERT_EQ((void *)(uintptr_t)(b + 1), cookie);
		ASSERT_EQ(self->g.hdr_len + lens[b], len);
		exp_chain(self, in[b], n, len);
	}
	exp_used_rings(self);
	DL_CHECK(self->log[0]);
	dl_end(_metadata, self);
}

TEST_HARNESS_MAIN
