// SPDX-License-Identifier: GPL-2.0
/*
 * Shared pieces of the vhost-accel datapath tests (dptest.h): the world of
 * one test (nicsim instance, peer netns and socket), guests on it, and the
 * waits and checks every datapath test makes.
 */
#define NO_KSFT_HARNESS
#include <poll.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "dptest.h"
#include "mvtap.h"
#include "../control/vtest.h"	/* vt_wait_vmlck() */

/*
 * VG_DP_TIMING=1 in the environment: phases print their time on stderr
 * (for finding where a slow test spends it).
 */
void dp_mark(const char *what)
{
	static uint64_t t0;
	static int on = -1;
	uint64_t now;

	if (on < 0) {
		const char *e = getenv("VG_DP_TIMING");

		on = e && *e && strcmp(e, "0");
	}
	if (!on)
		return;
	now = vg_now_ms();
	if (!t0)
		t0 = now;
	fprintf(stderr, "# %6llu ms %s\n", (unsigned long long)(now - t0), what);
}

/* Locally administered unicast MAC for guest @idx of this process. */
void dp_guest_mac(uint8_t *mac, unsigned int idx)
{
	unsigned int pid = (unsigned int)getpid();

	mac[0] = 0x02;
	mac[1] = 0x64;
	mac[2] = 0x70;
	mac[3] = (uint8_t)(pid >> 8);
	mac[4] = (uint8_t)pid;
	mac[5] = (uint8_t)(0x10 + idx);
}

const char *dp_strerr(int r)
{
	return strerror(r < 0 ? -r : r);
}

/*
 * The far side of the virtio-net NIC is a multiqueue virtio_net, whose Tx
 * queue follows the sending CPU (XPS): frames sent from two CPUs may pass
 * each other on the outer host's taps.  One queue pair there while a test
 * runs keeps the peer's frames in order, as on a wire (@one), and all of
 * them again after it (the preset maximum, the first "Combined:" line).
 */
static int dp_vnic_peer_queues(struct dp_ctx *c, bool one)
{
	int r;

	if (one)
		r = vp_peer_run(&c->nic, "ethtool -L %s combined 1 >&2",
				c->nic.peer);
	else
		r = vp_peer_run(&c->nic,
				"ethtool -L %s combined $(ethtool -l %s | awk '/^Combined/ { print $2; exit }') >&2",
				c->nic.peer, c->nic.peer);
	if (r)
		snprintf(c->why, sizeof(c->why),
			 "ethtool -L %s combined %s: exit status %d",
			 c->nic.peer, one ? "1" : "(max)", r);
	return r ? -EIO : 0;
}

void dp_ctx_fini(struct dp_ctx *c)
{
	int idx;

	dp_mark("fini: start");
	if (c->be.kind == DP_BE_VNIC && c->nic.created && c->nic.peer_ns >= 0)
		dp_vnic_peer_queues(c, false);
	if (c->pkt >= 0)
		close(c->pkt);
	c->pkt = -1;
	if (c->bfd >= 0)
		close(c->bfd);
	c->bfd = -1;
	idx = c->mvt[0] ? (int)if_nametoindex(c->mvt) : 0;
	if (idx)
		vp_nl_link_del(idx);
	c->mvt[0] = '\0';
	vp_nic_destroy(&c->nic);
	dp_mark("fini: nic destroyed");
	free(c->tx);
	free(c->rx);
	c->tx = c->rx = NULL;
}

/* A world that was never made (a skipped case): dp_ctx_fini() is a no-op. */
void dp_ctx_none(struct dp_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->pkt = -1;
	c->bfd = -1;
	c->nic.self_ns = -1;
	c->nic.peer_ns = -1;
}

/*
 * Set the MTU of NIC and peer to @want or, if either cannot, the largest
 * both accept (at least 1500).
 */
int dp_set_mtu(struct dp_ctx *c, unsigned int want)
{
	unsigned int m1 = want, m2 = want;
	int r;

	if (!want)
		return 0;
	r = vp_nic_set_mtu(&c->nic, want);
	if (!r) {
		c->mtu = want;
		return 0;
	}
	if (vp_nic_max_mtu(&c->nic, false, &m1) ||
	    vp_nic_max_mtu(&c->nic, true, &m2)) {
		snprintf(c->why, sizeof(c->why), "MTU %u refused (%s) and no maxmtu",
			 want, c->nic.err);
		return -EINVAL;
	}
	want = m1 < m2 ? m1 : m2;
	if (want < 1500 || vp_nic_set_mtu(&c->nic, want)) {
		snprintf(c->why, sizeof(c->why), "cannot set MTU %u: %s", want,
			 c->nic.err);
		return -EINVAL;
	}
	c->mtu = want;
	return 0;
}

/*
 * What either kind of world starts with: memlock raised, VmLck read before
 * any guest, the scratch buffers.  Returns 0 or -errno with c->why.
 */
static int dp_ctx_start(struct dp_ctx *c)
{
	int r;

	/* guests pin their memory (locked_vm); the VM's default is 8 MiB */
	vg_set_memlock(DP_MEMLOCK);
	memset(c, 0, sizeof(*c));
	c->pkt = -1;
	c->bfd = -1;
	c->nic.self_ns = c->nic.peer_ns = -1;
	c->mtu = 1500;
	r = vg_vmlck_kb(&c->vmlck0);
	if (r) {
		snprintf(c->why, sizeof(c->why), "VmLck: %s", dp_strerr(r));
		return r;
	}
	c->tx = calloc(1, DP_BUFSZ);
	c->rx = calloc(1, DP_BUFSZ);
	if (!c->tx || !c->rx)
		return -ENOMEM;
	return 0;
}

/* And once the link exists: its MTU and the peer's AF_PACKET socket. */
static int dp_ctx_peer(struct dp_ctx *c, unsigned int mtu)
{
	int r;

	r = dp_set_mtu(c, mtu);
	if (r)
		return r;
	dp_mark("ctx: mtu");
	c->pkt = vp_packet_open(&c->nic, VP_ETH_P_TEST, VP_PKT_AUXDATA);
	if (c->pkt < 0) {
		r = c->pkt;
		snprintf(c->why, sizeof(c->why), "AF_PACKET on %s: %s",
			 c->nic.peer, dp_strerr(r));
		return r;
	}
	return 0;
}

/*
 * The macvtap of DP_BE_MACVTAP_VETH on the veth end in our netns, with
 * guest 0's MAC, made once the MTU is set (it takes its lower device's),
 * and its queue fd with the header QEMU would set (none: @hdr_len 0).
 */
static int dp_ctx_macvtap(struct dp_ctx *c, unsigned int hdr_len)
{
	struct ifreq ifr;
	int r, idx, sz = (int)hdr_len;

	dp_guest_mac(c->mvt_mac, 0);
	r = mv_macvtap_create(c->mvt, 't', c->nic.ifindex, c->mvt_mac, &idx);
	if (r) {
		snprintf(c->why, sizeof(c->why),
			 "ip link add link %s name %s type macvtap: %s",
			 c->nic.name, c->mvt, dp_strerr(r));
		return r;
	}
	c->bfd = mv_tap_open(c->mvt, idx);
	if (c->bfd < 0) {
		r = c->bfd;
		snprintf(c->why, sizeof(c->why), "open /dev/tap%d: %s", idx,
			 dp_strerr(r));
		return r;
	}
	/* a macvtap queue starts with IFF_VNET_HDR; TUNSETIFF clears it */
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (sz ? ioctl(c->bfd, TUNSETVNETHDRSZ, &sz) :
		 ioctl(c->bfd, TUNSETIFF, &ifr)) {
		r = -errno;
		snprintf(c->why, sizeof(c->why), "%s on /dev/tap%d: %s",
			 sz ? "TUNSETVNETHDRSZ" : "TUNSETIFF", idx,
			 dp_strerr(r));
		return r;
	}
	return 0;
}

/*
 * The backend of DP_BE_PACKET_VETH: a packet socket of every Ethertype
 * bound to the veth end in our netns (no PACKET_VNET_HDR: the device
 * handles the header).
 */
static int dp_ctx_packet(struct dp_ctx *c)
{
	int r;

	c->bfd = vp_packet_backend(c->nic.ifindex);
	if (c->bfd < 0) {
		r = c->bfd;
		snprintf(c->why, sizeof(c->why), "AF_PACKET on %s: %s",
			 c->nic.name, dp_strerr(r));
		return r;
	}
	return 0;
}

/*
 * The world of one test on backend @be, for a guest that will negotiate
 * @features: nicsim, a tap, a macvtap or a packet socket on a veth, the
 * peer (the far end, in a netns of its own but for the tap) and its
 * socket.  @tag makes the names unique within the process; @mtu 0 keeps
 * the default.  Returns 0 or -errno with c->why.
 */
#define DP_ENGINES_PARAM	"/sys/module/nicsim/parameters/engines"

static int dp_param_rw(const char *path, unsigned int *val, bool write)
{
	FILE *f = fopen(path, write ? "w" : "r");
	int ok;

	if (!f)
		return -errno;
	ok = write ? fprintf(f, "%u\n", *val) > 0 : fscanf(f, "%u", val) == 1;
	if (fclose(f) || !ok)
		return -EIO;
	return 0;
}

/*
 * A nicsim NIC with @n engines: the parameter is written for its creation
 * and put back after; the NIC's debugfs "engines" must say @n.
 */
static int dp_nicsim_engines(struct vp_nic *nic, char tag, unsigned int n)
{
	unsigned int old, want = n;
	char buf[64];
	int r;

	r = vp_nicsim_ensure(nic->err, sizeof(nic->err));
	if (r)
		return r;
	r = dp_param_rw(DP_ENGINES_PARAM, &old, false);
	if (!r)
		r = dp_param_rw(DP_ENGINES_PARAM, &want, true);
	if (r) {
		snprintf(nic->err, sizeof(nic->err), "%s: %s",
			 DP_ENGINES_PARAM, strerror(-r));
		return r;
	}
	r = vp_nic_create(nic, tag);
	dp_param_rw(DP_ENGINES_PARAM, &old, true);
	if (r)
		return r;
	r = vp_nic_knob_read(nic, "engines", buf, sizeof(buf));
	if (r || strtoul(buf, NULL, 10) != n) {
		snprintf(nic->err, sizeof(nic->err),
			 "%s: debugfs engines says \"%.20s\", not %u engines",
			 nic->name, r ? strerror(-r) : buf, n);
		return r ? r : -EIO;
	}
	return 0;
}

int dp_ctx_init_be(struct dp_ctx *c, char tag, unsigned int mtu,
		   const struct dp_be *be, uint64_t features)
{
	unsigned int hdr = vg_net_hdr_len(features);
	int r;

	r = dp_ctx_start(c);
	if (r)
		return r;
	c->be = *be;
	if (be->kind == DP_BE_PACKET_VETH)
		c->be.dev_hdr = true;
	if (c->be.dev_hdr)
		hdr = 0;
	dp_mark("ctx: start");
	switch (be->kind) {
	case DP_BE_NICSIM:
		r = be->engines ? dp_nicsim_engines(&c->nic, tag, be->engines) :
				  vp_nic_create(&c->nic, tag);
		break;
	case DP_BE_VNIC:
		r = vp_vnic_create(&c->nic, tag);
		break;
	case DP_BE_TAP:
		r = vp_tap_create(&c->nic, tag, (int)hdr, &c->bfd);
		break;
	default:
		r = vp_veth_create(&c->nic, tag);
		break;
	}
	if (r) {
		snprintf(c->why, sizeof(c->why), "%s: %s", dp_be_name(c),
			 c->nic.err);
		return r;
	}
	dp_mark("ctx: nic created");
	if (be->kind == DP_BE_VNIC) {
		r = dp_vnic_peer_queues(c, true);
		if (r)
			return r;
	}
	r = dp_ctx_peer(c, mtu);
	if (r)
		return r;
	if (be->kind == DP_BE_MACVTAP_VETH)
		return dp_ctx_macvtap(c, hdr);
	if (be->kind == DP_BE_PACKET_VETH)
		return dp_ctx_packet(c);
	return 0;
}

/* NIC + peer netns + peer socket: the accelerated world. */
int dp_ctx_init(struct dp_ctx *c, char tag, unsigned int mtu)
{
	static const struct dp_be nicsim = { .kind = DP_BE_NICSIM };

	return dp_ctx_init_be(c, tag, mtu, &nicsim, 0);
}

/* For the log: the device and the backend. */
const char *dp_be_name(const struct dp_ctx *c)
{
	static const char *const kinds[] = {
		[DP_BE_NICSIM] = "nicsim",
		[DP_BE_VNIC] = "virtio-net NIC",
		[DP_BE_TAP] = "tap",
		[DP_BE_MACVTAP_VETH] = "macvtap on a veth",
		[DP_BE_PACKET_VETH] = "packet socket on a veth",
	};
	static char buf[96];

	snprintf(buf, sizeof(buf), "%s + %s%s",
		 c->be.vhost_net ? VG_DEV_NET : VG_DEV_ACCEL,
		 kinds[c->be.kind], c->be.dev_hdr ? " (device adds the header)" : "");
	return buf;
}

/*
 * The guest's frames are copied (vhost-net, or vhost-accel's copying
 * datapath): the device takes Rx buffers as frames come and posts none
 * to a NIC.
 */
bool dp_copies(const struct dp_ctx *c)
{
	return c->be.vhost_net || !dp_accelerated(c);
}

/* The backend is a cooperating NIC the guest binds to (SET_NIC). */
bool dp_accelerated(const struct dp_ctx *c)
{
	return c->be.kind == DP_BE_NICSIM || c->be.kind == DP_BE_VNIC;
}

/*
 * Can this VM run a test on @be?  Only the virtio-net NIC may be missing
 * (no such devices, or no virtio_net_accel): then why, for a SKIP.
 */
bool dp_be_available(const struct dp_be *be, char *why, size_t len)
{
	if (be->kind != DP_BE_VNIC)
		return true;
	return vp_vnic_available(why, len);
}

/* The test runs on the VM's virtio-net NIC (virtio_net_accel). */
bool dp_vnic(const struct dp_ctx *c)
{
	return c->be.kind == DP_BE_VNIC;
}

/*
 * Did the virtio-net NIC's device negotiate feature @bit (VIRTIO_NET_F_*)?
 * From /sys/bus/virtio/devices/virtioN/features, a '0'/'1' per bit; false
 * on any other backend or if it cannot be read.
 */
bool dp_vnic_feature(const struct dp_ctx *c, unsigned int bit)
{
	char path[96], buf[160];
	size_t n = 0;
	FILE *f;

	if (!dp_vnic(c))
		return false;
	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/features",
		 c->nic.vnic_dev);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return bit < n && buf[bit] == '1';
}

/*
 * The virtio-net NIC's debugfs "lent" (virtio_net_accel): how many of its
 * queue pairs are lent, of how many; 0 or -errno.
 */
int dp_vnic_lent(const struct dp_ctx *c, unsigned int *lent,
		 unsigned int *max)
{
	char path[128];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s/lent",
		 VP_VNIC_DRIVER, c->nic.vnic_dev);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%u of %u", lent, max);
	fclose(f);
	return n == 2 ? 0 : -EPROTO;
}

/*
 * On /dev/vhost-accel the stats say which datapath runs: the accelerated
 * one on nicsim, the copying one on every other backend.  0, or -EPROTO
 * with c->why.
 */
int dp_check_datapath(struct dp_ctx *c, struct vg_net *g)
{
	unsigned int want = dp_copies(c) ? VHOST_ACCEL_DATAPATH_COPY :
					   VHOST_ACCEL_DATAPATH_ACCEL;
	struct vhost_accel_stats st;

	if (c->be.vhost_net)
		return 0;
	if (vg_get_stats(&g->d, &st)) {
		snprintf(c->why, sizeof(c->why), "GET_STATS: %s",
			 dp_strerr(-errno));
		return -EIO;
	}
	if (st.datapath == want)
		return 0;
	snprintf(c->why, sizeof(c->why),
		 "%s: stats.datapath %u, want %u (%s)", dp_be_name(c),
		 st.datapath, want, dp_copies(c) ? "COPY" : "ACCEL");
	return -EPROTO;
}

/*
 * Posting Rx buffers only puts them in the avail ring; the worker hands
 * them to the NIC a moment later, and a frame arriving before that has no
 * buffer.  Wait until the NIC got @base + every buffer the guest holds
 * posted now (counter bufs_posted).  A device that copies (@ref:
 * vhost-net, or vhost-accel's copying datapath, dp_copies()) takes
 * buffers on demand: nothing to wait for.
 */
int dp_wait_rx_posted(struct vg_net *g, bool ref, uint64_t base)
{
	unsigned int posted = vg_net_rx_posted(g);
	uint64_t want, v, deadline = vg_now_ms() + DP_WAIT_MS;

	/* the NIC's ring (nicsim: 256 by default) holds no more than that */
	if (posted > DP_NIC_RING)
		posted = DP_NIC_RING;
	want = base + posted + g->rx_bufs_used;

	if (ref)
		return 0;
	for (;;) {
		struct vhost_accel_stats st;

		if (vg_get_stats(&g->d, &st))
			return -EIO;
		v = st.vq[VG_VQ_RX].bufs_posted;
		if (v >= want)
			return 0;
		if (vg_now_ms() >= deadline)
			return -ETIMEDOUT;
		vg_sleep_ms(2);
	}
}

/* What a failing ioctl most likely means, for the log. */
const char *dp_hint(int r)
{
	if (r == -ENOTTY)
		return " (ioctl unknown: vhost_accel.ko without the datapath?)";
	if (r == -EOPNOTSUPP)
		return " (not supported: datapath or NIC not cooperating?)";
	return "";
}

/*
 * Open a guest with @cfg on the device of c->be, bind it to nicsim with
 * @mac (other backends: the backend decides; a macvtap's MAC is
 * c->mvt_mac), start both queues with the backend fd, check the datapath
 * it runs, and post every Rx buffer.
 */
int dp_guest_up(struct dp_ctx *c, struct vg_net *g,
		const struct vg_net_cfg *cfg_in, const uint8_t *mac)
{
	const char *dev = c->be.vhost_net ? VG_DEV_NET : VG_DEV_ACCEL;
	struct vg_net_cfg cfg = *cfg_in;
	int r;

	if (c->be.dev_hdr)
		cfg.features |= VG_FBIT(VHOST_NET_F_VIRTIO_NET_HDR);
	dp_mark("guest: open");
	r = vg_net_open(g, dev, &cfg);
	dp_mark("guest: opened");
	if (r) {
		snprintf(c->why, sizeof(c->why),
			 "guest setup on %s (features %#llx): %s", dev,
			 (unsigned long long)cfg.features, dp_strerr(r));
		return r;
	}
	if (dp_accelerated(c)) {
		r = vg_net_bind(g, c->nic.ifindex, mac, 0);
		if (r) {
			snprintf(c->why, sizeof(c->why),
				 "VHOST_ACCEL_SET_NIC(%s): %s%s", c->nic.name,
				 dp_strerr(r), dp_hint(r));
			return r;
		}
	}
	r = vg_net_start(g, c->bfd);
	if (r) {
		snprintf(c->why, sizeof(c->why), "VHOST_NET_SET_BACKEND (%s): %s%s",
			 dp_be_name(c), dp_strerr(r), dp_hint(r));
		return r;
	}
	r = dp_check_datapath(c, g);
	if (r)
		return r;
	r = vg_net_rx_fill(g, g->rx_nbufs);
	if (r < 0) {
		snprintf(c->why, sizeof(c->why), "posting Rx buffers: %s",
			 dp_strerr(r));
		return r;
	}
	r = vg_net_rx_kick(g);
	if (r < 0) {
		snprintf(c->why, sizeof(c->why), "Rx kick: %s", dp_strerr(r));
		return r;
	}
	r = dp_wait_rx_posted(g, dp_copies(c), 0);
	if (r)
		snprintf(c->why, sizeof(c->why),
			 "the NIC did not get the %u Rx buffers posted",
			 vg_net_rx_posted(g));
	return r;
}

/*
 * Guest @g receives the test frames to @dst with sequences @first up to
 * @end - 1, in order (frames held back by a device, say); 0, or -1 with
 * @why.
 */
int dp_guest_expect_seq(struct vg_net *g, const uint8_t *dst, uint32_t first,
			uint32_t end, char *why, size_t wl)
{
	struct vg_net_rx f;
	uint32_t i, seq;
	char what[160];

	for (i = first; i < end; i++) {
		if (dp_guest_recv(g, &f, DP_WAIT_MS, NULL)) {
			snprintf(why, wl, "frame %u of %u..%u missing", i, first,
				 end - 1);
			return -1;
		}
		if (vp_test_frame_check(f.data, f.len, dst, NULL, &seq, what,
					sizeof(what))) {
			snprintf(why, wl, "frame %u: %s", i, what);
			return -1;
		}
		if (seq != i) {
			snprintf(why, wl, "seq %u where %u was due", seq, i);
			return -1;
		}
	}
	return 0;
}

/* Counter @off of vq @q, or UINT64_MAX if GET_STATS fails. */
uint64_t dp_stat(struct vg_net *g, unsigned int q, size_t off)
{
	struct vhost_accel_stats st;

	if (vg_get_stats(&g->d, &st))
		return UINT64_MAX;
	return *(uint64_t *)((char *)&st.vq[q] + off);
}

/*
 * Counters settle shortly after the frames: poll until @off of vq @q is
 * @want (or passed it) or @ms went by; the last value read.
 */
uint64_t dp_wait_stat(struct vg_net *g, unsigned int q,
		      size_t off, uint64_t want, int ms)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)ms, v;

	for (;;) {
		v = dp_stat(g, q, off);
		if (v == UINT64_MAX || v >= want || vg_now_ms() >= deadline)
			return v;
		vg_sleep_ms(5);
	}
}

/* Poll VmLck until it equals @want_kb or @ms passes; last value. */
uint64_t dp_wait_vmlck(uint64_t want_kb, int ms)
{
	return vt_wait_vmlck(want_kb, ms);
}

/*
 * Next frame at guest @g within @ms that @want accepts; others are counted
 * in *@stray (may be NULL) and skipped.  0, -ETIMEDOUT, -EIO.
 */
int dp_guest_recv_if(struct vg_net *g, struct vg_net_rx *f, int ms,
		     unsigned int *stray, bool (*want)(const struct vg_net_rx *))
{
	uint64_t deadline = vg_now_ms() + (uint64_t)ms;
	int r;

	for (;;) {
		uint64_t now = vg_now_ms();

		r = vg_net_rx_wait(g, f, now < deadline ? (int)(deadline - now) : 0);
		if (r)
			return r;
		if (vg_net_rx_fill(g, g->rx_nfree) < 0 || vg_net_rx_kick(g) < 0)
			return -EIO;
		if (want(f))
			return 0;
		if (stray)
			(*stray)++;
	}
}

static bool dp_is_test_frame(const struct vg_net_rx *f)
{
	return vp_test_frame_seq(f->data, f->len) >= 0;
}

/* Next test frame (VP_ETH_P_TEST): dp_guest_recv_if() for those. */
int dp_guest_recv(struct vg_net *g, struct vg_net_rx *f, int ms,
		  unsigned int *stray)
{
	return dp_guest_recv_if(g, f, ms, stray, dp_is_test_frame);
}

/*
 * The frame @f received by a guest must be exactly @want (@len bytes)
 * with an all-zero header except num_buffers (@nbufs: 0 = don't care).
 * Returns 0 or writes a reason to @why.
 */
int dp_rx_check(const struct vg_net *g,
		const struct vg_net_rx *f, const uint8_t *want,
		uint32_t len, unsigned int nbufs, char *why,
		size_t wl)
{
	const struct virtio_net_hdr *h = &f->hdr.hdr;
	uint32_t i;

	if (f->len != len) {
		snprintf(why, wl, "frame of %u bytes arrived as %u", len,
			 f->len);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (f->data[i] != want[i]) {
			snprintf(why, wl,
				 "frame of %u bytes: byte %u is %02x, want %02x",
				 len, i, f->data[i], want[i]);
			return -1;
		}
	}
	if (h->flags || h->gso_type || h->hdr_len || h->gso_size ||
	    h->csum_start || h->csum_offset) {
		snprintf(why, wl,
			 "header not zero: flags %#x gso_type %#x hdr_len %u gso_size %u csum %u/%u",
			 h->flags, h->gso_type, le16toh(h->hdr_len),
			 le16toh(h->gso_size), le16toh(h->csum_start),
			 le16toh(h->csum_offset));
		return -1;
	}
	if (g->mrg && nbufs && le16toh(f->hdr.num_buffers) != nbufs) {
		snprintf(why, wl, "num_buffers %u, want %u for %u bytes",
			 le16toh(f->hdr.num_buffers), nbufs, len);
		return -1;
	}
	if (g->mrg && f->nbufs != le16toh(f->hdr.num_buffers)) {
		snprintf(why, wl, "num_buffers %u but %u buffers used",
			 le16toh(f->hdr.num_buffers), f->nbufs);
		return -1;
	}
	if (!g->mrg && g->hdr_len == 12 && le16toh(f->hdr.num_buffers) > 1) {
		snprintf(why, wl, "num_buffers %u without MRG_RXBUF",
			 le16toh(f->hdr.num_buffers));
		return -1;
	}
	return 0;
}

/* Buffers a frame of @len takes with mergeable buffers of @buf bytes. */
unsigned int dp_mrg_bufs(const struct vg_net *g, uint32_t len)
{
	return (g->hdr_len + len + g->rx_buf_len - 1) / g->rx_buf_len;
}

/*
 * Wait for the test frame with sequence @seq at the peer; anything else
 * that arrives first fails.  0 or -1 with @why.
 */
int dp_peer_expect(struct dp_ctx *c, const uint8_t *want,
		   size_t len, char *why, size_t wl)
{
	struct vp_rxinfo info;
	ssize_t n;
	size_t i;

	n = vp_packet_recv(c->pkt, c->rx, DP_BUFSZ, DP_WAIT_MS, &info);
	if (n < 0) {
		snprintf(why, wl, "peer: no frame (%zu bytes expected): %s",
			 len, dp_strerr((int)n));
		return -1;
	}
	if ((size_t)n != len) {
		snprintf(why, wl, "peer: %zd bytes arrived, %zu expected", n,
			 len);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (c->rx[i] != want[i]) {
			snprintf(why, wl,
				 "peer: frame of %zu bytes: byte %zu is %02x, want %02x",
				 len, i, c->rx[i], want[i]);
			return -1;
		}
	}
	return 0;
}

/* Nothing (of the test Ethertype) arrives at the peer for @ms. */
int dp_peer_quiet(struct dp_ctx *c, int ms)
{
	ssize_t n = vp_packet_recv(c->pkt, c->rx, DP_BUFSZ, ms, NULL);

	return n == -ETIMEDOUT ? 0 : (int)(n < 0 ? n : n + 1);
}

/* No frame at guest @g for @ms: 0, else 1 + length of what came. */
int dp_guest_quiet(struct vg_net *g, int ms)
{
	struct vg_net_rx f;
	int r = vg_net_rx_wait(g, &f, ms);

	if (r == -ETIMEDOUT)
		return 0;
	return r ? r : (int)f.len + 1;
}

/*
 * Close guests (NULL entries skipped) and the context; then VmLck must be
 * back at its value from before: returns the value seen.
 */
uint64_t dp_close_all(struct dp_ctx *c, struct vg_net **gs,
		      unsigned int n)
{
	unsigned int i;
	uint64_t kb;

	dp_mark("close: start");
	for (i = 0; i < n; i++)
		if (gs[i])
			vg_net_close(gs[i]);
	dp_mark("close: closed");
	kb = dp_wait_vmlck(c->vmlck0, DP_VMLCK_MS);
	dp_mark("close: vmlck");
	return kb;
}

/* Send one test frame from guest @g and wait for its completion. */
int dp_guest_send(struct vg_net *g, const uint8_t *frame,
		  uint32_t len, const struct vg_tx_layout *lay,
		  const struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	int r = vg_net_tx(g, hdr, frame, len, lay);

	if (r < 0)
		return r;
	r = vg_net_tx_kick(g);
	if (r < 0)
		return r;
	return vg_net_tx_drain(g, DP_WAIT_MS);
}

/* ---- traffic both ways: the guest thread ---- */

/*
 * With @t->say_dp, the datapath and switches now, for a message about a
 * frame (not where @t->g is another process's guest).
 */
static void dp_traffic_when(struct dp_traffic *t, char *buf, size_t len)
{
	struct vhost_accel_stats st;

	memset(&st, 0, sizeof(st));
	if (!t->say_dp)
		snprintf(buf, len, "-");
	else if (vg_get_stats(&t->g->d, &st))
		snprintf(buf, len, "stats unreadable");
	else
		snprintf(buf, len, "datapath %u after %llu switches",
			 st.datapath, (unsigned long long)st.datapath_switches);
}

static void dp_traffic_guest_fail(struct dp_traffic *t, int r,
				  const char *what)
{
	if (t->guest_err)
		return;
	t->guest_err = r;
	snprintf(t->guest_why, sizeof(t->guest_why), "%s: %s %s", what,
		 dp_strerr(r), t->g->err);
}

/* One received frame: in order after the last one, never twice. */
static void dp_traffic_guest_frame(struct dp_traffic *t,
				   const struct vg_net_rx *f)
{
	char why[120];
	uint32_t seq;

	if (vp_test_frame_seq(f->data, f->len) < 0) {
		t->rx_stray++;
		return;
	}
	if (f->len != DP_TR_LEN ||
	    vp_test_frame_check(f->data, f->len, t->gmac, NULL, &seq, why,
				sizeof(why)) ||
	    (int64_t)seq <= t->rx_last) {
		if (!t->rx_bad++) {
			dp_traffic_when(t, why, sizeof(why));
			snprintf(t->guest_why, sizeof(t->guest_why),
				 "guest Rx: frame %u bytes seq %lld after %lld (%s)",
				 f->len, (long long)vp_test_frame_seq(f->data, f->len),
				 (long long)t->rx_last, why);
		}
		return;
	}
	if ((int64_t)seq != t->rx_last + 1)
		t->rx_gaps++;
	t->rx_last = seq;
	atomic_fetch_add(&t->rx_got, 1);
}

/* Take received frames, refill; how many arrived, or -errno. */
static int dp_traffic_guest_rx(struct dp_traffic *t)
{
	struct vg_net *g = t->g;
	struct vg_net_rx f;
	int n = 0, r;

	while (!(r = vg_net_rx_get(g, &f))) {
		n++;
		dp_traffic_guest_frame(t, &f);
	}
	if (r != -EAGAIN)
		return r;
	if (g->rx_nfree) {
		r = vg_net_rx_fill(g, g->rx_nfree);
		if (r < 0)
			return r;
		r = vg_net_rx_kick(g);
		if (r < 0)
			return r;
	}
	return n;
}

/* Reap Tx and (@queue) queue more; how many came back, or -errno. */
static int dp_traffic_guest_tx(struct dp_traffic *t, bool queue)
{
	struct vg_net *g = t->g;
	uint8_t frame[DP_TR_LEN];
	unsigned int i;
	int done, r;

	done = vg_net_tx_reap(g);
	if (done < 0)
		return done;
	atomic_fetch_add(&t->tx_done, (unsigned int)done);
	if (!queue)
		return done;
	for (i = 0; i < DP_TR_BATCH && vg_net_tx_inflight(g) < DP_TR_TX_WINDOW;
	     i++) {
		vp_test_frame(frame, DP_TR_LEN, t->pmac, t->gmac, t->tx_seq);
		r = vg_net_tx(g, NULL, frame, DP_TR_LEN, NULL);
		if (r == -ENOSPC)
			break;
		if (r < 0)
			return r;
		t->tx_seq++;
	}
	if (i) {
		r = vg_net_tx_kick(g);
		if (r < 0)
			return r;
	}
	return done;
}

/* One round of the guest: progress made (> 0), 0, or -errno. */
int dp_traffic_step(struct dp_traffic *t, bool queue)
{
	int tx, rx;

	tx = dp_traffic_guest_tx(t, queue);
	if (tx < 0) {
		dp_traffic_guest_fail(t, tx, "guest Tx");
		return tx;
	}
	rx = dp_traffic_guest_rx(t);
	if (rx < 0) {
		dp_traffic_guest_fail(t, rx, "guest Rx");
		return rx;
	}
	return tx + rx;
}

/* Up to @ms for a call on either queue. */
void dp_traffic_wait(struct dp_traffic *t, int ms)
{
	struct pollfd p[2] = {
		{ .fd = t->g->d.vq[VG_VQ_RX].call_fd, .events = POLLIN },
		{ .fd = t->g->d.vq[VG_VQ_TX].call_fd, .events = POLLIN },
	};
	uint64_t v;
	int i;

	if (poll(p, 2, ms) <= 0)
		return;
	for (i = 0; i < 2; i++)
		if (p[i].revents & POLLIN &&
		    read(p[i].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return;
}

static void *dp_traffic_guest_fn(void *arg)
{
	struct dp_traffic *t = arg;

	while (!atomic_load(&t->stop)) {
		if (atomic_load(&t->hold)) {
			atomic_store(&t->parked, true);
			vg_sleep_ms(1);
			continue;
		}
		atomic_store(&t->parked, false);
		if (dp_traffic_step(t, true) < 0)
			break;
		dp_traffic_wait(t, 2);
	}
	return NULL;
}

/* Park the guest thread (it stops touching the rings). */
int dp_traffic_hold(struct dp_traffic *t)
{
	uint64_t deadline = vg_now_ms() + DP_WAIT_MS;

	atomic_store(&t->hold, true);
	while (t->guest_thread && !atomic_load(&t->parked)) {
		if (vg_now_ms() > deadline)
			return -ETIMEDOUT;
		vg_sleep_ms(1);
	}
	return 0;
}

/* ---- traffic both ways: the peer (the engine's sender and reader) ---- */

/* A frame the guest sent: in order after the last one, never twice. */
static int dp_traffic_peer_check(void *ctx, const uint8_t *b, size_t len)
{
	struct dp_traffic *t = ctx;
	char why[120];
	uint32_t seq;

	if (len != DP_TR_LEN ||
	    vp_test_frame_check(b, len, NULL, t->gmac, &seq, why,
				sizeof(why)) ||
	    (int64_t)seq <= t->peer_last) {
		if (!t->peer_bad++) {
			dp_traffic_when(t, why, sizeof(why));
			snprintf(t->peer_why, sizeof(t->peer_why),
				 "peer: frame %zu bytes seq %lld after %lld (%s)",
				 len, (long long)vp_test_frame_seq(b, len),
				 (long long)t->peer_last, why);
		}
		return -EBADMSG;
	}
	if ((int64_t)seq != t->peer_last + 1)
		t->peer_gaps++;
	t->peer_last = seq;
	return 0;
}

static void dp_traffic_peer_fill(void *ctx, uint8_t *f, size_t len,
				 uint32_t seq)
{
	struct dp_traffic *t = ctx;

	vp_test_frame(f, len, t->gmac, t->nic->peer_mac, seq);
}

/* A batch may go while the guest is less than a window behind. */
static unsigned int dp_traffic_peer_pace(void *ctx, uint64_t sent)
{
	struct dp_traffic *t = ctx;
	unsigned int got = atomic_load(&t->rx_got);
	uint64_t now = vg_now_ms();
	int64_t ahead;

	if (got != t->last_got) {
		t->last_got = got;
		t->last_got_ms = now;
	}
	ahead = (int64_t)sent - got - (int64_t)t->assumed_lost;
	if (ahead >= DP_TR_RX_WINDOW) {
		if (t->strict || now - t->last_got_ms < t->stall_ms)
			return 0;
		/* nothing arrived for a while: what is out was dropped */
		t->assumed_lost = sent - got;
		t->last_got_ms = now;
	}
	return DP_TR_BATCH;
}

/* The reader's or sender's first failure, kept with its message; 0 if none. */
int dp_traffic_peer_failed(struct dp_traffic *t)
{
	int rerr = t->rd.err, serr = t->tx.err;

	if ((rerr || serr) && !t->peer_err) {
		t->peer_err = rerr ? rerr : serr;
		snprintf(t->peer_why, sizeof(t->peer_why),
			 "peer: reader %s, sender %s", dp_strerr(rerr),
			 dp_strerr(serr));
	}
	return t->peer_err;
}

/* ---- traffic both ways: driving it ---- */

/*
 * Numbered test frames, the peer a window ahead of the guest and never
 * giving up; a downed wire end reports it once.  dp_traffic_peer() says
 * where the peer's sockets are.
 */
void dp_traffic_init(struct dp_traffic *t, struct vg_net *g,
		     const uint8_t *gmac, unsigned int stall_ms)
{
	memset(t, 0, sizeof(*t));
	t->g = g;
	memcpy(t->gmac, gmac, 6);
	t->rx_fd = t->tx_fd = -1;
	t->rx_last = -1;
	t->peer_last = -1;
	t->stall_ms = stall_ms;
	t->tx.len = DP_TR_LEN;
	t->tx.seq_off = -1;
	t->tx.batch = DP_TR_BATCH;
	t->tx.retry = true;
	t->tx.keep_going = true;
	t->tx.fill = dp_traffic_peer_fill;
	t->tx.pace = dp_traffic_peer_pace;
	t->tx.ctx = t;
	t->rd.check = dp_traffic_peer_check;
	t->rd.ctx = t;
	t->rd.skip_outgoing = true;
	t->rd.down_ok = true;
}

/* Point the traffic at @nic's wire end (sockets @rx_fd, @tx_fd). */
void dp_traffic_peer(struct dp_traffic *t, struct vp_nic *nic, int rx_fd,
		     int tx_fd)
{
	t->nic = nic;
	t->rx_fd = rx_fd;
	t->tx_fd = tx_fd;
	memcpy(t->pmac, nic->peer_mac, 6);
	t->tx.fd = tx_fd;
	t->tx.ifindex = nic->peer_ifindex;
	t->rd.fd = rx_fd;
}

/* The guest thread (@guest) and the peer's threads (@peer) running. */
int dp_traffic_start(struct dp_traffic *t, bool guest, bool peer)
{
	atomic_store(&t->stop, false);
	atomic_store(&t->hold, false);
	if (guest) {
		if (pthread_create(&t->guest_th, NULL, dp_traffic_guest_fn, t))
			return -EAGAIN;
		t->guest_thread = true;
	}
	if (!peer)
		return 0;
	if (vg_reader_start(&t->rd))
		return -EAGAIN;
	/* numbering goes on where an earlier run stopped */
	t->tx.seq = DP_TR_SENT(t);
	t->last_got = atomic_load(&t->rx_got);
	t->last_got_ms = vg_now_ms();
	return vg_sender_start(&t->tx) ? -EAGAIN : 0;
}

/* Every thread stopped; a peer thread's failure is kept (peer_err). */
void dp_traffic_stop(struct dp_traffic *t)
{
	if (!t)
		return;
	atomic_store(&t->stop, true);
	if (t->guest_thread)
		pthread_join(t->guest_th, NULL);
	t->guest_thread = false;
	vg_sender_stop(&t->tx);
	vg_reader_stop(&t->rd);
	dp_traffic_peer_failed(t);
}

/*
 * Threads stopped: take whatever is still on its way, in the guest and
 * (@with_peer) on the wire end, until nothing moved for DP_QUIET_MS.
 */
int dp_traffic_settle(struct dp_traffic *t, bool with_peer)
{
	uint64_t last = vg_now_ms();
	int r, p;

	while (vg_now_ms() - last < DP_QUIET_MS) {
		r = dp_traffic_step(t, false);
		if (r < 0)
			return r;
		p = with_peer ? vg_reader_poll(&t->rd) : 0;
		if (p < 0)
			return p;
		if (r || p)
			last = vg_now_ms();
		else
			vg_sleep_ms(5);
	}
	/*
	 * Whatever the guest has not got by now is lost.  A stall guessed
	 * earlier may have counted frames that arrived after it; the next
	 * run's window must not carry that guess, or the peer runs more
	 * than a window ahead and overflows the guest's Rx ring.
	 */
	t->assumed_lost = DP_TR_SENT(t) - atomic_load(&t->rx_got);
	return 0;
}

/*
 * Wait until @n more frames went each way (guest Tx reached the peer,
 * peer frames reached the guest) than at the call, or a thread failed.
 */
int dp_traffic_wait_flow(struct dp_traffic *t, unsigned int n, char *why,
			 size_t wl)
{
	unsigned int tx0 = DP_TR_GOT(t), rx0 = atomic_load(&t->rx_got);
	uint64_t deadline = vg_now_ms() + DP_TR_FLOW_MS;

	for (;;) {
		unsigned int tx = DP_TR_GOT(t) - tx0;
		unsigned int rx = atomic_load(&t->rx_got) - rx0;

		if (t->guest_err || dp_traffic_peer_failed(t)) {
			snprintf(why, wl, "%s; %s", t->guest_why, t->peer_why);
			return -EIO;
		}
		if (tx >= n && rx >= n)
			return 0;
		if (vg_now_ms() > deadline) {
			snprintf(why, wl,
				 "traffic stalled: %u guest->peer, %u peer->guest of %u (peer sent %u, %u failed sends, %u cut short)",
				 tx, rx, n, DP_TR_SENT(t), DP_TR_SEND_FAILED(t),
				 DP_TR_SEND_CUT(t));
			return -ETIMEDOUT;
		}
		vg_sleep_ms(10);
	}
}

/*
 * The 12 counters of @name in /proc/net/dev of the calling thread's netns
 * (what ip -s link shows): rx bytes, packets, errs, drop, fifo, frame,
 * compressed, multicast, then tx bytes, packets, errs, drop.
 */
int dp_netdev_stats(const char *name, unsigned long long *v)
{
	char line[512], dev[32];
	int r = -ENOENT;
	FILE *f;

	f = fopen("/proc/thread-self/net/dev", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = ' ';
		if (sscanf(line, "%31s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   dev, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11]) != 13 ||
		    strcmp(dev, name))
			continue;
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

/* rx_drop / tx_drop of @name in /proc/net/dev of the calling thread's netns. */
int dp_netdev_drops(const char *name, uint64_t *rx_drop, uint64_t *tx_drop)
{
	unsigned long long v[12];
	int r = dp_netdev_stats(name, v);

	if (r)
		return r;
	*rx_drop = v[3];
	*tx_drop = v[11];
	return 0;
}

/* The same for @nic's wire end, in the peer's namespace. */
int dp_peer_netdev_drops(struct vp_nic *nic, uint64_t *rx_drop,
			 uint64_t *tx_drop)
{
	int r;

	if (vp_enter_peer(nic))
		return -EIO;
	r = dp_netdev_drops(nic->peer, rx_drop, tx_drop);
	if (vp_leave_peer(nic))
		abort();
	return r;
}

/* Queue pairs attached on @nic (its debugfs "qps"), -1 if unreadable. */
int dp_qps_attached(struct vp_nic *nic)
{
	unsigned int max, attached;
	char buf[512];

	if (vp_nic_knob_read(nic, "qps", buf, sizeof(buf)) ||
	    sscanf(buf, "%u queue pairs, %u attached", &max, &attached) != 2)
		return -1;
	return (int)attached;
}

/*
 * After the NIC went away: the queue is stopped at GET_VRING_BASE's
 * index; every head is in the used ring once (vg_net reaped them and
 * saw no unknown or repeated id) or in the avail ring at or after that
 * index, exactly once; the used index equals it (nothing consumed and
 * kept).  Guest parked, used entries reaped.
 */
int dp_heads_accounted(struct vg_net *g, unsigned int q, char *why,
		       size_t wl)
{
	struct vg_vq *vq = &g->d.vq[q];
	unsigned char *seen;
	unsigned int base, i, inflight = 0;
	uint16_t used, k;
	int r;

	r = vg_get_vring_base(&g->d, q, &base);
	if (r) {
		snprintf(why, wl, "GET_VRING_BASE: %s", dp_strerr(r));
		return -1;
	}
	used = vg_vq_used_idx(&g->d, q);
	if (used != (uint16_t)base) {
		snprintf(why, wl, "vq %u: index %u but used->idx %u", q, base,
			 used);
		return -1;
	}
	seen = calloc(vq->num, 1);
	if (!seen)
		return -1;
	for (k = (uint16_t)base; k != vq->avail_idx; k++) {
		uint16_t head = le16toh(vq->avail->ring[k & (vq->num - 1)]);

		if (head >= vq->num || !vq->in_flight[head] || seen[head]++) {
			snprintf(why, wl,
				 "vq %u: avail entry %u (head %u) after index %u is not an outstanding head, or twice",
				 q, k, head, base);
			free(seen);
			return -1;
		}
	}
	for (i = 0; i < vq->num; i++) {
		if (!vq->in_flight[i])
			continue;
		inflight++;
		if (!seen[i]) {
			snprintf(why, wl,
				 "vq %u: head %u neither used nor after index %u",
				 q, i, base);
			free(seen);
			return -1;
		}
	}
	free(seen);
	return inflight;
}

/*
 * The NIC under guest @g went away while traffic @t ran: both queues
 * signal their error eventfd within DP_WAIT_MS, the guest goes on
 * posting and sending into the stopped queues for @event_ms, then the
 * traffic stops and settles; every queue's heads are accounted for
 * (dp_heads_accounted()) and it counted an error.  0, or -1 with the
 * first failure in @why.
 */
int dp_nic_gone_check(struct dp_traffic *t, struct vg_net *g, int event_ms,
		      char *why, size_t wl)
{
	char what[300];
	unsigned int q;
	int r, bad = 0;

	for (q = 0; q < VG_NVQS; q++) {
		if (!vg_vq_wait_err(&g->d, q, DP_WAIT_MS) || bad++)
			continue;
		snprintf(why, wl, "vq %u: no error eventfd after the NIC went",
			 q);
	}
	vg_sleep_ms(event_ms);
	dp_traffic_stop(t);
	r = dp_traffic_settle(t, false);
	if (r) {
		snprintf(why, wl, "traffic did not settle: %s", dp_strerr(r));
		return -1;
	}
	for (q = 0; q < VG_NVQS; q++) {
		r = dp_heads_accounted(g, q, what, sizeof(what));
		fprintf(stderr, "# vq %u: %d heads outstanding in the avail ring\n",
			q, r);
		if (r < 0 && !bad++)
			snprintf(why, wl, "%s", what);
		if (!dp_stat(g, q, DP_STAT_OFF(errors)) && !bad++)
			snprintf(why, wl, "vq %u: no error counted", q);
	}
	return bad ? -1 : 0;
}
