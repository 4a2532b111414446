// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle of the test VM's virtio-net NIC (selftests/vm/run.sh) on
 * virtio_net_accel, under traffic both ways: a guest thread keeps sending
 * numbered frames and taking the peer's, the traffic engine's sender and
 * reader do the same on the far side (the second virtio-net device, on
 * virtio_net in a netns of its own).  While both directions are busy:
 *
 *  - unbind: the device is unbound from virtio_net_accel through sysfs;
 *  - pci_remove: its PCI function is hot-unplugged;
 *  - rmmod: virtio_net_accel is unloaded;
 *  - reset_qps: the driver's debugfs knob takes the lent queue pair back
 *    (what a device-initiated queue reset does: the contract's detached
 *    path).
 *
 * In each case both queues of the guest signal their error eventfd,
 * every head the guest made available is in the used ring once or
 * at/after the index GET_VRING_BASE returns, no thread saw a wrong,
 * repeated or reordered frame, and closing the guest brings VmLck back
 * to its value before the guest.  Then the device is bound again (rebind;
 * rescan and rebind; insmod; nothing to do after a reset), a fresh guest
 * binds the same MAC and traffic flows both ways, nothing copied.
 *
 *  - reset_qps_macvtap: the same reset with the guest bound through a
 *    macvtap on the driver's netdev, as QEMU binds it.  vhost-accel then
 *    degrades to copying through the macvtap (no queue error) and takes a
 *    queue pair again within ~200 ms.  The netdev carries no host traffic:
 *    what the guest sends while copying goes into the netdev and is
 *    dropped there (its tx_dropped), and nothing arrives to copy to the
 *    guest (Rx bytes_copied stays 0).
 *  - second_mac_ebusy: while one guest has the device, a second guest
 *    MAC gets EBUSY (one MAC filter, no steering); once the first guest
 *    closes, the second binds and carries traffic.
 *
 * Every case ends with the device on virtio_net (the fixture's teardown,
 * vp_nic_destroy()) and virtio_net_accel loaded, so the next test starts
 * clean.  Without the NIC or the driver every case SKIPs, saying why.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/if_tun.h>

#include "dptest.h"
#include "mvtap.h"

#define VN_STALL_MS	20	/* peer: in-flight frames this old are lost */
#define VN_FLOW		200	/* frames each way that make "traffic flows" */
/* traffic goes on this long after an event (grows with VG_TIME_SCALE) */
#define VN_EVENT_MS	(300 * vg_time_scale())
/* copying -> accelerated again: vhost-accel retries every 200 ms */
#define VN_BACK_MS	(1000 * vg_time_scale())
#define VN_KO		"drivers/net/virtio_net_accel/virtio_net_accel.ko"
#define VN_DRV		"/sys/bus/virtio/drivers/" VP_VNIC_DRIVER
#define VN_DEBUGFS	"/sys/kernel/debug/" VP_VNIC_DRIVER

FIXTURE(vnic) {
	struct dp_ctx c;
	struct vg_net g, g2;
	struct dp_traffic t;
	uint8_t mac[6], mac2[6];
	int tx_fd;		/* the peer's sending socket */
	int tapfd;		/* reset_qps_macvtap: the macvtap's queue fd */
	char mvt[VP_IFNAMSIZ];
	char ko[PATH_MAX];	/* virtio_net_accel.ko, to load it again */
	bool reload;
};

static const struct dp_be vn_be = { .kind = DP_BE_VNIC };

/* What QEMU negotiates with a Linux guest. */
static const struct vg_net_cfg vn_cfg = {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
};

static bool vn_loaded(void)
{
	return !access("/sys/module/" VP_VNIC_DRIVER, F_OK);
}

static int vn_insmod(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		r = -errno;
	close(fd);
	return r;
}

FIXTURE_SETUP(vnic)
{
	char why[256];
	int r;

	self->tx_fd = self->tapfd = -1;
	dp_ctx_none(&self->c);
	if (!dp_be_available(&vn_be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	dp_guest_mac(self->mac, 0);
	dp_guest_mac(self->mac2, 1);
	r = dp_ctx_init_be(&self->c, 'v', 0, &vn_be, vn_cfg.features);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	/* dp_ctx_init_be() gave the far side one queue pair: frames in order */
	/* a stopped wire must fail the peer's sends visibly */
	self->tx_fd = vp_packet_open(&self->c.nic, VP_ETH_P_TEST,
				     VP_PKT_QDISC_BYPASS);
	ASSERT_LE(0, self->tx_fd);
}

FIXTURE_TEARDOWN(vnic)
{
	int idx;

	/* the tests after this one need the driver */
	if (self->reload && !vn_loaded() && vn_insmod(self->ko))
		fprintf(stderr, "# insmod %s failed\n", self->ko);
	dp_traffic_stop(&self->t);
	vg_net_close(&self->g);
	vg_net_close(&self->g2);
	if (self->tx_fd >= 0)
		close(self->tx_fd);
	if (self->tapfd >= 0)
		close(self->tapfd);
	idx = self->mvt[0] ? (int)if_nametoindex(self->mvt) : 0;
	if (idx)
		vp_nl_link_del(idx);
	/* the NIC back on virtio_net (after a rescan if it was removed) */
	dp_ctx_fini(&self->c);
}

/* ---- what the driver shows ---- */

/* First line of debugfs "lent": how many queue pairs, -1 if unreadable. */
static int vn_lent(struct vp_nic *nic, char *line, size_t len)
{
	unsigned int n, max;
	char path[160];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), VN_DEBUGFS "/%s/lent", nic->vnic_dev);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(line, (int)len, f) &&
	    sscanf(line, "%u of %u queue pairs lent", &n, &max) == 2)
		r = (int)n;
	line[strcspn(line, "\n")] = '\0';
	fclose(f);
	return r;
}

/* Wait until @want queue pairs are lent; the last count. */
static int vn_wait_lent(struct vp_nic *nic, int want, char *line, size_t len)
{
	uint64_t end = vg_now_ms() + DP_WAIT_MS;
	int n;

	while ((n = vn_lent(nic, line, len)) != want && vg_now_ms() < end)
		vg_sleep_ms(10);
	return n;
}

/* Devices virtio_net_accel drives now. */
static int vn_bound_devices(void)
{
	struct dirent *e;
	DIR *d = opendir(VN_DRV);
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "virtio", 6);
	closedir(d);
	return n;
}

/* ---- a guest with traffic both ways ---- */

/*
 * Guest @g up on the NIC with @mac (SET_NIC), the traffic both ways
 * running; with @drain, what an earlier guest left on the wire is taken
 * off the peer's socket first.
 */
static void vn_up(struct __test_metadata *_metadata,
		  struct _test_data_vnic *self, struct vg_net *g,
		  const uint8_t *mac, bool drain)
{
	char line[128];
	int r = dp_guest_up(&self->c, g, &vn_cfg, mac);

	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	EXPECT_EQ(1, vn_lent(&self->c.nic, line, sizeof(line)))
		TH_LOG("debugfs lent: %s", line);
	dp_traffic_init(&self->t, g, mac, VN_STALL_MS);
	dp_traffic_peer(&self->t, &self->c.nic, self->c.pkt, self->tx_fd);
	if (drain)
		vg_traffic_drain(self->c.pkt, 200);
	ASSERT_EQ(0, dp_traffic_start(&self->t, true, true));
	DP_TRAFFIC_FLOWS(&self->t, VN_FLOW);
}

/*
 * Traffic stopped on a guest whose device stayed: clean, every Tx chain
 * back, nothing copied, and closing it unpins everything and returns the
 * queue pair.
 */
static void vn_end(struct __test_metadata *_metadata,
		   struct _test_data_vnic *self, struct vg_net *g)
{
	char line[128];
	unsigned int q;

	dp_traffic_stop(&self->t);
	ASSERT_EQ(0, dp_traffic_settle(&self->t, true));
	DP_TRAFFIC_CHECK_CLEAN(&self->t);
	EXPECT_EQ(g->tx_queued, g->tx_completed)
		TH_LOG("Tx chains never came back");
	for (q = 0; q < VG_NVQS; q++) {
		EXPECT_EQ(0ULL, dp_stat(g, q, DP_STAT_OFF(bytes_copied)));
		EXPECT_EQ(0ULL, dp_stat(g, q, DP_STAT_OFF(errors)));
	}
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ g }, 1));
	EXPECT_EQ(0, vn_wait_lent(&self->c.nic, 0, line, sizeof(line)))
		TH_LOG("debugfs lent after close: %s", line);
}

/* ---- the device goes under traffic ---- */

struct vn_event {
	const char *what;
	int (*gone)(struct _test_data_vnic *self);
	int (*again)(struct _test_data_vnic *self);	/* NULL: nothing */
};

/*
 * The guest's device went (@ev): both queues report it, every head is
 * accounted for, closing the guest unpins everything; then the device
 * comes back and a fresh guest of the same MAC carries traffic.
 */
static void vn_removal(struct __test_metadata *_metadata,
		       struct _test_data_vnic *self, const struct vn_event *ev)
{
	struct dp_traffic *t = &self->t;
	char why[300];
	unsigned int q;
	int r;

	vn_up(_metadata, self, &self->g, self->mac, false);
	r = ev->gone(self);
	ASSERT_EQ(0, r) TH_LOG("%s: %s (%s)", ev->what, dp_strerr(r),
			       self->c.nic.err);
	EXPECT_EQ(0, dp_nic_gone_check(t, &self->g, VN_EVENT_MS, why,
				       sizeof(why)))
		TH_LOG("after %s: %s", ev->what, why);
	for (q = 0; q < VG_NVQS; q++)
		EXPECT_EQ(0ULL, dp_stat(&self->g, q, DP_STAT_OFF(bytes_copied)));
	DP_TRAFFIC_CHECK_CLEAN(t);
	TH_LOG("before %s: guest sent %llu, peer got %u; peer sent %u, guest got %u",
	       ev->what, (unsigned long long)self->g.tx_completed,
	       DP_TR_GOT(t), DP_TR_SENT(t), atomic_load(&t->rx_got));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));

	/*
	 * The device back, a fresh guest, traffic again.  The fresh guest
	 * has a MAC of its own: the outer QEMU still holds frames the peer
	 * sent to the first one while the device took none, and would hand
	 * them to a guest of that MAC first.
	 */
	if (ev->again) {
		r = ev->again(self);
		ASSERT_EQ(0, r) TH_LOG("after %s: %s (%s)", ev->what,
				       dp_strerr(r), self->c.nic.err);
	}
	vn_up(_metadata, self, &self->g, self->mac2, true);
	vn_end(_metadata, self, &self->g);
}

static int vn_unbind(struct _test_data_vnic *self)
{
	return vp_write_file(VN_DRV "/unbind", self->c.nic.vnic_dev);
}

static int vn_rebind(struct _test_data_vnic *self)
{
	return vp_vnic_rebind(&self->c.nic, true);
}

TEST_F_TIMEOUT(vnic, unbind, 120)
{
	static const struct vn_event ev = {
		"unbind from " VP_VNIC_DRIVER, vn_unbind, vn_rebind,
	};

	vn_removal(_metadata, self, &ev);
}

static int vn_pci_remove(struct _test_data_vnic *self)
{
	return vp_vnic_pci_remove(&self->c.nic);
}

/* A rescan gives the device to virtio_net: then ours again. */
static int vn_rescan(struct _test_data_vnic *self)
{
	int r = vp_vnic_pci_rescan(&self->c.nic);

	return r ? r : vp_vnic_rebind(&self->c.nic, true);
}

TEST_F_TIMEOUT(vnic, pci_remove, 120)
{
	static const struct vn_event ev = {
		"PCI removal", vn_pci_remove, vn_rescan,
	};

	vn_removal(_metadata, self, &ev);
}

static int vn_rmmod(struct _test_data_vnic *self)
{
	(void)self;
	return syscall(SYS_delete_module, VP_VNIC_DRIVER, O_NONBLOCK) ?
	       -errno : 0;
}

/* Loading the driver again binds it to every free virtio-net device. */
static int vn_reload(struct _test_data_vnic *self)
{
	int r = vn_insmod(self->ko);

	return r ? r : vp_vnic_rebind(&self->c.nic, true);
}

TEST_F_TIMEOUT(vnic, rmmod, 120)
{
	static const struct vn_event ev = {
		"rmmod " VP_VNIC_DRIVER, vn_rmmod, vn_reload,
	};
	int others;

	if (vp_module_ko(VN_KO, "VP_VNIC_KO", self->ko, sizeof(self->ko)))
		SKIP(return, "%s not found (VP_VNIC_KO or in the project): cannot load it again after the unload",
		     VN_KO);
	others = vn_bound_devices() - 1;
	if (others)
		SKIP(return, "%d other devices on %s (their users would lose them)",
		     others, VP_VNIC_DRIVER);
	self->reload = true;
	vn_removal(_metadata, self, &ev);
	EXPECT_TRUE(vn_loaded());
}

/*
 * The debugfs knob: the driver hands the lent queue pair back through
 * cb->detached, vhost detaches it from a work item; the driver, still
 * there, then lends nothing.
 */
static int vn_reset_qps(struct _test_data_vnic *self)
{
	char path[160], line[128];
	int r;

	snprintf(path, sizeof(path), VN_DEBUGFS "/%s/reset_qps",
		 self->c.nic.vnic_dev);
	r = vp_write_file(path, "1");
	if (r)
		return r;
	return vn_wait_lent(&self->c.nic, 0, line, sizeof(line)) ? -ETIMEDOUT :
								    0;
}

TEST_F_TIMEOUT(vnic, reset_qps, 120)
{
	static const struct vn_event ev = {
		"reset_qps", vn_reset_qps, NULL,
	};

	vn_removal(_metadata, self, &ev);
}

/* ---- the reset with a macvtap binding: degrade, don't fail ---- */

static int vn_stats(struct vg_net *g, struct vhost_accel_stats *st)
{
	memset(st, 0, sizeof(*st));
	return vg_get_stats(&g->d, st);
}

/* A macvtap on the driver's netdev with guest 0's MAC, its queue fd. */
static void vn_macvtap(struct __test_metadata *_metadata,
		       struct _test_data_vnic *self)
{
	int vhdr = 12, idx, r;

	r = mv_macvtap_create(self->mvt, 'm', self->c.nic.ifindex, self->mac,
			      &idx);
	ASSERT_EQ(0, r) TH_LOG("macvtap on %s: %s", self->c.nic.name,
			       dp_strerr(r));
	self->tapfd = mv_tap_open(self->mvt, idx);
	ASSERT_LE(0, self->tapfd) TH_LOG("open /dev/tap%d: %s", idx,
					 dp_strerr(self->tapfd));
	ASSERT_EQ(0, ioctl(self->tapfd, TUNSETVNETHDRSZ, &vhdr));
}

/* The guest bound through the macvtap fd as QEMU binds it, accelerated. */
static void vn_macvtap_guest(struct __test_metadata *_metadata,
			     struct _test_data_vnic *self)
{
	struct vhost_accel_stats st;
	struct vg_net *g = &self->g;
	int r;

	r = vg_net_open(g, VG_DEV_ACCEL, &vn_cfg);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", VG_DEV_ACCEL, dp_strerr(r));
	r = vg_net_start(g, self->tapfd);
	ASSERT_EQ(0, r) TH_LOG("SET_BACKEND(macvtap fd): %s%s", dp_strerr(r),
			       dp_hint(r));
	ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nfree));
	ASSERT_LE(0, vg_vq_kick(&g->d, VG_VQ_RX));
	ASSERT_EQ(0, dp_wait_rx_posted(g, false, 0))
		TH_LOG("the NIC did not get the %u Rx buffers",
		       vg_net_rx_posted(g));
	ASSERT_EQ(0, vn_stats(g, &st));
	ASSERT_EQ((uint32_t)VHOST_ACCEL_DATAPATH_ACCEL, st.datapath);
}

/* Wait for the accelerated datapath after @switches switches; ms or -1. */
static int vn_wait_accel(struct vg_net *g, uint64_t switches,
			 struct vhost_accel_stats *st)
{
	uint64_t t0 = vg_now_ms();

	while (!vn_stats(g, st)) {
		if (st->datapath == VHOST_ACCEL_DATAPATH_ACCEL &&
		    st->datapath_switches >= switches)
			return (int)(vg_now_ms() - t0);
		if (vg_now_ms() - t0 > (uint64_t)VN_BACK_MS)
			break;
		vg_sleep_ms(1);
	}
	return -1;
}

/*
 * A macvtap-bound guest's queue pair reset under traffic: vhost-accel
 * copies through the macvtap for a moment and takes a queue pair again,
 * no queue error, the guest's rings never stop.  While it copies the
 * macvtap's lower device is the driver's netdev, which carries no host
 * traffic: the guest's frames end in its tx_dropped and none arrives for
 * the guest (Rx copies nothing).  Nothing duplicated or reordered.
 */
TEST_F_TIMEOUT(vnic, reset_qps_macvtap, 120)
{
	uint64_t rx0, txd0, rx1, txd1, tx_frames, lost;
	struct dp_traffic *t = &self->t;
	struct vhost_accel_stats st;
	char path[160], line[128];
	unsigned int q;
	int ms;

	vn_macvtap(_metadata, self);
	vn_macvtap_guest(_metadata, self);
	EXPECT_EQ(1, vn_lent(&self->c.nic, line, sizeof(line)))
		TH_LOG("debugfs lent: %s", line);
	dp_traffic_init(t, &self->g, self->mac, VN_STALL_MS);
	t->say_dp = true;
	dp_traffic_peer(t, &self->c.nic, self->c.pkt, self->tx_fd);
	ASSERT_EQ(0, dp_netdev_drops(self->c.nic.name, &rx0, &txd0));
	ASSERT_EQ(0, dp_traffic_start(t, true, true));
	DP_TRAFFIC_FLOWS(t, VN_FLOW);

	snprintf(path, sizeof(path), VN_DEBUGFS "/%s/reset_qps",
		 self->c.nic.vnic_dev);
	ASSERT_EQ(0, vp_write_file(path, "1"));
	ms = vn_wait_accel(&self->g, 2, &st);
	EXPECT_LE(0, ms)
		TH_LOG("not accelerated again within %d ms of the reset (datapath %u, %llu switches)",
		       VN_BACK_MS, st.datapath,
		       (unsigned long long)st.datapath_switches);
	TH_LOG("reset -> accelerated again: %d ms", ms);
	for (q = 0; q < VG_NVQS; q++)
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, q, 0))
			TH_LOG("vq %u: error eventfd on a macvtap binding", q);
	DP_TRAFFIC_FLOWS(t, VN_FLOW);
	dp_traffic_stop(t);
	ASSERT_EQ(0, dp_traffic_settle(t, true));
	DP_TRAFFIC_CHECK_CLEAN(t);
	ASSERT_EQ(0, vn_stats(&self->g, &st));
	EXPECT_EQ(2ULL, st.datapath_switches);
	EXPECT_EQ(self->g.tx_queued, self->g.tx_completed)
		TH_LOG("Tx chains never came back");
	for (q = 0; q < VG_NVQS; q++)
		EXPECT_EQ(0ULL, st.vq[q].errors) TH_LOG("vq %u", q);
	/* the netdev delivers nothing to the host: nothing to copy in */
	EXPECT_EQ(0ULL, st.vq[VG_VQ_RX].bytes_copied);
	/* what the guest sent while copying went into the netdev, dropped */
	ASSERT_EQ(0, dp_netdev_drops(self->c.nic.name, &rx1, &txd1));
	tx_frames = st.vq[VG_VQ_TX].bytes_copied / DP_TR_LEN;
	lost = self->g.tx_completed - DP_TR_GOT(t);
	TH_LOG("while copying: Tx %llu frames copied, netdev tx_dropped +%llu; guest->peer lost %llu of %llu",
	       (unsigned long long)tx_frames,
	       (unsigned long long)(txd1 - txd0), (unsigned long long)lost,
	       (unsigned long long)self->g.tx_completed);
	EXPECT_EQ(tx_frames, txd1 - txd0)
		TH_LOG("copied guest frames not dropped by the netdev");
	EXPECT_LE(tx_frames, lost);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
	EXPECT_EQ(0, vn_wait_lent(&self->c.nic, 0, line, sizeof(line)))
		TH_LOG("debugfs lent after close: %s", line);
}

/* ---- one guest MAC at a time ---- */

TEST_F_TIMEOUT(vnic, second_mac_ebusy, 120)
{
	char line[128], want[32];
	int r;

	vn_up(_metadata, self, &self->g, self->mac, false);
	r = dp_guest_up(&self->c, &self->g2, &vn_cfg, self->mac2);
	EXPECT_EQ(-EBUSY, r) TH_LOG("second MAC while the first is bound: %s",
				    self->c.why);
	vg_net_close(&self->g2);
	EXPECT_EQ(1, vn_lent(&self->c.nic, line, sizeof(line)))
		TH_LOG("debugfs lent: %s", line);
	/* the first guest did not notice */
	DP_TRAFFIC_FLOWS(&self->t, VN_FLOW);
	vn_end(_metadata, self, &self->g);

	/* the first one gone, the second MAC binds and carries traffic */
	vn_up(_metadata, self, &self->g2, self->mac2, true);
	vn_lent(&self->c.nic, line, sizeof(line));
	snprintf(want, sizeof(want), "to %02x:%02x:%02x:%02x:%02x:%02x",
		 self->mac2[0], self->mac2[1], self->mac2[2], self->mac2[3],
		 self->mac2[4], self->mac2[5]);
	EXPECT_NE(NULL, strstr(line, want)) TH_LOG("debugfs lent: %s", line);
	vn_end(_metadata, self, &self->g2);
}

static bool vn_is_tagged(const struct vg_net_rx *f)
{
	return f->len > 14 && f->data[12] == 0x81 && f->data[13] == 0x00;
}

/* The next 802.1Q-tagged frame at @g; others are counted in *@stray. */
static int vn_recv_tagged(struct vg_net *g, struct vg_net_rx *f,
			  unsigned int *stray)
{
	return dp_guest_recv_if(g, f, DP_WAIT_MS, stray, vn_is_tagged);
}

/*
 * A legacy guest (10-byte header, no mergeable buffers) with Rx buffers
 * just large enough for a frame of MTU + 18 bytes (the driver's rx_min):
 * the driver's own 12-byte header comes first in the device's chain, so
 * the device's used length runs 2 bytes past the guest buffer's size,
 * and a frame that fills the buffer (VLAN-tagged, 1518 bytes) must still
 * arrive whole, as must the sizes just below it.
 */
TEST_F_TIMEOUT(vnic, rx_buffer_exact_hdr10, 60)
{
	static const unsigned int lens[] = { 1514, 1516, 1518 };
	struct vg_net_cfg cfg = {
		.features = 0,
		.rx_buf_len = 10 + 1500 + 18,
		.rx_bufs = 16,
	};
	unsigned int i, stray = 0;
	struct vg_net_rx f;
	uint8_t *buf = self->c.tx;
	int r;

	ASSERT_EQ(0, vp_nic_set_mtu(&self->c.nic, 1500)) TH_LOG("%s", self->c.nic.err);
	r = dp_guest_up(&self->c, &self->g, &cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	for (i = 0; i < VP_ARRAY_SIZE(lens); i++) {
		vp_test_frame(buf, lens[i], self->mac, self->c.nic.peer_mac, i);
		/* an 802.1Q tag where the Ethertype was: still ours after */
		memmove(buf + 16, buf + 12, lens[i] - 16);
		buf[12] = 0x81;
		buf[13] = 0x00;
		buf[14] = 0x00;
		buf[15] = 0x07;
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->tx_fd, buf,
					    lens[i]));
		ASSERT_EQ(0, vn_recv_tagged(&self->g, &f, &stray))
			TH_LOG("%u-byte tagged frame not received", lens[i]);
		ASSERT_EQ(lens[i], f.len) TH_LOG("frame %u", i);
		EXPECT_EQ(0, memcmp(buf, f.data, lens[i])) TH_LOG("frame %u", i);
	}
	if (stray)
		fprintf(stderr, "# %u other frames passed over\n", stray);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
}

TEST_HARNESS_MAIN
