// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_accel_demo: move real traffic through two backends from the same
 * user-space virtio guest (selftests/lib/vguest) and print what it measured.
 *
 *   vhost-net + tap       /dev/vhost-net, SET_BACKEND with a tap fd
 *                         (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header 12
 *                         bytes, VHOST_NET_F_VIRTIO_NET_HDR not acked, so
 *                         tap handles the header, as QEMU does); the far
 *                         side is the tap netdev.
 *   vhost-accel + nicsim  /dev/vhost-accel bound with VHOST_ACCEL_SET_NIC
 *                         to a nicsim NIC ("ip link add NAME type nicsim"),
 *                         then SET_BACKEND on both queues; the far side is
 *                         the NIC's wire peer NAMEp.
 *
 * For each path, in a private network namespace (no addresses configured;
 * the frames carry 10.99.0.0/24 addresses and go nowhere else):
 *   tx  one frame from the guest must arrive intact at an AF_PACKET socket
 *       on the far side; then the guest sends 64-byte frames (60 bytes +
 *       FCS) as fast as it can and the far side counts arrivals
 *       (PACKET_STATISTICS: delivered + dropped at the socket) over a
 *       fixed window: guest tx pps.
 *   rx  one frame sent on the far side must arrive intact in the guest's
 *       Rx ring; then the far side sends with sendmmsg as fast as it can
 *       and the guest counts what it reaps over the same window: guest rx
 *       pps.
 * Then the vhost-accel counters (VHOST_ACCEL_GET_STATS: packets, bytes,
 * bytes_copied, which must be 0) and the NIC's ethtool -S counters
 * (SIOCETHTOOL, no ethtool binary needed).
 *
 * Output is TAP (one case per step, plan at the end) with the report as
 * "#" lines; exit status 0 iff every case passed.  Runs as root, inside the
 * test VM (scripts/demo.sh, selftests/vm/run.sh).
 *
 * Environment: DEMO_SECONDS (measurement window per direction, default 5),
 * DEMO_PATHS ("net", "accel" or "net,accel", the default).
 */
#include <arpa/inet.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "vguest.h"
#include "vpeer.h"
#include "vtap.h"

#define RING		256		/* entries per virtqueue (QEMU's default) */
#define HDR_LEN		12		/* virtio_net_hdr_mrg_rxbuf: VERSION_1 */
#define FRAME_LEN	60		/* 64 on the wire with the FCS */
#define RXBUF_LEN	2048		/* one Rx buffer, never crosses a page */
#define TXBUF_LEN	128
#define MEM_SIZE	(4UL << 20)
#define CHECK_MS	5000		/* one frame must get through within */
#define WARMUP_MS	300		/* traffic before a window opens */
#define DRAIN_MS	300
#define BATCH		32		/* far-side sendmmsg/recvmmsg batch */

#define TAP_NAME	"vxdtap0"
#define NIC_NAME	"vxdnic0"	/* nicsim creates NIC_NAME "p" too */

static const uint8_t guest_mac[ETH_ALEN] = { 0x02, 0x76, 0x78, 0x64, 0x00, 0x01 };
static const uint8_t far_mac[ETH_ALEN] = { 0x02, 0x76, 0x78, 0x64, 0x00, 0x02 };
#define GUEST_IP	0x0a630001	/* 10.99.0.1 */
#define FAR_IP		0x0a630002	/* 10.99.0.2 */
#define UDP_PORT	9		/* discard */
static const char magic[8] = "VXDEMO01";
#define MAGIC_OFF	42		/* after Ethernet, IPv4 and UDP headers */
#define SEQ_OFF		50		/* 4 bytes, the only varying part */

/* ---------------------------------------------------------------- errors */

#define ERRLEN	512

static void seterr(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERRLEN, fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------------- frames */

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A 60-byte Ethernet/IPv4/UDP frame from @src to @dst carrying the magic. */
static void build_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			uint32_t saddr, uint32_t daddr)
{
	uint8_t *ip = f + 14, *udp = f + 34;
	uint16_t c;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + 6, src, ETH_ALEN);
	f[12] = 0x08;				/* ETH_P_IP */
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = FRAME_LEN - 14;			/* total length 46 */
	ip[6] = 0x40;				/* DF */
	ip[8] = 64;				/* TTL */
	ip[9] = 17;				/* UDP */
	saddr = htonl(saddr);
	daddr = htonl(daddr);
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	c = htons(ip_csum(ip, 20));
	memcpy(ip + 10, &c, 2);
	udp[1] = UDP_PORT;			/* source port 9 */
	udp[3] = UDP_PORT;			/* destination port 9 */
	udp[5] = FRAME_LEN - 34;		/* UDP length 26; checksum 0 */
	memcpy(f + MAGIC_OFF, magic, sizeof(magic));
}

static void set_seq(uint8_t *f, uint32_t seq)
{
	memcpy(f + SEQ_OFF, &seq, sizeof(seq));
}

/* Same as @tmpl except the sequence number. */
static bool frame_matches(const uint8_t *f, const uint8_t *tmpl)
{
	return !memcmp(f, tmpl, SEQ_OFF) &&
	       !memcmp(f + SEQ_OFF + 4, tmpl + SEQ_OFF + 4,
		       FRAME_LEN - SEQ_OFF - 4);
}

static uint8_t tx_tmpl[FRAME_LEN];	/* guest -> far side */
static uint8_t rx_tmpl[FRAME_LEN];	/* far side -> guest */

/* ---------------------------------------------------------- host helpers */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run a shell command; its output (stdout+stderr) goes to @buf. */
static int run(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int run(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[512];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n + 1 < len && fgets(buf + n, (int)(len - n), p))
		n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int if_up(const char *name)
{
	int ifindex = (int)if_nametoindex(name);

	return ifindex ? vp_nl_link_set(ifindex, 1, 0, -1, -1) : -ENODEV;
}

/* Kernel counters of netdev @name (getifaddrs: rtnl_link_stats). */
static int link_stats(const char *name, struct rtnl_link_stats *st)
{
	struct ifaddrs *ifa, *i;
	int r = -ENODEV;

	memset(st, 0, sizeof(*st));
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET ||
		    !i->ifa_data || strcmp(i->ifa_name, name))
			continue;
		memcpy(st, i->ifa_data, sizeof(*st));
		r = 0;
		break;
	}
	freeifaddrs(ifa);
	return r;
}

/* Print the nonzero ethtool -S counters of @name; -errno on failure. */
static int print_ethtool_stats(const char *name)
{
	struct ethtool_sset_info *si = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_stats *es = NULL;
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	unsigned int n, i, shown = 0;
	int fd, r = 0;

	fd = vp_ifreq_socket(&ifr, name);
	if (fd < 0)
		return fd;
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	n = di.n_stats;
	si = calloc(1, sizeof(*si) + sizeof(__u32));
	if (!si) {
		r = -ENOMEM;
		goto out;
	}
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_STATS;
	ifr.ifr_data = (void *)si;
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && si->sset_mask)
		n = si->data[0];
	if (!n) {
		vtap_out("#   ethtool -S %s (driver %s): no counters\n", name,
		    di.driver);
		r = -ENODATA;
		goto out;
	}
	gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	es = calloc(1, sizeof(*es) + (size_t)n * sizeof(__u64));
	if (!gs || !es) {
		r = -ENOMEM;
		goto out;
	}
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_STATS;
	gs->len = n;
	ifr.ifr_data = (void *)gs;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	es->cmd = ETHTOOL_GSTATS;
	es->n_stats = n;
	ifr.ifr_data = (void *)es;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	vtap_out("#   ethtool -S %s (driver %s, %u counters, zeros not shown):\n",
	    name, di.driver, n);
	for (i = 0; i < n && i < gs->len; i++) {
		char s[ETH_GSTRING_LEN + 1];

		if (!es->data[i])
			continue;
		memcpy(s, gs->data + (size_t)i * ETH_GSTRING_LEN,
		       ETH_GSTRING_LEN);
		s[ETH_GSTRING_LEN] = '\0';
		vtap_out("#     %-32s %" PRIu64 "\n", s, (uint64_t)es->data[i]);
		shown++;
	}
	if (!shown)
		vtap_out("#     (all zero)\n");
out:
	free(si);
	free(gs);
	free(es);
	close(fd);
	return r;
}

/* "QEMU TCG", "KVM", ... from the hypervisor CPUID leaf. */
static const char *cpu_vendor(void)
{
	static char sig[13];
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1U << 31)))
		return "bare metal";
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	if (!strcmp(sig, "TCGTCGTCGTCG"))
		return "QEMU TCG (emulated CPU, no KVM)";
	if (!strcmp(sig, "KVMKVMKVM"))
		return "KVM";
	return sig[0] ? sig : "an unknown VMM";
}

/* ----------------------------------------------------- the far side */

/* AF_PACKET socket on @ifindex; @proto 0: send only. */
static int far_socket(int ifindex, uint16_t proto, char *err)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	int fd, one = 1, sz = 4 << 20;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
	if (fd < 0) {
		seterr(err, "AF_PACKET socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		seterr(err, "bind AF_PACKET to ifindex %d: %s", ifindex,
		       strerror(errno));
		close(fd);
		return -1;
	}
	if (proto) {
		struct timeval tv = { .tv_usec = 100000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	} else {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
		/* straight to the driver, as PACKET_MMAP senders do */
		setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			   sizeof(one));
	}
	return fd;
}

/* Arrivals at the socket since the last call: delivered + dropped. */
static uint64_t far_arrivals(int fd, uint64_t *drops)
{
	struct tpacket_stats st = { 0 };
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
		return 0;
	if (drops)
		*drops = st.tp_drops;
	return st.tp_packets;
}

/* Far side of guest Tx (a vg_reader): everything that arrives is checked. */
static int tx_frame_check(void *ctx, const uint8_t *f, size_t len)
{
	(void)ctx;
	return len == FRAME_LEN && frame_matches(f, tx_tmpl) ? 0 : -EBADMSG;
}

/*
 * Far side of guest Rx (a vg_sender): 64-byte frames as fast as it goes;
 * what the backend's full queue refuses is dropped, not sent again.
 */
static void rx_sender_init(struct vg_sender *sd, int fd, int ifindex)
{
	memset(sd, 0, sizeof(*sd));
	sd->fd = fd;
	sd->ifindex = ifindex;
	sd->proto = ETH_P_IP;
	sd->dst_mac = guest_mac;
	sd->tmpl = rx_tmpl;
	sd->len = FRAME_LEN;
	sd->seq_off = SEQ_OFF;
	sd->seq = 1;
	sd->batch = BATCH;
}

/* --------------------------------------------------------- the guest */

struct guest {
	struct vg_dev d;
	uint64_t rx_gpa, tx_gpa;	/* buffer areas in guest memory */
	uint8_t *rx_hva, *tx_hva;
	unsigned int tx_free[RING], n_tx_free;
	uint32_t tx_seq;
	/* counted by the loops */
	uint64_t tx_done;
	uint64_t rx_good, rx_bad, rx_other;
	char first_bad[160];
};

static bool error_signalled(struct guest *g, char *err)
{
	unsigned int q;

	for (q = 0; q < VG_NVQS; q++) {
		if (!vg_vq_wait_err(&g->d, q, 0)) {
			seterr(err, "device signalled the error eventfd of vq %u",
			       q);
			return true;
		}
	}
	return false;
}

/*
 * The usual vhost setup, as QEMU does it at DRIVER_OK: owner, features
 * (VERSION_1 and EVENT_IDX, both backends offer them), memory table, both
 * rings.  The backend is not set here.
 */
static int guest_setup(struct guest *g, const char *path, char *err)
{
	const uint64_t want = VG_FBIT(VIRTIO_F_VERSION_1) |
			      VG_FBIT(VIRTIO_RING_F_EVENT_IDX);
	uint64_t f = 0;
	unsigned int i;
	void *hva;
	int r;

	memset(g, 0, sizeof(*g));
	r = vg_open(&g->d, path);
	if (r) {
		seterr(err, "open %s: %s", path, strerror(-r));
		return r;
	}
	r = vg_set_owner(&g->d);
	if (!r)
		r = vg_get_features(&g->d, &f);
	if (r) {
		seterr(err, "%s: SET_OWNER/GET_FEATURES: %s", path,
		       strerror(-r));
		return r;
	}
	if ((f & want) != want) {
		seterr(err, "%s offers features %#" PRIx64
		       ", lacks VERSION_1 or EVENT_IDX", path, f);
		return -EOPNOTSUPP;
	}
	r = vg_set_features(&g->d, want);
	if (!r)
		r = vg_mem_add(&g->d, 0, MEM_SIZE, VG_MEM_POPULATE);
	if (r >= 0)
		r = vg_set_mem_table(&g->d);
	if (!r)
		r = vg_setup_vring(&g->d, VG_VQ_RX, RING);
	if (!r)
		r = vg_setup_vring(&g->d, VG_VQ_TX, RING);
	if (!r)
		r = vg_mem_alloc(&g->d, (uint64_t)RING * RXBUF_LEN, 4096,
				 &g->rx_gpa, &hva);
	if (!r) {
		g->rx_hva = hva;
		r = vg_mem_alloc(&g->d, (uint64_t)RING * TXBUF_LEN, 4096,
				 &g->tx_gpa, &hva);
	}
	if (r) {
		seterr(err, "%s: features/memory table/vrings: %s", path,
		       strerror(-r));
		return r;
	}
	g->tx_hva = hva;
	/* Tx buffers: a zero virtio-net header (no offloads), then a frame. */
	for (i = 0; i < RING; i++) {
		memset(g->tx_hva + (size_t)i * TXBUF_LEN, 0, HDR_LEN);
		memcpy(g->tx_hva + (size_t)i * TXBUF_LEN + HDR_LEN, tx_tmpl,
		       FRAME_LEN);
		g->tx_free[i] = i;
	}
	g->n_tx_free = RING;
	return 0;
}

/* Post every free Rx buffer (one 2 KiB device-writable descriptor each). */
static int guest_rx_fill(struct guest *g)
{
	int r, added = 0;

	while (vg_vq_num_free(&g->d, VG_VQ_RX)) {
		/* a head is a free descriptor: use it to pick the buffer */
		unsigned int slot = g->d.vq[VG_VQ_RX].free_head;
		struct vg_buf b = {
			.gpa = g->rx_gpa + (uint64_t)slot * RXBUF_LEN,
			.len = RXBUF_LEN,
		};

		r = vg_vq_add(&g->d, VG_VQ_RX, NULL, 0, &b, 1,
			      (void *)(uintptr_t)(slot + 1), 0);
		if (r < 0)
			return r;
		added++;
	}
	if (added) {
		r = vg_vq_notify(&g->d, VG_VQ_RX);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reap the Rx ring, checking each frame; returns frames reaped or -errno. */
static int guest_rx_reap(struct guest *g)
{
	const struct virtio_net_hdr *h;
	void *cookie;
	uint32_t len;
	int id, n = 0;

	while ((id = vg_vq_get_used(&g->d, VG_VQ_RX, &len, &cookie)) >= 0) {
		unsigned int slot = (unsigned int)(uintptr_t)cookie - 1;
		const uint8_t *p = g->rx_hva + (size_t)slot * RXBUF_LEN;

		n++;
		h = (const void *)p;
		if (len >= HDR_LEN + ETH_ALEN &&
		    memcmp(p + HDR_LEN, guest_mac, ETH_ALEN)) {
			g->rx_other++;	/* not addressed to us */
		} else if (len == HDR_LEN + FRAME_LEN &&
			   h->gso_type == VIRTIO_NET_HDR_GSO_NONE &&
			   frame_matches(p + HDR_LEN, rx_tmpl)) {
			g->rx_good++;
		} else {
			if (!g->rx_bad)
				snprintf(g->first_bad, sizeof(g->first_bad),
					 "used len %u (want %u), gso_type %u",
					 len, HDR_LEN + FRAME_LEN, h->gso_type);
			g->rx_bad++;
		}
	}
	return id == -EAGAIN ? n : id;
}

/* Guest Rx for @ms: reap, repost, sleep on the call eventfd when idle. */
static int guest_rx_run(struct guest *g, unsigned int ms, uint64_t want_good)
{
	double end = now_s() + ms / 1000.0;
	int n, r;

	while (now_s() < end) {
		n = guest_rx_reap(g);
		if (n < 0)
			return n;
		if (n) {
			r = guest_rx_fill(g);
			if (r)
				return r;
		} else {
			r = vg_vq_wait_cb(&g->d, VG_VQ_RX, 10, false);
			if (r)
				return r;
		}
		if (want_good && g->rx_good >= want_good)
			break;
	}
	return 0;
}

/* Reap Tx completions; returns how many or -errno. */
static int guest_tx_reap(struct guest *g)
{
	void *cookie;
	int id, n = 0;

	while ((id = vg_vq_get_used(&g->d, VG_VQ_TX, NULL, &cookie)) >= 0) {
		g->tx_free[g->n_tx_free++] = (unsigned int)(uintptr_t)cookie - 1;
		n++;
	}
	g->tx_done += (uint64_t)n;
	return id == -EAGAIN ? n : id;
}

/*
 * Guest Tx for @ms or until @max frames were queued (0: no limit): keep the
 * ring full, kick when the device asks for it, sleep on calls when full.
 */
static int guest_tx_run(struct guest *g, unsigned int ms, uint64_t max)
{
	double end = now_s() + ms / 1000.0;
	uint64_t queued = 0;
	int r, added;

	while (now_s() < end) {
		r = guest_tx_reap(g);
		if (r < 0)
			return r;
		added = 0;
		while (g->n_tx_free && (!max || queued < max)) {
			unsigned int slot = g->tx_free[--g->n_tx_free];
			uint8_t *p = g->tx_hva + (size_t)slot * TXBUF_LEN;
			struct vg_buf b = {
				.gpa = g->tx_gpa + (uint64_t)slot * TXBUF_LEN,
				.len = HDR_LEN + FRAME_LEN,
			};

			set_seq(p + HDR_LEN, g->tx_seq++);
			r = vg_vq_add(&g->d, VG_VQ_TX, &b, 1, NULL, 0,
				      (void *)(uintptr_t)(slot + 1), 0);
			if (r < 0)
				return r;
			added++;
			queued++;
		}
		if (added) {
			r = vg_vq_notify(&g->d, VG_VQ_TX);
			if (r < 0)
				return r;
			continue;
		}
		if (max && queued >= max && g->n_tx_free == RING)
			break;	/* all queued and completed */
		if (!r) {
			/* ring full (or limit reached): wait for completions */
			r = vg_vq_wait_cb(&g->d, VG_VQ_TX, 10, !max);
			if (r)
				return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ one path */

struct path {
	const char *name;
	bool accel;
	const char *dev;		/* /dev/vhost-net or /dev/vhost-accel */
	bool setup_ok, tx_ok, rx_ok;
	double tx_pps, rx_pps;
	char why[ERRLEN];		/* first failure, for the table */
	/* runtime */
	struct guest g;
	bool g_init;			/* g went through vg_open() */
	int tap_fd, backend_fd;
	bool nic_created;
	char far_if[IFNAMSIZ];
	int far_ifindex;
};

static unsigned int seconds = 5;

static void path_fail(struct path *p, const char *step, const char *why)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: %s", p->name, step);
	vtap_case(false, name, why);
	if (!p->why[0])
		snprintf(p->why, sizeof(p->why), "%s: %s", step, why);
}

/* tap for vhost-net: the kernel's virtio-net header handling, as QEMU sets it. */
static int setup_net(struct path *p, char *err)
{
	struct ifreq ifr;
	int hdr = HDR_LEN, r;

	p->tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (p->tap_fd < 0) {
		seterr(err, "open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP_NAME);
	if (ioctl(p->tap_fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(p->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		seterr(err, "tap %s: TUNSETIFF/TUNSETVNETHDRSZ: %s", TAP_NAME,
		       strerror(errno));
		return -1;
	}
	r = if_up(TAP_NAME);
	if (r) {
		seterr(err, "%s up: %s", TAP_NAME, strerror(-r));
		return -1;
	}
	snprintf(p->far_if, sizeof(p->far_if), "%s", TAP_NAME);
	p->g_init = true;
	if (guest_setup(&p->g, p->dev, err))
		return -1;
	p->backend_fd = p->tap_fd;
	return 0;
}

/* nicsim NIC + wire peer, bound with VHOST_ACCEL_SET_NIC. */
static int setup_accel(struct path *p, char *err)
{
	struct vhost_accel_nic_bind bind = { 0 };
	char buf[ERRLEN - 64];
	int r;

	if (access("/sys/module/nicsim", F_OK))
		run(buf, sizeof(buf), "modprobe nicsim");
	r = run(buf, sizeof(buf), "ip link add %s type nicsim", NIC_NAME);
	if (r) {
		seterr(err,
		       "'ip link add %s type nicsim' failed (%s): the reference NIC (nicsim.ko) is not available",
		       NIC_NAME, buf[0] ? buf : "no output");
		return -1;
	}
	p->nic_created = true;
	snprintf(p->far_if, sizeof(p->far_if), "%sp", NIC_NAME);
	r = if_up(NIC_NAME);
	if (!r)
		r = if_up(p->far_if);
	if (r) {
		seterr(err, "bringing %s/%s up: %s", NIC_NAME, p->far_if,
		       strerror(-r));
		return -1;
	}
	p->g_init = true;
	if (guest_setup(&p->g, p->dev, err))
		return -1;
	bind.ifindex = (int)if_nametoindex(NIC_NAME);
	memcpy(bind.mac, guest_mac, ETH_ALEN);
	r = vg_ioctl(&p->g.d, VHOST_ACCEL_SET_NIC, &bind);
	if (r) {
		seterr(err, "VHOST_ACCEL_SET_NIC(%s, ifindex %d): %s%s",
		       NIC_NAME, bind.ifindex, strerror(-r),
		       r == -ENOTTY ? " (this vhost_accel.ko has no datapath)"
				    : "");
		return -1;
	}
	/* Any valid fd starts the datapath of a NIC-bound device. */
	p->backend_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->backend_fd < 0) {
		seterr(err, "socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(struct path *p)
{
	char buf[256];

	if (p->g_init) {
		if (p->g.d.fd >= 0) {
			vg_set_backend(&p->g.d, VG_VQ_RX, -1);
			vg_set_backend(&p->g.d, VG_VQ_TX, -1);
		}
		vg_close(&p->g.d);
		p->g_init = false;
	}
	if (p->backend_fd >= 0 && p->backend_fd != p->tap_fd)
		close(p->backend_fd);
	if (p->tap_fd >= 0)
		close(p->tap_fd);
	if (p->nic_created)
		run(buf, sizeof(buf), "ip link del %s", NIC_NAME);
	p->tap_fd = p->backend_fd = -1;
	p->nic_created = false;
}

static bool do_setup(struct path *p)
{
	char err[ERRLEN] = "", name[96];
	unsigned int q;
	int r;

	p->tap_fd = p->backend_fd = -1;
	r = p->accel ? setup_accel(p, err) : setup_net(p, err);
	if (!r) {
		p->far_ifindex = (int)if_nametoindex(p->far_if);
		if (!p->far_ifindex) {
			seterr(err, "no interface %s", p->far_if);
			r = -1;
		}
	}
	/* Rx buffers first, so nothing that arrives at once is dropped. */
	if (!r) {
		r = guest_rx_fill(&p->g);
		if (r)
			seterr(err, "posting Rx buffers: %s", strerror(-r));
	}
	for (q = 0; !r && q < VG_NVQS; q++) {
		r = vg_set_backend(&p->g.d, q, p->backend_fd);
		if (r)
			seterr(err, "VHOST_NET_SET_BACKEND vq %u: %s", q,
			       strerror(-r));
	}
	if (!r) {
		r = vg_vq_kick(&p->g.d, VG_VQ_RX);
		if (r)
			seterr(err, "kick: %s", strerror(-r));
	}
	if (r) {
		path_fail(p, "setup", err);
		return false;
	}
	snprintf(name, sizeof(name), "%s: setup (%s, far side %s)", p->name,
		 p->dev, p->far_if);
	return vtap_case(true, name, NULL);
}

/*
 * The end of a direction's step: @r so far, then the checks both directions
 * make (no error eventfd, a nonzero rate); the TAP case @name, *@ok on success.
 */
static bool dir_done(struct path *p, const char *step, int r, double pps,
		     const char *none, char *err, const char *name, bool *ok)
{
	if (!r && error_signalled(&p->g, err))
		r = -1;
	if (!r && !pps) {
		seterr(err, "%s", none);
		r = -1;
	}
	if (r) {
		path_fail(p, step, err);
		return false;
	}
	*ok = true;
	return vtap_case(true, name, NULL);
}

static bool do_tx(struct path *p)
{
	struct vg_reader rd = { .check = tx_frame_check };
	char err[ERRLEN] = "", name[96];
	uint64_t arrivals, drops = 0, sent0;
	double t0, t1;
	int r;

	rd.fd = far_socket(p->far_ifindex, ETH_P_IP, err);
	if (rd.fd < 0)
		goto fail;
	if (vg_reader_start(&rd)) {
		seterr(err, "pthread_create failed");
		close(rd.fd);
		goto fail;
	}
	/* One frame, intact, within CHECK_MS. */
	r = guest_tx_run(&p->g, CHECK_MS, 1);
	t0 = now_s();
	while (!r && !atomic_load(&rd.good) && now_s() - t0 < CHECK_MS / 1e3)
		vg_sleep_ms(10);
	if (r) {
		seterr(err, "guest Tx: %s", strerror(-r));
	} else if (!atomic_load(&rd.good)) {
		seterr(err,
		       "a guest frame did not arrive on %s within %u ms (completed by the device: %" PRIu64 ", wrong frames seen: %" PRIu64 ")",
		       p->far_if, CHECK_MS, p->g.tx_done,
		       (uint64_t)atomic_load(&rd.bad));
		r = -1;
	}
	if (!r) {
		r = guest_tx_run(&p->g, WARMUP_MS, 0);
		far_arrivals(rd.fd, NULL);		/* opens the window */
		sent0 = p->g.tx_done;
		t0 = now_s();
		if (!r)
			r = guest_tx_run(&p->g, seconds * 1000, 0);
		arrivals = far_arrivals(rd.fd, &drops);	/* closes it */
		t1 = now_s();
		if (r) {
			seterr(err, "guest Tx: %s", strerror(-r));
		} else {
			p->tx_pps = (double)arrivals / (t1 - t0);
			vtap_out("#   tx: in %.2f s the device completed %" PRIu64 " guest frames; %" PRIu64 " arrived at %s (%" PRIu64 " of them dropped at the full socket)\n",
			    t1 - t0, p->g.tx_done - sent0, arrivals,
			    p->far_if, drops);
		}
	}
	vg_reader_stop(&rd);
	close(rd.fd);
	if (!r && atomic_load(&rd.bad)) {
		seterr(err, "%" PRIu64 " frames arrived on %s corrupted",
		       (uint64_t)atomic_load(&rd.bad), p->far_if);
		r = -1;
	}
	snprintf(name, sizeof(name), "%s: guest tx frames arrive intact on %s",
		 p->name, p->far_if);
	return dir_done(p, "tx", r, p->tx_pps, "nothing arrived during the window",
			err, name, &p->tx_ok);
fail:
	path_fail(p, "tx", err);
	return false;
}

static bool do_rx(struct path *p)
{
	struct rtnl_link_stats ls0, ls1;
	struct vg_sender sd;
	char err[ERRLEN] = "", name[96];
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_halen = ETH_ALEN,
	};
	uint64_t good0, sent0;
	double t0, t1;
	uint8_t f[FRAME_LEN];
	int r;

	rx_sender_init(&sd, far_socket(p->far_ifindex, 0, err),
		       p->far_ifindex);
	if (sd.fd < 0)
		goto fail;
	sll.sll_ifindex = p->far_ifindex;
	memcpy(sll.sll_addr, guest_mac, ETH_ALEN);

	/* One frame, intact, within CHECK_MS. */
	memcpy(f, rx_tmpl, FRAME_LEN);
	set_seq(f, 0);
	if (sendto(sd.fd, f, FRAME_LEN, 0, (struct sockaddr *)&sll,
		   sizeof(sll)) != FRAME_LEN) {
		seterr(err, "send on %s: %s", p->far_if, strerror(errno));
		close(sd.fd);
		goto fail;
	}
	r = guest_rx_run(&p->g, CHECK_MS, 1);
	if (r) {
		seterr(err, "guest Rx: %s", strerror(-r));
	} else if (!p->g.rx_good) {
		seterr(err,
		       "a frame sent on %s did not reach the guest within %u ms (wrong frames: %" PRIu64 "%s%s, others: %" PRIu64 ")",
		       p->far_if, CHECK_MS, p->g.rx_bad,
		       p->g.rx_bad ? ", first: " : "", p->g.first_bad,
		       p->g.rx_other);
		r = -1;
	}
	if (!r) {
		if (vg_sender_start(&sd)) {
			seterr(err, "pthread_create failed");
			close(sd.fd);
			goto fail;
		}
		r = guest_rx_run(&p->g, WARMUP_MS, 0);
		link_stats(p->far_if, &ls0);
		good0 = p->g.rx_good;
		sent0 = atomic_load(&sd.sent);
		t0 = now_s();
		if (!r)
			r = guest_rx_run(&p->g, seconds * 1000, 0);
		t1 = now_s();
		p->rx_pps = (double)(p->g.rx_good - good0) / (t1 - t0);
		link_stats(p->far_if, &ls1);
		sent0 = atomic_load(&sd.sent) - sent0;
		vg_sender_stop(&sd);
		if (!r)
			r = guest_rx_run(&p->g, DRAIN_MS, 0);
		if (r) {
			seterr(err, "guest Rx: %s", strerror(-r));
		} else if (sd.err) {
			seterr(err, "sendmmsg on %s: %s", p->far_if,
			       strerror(-sd.err));
			r = -1;
		} else {
			vtap_out("#   rx: in %.2f s the guest reaped %" PRIu64 " intact frames; meanwhile %s sent %" PRIu64 " (its tx_dropped +%u)\n",
			    t1 - t0,
			    (uint64_t)(p->rx_pps * (t1 - t0) + 0.5),
			    p->far_if, sent0,
			    ls1.tx_dropped - ls0.tx_dropped);
		}
	}
	close(sd.fd);
	if (!r && p->g.rx_bad) {
		seterr(err, "%" PRIu64 " frames reached the guest corrupted (first: %s)",
		       p->g.rx_bad, p->g.first_bad);
		r = -1;
	}
	snprintf(name, sizeof(name),
		 "%s: frames sent on %s arrive intact in the guest", p->name,
		 p->far_if);
	return dir_done(p, "rx", r, p->rx_pps,
			"the guest received nothing during the window", err,
			name, &p->rx_ok);
fail:
	path_fail(p, "rx", err);
	return false;
}

/* vhost-accel's own counters: real traffic, no payload copies. */
static void do_accel_stats(struct path *p)
{
	static const char *const qn[2] = { "rx", "tx" };
	struct vhost_accel_stats st;
	char err[ERRLEN] = "", name[96];
	unsigned int q;
	int r;

	r = vg_get_stats(&p->g.d, &st);
	if (r) {
		seterr(err, "VHOST_ACCEL_GET_STATS: %s", strerror(-r));
		path_fail(p, "stats", err);
		return;
	}
	vtap_out("#   vhost-accel stats (VHOST_ACCEL_GET_STATS), whole run:\n");
	for (q = 0; q < 2; q++) {
		const struct vhost_accel_vq_stats *v = &st.vq[q];

		vtap_out("#     vq %u %s: packets %" PRIu64 " bytes %" PRIu64
		    " bytes_copied %" PRIu64 " bufs_posted %" PRIu64
		    " kicks %" PRIu64 " calls %" PRIu64 "\n", q, qn[q],
		    (uint64_t)v->packets, (uint64_t)v->bytes,
		    (uint64_t)v->bytes_copied, (uint64_t)v->bufs_posted,
		    (uint64_t)v->kicks, (uint64_t)v->calls);
		vtap_out("#       depletions %" PRIu64 " drops: no_buf %" PRIu64
		    " too_big %" PRIu64 " nic %" PRIu64 "; errors %" PRIu64
		    "\n", (uint64_t)v->depletions, (uint64_t)v->drops_no_buf,
		    (uint64_t)v->drops_too_big, (uint64_t)v->drops_nic,
		    (uint64_t)v->errors);
	}
	vtap_out("#     pinned_pages %" PRIu64 " worker_wakeups %" PRIu64 "\n",
	    (uint64_t)st.pinned_pages, (uint64_t)st.worker_wakeups);
	if (st.vq[VG_VQ_TX].packets < p->g.tx_done)
		seterr(err, "tx packets %" PRIu64 " < %" PRIu64
		       " frames the guest saw completed",
		       (uint64_t)st.vq[VG_VQ_TX].packets, p->g.tx_done);
	else if (st.vq[VG_VQ_RX].packets < p->g.rx_good)
		seterr(err, "rx packets %" PRIu64 " < %" PRIu64
		       " frames the guest received",
		       (uint64_t)st.vq[VG_VQ_RX].packets, p->g.rx_good);
	else if (!st.vq[0].bytes || !st.vq[1].bytes)
		seterr(err, "bytes not counted");
	else if (st.vq[0].bytes_copied || st.vq[1].bytes_copied)
		seterr(err, "bytes_copied rx %" PRIu64 " tx %" PRIu64
		       ": payload was copied",
		       (uint64_t)st.vq[0].bytes_copied,
		       (uint64_t)st.vq[1].bytes_copied);
	if (err[0]) {
		path_fail(p, "stats", err);
		return;
	}
	snprintf(name, sizeof(name),
		 "%s: stats count the traffic, bytes_copied 0", p->name);
	vtap_case(true, name, NULL);
}

static void do_nic_stats(struct path *p)
{
	char err[ERRLEN] = "", name[96];
	int r;

	r = print_ethtool_stats(NIC_NAME);
	if (r) {
		seterr(err, "ethtool -S %s: %s", NIC_NAME, strerror(-r));
		path_fail(p, "nic counters", err);
		return;
	}
	snprintf(name, sizeof(name), "%s: ethtool -S %s", p->name, NIC_NAME);
	vtap_case(true, name, NULL);
}

static void run_path(struct path *p)
{
	struct rtnl_link_stats ls;

	vtap_out("# --- %s ---\n", p->name);
	if (do_setup(p)) {
		do_tx(p);
		do_rx(p);
		if (!link_stats(p->far_if, &ls))
			vtap_out("#   %s netdev counters, whole run: rx_packets %u (from the guest) tx_packets %u (towards it) rx_dropped %u tx_dropped %u\n",
			    p->far_if,
			    ls.rx_packets, ls.tx_packets, ls.rx_dropped,
			    ls.tx_dropped);
		if (p->accel) {
			do_accel_stats(p);
			do_nic_stats(p);
		}
	}
	teardown(p);
}

/* ---------------------------------------------------------------- main */

static void cell(char *buf, size_t len, bool ok, double pps)
{
	if (ok)
		snprintf(buf, len, "%.0f", pps);
	else
		snprintf(buf, len, "FAILED");
}

static void ratio(char *buf, size_t len, bool ok, double v, bool ref_ok,
		  double ref)
{
	if (ok && ref_ok && ref > 0)
		snprintf(buf, len, "%.2f", v / ref);
	else
		snprintf(buf, len, "-");
}

int main(void)
{
	struct path paths[2] = {
		{ .name = "vhost-net + tap", .dev = VG_DEV_NET },
		{ .name = "vhost-accel + nicsim", .dev = VG_DEV_ACCEL,
		  .accel = true },
	};
	const char *e = getenv("DEMO_SECONDS"), *which = getenv("DEMO_PATHS");
	struct path *ref = &paths[0];
	unsigned int i;
	char err[ERRLEN];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (e && atoi(e) > 0)
		seconds = (unsigned int)atoi(e);
	if (!which || !*which)
		which = "net,accel";

	build_frame(tx_tmpl, far_mac, guest_mac, GUEST_IP, FAR_IP);
	build_frame(rx_tmpl, guest_mac, far_mac, FAR_IP, GUEST_IP);

	vtap_out("TAP version 13\n");
	vtap_out("# vhost-accel demo: one user-space virtio-net guest (selftests/lib/vguest),\n");
	vtap_out("# %u-byte frames (%u with FCS), ring size %u, %u s per direction, in %s\n",
	    FRAME_LEN, FRAME_LEN + 4, RING, seconds, cpu_vendor());
	vtap_out("# with %ld CPUs: one run, a demonstration, NOT a benchmark.\n",
	    sysconf(_SC_NPROCESSORS_ONLN));

	/* A private network namespace: no addresses, nothing leaves it. */
	if (unshare(CLONE_NEWNET)) {
		seterr(err, "unshare(CLONE_NEWNET): %s", strerror(errno));
		vtap_case(false, "private network namespace", err);
		vtap_out("1..%u\n", vtap_cases);
		return 1;
	}
	/* No IPv6 autoconfiguration chatter on the far-side interfaces. */
	vp_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	vp_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	vg_set_memlock(256ULL << 20);

	for (i = 0; i < 2; i++) {
		const char *key = paths[i].accel ? "accel" : "net";

		if (!strstr(which, key))
			continue;
		run_path(&paths[i]);
	}

	vtap_out("#\n");
	vtap_out("# guest packet rates, 64-byte frames, %s, one run of %u s each,\n",
	    cpu_vendor(), seconds);
	vtap_out("# not a benchmark (ratios are accelerated / vhost-net+tap):\n");
	vtap_out("#\n");
	vtap_out("# %-22s | %10s | %10s | %s\n", "path", "tx pps", "rx pps",
	    "ratio vs vhost-net+tap (tx / rx)");
	vtap_out("# %.22s-+-%.10s-+-%.10s-+-%.32s\n",
	    "--------------------------------", "----------------",
	    "----------------", "------------------------------------");
	for (i = 0; i < 2; i++) {
		struct path *p = &paths[i];
		char tx[24], rx[24], rt[24], rr[24];

		if (!strstr(which, p->accel ? "accel" : "net"))
			continue;
		cell(tx, sizeof(tx), p->tx_ok, p->tx_pps);
		cell(rx, sizeof(rx), p->rx_ok, p->rx_pps);
		ratio(rt, sizeof(rt), p->tx_ok, p->tx_pps, ref->tx_ok,
		      ref->tx_pps);
		ratio(rr, sizeof(rr), p->rx_ok, p->rx_pps, ref->rx_ok,
		      ref->rx_pps);
		vtap_out("# %-22s | %10s | %10s | %s / %s\n", p->name, tx, rx, rt,
		    rr);
	}
	for (i = 0; i < 2; i++)
		if (paths[i].why[0])
			vtap_out("# %s FAILED at %s\n", paths[i].name, paths[i].why);
	vtap_out("#\n");
	vtap_out("1..%u\n", vtap_cases);
	vtap_out("# %u cases, %u failed\n", vtap_cases, vtap_failed);
	return vtap_failed ? 1 : 0;
}
