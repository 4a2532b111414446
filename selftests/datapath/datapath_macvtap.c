// SPDX-License-Identifier: GPL-2.0
/*
 * Binding through a macvtap fd, as unmodified QEMU does it
 * (-netdev tap,fd=T,vhost=on,vhostfd=V; libvirt <interface type='direct'>):
 * VHOST_NET_SET_BACKEND with the macvtap's queue fd on a /dev/vhost-accel
 * device that was never bound with VHOST_ACCEL_SET_NIC binds its queue
 * pair to the macvtap's lower device (a cooperating NIC: nicsim), steered
 * by the macvtap's MAC.  No CAP_NET_ADMIN is involved: the fd is the
 * authorization.
 *
 *  - traffic both ways through a macvtap on nicsim, exact bytes and
 *    counters, nothing copied, nothing duplicated into the macvtap's queue;
 *  - SET_BACKEND -1 on both queues releases the queue pair and the MAC
 *    (only once neither queue runs); the same fd binds again;
 *  - refusals, each with exactly one kernel line and vhost-net's errno:
 *    eventfd, /dev/null, UDP socket -> ENOTSOCK; the device works with a
 *    good fd after every one of them;
 *  - what vhost-net takes and no NIC accelerates (tun/tap fd, macvtap on
 *    a veth, AF_PACKET socket) runs the copying datapath (stats: COPY),
 *    and the same device is accelerated with the macvtap fd afterwards;
 *    the second queue follows the mode the first one got;
 *  - "accelerated or nothing" (SET_NIC {0, VHOST_ACCEL_BIND_F_ACCEL_ONLY},
 *    or the module parameter accel_only=1, put back after): those are
 *    refused with EOPNOTSUPP and one kernel line, an eventfd still with
 *    ENOTSOCK;
 *  - a second queue fd of the same macvtap on a second device binds a
 *    second queue pair of the MAC (multiqueue, datapath_multiqueue spreads
 *    flows over them); the same queue fd on a second device -> EBUSY
 *    (no copying through a macvtap another device accelerates), the
 *    macvtap's MAC through VHOST_ACCEL_SET_NIC -> EADDRINUSE;
 *  - the macvtap deleted under a running device (see that test); its fd
 *    still copies afterwards, as on vhost-net;
 *  - the macvtap's own counters (ip -s link, /proc/net/dev, sysfs) show
 *    the accelerated traffic exactly as the device's stats count it,
 *    NIC Tx errors as tx_dropped, Rx frames dropped for lack of guest
 *    buffers as rx_dropped; copying through a macvtap on a veth counts
 *    once; deleting the macvtap under traffic stops the counting.
 *
 * Everything lives in this process's network namespace and the peer's
 * (private MACs, Ethertype 0x88b5 test frames only).
 */
#include <fcntl.h>
#include <poll.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "dptest.h"
#include "mvtap.h"

#define NFR	20	/* frames each way in the traffic checks */
#define KMSG_TAG "vhost_accel: "

/* ---- the fixture ------------------------------------------------------ */

#define ACCEL_ONLY_PARAM	"/sys/module/vhost_accel/parameters/accel_only"

/* accel_only as it was before the test (teardown puts it back), or "". */
static char accel_only_old[8];

static int accel_only_set(const char *val)
{
	return vp_write_file(ACCEL_ONLY_PARAM, val);
}

FIXTURE(mvt) {
	struct dp_ctx c;
	struct vg_net g[2];
	uint8_t mac[6];		/* the macvtap's address */
	char mvt[VP_IFNAMSIZ];
	int mvt_idx;
	int tapfd;		/* first queue of the macvtap */
	int kmsg;
	char extra[4][VP_IFNAMSIZ];	/* other links to delete at the end */
	int fds[5];			/* other fds to close at the end */
	struct dp_ctx c2;	/* a second world (copy_counted_once) */
	bool c2_on;
	struct dp_traffic *t;	/* traffic both ways, when running */
	int tx_fd;		/* the peer's sending socket for @t */
	char why[800];
};

static void mvt_cfg(struct vg_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* what QEMU negotiates with a Linux guest, as far as we offer it */
	cfg->features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX | DP_F_IND;
	cfg->rx_num = 256;
	cfg->tx_num = 256;
}

static int mvt_build(struct _test_data_mvt *self)
{
	self->tapfd = mv_ctx_macvtap(&self->c, 'm', self->mvt, self->mac,
				     &self->mvt_idx, self->why,
				     sizeof(self->why));
	if (self->tapfd < 0)
		return self->tapfd;
	self->kmsg = vg_kmsg_open();
	return 0;
}

static void mvt_destroy(struct _test_data_mvt *self)
{
	unsigned int i;
	int idx;

	if (self->t) {
		dp_traffic_stop(self->t);
		free(self->t);
		self->t = NULL;
	}
	if (self->tx_fd >= 0)
		close(self->tx_fd);
	self->tx_fd = -1;
	vg_net_close(&self->g[0]);
	vg_net_close(&self->g[1]);
	if (self->c2_on)
		dp_ctx_fini(&self->c2);
	self->c2_on = false;
	for (i = 0; i < 5; i++) {
		if (self->fds[i] >= 0)
			close(self->fds[i]);
		self->fds[i] = -1;
		if (i >= 4)
			continue;
		idx = self->extra[i][0] ? (int)if_nametoindex(self->extra[i]) : 0;
		if (idx)
			vp_nl_link_del(idx);
	}
	if (self->tapfd >= 0)
		close(self->tapfd);
	self->tapfd = -1;
	if (self->kmsg >= 0)
		close(self->kmsg);
	self->kmsg = -1;
	idx = self->mvt[0] ? (int)if_nametoindex(self->mvt) : 0;
	if (idx)
		vp_nl_link_del(idx);
	dp_ctx_fini(&self->c);
}

FIXTURE_SETUP(mvt)
{
	unsigned int i;
	int r;

	self->tapfd = -1;
	self->kmsg = -1;
	self->tx_fd = -1;
	for (i = 0; i < 5; i++)
		self->fds[i] = -1;
	r = mvt_build(self);
	if (r) {
		mvt_destroy(self);
		ASSERT_EQ(0, r) TH_LOG("%s", self->why);
	}
}

FIXTURE_TEARDOWN(mvt)
{
	mvt_destroy(self);
	if (accel_only_old[0])
		accel_only_set(accel_only_old);
}

/* Open guest @i as QEMU does (owner, features, memory, vrings); no bind. */
static void guest_open(struct __test_metadata *_metadata,
		       struct _test_data_mvt *self, unsigned int i)
{
	struct vg_net_cfg cfg;
	int r;

	mvt_cfg(&cfg);
	r = vg_net_open(&self->g[i], VG_DEV_ACCEL, &cfg);
	ASSERT_EQ(0, r) TH_LOG("guest %u on %s: %s", i, VG_DEV_ACCEL,
			       dp_strerr(r));
}

/*
 * SET_BACKEND @fd on vq 0 then vq 1 (both must succeed), post every free
 * Rx buffer, kick, and wait until the NIC holds them (@posted_base: the
 * bufs_posted counter before this start, minus buffers used since).
 */
static void guest_start(struct __test_metadata *_metadata,
			struct _test_data_mvt *self, unsigned int i, int fd,
			uint64_t posted_base)
{
	struct vg_net *g = &self->g[i];
	int r;

	r = vg_set_backend(&g->d, VG_VQ_RX, fd);
	ASSERT_EQ(0, r) TH_LOG("guest %u: SET_BACKEND(vq 0, macvtap fd): %s%s",
			       i, dp_strerr(r), dp_hint(r));
	r = vg_set_backend(&g->d, VG_VQ_TX, fd);
	ASSERT_EQ(0, r) TH_LOG("guest %u: SET_BACKEND(vq 1, same fd): %s", i,
			       dp_strerr(r));
	ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nfree));
	ASSERT_LE(0, vg_vq_kick(&g->d, VG_VQ_RX));
	ASSERT_EQ(0, dp_wait_rx_posted(g, false, posted_base))
		TH_LOG("guest %u: the NIC did not get the %u Rx buffers", i,
		       vg_net_rx_posted(g));
}

/*
 * Stop both queues (SET_BACKEND -1 each) and rewind the rings to what
 * GET_VRING_BASE says, as QEMU does around a stop; the Rx index must count
 * exactly the buffers used.  Returns bufs_posted - used, the base for the
 * next guest_start().
 */
static uint64_t guest_stop(struct __test_metadata *_metadata,
			   struct _test_data_mvt *self, unsigned int i)
{
	struct vg_net *g = &self->g[i];
	unsigned int rx, tx;
	uint64_t posted = dp_stat(g, VG_VQ_RX, DP_STAT_OFF(bufs_posted));

	EXPECT_EQ(0, vg_set_backend(&g->d, VG_VQ_RX, -1));
	EXPECT_EQ(0, vg_set_backend(&g->d, VG_VQ_TX, -1));
	EXPECT_EQ(0, vg_get_vring_base(&g->d, VG_VQ_RX, &rx));
	EXPECT_EQ(0, vg_get_vring_base(&g->d, VG_VQ_TX, &tx));
	EXPECT_EQ((unsigned int)(uint16_t)g->rx_bufs_used, rx)
		TH_LOG("guest %u: Rx index after stop", i);
	EXPECT_EQ((unsigned int)(uint16_t)g->tx_completed, tx)
		TH_LOG("guest %u: Tx index after stop", i);
	EXPECT_EQ(0, vg_set_vring_base(&g->d, VG_VQ_RX, rx));
	EXPECT_EQ(0, vg_set_vring_base(&g->d, VG_VQ_TX, tx));
	return posted - g->rx_bufs_used;
}

/*
 * @n frames peer -> guest @i (to the macvtap's MAC, sequences from @seq,
 * lengths 60..1514), each checked byte for byte with its header; then @n
 * frames guest -> peer, each checked at the peer.  Returns the bytes each
 * way.
 */
static uint64_t exchange_on(struct __test_metadata *_metadata,
			    struct dp_ctx *c, struct vg_net *g,
			    const uint8_t *mac, unsigned int i, uint32_t seq,
			    unsigned int n)
{
	uint64_t bytes = 0;
	unsigned int k, stray = 0;
	struct vg_net_rx f;
	char why[256];

	for (k = 0; k < n; k++) {
		uint32_t len = 60 + (k * 379) % (1514 - 60 + 1);

		if (k == n - 1)
			len = 1514;
		vp_test_frame(c->tx, len, mac, c->nic.peer_mac, seq + k);
		ASSERT_EQ(0, vp_packet_send(&c->nic, c->pkt, c->tx, len));
		ASSERT_EQ(0, dp_guest_recv(g, &f, DP_WAIT_MS, &stray))
			TH_LOG("guest %u: frame seq %u (%u B) from the peer missing (%s)",
			       i, seq + k, len, g->err);
		ASSERT_EQ(0, dp_rx_check(g, &f, c->tx, len, dp_mrg_bufs(g, len),
					 why, sizeof(why)))
			TH_LOG("guest %u: %s", i, why);
		bytes += len;
	}
	EXPECT_EQ(0U, stray);
	for (k = 0; k < n; k++) {
		uint32_t len = 60 + (k * 211) % (1514 - 60 + 1);

		vp_test_frame(c->tx, len, c->nic.peer_mac, mac, seq + k);
		ASSERT_EQ(0, dp_guest_send(g, c->tx, len, NULL, NULL))
			TH_LOG("guest %u: Tx of seq %u not completed", i, seq + k);
		ASSERT_EQ(0, dp_peer_expect(c, c->tx, len, why, sizeof(why)))
			TH_LOG("guest %u: %s", i, why);
	}
	/* nothing twice */
	EXPECT_EQ(0, dp_peer_quiet(c, 100));
	EXPECT_EQ(0, dp_guest_quiet(g, 100));
	return bytes;
}

/* exchange_on() with guest @i of the fixture, through its macvtap */
static uint64_t exchange(struct __test_metadata *_metadata,
			 struct _test_data_mvt *self, unsigned int i,
			 uint32_t seq, unsigned int n)
{
	return exchange_on(_metadata, &self->c, &self->g[i], self->mac, i, seq,
			   n);
}

/* Bytes waiting on a macvtap queue fd (drained); 0 if none. */
static ssize_t tap_pending(int fd)
{
	char buf[2048];
	ssize_t total = 0, n;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += n;
	}
	return total;
}

/* No payload copied, and @errors reported on each queue (usually 0). */
static void expect_errors(struct __test_metadata *_metadata,
			  struct _test_data_mvt *self, unsigned int i,
			  unsigned long long errors)
{
	unsigned int q;

	for (q = 0; q < VG_NVQS; q++) {
		EXPECT_EQ(0ULL, dp_stat(&self->g[i], q, DP_STAT_OFF(bytes_copied)))
			TH_LOG("guest %u vq %u: bytes copied", i, q);
		EXPECT_EQ(errors, dp_stat(&self->g[i], q, DP_STAT_OFF(errors)))
			TH_LOG("guest %u vq %u: errors", i, q);
	}
}

static void expect_clean(struct __test_metadata *_metadata,
			 struct _test_data_mvt *self, unsigned int i)
{
	expect_errors(_metadata, self, i, 0);
}

/* stats.datapath of guest @i must be @want. */
static void expect_datapath(struct __test_metadata *_metadata,
			    struct _test_data_mvt *self, unsigned int i,
			    unsigned int want, const char *what)
{
	struct vhost_accel_stats st;

	ASSERT_EQ(0, vg_get_stats(&self->g[i].d, &st));
	EXPECT_EQ(want, st.datapath)
		TH_LOG("%s: datapath %u, want %u (1 ACCEL, 2 COPY)", what,
		       st.datapath, want);
}

static void close_all(struct __test_metadata *_metadata,
		      struct _test_data_mvt *self)
{
	struct vg_net *gs[2] = { &self->g[0], &self->g[1] };

	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c, gs, 2));
}

/*
 * SET_BACKEND(@fd) on vq @q of guest @i must fail with @want and print
 * exactly one kernel line.
 */
static void expect_refused(struct __test_metadata *_metadata,
			   struct _test_data_mvt *self, unsigned int i,
			   unsigned int q, int fd, int want, const char *what)
{
	char line[512];
	int r, n;

	vg_kmsg_count(self->kmsg, KMSG_TAG, NULL, 0, false);
	r = vg_set_backend(&self->g[i].d, q, fd);
	EXPECT_EQ(want, r) TH_LOG("%s on vq %u: %s, want %s", what, q,
				  r ? dp_strerr(r) : "accepted",
				  dp_strerr(want));
	if (self->kmsg < 0)
		return;
	n = vg_kmsg_count(self->kmsg, KMSG_TAG, line, sizeof(line), true);
	fprintf(stderr, "# %s, vq %u: %s, %d kernel line(s) above\n", what, q,
		r ? dp_strerr(r) : "accepted", n);
	EXPECT_EQ(1, n) TH_LOG("%s on vq %u: %d kernel lines \"%s...\", want 1",
			       what, q, n, KMSG_TAG);
}

/*
 * 1. The QEMU sequence with a macvtap on nicsim: traffic both ways, exact
 * payloads, exact counters, zero copies; the frames for the guest do not
 * also land on the macvtap's queue.
 */
TEST_F_TIMEOUT(mvt, traffic, 60)
{
	uint64_t bytes, txbytes = 0;
	unsigned int k;

	guest_open(_metadata, self, 0);
	guest_start(_metadata, self, 0, self->tapfd, 0);
	EXPECT_EQ(0, tap_pending(self->tapfd));
	bytes = exchange(_metadata, self, 0, 100, NFR);
	for (k = 0; k < NFR; k++)
		txbytes += 60 + (k * 211) % (1514 - 60 + 1);
	EXPECT_EQ((uint64_t)NFR, dp_wait_stat(&self->g[0], VG_VQ_RX,
					      DP_STAT_OFF(packets), NFR, 2000));
	EXPECT_EQ(bytes, dp_stat(&self->g[0], VG_VQ_RX, DP_STAT_OFF(bytes)));
	EXPECT_EQ((uint64_t)NFR, dp_wait_stat(&self->g[0], VG_VQ_TX,
					      DP_STAT_OFF(packets), NFR, 2000));
	EXPECT_EQ(txbytes, dp_stat(&self->g[0], VG_VQ_TX, DP_STAT_OFF(bytes)));
	EXPECT_EQ(0ULL, dp_stat(&self->g[0], VG_VQ_RX,
				DP_STAT_OFF(drops_no_buf)));
	expect_clean(_metadata, self, 0);
	/* the accelerated frames went to the guest only */
	EXPECT_EQ(0, tap_pending(self->tapfd))
		TH_LOG("frames for the guest also queued on the macvtap fd");
	close_all(_metadata, self);
}

/*
 * 2. SET_BACKEND -1 on both queues stops the datapath and releases the
 * queue pair and the MAC -- but only once neither queue runs; the same
 * macvtap fd binds again and traffic flows.
 */
TEST_F_TIMEOUT(mvt, stop_restart, 60)
{
	uint64_t base;

	guest_open(_metadata, self, 0);
	guest_open(_metadata, self, 1);
	guest_start(_metadata, self, 0, self->tapfd, 0);
	exchange(_metadata, self, 0, 0, 3);

	/*
	 * only Rx stopped: the binding (and the queue fd) is still held, and
	 * a macvtap through which a device runs accelerated backs no copying
	 * device either
	 */
	ASSERT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, -1));
	EXPECT_EQ(-EBUSY, vg_set_backend(&self->g[1].d, VG_VQ_RX, self->tapfd))
		TH_LOG("queue fd taken over while guest 0's Tx still runs");
	/* both stopped */
	ASSERT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_TX, -1));
	vp_test_frame(self->c.tx, 200, self->mac, self->c.nic.peer_mac, 99);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, 200));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], DP_QUIET_MS))
		TH_LOG("a stopped device received a frame");
	/* where frame 99 went with nobody bound (not asserted) */
	fprintf(stderr, "# frame to the MAC while unbound: %zd bytes on the macvtap fd\n",
		tap_pending(self->tapfd));

	/* released: guest 1 may take the queue fd (and then gives it back) */
	EXPECT_EQ(0, vg_set_backend(&self->g[1].d, VG_VQ_RX, self->tapfd))
		TH_LOG("queue fd/queue pair not released by SET_BACKEND -1 on both");
	expect_datapath(_metadata, self, 1, VHOST_ACCEL_DATAPATH_ACCEL,
			"the queue fd guest 0 released");
	EXPECT_EQ(0, vg_set_backend(&self->g[1].d, VG_VQ_RX, -1));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], 50));

	/* rewind as QEMU does and bind again with the same fd */
	{
		struct vg_net *g = &self->g[0];
		unsigned int rx, tx;

		ASSERT_EQ(0, vg_get_vring_base(&g->d, VG_VQ_RX, &rx));
		ASSERT_EQ(0, vg_get_vring_base(&g->d, VG_VQ_TX, &tx));
		EXPECT_EQ((unsigned int)g->rx_bufs_used, rx);
		EXPECT_EQ(3U, tx);
		ASSERT_EQ(0, vg_set_vring_base(&g->d, VG_VQ_RX, rx));
		ASSERT_EQ(0, vg_set_vring_base(&g->d, VG_VQ_TX, tx));
		base = dp_stat(g, VG_VQ_RX, DP_STAT_OFF(bufs_posted)) -
		       g->rx_bufs_used;
	}
	guest_start(_metadata, self, 0, self->tapfd, base);
	exchange(_metadata, self, 0, 10, 3);
	EXPECT_EQ(6ULL, dp_wait_stat(&self->g[0], VG_VQ_RX,
				     DP_STAT_OFF(packets), 6, 2000));
	EXPECT_EQ(6ULL, dp_wait_stat(&self->g[0], VG_VQ_TX,
				     DP_STAT_OFF(packets), 6, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g[1], VG_VQ_RX, DP_STAT_OFF(packets)));
	expect_clean(_metadata, self, 0);

	/* and a full stop / start cycle through the helpers once more */
	base = guest_stop(_metadata, self, 0);
	guest_start(_metadata, self, 0, self->tapfd, base);
	exchange(_metadata, self, 0, 20, 2);
	expect_clean(_metadata, self, 0);
	close_all(_metadata, self);
}

/* ---- backends nothing accelerates -------------------------------------- */

/* The fds vhost-net takes that no NIC accelerates, and a name for each. */
enum { BE_TAP, BE_VETH_MACVTAP, BE_PACKET, BE_N };

static const char *const be_what[BE_N] = {
	[BE_TAP] = "tun/tap fd (IFF_VNET_HDR, 12-byte header)",
	[BE_VETH_MACVTAP] = "macvtap on a veth",
	[BE_PACKET] = "AF_PACKET SOCK_RAW socket on a veth",
};

/* A tap from /dev/net/tun with the header QEMU sets. */
static int make_tap(struct __test_metadata *_metadata,
		    struct _test_data_mvt *self)
{
	struct ifreq ifr;
	int fd, vhdr = 12;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, fd) TH_LOG("/dev/net/tun: %s", strerror(errno));
	if (fd < 0)
		return -1;
	self->fds[0] = fd;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), VP_NAME_PREFIX "%dx",
		 (int)getpid());
	EXPECT_EQ(0, ioctl(fd, TUNSETIFF, &ifr))
		TH_LOG("TUNSETIFF: %s", strerror(errno));
	snprintf(self->extra[0], VP_IFNAMSIZ, "%s", ifr.ifr_name);
	EXPECT_EQ(0, ioctl(fd, TUNSETVNETHDRSZ, &vhdr));
	return fd;
}

/*
 * A tap, a macvtap on one end of a veth pair, a packet socket on that
 * end: their fds in @fd (also in self->fds[0..2], links in self->extra,
 * for the teardown).  None of them is connected to the peer.
 */
static void make_backends(struct __test_metadata *_metadata,
			  struct _test_data_mvt *self, int *fd)
{
	char veth[VP_IFNAMSIZ], vethp[VP_IFNAMSIZ], vmvt[VP_IFNAMSIZ];
	int vhdr = 12, idx, vidx, r;
	uint8_t vmac[6];

	fd[BE_TAP] = make_tap(_metadata, self);
	ASSERT_LE(0, fd[BE_TAP]);

	/* a macvtap whose lower device (a veth) does not cooperate */
	snprintf(veth, sizeof(veth), VP_NAME_PREFIX "%dv", (int)getpid());
	snprintf(vethp, sizeof(vethp), VP_NAME_PREFIX "%dw", (int)getpid());
	r = vp_nl_veth_add(veth, vethp);
	ASSERT_EQ(0, r) TH_LOG("veth %s/%s: %s", veth, vethp, dp_strerr(r));
	snprintf(self->extra[1], VP_IFNAMSIZ, "%s", veth);
	vidx = (int)if_nametoindex(veth);
	ASSERT_NE(0, vidx);
	dp_guest_mac(vmac, 1);
	r = mv_macvtap_create(vmvt, 'y', vidx, vmac, &idx);
	snprintf(self->extra[2], VP_IFNAMSIZ, "%s", vmvt);
	ASSERT_EQ(0, r) TH_LOG("macvtap %s on %s: %s", vmvt, veth, dp_strerr(r));
	fd[BE_VETH_MACVTAP] = mv_tap_open(vmvt, idx);
	ASSERT_LE(0, fd[BE_VETH_MACVTAP])
		TH_LOG("/dev/tap%d: %s", idx, dp_strerr(fd[BE_VETH_MACVTAP]));
	self->fds[1] = fd[BE_VETH_MACVTAP];
	ASSERT_EQ(0, ioctl(fd[BE_VETH_MACVTAP], TUNSETVNETHDRSZ, &vhdr));

	/* a packet socket on the veth */
	fd[BE_PACKET] = vp_packet_backend(vidx);
	ASSERT_LE(0, fd[BE_PACKET]) TH_LOG("AF_PACKET on %s: %s", veth,
					   dp_strerr(fd[BE_PACKET]));
	self->fds[2] = fd[BE_PACKET];
}

/*
 * The macvtap on nicsim on both queues of guest 0 after whatever came
 * before: accelerated, frames both ways (sequences from @seq), stopped
 * again.  Returns the bufs_posted base for the next start.
 */
static uint64_t good_fd_works(struct __test_metadata *_metadata,
			      struct _test_data_mvt *self, uint64_t base,
			      uint32_t seq)
{
	guest_start(_metadata, self, 0, self->tapfd, base);
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_ACCEL,
			"macvtap on nicsim");
	exchange(_metadata, self, 0, seq, 2);
	return guest_stop(_metadata, self, 0);
}

/*
 * 3. Refusals on an unbound device, each on both queues with exactly one
 * kernel line and the errno /dev/vhost-net gives for the same fd
 * (ENOTSOCK: no socket, or a socket that is neither a packet socket nor
 * a tap); the device works with the macvtap fd after each.
 */
TEST_F_TIMEOUT(mvt, refusals, 90)
{
	struct {
		const char *what;
		int fd;
	} bad[3];
	uint64_t base = 0;
	unsigned int k, q;
	int r;

	bad[0].what = "eventfd";
	bad[0].fd = self->fds[2] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	bad[1].what = "/dev/null";
	bad[1].fd = self->fds[3] = open("/dev/null", O_RDWR | O_CLOEXEC);
	bad[2].what = "UDP socket";
	bad[2].fd = self->fds[4] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, bad[0].fd);
	ASSERT_LE(0, bad[1].fd);
	ASSERT_LE(0, bad[2].fd) TH_LOG("UDP socket: %s", strerror(errno));

	ASSERT_LE(0, self->kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	guest_open(_metadata, self, 0);
	/* the reference: a /dev/vhost-net device set up the same way */
	{
		struct vg_net_cfg cfg;

		mvt_cfg(&cfg);
		r = vg_net_open(&self->g[1], VG_DEV_NET, &cfg);
		ASSERT_EQ(0, r) TH_LOG("%s: %s", VG_DEV_NET, dp_strerr(r));
	}
	for (k = 0; k < 3; k++) {
		for (q = 0; q < VG_NVQS; q++) {
			r = vg_set_backend(&self->g[1].d, q, bad[k].fd);
			EXPECT_EQ(-ENOTSOCK, r)
				TH_LOG("%s on vhost-net vq %u: %s", bad[k].what,
				       q, r ? dp_strerr(r) : "accepted");
			expect_refused(_metadata, self, 0, q, bad[k].fd,
				       -ENOTSOCK, bad[k].what);
		}
		/* nothing half-bound: the good fd works on both queues */
		base = good_fd_works(_metadata, self, base, 100 * k);
	}
	EXPECT_EQ(6ULL, dp_wait_stat(&self->g[0], VG_VQ_RX,
				     DP_STAT_OFF(packets), 6, 2000));
	EXPECT_EQ(6ULL, dp_wait_stat(&self->g[0], VG_VQ_TX,
				     DP_STAT_OFF(packets), 6, 2000));
	expect_clean(_metadata, self, 0);
	close_all(_metadata, self);
}

/*
 * 4. What vhost-net takes and nothing accelerates -- a tap, a macvtap on
 * a veth, a packet socket -- runs the copying datapath on an unbound
 * device: both queues accept it, the stats say COPY.  Stopped, the same
 * device is accelerated with the macvtap on nicsim, and copies again
 * with the next one.  Traffic through these backends: datapath_txrx's
 * copy_* variants.
 */
TEST_F_TIMEOUT(mvt, copy_backends, 90)
{
	uint64_t base = 0;
	unsigned int k, q;
	int fd[BE_N], r;

	make_backends(_metadata, self, fd);
	guest_open(_metadata, self, 0);
	for (k = 0; k < BE_N; k++) {
		for (q = 0; q < VG_NVQS; q++) {
			r = vg_set_backend(&self->g[0].d, q, fd[k]);
			EXPECT_EQ(0, r) TH_LOG("%s on vq %u: %s%s", be_what[k],
					       q, dp_strerr(r), dp_hint(r));
		}
		expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_COPY,
				be_what[k]);
		base = guest_stop(_metadata, self, 0);
		base = good_fd_works(_metadata, self, base, 100 * k);
	}
	expect_errors(_metadata, self, 0, 0);
	close_all(_metadata, self);
}

/*
 * 5. The second queue follows the mode the first one got, whatever fd it is
 * given: the macvtap on nicsim after a tap copies (through that macvtap),
 * a tap after the macvtap on nicsim is accelerated (the binding the first
 * queue made serves both).
 */
TEST_F_TIMEOUT(mvt, second_queue_follows, 60)
{
	uint64_t base = 0;
	int fd[BE_N], r;

	make_backends(_metadata, self, fd);
	guest_open(_metadata, self, 0);

	ASSERT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, fd[BE_TAP]));
	r = vg_set_backend(&self->g[0].d, VG_VQ_TX, self->tapfd);
	EXPECT_EQ(0, r) TH_LOG("Tx on the macvtap after Rx on a tap: %s",
			       dp_strerr(r));
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_COPY,
			"Rx on a tap, then Tx on the macvtap on nicsim");
	base = guest_stop(_metadata, self, 0);

	ASSERT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, self->tapfd));
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_ACCEL,
			"Rx on the macvtap on nicsim");
	r = vg_set_backend(&self->g[0].d, VG_VQ_TX, fd[BE_TAP]);
	EXPECT_EQ(0, r) TH_LOG("Tx on a tap after Rx on the macvtap: %s",
			       dp_strerr(r));
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_ACCEL,
			"Rx on the macvtap on nicsim, then Tx on a tap");
	base = guest_stop(_metadata, self, 0);

	good_fd_works(_metadata, self, base, 0);
	expect_clean(_metadata, self, 0);
	close_all(_metadata, self);
}

/*
 * The policy "accelerated or nothing" is set (by the caller): each of
 * those backends refused on both queues of guest 0 with EOPNOTSUPP and
 * one kernel line, an fd that is no socket still with ENOTSOCK; the
 * macvtap on nicsim is accelerated.
 */
static void accel_only_refusals(struct __test_metadata *_metadata,
				struct _test_data_mvt *self)
{
	unsigned int k, q;
	int fd[BE_N], efd;

	ASSERT_LE(0, self->kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	make_backends(_metadata, self, fd);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	self->fds[3] = efd;
	for (k = 0; k < BE_N; k++)
		for (q = 0; q < VG_NVQS; q++)
			expect_refused(_metadata, self, 0, q, fd[k],
				       -EOPNOTSUPP, be_what[k]);
	for (q = 0; q < VG_NVQS; q++)
		expect_refused(_metadata, self, 0, q, efd, -ENOTSOCK, "eventfd");
	good_fd_works(_metadata, self, 0, 0);
	expect_clean(_metadata, self, 0);
}

/* 6. The bind flag: SET_NIC {ifindex 0, VHOST_ACCEL_BIND_F_ACCEL_ONLY}. */
TEST_F_TIMEOUT(mvt, accel_only_flag, 90)
{
	static const uint8_t none[6];
	int r;

	guest_open(_metadata, self, 0);
	r = vg_net_bind(&self->g[0], 0, none, VHOST_ACCEL_BIND_F_ACCEL_ONLY);
	ASSERT_EQ(0, r) TH_LOG("SET_NIC {0, ACCEL_ONLY}: %s", dp_strerr(r));
	accel_only_refusals(_metadata, self);
	close_all(_metadata, self);
}

/*
 * 7. The module parameter accel_only=1, for every device (one opened
 * before it was set too); back at 0, a new device copies again.
 */
TEST_F_TIMEOUT(mvt, accel_only_param, 90)
{
	int fd, r, n;

	n = vp_capture(accel_only_old, sizeof(accel_only_old), "cat %s",
		       ACCEL_ONLY_PARAM);
	ASSERT_EQ(0, n) TH_LOG("%s unreadable", ACCEL_ONLY_PARAM);
	ASSERT_NE(0, accel_only_old[0]) TH_LOG("%s empty", ACCEL_ONLY_PARAM);
	guest_open(_metadata, self, 0);
	r = accel_only_set("1");
	ASSERT_EQ(0, r) TH_LOG("writing 1 to %s: %s", ACCEL_ONLY_PARAM,
			       dp_strerr(r));
	accel_only_refusals(_metadata, self);
	vg_net_close(&self->g[0]);

	r = accel_only_set("0");
	ASSERT_EQ(0, r) TH_LOG("writing 0 to %s: %s", ACCEL_ONLY_PARAM,
			       dp_strerr(r));
	guest_open(_metadata, self, 0);
	fd = self->fds[0];
	EXPECT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, fd));
	EXPECT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_TX, fd));
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_COPY,
			"tap with accel_only=0");
	close_all(_metadata, self);
}

/*
 * 8. The same MAC on a second device: a second queue fd of the macvtap
 * binds a second queue pair of that MAC (multiqueue; the frames of one
 * flow go to one of them); the very same queue fd is refused with EBUSY
 * and one kernel line (not copied through either: the NIC gives the MAC's
 * broadcasts to the macvtap too, and a guest would get them twice), also
 * with "accelerated or nothing"; the macvtap's MAC through
 * VHOST_ACCEL_SET_NIC is refused with EADDRINUSE and no line; the first
 * device carries on throughout and alone again after the second stops.
 */
TEST_F_TIMEOUT(mvt, same_mac_twice, 60)
{
	static const uint8_t none[6];
	unsigned int q, k, at[2] = { 0 };
	struct vg_net_rx f;
	int fd2;

	ASSERT_LE(0, self->kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	guest_open(_metadata, self, 0);
	guest_open(_metadata, self, 1);
	guest_start(_metadata, self, 0, self->tapfd, 0);
	exchange(_metadata, self, 0, 0, 2);

	for (q = 0; q < VG_NVQS; q++)
		expect_refused(_metadata, self, 1, q, self->tapfd, -EBUSY,
			       "the same macvtap queue fd on a second device");
	ASSERT_EQ(0, vg_net_bind(&self->g[1], 0, none,
				 VHOST_ACCEL_BIND_F_ACCEL_ONLY));
	for (q = 0; q < VG_NVQS; q++)
		expect_refused(_metadata, self, 1, q, self->tapfd, -EBUSY,
			       "the same macvtap queue fd, accelerated or nothing");
	EXPECT_EQ(-EADDRINUSE, vg_net_bind(&self->g[1], self->c.nic.ifindex,
					   self->mac, 0))
		TH_LOG("SET_NIC with the macvtap's MAC");
	EXPECT_EQ(0, vg_kmsg_count(self->kmsg, KMSG_TAG, NULL, 0, false));
	exchange(_metadata, self, 0, 10, 2);

	fd2 = mv_tap_open(self->mvt, self->mvt_idx);
	ASSERT_LE(0, fd2) TH_LOG("second open of /dev/tap%d: %s", self->mvt_idx,
				 dp_strerr(fd2));
	self->fds[0] = fd2;
	guest_start(_metadata, self, 1, fd2, 0);
	/* test frames are no IP: one flow, so all at one of the two */
	for (k = 0; k < 10; k++) {
		vp_test_frame(self->c.tx, 200, self->mac, self->c.nic.peer_mac,
			      50 + k);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 200));
	}
	for (k = 0; k < 10; k++) {
		uint32_t seq;

		for (q = 0; q < 2; q++)
			if (!dp_guest_recv(&self->g[q], &f,
					   at[q] || k == 0 ? 1000 : 50, NULL))
				break;
		ASSERT_GT(2U, q) TH_LOG("frame %u of 10 missing", k);
		ASSERT_EQ(0, vp_test_frame_check(f.data, f.len, self->mac,
						 NULL, &seq, self->why,
						 sizeof(self->why)));
		EXPECT_EQ(50 + k, seq);
		at[q]++;
	}
	EXPECT_TRUE(!at[0] || !at[1]) TH_LOG("one flow on two queues: %u/%u",
					     at[0], at[1]);
	EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));
	EXPECT_EQ(0, dp_guest_quiet(&self->g[1], 50));

	/* the second stops: the first has the MAC alone again */
	guest_stop(_metadata, self, 1);
	exchange(_metadata, self, 0, 20, 3);
	EXPECT_EQ(7ULL + at[0], dp_wait_stat(&self->g[0], VG_VQ_RX,
					     DP_STAT_OFF(packets), 7 + at[0],
					     2000));
	EXPECT_EQ(7ULL, dp_wait_stat(&self->g[0], VG_VQ_TX,
				     DP_STAT_OFF(packets), 7, 2000));
	EXPECT_EQ((uint64_t)at[1], dp_stat(&self->g[1], VG_VQ_RX,
					    DP_STAT_OFF(packets)));
	EXPECT_EQ(0ULL, dp_stat(&self->g[1], VG_VQ_TX, DP_STAT_OFF(packets)));
	expect_clean(_metadata, self, 0);
	expect_clean(_metadata, self, 1);
	close_all(_metadata, self);
}

/*
 * 9. The macvtap deleted (ip link del) under a running device.
 *
 * As with vhost-net, deleting the macvtap revokes what it granted: the
 * binding made through it ends, both queues report it on their error
 * eventfd, the guest is cut off, and the MAC is free for a new macvtap.
 */
TEST_F_TIMEOUT(mvt, macvtap_deleted_while_bound, 60)
{
	struct vhost_accel_stats st;
	int r, idx2, fd3;
	char name2[VP_IFNAMSIZ];

	guest_open(_metadata, self, 0);
	guest_open(_metadata, self, 1);
	guest_start(_metadata, self, 0, self->tapfd, 0);
	exchange(_metadata, self, 0, 0, 2);

	ASSERT_EQ(0, vp_nl_link_del(self->mvt_idx));
	vg_sleep_ms(200);
	EXPECT_EQ(0, (int)if_nametoindex(self->mvt));

	/* both queues report the loss */
	EXPECT_EQ(0, vg_vq_wait_err(&self->g[0].d, VG_VQ_RX, 2000));
	EXPECT_EQ(0, vg_vq_wait_err(&self->g[0].d, VG_VQ_TX, 2000));
	ASSERT_EQ(0, vg_get_stats(&self->g[0].d, &st));
	EXPECT_EQ(1ULL, st.vq[VG_VQ_RX].errors);
	EXPECT_EQ(1ULL, st.vq[VG_VQ_TX].errors);

	/* a new macvtap with the same MAC on the same NIC is usable at once */
	r = mv_macvtap_create(name2, 'u', self->c.nic.ifindex, self->mac, &idx2);
	snprintf(self->extra[0], VP_IFNAMSIZ, "%s", name2);
	ASSERT_EQ(0, r) TH_LOG("new macvtap with the old MAC: %s", dp_strerr(r));
	fd3 = mv_tap_open(name2, idx2);
	ASSERT_LE(0, fd3);
	self->fds[0] = fd3;

	/*
	 * the VMM stops; the dead fd is still a tap queue, which vhost-net
	 * takes: it binds nothing, it is copied through (and carries nothing)
	 */
	guest_stop(_metadata, self, 0);
	r = vg_set_backend(&self->g[0].d, VG_VQ_RX, self->tapfd);
	EXPECT_EQ(0, r) TH_LOG("fd of the deleted macvtap: %s", dp_strerr(r));
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_COPY,
			"fd of the deleted macvtap");
	EXPECT_EQ(0, vg_set_backend(&self->g[0].d, VG_VQ_RX, -1));
	guest_start(_metadata, self, 1, fd3, 0);
	{
		/* guest 1 now owns the MAC: traffic reaches it, not guest 0 */
		struct vg_net_rx f;
		char why[256];

		vp_test_frame(self->c.tx, 300, self->mac, self->c.nic.peer_mac, 7);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 300));
		ASSERT_EQ(0, dp_guest_recv(&self->g[1], &f, DP_WAIT_MS, NULL))
			TH_LOG("the new macvtap's device got nothing");
		ASSERT_EQ(0, dp_rx_check(&self->g[1], &f, self->c.tx, 300, 1,
					 why, sizeof(why))) TH_LOG("%s", why);
		EXPECT_EQ(0, dp_guest_quiet(&self->g[0], 50));
	}
	expect_errors(_metadata, self, 0, 1);
	expect_clean(_metadata, self, 1);
	close_all(_metadata, self);
}

/* ---- the macvtap's own counters ------------------------------------------ */

struct nd_counts {
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

/* @name's counters as ip -s link shows them (/proc/thread-self/net/dev). */
static int nd_read(const char *name, struct nd_counts *n)
{
	unsigned long long v[12];
	int r = dp_netdev_stats(name, v);

	if (r)
		return r;
	n->rx_bytes = v[0];
	n->rx_packets = v[1];
	n->rx_dropped = v[3];
	n->tx_bytes = v[8];
	n->tx_packets = v[9];
	n->tx_dropped = v[11];
	return 0;
}

/*
 * The same from /sys/class/net/@name/statistics: 0, or -ENOENT when that
 * sysfs belongs to another network namespace.
 */
static int nd_read_sysfs(const char *name, struct nd_counts *n)
{
	static const char *const f[6] = {
		"rx_packets", "rx_bytes", "rx_dropped",
		"tx_packets", "tx_bytes", "tx_dropped",
	};
	uint64_t *v[6] = {
		&n->rx_packets, &n->rx_bytes, &n->rx_dropped,
		&n->tx_packets, &n->tx_bytes, &n->tx_dropped,
	};
	char path[128];
	unsigned int i;
	int r;

	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
			 name, f[i]);
		r = vg_read_u64_file(path, v[i]);
		if (r)
			return r;
	}
	return 0;
}

static void nd_sub(struct nd_counts *a, const struct nd_counts *b)
{
	a->rx_packets -= b->rx_packets;
	a->rx_bytes -= b->rx_bytes;
	a->rx_dropped -= b->rx_dropped;
	a->tx_packets -= b->tx_packets;
	a->tx_bytes -= b->tx_bytes;
	a->tx_dropped -= b->tx_dropped;
}

/* @n as text, into @buf */
static const char *nd_fmt(char *buf, size_t len, const struct nd_counts *n)
{
	snprintf(buf, len,
		 "rx %llu pkts %llu B %llu dropped, tx %llu pkts %llu B %llu dropped",
		 (unsigned long long)n->rx_packets,
		 (unsigned long long)n->rx_bytes,
		 (unsigned long long)n->rx_dropped,
		 (unsigned long long)n->tx_packets,
		 (unsigned long long)n->tx_bytes,
		 (unsigned long long)n->tx_dropped);
	return buf;
}

/*
 * Until @ms passed: @name's counters since @base (in @got) equal @want,
 * in /proc/net/dev and, where this netns's, in sysfs.  The counters are
 * updated before the guest sees its buffers used, so this normally holds
 * at the first look.  0, or -ETIMEDOUT.
 */
static int nd_wait(const char *name, const struct nd_counts *base,
		   const struct nd_counts *want, struct nd_counts *got, int ms)
{
	uint64_t end = vg_now_ms() + ms;
	struct nd_counts sys;
	int r;

	for (;;) {
		r = nd_read(name, got);
		if (r)
			return r;
		nd_sub(got, base);
		if (!memcmp(got, want, sizeof(*want))) {
			if (nd_read_sysfs(name, &sys))
				return 0;
			nd_sub(&sys, base);
			if (!memcmp(&sys, want, sizeof(*want)))
				return 0;
		}
		if (vg_now_ms() >= end)
			return -ETIMEDOUT;
		vg_sleep_ms(10);
	}
}

/* ip -s link show @name, into the test's log */
static void nd_show(const char *name)
{
	char cmd[128];

	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "ip -s link show %s | sed 's/^/# /' >&2",
		 name);
	if (system(cmd))
		fprintf(stderr, "# (ip -s link show %s failed)\n", name);
}

/*
 * 10. The accelerated traffic is counted on the macvtap, as it would be
 * if it went through it: after traffic stops, the macvtap's rx/tx packets
 * and bytes equal the device's stats exactly, Rx frames the NIC dropped
 * for lack of guest buffers count as rx_dropped, a Tx frame the NIC
 * refused (spoofed source) as tx_dropped and not as sent.
 */
TEST_F_TIMEOUT(mvt, netdev_counters, 90)
{
	struct nd_counts base, want, got;
	char b1[128], b2[128];
	struct vg_net *g = &self->g[0];
	unsigned int k, few = 4, drop = 5;
	struct vhost_accel_stats st;
	uint64_t txbytes = 0;
	struct vg_net_rx f;
	uint8_t other[6];

	ASSERT_EQ(0, nd_read(self->mvt, &base));
	guest_open(_metadata, self, 0);

	/* only @few Rx buffers: the NIC drops what does not fit */
	ASSERT_EQ(0, vg_set_backend(&g->d, VG_VQ_RX, self->tapfd));
	ASSERT_EQ(0, vg_set_backend(&g->d, VG_VQ_TX, self->tapfd));
	ASSERT_LE(0, vg_net_rx_fill(g, few));
	ASSERT_LE(0, vg_vq_kick(&g->d, VG_VQ_RX));
	ASSERT_EQ(0, dp_wait_rx_posted(g, false, 0));
	for (k = 0; k < few + drop; k++) {
		vp_test_frame(self->c.tx, 60, self->mac, self->c.nic.peer_mac,
			      k);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, 60));
	}
	EXPECT_EQ((uint64_t)drop,
		  dp_wait_stat(g, VG_VQ_RX, DP_STAT_OFF(drops_no_buf), drop,
			       DP_WAIT_MS));
	for (k = 0; k < few; k++)
		ASSERT_EQ(0, dp_guest_recv(g, &f, DP_WAIT_MS, NULL))
			TH_LOG("frame %u of the %u that had a buffer", k, few);
	ASSERT_LE(0, vg_net_rx_fill(g, g->rx_nfree));
	ASSERT_LE(0, vg_net_rx_kick(g));
	/* no frame of the exchange may arrive before the NIC has buffers */
	ASSERT_EQ(0, dp_wait_rx_posted(g, false, 0));

	exchange(_metadata, self, 0, 100, NFR);
	for (k = 0; k < NFR; k++)
		txbytes += 60 + (k * 211) % (1514 - 60 + 1);

	/* a spoofed source: the NIC completes it with an error */
	dp_guest_mac(other, 7);
	vp_test_frame(self->c.tx, 300, self->c.nic.peer_mac, other, 999);
	ASSERT_EQ(0, dp_guest_send(g, self->c.tx, 300, NULL, NULL));
	EXPECT_EQ(1ULL, dp_wait_stat(g, VG_VQ_TX, DP_STAT_OFF(drops_nic), 1,
				     DP_WAIT_MS));
	EXPECT_EQ(0, dp_peer_quiet(&self->c, 100));

	ASSERT_EQ(0, vg_get_stats(&g->d, &st));
	EXPECT_EQ((uint64_t)(few + NFR), st.vq[VG_VQ_RX].packets);
	EXPECT_EQ((uint64_t)NFR + 1, st.vq[VG_VQ_TX].packets);
	EXPECT_EQ(txbytes + 300, st.vq[VG_VQ_TX].bytes);
	want.rx_packets = st.vq[VG_VQ_RX].packets;
	want.rx_bytes = st.vq[VG_VQ_RX].bytes;
	want.rx_dropped = st.vq[VG_VQ_RX].drops_no_buf;
	/* the device counts a Tx frame when the NIC takes it */
	want.tx_packets = st.vq[VG_VQ_TX].packets - st.vq[VG_VQ_TX].drops_nic;
	want.tx_bytes = txbytes;
	want.tx_dropped = st.vq[VG_VQ_TX].drops_nic;
	nd_show(self->mvt);
	EXPECT_EQ(0, nd_wait(self->mvt, &base, &want, &got, 2000))
		TH_LOG("%s counted %s; the device: %s", self->mvt,
		       nd_fmt(b1, sizeof(b1), &got),
		       nd_fmt(b2, sizeof(b2), &want));
	expect_errors(_metadata, self, 0, 0);
	close_all(_metadata, self);
	/* nothing counted after the device went */
	EXPECT_EQ(0, nd_wait(self->mvt, &base, &want, &got, 0));
}

/*
 * 11. Copying through a macvtap (on a veth, which does not cooperate):
 * the frames pass through the macvtap, which counts them itself; the
 * device adds nothing, so each frame counts once.
 */
TEST_F_TIMEOUT(mvt, copy_counted_once, 90)
{
	struct dp_be be = { .kind = DP_BE_MACVTAP_VETH };
	struct nd_counts base, want, got;
	char b1[128], b2[128];
	struct vhost_accel_stats st;
	struct vg_net_cfg cfg;
	int r;

	/* its macvtap takes the name (and MAC) of the fixture's */
	close(self->tapfd);
	self->tapfd = -1;
	ASSERT_EQ(0, vp_nl_link_del(self->mvt_idx));
	self->mvt[0] = 0;
	mvt_cfg(&cfg);
	r = dp_ctx_init_be(&self->c2, 'k', 0, &be, cfg.features);
	self->c2_on = true;
	ASSERT_EQ(0, r) TH_LOG("%s", self->c2.why);
	ASSERT_EQ(0, nd_read(self->c2.mvt, &base));
	r = dp_guest_up(&self->c2, &self->g[0], &cfg, self->c2.mvt_mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c2.why);
	expect_datapath(_metadata, self, 0, VHOST_ACCEL_DATAPATH_COPY,
			"macvtap on a veth");
	exchange_on(_metadata, &self->c2, &self->g[0], self->c2.mvt_mac, 0,
		    0, NFR);

	ASSERT_EQ(0, vg_get_stats(&self->g[0].d, &st));
	EXPECT_EQ((uint64_t)NFR, st.vq[VG_VQ_RX].packets);
	EXPECT_EQ((uint64_t)NFR, st.vq[VG_VQ_TX].packets);
	want.rx_packets = st.vq[VG_VQ_RX].packets;
	want.rx_bytes = st.vq[VG_VQ_RX].bytes;
	want.rx_dropped = 0;
	want.tx_packets = st.vq[VG_VQ_TX].packets;
	want.tx_bytes = st.vq[VG_VQ_TX].bytes;
	want.tx_dropped = 0;
	nd_show(self->c2.mvt);
	EXPECT_EQ(0, nd_wait(self->c2.mvt, &base, &want, &got, 2000))
		TH_LOG("%s counted %s; the device: %s", self->c2.mvt,
		       nd_fmt(b1, sizeof(b1), &got),
		       nd_fmt(b2, sizeof(b2), &want));
	vg_net_close(&self->g[0]);
}

/*
 * 12. The macvtap deleted while accelerated traffic runs both ways and is
 * counted on it: no crash (the VM run fails on any kernel BUG or
 * WARNING), the device reports the loss, and nothing is counted after.
 */
TEST_F_TIMEOUT(mvt, deleted_while_counting, 90)
{
	struct nd_counts base, got;
	struct vg_net_cfg cfg;
	uint64_t p0, p1;
	char why[512];
	int r;

	mvt_cfg(&cfg);
	self->tx_fd = vp_packet_open(&self->c.nic, VP_ETH_P_TEST,
				     VP_PKT_QDISC_BYPASS);
	ASSERT_LE(0, self->tx_fd);
	self->t = calloc(1, sizeof(*self->t));
	ASSERT_NE(NULL, self->t);
	ASSERT_EQ(0, nd_read(self->mvt, &base));
	guest_open(_metadata, self, 0);
	guest_start(_metadata, self, 0, self->tapfd, 0);
	dp_traffic_init(self->t, &self->g[0], self->mac, 2000);
	dp_traffic_peer(self->t, &self->c.nic, self->c.pkt, self->tx_fd);
	ASSERT_EQ(0, dp_traffic_start(self->t, true, true));
	DP_TRAFFIC_FLOWS(self->t, 200);

	/* counted on the macvtap while it runs */
	ASSERT_EQ(0, nd_read(self->mvt, &got));
	nd_sub(&got, &base);
	EXPECT_LT(0ULL, got.rx_packets) TH_LOG("no Rx counted on %s", self->mvt);
	EXPECT_LT(0ULL, got.tx_packets) TH_LOG("no Tx counted on %s", self->mvt);

	ASSERT_EQ(0, vp_nl_link_del(self->mvt_idx));
	r = dp_nic_gone_check(self->t, &self->g[0], 200, why, sizeof(why));
	EXPECT_EQ(0, r) TH_LOG("%s", why);
	EXPECT_EQ(0, (int)if_nametoindex(self->mvt));
	EXPECT_EQ(-ENOENT, nd_read(self->mvt, &got));

	/* the guest is cut off: its counters stop too */
	p0 = dp_stat(&self->g[0], VG_VQ_RX, DP_STAT_OFF(packets));
	vg_sleep_ms(200);
	p1 = dp_stat(&self->g[0], VG_VQ_RX, DP_STAT_OFF(packets));
	EXPECT_EQ(p0, p1);
	close_all(_metadata, self);
}

TEST_HARNESS_MAIN
