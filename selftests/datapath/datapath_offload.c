// SPDX-License-Identifier: GPL-2.0
/*
 * Checksum and GSO metadata through the accelerated datapath.
 *
 * Guest -> peer: a frame with NEEDS_CSUM arrives with the right checksum
 * (the bytes on the wire, and the peer's UDP socket takes it); a GSO TCP
 * frame of 64 KiB (IP total length 65535) arrives either segmented (each
 * segment valid, payload in order) or as one GSO frame; UDP_L4 GSO alike;
 * a frame with impossible GSO metadata is dropped and counted, and the
 * queue carries on.
 *
 * Peer -> guest: frames from the peer's own stack (UDP, a TCP SYN)
 * arrive marked DATA_VALID with a correct checksum in the bytes; a 64 KiB
 * GSO frame sent by the peer arrives whole (with GSO metadata) or
 * segmented, the payload intact.
 *
 * Addresses: peer 10.99.0.1, guest 10.99.0.2 (peer netns only).
 *
 * The vnic_* variants run the same cases on the VM's virtio-net NIC
 * (virtio_net_accel), whose far side is virtio_net; where the two NICs
 * differ the case says so (Documentation/testing.rst, "The suite on the
 * virtio-net NIC"): no receive offload (frames arrive segmented with
 * complete checksums, no DATA_VALID), Tx offloads only as the device
 * negotiated them, a far side that may take a checksum still partial.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dptest.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5	/* uapi since 5.18 */
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO		56	/* uapi since 6.2 */
#endif

#define PEER_IP		"10.99.0.1"
#define GUEST_IP	"10.99.0.2"
#define UDP_PORT	5000
#define GSO_MSS		1448
#define GSO_PAYLOAD	(65535 - 20 - 20)	/* IP total length 65535 */

FIXTURE(offload) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	int pkt_ip;		/* AF_PACKET ETH_P_IP, auxdata */
	int pkt_vnet;		/* AF_PACKET ETH_P_IP with virtio_net_hdr */
	uint8_t *pl;		/* reference payload */
	uint8_t *frame;
};

FIXTURE_VARIANT(offload) {
	uint64_t features;
	struct dp_be be;	/* zero: nicsim */
};

FIXTURE_VARIANT_ADD(offload, v1_mrg) {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
};

FIXTURE_VARIANT_ADD(offload, v1_big) {
	.features = DP_F_V1 | DP_F_IND,
};

FIXTURE_VARIANT_ADD(offload, legacy_hdr10) {
	.features = 0,
};

/* mergeable buffers: the device's header lands in the guest's headroom */
FIXTURE_VARIANT_ADD(offload, vnic_v1_mrg) {
	.features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX,
	.be = { .kind = DP_BE_VNIC },
};

/* whole frames: the driver's own header first, the guest's skipped */
FIXTURE_VARIANT_ADD(offload, vnic_legacy_hdr10) {
	.features = 0,
	.be = { .kind = DP_BE_VNIC },
};

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int ol_build(struct _test_data_offload *self,
			 const struct _fixture_variant_offload *variant)
{
	struct vg_net_cfg cfg;
	int r;

	self->pkt_ip = self->pkt_vnet = -1;
	r = dp_ctx_init_be(&self->c, 'o', 1500, &variant->be,
			   variant->features);
	if (r)
		return r;
	self->pl = malloc(DP_BUFSZ);
	self->frame = malloc(DP_BUFSZ);
	if (!self->pl || !self->frame)
		return -ENOMEM;
	vp_pattern(self->pl, DP_BUFSZ, 7);
	r = vp_enter_peer(&self->c.nic);
	if (!r) {
		r = vp_nl_addr4_add(self->c.nic.peer_ifindex, ip4(PEER_IP), 24);
		if (!r)
			r = vp_nl_neigh4_add(self->c.nic.peer_ifindex,
					     ip4(GUEST_IP), self->mac);
		if (vp_leave_peer(&self->c.nic))
			abort();
	}
	if (r) {
		snprintf(self->c.why, sizeof(self->c.why),
			 "peer address setup: %s", dp_strerr(r));
		return r;
	}
	self->pkt_ip = vp_packet_open(&self->c.nic, ETH_P_IP, VP_PKT_AUXDATA);
	self->pkt_vnet = vp_packet_open(&self->c.nic, ETH_P_IP,
					VP_PKT_VNET_HDR);
	if (self->pkt_ip < 0 || self->pkt_vnet < 0) {
		snprintf(self->c.why, sizeof(self->c.why),
			 "AF_PACKET ETH_P_IP on the peer failed");
		return -EIO;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.features = variant->features;
	cfg.tx_slot_len = 12 + VG_NET_MAX_FRAME;
	cfg.tx_slots = 16;
	cfg.rx_indirect = variant->features & DP_F_IND;
	/*
	 * A 64 KiB GSO frame reaches a guest as 46 segments (the NIC cannot
	 * know which receive offloads it negotiated): big buffers need 46+.
	 */
	cfg.rx_num = variant->features & DP_F_MRG ? 256 : 1024;
	if (cfg.rx_indirect)
		cfg.rx_bufs = 64;
	return dp_guest_up(&self->c, &self->g, &cfg, self->mac);
}

static void ol_destroy(struct _test_data_offload *self)
{
	vg_net_close(&self->g);
	if (self->pkt_ip >= 0)
		close(self->pkt_ip);
	if (self->pkt_vnet >= 0)
		close(self->pkt_vnet);
	self->pkt_ip = self->pkt_vnet = -1;
	dp_ctx_fini(&self->c);
	free(self->pl);
	free(self->frame);
	self->pl = self->frame = NULL;
}

FIXTURE_SETUP(offload)
{
	char why[256];
	int r;

	self->pkt_ip = self->pkt_vnet = -1;
	if (!dp_be_available(&variant->be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	dp_guest_mac(self->mac, 0);
	r = ol_build(self, variant);
	if (r) {
		ol_destroy(self);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(offload)
{
	ol_destroy(self);
}

static void l4_opts(struct vp_l4_opts *o, bool to_peer, bool partial)
{
	memset(o, 0, sizeof(*o));
	o->saddr = ip4(to_peer ? GUEST_IP : PEER_IP);
	o->daddr = ip4(to_peer ? PEER_IP : GUEST_IP);
	o->sport = 4000;
	o->dport = UDP_PORT;
	o->tcp_seq = 0x10000000;
	o->partial = partial;
	o->ip_id = 0x1234;
}

static struct virtio_net_hdr_mrg_rxbuf csum_hdr(uint16_t start, uint16_t off)
{
	struct virtio_net_hdr_mrg_rxbuf h;

	memset(&h, 0, sizeof(h));
	h.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.hdr.csum_start = htole16(start);
	h.hdr.csum_offset = htole16(off);
	return h;
}

/*
 * The peer's AF_PACKET (ETH_P_IP) sees exactly @want (@len bytes, Ethernet
 * padding allowed) with the checksum computed, not left pending.  On the
 * virtio-net NIC the far side is virtio_net with GUEST_CSUM, and the
 * outer host bridges the frame to it still checksum-partial (as two
 * local guests of one host do): then the test finishes the sum at
 * @cs/@co and compares the bytes.
 */
static int peer_expect_final(struct _test_data_offload *self, const uint8_t *want,
			     size_t len, uint16_t cs, uint16_t co, char *why,
			     size_t wl)
{
	struct vp_rxinfo info;
	ssize_t n;
	size_t i;

	for (;;) {
		n = vp_packet_recv(self->pkt_ip, self->c.rx, DP_BUFSZ,
				   DP_WAIT_MS, &info);
		if (n < 0) {
			snprintf(why, wl, "nothing at the peer: %s",
				 dp_strerr((int)n));
			return -1;
		}
		/* the peer's own stack may answer (ICMP...): skip ours */
		if (!memcmp(self->c.rx + 6, self->c.nic.peer_mac, 6))
			continue;
		break;
	}
	if ((size_t)n < len || (n > 60 && (size_t)n != len)) {
		snprintf(why, wl, "%zd bytes at the peer, %zu sent", n, len);
		return -1;
	}
	if (info.csum_not_ready && dp_vnic(&self->c) && cs)
		vp_csum_complete(self->c.rx, len, cs, co);
	else if (info.csum_not_ready) {
		snprintf(why, wl,
			 "checksum not computed: the frame reached the peer still CHECKSUM_PARTIAL");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (self->c.rx[i] != want[i]) {
			snprintf(why, wl,
				 "byte %zu is %02x, want %02x (checksum at 40/50)",
				 i, self->c.rx[i], want[i]);
			return -1;
		}
	}
	for (; i < (size_t)n; i++)
		if (self->c.rx[i]) {
			snprintf(why, wl, "padding byte %zu not zero", i);
			return -1;
		}
	return vp_check_ipv4(self->c.rx, len, why, wl) ? -1 : 0;
}

TEST_F_TIMEOUT(offload, tx_csum_udp, 60)
{
	static const size_t plens[] = { 18, 1, 777, 1000, 1472 };
	struct virtio_net_hdr_mrg_rxbuf h;
	struct sockaddr_in sin;
	struct vp_l4_opts o;
	uint16_t cs, co;
	unsigned int i;
	char why[256], buf[2048];
	size_t len;
	int us, one = 1;
	ssize_t n;

	us = vp_peer_socket(&self->c.nic, AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, us);
	setsockopt(us, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(UDP_PORT);
	sin.sin_addr.s_addr = ip4(PEER_IP);
	ASSERT_EQ(0, bind(us, (struct sockaddr *)&sin, sizeof(sin)));
	fcntl(us, F_SETFL, O_NONBLOCK);

	for (i = 0; i < ARRAY_SIZE(plens); i++) {
		l4_opts(&o, true, true);
		o.ip_id = (uint16_t)(0x100 + i);
		len = vp_build_udp4(self->frame, self->c.nic.peer_mac,
				    self->mac, &o, self->pl, plens[i], &cs, &co);
		h = csum_hdr(cs, co);
		ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len,
					   NULL, &h));
		/* what must be on the wire: same frame, checksum done */
		o.partial = false;
		vp_build_udp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			      self->pl, plens[i], NULL, NULL);
		ASSERT_EQ(0, peer_expect_final(self, self->frame, len, cs, co,
					       why, sizeof(why)))
			TH_LOG("UDP payload %zu: %s", plens[i], why);
		n = -1;
		for (int t = 0; t < 100 && n < 0; t++) {
			n = recv(us, buf, sizeof(buf), 0);
			if (n < 0)
				vg_sleep_ms(10);
		}
		ASSERT_EQ((ssize_t)plens[i], n)
			TH_LOG("the peer's UDP socket did not take payload %zu",
			       plens[i]);
		ASSERT_EQ(0, memcmp(buf, self->pl, plens[i]));
	}
	close(us);
	EXPECT_EQ(ARRAY_SIZE(plens), dp_wait_stat(&self->g, VG_VQ_TX,
						  DP_STAT_OFF(packets), 5, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_F_TIMEOUT(offload, tx_csum_tcp, 60)
{
	static const size_t plens[] = { 6, 1, 555, 1460 };
	struct virtio_net_hdr_mrg_rxbuf h;
	struct vp_l4_opts o;
	uint16_t cs, co;
	unsigned int i;
	char why[256];
	size_t len;

	for (i = 0; i < ARRAY_SIZE(plens); i++) {
		l4_opts(&o, true, true);
		o.dport = 80;
		len = vp_build_tcp4(self->frame, self->c.nic.peer_mac,
				    self->mac, &o, self->pl, plens[i], &cs, &co);
		h = csum_hdr(cs, co);
		ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len,
					   NULL, &h));
		o.partial = false;
		vp_build_tcp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			      self->pl, plens[i], NULL, NULL);
		ASSERT_EQ(0, peer_expect_final(self, self->frame, len, cs, co,
					       why, sizeof(why)))
			TH_LOG("TCP payload %zu: %s", plens[i], why);
	}
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * One frame of a TCP (@udp false) or UDP stream as seen at the peer (with
 * its virtio_net_hdr @vh) or the guest: check it against the reference
 * payload and the sender's headers.  @off is the payload offset it must
 * start at; returns its payload length or -1 with @why.
 */
static long check_segment(uint8_t *f, size_t len,
			  const struct virtio_net_hdr *vh, bool udp,
			  const struct vp_l4_opts *o, const uint8_t *pl,
			  size_t off, unsigned int mss, char *why, size_t wl)
{
	const uint8_t *ip = f + VP_ETH_HLEN;
	size_t l4h = udp ? 8 : 20, hl = VP_ETH_HLEN + 20 + l4h, plen;
	uint32_t seq, saddr, daddr;

	if (len < hl || f[12] != 0x08 || f[13] != 0 || ip[0] != 0x45 ||
	    ip[9] != (udp ? 17 : 6)) {
		snprintf(why, wl, "not the sender's IPv4/%s frame (%zu bytes)",
			 udp ? "UDP" : "TCP", len);
		return -1;
	}
	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	if (saddr != o->saddr || daddr != o->daddr ||
	    (ip[20] << 8 | ip[21]) != o->sport ||
	    (ip[22] << 8 | ip[23]) != o->dport) {
		snprintf(why, wl, "addresses or ports changed");
		return -1;
	}
	plen = (size_t)(ip[2] << 8 | ip[3]) - 20 - l4h;
	if (VP_ETH_HLEN + 20 + l4h + plen > len) {
		snprintf(why, wl, "IP length %zu beyond the frame (%zu)",
			 plen + 20 + l4h, len);
		return -1;
	}
	if (vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		if (le16toh(vh->gso_size) != mss) {
			snprintf(why, wl, "GSO frame with gso_size %u, sent %u",
				 le16toh(vh->gso_size), mss);
			return -1;
		}
	} else if (plen > mss) {
		snprintf(why, wl, "segment of %zu payload bytes > MSS %u", plen,
			 mss);
		return -1;
	}
	if (vh && (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		vp_csum_complete(f, VP_ETH_HLEN + 20 + l4h + plen,
				 le16toh(vh->csum_start),
				 le16toh(vh->csum_offset));
	if (!udp) {
		seq = (uint32_t)ip[24] << 24 | (uint32_t)ip[25] << 16 |
		      (uint32_t)ip[26] << 8 | ip[27];
		if (seq - o->tcp_seq != off) {
			snprintf(why, wl, "TCP seq at offset %u, expected %zu",
				 seq - o->tcp_seq, off);
			return -1;
		}
	}
	if (vp_check_ipv4(f, VP_ETH_HLEN + 20 + l4h + plen, why, wl))
		return -1;
	if (memcmp(f + hl, pl + off, plen)) {
		snprintf(why, wl, "payload at %zu (%zu bytes) differs", off,
			 plen);
		return -1;
	}
	return (long)plen;
}

static struct virtio_net_hdr_mrg_rxbuf gso_hdr(uint8_t type, uint16_t hdr_len,
					       uint16_t mss, uint16_t cs,
					       uint16_t co)
{
	struct virtio_net_hdr_mrg_rxbuf h = csum_hdr(cs, co);

	h.hdr.gso_type = type;
	h.hdr.hdr_len = htole16(hdr_len);
	h.hdr.gso_size = htole16(mss);
	return h;
}

/* Collect frames at the peer's vnet socket until @total payload bytes. */
static void peer_collect(struct __test_metadata *_metadata,
			 struct _test_data_offload *self, bool udp,
			 const struct vp_l4_opts *o, size_t total,
			 unsigned int mss)
{
	size_t off = 0;
	unsigned int frames = 0, gso = 0;
	char why[256];

	while (off < total) {
		struct virtio_net_hdr vh;
		ssize_t n;
		long got;

		n = vp_packet_recv(self->pkt_vnet, self->c.rx, DP_BUFSZ,
				   DP_WAIT_MS, NULL);
		ASSERT_LT(0, n) TH_LOG("peer: %zu of %zu payload bytes, then nothing",
				       off, total);
		ASSERT_LE((ssize_t)sizeof(vh), n);
		memcpy(&vh, self->c.rx, sizeof(vh));
		if (!memcmp(self->c.rx + sizeof(vh) + 6, self->c.nic.peer_mac, 6))
			continue;	/* the peer's own (ICMP, RST) */
		got = check_segment(self->c.rx + sizeof(vh), n - sizeof(vh),
				    &vh, udp, o, self->pl, off, mss, why,
				    sizeof(why));
		ASSERT_LE(0, got) TH_LOG("frame %u: %s", frames, why);
		if (udp)
			ASSERT_TRUE(got == (long)mss || off + got == total)
				TH_LOG("UDP segment of %ld bytes", got);
		off += (size_t)got;
		frames++;
		gso += vh.gso_type != VIRTIO_NET_HDR_GSO_NONE;
	}
	ASSERT_EQ(total, off);
	TH_LOG("%zu payload bytes arrived in %u frames (%u GSO)", off, frames,
	       gso);
}

TEST_F_TIMEOUT(offload, tx_gso_tcp4_64k, 60)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct vp_l4_opts o;
	uint16_t cs, co;
	size_t len;

	l4_opts(&o, true, true);
	o.dport = 80;
	len = vp_build_tcp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			    self->pl, GSO_PAYLOAD, &cs, &co);
	ASSERT_EQ((size_t)VG_NET_MAX_FRAME, len);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 54, GSO_MSS, cs, co);
	ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len, NULL,
				   &h));
	peer_collect(_metadata, self, false, &o, GSO_PAYLOAD, GSO_MSS);
	EXPECT_EQ(1ULL, dp_wait_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(packets),
				     1, 2000));
	EXPECT_EQ((uint64_t)len, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * UDP_L4 (USO): the contract lists it; nicsim honours it on every kernel
 * (its compat header parses it before 6.2, where the peer's AF_PACKET
 * cannot carry USO metadata: the segments arrive then).  The virtio-net
 * NIC honours it only if its device negotiated HOST_USO (QEMU 8.2 and
 * later, on a tap that takes USO); otherwise the frame must fail: dropped,
 * counted, nothing on the wire, the queue not stopped.
 */
TEST_F_TIMEOUT(offload, tx_gso_udp_l4, 60)
{
	const unsigned int mss = 1000, segs = 10;
	struct virtio_net_hdr_mrg_rxbuf h;
	struct vp_l4_opts o;
	uint16_t cs, co;
	size_t len;

	l4_opts(&o, true, true);
	o.dport = 6000;		/* nobody listens: the peer answers ICMP */
	len = vp_build_udp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			    self->pl, mss * segs, &cs, &co);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_UDP_L4, 42, (uint16_t)mss, cs, co);
	ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len, NULL,
				   &h));
	if (dp_vnic(&self->c) &&
	    !dp_vnic_feature(&self->c, VIRTIO_NET_F_HOST_USO)) {
		TH_LOG("the device has no HOST_USO: the frame must fail");
		EXPECT_EQ(-ETIMEDOUT, vp_packet_recv(self->pkt_ip, self->c.rx,
						     DP_BUFSZ, DP_QUIET_MS,
						     NULL));
		EXPECT_EQ(1ULL, dp_wait_stat(&self->g, VG_VQ_TX,
					     DP_STAT_OFF(drops_nic), 1, 2000));
		EXPECT_EQ(-ETIMEDOUT, vg_vq_wait_err(&self->g.d, VG_VQ_TX, 0));
		EXPECT_EQ(self->c.vmlck0,
			  dp_close_all(&self->c,
				       (struct vg_net *[]){ &self->g }, 1));
		return;
	}
	peer_collect(_metadata, self, true, &o, mss * segs, mss);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * Metadata the NIC cannot honour (GSO with gso_size 0, csum_start past
 * the end): the frame is dropped and counted, its buffer comes back, the
 * queue is not stopped, and the next frame goes through.
 */
TEST_F_TIMEOUT(offload, tx_bad_metadata_dropped, 60)
{
	struct virtio_net_hdr_mrg_rxbuf bad[2];
	struct vp_l4_opts o;
	uint16_t cs, co;
	unsigned int i;
	char why[256];
	size_t len;

	l4_opts(&o, true, true);
	o.dport = 80;
	len = vp_build_tcp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			    self->pl, 3000, &cs, &co);
	bad[0] = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, cs, co);
	bad[1] = csum_hdr((uint16_t)(len + 100), 16);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len,
					   NULL, &bad[i]))
			TH_LOG("bad frame %u not completed", i);
	EXPECT_EQ(0, vp_packet_recv(self->pkt_ip, self->c.rx, DP_BUFSZ,
				    DP_QUIET_MS, NULL) == -ETIMEDOUT ? 0 : 1)
		TH_LOG("a frame with impossible metadata reached the wire");
	EXPECT_EQ(2ULL, dp_wait_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(drops_nic),
				     2, 2000));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
	EXPECT_EQ(0, vg_vq_wait_err(&self->g.d, VG_VQ_TX, 0) == -ETIMEDOUT ?
		  0 : 1) TH_LOG("error eventfd fired for a NIC drop");

	/* the queue still works */
	l4_opts(&o, true, true);
	o.dport = 80;
	len = vp_build_tcp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
			    self->pl, 100, &cs, &co);
	bad[0] = csum_hdr(cs, co);
	ASSERT_EQ(0, dp_guest_send(&self->g, self->frame, (uint32_t)len, NULL,
				   &bad[0]));
	o.partial = false;
	vp_build_tcp4(self->frame, self->c.nic.peer_mac, self->mac, &o,
		      self->pl, 100, NULL, NULL);
	ASSERT_EQ(0, peer_expect_final(self, self->frame, len, cs, co, why,
				       sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* Next IPv4 frame at the guest (ARP, test frames skipped). */
static int guest_recv_ip(struct _test_data_offload *self, struct vg_net_rx *f)
{
	uint64_t deadline = vg_now_ms() + DP_WAIT_MS;

	while (vg_now_ms() < deadline) {
		int r = vg_net_rx_wait(&self->g, f, DP_WAIT_MS);

		if (r)
			return r;
		vg_net_rx_fill(&self->g, self->g.rx_nfree);
		vg_net_rx_kick(&self->g);
		if (f->len >= 34 && f->data[12] == 0x08 && f->data[13] == 0)
			return 0;
	}
	return -ETIMEDOUT;
}

/*
 * Header of a frame from the peer's stack: DATA_VALID, nothing pending.
 * The virtio-net NIC (@vnic) negotiates no receive offload: the outer
 * host finished every checksum (the caller checks the bytes) and the
 * driver reports nothing, so the header is all zero.
 */
static int check_data_valid(const struct vg_net_rx *f, bool gso_ok, bool vnic,
			    char *why, size_t wl)
{
	const struct virtio_net_hdr *h = &f->hdr.hdr;

	if (vnic && (h->flags || h->gso_type || h->gso_size)) {
		snprintf(why, wl,
			 "flags %#x GSO type %u size %u: the virtio-net NIC reports no Rx offload",
			 h->flags, h->gso_type, le16toh(h->gso_size));
		return -1;
	}
	if (vnic)
		return 0;

	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		snprintf(why, wl,
			 "NEEDS_CSUM (start %u offset %u) instead of DATA_VALID",
			 le16toh(h->csum_start), le16toh(h->csum_offset));
		return -1;
	}
	if (!(h->flags & VIRTIO_NET_HDR_F_DATA_VALID)) {
		snprintf(why, wl, "flags %#x: DATA_VALID missing", h->flags);
		return -1;
	}
	if (!gso_ok && (h->gso_type || h->gso_size)) {
		snprintf(why, wl, "GSO type %u size %u on a small frame",
			 h->gso_type, le16toh(h->gso_size));
		return -1;
	}
	return 0;
}

TEST_F_TIMEOUT(offload, rx_stack_udp_data_valid, 60)
{
	static const size_t plens[] = { 1, 100, 1472 };
	struct sockaddr_in to;
	struct vg_net_rx f;
	struct vp_l4_opts o;
	unsigned int i;
	char why[256];
	long got;
	int us;

	us = vp_peer_socket(&self->c.nic, AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, us);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(UDP_PORT);
	to.sin_addr.s_addr = ip4(GUEST_IP);
	l4_opts(&o, false, false);
	for (i = 0; i < ARRAY_SIZE(plens); i++) {
		ASSERT_EQ((ssize_t)plens[i],
			  sendto(us, self->pl, plens[i], 0,
				 (struct sockaddr *)&to, sizeof(to)));
		ASSERT_EQ(0, guest_recv_ip(self, &f))
			TH_LOG("UDP datagram %zu not received (%s)", plens[i],
			       self->g.err);
		ASSERT_EQ(0, check_data_valid(&f, false, dp_vnic(&self->c), why,
					      sizeof(why)))
			TH_LOG("UDP %zu: %s", plens[i], why);
		memcpy(self->frame, f.data, f.len);
		o.sport = (uint16_t)(self->frame[34] << 8 | self->frame[35]);
		got = check_segment(self->frame, f.len, NULL, true, &o,
				    self->pl, 0, 65535, why, sizeof(why));
		ASSERT_EQ((long)plens[i], got) TH_LOG("UDP %zu: %s", plens[i],
						      why);
	}
	close(us);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_F_TIMEOUT(offload, rx_stack_tcp_syn_data_valid, 60)
{
	struct sockaddr_in to;
	struct vg_net_rx f;
	char why[256];
	int ts;

	ts = vp_peer_socket(&self->c.nic, AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, ts);
	fcntl(ts, F_SETFL, O_NONBLOCK);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(80);
	to.sin_addr.s_addr = ip4(GUEST_IP);
	ASSERT_EQ(-1, connect(ts, (struct sockaddr *)&to, sizeof(to)));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_EQ(0, guest_recv_ip(self, &f)) TH_LOG("no SYN (%s)", self->g.err);
	ASSERT_EQ(6, f.data[23]) TH_LOG("not TCP");
	ASSERT_EQ(0x02, f.data[14 + 20 + 13] & 0x3f) TH_LOG("not a SYN");
	ASSERT_EQ(0, check_data_valid(&f, false, dp_vnic(&self->c), why,
				      sizeof(why)))
		TH_LOG("%s", why);
	memcpy(self->frame, f.data, f.len);
	ASSERT_EQ(0, vp_check_ipv4(self->frame, f.len, why, sizeof(why)))
		TH_LOG("SYN: %s", why);
	close(ts);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/*
 * The peer sends a 64 KiB TCP frame with GSO metadata: the guest gets the
 * payload intact, as one GSO frame or as valid segments.
 */
TEST_F_TIMEOUT(offload, rx_gso_tcp4_64k, 60)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct vp_l4_opts o;
	struct vg_net_rx f;
	unsigned int frames = 0, gso = 0;
	uint16_t cs, co;
	size_t len, off = 0;
	char why[256];
	long got;

	l4_opts(&o, false, true);
	o.dport = 80;
	len = vp_build_tcp4(self->frame + sizeof(struct virtio_net_hdr),
			    self->mac, self->c.nic.peer_mac, &o, self->pl,
			    GSO_PAYLOAD, &cs, &co);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 54, GSO_MSS, cs, co);
	memcpy(self->frame, &h.hdr, sizeof(h.hdr));
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->pkt_vnet, self->frame,
				    len + sizeof(h.hdr)))
		TH_LOG("peer could not send a GSO frame");
	while (off < GSO_PAYLOAD) {
		ASSERT_EQ(0, guest_recv_ip(self, &f))
			TH_LOG("guest: %zu of %u payload bytes, then nothing (%s)",
			       off, GSO_PAYLOAD, self->g.err);
		memcpy(self->frame, f.data, f.len);
		/* a GSO frame's checksum is the device's to finish */
		if (f.hdr.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			ASSERT_EQ(VIRTIO_NET_HDR_GSO_TCPV4,
				  f.hdr.hdr.gso_type & 0x7f);
			gso++;
			ASSERT_EQ(0, vp_csum_complete(self->frame, f.len, 34, 16));
		} else {
			ASSERT_EQ(0, check_data_valid(&f, false,
						      dp_vnic(&self->c), why,
						      sizeof(why)))
				TH_LOG("segment %u: %s", frames, why);
		}
		got = check_segment(self->frame, f.len, &f.hdr.hdr, false, &o,
				    self->pl, off, GSO_MSS, why, sizeof(why));
		ASSERT_LE(0, got) TH_LOG("frame %u: %s", frames, why);
		off += (size_t)got;
		frames++;
	}
	TH_LOG("%zu payload bytes in %u frames (%u GSO)", off, frames, gso);
	/* no GUEST_TSO4 on the virtio-net NIC: the outer host segments */
	if (dp_vnic(&self->c))
		EXPECT_EQ(0U, gso);
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bytes_copied)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(drops_too_big)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_HARNESS_MAIN
