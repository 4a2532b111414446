// SPDX-License-Identifier: GPL-2.0
/*
 * Shared pieces of the vhost-accel datapath tests (dptest.h): the world of
 * one test (nicsim instance, peer netns and socket), guests on it, and the
 * waits and checks every datapath test makes.
 */
#define NO_KSFT_HARNESS
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

void dp_ctx_fini(struct dp_ctx *c)
{
	int idx;

	dp_mark("fini: start");
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
		r = vp_nic_create(&c->nic, tag);
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
	return c->be.vhost_net || c->be.kind != DP_BE_NICSIM;
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
	if (c->be.kind == DP_BE_NICSIM) {
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
 * Next test frame (VP_ETH_P_TEST) at guest @g within @ms; other frames
 * are counted in *@stray (may be NULL) and skipped.  0, -ETIMEDOUT, -EIO.
 */
int dp_guest_recv(struct vg_net *g, struct vg_net_rx *f, int ms,
		  unsigned int *stray)
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
		if (vp_test_frame_seq(f->data, f->len) >= 0)
			return 0;
		if (stray)
			(*stray)++;
	}
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
