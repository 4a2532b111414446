/* SPDX-License-Identifier: GPL-2.0 */
/* virtio_net_accel: a virtio-net device whose queue pairs are lent to
 * vhost-accel guests.  main.c probes the device and registers the netdev
 * and the cooperating NIC, ctrl.c speaks to the control virtqueue, qp.c
 * implements the NIC contract's queue-pair operations and the NAPI that
 * completes them.  Documentation/virtio-nic.rst has the design.
 */
#ifndef _VIRTIO_NET_ACCEL_H
#define _VIRTIO_NET_ACCEL_H

#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/vhost_accel_nic.h>
#include <linux/virtio.h>
#include <linux/virtio_net.h>

#define VNA_MAX_QPS		16	/* queue pairs we drive, at most */
#define VNA_MAX_SEGS		64	/* segments per buffer */
#define VNA_MIN_RING		64	/* smaller rings are refused at probe */
#define VNA_MAX_HEADROOM	128	/* largest rx_headroom accepted */
#define VNA_NAPI_BUDGET		64

/* One buffer in a device virtqueue: the virtqueue's token for it. */
struct vna_slot {
	u64 cookie;
	u32 len;		/* Tx: frame bytes; Rx: capacity */
	/* Rx, header in the guest's headroom: where the device wrote it */
	struct page *hdr_page;
	u32 hdr_off;
	/* The device's virtio-net header when it is ours (hdr_len bytes),
	 * then, on Tx, the frame's Ethernet header: one descriptor.
	 */
	u8 head[sizeof(struct virtio_net_hdr_mrg_rxbuf) + ETH_HLEN] __aligned(4);
};

/* A virtqueue's buffers and their bookkeeping.  @lock serialises the
 * virtqueue between the vhost worker (adding) and NAPI (reaping), as the
 * virtio core requires; @free is a stack of unused slot indexes.
 */
struct vna_ring {
	struct virtqueue *vq;
	spinlock_t lock;		/* the virtqueue: worker vs NAPI */
	struct vna_slot *slots;
	u16 *free;
	unsigned int nfree;
	unsigned int size;
	unsigned int posted;	/* buffers the device holds */
	struct scatterlist sg[VNA_MAX_SEGS + 1];
};

struct vna_info;

/* One queue pair of the device, lent to one vhost device between attach
 * and detach.  @comp gathers one NAPI poll's completions (or a reset's);
 * @rx_carry is how many of the Rx ones belong to a frame whose last
 * buffer the device has not returned yet.
 */
struct vna_qp {
	struct vna_info *vi;
	unsigned int index;
	bool lent;
	bool gone;		/* the device took it back: no new buffers */
	bool napi_added;
	struct napi_struct napi;
	struct vna_ring tx;
	struct vna_ring rx;

	/* what vhost asked for at attach */
	const struct vhost_accel_callbacks *cb;
	void *ctx;
	u32 flags;
	u32 headroom;
	u8 mode;
	u32 port_flags;
	bool hdr_in_guest;	/* Rx: the device writes its header there */
	u32 rx_min;		/* Rx: smallest buffer that holds a frame */

	/* Tx buffers failed in xmit, completed by the next poll (tx.lock) */
	struct vhost_accel_completion *tx_err;
	unsigned int ntx_err;

	struct vhost_accel_completion *tx_comp;
	unsigned int ntx_comp;		/* during a ring reset */
	struct vhost_accel_completion *rx_comp;
	unsigned int nrx_comp;
	unsigned int rx_frame_left;	/* buffers the open frame still needs */
	unsigned int rx_carry;		/* its completions already in rx_comp */
	bool depleted;

	struct vhost_accel_qp_stats stats;
};

/* The device, its netdev's private data. */
struct vna_info {
	struct virtio_device *vdev;
	struct net_device *netdev;
	struct vhost_accel_nic *nic;
	unsigned int max_qps;
	unsigned int hdr_len;		/* the device's virtio-net header */
	bool mrg_rxbuf;
	struct vna_qp *qps;
	struct virtqueue *cvq;

	/* lending: which guest MAC has the device, how many queue pairs */
	struct mutex lend_lock;
	unsigned int nlent;
	u8 lent_mac[ETH_ALEN];
	bool removing;
	bool broken;		/* a ring reset failed: rebind the device */

	/* the control virtqueue's buffers (DMA-able), under ctrl_lock */
	struct mutex ctrl_lock;
	struct vna_ctrl *ctrl;

	/* counters of queue pairs given back, for the netdev's totals */
	spinlock_t stats_lock;
	struct vhost_accel_qp_stats returned;

	struct dentry *debugfs;
	struct work_struct config_work;
};

/* ctrl.c */
int vna_ctrl_alloc(struct vna_info *vi);
void vna_ctrl_free(struct vna_info *vi);
int vna_ctrl_set_mac(struct vna_info *vi, const u8 *mac);
int vna_ctrl_rx_mode(struct vna_info *vi, u8 cmd, bool on);
int vna_ctrl_clear_mac_table(struct vna_info *vi);
int vna_ctrl_set_queue_pairs(struct vna_info *vi, unsigned int n);

/* qp.c */
extern const struct vhost_accel_nic_ops vna_nic_ops;
int vna_qps_init(struct vna_info *vi, struct virtqueue **vqs);
void vna_qps_free(struct vna_info *vi);
void vna_vq_done(struct virtqueue *vq);
void vna_reset_lent(struct vna_info *vi);
void vna_sum_stats(struct vna_info *vi, struct vhost_accel_qp_stats *sum);

#endif /* _VIRTIO_NET_ACCEL_H */
