/* SPDX-License-Identifier: GPL-2.0 */
/**
 * DOC: Overview
 *
 * The vhost-accel NIC contract: everything a NIC driver implements or calls
 * to let vhost-accel move guest virtqueue buffers to and from its queues
 * without tun/tap and without payload copies.  A vendor needs this header
 * only; drivers/net/nicsim is the worked example.
 *
 * A driver *registers* a netdev that cooperates: it describes it in a
 * &struct vhost_accel_nic_config (the netdev, its operations, how many queue
 * pairs it can lend) and gets back a handle, &struct vhost_accel_nic, which
 * is vhost-accel's and opaque: the driver only passes it to
 * vhost_accel_nic_unregister().  vhost-accel *attaches* one vhost device
 * (one guest queue pair) to one of the NIC's queue pairs: it calls the
 * driver's @attach with the registered netdev, its callbacks
 * (&struct vhost_accel_callbacks) and the MAC address to steer, and the
 * driver returns a queue-pair handle (&struct vhost_accel_qp) whose
 * operations are the Tx handle and the buffer-pool handle of the design.
 * That type is never defined: the driver casts its own queue-pair structure
 * to and from it, and vhost-accel never looks inside.
 *
 * Two drivers implement it: drivers/net/nicsim (a simulated NIC with an
 * embedded switch, the worked example) and drivers/net/virtio_net_accel (a
 * virtio-net PCI device: one MAC filter, no steering by address).
 */

/**
 * DOC: Buffers
 *
 * A buffer is a scatter-gather list of pieces of guest memory, each a
 * pinned page, an offset and a length (&struct vhost_accel_seg), plus an
 * opaque cookie that the driver hands back unchanged on completion.
 *
 * Tx buffers carry one frame (without the guest's virtio-net header, which
 * vhost-accel turns into &struct vhost_accel_meta) and its offload metadata.
 * A Tx buffer comes back through @tx_done once the frame was sent, or with
 * %VHOST_ACCEL_COMP_ERROR when it failed; its completion's len and meta are
 * unused, and Tx completions need not come in order.
 *
 * Rx buffers are empty space the NIC fills:
 *
 * - Rx buffers are filled and completed in the order they were posted.
 * - A frame starts @rx_headroom bytes into the frame's first buffer.  The
 *   NIC may write those bytes (a device that puts its own header at the
 *   start of every buffer, as virtio-net devices do, puts it there) or
 *   leave them alone: vhost-accel writes the guest's virtio-net header
 *   over them after the completion, whose len counts them.  The headroom
 *   may span several segments.  Further buffers of the same frame are
 *   filled from byte 0.
 * - The NIC never writes past the completion's len: during live migration
 *   vhost-accel marks exactly the pages of those bytes dirty.
 * - Unused buffers (len 0) come back only from @reclaim_rx and @detach, and
 *   only after every filled one, in any order among themselves (a ring
 *   reset returns them by descriptor slot): vhost-accel gives them back to
 *   the guest by rewinding its avail index, which is right only for the
 *   last buffers it took, and WARNs on a filled completion after an unused
 *   one.  A frame cut short (some buffers filled, no EOP yet) followed by
 *   unused ones is given back whole.
 *
 * Exactly once: every buffer accepted by @xmit comes back exactly once
 * through @tx_done; every buffer accepted by @post_rx comes back exactly
 * once through @rx_done, filled (len > 0) or unused (len == 0, after
 * @reclaim_rx or on detach).  vhost-accel's completion FIFO per virtqueue
 * holds as many entries as the guest's ring: a buffer completed twice shows
 * the guest one chain used twice and can overflow it (WARN, the excess is
 * lost).
 */

/**
 * DOC: DMA
 *
 * The driver maps every segment for its own device (the PCI function's
 * struct device, not the netdev's) with dma_map_page(), DMA_TO_DEVICE for
 * Tx and DMA_FROM_DEVICE for Rx, when it accepts the buffer (inside @xmit
 * or @post_rx), or has its bus do so (the virtio core maps what a driver
 * adds to a virtqueue and unmaps it when the device returns it), and
 * unmaps it before it completes the buffer: the unmap is
 * what makes the device's writes visible to the CPU where that needs it,
 * and what copies a SWIOTLB bounce buffer back.  Empty segments need no
 * mapping.  vhost-accel never maps anything and never touches payload.
 *
 * The pages are guest RAM that vhost-accel keeps pinned from the call that
 * hands a buffer to the driver until the driver completes it.  The driver
 * takes no page references and never frees or recycles these pages.  They
 * may be anywhere in host memory: set a 64-bit DMA mask if the hardware
 * can, otherwise every packet goes through SWIOTLB (correct, but a copy).
 */

/**
 * DOC: Context and locking
 *
 * - @xmit, @post_rx, @tx_space and @rx_space are called from the vhost
 *   worker (process context, may not sleep for long, no vhost locks a
 *   driver can see), one call at a time per queue pair, concurrently with
 *   the driver's NAPI.
 * - @attach, @detach and @reclaim_rx are called in process context and may
 *   sleep, but must not take RTNL or wait for anything that does, nor call
 *   vhost_accel_nic_register() or vhost_accel_nic_unregister().  @detach
 *   never runs alongside the datapath operations; @reclaim_rx never
 *   alongside @post_rx, but @xmit may run meanwhile.
 * - @get_stats: any context but hard irq; it must not sleep.
 * - The callbacks @tx_done, @rx_done and @rx_depleted may be called from
 *   any context including softirq/NAPI, but not in hard irq, with IRQs
 *   disabled or from netpoll (a NAPI poll with budget 0), and not
 *   concurrently with each other for one queue pair.  They are allowed
 *   inside @detach and @reclaim_rx, and none may come after @detach
 *   returns.  They never sleep and only queue work for the vhost worker,
 *   so a driver should call them once per batch (one @tx_done and one
 *   @rx_done per NAPI poll, then @rx_depleted if needed), not once per
 *   packet.
 */

/**
 * DOC: Lifetime
 *
 * A driver calls vhost_accel_nic_register() after register_netdev(), once
 * per netdev, and vhost_accel_nic_unregister() before unregister_netdev()
 * on every path that removes the netdev: device removal, rtnetlink dellink,
 * module exit and the error unwinding of a probe that had registered.
 * While a vhost device is bound, vhost-accel holds a reference on the
 * netdev, so unregister_netdev() would wait for it forever.
 * vhost_accel_nic_unregister() detaches every attached queue pair (through
 * @detach) and returns when none is left.
 *
 * A driver that loses a single queue pair on its own (say, a queue reset)
 * calls @detached instead; vhost then detaches it soon, from process
 * context.
 *
 * @detach returns only after every buffer came back.  When user space
 * stops a queue, vhost-accel waits up to 5 seconds for every buffer of that
 * queue; a NIC that keeps some loses the binding (@detach, and the guest's
 * error eventfd).  So Tx must complete, or fail, promptly even while the
 * link is down or the port is paused.
 */

/**
 * DOC: Isolation and anti-spoofing
 *
 * Every queue pair is a port of the NIC's internal switch with a mode
 * (&struct vhost_accel_attach.mode), and the driver enforces it:
 *
 * - NONE: bound with %VHOST_ACCEL_SET_NIC, the owner's explicit choice (it
 *   has CAP_NET_ADMIN over the NIC): the switch delivers its frames to
 *   other NONE and BRIDGE ports (and the NIC's own netdev) directly, as an
 *   SR-IOV NIC's VEB switches between VFs;
 * - BRIDGE: as a macvlan bridge port: direct delivery to and from NONE and
 *   BRIDGE ports only;
 * - VEPA: every frame goes to the wire, whatever its destination; another
 *   port gets it only if the external switch sends it back (hairpin);
 * - PRIVATE: every frame goes to the wire, and no frame passes between it
 *   and any other queue pair of the NIC, directly or reflected by the wire
 *   (a frame from the wire whose source MAC belongs to one of them and
 *   whose destination is the other is dropped);
 * - PASSTHRU: the guest owns the port: its MAC may be the NIC's own, and
 *   the attach fails with -EBUSY unless every queue pair attached has its
 *   MAC (the queues of that one guest); while it is attached, other MACs
 *   are refused with -EBUSY.
 *
 * A frame goes directly from one port to another only when both are NONE
 * or BRIDGE (the NIC's own netdev counts as NONE); otherwise it goes to the
 * wire.  A frame coming back from the wire with a port's MAC as its source
 * reaches any other port unless either of the two is PRIVATE; a broadcast
 * or multicast one only the ports that did not get it directly on its way
 * out, and never its sender.  Multicast follows the same rules, port by
 * port.
 *
 * Anti-spoofing: unless %VHOST_ACCEL_PORT_NO_SPOOFCHK is set, the NIC drops
 * every Tx frame whose source MAC is not the attached @mac, completes its
 * buffer with %VHOST_ACCEL_COMP_ERROR and counts it in tx_dropped and
 * tx_dropped_spoofed.  It is on by default (a zeroed @port_flags).
 *
 * Port state: a queue pair attached with %VHOST_ACCEL_PORT_DOWN, or set so
 * by @set_port, carries no traffic: the NIC fails its Tx frames (counted in
 * tx_dropped) and drops the frames for it, until @set_port clears the flag.
 * Buffers keep flowing back as usual, and posted Rx buffers stay posted.
 * vhost-accel sets it while the macvtap a binding was made through is down.
 */

#ifndef _LINUX_VHOST_ACCEL_NIC_H
#define _LINUX_VHOST_ACCEL_NIC_H

#include <linux/etherdevice.h>
#include <linux/netdevice.h>
#include <linux/types.h>

struct page;
struct vhost_accel_nic;		/* vhost_accel_nic_register()'s handle */
struct vhost_accel_qp;

/**
 * struct vhost_accel_seg - one piece of a buffer in guest memory
 * @page: pinned guest page
 * @offset: offset of the data in @page
 * @len: bytes; @offset + @len <= PAGE_SIZE
 */
struct vhost_accel_seg {
	struct page *page;
	u32 offset;
	u32 len;
};

/* vhost_accel_meta.flags */
#define VHOST_ACCEL_META_CSUM_PARTIAL	BIT(0)	/* Tx: NIC fills the checksum */
#define VHOST_ACCEL_META_CSUM_VALID	BIT(1)	/* Rx: NIC verified checksums */

/**
 * struct vhost_accel_meta - offload metadata carried beside a frame
 * @flags: VHOST_ACCEL_META_*
 * @gso_type: VIRTIO_NET_HDR_GSO_* (NONE, TCPV4, TCPV6, UDP, UDP_L4, | ECN)
 * @hdr_len: length of the headers for GSO
 * @gso_size: segment payload size for GSO
 * @csum_start: with CSUM_PARTIAL, offset where checksumming starts
 * @csum_offset: with CSUM_PARTIAL, offset after @csum_start to store it
 *
 * The fields mean what the same fields of struct virtio_net_hdr mean, in
 * CPU byte order.  Tx: from the guest, the NIC must honour them or drop the
 * frame.  Rx: filled by the NIC (zero when it offers nothing).
 */
struct vhost_accel_meta {
	u8 flags;
	u8 gso_type;
	u16 hdr_len;
	u16 gso_size;
	u16 csum_start;
	u16 csum_offset;
};

/**
 * struct vhost_accel_buf - a buffer handed to the driver
 * @cookie: vhost's; returned unchanged in the completion
 * @len: Tx: frame length (sum of @segs); Rx: capacity (sum of @segs)
 * @nsegs: entries in @segs, at least 1
 * @segs: the pieces; storage owned by vhost, valid only during the call
 * @meta: Tx: offload metadata of the frame; Rx: unused
 */
struct vhost_accel_buf {
	u64 cookie;
	u32 len;
	u32 nsegs;
	const struct vhost_accel_seg *segs;
	struct vhost_accel_meta meta;
};

/* vhost_accel_completion.flags */
#define VHOST_ACCEL_COMP_EOP	BIT(0)	/* Rx: last buffer of the frame */
#define VHOST_ACCEL_COMP_ERROR	BIT(1)	/* Tx: not sent (counted as a drop) */

/**
 * struct vhost_accel_completion - a buffer coming back from the driver
 * @cookie: as passed in struct vhost_accel_buf
 * @len: Rx: bytes of the buffer used, headroom included on a frame's first
 *	buffer (0: returned unused); Tx: unused
 * @flags: VHOST_ACCEL_COMP_*
 * @meta: Rx: metadata of the frame, valid on its first buffer
 *
 * Rx frames larger than one buffer span several consecutive completions
 * of the same call, the last with VHOST_ACCEL_COMP_EOP; a driver may do
 * that only when the attach flags allow it (VHOST_ACCEL_ATTACH_RX_MERGE),
 * and drops (and counts) frames that do not fit otherwise.
 */
struct vhost_accel_completion {
	u64 cookie;
	u32 len;
	u32 flags;
	struct vhost_accel_meta meta;
};

/**
 * struct vhost_accel_callbacks - what vhost gives the driver at attach
 * @tx_done: @n Tx buffers were sent (or failed) and are the guest's again
 * @rx_done: @n Rx buffers were filled or returned unused
 * @rx_depleted: the NIC has no posted Rx buffer left for this queue pair
 *	and dropped or held a frame for lack of one
 * @detached: the driver lost this queue pair on its own (not for device
 *	removal: vhost_accel_nic_unregister() covers that); vhost stops using
 *	it and calls @detach soon from a work item.  Any context but hard
 *	irq; must not wait for the detach itself.
 *
 * Every callback gets the @ctx passed in struct vhost_accel_attach.
 */
struct vhost_accel_callbacks {
	void (*tx_done)(void *ctx, const struct vhost_accel_completion *c,
			unsigned int n);
	void (*rx_done)(void *ctx, const struct vhost_accel_completion *c,
			unsigned int n);
	void (*rx_depleted)(void *ctx);
	void (*detached)(void *ctx);
};

/* vhost_accel_attach.flags */
#define VHOST_ACCEL_ATTACH_RX_MERGE	BIT(0)	/* frames may span Rx buffers */
#define VHOST_ACCEL_ATTACH_FLOW_CONTROL	BIT(1)	/* hold, don't drop, when depleted */

/* vhost_accel_attach.mode: the port's switching mode (see "Isolation") */
enum vhost_accel_port_mode {
	VHOST_ACCEL_MODE_NONE,		/* VHOST_ACCEL_SET_NIC bindings */
	VHOST_ACCEL_MODE_PRIVATE,	/* the macvlan modes */
	VHOST_ACCEL_MODE_VEPA,
	VHOST_ACCEL_MODE_BRIDGE,
	VHOST_ACCEL_MODE_PASSTHRU,
	VHOST_ACCEL_MODE_MAX = VHOST_ACCEL_MODE_PASSTHRU,
};

/* vhost_accel_attach.port_flags and @set_port */
#define VHOST_ACCEL_PORT_NO_SPOOFCHK	BIT(0)	/* any source MAC may leave */
#define VHOST_ACCEL_PORT_DOWN		BIT(1)	/* no traffic either way */

/**
 * struct vhost_accel_attach - what vhost asks of the driver at attach
 * @mac: unicast address whose frames this queue pair receives (it also
 *	receives broadcast and multicast).  Queue pairs attached with the
 *	same @mac are the queues of one multiqueue guest: the NIC spreads
 *	that MAC's frames over them by a flow hash (RSS), every frame to
 *	exactly one of them, every flow to one of them in order, each
 *	broadcast or multicast frame to one of them; a detach leaves the
 *	others working and the spread adapts
 * @flags: VHOST_ACCEL_ATTACH_*
 * @rx_headroom: bytes the NIC leaves free at the start of each received
 *	frame's first buffer (the virtio-net header: 10 or 12)
 * @mode: enum vhost_accel_port_mode: how the NIC's switch treats it
 * @port_flags: VHOST_ACCEL_PORT_*: anti-spoofing (on unless opted out)
 *	and the initial port state
 * @cb: callbacks, valid until @detach returns
 * @ctx: first argument of every callback
 *
 * It lives on vhost's stack: the driver copies what it keeps.
 */
struct vhost_accel_attach {
	u8 mac[ETH_ALEN];
	u32 flags;
	u32 rx_headroom;
	u8 mode;
	u32 port_flags;
	const struct vhost_accel_callbacks *cb;
	void *ctx;
};

/**
 * vhost_accel_attach_valid() - the argument checks every driver's @attach makes
 * @a: what vhost asks
 * @max_headroom: the most Rx headroom the NIC can leave before a frame
 *
 * Return: 0, or -EINVAL for what no NIC can honour: a missing tx_done or
 * rx_done callback, a MAC that is not unicast, unknown flags, mode or
 * port flags, more headroom than @max_headroom.
 */
static inline int vhost_accel_attach_valid(const struct vhost_accel_attach *a,
					   u32 max_headroom)
{
	if (!a->cb || !a->cb->tx_done || !a->cb->rx_done)
		return -EINVAL;
	if (!is_valid_ether_addr(a->mac))
		return -EINVAL;
	if (a->flags & ~(VHOST_ACCEL_ATTACH_RX_MERGE |
			 VHOST_ACCEL_ATTACH_FLOW_CONTROL))
		return -EINVAL;
	if (a->rx_headroom > max_headroom)
		return -EINVAL;
	if (a->mode > VHOST_ACCEL_MODE_MAX ||
	    a->port_flags & ~(VHOST_ACCEL_PORT_NO_SPOOFCHK |
			      VHOST_ACCEL_PORT_DOWN))
		return -EINVAL;
	return 0;
}

/**
 * struct vhost_accel_qp_stats - counters of one queue pair, as the NIC sees it
 * @tx_packets: frames sent on the wire or to another queue pair
 * @tx_bytes: their bytes
 * @tx_dropped: Tx frames dropped by the NIC (bad metadata, link down,
 *	port down, spoofed source)
 * @tx_dropped_spoofed: of those, frames whose source MAC was not the
 *	attached one (anti-spoofing)
 * @rx_packets: frames written into guest buffers
 * @rx_bytes: their bytes
 * @rx_dropped_no_buf: frames dropped for lack of posted guest buffers
 * @rx_dropped_too_big: frames that did not fit a buffer
 * @rx_depleted: times @rx_depleted was called
 */
struct vhost_accel_qp_stats {
	u64 tx_packets;
	u64 tx_bytes;
	u64 tx_dropped;
	u64 tx_dropped_spoofed;
	u64 rx_packets;
	u64 rx_bytes;
	u64 rx_dropped_no_buf;
	u64 rx_dropped_too_big;
	u64 rx_depleted;
};

/**
 * struct vhost_accel_nic_ops - what a cooperating driver implements
 * @attach: lend a free queue pair of the registered @netdev to vhost.
 *	Return the handle or an ERR_PTR: -EBUSY (no free queue pair, a
 *	PASSTHRU port in the way, or a NIC that cannot steer by address
 *	already lent to another MAC), -ENETDOWN (link or device down),
 *	-EADDRINUSE (a MAC the NIC keeps for itself, e.g. its own netdev's,
 *	unless @mode is PASSTHRU), -EINVAL (bad MAC, flags, mode or port
 *	flags, or more headroom than the hardware can skip), -ENOMEM,
 *	-ENODEV (the NIC is being removed).  A MAC already attached is no
 *	error: see &struct vhost_accel_attach.mac.  vhost passes the errno to
 *	user space unchanged.
 * @detach: take it back: stop the queues and remove the steering, complete
 *	every outstanding Tx buffer through @tx_done (with
 *	VHOST_ACCEL_COMP_ERROR if it was not sent) and every posted Rx buffer
 *	through @rx_done (filled ones first, in order, then unused ones with
 *	len 0), unmap everything, free the queue pair, then return.  Never
 *	fails; may sleep; no callback for @qp runs after it returns.
 * @xmit: queue @n Tx buffers for transmission; return how many were
 *	accepted (a prefix of @bufs; 0 when the ring is full).  The rest stay
 *	vhost's; it retries after the next @tx_done, so refusing with nothing
 *	outstanding stalls the queue.  A buffer is never refused for its
 *	content: it is accepted and completed with VHOST_ACCEL_COMP_ERROR,
 *	by the driver's NAPI, not from @xmit itself (@tx_done would run
 *	alongside NAPI's).  One doorbell per call.
 * @post_rx: post @n empty Rx buffers; return how many were accepted, a
 *	prefix as for @xmit.  Since an unused Rx buffer may only come back
 *	last, a buffer the NIC cannot use is refused, not accepted and
 *	skipped; so is one too small for a whole frame when the NIC would
 *	otherwise spread a frame over buffers without RX_MERGE.
 * @reclaim_rx: return every posted, unfilled Rx buffer through @rx_done
 *	with len 0, after the filled ones (e.g. before the guest's ring is
 *	stopped); since buffers are filled in order, the unused ones are the
 *	last ones posted, which vhost gives back to the guest's avail ring.
 * @tx_space: free Tx descriptors now (a hint; @xmit is the authority).
 *	0 means "full, wait for a completion": only when something is
 *	outstanding.  Optional, like @rx_space and @get_stats.
 * @rx_space: free Rx descriptors now (a hint)
 * @get_stats: read the queue pair's counters since attach (any context but
 *	hard irq)
 * @set_port: change the port's @mode and @port_flags after attach (the
 *	macvtap went up or down, or changed mode), effective for the frames
 *	the NIC switches after it returns.  Process context, under RTNL and
 *	vhost's locks: must not wait for the datapath.  -EINVAL when the
 *	change is impossible (to or from PASSTHRU); then vhost ends the
 *	binding (error eventfd), as when the macvtap is deleted.  Optional:
 *	without it vhost ends the binding on every such change.
 */
struct vhost_accel_nic_ops {
	struct vhost_accel_qp *(*attach)(struct net_device *netdev,
					 const struct vhost_accel_attach *args);
	void (*detach)(struct vhost_accel_qp *qp);
	unsigned int (*xmit)(struct vhost_accel_qp *qp,
			     const struct vhost_accel_buf *bufs,
			     unsigned int n);
	unsigned int (*post_rx)(struct vhost_accel_qp *qp,
				const struct vhost_accel_buf *bufs,
				unsigned int n);
	void (*reclaim_rx)(struct vhost_accel_qp *qp);
	unsigned int (*tx_space)(struct vhost_accel_qp *qp);
	unsigned int (*rx_space)(struct vhost_accel_qp *qp);
	void (*get_stats)(struct vhost_accel_qp *qp,
			  struct vhost_accel_qp_stats *stats);
	int (*set_port)(struct vhost_accel_qp *qp, u8 mode, u32 port_flags);
};

/**
 * struct vhost_accel_nic_config - a netdev that cooperates with vhost-accel
 * @netdev: the device; must stay registered while the NIC is registered
 * @ops: its operations
 * @max_qps: queue pairs it can lend to vhost devices
 * @max_segs: most segments it accepts in one buffer (at least 1)
 * @owner: module implementing @ops; not pinned by attached queue pairs:
 *	its exit path unregisters, which detaches them all
 *
 * What the driver declares to vhost_accel_nic_register(), which copies it:
 * it may live on the stack.
 */
struct vhost_accel_nic_config {
	struct net_device *netdev;
	const struct vhost_accel_nic_ops *ops;
	unsigned int max_qps;
	unsigned int max_segs;
	struct module *owner;
};

struct vhost_accel_nic *
vhost_accel_nic_register(const struct vhost_accel_nic_config *config);
void vhost_accel_nic_unregister(struct vhost_accel_nic *nic);

#endif /* _LINUX_VHOST_ACCEL_NIC_H */
