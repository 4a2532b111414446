/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-accel: user-space ABI beyond the vhost-net ioctls.
 *
 * /dev/vhost-accel accepts the vhost-net ioctl set from <linux/vhost.h>
 * unchanged.  The ioctls below are additions; they use the vhost ioctl
 * magic (VHOST_VIRTIO) with numbers from 0xe0 upwards, a range mainline
 * vhost does not use, so a vhost-net client never sends them by accident.
 */
#ifndef _UAPI_LINUX_VHOST_ACCEL_H
#define _UAPI_LINUX_VHOST_ACCEL_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/* Version of this header's structures; bumped on incompatible change. */
#define VHOST_ACCEL_ABI_VERSION		1

/* Per virtqueue counters, as seen by the vhost-accel worker. */
struct vhost_accel_vq_stats {
	__u64 kicks;		/* kick eventfd signals handled by the worker */
	__u64 calls;		/* call eventfd signals raised */
	__u64 errors;		/* times the error eventfd was signalled */
	__u64 packets;		/* frames moved through this queue */
	__u64 bytes;		/* payload bytes moved through this queue */
	__u64 bytes_copied;	/* payload bytes the CPU copied (0 when accelerated) */
	__u64 bufs_posted;	/* RX: guest buffers posted to the NIC; TX: handed to it */
	__u64 depletions;	/* RX: times the NIC ran out of posted buffers */
	__u64 drops_no_buf;	/* RX: frames the NIC dropped for lack of buffers */
	__u64 drops_too_big;	/* RX: frames larger than a buffer; TX: chains too long */
	__u64 drops_nic;	/* TX: frames the NIC failed to send */
	/*
	 * Appended in the reserved space, so the size (and the GET_STATS
	 * ioctl number, which encodes it) stays the same; older kernels
	 * leave these 0.
	 */
	__u64 saturations;	/* RX: episodes without any guest buffer */
	__u64 saturated_ns;	/* RX: time in them, the current one included */
	__u64 run_chains_max;	/* most chains one worker run took (budget) */
	__u64 budget_yields;	/* worker runs ended by the budget, requeued */
	__u64 drops_spoofed;	/* TX: frames the NIC dropped for a source MAC not the bound one */
};

/* vhost_accel_stats.datapath: how the device's frames move now */
#define VHOST_ACCEL_DATAPATH_NONE	0 /* no backend set */
#define VHOST_ACCEL_DATAPATH_ACCEL	1 /* NIC queue pair, no payload copy */
#define VHOST_ACCEL_DATAPATH_COPY	2 /* the backend's socket, as vhost-net */

/*
 * VHOST_ACCEL_GET_STATS: read the device's counters.
 *
 * @version is set by the kernel to VHOST_ACCEL_ABI_VERSION.
 * @pinned_pages is the number of guest pages currently pinned for the
 * memory table; it is charged to the owner's locked_vm.
 * @datapath is a VHOST_ACCEL_DATAPATH_* value; @datapath_switches counts
 * the times a running device moved between the accelerated and the
 * copying datapath without its owner asking (the NIC took its queue pair
 * back, or lent one again), and @switch_drops the received frames lost in
 * those moves.  Older kernels leave these 0.
 */
struct vhost_accel_stats {
	__u32 version;
	__u32 nvqs;
	__u64 pinned_pages;
	__u64 worker_wakeups;
	__u32 datapath;
	__u32 pad;
	__u64 datapath_switches;
	__u64 switch_drops;
	__u64 reserved[2];
	struct vhost_accel_vq_stats vq[2];
};

#define VHOST_ACCEL_GET_STATS	_IOR(VHOST_VIRTIO, 0xe0, struct vhost_accel_stats)

/* vhost_accel_nic_bind.flags */
#define VHOST_ACCEL_BIND_F_FLOW_CONTROL	(1U << 0) /* hold, don't drop, when the guest has no buffers */
/*
 * The NIC lets the guest send frames whose source MAC is not @mac (as
 * `ip link set PF vf N spoofchk off`); by default it drops them and counts
 * them in drops_spoofed.
 */
#define VHOST_ACCEL_BIND_F_NO_SPOOFCHK	(1U << 1)
/*
 * Accelerated or nothing: with this flag and @ifindex 0, VHOST_ACCEL_SET_NIC
 * only sets the device's policy for VHOST_NET_SET_BACKEND: a backend fd
 * that cannot be accelerated (not a macvtap on a cooperating NIC with a
 * free queue pair) is refused as before, instead of running the copying
 * datapath.  The module parameter accel_only sets it for every device.
 */
#define VHOST_ACCEL_BIND_F_ACCEL_ONLY	(1U << 2)

/*
 * VHOST_ACCEL_SET_NIC: bind the device's queue pair to a queue pair of a
 * cooperating NIC, steered by @mac; @ifindex 0 unbinds.  Needs
 * CAP_NET_ADMIN in the netdev's network namespace (the caller's).  Must be
 * issued while no backend is set (VHOST_NET_SET_BACKEND fd -1); the
 * datapath then starts with VHOST_NET_SET_BACKEND and any fd.
 *
 * Errors: ENODEV (no such ifindex), EOPNOTSUPP (the netdev does not
 * cooperate), ENETDOWN (it is down), EBUSY (no free queue pair, the
 * datapath is running, or a passthru macvtap's guest owns the NIC),
 * EADDRINUSE (@mac is the NIC's own, or bound through a macvtap), EINVAL
 * (multicast or zero @mac, unknown flags), EPERM.  Devices bound with the
 * same @mac are the queue pairs of one multiqueue guest: the NIC spreads
 * the MAC's flows over them.  The NIC switches frames directly between
 * SET_NIC bindings (and bridge-mode macvtap ones): see
 * Documentation/nic-contract.rst, "Isolation and anti-spoofing".
 */
struct vhost_accel_nic_bind {
	__s32 ifindex;
	__u32 flags;
	__u8 mac[6];
	__u8 pad[2];
};

#define VHOST_ACCEL_SET_NIC	_IOW(VHOST_VIRTIO, 0xe1, struct vhost_accel_nic_bind)

/*
 * Generic netlink family "vhost_accel": backpressure reporting to the host.
 * See Documentation/backpressure.rst.
 *
 * Multicast group "backpressure": VHOST_ACCEL_CMD_SATURATED when an Rx
 * queue runs out of guest buffers (the NIC reported depletion and the
 * guest's avail ring is empty), VHOST_ACCEL_CMD_RECOVERED when the guest
 * posts buffers again or the datapath stops.  Events go to the network
 * namespace of the NIC; joining needs CAP_NET_ADMIN there.
 *
 * VHOST_ACCEL_CMD_GET: with VHOST_ACCEL_A_DEV_ID, one device's state;
 * as a dump, every device bound to a NIC of the caller's namespace, then
 * every device copying through a backend socket of that namespace.
 * Also CAP_NET_ADMIN in that namespace.
 */
#define VHOST_ACCEL_GENL_NAME		"vhost_accel"
#define VHOST_ACCEL_GENL_VERSION	1
#define VHOST_ACCEL_GENL_MCGRP_BP	"backpressure"

enum vhost_accel_genl_cmd {
	VHOST_ACCEL_CMD_UNSPEC,
	VHOST_ACCEL_CMD_GET,		/* request; reply and dump entries */
	VHOST_ACCEL_CMD_SATURATED,	/* event */
	VHOST_ACCEL_CMD_RECOVERED,	/* event */
	__VHOST_ACCEL_CMD_MAX,
};
#define VHOST_ACCEL_CMD_MAX	(__VHOST_ACCEL_CMD_MAX - 1)

enum vhost_accel_genl_attr {
	VHOST_ACCEL_A_UNSPEC,
	VHOST_ACCEL_A_DEV_ID,		/* u32: /sys/kernel/debug/vhost-accel/<id> */
	VHOST_ACCEL_A_OWNER_PID,	/* u32: owner's pid (asker's pid ns) */
	VHOST_ACCEL_A_IFINDEX,		/* u32: the NIC */
	VHOST_ACCEL_A_MAC,		/* binary[6]: the steered MAC */
	VHOST_ACCEL_A_SATURATED,	/* u8: 1 while saturated */
	VHOST_ACCEL_A_DEPLETIONS,	/* u64: as vhost_accel_vq_stats */
	VHOST_ACCEL_A_SATURATIONS,	/* u64 */
	VHOST_ACCEL_A_SATURATED_NS,	/* u64 */
	VHOST_ACCEL_A_DROPS_NO_BUF,	/* u64 */
	VHOST_ACCEL_A_DURATION_NS,	/* u64: RECOVERED: the episode's length */
	VHOST_ACCEL_A_FLOW_CONTROL,	/* u8: binding holds instead of dropping */
	VHOST_ACCEL_A_PAD,
	VHOST_ACCEL_A_DATAPATH,		/* u8: VHOST_ACCEL_DATAPATH_* */
	VHOST_ACCEL_A_DATAPATH_SWITCHES,	/* u64: see vhost_accel_stats */
	/* GET replies and dump entries only (not in events): */
	VHOST_ACCEL_A_IFNAME,		/* string: the NIC's name */
	VHOST_ACCEL_A_BACKEND_IFINDEX,	/* u32: the macvtap, 0 if none */
	VHOST_ACCEL_A_QUEUE_PAIRS,	/* u32: the guest's, see below */
	VHOST_ACCEL_A_PINNED_PAGES,	/* u64: as vhost_accel_stats */
	VHOST_ACCEL_A_WORKER_WAKEUPS,	/* u64 */
	VHOST_ACCEL_A_SWITCH_DROPS,	/* u64 */
	VHOST_ACCEL_A_QUEUE,		/* nest, one per virtqueue: VHOST_ACCEL_A_Q_* */
	__VHOST_ACCEL_A_MAX,
};
#define VHOST_ACCEL_A_MAX	(__VHOST_ACCEL_A_MAX - 1)

/*
 * GET replies and dump entries carry every counter of VHOST_ACCEL_GET_STATS:
 * the device's as VHOST_ACCEL_A_* above, each virtqueue's in a
 * VHOST_ACCEL_A_QUEUE nest (0 = Rx, 1 = Tx), with the fields of struct
 * vhost_accel_vq_stats.  VHOST_ACCEL_A_QUEUE_PAIRS is the number of
 * devices bound to the same NIC with the same MAC (the queue pairs of one
 * multiqueue guest, this device included); 1 for a copying device.
 * Counters are read without waiting for the device (a moment old if its
 * worker is busy); VHOST_ACCEL_A_PINNED_PAGES is left out while the
 * device's configuration is being changed, and the NIC's counters
 * (VHOST_ACCEL_A_Q_DROPS_NO_BUF, _DROPS_SPOOFED, the NIC's part of
 * _DROPS_TOO_BIG) count as 0 while no NIC queue pair is attached.
 */
enum vhost_accel_genl_queue_attr {
	VHOST_ACCEL_A_Q_UNSPEC,
	VHOST_ACCEL_A_Q_INDEX,		/* u32: 0 = Rx, 1 = Tx */
	VHOST_ACCEL_A_Q_KICKS,		/* u64: as vhost_accel_vq_stats */
	VHOST_ACCEL_A_Q_CALLS,		/* u64 */
	VHOST_ACCEL_A_Q_ERRORS,		/* u64 */
	VHOST_ACCEL_A_Q_PACKETS,	/* u64 */
	VHOST_ACCEL_A_Q_BYTES,		/* u64 */
	VHOST_ACCEL_A_Q_BYTES_COPIED,	/* u64 */
	VHOST_ACCEL_A_Q_BUFS_POSTED,	/* u64 */
	VHOST_ACCEL_A_Q_DEPLETIONS,	/* u64 */
	VHOST_ACCEL_A_Q_DROPS_NO_BUF,	/* u64 */
	VHOST_ACCEL_A_Q_DROPS_TOO_BIG,	/* u64 */
	VHOST_ACCEL_A_Q_DROPS_NIC,	/* u64 */
	VHOST_ACCEL_A_Q_SATURATIONS,	/* u64 */
	VHOST_ACCEL_A_Q_SATURATED_NS,	/* u64 */
	VHOST_ACCEL_A_Q_RUN_CHAINS_MAX,	/* u64 */
	VHOST_ACCEL_A_Q_BUDGET_YIELDS,	/* u64 */
	VHOST_ACCEL_A_Q_DROPS_SPOOFED,	/* u64 */
	VHOST_ACCEL_A_Q_PAD,
	__VHOST_ACCEL_A_Q_MAX,
};
#define VHOST_ACCEL_A_Q_MAX	(__VHOST_ACCEL_A_Q_MAX - 1)

#endif /* _UAPI_LINUX_VHOST_ACCEL_H */
