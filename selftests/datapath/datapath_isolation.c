// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation between guests on one NIC (issue 13, defect 6): a binding made
 * through a macvtap follows the macvtap's mode and up/down state, and the
 * NIC drops (and counts) Tx frames whose source MAC is not the bound one.
 *
 *  - private: two guests on private macvtaps reach each other neither
 *    through the NIC's switch nor when the wire reflects their frames;
 *  - bridge: guests on bridge macvtaps switch locally (not on the wire);
 *    a frame for a vepa guest is not switched locally;
 *  - vepa: everything goes to the wire; only the wire's reflection (the
 *    peer plays a hairpin switch) reaches the other guest;
 *  - passthru: the guest takes the NIC's own MAC and is the only binding
 *    (beside another one it copies; accelerated or nothing: EBUSY);
 *  - a macvtap set down carries no traffic either way, and does again
 *    once up; a mode changed under a running guest applies at once;
 *  - a guest frame with a spoofed source MAC is dropped and counted
 *    (drops_spoofed), through SET_NIC and through a macvtap; with the
 *    opt-out (VHOST_ACCEL_BIND_F_NO_SPOOFCHK, the macvtap_spoofchk module
 *    parameter for macvtap bindings) it passes.
 *
 * Private MACs, test Ethertype 0x88b5 only, the peer in its own netns.
 */
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>

#include "dptest.h"
#include "mvtap.h"

#define NG	3
#define LEN	200
#define SPOOFCHK_PARAM "/sys/module/vhost_accel/parameters/macvtap_spoofchk"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

FIXTURE(iso) {
	struct dp_ctx c;
	struct vg_net g[NG];
	uint8_t mac[NG][6];
	char mvt[NG][VP_IFNAMSIZ];
	int idx[NG];
	int fd[NG];
	bool param_changed;
	char why[800];
};

FIXTURE_SETUP(iso)
{
	unsigned int i;
	int r;

	for (i = 0; i < NG; i++) {
		self->fd[i] = -1;
		dp_guest_mac(self->mac[i], i);
	}
	r = dp_ctx_init(&self->c, 'i', 0);
	if (r) {
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(iso)
{
	unsigned int i;

	for (i = 0; i < NG; i++) {
		vg_net_close(&self->g[i]);
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		if (self->idx[i])
			vp_nl_link_del(self->idx[i]);
	}
	if (self->param_changed)
		mv_write(SPOOFCHK_PARAM, "Y");
	dp_ctx_fini(&self->c);
}

/* The MAC address of link @name, from sysfs. */
static int iso_link_mac(const char *name, uint8_t *mac)
{
	char path[96], buf[32] = "";
	unsigned int b[6], k;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || sscanf(buf, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2],
			     &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (k = 0; k < 6; k++)
		mac[k] = (uint8_t)b[k];
	return 0;
}

/*
 * Macvtap @i in @mode on the NIC with the MAC of guest @i (passthru: the
 * NIC's, which macvlan gives it), up if @up, its queue fd open with a
 * 12-byte vnet header as QEMU sets it.
 */
static void iso_macvtap(struct __test_metadata *_metadata,
			struct _test_data_iso *self, unsigned int i,
			uint32_t mode, bool up)
{
	bool pt = mode == MACVLAN_MODE_PASSTHRU;
	char p[128];
	int vhdr = 12, r;

	snprintf(self->mvt[i], VP_IFNAMSIZ, VP_NAME_PREFIX "%d%c",
		 (int)getpid(), 'a' + i);
	r = mv_macvtap_add(self->mvt[i], self->c.nic.ifindex,
			   pt ? NULL : self->mac[i], mode);
	ASSERT_EQ(0, r) TH_LOG("macvtap %s mode %u on %s: %s", self->mvt[i],
			       mode, self->c.nic.name, dp_strerr(r));
	self->idx[i] = (int)if_nametoindex(self->mvt[i]);
	ASSERT_NE(0, self->idx[i]);
	if (pt)
		ASSERT_EQ(0, iso_link_mac(self->mvt[i], self->mac[i]));
	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 self->mvt[i]);
	mv_write(p, "1");
	ASSERT_EQ(0, vp_nl_link_set(self->idx[i], up, 0, -1, 1));
	self->fd[i] = mv_tap_open(self->mvt[i], self->idx[i]);
	ASSERT_LE(0, self->fd[i]) TH_LOG("/dev/tap%d: %s", self->idx[i],
					 dp_strerr(self->fd[i]));
	ASSERT_EQ(0, ioctl(self->fd[i], TUNSETVNETHDRSZ, &vhdr));
}

/* Guest @i opened on /dev/vhost-accel, neither bound nor started. */
static int iso_open(struct _test_data_iso *self, unsigned int i)
{
	struct vg_net_cfg cfg = {
		.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
		.rx_num = 256,
		.tx_num = 64,
	};

	return vg_net_open(&self->g[i], VG_DEV_ACCEL, &cfg);
}

/* Post every Rx buffer and wait until the NIC holds them. */
static int iso_fill(struct vg_net *g)
{
	if (vg_net_rx_fill(g, g->rx_nfree) < 0 || vg_vq_kick(&g->d, VG_VQ_RX))
		return -EIO;
	return dp_wait_rx_posted(g, false, 0);
}

/* Guest @i on /dev/vhost-accel, started with macvtap @i's queue fd. */
static int iso_guest_tap(struct _test_data_iso *self, unsigned int i)
{
	struct vg_net *g = &self->g[i];
	int r;

	r = iso_open(self, i);
	if (r)
		return r;
	r = vg_set_backend(&g->d, VG_VQ_RX, self->fd[i]);
	if (!r)
		r = vg_set_backend(&g->d, VG_VQ_TX, self->fd[i]);
	if (r)
		return r;
	return iso_fill(g);
}

/* Guest @i bound with VHOST_ACCEL_SET_NIC (@flags), started. */
static int iso_guest_nic(struct _test_data_iso *self, unsigned int i,
			 uint32_t flags)
{
	struct vg_net *g = &self->g[i];
	int r;

	r = iso_open(self, i);
	if (r)
		return r;
	r = vg_net_bind(g, self->c.nic.ifindex, self->mac[i], flags);
	if (r)
		return r;
	r = vg_net_start(g, -1);
	if (r)
		return r;
	return iso_fill(g);
}

#define GUEST_TAP(i) \
	do { \
		int _r = iso_guest_tap(self, i); \
		ASSERT_EQ(0, _r) TH_LOG("guest %u on macvtap %s: %s%s", i, \
					self->mvt[i], dp_strerr(_r), \
					dp_hint(_r)); \
	} while (0)

/* Guests 0 and 1 on macvtaps 0 and 1 in @mode, up. */
static void iso_two_guests(struct __test_metadata *_metadata,
			   struct _test_data_iso *self, uint32_t mode)
{
	iso_macvtap(_metadata, self, 0, mode, true);
	iso_macvtap(_metadata, self, 1, mode, true);
	GUEST_TAP(0);
	GUEST_TAP(1);
}

/* Guest @i sends a test frame @dst <- @src with @seq; it completes. */
static int iso_send(struct _test_data_iso *self, unsigned int i,
		    const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	vp_test_frame(self->c.tx, LEN, dst, src, seq);
	return dp_guest_send(&self->g[i], self->c.tx, LEN, NULL, NULL);
}

/* Guest @i receives test frame @seq from @src within @ms. */
static int iso_got(struct _test_data_iso *self, unsigned int i,
		   const uint8_t *src, uint32_t seq, int ms)
{
	struct vg_net_rx f;
	uint32_t got;
	int r;

	r = dp_guest_recv(&self->g[i], &f, ms, NULL);
	if (r) {
		snprintf(self->why, sizeof(self->why),
			 "guest %u: seq %u missing: %s", i, seq, dp_strerr(r));
		return r;
	}
	if (vp_test_frame_check(f.data, f.len, NULL, src, &got, self->why,
				sizeof(self->why)))
		return -EINVAL;
	if (got != seq) {
		snprintf(self->why, sizeof(self->why),
			 "guest %u: seq %u arrived, %u expected", i, got, seq);
		return -EINVAL;
	}
	return 0;
}

/* The peer receives test frame @seq from @src (0) or nothing; -errno. */
static int iso_peer_got(struct _test_data_iso *self, const uint8_t *src,
			uint32_t seq, size_t *len)
{
	ssize_t n = vp_packet_recv(self->c.pkt, self->c.rx, DP_BUFSZ,
				   DP_WAIT_MS, NULL);
	uint32_t got;

	if (n < 0) {
		snprintf(self->why, sizeof(self->why),
			 "peer: seq %u missing: %s", seq, dp_strerr((int)n));
		return (int)n;
	}
	if (vp_test_frame_check(self->c.rx, (size_t)n, NULL, src, &got,
				self->why, sizeof(self->why)))
		return -EINVAL;
	if (got != seq) {
		snprintf(self->why, sizeof(self->why),
			 "peer: seq %u arrived, %u expected", got, seq);
		return -EINVAL;
	}
	*len = (size_t)n;
	return 0;
}

/*
 * The peer as a hairpin ("reflective relay") switch: frame @seq from @src
 * arrives on the wire and goes back unchanged.
 */
static int iso_reflect(struct _test_data_iso *self, const uint8_t *src,
		       uint32_t seq)
{
	size_t len;
	int r = iso_peer_got(self, src, seq, &len);

	if (r)
		return r;
	return vp_packet_send(&self->c.nic, self->c.pkt, self->c.rx, len);
}

/* The peer sends test frame @seq to @dst. */
static int iso_peer_send(struct _test_data_iso *self, const uint8_t *dst,
			 uint32_t seq)
{
	vp_test_frame(self->c.tx, LEN, dst, self->c.nic.peer_mac, seq);
	return vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, LEN);
}

/*
 * Guest 0 sends test frame @seq to @dst; guest 1 does not get it through
 * the NIC (@leak: the failure); the wire gets it and reflects it.
 */
static void iso_send_to_wire(struct __test_metadata *_metadata,
			     struct _test_data_iso *self, const uint8_t *dst,
			     uint32_t seq, const char *leak)
{
	ASSERT_EQ(0, iso_send(self, 0, dst, self->mac[0], seq));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], DP_QUIET_MS))
		TH_LOG("%s", leak);
	ASSERT_EQ(0, iso_reflect(self, self->mac[0], seq)) TH_LOG("%s", self->why);
}

static void iso_close(struct __test_metadata *_metadata,
		      struct _test_data_iso *self)
{
	struct vg_net *gs[NG];
	unsigned int i, q;

	for (i = 0; i < NG; i++) {
		gs[i] = &self->g[i];
		if (!self->g[i].opened)
			continue;
		for (q = 0; q < VG_NVQS; q++)
			EXPECT_EQ(0ULL, dp_stat(&self->g[i], q,
						DP_STAT_OFF(errors)))
				TH_LOG("guest %u vq %u: errors", i, q);
	}
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c, gs, NG));
}

/*
 * 1. private: guest 0 -> guest 1 (unicast and broadcast) goes to the wire,
 * not to guest 1, and the wire's reflection is dropped too; the peer still
 * reaches guest 1.
 */
TEST_F_TIMEOUT(iso, private_mode, 90)
{
	iso_two_guests(_metadata, self, MACVLAN_MODE_PRIVATE);

	iso_send_to_wire(_metadata, self, self->mac[1], 1,
			 "private guest 1 got guest 0's unicast through the NIC");
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], DP_QUIET_MS))
		TH_LOG("private guest 1 got guest 0's unicast reflected by the wire");

	iso_send_to_wire(_metadata, self, bcast, 2,
			 "private guest 1 got guest 0's broadcast through the NIC");
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], DP_QUIET_MS))
		TH_LOG("private guest 1 got a reflected broadcast of guest 0");
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));

	/* the wire itself still reaches both */
	ASSERT_EQ(0, iso_peer_send(self, self->mac[1], 3));
	EXPECT_EQ(0, iso_got(self, 1, self->c.nic.peer_mac, 3, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	ASSERT_EQ(0, iso_peer_send(self, bcast, 4));
	EXPECT_EQ(0, iso_got(self, 0, self->c.nic.peer_mac, 4, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	EXPECT_EQ(0, iso_got(self, 1, self->c.nic.peer_mac, 4, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	iso_close(_metadata, self);
}

/*
 * 2. bridge: guests 0 and 1 on bridge macvtaps switch locally (nothing on
 * the wire); guest 2 on a vepa macvtap gets nothing from them through the
 * NIC: their frames for it go to the wire.
 */
TEST_F_TIMEOUT(iso, bridge_mode, 90)
{
	iso_macvtap(_metadata, self, 0, MACVLAN_MODE_BRIDGE, true);
	iso_macvtap(_metadata, self, 1, MACVLAN_MODE_BRIDGE, true);
	iso_macvtap(_metadata, self, 2, MACVLAN_MODE_VEPA, true);
	GUEST_TAP(0);
	GUEST_TAP(1);
	GUEST_TAP(2);

	ASSERT_EQ(0, iso_send(self, 0, self->mac[1], self->mac[0], 1));
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 1, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
		TH_LOG("a frame between bridge guests went to the wire");

	ASSERT_EQ(0, iso_send(self, 0, bcast, self->mac[0], 2));
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 2, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	EXPECT_EQ(0, dp_guest_quiet(&self->g[2], DP_QUIET_MS))
		TH_LOG("the vepa guest got a bridge guest's broadcast from the NIC");
	EXPECT_EQ(0, iso_peer_got(self, self->mac[0], 2, &(size_t){ 0 }))
		TH_LOG("%s", self->why);

	ASSERT_EQ(0, iso_send(self, 1, self->mac[2], self->mac[1], 3));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[2], DP_QUIET_MS))
		TH_LOG("bridge -> vepa guest switched inside the NIC");
	EXPECT_EQ(0, iso_peer_got(self, self->mac[1], 3, &(size_t){ 0 }))
		TH_LOG("%s", self->why);
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));
	iso_close(_metadata, self);
}

/*
 * 3. vepa: guest 0 -> guest 1 goes to the wire only; the peer reflects it
 * (hairpin) and then guest 1 gets it; a broadcast too, not back to 0.
 */
TEST_F_TIMEOUT(iso, vepa_mode, 90)
{
	iso_two_guests(_metadata, self, MACVLAN_MODE_VEPA);

	iso_send_to_wire(_metadata, self, self->mac[1], 1,
			 "vepa guest 1 got guest 0's frame inside the NIC");
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 1, DP_WAIT_MS))
		TH_LOG("reflected: %s", self->why);

	iso_send_to_wire(_metadata, self, bcast, 2,
			 "vepa guest 1 got guest 0's broadcast inside the NIC");
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 2, DP_WAIT_MS))
		TH_LOG("reflected broadcast: %s", self->why);
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], DP_QUIET_MS))
		TH_LOG("a reflected broadcast came back to its sender");
	iso_close(_metadata, self);
}

/*
 * 4. passthru: the macvtap has the NIC's MAC and the guest behind it is
 * the NIC's only binding: while another binding exists it is not
 * accelerated (it copies through the macvtap, as vhost-net would; refused
 * with EBUSY when accelerated or nothing), and it refuses others while it
 * runs; traffic flows both ways.
 */
TEST_F_TIMEOUT(iso, passthru_mode, 90)
{
	struct vhost_accel_stats st;
	static const uint8_t none[6];
	int r;

	iso_macvtap(_metadata, self, 0, MACVLAN_MODE_PASSTHRU, true);
	ASSERT_EQ(0, iso_guest_nic(self, 1, 0));
	ASSERT_EQ(0, iso_open(self, 0));
	r = vg_set_backend(&self->g[0].d, VG_VQ_RX, self->fd[0]);
	EXPECT_EQ(0, r) TH_LOG("passthru beside another binding: %s",
			       dp_strerr(r));
	ASSERT_EQ(0, vg_get_stats(&self->g[0].d, &st));
	EXPECT_EQ(VHOST_ACCEL_DATAPATH_COPY, st.datapath)
		TH_LOG("passthru beside another binding: datapath %u",
		       st.datapath);
	EXPECT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, -1));
	ASSERT_EQ(0, vg_net_bind(&self->g[0], 0, none,
				 VHOST_ACCEL_BIND_F_ACCEL_ONLY));
	r = vg_set_backend(&self->g[0].d, VG_VQ_RX, self->fd[0]);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("passthru beside another binding, accelerated or nothing: %s",
		       r ? dp_strerr(r) : "accepted");
	if (!r)
		vg_set_backend(&self->g[0].d, VG_VQ_RX, -1);
	ASSERT_EQ(0, vg_net_stop(&self->g[1]));
	ASSERT_EQ(0, vg_net_bind(&self->g[1], 0, self->mac[1], 0));

	r = vg_set_backend(&self->g[0].d, VG_VQ_RX, self->fd[0]);
	ASSERT_EQ(0, r) TH_LOG("passthru macvtap, NIC otherwise unused: %s",
			       dp_strerr(r));
	ASSERT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_TX, self->fd[0]));
	ASSERT_EQ(0, iso_fill(&self->g[0]));
	r = vg_net_bind(&self->g[1], self->c.nic.ifindex, self->mac[1], 0);
	EXPECT_EQ(-EBUSY, r) TH_LOG("SET_NIC beside a passthru binding: %s",
				    r ? dp_strerr(r) : "accepted");

	ASSERT_EQ(0, iso_peer_send(self, self->mac[0], 1));
	EXPECT_EQ(0, iso_got(self, 0, self->c.nic.peer_mac, 1, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	ASSERT_EQ(0, iso_send(self, 0, self->c.nic.peer_mac, self->mac[0], 2));
	EXPECT_EQ(0, iso_peer_got(self, self->mac[0], 2, &(size_t){ 0 }))
		TH_LOG("%s", self->why);
	iso_close(_metadata, self);
}

/*
 * 5. A macvtap set down carries no traffic in either direction, and does
 * again once up; a binding made while the macvtap is down starts silent.
 */
TEST_F_TIMEOUT(iso, macvtap_down, 90)
{
	uint32_t seq = 1;

	iso_macvtap(_metadata, self, 0, MACVLAN_MODE_BRIDGE, true);
	iso_macvtap(_metadata, self, 1, MACVLAN_MODE_BRIDGE, false);
	GUEST_TAP(0);
	GUEST_TAP(1);

	ASSERT_EQ(0, iso_peer_send(self, self->mac[0], seq));
	EXPECT_EQ(0, iso_got(self, 0, self->c.nic.peer_mac, seq, DP_WAIT_MS))
		TH_LOG("%s", self->why);
	seq++;

	ASSERT_EQ(0, vp_nl_link_set(self->idx[0], 0, 0, -1, -1));
	ASSERT_EQ(0, iso_peer_send(self, self->mac[0], seq++));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], DP_QUIET_MS))
		TH_LOG("a guest behind a down macvtap received");
	ASSERT_EQ(0, iso_send(self, 0, self->c.nic.peer_mac, self->mac[0],
			      seq++));
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
		TH_LOG("a guest behind a down macvtap sent");
	/* bound while down: silent as well */
	ASSERT_EQ(0, iso_peer_send(self, self->mac[1], seq++));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], DP_QUIET_MS))
		TH_LOG("a guest bound through a down macvtap received");

	ASSERT_EQ(0, vp_nl_link_set(self->idx[0], 1, 0, -1, -1));
	ASSERT_EQ(0, vp_nl_link_set(self->idx[1], 1, 0, -1, -1));
	ASSERT_EQ(0, iso_peer_send(self, self->mac[0], seq));
	EXPECT_EQ(0, iso_got(self, 0, self->c.nic.peer_mac, seq, DP_WAIT_MS))
		TH_LOG("up again: %s", self->why);
	seq++;
	ASSERT_EQ(0, iso_send(self, 0, self->c.nic.peer_mac, self->mac[0], seq));
	EXPECT_EQ(0, iso_peer_got(self, self->mac[0], seq, &(size_t){ 0 }))
		TH_LOG("up again: %s", self->why);
	seq++;
	ASSERT_EQ(0, iso_peer_send(self, self->mac[1], seq));
	EXPECT_EQ(0, iso_got(self, 1, self->c.nic.peer_mac, seq, DP_WAIT_MS))
		TH_LOG("bound while down, now up: %s", self->why);
	iso_close(_metadata, self);
}

/*
 * 6. The mode changed under running guests (ip link set ... type macvtap
 * mode private): the NIC follows at once, and back.
 */
TEST_F_TIMEOUT(iso, mode_change, 90)
{
	int r;

	iso_two_guests(_metadata, self, MACVLAN_MODE_BRIDGE);
	ASSERT_EQ(0, iso_send(self, 0, self->mac[1], self->mac[0], 1));
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 1, DP_WAIT_MS))
		TH_LOG("%s", self->why);

	r = mv_macvtap_set_mode(self->idx[1], MACVLAN_MODE_PRIVATE);
	ASSERT_EQ(0, r) TH_LOG("mode private: %s", dp_strerr(r));
	iso_send_to_wire(_metadata, self, self->mac[1], 2,
			 "guest 1, now private, got a frame through the NIC");
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], DP_QUIET_MS))
		TH_LOG("guest 1, now private, got a reflected frame");

	r = mv_macvtap_set_mode(self->idx[1], MACVLAN_MODE_BRIDGE);
	ASSERT_EQ(0, r) TH_LOG("mode bridge: %s", dp_strerr(r));
	ASSERT_EQ(0, iso_send(self, 0, self->mac[1], self->mac[0], 3));
	EXPECT_EQ(0, iso_got(self, 1, self->mac[0], 3, DP_WAIT_MS))
		TH_LOG("bridge again: %s", self->why);
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	iso_close(_metadata, self);
}

/*
 * 7. Spoofed source MACs: dropped and counted for a SET_NIC binding and a
 * macvtap binding (also another guest's MAC); frames with the bound MAC
 * pass.
 */
TEST_F_TIMEOUT(iso, spoof_dropped, 90)
{
	static const uint8_t other[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	unsigned int i;

	ASSERT_EQ(0, iso_guest_nic(self, 0, 0));
	iso_macvtap(_metadata, self, 1, MACVLAN_MODE_BRIDGE, true);
	GUEST_TAP(1);

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, iso_send(self, i, self->c.nic.peer_mac, other,
				      10 * i + 1));
		ASSERT_EQ(0, iso_send(self, i, self->c.nic.peer_mac,
				      self->mac[1 - i], 10 * i + 2));
		ASSERT_EQ(0, iso_send(self, i, self->c.nic.peer_mac,
				      self->mac[i], 10 * i + 3));
		EXPECT_EQ(0, iso_peer_got(self, self->mac[i], 10 * i + 3,
					  &(size_t){ 0 }))
			TH_LOG("guest %u: %s", i, self->why);
		EXPECT_EQ(2ULL, dp_wait_stat(&self->g[i], VG_VQ_TX,
					     DP_STAT_OFF(drops_spoofed), 2,
					     2000))
			TH_LOG("guest %u: drops_spoofed", i);
	}
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));
	iso_close(_metadata, self);
}

/*
 * 8. The opt-out: VHOST_ACCEL_BIND_F_NO_SPOOFCHK on SET_NIC, the
 * macvtap_spoofchk module parameter (N) for macvtap bindings made after
 * the change: spoofed frames pass, nothing counted.
 */
TEST_F_TIMEOUT(iso, spoof_optout, 90)
{
	static const uint8_t other[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x66 };
	unsigned int i;
	int r;

	r = iso_guest_nic(self, 0, VHOST_ACCEL_BIND_F_NO_SPOOFCHK);
	ASSERT_EQ(0, r) TH_LOG("SET_NIC with NO_SPOOFCHK: %s", dp_strerr(r));
	ASSERT_EQ(0, access(SPOOFCHK_PARAM, W_OK))
		TH_LOG("%s: %s", SPOOFCHK_PARAM, strerror(errno));
	mv_write(SPOOFCHK_PARAM, "N");
	self->param_changed = true;
	iso_macvtap(_metadata, self, 1, MACVLAN_MODE_BRIDGE, true);
	GUEST_TAP(1);
	mv_write(SPOOFCHK_PARAM, "Y");
	self->param_changed = false;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, iso_send(self, i, self->c.nic.peer_mac, other,
				      10 * i + 1));
		EXPECT_EQ(0, iso_peer_got(self, other, 10 * i + 1,
					  &(size_t){ 0 }))
			TH_LOG("guest %u, spoofchk off: %s", i, self->why);
		EXPECT_EQ(0ULL, dp_stat(&self->g[i], VG_VQ_TX,
					DP_STAT_OFF(drops_spoofed)));
	}
	iso_close(_metadata, self);
}

TEST_HARNESS_MAIN
