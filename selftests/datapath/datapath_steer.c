// SPDX-License-Identifier: GPL-2.0
/*
 * Several vhost-accel devices on one NIC, steered by MAC address, and the
 * binding ioctl's rules.
 *
 *  - frames from the wire reach exactly the device whose MAC they carry
 *    (unknown unicast: nobody), broadcast and multicast reach all;
 *  - every device transmits; a frame to another bound device's MAC goes
 *    to that device, not to the wire;
 *  - VHOST_ACCEL_SET_NIC errors: ENODEV, EOPNOTSUPP, EADDRINUSE (the
 *    NIC's own addresses; a MAC already bound is another queue pair of
 *    that guest: datapath_multiqueue), EINVAL, EBUSY (running, or no queue
 *    pair left), ENETDOWN, EPERM;
 *  - unbind and rebind with another MAC; link down drops Tx (counted,
 *    buffers come back); the NIC deleted under running devices.
 *
 * Variant "vnic" runs on the VM's virtio-net NIC (virtio_net_accel), which
 * lends to one guest MAC at a time: its fixture has one guest, frames to
 * the other guests' MACs must not reach it (the device's MAC filter), a
 * second MAC is refused with EBUSY (second_mac), and what needs several
 * guests, the link knob or deleting the NIC is skipped, saying why
 * (Documentation/testing.rst, "The suite on the virtio-net NIC").
 */
#include <net/if.h>
#include <linux/capability.h>

#include "dptest.h"
#include "../control/vtest.h"	/* vt_run_child() */

#define NG	3
#define PER	50
#define LEN	300

FIXTURE(steer) {
	struct dp_ctx c;
	struct vg_net g[NG];
	uint8_t mac[NG][6];
	unsigned int ng;	/* guests up: NG, the virtio-net NIC 1 */
};

FIXTURE_VARIANT(steer) {
	struct dp_be be;
};

FIXTURE_VARIANT_ADD(steer, nicsim) {
	.be = { .kind = DP_BE_NICSIM },
};

/* Two engines: the guests' queue pairs 0 and 2 on one, 1 on the other. */
FIXTURE_VARIANT_ADD(steer, nicsim_engines2) {
	.be = { .kind = DP_BE_NICSIM, .engines = 2 },
};

FIXTURE_VARIANT_ADD(steer, vnic) {
	.be = { .kind = DP_BE_VNIC },
};

/* Why a case cannot run on the virtio-net NIC (one guest MAC at a time). */
#define VNIC_ONE_MAC	"one guest MAC at a time: no second guest on the NIC"

static void steer_cfg(struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX;
	cfg->rx_num = 256;
	cfg->tx_num = 64;
}

static int steer_build(struct _test_data_steer *self,
		       const struct _fixture_variant_steer *variant)
{
	struct vg_net_cfg cfg;
	unsigned int i;
	int r;

	steer_cfg(&cfg);
	r = dp_ctx_init_be(&self->c, 's', 0, &variant->be, cfg.features);
	if (r)
		return r;
	for (i = 0; i < NG; i++)
		dp_guest_mac(self->mac[i], i);
	self->ng = dp_vnic(&self->c) ? 1 : NG;
	for (i = 0; i < self->ng; i++) {
		r = dp_guest_up(&self->c, &self->g[i], &cfg, self->mac[i]);
		if (r)
			return r;
	}
	return 0;
}

FIXTURE_SETUP(steer)
{
	char why[256];
	unsigned int i;
	int r;

	if (!dp_be_available(&variant->be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	r = steer_build(self, variant);
	if (r) {
		for (i = 0; i < NG; i++)
			vg_net_close(&self->g[i]);
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(steer)
{
	unsigned int i;

	for (i = 0; i < NG; i++)
		vg_net_close(&self->g[i]);
	dp_ctx_fini(&self->c);
}

static uint64_t close_all(struct _test_data_steer *self)
{
	struct vg_net *gs[NG];
	unsigned int i;

	for (i = 0; i < self->ng; i++)
		gs[i] = &self->g[i];
	return dp_close_all(&self->c, gs, self->ng);
}

static void expect_no_copies(struct __test_metadata *_metadata,
			     struct _test_data_steer *self)
{
	unsigned int i, q;

	for (i = 0; i < self->ng; i++)
		for (q = 0; q < VG_NVQS; q++) {
			EXPECT_EQ(0ULL, dp_stat(&self->g[i], q,
						DP_STAT_OFF(bytes_copied)));
			EXPECT_EQ(0ULL, dp_stat(&self->g[i], q,
						DP_STAT_OFF(errors)));
		}
}

/* Guest @i receives test frames with sequences @first.. @first+@n-1. */
static void guest_expect_seq(struct __test_metadata *_metadata,
			     struct _test_data_steer *self, unsigned int i,
			     const uint8_t *dst, uint32_t first, unsigned int n)
{
	struct vg_net_rx f;
	unsigned int k, stray = 0;
	uint32_t seq;
	char why[200];

	for (k = 0; k < n; k++) {
		ASSERT_EQ(0, dp_guest_recv(&self->g[i], &f, DP_WAIT_MS, &stray))
			TH_LOG("guest %u: frame %u of %u missing (%s)", i, k, n,
			       self->g[i].err);
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, dst,
						 self->c.nic.peer_mac, &seq,
						 why, sizeof(why)))
			TH_LOG("guest %u: %s", i, why);
		ASSERT_EQ(first + k, seq) TH_LOG("guest %u: order", i);
	}
	EXPECT_EQ(0U, stray);
}

TEST_F_TIMEOUT(steer, rx_by_mac, 60)
{
	static const uint8_t nobody[6] = { 0x02, 0x64, 0x70, 0xff, 0xff, 0xfe };
	unsigned int i, k;

	for (k = 0; k < PER; k++) {
		for (i = 0; i < NG; i++) {
			vp_test_frame(self->c.tx, LEN, self->mac[i],
				      self->c.nic.peer_mac, 1000 * i + k);
			ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
						    self->c.tx, LEN));
		}
		if (k % 5 == 0) {
			vp_test_frame(self->c.tx, LEN, nobody,
				      self->c.nic.peer_mac, 9999);
			ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
						    self->c.tx, LEN));
		}
	}
	/* on the virtio-net NIC guests 1 and 2's MACs are nobody's */
	for (i = 0; i < self->ng; i++) {
		guest_expect_seq(_metadata, self, i, self->mac[i], 1000 * i, PER);
		EXPECT_EQ(0, dp_guest_quiet(&self->g[i], DP_QUIET_MS))
			TH_LOG("guest %u got somebody else's frame", i);
		EXPECT_EQ((uint64_t)PER,
			  dp_wait_stat(&self->g[i], VG_VQ_RX,
				       DP_STAT_OFF(packets), PER, 2000));
		EXPECT_EQ((uint64_t)PER * LEN,
			  dp_stat(&self->g[i], VG_VQ_RX, DP_STAT_OFF(bytes)));
	}
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

TEST_F_TIMEOUT(steer, broadcast_multicast_to_all, 60)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x63, 0x00, 0x01 };
	unsigned int i, k;

	for (k = 0; k < 10; k++) {
		vp_test_frame(self->c.tx, LEN, k & 1 ? mcast : bcast,
			      self->c.nic.peer_mac, k);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, LEN));
	}
	for (i = 0; i < self->ng; i++) {
		struct vg_net_rx f;
		unsigned int stray = 0;
		uint32_t seq;
		char why[200];

		for (k = 0; k < 10; k++) {
			ASSERT_EQ(0, dp_guest_recv(&self->g[i], &f, DP_WAIT_MS,
						   &stray))
				TH_LOG("guest %u: frame %u missing", i, k);
			ASSERT_EQ(0, vp_test_frame_check(f.data, f.len,
							 k & 1 ? mcast : bcast,
							 self->c.nic.peer_mac,
							 &seq, why, sizeof(why)))
				TH_LOG("guest %u: %s", i, why);
			ASSERT_EQ(k, seq);
		}
		EXPECT_EQ(0, dp_guest_quiet(&self->g[i], DP_QUIET_MS));
		EXPECT_EQ(0U, stray);
	}
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

TEST_F_TIMEOUT(steer, tx_from_all, 60)
{
	unsigned int i, k, next[NG] = { 0 }, total = 0;
	char why[200];

	for (k = 0; k < PER; k++)
		for (i = 0; i < self->ng; i++) {
			vp_test_frame(self->c.tx, LEN, self->c.nic.peer_mac,
				      self->mac[i], 1000 * i + k);
			ASSERT_LE(0, vg_net_tx(&self->g[i], NULL, self->c.tx,
					       LEN, NULL));
			ASSERT_LE(0, vg_net_tx_kick(&self->g[i]));
			if (vg_vq_num_free(&self->g[i].d, VG_VQ_TX) < 4)
				ASSERT_EQ(0, vg_net_tx_drain(&self->g[i],
							     DP_WAIT_MS));
		}
	for (i = 0; i < self->ng; i++)
		ASSERT_EQ(0, vg_net_tx_drain(&self->g[i], DP_WAIT_MS));
	while (total < self->ng * PER) {
		ssize_t n = vp_packet_recv(self->c.pkt, self->c.rx, DP_BUFSZ,
					   DP_WAIT_MS, NULL);
		uint32_t seq;

		ASSERT_EQ(LEN, n) TH_LOG("peer: %u of %u frames", total,
					 self->ng * PER);
		for (i = 0; i < self->ng; i++)
			if (!memcmp(self->c.rx + 6, self->mac[i], 6))
				break;
		ASSERT_GT(self->ng, i) TH_LOG("frame from an unknown source MAC");
		ASSERT_EQ(0, vp_test_frame_check(self->c.rx, LEN,
						 self->c.nic.peer_mac,
						 self->mac[i], &seq, why,
						 sizeof(why))) TH_LOG("%s", why);
		ASSERT_EQ(1000 * i + next[i], seq) TH_LOG("guest %u order", i);
		next[i]++;
		total++;
	}
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	for (i = 0; i < self->ng; i++)
		EXPECT_EQ((uint64_t)PER,
			  dp_wait_stat(&self->g[i], VG_VQ_TX,
				       DP_STAT_OFF(packets), PER, 2000));
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/* A frame to another bound device's MAC goes to it, not to the wire. */
TEST_F_TIMEOUT(steer, guest_to_guest, 60)
{
	unsigned int k;
	struct vg_net_rx f;
	uint32_t seq;
	char why[200];

	DP_SKIP_ON_VNIC(&self->c, VNIC_ONE_MAC);
	for (k = 0; k < 20; k++) {
		vp_test_frame(self->c.tx, LEN, self->mac[1], self->mac[0], k);
		ASSERT_EQ(0, dp_guest_send(&self->g[0], self->c.tx, LEN, NULL,
					   NULL));
	}
	for (k = 0; k < 20; k++) {
		ASSERT_EQ(0, dp_guest_recv(&self->g[1], &f, DP_WAIT_MS, NULL))
			TH_LOG("guest 1: frame %u from guest 0 missing", k);
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, self->mac[1],
						 self->mac[0], &seq, why,
						 sizeof(why))) TH_LOG("%s", why);
		ASSERT_EQ(k, seq);
	}
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
		TH_LOG("a frame between guests leaked to the wire");
	EXPECT_EQ(0, dp_guest_quiet(&self->g[2], 50));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));
	EXPECT_EQ(20ULL, dp_wait_stat(&self->g[0], VG_VQ_TX,
				      DP_STAT_OFF(packets), 20, 2000));
	EXPECT_EQ(20ULL, dp_wait_stat(&self->g[1], VG_VQ_RX,
				      DP_STAT_OFF(packets), 20, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g[2], VG_VQ_RX, DP_STAT_OFF(packets)));
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/* A device ready for binding: open, owned, memory and rings set. */
static int spare_open(struct vg_net *g)
{
	struct vg_net_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.features = DP_F_V1 | DP_F_MRG;
	cfg.rx_num = 16;
	cfg.tx_num = 16;
	return vg_net_open(g, VG_DEV_ACCEL, &cfg);
}

struct eperm_arg {
	struct vg_net *g;
	int ifindex;
	uint8_t mac[6];
};

static int eperm_child(void *p)
{
	struct eperm_arg *a = p;
	int r;

	if (vg_drop_cap(CAP_NET_ADMIN))
		return 101;
	if (vg_have_cap(CAP_NET_ADMIN) != 0)
		return 102;
	r = vg_net_bind(a->g, a->ifindex, a->mac, 0);
	return r == -EPERM ? 0 : 100 + (r < 0 ? -r : r) % 100;
}

TEST_F_TIMEOUT(steer, bind_errors, 60)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t zero[6] = { 0 };
	const bool vnic = dp_vnic(&self->c);
	struct eperm_arg ea;
	struct vg_net d;
	uint8_t fresh[6];
	const uint8_t *ok;
	int lo = (int)if_nametoindex("lo");

	dp_guest_mac(fresh, 9);
	/* a MAC that can be bound now: on the virtio-net NIC guest 0's only */
	ok = vnic ? self->mac[0] : fresh;
	ASSERT_EQ(0, spare_open(&d));
	EXPECT_EQ(-ENODEV, vg_net_bind(&d, 0x7ffffff0, fresh, 0));
	EXPECT_EQ(-EOPNOTSUPP, vg_net_bind(&d, lo, fresh, 0))
		TH_LOG("lo does not cooperate");
	/* the NIC's own addresses are not for guests */
	EXPECT_EQ(-EADDRINUSE, vg_net_bind(&d, self->c.nic.ifindex,
					   self->c.nic.mac, 0))
		TH_LOG("MAC of the NIC's host port");
	/*
	 * nicsim knows its wire peer's address; virtio_net_accel does not
	 * know the far side's: just another MAC while guest 0 has the device
	 */
	EXPECT_EQ(vnic ? -EBUSY : -EADDRINUSE,
		  vg_net_bind(&d, self->c.nic.ifindex, self->c.nic.peer_mac, 0))
		TH_LOG("MAC of the NIC's wire peer");
	/* guest 1's MAC again: a second queue pair of guest 1 (multiqueue) */
	EXPECT_EQ(0, vg_net_bind(&d, self->c.nic.ifindex,
				 self->mac[self->ng - 1], 0))
		TH_LOG("second queue pair with guest %u's MAC", self->ng - 1);
	EXPECT_EQ(0, vg_net_bind(&d, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, vg_net_bind(&d, self->c.nic.ifindex, mcast, 0));
	EXPECT_EQ(-EINVAL, vg_net_bind(&d, self->c.nic.ifindex, zero, 0));
	EXPECT_EQ(-EINVAL, vg_net_bind(&d, self->c.nic.ifindex, fresh,
				       0x80000000u));
	/* the lowest flag bit the uapi does not define */
	EXPECT_EQ(-EINVAL, vg_net_bind(&d, self->c.nic.ifindex, fresh,
				       VHOST_ACCEL_BIND_F_ACCEL_ONLY << 1));
	/* a running device cannot be rebound */
	EXPECT_EQ(-EBUSY, vg_net_bind(&self->g[0], self->c.nic.ifindex,
				      fresh, 0));
	EXPECT_EQ(-EBUSY, vg_net_bind(&self->g[0], 0, NULL, 0));
	/* without CAP_NET_ADMIN */
	ea.g = &d;
	ea.ifindex = self->c.nic.ifindex;
	memcpy(ea.mac, fresh, 6);
	EXPECT_EQ(0, vt_run_child(eperm_child, &ea)) TH_LOG("EPERM expected");
	/* NIC down */
	ASSERT_EQ(0, vp_nic_set_up(&self->c.nic, false));
	EXPECT_EQ(-ENETDOWN, vg_net_bind(&d, self->c.nic.ifindex, ok, 0));
	ASSERT_EQ(0, vp_nic_set_up(&self->c.nic, true));
	/* a second MAC: the virtio-net NIC has one filter (second_mac) */
	if (vnic)
		EXPECT_EQ(-EBUSY, vg_net_bind(&d, self->c.nic.ifindex, fresh,
					      0));
	/* and now it works, unbinds, binds again */
	EXPECT_EQ(0, vg_net_bind(&d, self->c.nic.ifindex, ok, 0));
	EXPECT_EQ(0, vg_net_bind(&d, 0, NULL, 0));
	EXPECT_EQ(0, vg_net_bind(&d, self->c.nic.ifindex, ok, 0));
	vg_net_close(&d);
	/* the MAC is free again once the device is gone */
	ASSERT_EQ(0, spare_open(&d));
	EXPECT_EQ(0, vg_net_bind(&d, self->c.nic.ifindex, ok, 0));
	vg_net_close(&d);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/* Queue pairs in the pool of @mac, from debugfs rss; -1 if none. */
static int pool_size(struct _test_data_steer *self, const uint8_t *mac)
{
	char buf[16384], want[64], *p;
	unsigned int n;

	if (vp_nic_knob_read(&self->c.nic, "rss", buf, sizeof(buf)))
		return -1;
	snprintf(want, sizeof(want), "pool %02x:%02x:%02x:%02x:%02x:%02x qps ",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	p = strstr(buf, want);
	if (!p || sscanf(p + strlen(want), "%u:", &n) != 1)
		return -1;
	return (int)n;
}

/*
 * The virtio-net NIC: spare devices with guest 0's MAC take the device's
 * other queue pairs (debugfs lent counts them) until none is left: EBUSY.
 * Freeing one makes room again.
 */
static void vnic_qps_exhausted(struct __test_metadata *_metadata,
			       struct _test_data_steer *self)
{
	unsigned int lent = 0, max = 0, i, n;
	struct vg_net *extra;
	int r = 0;

	ASSERT_EQ(0, dp_vnic_lent(&self->c, &lent, &max))
		TH_LOG("debugfs %s/%s/lent", VP_VNIC_DRIVER,
		       self->c.nic.vnic_dev);
	ASSERT_EQ(1U, lent);
	ASSERT_LE(2U, max) TH_LOG("the device has one queue pair (no MQ?)");
	n = max - 1;
	extra = calloc(n + 1, sizeof(*extra));
	ASSERT_NE(NULL, extra);
	for (i = 0; i <= n; i++) {
		r = spare_open(&extra[i]);
		if (r)
			break;
		r = vg_net_bind(&extra[i], self->c.nic.ifindex, self->mac[0],
				0);
		if (r)
			break;
	}
	EXPECT_EQ(n, i) TH_LOG("bound %u of %u free queue pairs: %s", i, n,
			       dp_strerr(r));
	EXPECT_EQ(-EBUSY, r);
	EXPECT_EQ(0, dp_vnic_lent(&self->c, &lent, &max));
	EXPECT_EQ(max, lent);
	if (i == n) {
		vg_net_close(&extra[0]);
		EXPECT_EQ(0, dp_vnic_lent(&self->c, &lent, &max));
		EXPECT_EQ(max - 1, lent);
		EXPECT_EQ(0, vg_net_bind(&extra[n], self->c.nic.ifindex,
					 self->mac[0], 0));
	}
	for (i = 0; i <= n; i++)
		vg_net_close(&extra[i]);
	free(extra);
	EXPECT_EQ(0, dp_vnic_lent(&self->c, &lent, &max));
	EXPECT_EQ(1U, lent);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/*
 * Bind spare devices until the NIC has no queue pair left: EBUSY.  Every
 * other one joins guest 0's pool: the only limit on a pool is the free
 * queue pairs.
 */
TEST_F_TIMEOUT(steer, queue_pairs_exhausted, 90)
{
	struct vg_net *extra;
	char buf[64];
	unsigned int qps, i, n;
	uint8_t mac[6];
	int r = 0;

	uint64_t v = 0;

	(void)buf;
	if (dp_vnic(&self->c)) {
		vnic_qps_exhausted(_metadata, self);
		return;
	}
	ASSERT_EQ(0, vg_read_u64_file("/sys/module/nicsim/parameters/max_qps",
				      &v)) TH_LOG("nicsim's max_qps parameter");
	qps = (unsigned int)v;
	ASSERT_LE(NG, qps);
	ASSERT_GE(256U, qps) TH_LOG("qps %u: too many to exhaust here", qps);
	n = qps - NG;
	extra = calloc(n + 1, sizeof(*extra));
	ASSERT_NE(NULL, extra);
	for (i = 0; i <= n; i++) {
		if (i & 1)
			memcpy(mac, self->mac[0], 6);
		else
			dp_guest_mac(mac, 0x20 + i);
		r = spare_open(&extra[i]);
		if (r)
			break;
		r = vg_net_bind(&extra[i], self->c.nic.ifindex, mac, 0);
		if (r)
			break;
	}
	EXPECT_EQ(n, i) TH_LOG("bound %u of %u free queue pairs: %s", i, n,
			       dp_strerr(r));
	EXPECT_EQ(-EBUSY, r);
	EXPECT_EQ(1 + n / 2, pool_size(self, self->mac[0]))
		TH_LOG("guest 0's pool in debugfs rss");
	/* freeing one makes room again, for the pool too */
	if (i == n && n > 1) {
		vg_net_close(&extra[1]);
		EXPECT_EQ(n / 2, pool_size(self, self->mac[0]));
		EXPECT_EQ(0, vg_net_bind(&extra[n], self->c.nic.ifindex,
					 self->mac[0], 0));
		EXPECT_EQ(1 + n / 2, pool_size(self, self->mac[0]));
	}
	for (i = 0; i <= n; i++)
		vg_net_close(&extra[i]);
	free(extra);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

TEST_F_TIMEOUT(steer, unbind_rebind_new_mac, 60)
{
	uint8_t newmac[6];
	struct vg_net_rx f;
	unsigned int base;
	uint64_t posted;
	uint32_t seq;
	char why[200];

	dp_guest_mac(newmac, 0x40);
	posted = dp_stat(&self->g[0], VG_VQ_RX, DP_STAT_OFF(bufs_posted));
	ASSERT_EQ(0, vg_net_stop(&self->g[0]));
	/* buffers the NIC held went back: nothing was used */
	ASSERT_EQ(0, vg_get_vring_base(&self->g[0].d, VG_VQ_RX, &base));
	EXPECT_EQ(0U, base);
	ASSERT_EQ(0, vg_net_bind(&self->g[0], 0, NULL, 0));
	ASSERT_EQ(0, vg_net_bind(&self->g[0], self->c.nic.ifindex, newmac, 0));
	ASSERT_EQ(0, vg_set_vring_base(&self->g[0].d, VG_VQ_RX, base));
	ASSERT_EQ(0, vg_net_start(&self->g[0], -1));
	ASSERT_LE(0, vg_vq_kick(&self->g[0].d, VG_VQ_RX));
	ASSERT_EQ(0, dp_wait_rx_posted(&self->g[0], false, posted))
		TH_LOG("Rx buffers not posted again after rebind");
	/* the old MAC is nobody's, the new one is guest 0's */
	vp_test_frame(self->c.tx, LEN, self->mac[0], self->c.nic.peer_mac, 1);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN));
	vp_test_frame(self->c.tx, LEN, newmac, self->c.nic.peer_mac, 2);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN));
	ASSERT_EQ(0, dp_guest_recv(&self->g[0], &f, DP_WAIT_MS, NULL))
		TH_LOG("nothing at the rebound device");
	ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, newmac, NULL, &seq,
					 why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(2U, seq);
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], DP_QUIET_MS));
	/* the old MAC can be bound by someone else now (not on vnic: EBUSY) */
	if (self->ng > 1) {
		EXPECT_EQ(0, dp_guest_quiet(&self->g[1], 50));
		ASSERT_EQ(0, vg_net_stop(&self->g[1]));
		ASSERT_EQ(0, vg_net_bind(&self->g[1], 0, NULL, 0));
		EXPECT_EQ(0, vg_net_bind(&self->g[1], self->c.nic.ifindex,
					 self->mac[0], 0));
	}
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/*
 * Link down: Tx frames are dropped by the NIC, counted, and their buffers
 * come back to the guest (the queue does not stall); link up: traffic.
 */
TEST_F_TIMEOUT(steer, link_down_drops_tx, 60)
{
	unsigned int k;
	char why[200];

	/* the outer QEMU's link (set_link in its monitor), not the VM's */
	DP_SKIP_ON_VNIC(&self->c, "no link knob: the link cannot be flapped from inside the VM");
	ASSERT_EQ(0, vp_nic_knob_write(&self->c.nic, "link", "0"))
		TH_LOG("debugfs nicsim/%s/link", self->c.nic.name);
	for (k = 0; k < 5; k++) {
		vp_test_frame(self->c.tx, LEN, self->c.nic.peer_mac,
			      self->mac[0], k);
		ASSERT_EQ(0, dp_guest_send(&self->g[0], self->c.tx, LEN, NULL,
					   NULL)) TH_LOG("Tx stalled with link down");
	}
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	EXPECT_EQ(5ULL, dp_wait_stat(&self->g[0], VG_VQ_TX,
				     DP_STAT_OFF(drops_nic), 5, 2000));
	ASSERT_EQ(0, vp_nic_knob_write(&self->c.nic, "link", "1"));
	vg_sleep_ms(100);
	vp_test_frame(self->c.tx, LEN, self->c.nic.peer_mac, self->mac[0], 10);
	ASSERT_EQ(0, dp_guest_send(&self->g[0], self->c.tx, LEN, NULL, NULL));
	ASSERT_EQ(0, dp_peer_expect(&self->c, self->c.tx, LEN, why,
				    sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(5ULL, dp_stat(&self->g[0], VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(0ULL, dp_stat(&self->g[0], VG_VQ_TX, DP_STAT_OFF(errors)));
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/*
 * The NIC goes away (ip link del) under three running devices with Rx
 * buffers posted: each device learns it through the error eventfd of both
 * queues (counted once each), every buffer comes back to its guest's
 * avail ring, the devices stay usable (stats, stop, close) and VmLck
 * returns.
 */
TEST_F_TIMEOUT(steer, nic_deleted_while_running, 60)
{
	struct vhost_accel_stats st;
	unsigned int i, base;

	DP_SKIP_ON_VNIC(&self->c, "its netdev cannot be deleted (ip link del); unbind and removal: datapath_lifecycle");
	ASSERT_EQ(0, vp_nl_link_del(self->c.nic.ifindex));
	self->c.nic.created = false;
	vg_sleep_ms(200);
	for (i = 0; i < NG; i++) {
		EXPECT_EQ(0, vg_vq_wait_err(&self->g[i].d, VG_VQ_RX, DP_WAIT_MS))
			TH_LOG("guest %u: no RX error eventfd", i);
		EXPECT_EQ(0, vg_vq_wait_err(&self->g[i].d, VG_VQ_TX, DP_WAIT_MS))
			TH_LOG("guest %u: no TX error eventfd", i);
		EXPECT_EQ(0, vg_get_stats(&self->g[i].d, &st));
		EXPECT_EQ(1ULL, st.vq[VG_VQ_RX].errors);
		EXPECT_EQ(1ULL, st.vq[VG_VQ_TX].errors);
		vg_net_stop(&self->g[i]);
		ASSERT_EQ(0, vg_get_vring_base(&self->g[i].d, VG_VQ_RX, &base));
		EXPECT_EQ(0U, base) TH_LOG("guest %u: posted Rx buffers lost", i);
		/* the binding is gone with the NIC */
		EXPECT_EQ(-ENODEV, vg_net_bind(&self->g[i], self->c.nic.ifindex,
					       self->mac[i], 0));
	}
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

/*
 * A second guest MAC on the NIC.  nicsim steers by MAC: it is bound at
 * once.  The virtio-net NIC has one MAC filter: EBUSY while guest 0 has
 * the device (its frames still arrive, the filter unchanged), and once
 * guest 0 is gone the second MAC gets the device and its frames, the old
 * MAC's no longer arrive.
 */
TEST_F_TIMEOUT(steer, second_mac, 60)
{
	const bool vnic = dp_vnic(&self->c);
	struct vg_net_cfg cfg;
	struct vg_net d, *g0 = &self->g[0];
	struct vg_net_rx f;
	uint8_t fresh[6];
	uint32_t seq;
	char why[200];

	dp_guest_mac(fresh, 9);
	ASSERT_EQ(0, spare_open(&d));
	EXPECT_EQ(vnic ? -EBUSY : 0,
		  vg_net_bind(&d, self->c.nic.ifindex, fresh, 0));
	vg_net_close(&d);
	/* guest 0 still receives */
	vp_test_frame(self->c.tx, LEN, self->mac[0], self->c.nic.peer_mac, 1);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN));
	ASSERT_EQ(0, dp_guest_recv(g0, &f, DP_WAIT_MS, NULL))
		TH_LOG("guest 0 lost its frames after a refused bind");
	if (!vnic) {
		EXPECT_EQ(self->c.vmlck0, close_all(self));
		return;
	}
	/* guest 0 gone: the second MAC gets the device */
	vg_net_close(g0);
	steer_cfg(&cfg);
	ASSERT_EQ(0, dp_guest_up(&self->c, g0, &cfg, fresh))
		TH_LOG("%s", self->c.why);
	vp_test_frame(self->c.tx, LEN, self->mac[0], self->c.nic.peer_mac, 2);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN));
	vp_test_frame(self->c.tx, LEN, fresh, self->c.nic.peer_mac, 3);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN));
	ASSERT_EQ(0, dp_guest_recv(g0, &f, DP_WAIT_MS, NULL))
		TH_LOG("nothing for the second MAC (%s)", g0->err);
	ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, fresh, NULL, &seq, why,
					 sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(3U, seq) TH_LOG("the old MAC's frame arrived");
	EXPECT_EQ(0, dp_guest_quiet(g0, DP_QUIET_MS));
	/* and now guest 0's MAC is the one refused */
	ASSERT_EQ(0, spare_open(&d));
	EXPECT_EQ(-EBUSY, vg_net_bind(&d, self->c.nic.ifindex, self->mac[0],
				      0));
	vg_net_close(&d);
	expect_no_copies(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, close_all(self));
}

TEST_HARNESS_MAIN
