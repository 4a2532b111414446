// SPDX-License-Identifier: GPL-2.0
/*
 * A guest that breaks the virtio ring rules breaks its own queue, nothing
 * else.  For each malformation, on the RX queue and on the TX queue (the
 * fixture variants) of a running device A while device B runs on the same
 * NIC:
 *
 *   - A's error eventfd for that queue fires, stats.vq[q].errors is 1,
 *     the other queue's is 0 and its eventfd stays quiet;
 *   - the broken queue moves nothing any more;
 *   - A's other queue still moves frames, B still moves frames both ways;
 *   - nothing was copied, closing gives VmLck back.
 *
 * Malformations: descriptor loop, next out of range, head out of range,
 * address + length wrapping 64 bits, chain length overflowing 32 bits,
 * a 4 GiB - 1 descriptor starting inside guest memory, address above and
 * below guest memory, chain longer than the ring (indirect table of
 * num + 1 one-byte entries: fewer segments than the NIC takes), avail index jumping more than num ahead, indirect
 * descriptor inside an indirect table, indirect table length not a
 * multiple of 16, descriptor of the wrong direction.
 *
 * Fixture "segs": a chain with more segments than the NIC scatters is not
 * a guest error: it comes back unused, counted in drops_too_big.
 *
 * The vnic* variants run on the VM's virtio-net NIC (virtio_net_accel),
 * which lends to one guest MAC at a time: there is no device B (a second
 * MAC is refused with EBUSY, and a second queue pair of A's MAC would get
 * A's frames by the outer tap's flow hash), so what concerns B is left out
 * (Documentation/testing.rst, "The suite on the virtio-net NIC").
 */
#include "dptest.h"

/*
 * Ring size < the NIC's 64 segments: a chain longer than the ring is not
 * also a chain with too many segments.
 */
#define NUM		32
#define RX_POSTED	16	/* leave room in the Rx ring to inject */
#define LEN		200
#define XMEM		(256 * 1024)

FIXTURE(bad) {
	struct dp_ctx c;
	struct vg_net a, b;
	bool has_b;		/* not on the virtio-net NIC */
	uint8_t mac_a[6], mac_b[6];
	uint64_t xgpa;		/* spare guest memory of A */
	uint8_t *xhva;
	uint64_t mem_end;	/* first GPA after A's memory */
};

FIXTURE_VARIANT(bad) {
	unsigned int q;		/* the queue we break */
	struct dp_be be;	/* zero: nicsim */
};

FIXTURE_VARIANT_ADD(bad, rx) {
	.q = VG_VQ_RX,
};

FIXTURE_VARIANT_ADD(bad, tx) {
	.q = VG_VQ_TX,
};

FIXTURE_VARIANT_ADD(bad, vnic_rx) {
	.q = VG_VQ_RX,
	.be = { .kind = DP_BE_VNIC },
};

FIXTURE_VARIANT_ADD(bad, vnic_tx) {
	.q = VG_VQ_TX,
	.be = { .kind = DP_BE_VNIC },
};

static void bad_cfg(struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->features = DP_F_V1 | DP_F_MRG | DP_F_IND | DP_F_EVIDX;
	cfg->rx_num = NUM;
	cfg->tx_num = NUM;
	cfg->rx_bufs = RX_POSTED;
	cfg->tx_slots = 16;
	cfg->extra_mem = XMEM;
}

static int bad_build(struct _test_data_bad *self,
		     const struct _fixture_variant_bad *variant)
{
	struct vg_net_cfg cfg;
	void *hva;
	int r;

	bad_cfg(&cfg);
	r = dp_ctx_init_be(&self->c, 'm', 0, &variant->be, cfg.features);
	if (r)
		return r;
	dp_guest_mac(self->mac_a, 0);
	dp_guest_mac(self->mac_b, 1);
	r = dp_guest_up(&self->c, &self->a, &cfg, self->mac_a);
	if (r)
		return r;
	self->has_b = !dp_vnic(&self->c);
	if (self->has_b) {
		r = dp_guest_up(&self->c, &self->b, &cfg, self->mac_b);
		if (r)
			return r;
	}
	r = vg_mem_alloc(&self->a.d, XMEM - 8192, 4096, &self->xgpa, &hva);
	if (r) {
		snprintf(self->c.why, sizeof(self->c.why), "spare memory: %s",
			 dp_strerr(r));
		return r;
	}
	self->xhva = hva;
	memset(hva, 0, XMEM - 8192);
	self->mem_end = self->a.d.region[0].gpa + self->a.d.region[0].size;
	return 0;
}

FIXTURE_SETUP(bad)
{
	char why[256];
	int r;

	if (!dp_be_available(&variant->be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	r = bad_build(self, variant);

	if (r) {
		vg_net_close(&self->a);
		vg_net_close(&self->b);
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(bad)
{
	vg_net_close(&self->a);
	vg_net_close(&self->b);
	dp_ctx_fini(&self->c);
}

/* One frame guest -> peer and one peer -> guest for @g (MAC @mac). */
static void exchange(struct __test_metadata *_metadata,
		     struct _test_data_bad *self, struct vg_net *g,
		     const uint8_t *mac, bool tx, bool rx, uint32_t seq,
		     const char *who)
{
	struct vg_net_rx f;
	char why[200];

	if (tx) {
		vp_test_frame(self->c.tx, LEN, self->c.nic.peer_mac, mac, seq);
		ASSERT_EQ(0, dp_guest_send(g, self->c.tx, LEN, NULL, NULL))
			TH_LOG("%s: Tx completion", who);
		ASSERT_EQ(0, dp_peer_expect(&self->c, self->c.tx, LEN, why,
					    sizeof(why)))
			TH_LOG("%s: Tx: %s", who, why);
	}
	if (rx) {
		vp_test_frame(self->c.tx, LEN, mac, self->c.nic.peer_mac, seq);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, LEN));
		ASSERT_EQ(0, dp_guest_recv(g, &f, DP_WAIT_MS, NULL))
			TH_LOG("%s: Rx: nothing (%s)", who, g->err);
		ASSERT_EQ(0, dp_rx_check(g, &f, self->c.tx, LEN, 1, why,
					 sizeof(why)))
			TH_LOG("%s: Rx: %s", who, why);
	}
}

enum bad_kind {
	BAD_LOOP,
	BAD_NEXT_RANGE,
	BAD_HEAD_RANGE,
	BAD_ADDR_WRAP,
	BAD_LEN_SUM,
	BAD_LEN_HUGE,
	BAD_ADDR_ABOVE,
	BAD_ADDR_BELOW,
	BAD_TOO_LONG,
	BAD_AVAIL_IDX,
	BAD_IND_IN_IND,
	BAD_IND_LEN,
	BAD_DIRECTION,
};

/* Write the malformed chain @kind into A's queue @q and kick. */
static void inject(struct __test_metadata *_metadata, struct _test_data_bad *self,
		   unsigned int q, enum bad_kind kind)
{
	struct vg_dev *d = &self->a.d;
	struct vg_vq *vq = &d->vq[q];
	uint16_t w = q == VG_VQ_RX ? VRING_DESC_F_WRITE : 0;
	uint16_t id[2];
	struct vring_desc *t1, *t2;
	uint64_t data = self->xgpa, t1gpa, t2gpa;
	unsigned int i;

	/* tables at +32 KiB and +48 KiB of the spare memory */
	t1 = (struct vring_desc *)(self->xhva + 32768);
	t1gpa = self->xgpa + 32768;
	t2 = (struct vring_desc *)(self->xhva + 49152);
	t2gpa = self->xgpa + 49152;
	ASSERT_EQ(0, vg_vq_take_descs(d, q, 2, id));
	switch (kind) {
	case BAD_LOOP:
		vg_desc_set(&vq->desc[id[0]], data, 64, w | VRING_DESC_F_NEXT,
			 id[1]);
		vg_desc_set(&vq->desc[id[1]], data + 64, 64,
			 w | VRING_DESC_F_NEXT, id[0]);
		break;
	case BAD_NEXT_RANGE:
		vg_desc_set(&vq->desc[id[0]], data, 64, w | VRING_DESC_F_NEXT,
			 NUM + 5);
		break;
	case BAD_HEAD_RANGE:
		id[0] = NUM + 3;
		break;
	case BAD_ADDR_WRAP:
		vg_desc_set(&vq->desc[id[0]], 0xfffffffffffff000ULL, 0x2000, w, 0);
		break;
	case BAD_LEN_SUM:
		/* 2 x (2 GiB + 8): the chain's length overflows 32 bits */
		vg_desc_set(&vq->desc[id[0]], data, 0x80000008U,
			 w | VRING_DESC_F_NEXT, id[1]);
		vg_desc_set(&vq->desc[id[1]], data, 0x80000008U, w, 0);
		break;
	case BAD_LEN_HUGE:
		vg_desc_set(&vq->desc[id[0]], data, 0xffffffffU, w, 0);
		break;
	case BAD_ADDR_ABOVE:
		vg_desc_set(&vq->desc[id[0]], self->mem_end, 256, w, 0);
		break;
	case BAD_ADDR_BELOW:
		/* guest memory starts at 4 GiB: GPA 64 KiB is nothing */
		vg_desc_set(&vq->desc[id[0]], 0x10000, 256, w, 0);
		break;
	case BAD_TOO_LONG:
		/* NUM + 1 one-byte entries, properly linked */
		for (i = 0; i <= NUM; i++)
			vg_desc_set(&t1[i], data + i, 1,
				 w | (i < NUM ? VRING_DESC_F_NEXT : 0),
				 (uint16_t)(i + 1));
		vg_desc_set(&vq->desc[id[0]], t1gpa,
			 (NUM + 1) * sizeof(struct vring_desc),
			 VRING_DESC_F_INDIRECT, 0);
		break;
	case BAD_AVAIL_IDX:
		break;
	case BAD_IND_IN_IND:
		vg_desc_set(&t2[0], data, 100, w, 0);
		vg_desc_set(&t1[0], t2gpa, sizeof(struct vring_desc),
			 VRING_DESC_F_INDIRECT, 0);
		vg_desc_set(&vq->desc[id[0]], t1gpa, sizeof(struct vring_desc),
			 VRING_DESC_F_INDIRECT, 0);
		break;
	case BAD_IND_LEN:
		vg_desc_set(&t1[0], data, 100, w, 0);
		vg_desc_set(&vq->desc[id[0]], t1gpa, sizeof(struct vring_desc) + 3,
			 VRING_DESC_F_INDIRECT, 0);
		break;
	case BAD_DIRECTION:
		/* Tx: writable; Rx: readable */
		vg_desc_set(&vq->desc[id[0]], data, 100,
			 q == VG_VQ_RX ? 0 : VRING_DESC_F_WRITE, 0);
		break;
	}
	if (kind == BAD_AVAIL_IDX) {
		ASSERT_EQ(0, vg_vq_set_avail_idx_raw(d, q,
						     (uint16_t)(vq->avail_idx +
								NUM + 1)));
	} else {
		ASSERT_EQ(0, vg_vq_publish_raw(d, q, id[0]));
	}
	ASSERT_EQ(0, vg_vq_kick(d, q));
}

static void run_bad(struct __test_metadata *_metadata, struct _test_data_bad *self,
		    const struct _fixture_variant_bad *variant, enum bad_kind kind)
{
	unsigned int q = variant->q, o = q == VG_VQ_RX ? VG_VQ_TX : VG_VQ_RX;
	struct vhost_accel_stats st;
	uint16_t used;
	unsigned int i;

	/* everybody works before */
	exchange(_metadata, self, &self->a, self->mac_a, true, true, 1, "A");
	if (self->has_b)
		exchange(_metadata, self, &self->b, self->mac_b, true, true, 1,
			 "B");
	used = vg_vq_used_idx(&self->a.d, q);

	inject(_metadata, self, q, kind);
	if (vg_vq_wait_err(&self->a.d, q, DP_WAIT_MS)) {
		ASSERT_EQ(0, vg_get_stats(&self->a.d, &st));
		TH_LOG("no error eventfd on %s; instead: used idx %u -> %u, packets %llu, bufs_posted %llu, drops_too_big %llu, errors %llu",
		       q == VG_VQ_RX ? "RX" : "TX", used,
		       vg_vq_used_idx(&self->a.d, q),
		       (unsigned long long)st.vq[q].packets,
		       (unsigned long long)st.vq[q].bufs_posted,
		       (unsigned long long)st.vq[q].drops_too_big,
		       (unsigned long long)st.vq[q].errors);
		ASSERT_TRUE(false);
	}
	ASSERT_EQ(0, vg_get_stats(&self->a.d, &st));
	EXPECT_EQ(1ULL, st.vq[q].errors);
	EXPECT_EQ(0ULL, st.vq[o].errors);
	EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->a.d, o, 0))
		TH_LOG("the other queue's error eventfd fired");
	EXPECT_EQ(used, vg_vq_used_idx(&self->a.d, q))
		TH_LOG("the broken queue published used entries");

	/* the other queue of A and both queues of B carry on */
	exchange(_metadata, self, &self->a, self->mac_a, o == VG_VQ_TX,
		 o == VG_VQ_RX, 2, "A, other queue");
	if (self->has_b)
		exchange(_metadata, self, &self->b, self->mac_b, true, true, 2,
			 "B");

	/* the broken queue stays stopped */
	if (q == VG_VQ_TX) {
		vp_test_frame(self->c.tx, LEN, self->c.nic.peer_mac,
			      self->mac_a, 3);
		/* the free list lost the injected descriptors: use the rest */
		if (vg_net_tx(&self->a, NULL, self->c.tx, LEN, NULL) >= 0)
			vg_vq_kick(&self->a.d, VG_VQ_TX);
		EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
			TH_LOG("a broken Tx queue still sends");
	} else {
		for (i = 0; i < 2; i++) {
			vp_test_frame(self->c.tx, LEN, self->mac_a,
				      self->c.nic.peer_mac, 3 + i);
			ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
						    self->c.tx, LEN));
		}
		EXPECT_EQ(0, dp_guest_quiet(&self->a, DP_QUIET_MS))
			TH_LOG("a broken Rx queue still delivers");
	}

	/*
	 * A memory table swap stops and restarts both queues: the running
	 * one carries on, the broken one stays stopped (no second error).
	 */
	ASSERT_EQ(0, vg_set_mem_table(&self->a.d));
	EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->a.d, q, DP_QUIET_MS))
		TH_LOG("the swap restarted the broken queue");
	exchange(_metadata, self, &self->a, self->mac_a, o == VG_VQ_TX,
		 o == VG_VQ_RX, 6, "A, other queue, after a table swap");
	EXPECT_EQ(used, vg_vq_used_idx(&self->a.d, q));
	ASSERT_EQ(0, vg_get_stats(&self->a.d, &st));
	EXPECT_EQ(1ULL, st.vq[q].errors) TH_LOG("errors counted again");
	EXPECT_EQ(0ULL, st.vq[o].errors);
	EXPECT_EQ(0ULL, st.vq[0].bytes_copied);
	EXPECT_EQ(0ULL, st.vq[1].bytes_copied);
	if (self->has_b) {
		EXPECT_EQ(0ULL, dp_stat(&self->b, VG_VQ_RX,
					DP_STAT_OFF(errors)));
		EXPECT_EQ(0ULL, dp_stat(&self->b, VG_VQ_TX,
					DP_STAT_OFF(errors)));
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->b.d, VG_VQ_RX, 0));
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->b.d, VG_VQ_TX, 0));
	}

	/* stopping a device with a broken queue works and does not hang */
	EXPECT_EQ(0, vg_net_stop(&self->a));
	EXPECT_EQ(self->c.vmlck0,
		  dp_close_all(&self->c,
			       (struct vg_net *[]){ &self->a, &self->b },
			       self->has_b ? 2 : 1));
}

TEST_F_TIMEOUT(bad, desc_loop, 45)
{
	run_bad(_metadata, self, variant, BAD_LOOP);
}

TEST_F_TIMEOUT(bad, next_out_of_range, 45)
{
	run_bad(_metadata, self, variant, BAD_NEXT_RANGE);
}

TEST_F_TIMEOUT(bad, head_out_of_range, 45)
{
	run_bad(_metadata, self, variant, BAD_HEAD_RANGE);
}

TEST_F_TIMEOUT(bad, addr_len_wraps, 45)
{
	run_bad(_metadata, self, variant, BAD_ADDR_WRAP);
}

TEST_F_TIMEOUT(bad, len_sum_overflows_32bit, 45)
{
	run_bad(_metadata, self, variant, BAD_LEN_SUM);
}

/* starts inside guest memory, runs 4 GiB past its end */
TEST_F_TIMEOUT(bad, len_beyond_memory, 45)
{
	run_bad(_metadata, self, variant, BAD_LEN_HUGE);
}

TEST_F_TIMEOUT(bad, addr_above_memory, 45)
{
	run_bad(_metadata, self, variant, BAD_ADDR_ABOVE);
}

TEST_F_TIMEOUT(bad, addr_below_memory, 45)
{
	run_bad(_metadata, self, variant, BAD_ADDR_BELOW);
}

TEST_F_TIMEOUT(bad, chain_longer_than_ring, 45)
{
	run_bad(_metadata, self, variant, BAD_TOO_LONG);
}

TEST_F_TIMEOUT(bad, avail_idx_jump, 45)
{
	run_bad(_metadata, self, variant, BAD_AVAIL_IDX);
}

TEST_F_TIMEOUT(bad, indirect_in_indirect, 45)
{
	run_bad(_metadata, self, variant, BAD_IND_IN_IND);
}

TEST_F_TIMEOUT(bad, indirect_len_not_multiple, 45)
{
	run_bad(_metadata, self, variant, BAD_IND_LEN);
}

TEST_F_TIMEOUT(bad, wrong_direction, 45)
{
	run_bad(_metadata, self, variant, BAD_DIRECTION);
}

/*
 * More segments than the NIC scatters (a 1514-byte frame in 100
 * descriptors; an Rx buffer of 100 descriptors): given back unused,
 * counted in drops_too_big, no error; the queue keeps working.
 */
FIXTURE(segs) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
};

FIXTURE_VARIANT(segs) {
	struct dp_be be;
};

FIXTURE_VARIANT_ADD(segs, nicsim) {
	.be = { .kind = DP_BE_NICSIM },
};

/* virtio_net_accel takes 64 segments too (VNA_MAX_SEGS) */
FIXTURE_VARIANT_ADD(segs, vnic) {
	.be = { .kind = DP_BE_VNIC },
};

FIXTURE_SETUP(segs)
{
	struct vg_net_cfg cfg;
	char why[256];
	int r;

	if (!dp_be_available(&variant->be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	dp_guest_mac(self->mac, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.features = DP_F_V1 | DP_F_MRG;
	cfg.extra_mem = 64 * 1024;
	r = dp_ctx_init_be(&self->c, 'g', 0, &variant->be, cfg.features);
	if (!r) {
		r = vg_net_open(&self->g, VG_DEV_ACCEL, &cfg);
		if (r)
			snprintf(self->c.why, sizeof(self->c.why), "guest: %s",
				 dp_strerr(r));
	}
	if (!r) {
		r = vg_net_bind(&self->g, self->c.nic.ifindex, self->mac, 0);
		if (!r)
			r = vg_net_start(&self->g, -1);
		if (r)
			snprintf(self->c.why, sizeof(self->c.why),
				 "bind/start: %s%s", dp_strerr(r), dp_hint(r));
	}
	if (r) {
		vg_net_close(&self->g);
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(segs)
{
	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
}

TEST_F_TIMEOUT(segs, tx_too_many_segments, 45)
{
	struct vg_tx_layout lay = { .hdr_descs = 1, .data_descs = 99 };
	char why[200];

	vp_test_frame(self->c.tx, 1514, self->c.nic.peer_mac, self->mac, 1);
	ASSERT_EQ(0, dp_guest_send(&self->g, self->c.tx, 1514, &lay, NULL))
		TH_LOG("a 100-segment chain did not come back");
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	EXPECT_EQ(1ULL, dp_wait_stat(&self->g, VG_VQ_TX,
				     DP_STAT_OFF(drops_too_big), 1, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
	EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, VG_VQ_TX, 0));
	/* 64 pieces are fine */
	lay.data_descs = 63;
	vp_test_frame(self->c.tx, 1514, self->c.nic.peer_mac, self->mac, 2);
	ASSERT_EQ(0, dp_guest_send(&self->g, self->c.tx, 1514, &lay, NULL));
	ASSERT_EQ(0, dp_peer_expect(&self->c, self->c.tx, 1514, why,
				    sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(1ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_too_big)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_F_TIMEOUT(segs, rx_too_many_segments, 45)
{
	struct vg_buf in[100];
	struct vg_net_rx f;
	uint64_t gpa;
	uint32_t len = 0xdead;
	void *hva, *cookie = NULL;
	unsigned int i;
	char why[200];
	int head;

	ASSERT_EQ(0, vg_mem_alloc(&self->g.d, 100 * 16, 16, &gpa, &hva));
	for (i = 0; i < 100; i++) {
		in[i].gpa = gpa + 16 * i;
		in[i].len = 16;
	}
	head = vg_vq_add(&self->g.d, VG_VQ_RX, NULL, 0, in, 100, hva, 0);
	ASSERT_LE(0, head);
	ASSERT_LE(0, vg_vq_kick(&self->g.d, VG_VQ_RX));
	ASSERT_EQ(head, vg_vq_wait_used(&self->g.d, VG_VQ_RX, DP_WAIT_MS, &len,
					&cookie))
		TH_LOG("a 100-segment Rx buffer did not come back");
	EXPECT_EQ(hva, cookie);
	EXPECT_EQ(0U, len);
	EXPECT_EQ(1ULL, dp_wait_stat(&self->g, VG_VQ_RX,
				     DP_STAT_OFF(drops_too_big), 1, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
	EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, VG_VQ_RX, 0));
	/* ordinary buffers work after it */
	ASSERT_LT(0, vg_net_rx_fill(&self->g, self->g.rx_nbufs));
	ASSERT_LE(0, vg_vq_kick(&self->g.d, VG_VQ_RX));
	EXPECT_EQ((uint64_t)self->g.rx_nbufs,
		  dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted),
			       self->g.rx_nbufs, DP_WAIT_MS));
	vp_test_frame(self->c.tx, 1514, self->mac, self->c.nic.peer_mac, 5);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, 1514));
	ASSERT_EQ(0, dp_guest_recv(&self->g, &f, DP_WAIT_MS, NULL))
		TH_LOG("%s", self->g.err);
	ASSERT_EQ(0, dp_rx_check(&self->g, &f, self->c.tx, 1514, 1, why,
				 sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_HARNESS_MAIN
