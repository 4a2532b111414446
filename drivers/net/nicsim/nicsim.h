/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nicsim: the reference cooperating NIC of vhost-accel.
 *
 * A NIC here is a netdev (the host port) plus a "wire" peer netdev, a
 * platform device used for DMA mapping, a set of queue-pair slots that
 * vhost-accel can borrow (each with a Tx and an Rx descriptor ring and a
 * NAPI context) and hardware engines: kthreads that consume Tx
 * descriptors, switch frames between queue pairs, the host port and the
 * wire, fill Rx descriptors and raise "interrupts" (schedule NAPI).  Each
 * queue pair belongs to one engine (slot index % engines); engine 0 also
 * takes the wire and host-port inputs.
 *
 * Who touches what:
 *  - ring producer indices (@prod): the vhost worker through xmit/post_rx,
 *    one call at a time per queue pair;
 *  - the queue-pair lists, pools and RSS tables: engines read them during
 *    a pass with nic->engine_lock held shared; attach, detach, reclaim_rx
 *    and debugfs change or read them with it held exclusive;
 *  - Tx engine index (@tx.next), the Tx "interrupt": the owner engine;
 *  - Rx engine index (@rx.next), held frames, depletion state, want_rx,
 *    the Rx "interrupt": whichever engine switches a frame to the queue
 *    pair, under qp->rx_lock;
 *  - published completion index (@done): written by the owner engine, read
 *    by NAPI (release/acquire);
 *  - clean index (@clean): NAPI (or detach/reclaim with NAPI disabled),
 *    read by the producer to compute free space.
 */
#ifndef _NICSIM_H
#define _NICSIM_H

#include <linux/atomic.h>
#include <linux/etherdevice.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rwsem.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/vhost_accel_nic.h>
#include <linux/wait.h>

#define NICSIM_MAX_SEGS		64	/* segments per buffer descriptor */
#define NICSIM_MAX_QPS		1024	/* upper bound of the max_qps parameter */
#define NICSIM_RING_DEFAULT	256
#define NICSIM_RING_MIN		8
#define NICSIM_RING_MAX		4096
#define NICSIM_MAX_HEADROOM	128	/* largest rx_headroom accepted */
#define NICSIM_QUEUE_LEN	1024	/* frames queued to the engine per input */
#define NICSIM_HOLD_MAX		256	/* frames held per qp under flow control */
#define NICSIM_QUOTA		64	/* frames per input per engine pass */
#define NICSIM_MAX_DELAY_US	1000000
#define NICSIM_MAX_ENGINES	16	/* upper bound of the engines parameter */
#define NICSIM_RSS_KEY_LEN	40	/* Toeplitz key: up to 36 input bytes */
#define NICSIM_RSS_INDIR	NICSIM_MAX_QPS	/* indirection entries */

/* One mapped piece of a buffer: what the "hardware" sees. */
struct nicsim_sg {
	dma_addr_t addr;
	u32 len;
};

enum nicsim_desc_status {
	NICSIM_DESC_OK,		/* Tx: sent; Rx: usable or filled */
	NICSIM_DESC_ERROR,	/* Tx: not sent */
	NICSIM_DESC_UNUSED,	/* Rx: returned unfilled */
};

struct nicsim_desc {
	u64 cookie;
	u32 len;		/* Tx: frame length; Rx: capacity */
	u32 used;		/* Rx: bytes written, headroom included */
	u32 cflags;		/* Rx: VHOST_ACCEL_COMP_* */
	u16 nsegs;		/* mapped entries in @sg */
	u8 status;		/* enum nicsim_desc_status */
	struct vhost_accel_meta meta;
	struct nicsim_sg *sg;	/* NICSIM_MAX_SEGS entries */
};

struct nicsim_ring {
	struct nicsim_desc *desc;
	struct nicsim_sg *sg;
	u32 mask;		/* size - 1, size a power of two */
	u32 prod;		/* next free descriptor (producer) */
	u32 next;		/* next descriptor for the engine */
	u32 done;		/* engine: everything before is done */
	u32 clean;		/* NAPI: everything before went back */
};

/* Counters of a queue-pair slot; cumulative over attaches. */
enum nicsim_qp_stat {
	NICSIM_QS_TX_PACKETS,
	NICSIM_QS_TX_BYTES,
	NICSIM_QS_TX_DROPPED,
	NICSIM_QS_RX_PACKETS,
	NICSIM_QS_RX_BYTES,
	NICSIM_QS_RX_DROPPED_NO_BUF,
	NICSIM_QS_RX_DROPPED_TOO_BIG,
	NICSIM_QS_RX_DEPLETED,
	NICSIM_QS_RX_HELD,
	NICSIM_QS_ENGINE_DMA_BYTES,
	NICSIM_QS_TX_DROPPED_SPOOFED,	/* source MAC not the qp's */
	NICSIM_QS_DROPPED_PORT_DOWN,	/* either way, VHOST_ACCEL_PORT_DOWN */
	NICSIM_QS_RX_DROPPED_ISOLATION,	/* reflected from a port it may not meet */
	NICSIM_QS_NUM
};

/* Counters of the NIC as a whole, one set per engine (each its writer),
 * summed when read.
 */
enum nicsim_nic_stat {
	NICSIM_NS_WIRE_RX,		/* frames taken from the wire */
	NICSIM_NS_WIRE_TX,		/* frames put on the wire */
	NICSIM_NS_HOST_RX,		/* frames given to the host port */
	NICSIM_NS_HOST_TX,		/* frames taken from the host port */
	NICSIM_NS_DROPPED_INJECTED,	/* drop_every_n */
	NICSIM_NS_DROPPED_LINK_DOWN,	/* wire/host frames while down */
	NICSIM_NS_DROPPED_OFFLOAD,	/* segmentation/checksum failed */
	NICSIM_NS_PAUSES,		/* flow-control pauses of the inputs */
	NICSIM_NS_DROPPED_ISOLATION,	/* wire frames between isolated ports */
	NICSIM_NS_NUM
};

struct nicsim_counters {
	u64_stats_t v[NICSIM_QS_NUM];
	struct u64_stats_sync syncp;
};

struct nicsim_nic_counters {
	u64_stats_t v[NICSIM_NS_NUM];
	struct u64_stats_sync syncp;
};

/* Packet counters of one netdev direction. */
struct nicsim_dstats {
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t dropped;
	struct u64_stats_sync syncp;
};

/* Either netdev of a NIC: tx written by its xmit; rx is per engine
 * (nicsim_engine.port_rx), summed when read.
 */
struct nicsim_port {
	struct nicsim_dstats tx;
};

enum nicsim_port_id {
	NICSIM_PORT_HOST,	/* NAME */
	NICSIM_PORT_WIRE,	/* NAMEp */
	NICSIM_PORTS
};

struct nicsim_nic;
struct nicsim_qp;

/* The queue pairs attached with one MAC: a pool, as in VMDq.  Frames for
 * the MAC go to the member the RSS indirection table names for the low
 * bits of the frame's Toeplitz hash.  Engine state, under engine_lock.
 */
struct nicsim_group {
	struct list_head node;		/* nic->groups */
	struct list_head members;	/* qp->group_node, in join order */
	u8 mac[ETH_ALEN];
	unsigned int n;			/* members */
	struct nicsim_qp *indir[NICSIM_RSS_INDIR];
};

/* A slot's counters come in two sets, each with one writer at a time,
 * summed when read: Tx-side ones written by the owner engine, Rx-side ones
 * under the queue pair's rx_lock (detach writes either, engines excluded).
 */
enum nicsim_ctr_set {
	NICSIM_CTR_TX,
	NICSIM_CTR_RX,
	NICSIM_CTR_SETS
};

struct nicsim_slot {
	struct napi_struct napi;
	struct nicsim_nic *nic;
	struct nicsim_qp *qp;	/* set while attached, NAPI enabled */
	unsigned int index;
	struct nicsim_counters stats[NICSIM_CTR_SETS];
};

/* One "DMA engine" of a NIC: a kthread serving its queue pairs (and, for
 * engine 0, the wire and host-port inputs).
 */
struct nicsim_engine {
	struct nicsim_nic *nic;
	unsigned int index;
	struct task_struct *task;
	wait_queue_head_t wq;
	unsigned long flags;		/* NICSIM_ENGINE_KICK */
	struct list_head qps;		/* qp->engine_node, engine_lock */
	unsigned int nr_qps;
	/* frames for the host port and the wire, handed over per batch */
	struct list_head to_host;	/* this engine only */
	struct list_head to_wire;	/* this engine only */
	struct nicsim_nic_counters stats;
	struct nicsim_dstats port_rx[NICSIM_PORTS];	/* frames given to them */
};

#define NICSIM_QP_EVENT_DEPLETED	0	/* qp->events: call rx_depleted */

struct nicsim_qp {
	struct nicsim_nic *nic;
	struct nicsim_slot *slot;
	struct nicsim_engine *engine;	/* its owner: slot index % engines */
	struct list_head node;		/* nic->qps, under engine_lock */
	struct list_head engine_node;	/* engine->qps, under engine_lock */
	struct nicsim_group *group;	/* its MAC's pool, under engine_lock */
	struct list_head group_node;	/* group->members */
	u8 mac[ETH_ALEN];
	u32 flags;			/* VHOST_ACCEL_ATTACH_* */
	u32 headroom;
	bool flow_control;
	/* the port: set at attach and by set_port (WRITE_ONCE), read by
	 * the engine once per frame (READ_ONCE)
	 */
	u8 mode;			/* enum vhost_accel_port_mode */
	u32 port_flags;			/* VHOST_ACCEL_PORT_* */
	const struct vhost_accel_callbacks *cb;
	void *ctx;

	struct nicsim_ring tx;
	struct nicsim_ring rx;
	struct vhost_accel_completion *comp;	/* ring-size scratch */
	unsigned long events;		/* NICSIM_QP_EVENT_* for NAPI */

	bool tx_irq;			/* owner engine: Tx news for NAPI */

	/* Rx side: any engine switching a frame here, under rx_lock */
	spinlock_t rx_lock;
	bool depleted;			/* in a depletion episode */
	bool rx_irq;			/* Rx news for NAPI */
	struct sk_buff_head held;	/* frames held for lack of buffers */
	u32 rx_fail_prod;		/* rx.prod when a frame last found none */

	bool want_rx;			/* post_rx must kick the owner */
	u64 base[NICSIM_QS_NUM];	/* slot counters at attach */
};

struct nicsim_nic {
	struct net_device *netdev;	/* the host port */
	struct net_device *peer;	/* the wire end */
	struct platform_device *pdev;	/* DMA device */
	struct device *dma_dev;
	struct vhost_accel_nic *vnic;	/* vhost-accel's handle, NULL: none */
	bool dead;			/* being destroyed, under ctrl_lock */
	struct nicsim_port port;

	/* knobs (debugfs) */
	u32 ring_size;
	u32 delay_us;
	u32 drop_every_n;
	u32 accept_max;			/* xmit/post_rx take at most this (0: all) */
	bool link;
	bool flow_control;
	spinlock_t carrier_lock;	/* carrier of both ends */

	unsigned int max_qps;
	struct nicsim_slot *slots;
	struct mutex ctrl_lock;		/* attach, detach, reclaim */
	/* engines' passes (shared) vs the qp lists and pools (exclusive) */
	struct rw_semaphore engine_lock;
	struct list_head qps;
	unsigned int nr_qps;
	struct list_head groups;	/* struct nicsim_group, engine_lock */
	unsigned int nr_groups;
	u8 rss_key[NICSIM_RSS_KEY_LEN];	/* the system's netdev RSS key */
	atomic_t paused;		/* qps holding frames */

	unsigned int nr_engines;	/* the engines parameter at creation */
	struct nicsim_engine *engines;	/* [0] also takes the inputs */
	struct sk_buff_head wire_q;	/* frames from the wire (peer xmit) */
	struct sk_buff_head host_q;	/* frames from the host port's xmit */
	u32 wire_seq;			/* drop_every_n position, engine 0 */

	struct dentry *debugfs;
};

#define NICSIM_ENGINE_KICK	0	/* engine->flags */

/* skb->cb of frames queued for or held by the engine */
struct nicsim_skb_cb {
	bool csum_ok;		/* checksums known good: CSUM_VALID on Rx */
};

static inline struct nicsim_skb_cb *nicsim_cb(struct sk_buff *skb)
{
	return (struct nicsim_skb_cb *)skb->cb;
}

/* The contract's queue-pair handle is opaque: it is our nicsim_qp. */
static inline struct vhost_accel_qp *nicsim_handle(struct nicsim_qp *qp)
{
	return (struct vhost_accel_qp *)qp;
}

static inline struct nicsim_qp *nicsim_qp(struct vhost_accel_qp *handle)
{
	return (struct nicsim_qp *)handle;
}

/* Ring indices cross contexts: storing one publishes the descriptors
 * written before it; loading one orders the descriptor reads after it.
 */
static inline u32 nicsim_idx_get(const u32 *idx)
{
	/* pairs with nicsim_idx_set() of the other side */
	return smp_load_acquire(idx);
}

static inline void nicsim_idx_set(u32 *idx, u32 val)
{
	/* pairs with nicsim_idx_get() of the other side */
	smp_store_release(idx, val);
}

static inline struct nicsim_desc *nicsim_desc(const struct nicsim_ring *r,
					      u32 idx)
{
	return &r->desc[idx & r->mask];
}

static inline u32 nicsim_ring_size(const struct nicsim_ring *r)
{
	return r->mask + 1;
}

/* main.c */
extern const struct vhost_accel_nic_ops nicsim_vnic_ops;
void nicsim_update_carrier(struct nicsim_nic *nic);
void nicsim_dstats_add(struct nicsim_dstats *s, unsigned int len);
void nicsim_dstats_drop(struct nicsim_dstats *s);
void nicsim_dstats_read(const struct nicsim_dstats *s, u64 *packets,
			u64 *bytes, u64 *dropped);
struct nicsim_port *nicsim_port_of(struct net_device *dev);

/* qp.c */
int nicsim_poll(struct napi_struct *napi, int budget);
void nicsim_qs_add(struct nicsim_qp *qp, enum nicsim_qp_stat s, u64 v);
void nicsim_qs_add_rx(struct nicsim_qp *qp, enum nicsim_qp_stat s, u64 v);
void nicsim_slot_read(const struct nicsim_slot *slot, u64 *v);

/* engine.c */
int nicsim_engine_init(struct nicsim_nic *nic);
void nicsim_engine_free(struct nicsim_nic *nic);
int nicsim_engine_start(struct nicsim_nic *nic);
void nicsim_engine_stop(struct nicsim_nic *nic);
void nicsim_engine_kick(struct nicsim_engine *e);
void nicsim_engine_kick_all(struct nicsim_nic *nic);
void nicsim_input_kick(struct nicsim_nic *nic);
void nicsim_engine_add_qp(struct nicsim_nic *nic, struct nicsim_qp *qp,
			  struct nicsim_group **fresh);
void nicsim_engine_remove_qp(struct nicsim_nic *nic, struct nicsim_qp *qp);
void nicsim_engine_reclaim_rx(struct nicsim_nic *nic, struct nicsim_qp *qp);
void nicsim_ns_read(const struct nicsim_nic *nic, u64 *v);
unsigned int nicsim_reset_qps(struct nicsim_nic *nic);

/* ethtool.c */
extern const struct ethtool_ops nicsim_nic_ethtool_ops;
extern const struct ethtool_ops nicsim_peer_ethtool_ops;

/* debugfs.c */
void nicsim_debugfs_init(void);
void nicsim_debugfs_exit(void);
void nicsim_debugfs_add(struct nicsim_nic *nic);
void nicsim_debugfs_remove(struct nicsim_nic *nic);

#endif /* _NICSIM_H */
