// SPDX-License-Identifier: GPL-2.0
/*
 * Shared pieces of the vhost-accel datapath tests (dptest.h): the world of
 * one test (nicsim instance, peer netns and socket), guests on it, and the
 * waits and checks every datapath test makes.
 */
#define NO_KSFT_HARNESS
#include "dptest.h"
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
	dp_mark("fini: start");
	if (c->pkt >= 0)
		close(c->pkt);
	c->pkt = -1;
	if (c->tapfd >= 0)
		close(c->tapfd);
	c->tapfd = -1;
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
	c->tapfd = -1;
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
 * NIC + peer netns + peer socket.  @tag makes the names unique within the
 * process; @mtu 0 keeps the default.  Returns 0 or -errno with c->why.
 */
int dp_ctx_init(struct dp_ctx *c, char tag, unsigned int mtu)
{
	int r;

	r = dp_ctx_start(c);
	if (r)
		return r;
	dp_mark("ctx: start");
	r = vp_nic_create(&c->nic, tag);
	if (r) {
		snprintf(c->why, sizeof(c->why), "nicsim instance: %s",
			 c->nic.err);
		return r;
	}
	dp_mark("ctx: nic created");
	return dp_ctx_peer(c, mtu);
}

/* Reference mode: a tap in place of nicsim, for /dev/vhost-net. */
int dp_ctx_init_tap(struct dp_ctx *c, char tag, unsigned int mtu,
		    unsigned int hdr_len)
{
	int r;

	r = dp_ctx_start(c);
	if (r)
		return r;
	r = vp_tap_create(&c->nic, tag, (int)hdr_len, &c->tapfd);
	if (r) {
		snprintf(c->why, sizeof(c->why), "tap: %s", c->nic.err);
		return r;
	}
	return dp_ctx_peer(c, mtu);
}

/*
 * Posting Rx buffers only puts them in the avail ring; the worker hands
 * them to the NIC a moment later, and a frame arriving before that has no
 * buffer.  Wait until the NIC got @base + every buffer the guest holds
 * posted now (counter bufs_posted).  vhost-net (@ref) takes buffers on
 * demand: nothing to wait for.
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
 * Open a guest with @cfg, bind it to the NIC with @mac, start both queues
 * and post every Rx buffer.  In reference mode (c->tapfd >= 0) the guest
 * is a /dev/vhost-net device with the tap as backend.
 */
int dp_guest_up(struct dp_ctx *c, struct vg_net *g,
		const struct vg_net_cfg *cfg, const uint8_t *mac)
{
	bool ref = c->tapfd >= 0;
	int r;

	dp_mark("guest: open");
	r = vg_net_open(g, ref ? VG_DEV_NET : VG_DEV_ACCEL, cfg);
	dp_mark("guest: opened");
	if (r) {
		snprintf(c->why, sizeof(c->why),
			 "guest setup on %s (features %#llx): %s",
			 ref ? VG_DEV_NET : VG_DEV_ACCEL,
			 (unsigned long long)cfg->features, dp_strerr(r));
		return r;
	}
	if (!ref) {
		r = vg_net_bind(g, c->nic.ifindex, mac, 0);
		if (r) {
			snprintf(c->why, sizeof(c->why),
				 "VHOST_ACCEL_SET_NIC(%s): %s%s", c->nic.name,
				 dp_strerr(r), dp_hint(r));
			return r;
		}
	}
	r = vg_net_start(g, ref ? c->tapfd : -1);
	if (r) {
		snprintf(c->why, sizeof(c->why), "VHOST_NET_SET_BACKEND: %s%s",
			 dp_strerr(r), dp_hint(r));
		return r;
	}
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
	r = dp_wait_rx_posted(g, ref, 0);
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
