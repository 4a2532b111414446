/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared pieces of the vhost-accel datapath tests.
 *
 * Every test builds its own world: a nicsim instance whose wire peer sits
 * in a network namespace of its own, an AF_PACKET socket on that peer (the
 * far end of the wire), and one or more user-space guests (vg_net) on
 * /dev/vhost-accel bound to the NIC.  Tests that also run where nothing
 * cooperates put a tap, a macvtap on a veth or a packet socket on a veth
 * in nicsim's place (enum dp_backend), on /dev/vhost-accel (its copying
 * datapath) and on /dev/vhost-net (the reference).  Everything is torn down at the end,
 * and VmLck must be back where it was before the first guest was opened.
 *
 * Nothing here skips: a missing nicsim.ko or a vhost_accel.ko without the
 * datapath fails the test with a message saying so.
 */
#ifndef DPTEST_H
#define DPTEST_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vguest.h"
#include "vpeer.h"
/*
 * The test file gets the harness from here; the helpers' own .c file, linked
 * beside it, defines NO_KSFT_HARNESS first: kselftest_harness.h defines
 * global symbols, so one binary can hold it once only.
 */
#ifndef NO_KSFT_HARNESS
#include "vharness.h"
#endif

/*
 * Helpers of the test files name the harness's fixture types directly:
 * struct _test_data_<fixture> and struct _fixture_variant_<fixture> are
 * what FIXTURE_DATA() and FIXTURE_VARIANT() expand to (checkpatch reads
 * "FIXTURE_DATA(f) *self" as a multiplication).
 */

/*
 * Bounded waits, generous for QEMU TCG; what must happen gets
 * vg_time_scale() times longer on a debug kernel.  The quiet window is
 * not scaled: a longer one only makes the test stricter and slower.
 */
#define DP_WAIT_MS	(5000 * vg_time_scale())	/* must happen */
#define DP_QUIET_MS	300	/* window in which nothing may arrive */
#define DP_VMLCK_MS	(5000 * vg_time_scale())

#define DP_F_V1		VG_FBIT(VIRTIO_F_VERSION_1)
#define DP_F_MRG	VG_FBIT(VIRTIO_NET_F_MRG_RXBUF)
#define DP_F_IND	VG_FBIT(VIRTIO_RING_F_INDIRECT_DESC)
#define DP_F_EVIDX	VG_FBIT(VIRTIO_RING_F_EVENT_IDX)
#define DP_F_ANY	VG_FBIT(VIRTIO_F_ANY_LAYOUT)

#define DP_BUFSZ	(VG_NET_MAX_FRAME + 4096)
#define DP_MEMLOCK	(1ULL << 30)
#define DP_NIC_RING	256	/* nicsim's default ring_size */

void dp_mark(const char *what);

void dp_guest_mac(uint8_t *mac, unsigned int idx);

const char *dp_strerr(int r);

/*
 * What carries a test's frames between its guest and the peer.  Only
 * nicsim and the virtio-net NIC (selftests/vm/run.sh's, driven by
 * virtio_net_accel) are accelerated; every other backend is one /dev/vhost-net takes,
 * and /dev/vhost-accel runs its copying datapath on it, as vhost-net does.
 */
enum dp_backend {
	DP_BE_NICSIM,		/* nicsim NIC, guest bound by VHOST_ACCEL_SET_NIC */
	DP_BE_VNIC,		/* virtio-net NIC, virtio_net_accel, SET_NIC */
	DP_BE_TAP,		/* a tap; the peer is the tap itself */
	DP_BE_MACVTAP_VETH,	/* a macvtap on veth end NAME; peer: NAMEp */
	DP_BE_PACKET_VETH,	/* AF_PACKET SOCK_RAW bound to NAME; peer: NAMEp */
};

struct dp_be {
	enum dp_backend kind;
	bool vhost_net;		/* the guest on /dev/vhost-net (the reference) */
	/*
	 * VHOST_NET_F_VIRTIO_NET_HDR acked: the device adds and strips the
	 * guest's virtio-net header and the backend carries none (tap
	 * without IFF_VNET_HDR).  Always so with a packet socket.
	 */
	bool dev_hdr;
	/*
	 * nicsim: engine threads of the NIC (its "engines" parameter while it
	 * is created, then put back); 0: the parameter as it is.
	 */
	unsigned int engines;
};

/* The world of one test. */
struct dp_ctx {
	struct vp_nic nic;	/* nicsim, the tap, or the veth pair */
	struct dp_be be;
	int pkt;		/* AF_PACKET on the peer, VP_ETH_P_TEST */
	int bfd;		/* backend fd (not with nicsim: -1) */
	char mvt[VP_IFNAMSIZ];	/* DP_BE_MACVTAP_VETH: the macvtap */
	uint8_t mvt_mac[6];	/* its MAC: dp_guest_mac(, 0) */
	unsigned int mtu;	/* MTU of NIC and peer */
	uint64_t vmlck0;	/* VmLck (kB) before any guest */
	uint8_t *tx, *rx;	/* DP_BUFSZ scratch each */
	char why[768];
};

void dp_ctx_fini(struct dp_ctx *c);

void dp_ctx_none(struct dp_ctx *c);

int dp_set_mtu(struct dp_ctx *c, unsigned int want);

int dp_ctx_init(struct dp_ctx *c, char tag, unsigned int mtu);

int dp_ctx_init_be(struct dp_ctx *c, char tag, unsigned int mtu,
		   const struct dp_be *be, uint64_t features);

bool dp_accelerated(const struct dp_ctx *c);

bool dp_be_available(const struct dp_be *be, char *why, size_t len);

bool dp_vnic(const struct dp_ctx *c);

bool dp_vnic_feature(const struct dp_ctx *c, unsigned int bit);

int dp_vnic_lent(const struct dp_ctx *c, unsigned int *lent,
		 unsigned int *max);

/*
 * SKIP from a FIXTURE_SETUP: the case ends there, teardown not run.  6.12's
 * harness ends a case whose setup skipped; 6.1's runs the test body after
 * it unless the setup also failed (it reports the case skipped all the
 * same), so there the setup fails too.  FIXTURE_TEARDOWN_PARENT is 6.12's.
 */
#ifdef FIXTURE_TEARDOWN_PARENT
#define DP_SETUP_SKIP(fmt, ...)	SKIP(return, fmt, ##__VA_ARGS__)
#else
#define DP_SETUP_SKIP(fmt, ...)						\
	SKIP({ _metadata->passed = 0; return; }, fmt, ##__VA_ARGS__)
#endif

/*
 * Skip the rest of a case on the virtio-net NIC, saying why (a fixed
 * string: what differs from nicsim, Documentation/testing.rst).
 */
#define DP_SKIP_ON_VNIC(_c, _why) do {					\
	if (dp_vnic(_c))						\
		SKIP(return, "virtio-net NIC: %s", (_why));		\
} while (0)

const char *dp_be_name(const struct dp_ctx *c);

bool dp_copies(const struct dp_ctx *c);

int dp_check_datapath(struct dp_ctx *c, struct vg_net *g);

int dp_wait_rx_posted(struct vg_net *g, bool ref, uint64_t base);

const char *dp_hint(int r);

int dp_guest_up(struct dp_ctx *c, struct vg_net *g,
		const struct vg_net_cfg *cfg, const uint8_t *mac);

#define DP_STAT_OFF(field)	offsetof(struct vhost_accel_vq_stats, field)

uint64_t dp_stat(struct vg_net *g, unsigned int q, size_t off);

uint64_t dp_wait_stat(struct vg_net *g, unsigned int q,
		      size_t off, uint64_t want, int ms);

uint64_t dp_wait_vmlck(uint64_t want_kb, int ms);

int dp_guest_recv_if(struct vg_net *g, struct vg_net_rx *f, int ms,
		     unsigned int *stray, bool (*want)(const struct vg_net_rx *));
int dp_guest_recv(struct vg_net *g, struct vg_net_rx *f, int ms,
		  unsigned int *stray);

int dp_rx_check(const struct vg_net *g,
		const struct vg_net_rx *f, const uint8_t *want,
		uint32_t len, unsigned int nbufs, char *why,
		size_t wl);

unsigned int dp_mrg_bufs(const struct vg_net *g, uint32_t len);

int dp_peer_expect(struct dp_ctx *c, const uint8_t *want,
		   size_t len, char *why, size_t wl);

int dp_peer_quiet(struct dp_ctx *c, int ms);

int dp_guest_quiet(struct vg_net *g, int ms);

int dp_guest_expect_seq(struct vg_net *g, const uint8_t *dst, uint32_t first,
			uint32_t end, char *why, size_t wl);

uint64_t dp_close_all(struct dp_ctx *c, struct vg_net **gs,
		      unsigned int n);

int dp_guest_send(struct vg_net *g, const uint8_t *frame,
		  uint32_t len, const struct vg_tx_layout *lay,
		  const struct virtio_net_hdr_mrg_rxbuf *hdr);

/* ---- traffic both ways (datapath_lifecycle, datapath_switch) ---- */

/*
 * A guest thread keeps transmitting numbered test frames and receiving
 * the peer's; the traffic engine's sender and reader do the same on the
 * wire end.  Each side checks that the other's frames come in order,
 * never twice.  The peer sends while the guest is less than a window
 * behind.
 */
#define DP_TR_LEN	128	/* bytes per test frame */
#define DP_TR_BATCH	16	/* frames per send/queue step */
#define DP_TR_TX_WINDOW	64	/* guest Tx frames in flight */
#define DP_TR_RX_WINDOW	128	/* peer frames ahead of the guest */
/* @n frames each way must flow within this (grows with VG_TIME_SCALE) */
#define DP_TR_FLOW_MS	(20000 * vg_time_scale())

struct dp_traffic {
	struct vg_net *g;
	struct vp_nic *nic;	/* whose wire end the peer threads drive */
	int rx_fd;		/* peer socket receiving the guest's frames */
	int tx_fd;		/* peer socket sending */
	uint8_t gmac[6];
	uint8_t pmac[6];	/* the guest's Tx destination */
	bool say_dp;		/* a bad frame's message: the datapath then */

	atomic_bool stop;
	atomic_bool hold;	/* guest thread: park */
	atomic_bool parked;
	bool guest_thread;
	pthread_t guest_th;

	/* guest side */
	uint32_t tx_seq;	/* next sequence the guest queues */
	atomic_uint tx_done;	/* Tx chains back from the device */
	atomic_uint rx_got;	/* test frames received in order */
	int64_t rx_last;	/* last sequence received, -1: none */
	unsigned int rx_bad, rx_stray, rx_gaps;
	int guest_err;
	char guest_why[200];

	/* peer side: the engine's sender and reader */
	struct vg_sender tx;
	struct vg_reader rd;
	int64_t peer_last;	/* the reader's check only */
	unsigned int peer_bad, peer_gaps;
	int peer_err;		/* the first reader or sender failure */
	char peer_why[200];
	/*
	 * The sender's pacing: frames out for @stall_ms without any arriving
	 * count as lost, unless @strict (then it waits for every one).
	 */
	unsigned int stall_ms;
	bool strict;
	uint64_t assumed_lost, last_got_ms;
	unsigned int last_got;
};

/* Frames the wire end accepted (the next sequence) and received. */
#define DP_TR_SENT(_t)		((unsigned int)atomic_load(&(_t)->tx.sent))
#define DP_TR_GOT(_t)		((unsigned int)atomic_load(&(_t)->rd.good))
/* Sends that failed outright, and sends cut short by an error. */
#define DP_TR_SEND_FAILED(_t)	((unsigned int)atomic_load(&(_t)->tx.failed))
#define DP_TR_SEND_CUT(_t)	((unsigned int)atomic_load(&(_t)->tx.cut))

void dp_traffic_init(struct dp_traffic *t, struct vg_net *g,
		     const uint8_t *gmac, unsigned int stall_ms);

void dp_traffic_peer(struct dp_traffic *t, struct vp_nic *nic, int rx_fd,
		     int tx_fd);

int dp_traffic_start(struct dp_traffic *t, bool guest, bool peer);

void dp_traffic_stop(struct dp_traffic *t);

int dp_traffic_step(struct dp_traffic *t, bool queue);

void dp_traffic_wait(struct dp_traffic *t, int ms);

int dp_traffic_hold(struct dp_traffic *t);

int dp_traffic_peer_failed(struct dp_traffic *t);

int dp_traffic_settle(struct dp_traffic *t, bool with_peer);

int dp_traffic_wait_flow(struct dp_traffic *t, unsigned int n, char *why,
			 size_t wl);

int dp_netdev_stats(const char *name, unsigned long long *v);

int dp_netdev_drops(const char *name, uint64_t *rx_drop, uint64_t *tx_drop);

int dp_peer_netdev_drops(struct vp_nic *nic, uint64_t *rx_drop,
			 uint64_t *tx_drop);

int dp_qps_attached(struct vp_nic *nic);

/*
 * After the NIC under a guest went away (deleted, unbound, reset): queue
 * @q stopped at GET_VRING_BASE's index and every head accounted for.
 * Heads outstanding in the avail ring, or -1 with @why.
 */
int dp_heads_accounted(struct vg_net *g, unsigned int q, char *why,
		       size_t wl);

int dp_nic_gone_check(struct dp_traffic *t, struct vg_net *g, int event_ms,
		      char *why, size_t wl);

/* @n more frames went each way (dp_traffic_wait_flow()). */
#define DP_TRAFFIC_FLOWS(_t, _n) do {					\
	char __why[512];						\
	ASSERT_EQ(0, dp_traffic_wait_flow((_t), (_n), __why,		\
					  sizeof(__why)))		\
		TH_LOG("%s", __why);					\
} while (0)

/* No thread saw a wrong, repeated or reordered frame, none failed. */
#define DP_TRAFFIC_CHECK_CLEAN(_t) do {					\
	EXPECT_EQ(0, (_t)->guest_err) TH_LOG("%s", (_t)->guest_why);	\
	EXPECT_EQ(0, dp_traffic_peer_failed(_t))			\
		TH_LOG("%s", (_t)->peer_why);				\
	EXPECT_EQ(0U, (_t)->rx_bad) TH_LOG("%s", (_t)->guest_why);	\
	EXPECT_EQ(0U, (_t)->peer_bad) TH_LOG("%s", (_t)->peer_why);	\
	EXPECT_EQ(0U, (_t)->rx_stray);					\
} while (0)

#endif /* DPTEST_H */
