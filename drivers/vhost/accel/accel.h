/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-accel core: internal definitions shared by the files of
 * vhost_accel.ko.  Nothing here is visible to NIC drivers; their contract
 * is include/linux/vhost_accel_nic.h.
 *
 * Locking, outermost first:
 *   dev->mutex   device configuration: owner, memory table, log, features
 *   b->lock      the device's binding to a NIC queue pair (nic.c)
 *   vq->mutex    one virtqueue's configuration and ring state
 *   vhost_accel_nics_lock  global, innermost: lists and pointers only
 * The worker takes only vq->mutex.  No lock shared between devices is held
 * across a guest-memory access or a wait for a worker or a device's mutex
 * (Documentation/control-plane.rst, "Lifetime and locking guarantees").
 * dev->mem, dev->features, dev->log_base, dev->log_ctx and dev->owner_pid
 * are changed with dev->mutex and every vq->mutex held, so holding either
 * one is enough to read them.
 */
#ifndef _VHOST_ACCEL_CORE_H
#define _VHOST_ACCEL_CORE_H

#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/poll.h>
#include <linux/ratelimit.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/vhost_types.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_accel_nic.h>
#include <uapi/linux/vhost_accel.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_net.h>

#define VHOST_ACCEL_VQ_RX	0
#define VHOST_ACCEL_VQ_TX	1
#define VHOST_ACCEL_NVQS	2

/* Largest split ring the vhost ABI allows (num is a power of two <= 32768). */
#define VHOST_ACCEL_MAX_RING	32768

extern unsigned short vhost_accel_max_mem_regions;

struct pid_namespace;
struct vhost_accel_dev;
struct vhost_accel_copy;
struct vhost_accel_dp;
struct vhost_accel_work;

typedef void (*vhost_accel_work_fn_t)(struct vhost_accel_work *work);

/* A unit of work for the device's worker thread; queued at most once. */
struct vhost_accel_work {
	struct llist_node node;
	unsigned long flags;
#define VHOST_ACCEL_WORK_QUEUED	0
	vhost_accel_work_fn_t fn;
};

/* The per-device worker: a kthread running in the owner's mm and cgroups. */
struct vhost_accel_worker {
	struct task_struct *task;
	struct llist_head work_list;
	u64 wakeups;
};

/* Watches a file (a kick eventfd, a backend socket) and queues @work. */
struct vhost_accel_poll {
	__poll_t mask;			/* the events that queue @work */
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhost_accel_work work;
	struct vhost_accel_dev *dev;
};

/*
 * A registered NIC: the handle vhost_accel_nic_register() returns, opaque to
 * its driver.  The first fields are copied from its config; the lists are
 * under the nics lock (nic.c).
 */
struct vhost_accel_nic {
	struct net_device *netdev;
	const struct vhost_accel_nic_ops *ops;
	unsigned int max_qps;
	unsigned int max_segs;
	struct module *owner;
	struct list_head list;		/* on the registry */
	struct list_head users;		/* its bindings (b->nic_node) */
};

/*
 * A device's queue pair bound to a queue pair of a cooperating NIC.
 * Reference counted (see nic.c for who holds one); @lock protects @qp, the
 * attach state and @dead, and is taken outside every vq->mutex.
 */
struct vhost_accel_binding {
	refcount_t ref;
	struct mutex lock;
	bool dead;			/* torn down: nothing may use it */
	struct vhost_accel_dev *dev;
	struct vhost_accel_nic *nic;
	struct vhost_accel_qp *qp;	/* NULL: not attached now */
	struct net_device *netdev;	/* held */
	struct list_head nic_node;	/* on nic->users, under the nics lock */
	u8 mac[ETH_ALEN];
	u32 flags;			/* VHOST_ACCEL_BIND_F_* */
	u32 attach_flags;		/* VHOST_ACCEL_ATTACH_* in effect */
	u32 rx_headroom;
	atomic64_t rx_depletions;
	bool detach_requested;		/* the driver called cb->detached */
	bool from_tap;			/* made by SET_BACKEND with a macvtap */
	struct net_device *tapdev;	/* that macvtap (not held: see notifier) */
	bool tap_gone;			/* it unregistered (nics lock) */
	struct file *tapfile;		/* its queue fd's file, held */
	/*
	 * That macvtap again, held, for counting the accelerated traffic on
	 * it (datapath.c); cleared under the nics lock, and put only after
	 * an RCU grace period (nic.c, "Counting on the macvtap").
	 */
	struct net_device __rcu *stats_tap;
	/* of the NIC's Rx drops for want of buffers since the attach, those
	 * counted on it (b->lock to attach or detach, else the Rx vq->mutex)
	 */
	u64 rx_nobuf_counted;
};

/*
 * One pinned memory-table region.  Any alignment: guest address gpa + n is
 * byte offset_in_page(uaddr) + n of the @npages pages from @pages[0] on.
 */
struct vhost_accel_region {
	u64 gpa;
	u64 size;
	u64 uaddr;
	unsigned long npages;
	struct page **pages;
};

/*
 * A validated, pinned memory table; regions sorted by gpa, disjoint.
 * Reference counted: the device holds its current table, and each queue
 * whose datapath runs holds the table its buffers come from until the NIC
 * returned all of them; the last reference unpins.
 */
struct vhost_accel_mem {
	refcount_t ref;
	struct mm_struct *mm;		/* charged (mmgrab); NULL: empty */
	u32 nregions;
	unsigned long npages;		/* pinned */
	unsigned long charged;		/* of those, charged to locked_vm */
	struct vhost_accel_region region[];
};

/* avail->ring entries one user access reads ahead (ring.c) */
#define VHOST_ACCEL_HEADS_AHEAD	16

struct vhost_accel_vq {
	struct mutex mutex;
	struct vhost_accel_dev *dev;
	unsigned int index;

	/* Ring layout, as set by SET_VRING_NUM/ADDR (user addresses). */
	unsigned int num;
	u64 desc_uaddr;
	u64 avail_uaddr;
	u64 used_uaddr;
	u64 log_guest_addr;
	bool log_used;
	u16 last_avail_idx;
	u32 busyloop_timeout;

	/* Ring engine state (ring.c), valid while a backend is bound. */
	u16 avail_idx;			/* last avail->idx read from the guest */
	u16 last_used_idx;		/* next used->idx to publish */
	u16 signalled_used;		/* used idx at the last guest signal */
	u16 used_flags;			/* used->flags as we last wrote it */
	bool signalled_used_valid;
	bool broken;			/* guest error seen: queue stopped */
	u32 region_hint;		/* dev->mem index of the last translation */
	/* avail->ring entries read ahead: @heads_n from index @heads_idx */
	u16 heads_idx;
	u16 heads_n;
	__virtio16 heads[VHOST_ACCEL_HEADS_AHEAD];

	struct file *kick;
	struct eventfd_ctx *call_ctx;
	struct eventfd_ctx *err_ctx;
	struct vhost_accel_poll poll;

	/*
	 * Non-NULL while the datapath runs (SET_BACKEND with a bound NIC),
	 * both set and cleared together under vq->mutex: @qp is the NIC queue
	 * pair the datapath uses, attached for as long as it is set.
	 */
	struct vhost_accel_binding *backend;
	struct vhost_accel_qp *qp;

	/*
	 * The datapath (datapath.c): its state, allocated by a successful
	 * start and freed once the NIC returned every buffer and the worker
	 * consumed the completions, both under vq->mutex; NULL otherwise.
	 * The NIC's completion callbacks reach it without vq->mutex: they
	 * only come for buffers the NIC holds, so it is there.
	 */
	struct vhost_accel_dp *dp;
	struct vhost_accel_work dp_work;	/* completions, depletion */
	/*
	 * The copying datapath (copy.c), set instead of @backend for a
	 * backend that cannot be accelerated: set and cleared under
	 * vq->mutex and dev->mutex, freed after the worker let it go.
	 */
	struct vhost_accel_copy *copy;
	bool log_pending;	/* log.c: bits set, log eventfd not signalled */

	struct vhost_accel_vq_stats stats;

	/* RX backpressure (backpressure.c): a saturation episode. */
	unsigned long dp_events;		/* VHOST_ACCEL_DP_EV_* bits */
#define VHOST_ACCEL_DP_EV_DEPLETED	0	/* the NIC ran out of buffers */
	bool rx_saturated;
	u64 rx_sat_start;			/* ktime_get_ns() at its start */
	struct vhost_accel_binding *rx_sat_b;	/* bound when it started */
};

struct vhost_accel_dev {
	struct mutex mutex;
	struct mm_struct *mm;		/* owner's address space; NULL if unowned */
	struct pid *owner_pid;		/* owner's thread group, or NULL */
	u32 id;				/* from open: debugfs, netlink, traces */
	struct dentry *debugfs;
	struct vhost_accel_worker worker;
	struct vhost_accel_mem *mem;	/* never NULL: empty table after open */
	bool mem_table_set;		/* SET_MEM_TABLE succeeded since reset */
	u64 features;
	u64 backend_features;
	bool accel_only;		/* VHOST_ACCEL_BIND_F_ACCEL_ONLY */
	struct ratelimit_state log_rs;	/* its SET_BACKEND refusals */
	u32 datapath;			/* VHOST_ACCEL_DATAPATH_*, as logged */
	u64 log_base;			/* user address of the dirty bitmap */
	struct eventfd_ctx *log_ctx;
	struct vhost_accel_vq vqs[VHOST_ACCEL_NVQS];
	struct vhost_accel_binding *binding;	/* under the nics lock */
	struct list_head node;		/* on the device list (main.c) */
	/*
	 * The copying datapath's backend, for netlink (dev->mutex, read
	 * without it): its socket's network namespace, and the macvtap's
	 * ifindex and MAC (0 for other backends).
	 */
	u64 copy_net_cookie;
	int copy_ifindex;
	u8 copy_mac[ETH_ALEN];
	pid_t owner_tgid;		/* in the initial pid namespace, or 0 */
	/* the NIC dropped us, or a degraded device tries to get a qp back */
	struct delayed_work detach_work;
	bool degraded;		/* dev->mutex: copying through the binding's macvtap */
	u64 datapath_switches;	/* dev->mutex */
	u64 switch_drops;	/* dev->mutex */
	wait_queue_head_t dp_wait;		/* inflight reaching 0 */
};

/* mem.c */
struct vhost_accel_mem *vhost_accel_mem_alloc_empty(void);
int vhost_accel_mem_from_user(struct vhost_accel_dev *dev,
			      struct vhost_memory __user *umem,
			      struct vhost_accel_mem **out);
struct vhost_accel_mem *vhost_accel_mem_get(struct vhost_accel_mem *mem);
void vhost_accel_mem_put(struct vhost_accel_mem *mem);
void vhost_accel_mem_take_charge(struct vhost_accel_mem *mem,
				 struct vhost_accel_mem *old);
const struct vhost_accel_region *
vhost_accel_mem_find_gpa(const struct vhost_accel_mem *mem, u64 gpa, u64 len);

/* worker.c */
int vhost_accel_worker_start(struct vhost_accel_dev *dev);
void vhost_accel_worker_stop(struct vhost_accel_dev *dev);
void vhost_accel_work_init(struct vhost_accel_work *work,
			   vhost_accel_work_fn_t fn);
void vhost_accel_work_queue(struct vhost_accel_dev *dev,
			    struct vhost_accel_work *work);
void vhost_accel_worker_flush(struct vhost_accel_dev *dev);
void vhost_accel_poll_init(struct vhost_accel_poll *poll,
			   struct vhost_accel_dev *dev,
			   vhost_accel_work_fn_t fn, __poll_t mask);
void vhost_accel_poll_start(struct vhost_accel_poll *poll, struct file *file);
void vhost_accel_poll_stop(struct vhost_accel_poll *poll);

/* vq.c */
void vhost_accel_lock_vqs(struct vhost_accel_dev *dev);
void vhost_accel_unlock_vqs(struct vhost_accel_dev *dev);
void vhost_accel_vq_init(struct vhost_accel_dev *dev, unsigned int index,
			 vhost_accel_work_fn_t handle_kick);
void vhost_accel_vq_reset(struct vhost_accel_vq *vq);
long vhost_accel_vring_ioctl(struct vhost_accel_dev *dev, unsigned int cmd,
			     void __user *argp);
bool vhost_accel_vq_rings_ok(const struct vhost_accel_vq *vq);
void vhost_accel_vq_signal_err(struct vhost_accel_vq *vq);
__cold __printf(2, 3)
void vhost_accel_vq_err(struct vhost_accel_vq *vq, const char *fmt, ...);

/* ring.c: the split virtqueue engine, run by the worker under vq->mutex */

/**
 * struct vhost_accel_chain - one descriptor chain taken from the avail ring
 * @head: head descriptor index (the id written to the used ring)
 * @out_len: bytes in device-readable descriptors
 * @in_len: bytes in device-writable descriptors
 * @nout: segments that are device-readable (they come first)
 * @nsegs: all segments, readable then writable
 * @ndesc: descriptors walked, indirect ones and empty ones included
 * @segs: caller's storage for up to @max_segs segments, split at page
 *	boundaries, in chain order
 * @gpas: caller's storage (same capacity) or NULL: guest-physical address
 *	of each segment, for dirty logging and for header access
 * @max_segs: capacity of @segs / @gpas
 */
struct vhost_accel_chain {
	u16 head;
	u32 out_len;
	u32 in_len;
	unsigned int nout;
	unsigned int nsegs;
	unsigned int ndesc;
	struct vhost_accel_seg *segs;
	u64 *gpas;
	unsigned int max_segs;
};

int vhost_accel_read_user(void *dst, const void __user *src, unsigned int len);
int vhost_accel_ring_start(struct vhost_accel_vq *vq);
int vhost_accel_ring_get_chain(struct vhost_accel_vq *vq,
			       struct vhost_accel_chain *chain);
void vhost_accel_ring_unget(struct vhost_accel_vq *vq, unsigned int n);
int vhost_accel_ring_add_used(struct vhost_accel_vq *vq,
			      const struct vring_used_elem *used,
			      unsigned int n);
void vhost_accel_ring_signal(struct vhost_accel_vq *vq);
void vhost_accel_ring_disable_notify(struct vhost_accel_vq *vq);
bool vhost_accel_ring_enable_notify(struct vhost_accel_vq *vq);
bool vhost_accel_ring_avail_empty(struct vhost_accel_vq *vq);

/*
 * The budget of one run of a queue's handler, on either datapath ("Worker
 * budget" in Documentation/datapath.rst): every chain taken from the avail
 * ring counts, whatever becomes of it, and so do its bytes; a chain weighs
 * at least VHOST_ACCEL_DESC_WEIGHT bytes per descriptor walked, so that
 * chains of many small or empty descriptors are not cheap.  A run that
 * spent either limit requeues itself and returns: the worker then runs its
 * other work and reaches cond_resched().
 */
#define VHOST_ACCEL_BUDGET_CHAINS	256
#define VHOST_ACCEL_BUDGET_BYTES	(512 * 1024)
#define VHOST_ACCEL_DESC_WEIGHT		256

struct vhost_accel_budget {
	unsigned int chains;
	u64 bytes;
	bool yielded;
};

static inline bool
vhost_accel_budget_left(const struct vhost_accel_budget *bg)
{
	return bg->chains < VHOST_ACCEL_BUDGET_CHAINS &&
	       bg->bytes < VHOST_ACCEL_BUDGET_BYTES;
}

static inline void
vhost_accel_budget_charge(struct vhost_accel_budget *bg,
			  const struct vhost_accel_chain *chain)
{
	u64 len = (u64)chain->out_len + chain->in_len;

	bg->chains++;
	bg->bytes += max_t(u64, len,
			   (u64)chain->ndesc * VHOST_ACCEL_DESC_WEIGHT);
}

/* nic.c: the registry of cooperating NICs and binding to them */
long vhost_accel_set_nic(struct vhost_accel_dev *dev,
			 struct vhost_accel_nic_bind __user *argp);
void vhost_accel_unbind(struct vhost_accel_dev *dev);
int vhost_accel_bind_tap(struct vhost_accel_dev *dev, struct file *file);
bool vhost_accel_tap_accelerated(struct file *file);
void vhost_accel_tap_count_nobuf(struct vhost_accel_binding *b);
int vhost_accel_nic_init(void);
void vhost_accel_nic_exit(void);
void vhost_accel_unbind_idle_tap(struct vhost_accel_dev *dev);
void vhost_accel_detach_work(struct work_struct *work);
bool vhost_accel_is_bound(struct vhost_accel_dev *dev);
struct vhost_accel_binding *
vhost_accel_binding_get(struct vhost_accel_dev *dev);
void vhost_accel_binding_put(struct vhost_accel_binding *b);
int vhost_accel_binding_refresh(struct vhost_accel_binding *b);
void vhost_accel_binding_teardown(struct vhost_accel_binding *b,
				  bool nic_gone);
void vhost_accel_nic_stats(struct vhost_accel_dev *dev,
			   struct vhost_accel_stats *st);
void vhost_accel_binding_stats(struct vhost_accel_binding *b,
			       struct vhost_accel_stats *st);
u32 vhost_accel_binding_peers(struct vhost_accel_binding *b, int *tap_ifindex);

/* datapath.c: the Tx and Rx datapaths, their start and stop */
int vhost_accel_backend_start(struct vhost_accel_dev *dev,
			      struct vhost_accel_vq *vq, bool stay_broken);
void vhost_accel_backend_stop(struct vhost_accel_dev *dev,
			      struct vhost_accel_vq *vq);
void vhost_accel_dp_release(struct vhost_accel_vq *vq);
void vhost_accel_dp_init(struct vhost_accel_vq *vq);
void vhost_accel_dp_handle_kick(struct vhost_accel_work *work);
void vhost_accel_dp_queue(struct vhost_accel_vq *vq);
bool vhost_accel_budget_yield(struct vhost_accel_vq *vq,
			      struct vhost_accel_budget *bg);
void vhost_accel_dp_run(struct vhost_accel_vq *vq);
extern const struct vhost_accel_callbacks vhost_accel_nic_callbacks;

/* copy.c: the copying datapath, through the backend fd's socket */
enum vhost_accel_copy_kind {
	VHOST_ACCEL_COPY_TUN,
	VHOST_ACCEL_COPY_TAP,		/* macvtap or ipvtap */
	VHOST_ACCEL_COPY_PACKET,
};

int vhost_accel_copy_socket_ok(struct file *file);
int vhost_accel_copy_start(struct vhost_accel_dev *dev,
			   struct vhost_accel_vq *vq, struct file *file);
void vhost_accel_copy_stop(struct vhost_accel_dev *dev,
			   struct vhost_accel_vq *vq);
void vhost_accel_copy_handle(struct vhost_accel_vq *vq,
			     struct vhost_accel_budget *bg);
bool vhost_accel_copy_same_file(const struct vhost_accel_vq *vq,
				const struct file *file);
unsigned int vhost_accel_copy_discard(struct file *file, unsigned int max);
void vhost_accel_copy_wait_sent(struct file *file, unsigned int timeout_ms);
enum vhost_accel_copy_kind
vhost_accel_copy_kind(const struct vhost_accel_vq *vq);
const char *vhost_accel_copy_kind_name(enum vhost_accel_copy_kind kind);

/* Is a datapath of either kind set on @vq?  dev->mutex or vq->mutex held. */
static inline bool vhost_accel_vq_running(const struct vhost_accel_vq *vq)
{
	return vq->backend || vq->copy;
}

/* backpressure.c: Rx saturation state, its tracepoints and events */

/* One bound device's backpressure state, as netlink reports it. */
struct vhost_accel_bp_state {
	u32 dev_id;
	u32 owner_pid;
	int ifindex;
	u8 mac[ETH_ALEN];
	u8 datapath;			/* VHOST_ACCEL_DATAPATH_* */
	bool saturated;
	bool flow_control;
	bool have_drops;
	u64 depletions;
	u64 saturations;
	u64 saturated_ns;
	u64 drops_no_buf;
};

void vhost_accel_bp_rx_depleted(struct vhost_accel_binding *b);
bool vhost_accel_bp_take_depleted(struct vhost_accel_vq *vq);
void vhost_accel_bp_rx_pumped(struct vhost_accel_vq *vq,
			      struct vhost_accel_binding *b, bool depleted,
			      bool posted, bool empty, bool yielded);
void vhost_accel_bp_stop(struct vhost_accel_vq *vq);
u64 vhost_accel_bp_saturated_ns(const struct vhost_accel_vq *vq);
void vhost_accel_bp_snapshot(struct vhost_accel_binding *b,
			     struct vhost_accel_bp_state *s,
			     struct pid_namespace *ns);

/*
 * genl.c: the "vhost_accel" generic netlink family: GET requests, and the
 * events backpressure.c sends through these two
 */
int vhost_accel_genl_init(void);
void vhost_accel_genl_exit(void);
bool vhost_accel_genl_listening(struct net *net);
void vhost_accel_genl_event(struct net *net,
			    const struct vhost_accel_bp_state *s, u8 cmd,
			    u64 duration_ns);
/* nic.c: call @fn for each live binding on a NIC in @net (b->lock held) */
int vhost_accel_bindings_walk(struct net *net,
			      int (*fn)(struct vhost_accel_binding *b,
					void *arg),
			      void *arg);

/* main.c */
void vhost_accel_dev_stats(struct vhost_accel_dev *dev,
			   struct vhost_accel_stats *st);
void vhost_accel_vq_stats(struct vhost_accel_vq *vq,
			  struct vhost_accel_vq_stats *s);
u32 vhost_accel_dev_datapath(const struct vhost_accel_dev *dev);
int vhost_accel_copying_walk(struct net *net,
			     int (*fn)(struct vhost_accel_dev *dev, void *arg),
			     void *arg);
bool vhost_accel_dev_accel_only(const struct vhost_accel_dev *dev);

/* debugfs.c: counters readable by the host administrator */
void vhost_accel_debugfs_init(void);
void vhost_accel_debugfs_exit(void);
void vhost_accel_debugfs_add(struct vhost_accel_dev *dev);
void vhost_accel_debugfs_remove(struct vhost_accel_dev *dev);
void vhost_accel_binding_show(struct vhost_accel_dev *dev,
			      struct seq_file *m);

/* log.c */
long vhost_accel_set_log_base(struct vhost_accel_dev *dev, u64 __user *argp);
long vhost_accel_set_log_fd(struct vhost_accel_dev *dev, int __user *argp);
bool vhost_accel_log_access_ok(const struct vhost_accel_dev *dev, u64 base,
			       const struct vhost_accel_mem *mem);
bool vhost_accel_log_used_ok(const struct vhost_accel_vq *vq, u64 gpa);
bool vhost_accel_log_vq_ok(const struct vhost_accel_vq *vq);
void vhost_accel_log_reset(struct vhost_accel_dev *dev);
int vhost_accel_log_write(struct vhost_accel_vq *vq, u64 gpa, u64 len);
void vhost_accel_log_flush(struct vhost_accel_vq *vq);

/* Does a 64-bit address from user space fit this kernel's pointers? */
static inline bool vhost_accel_addr_fits(u64 addr)
{
	return (u64)(unsigned long)addr == addr;
}

/* main.c */
static inline bool vhost_accel_has_feature(const struct vhost_accel_dev *dev,
					   unsigned int bit)
{
	return dev->features & BIT_ULL(bit);
}

/*
 * Byte order of the rings and virtio-net headers: little endian with
 * VIRTIO_F_VERSION_1, the guest's native order for a legacy device (we
 * offer no cross-endian support, so that is the host's).  On a
 * little-endian host both are little endian and this folds to a constant.
 */
static __always_inline bool vq_is_le(const struct vhost_accel_vq *vq)
{
	return virtio_legacy_is_little_endian() ||
	       vhost_accel_has_feature(vq->dev, VIRTIO_F_VERSION_1);
}

static __always_inline u16 vq16_to_cpu(const struct vhost_accel_vq *vq,
				       __virtio16 val)
{
	return __virtio16_to_cpu(vq_is_le(vq), val);
}

static __always_inline __virtio16 cpu_to_vq16(const struct vhost_accel_vq *vq,
					      u16 val)
{
	return __cpu_to_virtio16(vq_is_le(vq), val);
}

static __always_inline u32 vq32_to_cpu(const struct vhost_accel_vq *vq,
				       __virtio32 val)
{
	return __virtio32_to_cpu(vq_is_le(vq), val);
}

static __always_inline __virtio32 cpu_to_vq32(const struct vhost_accel_vq *vq,
					      u32 val)
{
	return __cpu_to_virtio32(vq_is_le(vq), val);
}

static __always_inline u64 vq64_to_cpu(const struct vhost_accel_vq *vq,
				       __virtio64 val)
{
	return __virtio64_to_cpu(vq_is_le(vq), val);
}

/* The guest's virtio-net header: 12 bytes with VERSION_1 or MRG_RXBUF. */
static inline unsigned int
vhost_accel_vnet_hdr_len(const struct vhost_accel_dev *dev)
{
	if (vhost_accel_has_feature(dev, VIRTIO_F_VERSION_1) ||
	    vhost_accel_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF))
		return sizeof(struct virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct virtio_net_hdr);
}

/* A used-ring element in the ring's byte order. */
static inline struct vring_used_elem
vhost_accel_used_elem(const struct vhost_accel_vq *vq, u32 id, u32 len)
{
	struct vring_used_elem e = {
		.id = cpu_to_vq32(vq, id),
		.len = cpu_to_vq32(vq, len),
	};

	return e;
}

#endif /* _VHOST_ACCEL_CORE_H */
