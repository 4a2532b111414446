/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpeer: the other end of a vhost-accel datapath test.
 *
 * A reference cooperating NIC (nicsim) instance NAME comes with a wire
 * peer NAMEp, a normal netdev.  vp_nic_create() makes one, moves the peer
 * into a network namespace of its own (IPv6 off, so its stack sends
 * nothing unasked) and brings both up; the test talks through AF_PACKET
 * sockets (or ordinary sockets) created in that namespace.  Only private
 * 10.99.x.x addresses are ever configured.
 *
 * Conventions as in vguest.h: 0 / -errno, nothing exits.  Shell commands
 * (ip, ethtool) run through system(); their stdout goes to stderr so
 * the TAP stream on stdout stays clean.
 */
#ifndef VPEER_H
#define VPEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/rtnetlink.h>

#define VP_IFNAMSIZ	16
#define VP_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Experimental Ethertype (IEEE 802 local experimental 1) of test frames. */
#define VP_ETH_P_TEST	0x88b5
#define VP_ETH_HLEN	14

/* Prefix of the interface names we create (stale ones are removed). */
#define VP_NAME_PREFIX	"dpt"

struct vp_nic {
	char name[VP_IFNAMSIZ];		/* NIC, in our network namespace */
	char peer[VP_IFNAMSIZ];		/* wire peer, in peer_ns */
	int ifindex;
	int peer_ifindex;
	int self_ns;			/* our netns (fd) */
	int peer_ns;			/* the peer's netns (fd) */
	uint8_t mac[6];			/* NIC's own address */
	uint8_t peer_mac[6];
	bool created;
	bool is_tap;			/* vp_tap_create(): no NIC, peer = tap */
	bool is_veth;			/* vp_veth_create(): NIC = a veth end */
	bool is_vnic;			/* vp_vnic_create(): virtio-net PCI */
	char vnic_dev[32];		/* is_vnic: the NIC's virtioN */
	char vnic_pci[32];		/* is_vnic: its PCI function */
	char peer_dev[32];		/* is_vnic: the far side's virtioN */
	char err[256];			/* what went wrong in vp_* */
};

/* ---- nicsim instance ------------------------------------------------- */

/*
 * Create nicsim instance VP_NAME_PREFIX<pid><tag> and its peer, peer in a
 * fresh netns, both up.  Loads nicsim.ko from the project if the kernel
 * does not know the link type yet (see vp_nicsim_ensure()).  On error
 * nic->err says what failed and nothing is left behind.
 */
int vp_nic_create(struct vp_nic *nic, char tag);
/*
 * The same world on a veth pair instead of nicsim: NAME (nic->name,
 * nic->ifindex) in our netns, a lower device that does not cooperate,
 * and its other end NAMEp as the peer in a fresh netns.  vp_nic_destroy()
 * removes both.
 */
int vp_veth_create(struct vp_nic *nic, char tag);
/* Delete the instance and the namespace (safe on a zeroed struct). */
void vp_nic_destroy(struct vp_nic *nic);
/* Remove instances of earlier test processes that are gone. */
void vp_nic_reap_stale(void);
/*
 * Make "ip link add ... type nicsim" possible: 0 if the module is there
 * or could be loaded; -ENOENT with a message in @why otherwise.
 */
int vp_nicsim_ensure(char *why, size_t len);
/*
 * Where a module of the project is, to load it again after a test
 * unloaded it: the environment variable @env if set (VP_NICSIM_KO,
 * VP_VNIC_KO), else @rel (drivers/net/nicsim/nicsim.ko) in the project
 * the running test binary was built in (<project>/selftests/build/).
 * 0 with the path in @path, or -ENOENT.
 */
int vp_module_ko(const char *rel, const char *env, char *path, size_t len);

/*
 * A peer without nicsim: a tap device VP_NAME_PREFIX<pid><tag> in our own
 * netns (IPv6 off, NOARP, up) with a @vnet_hdr_sz-byte virtio-net header
 * (IFF_VNET_HDR and TUNSETVNETHDRSZ, as QEMU sets them; 0: neither), the
 * backend of a device that copies (/dev/vhost-net, or /dev/vhost-accel's
 * copying datapath).  *@tapfd is the backend fd; nic->peer* is the tap,
 * so the vp_packet_* calls work unchanged.
 */
int vp_tap_create(struct vp_nic *nic, char tag, int vnet_hdr_sz, int *tapfd);

/* MTU of NIC and peer (both); 0 / -errno. */
int vp_nic_set_mtu(struct vp_nic *nic, unsigned int mtu);
/* Largest MTU the NIC / the peer accepts ("maxmtu" of ip -d link). */
int vp_nic_max_mtu(struct vp_nic *nic, bool peer, unsigned int *mtu);
/* Link state of the NIC (ip link set up/down). */
int vp_nic_set_up(struct vp_nic *nic, bool up);
/* debugfs knob /sys/kernel/debug/nicsim/NAME/<knob>. */
int vp_nic_knob_write(struct vp_nic *nic, const char *knob, const char *val);
int vp_nic_knob_read(struct vp_nic *nic, const char *knob, char *buf,
		     size_t len);
/* One counter of "ethtool -S NAME"; -ENOENT if it has no such line. */
int vp_nic_ethtool_stat(struct vp_nic *nic, const char *stat, uint64_t *val);

/* ---- virtio-net PCI NIC (the test VM's two extra devices) ------------ */

/*
 * selftests/vm/run.sh gives the test VM two virtio-net PCI devices on one
 * bridge of the outer host: the NIC (VP_VNIC_MAC), which the tests bind to
 * virtio_net_accel, and the far side (VP_VNIC_PEER_MAC), left to
 * virtio_net.  At boot virtio_net drives both, in our netns.  Devices are
 * found by MAC: /sys/class/net/(name)/address, its device link (virtioN).
 */
#define VP_VNIC_MAC		"52:54:00:a0:00:01"
#define VP_VNIC_PEER_MAC	"52:54:00:a0:00:02"
#define VP_VNIC_DRIVER		"virtio_net_accel"

/*
 * Whether vp_vnic_create() can work: both devices there and
 * virtio_net_accel loaded.  If not, why (for a SKIP; with run.sh's
 * reason, VP_VNIC_WHY, when the VM has no such devices).
 */
bool vp_vnic_available(char *why, size_t len);
/*
 * Bind the NIC to virtio_net_accel (unbinding it from virtio_net) and
 * bring up the netdev it registers (nic->name, ifindex, mac; IPv6 off,
 * NOARP); move the far side into a fresh netns as the peer, up (nic->peer,
 * peer_ifindex, peer_mac, peer_ns as vp_nic_create() fills them).
 * nic->is_vnic.  @tag is unused (there is one such NIC), kept for the
 * shape of vp_nic_create().  On error nic->err says what failed and the
 * devices are back as at boot.  vp_nic_destroy() moves the far side back,
 * binds the NIC to virtio_net again (rescanning the PCI bus if it was
 * removed) and drops the netns.
 */
int vp_vnic_create(struct vp_nic *nic, char tag);
/*
 * Bind the NIC's device to virtio_net_accel (@accel) or to virtio_net,
 * from whichever driver has it (none: just bind); with @accel its netdev
 * comes up as in vp_vnic_create(), without it nic->name, ifindex and mac
 * are virtio_net's netdev (left down).  The same device after a rescan
 * may be a new virtioN: it is found by MAC again.
 */
int vp_vnic_rebind(struct vp_nic *nic, bool accel);
/*
 * Hot-unplug the NIC's PCI function (echo 1 > .../remove): its driver
 * sees the device go; nic->ifindex becomes 0.
 */
int vp_vnic_pci_remove(struct vp_nic *nic);
/*
 * echo 1 > /sys/bus/pci/rescan, then wait until the NIC is back (virtio_net
 * takes it, perhaps as a new virtioN): nic->vnic_dev, vnic_pci, name,
 * ifindex, mac name it on virtio_net; vp_vnic_rebind(nic, true) binds it
 * to virtio_net_accel again.
 */
int vp_vnic_pci_rescan(struct vp_nic *nic);

/* ---- namespaces and commands ----------------------------------------- */

/* Run a shell command in our netns / in the peer's; exit status or -errno. */
int vp_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vp_peer_run(struct vp_nic *nic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* First line of a command's stdout into @buf; exit status or -errno. */
int vp_capture(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * An AF_INET socket for the SIOC* ioctls of @ifname (the calling thread's
 * netns), @ifr zeroed but for the name; the fd or -errno.
 */
struct ifreq;
int vp_ifreq_socket(struct ifreq *ifr, const char *ifname);
/* Write @val to the file @path (sysfs, procfs); 0 or -errno. */
int vp_write_file(const char *path, const char *val);
/* socket(2) in the peer's netns. */
int vp_peer_socket(struct vp_nic *nic, int domain, int type, int proto);
/* Enter the peer's netns (this thread) / come back. */
int vp_enter_peer(struct vp_nic *nic);
int vp_leave_peer(struct vp_nic *nic);

/* ---- rtnetlink (the calling thread's netns) ----------------------------- */

/* ip link add NAME type KIND */
int vp_nl_link_add(const char *name, const char *kind);
/* ip link add A type veth peer name B */
int vp_nl_veth_add(const char *a, const char *b);
int vp_nl_link_del(int ifindex);
/*
 * Change a link: @up 1/0 (-1: leave), @mtu (0: leave), @nsfd move it to
 * that netns (-1: leave), @noarp 1/0 (-1: leave).
 */
int vp_nl_link_set(int ifindex, int up, unsigned int mtu, int nsfd,
		   int noarp);
/* IFLA_MAX_MTU of a link. */
int vp_nl_link_max_mtu(int ifindex, unsigned int *mtu);
/* ip addr add ADDR/PREFIX dev IFINDEX (@addr network order). */
int vp_nl_addr4_add(int ifindex, uint32_t addr, int prefix);
/* ip neigh replace ADDR lladdr MAC dev IFINDEX nud permanent. */
int vp_nl_neigh4_add(int ifindex, uint32_t addr, const uint8_t *mac);

/* ---- AF_PACKET on the peer -------------------------------------------- */

#define VP_PKT_VNET_HDR		0x1	/* PACKET_VNET_HDR */
#define VP_PKT_AUXDATA		0x2	/* PACKET_AUXDATA (checksum state) */
/*
 * PACKET_QDISC_BYPASS: a stopped device queue fails the send (ENOBUFS)
 * instead of queueing in the qdisc
 */
#define VP_PKT_QDISC_BYPASS	0x4

/*
 * SOCK_RAW packet socket in the peer netns bound to the peer for Ethertype
 * @proto (host order; ETH_P_ALL for everything), big receive buffer.
 */
int vp_packet_open(struct vp_nic *nic, uint16_t proto, unsigned int flags);

/*
 * The other use of a packet socket: the backend of a vhost device (what
 * vhost-net takes besides taps).  SOCK_RAW, every Ethertype, no
 * PACKET_VNET_HDR, bound to @ifindex of the calling thread's netns.
 * The fd or -errno.
 */
int vp_packet_backend(int ifindex);

struct vp_rxinfo {
	unsigned int pkttype;		/* PACKET_HOST, PACKET_OTHERHOST, ... */
	bool csum_not_ready;		/* TP_STATUS_CSUMNOTREADY (AUXDATA) */
	bool csum_valid;		/* TP_STATUS_CSUM_VALID (AUXDATA) */
	size_t orig_len;		/* length on the wire (may be > returned) */
};

/* Send one frame (with a virtio_net_hdr in front if the socket has one). */
int vp_packet_send(struct vp_nic *nic, int fd, const void *buf, size_t len);
/*
 * Send @n frames with sendmmsg; returns how many were sent (>= 0) or
 * -errno if none was.
 */
int vp_packet_send_many(struct vp_nic *nic, int fd, void *const *bufs,
			const size_t *lens, unsigned int n);
/*
 * Receive one incoming frame (our own outgoing ones are skipped) within
 * @timeout_ms: its length (> @cap means truncated), -ETIMEDOUT or -errno.
 */
ssize_t vp_packet_recv(int fd, void *buf, size_t cap, int timeout_ms,
		       struct vp_rxinfo *info);
/* Drop whatever is queued on @fd; how many frames. */
int vp_packet_flush(int fd);

/* ---- frames --------------------------------------------------------- */

/*
 * Test frame: Ethernet header (@dst, @src, VP_ETH_P_TEST), then "VDPT",
 * 32-bit sequence, 32-bit length (both big endian), then bytes that are a
 * function of (seq, offset).  @len >= 26.
 */
#define VP_TEST_MIN_LEN		26
void vp_test_frame(uint8_t *buf, size_t len, const uint8_t *dst,
		   const uint8_t *src, uint32_t seq);
/*
 * Check a test frame: 0 if it is exactly what vp_test_frame() would have
 * built for its length and @dst/@src (NULL: any), with its sequence in
 * *@seq; otherwise a positive 1 + offset of the first wrong byte, and
 * a description in @why.
 */
long vp_test_frame_check(const uint8_t *buf, size_t len, const uint8_t *dst,
			 const uint8_t *src, uint32_t *seq, char *why,
			 size_t whylen);
/* Sequence number of a test frame, or -1 if it is none. */
int64_t vp_test_frame_seq(const uint8_t *buf, size_t len);

/* Internet checksum helpers (RFC 1071), network byte order results. */
uint32_t vp_csum_add(uint32_t sum, const void *buf, size_t len);
uint16_t vp_csum_fold(uint32_t sum);
/* Pseudo-header sum (not folded, not inverted) for IPv4. */
uint32_t vp_pseudo4(uint32_t saddr, uint32_t daddr, uint8_t proto,
		    uint16_t l4len);

struct vp_l4_opts {
	uint32_t saddr, daddr;		/* network order */
	uint16_t sport, dport;		/* host order */
	uint32_t tcp_seq;		/* TCP only */
	uint8_t tcp_flags;		/* TCP only (0: PSH|ACK) */
	bool partial;			/* checksum left for the device */
	uint16_t ip_id;
};

/*
 * Build Ethernet + IPv4 + UDP/TCP (no options) with @plen payload bytes
 * from @payload (NULL: a pattern) into @buf; returns the frame length.
 * With @o->partial the L4 checksum field holds the pseudo-header sum
 * (what a virtio driver sends with NEEDS_CSUM); *@csum_start and
 * *@csum_offset (may be NULL) say where it is.
 */
size_t vp_build_udp4(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
		     const struct vp_l4_opts *o, const void *payload,
		     size_t plen, uint16_t *csum_start, uint16_t *csum_offset);
size_t vp_build_tcp4(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
		     const struct vp_l4_opts *o, const void *payload,
		     size_t plen, uint16_t *csum_start, uint16_t *csum_offset);
/*
 * Check an Ethernet/IPv4 frame: IP header checksum and total length
 * against @len, and for UDP/TCP the full L4 checksum.  0 if right,
 * -EBADMSG with @why otherwise.
 */
int vp_check_ipv4(const uint8_t *frame, size_t len, char *why, size_t wl);
/*
 * Finish a checksum left for the device: sum from @start to @len (the
 * field holds the pseudo-header seed) and store it at @start + @off.
 */
int vp_csum_complete(uint8_t *frame, size_t len, uint16_t start, uint16_t off);

/* Fill @n bytes with the payload pattern of byte offset @off onwards. */
void vp_pattern(uint8_t *buf, size_t n, size_t off);

/*
 * rtnetlink attributes appended to the request @n (whose buffer has the
 * room): a plain one, a nest opened and closed.
 */
void vp_nla_put(struct nlmsghdr *n, unsigned short type, const void *data,
		size_t len);
struct rtattr *vp_nla_nest(struct nlmsghdr *n, unsigned short type);
void vp_nla_nest_end(struct nlmsghdr *n, struct rtattr *nest);

#endif /* VPEER_H */
