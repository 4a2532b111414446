/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vguest: a small user-space virtio "guest" driving a vhost-net style
 * device (/dev/vhost-accel or /dev/vhost-net) through its ioctl ABI.
 *
 * The guest owns some anonymous memory ("guest memory"), split into one
 * or more regions at guest physical addresses chosen by the caller.  Split
 * virtqueues live inside that memory; kicks, calls and errors travel
 * through eventfds, exactly as with a real VMM.
 *
 * Conventions:
 *  - every function returning int returns 0 (or a non-negative value where
 *    documented) on success and -errno on failure; nothing here exits;
 *  - addresses handed to the device in SET_VRING_ADDR are HVAs (process
 *    virtual addresses), descriptor addresses inside the rings are GPAs;
 *  - rings are little endian (VIRTIO_F_VERSION_1 layout, also the legacy
 *    layout on the x86 hosts we run on).
 *
 * One header for the whole library, so a test includes one file; its
 * sections follow the source files:
 *  - vguest_dev.c: device, guest memory, raw per-vring ioctls, NIC binding;
 *  - vguest_ring.c: split virtqueues (descriptors, avail, used, raw access);
 *  - vguest_net.c: the virtio-net guest (header, Rx and Tx frames, bursts);
 *  - vguest_sys.c: process helpers (time, capabilities, workers, kmsg);
 *  - vguest_traffic.c: the traffic engine (peer sender and reader threads).
 * vguest_int.h holds what those files share and the tests do not use.
 */
#ifndef VGUEST_H
#define VGUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_accel.h>

#define VG_DEV_ACCEL		"/dev/vhost-accel"
#define VG_DEV_NET		"/dev/vhost-net"

/* One queue pair per open: RX is vq 0, TX is vq 1. */
#define VG_NVQS			2
#define VG_VQ_RX		0
#define VG_VQ_TX		1

/* Largest ring size vhost accepts (power of two, <= 0xffff). */
#define VG_VRING_MAX		32768U

#define VG_MAX_REGIONS		64

/*
 * Worker kthread name is VG_WORKER_PREFIX "<owner pid>".  task->comm keeps
 * 15 characters; /proc shows a kernel thread's full name on kernels that
 * keep it (5.17+), the truncated one otherwise: both are accepted.
 */
#define VG_WORKER_PREFIX	"vhost-accel-"
#define VG_TASK_COMM_LEN	16	/* TASK_COMM_LEN */
#define VG_COMM_BUF		64	/* enough for any name /proc shows */

#define VG_FBIT(b)		(1ULL << (b))

/* Exactly what /dev/vhost-accel offers in VHOST_GET_FEATURES. */
#define VG_ACCEL_FEATURES	(VG_FBIT(VIRTIO_F_VERSION_1) |		\
				 VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |	\
				 VG_FBIT(VIRTIO_RING_F_INDIRECT_DESC) |	\
				 VG_FBIT(VIRTIO_NET_F_MRG_RXBUF) |	\
				 VG_FBIT(VIRTIO_F_ANY_LAYOUT) |		\
				 VG_FBIT(VIRTIO_F_NOTIFY_ON_EMPTY) |	\
				 VG_FBIT(VHOST_F_LOG_ALL) |		\
				 VG_FBIT(VHOST_NET_F_VIRTIO_NET_HDR))

/* vg_mem_add() flags */
#define VG_MEM_SHARED		0x1	/* MAP_SHARED instead of MAP_PRIVATE */
#define VG_MEM_POPULATE		0x2	/* prefault (MAP_POPULATE) */
/*
 * hva starts VG_MEM_MIDPAGE_OFF bytes into a page, as a malloc'd buffer
 * would: guest and host page boundaries then differ (16-byte alignment
 * is kept, so rings placed in it stay aligned)
 */
#define VG_MEM_MIDPAGE		0x4
#define VG_MEM_MIDPAGE_OFF	0x830

struct vg_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	uint64_t used;		/* bytes handed out by vg_mem_alloc() */
	uint64_t map_off;	/* hva - start of its mapping (VG_MEM_MIDPAGE) */
};

/* vg_vq_init() flags */
#define VG_VQ_LEGACY_LAYOUT	0x1	/* desc+avail contiguous, used aligned */
#define VG_VQ_INDIRECT		0x2	/* reserve indirect tables */

/* vg_vq_add() flags */
#define VG_ADD_INDIRECT		0x1	/* put the chain in an indirect table */

/* Indirect table entries reserved per head with VG_VQ_INDIRECT. */
#define VG_INDIRECT_MAX		16

struct vg_buf {
	uint64_t gpa;
	uint32_t len;
};

struct vg_vq {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd, call_fd, err_fd;

	/* Driver-private state; never read back from shared memory. */
	uint16_t avail_idx;	/* next avail->idx we will publish */
	uint16_t kicked_idx;	/* avail_idx at the last notification */
	uint16_t last_used_idx;	/* next used entry to consume */
	unsigned int num_free;
	uint16_t free_head;
	uint16_t *free_next;	/* free list links, one per descriptor */
	uint16_t *chain_len;	/* descriptors taken by the chain at head */
	void **cookie;		/* caller's token per head */
	bool *in_flight;	/* head currently owned by the device */
	struct vring_desc *indirect;	/* indirect_max entries per head */
	uint64_t indirect_gpa;
	unsigned int indirect_max;	/* VG_INDIRECT_MAX unless vg_vq_init2() */
	bool cb_disabled;
	bool ready;
};

struct vg_dev {
	int fd;
	char path[64];
	uint64_t features;	/* last value accepted by SET_FEATURES */
	unsigned int nregions;
	struct vg_region region[VG_MAX_REGIONS];
	struct vg_vq vq[VG_NVQS];
};

/* ---- device ---------------------------------------------------------- */

int vg_open(struct vg_dev *d, const char *path);
/* Open d->path again after vg_close_fd(), keeping memory and vqs. */
int vg_reopen(struct vg_dev *d);
/* Closes the device fd only (memory and eventfds stay). */
int vg_close_fd(struct vg_dev *d);
/* Closes everything: device fd, eventfds, guest memory. */
int vg_close(struct vg_dev *d);

/* ioctl(2) returning 0 / -errno (ioctls here never return > 0). */
int vg_xioctl(int fd, unsigned long req, void *arg);
int vg_ioctl(struct vg_dev *d, unsigned long req, void *arg);

int vg_set_owner(struct vg_dev *d);
int vg_reset_owner(struct vg_dev *d);
int vg_get_features(struct vg_dev *d, uint64_t *features);
int vg_set_features(struct vg_dev *d, uint64_t features);
int vg_get_backend_features(struct vg_dev *d, uint64_t *features);
int vg_set_backend_features(struct vg_dev *d, uint64_t features);
int vg_get_stats(struct vg_dev *d, struct vhost_accel_stats *st);

/* ---- guest memory ---------------------------------------------------- */

/* mmap a new page-aligned region at @gpa; returns its index. */
int vg_mem_add(struct vg_dev *d, uint64_t gpa, uint64_t size,
	       unsigned int flags);
/* Shorthand: one private region of @size bytes at GPA 0. */
int vg_mem_init(struct vg_dev *d, uint64_t size);
/* Unmap all regions (does not touch the device's table). */
void vg_mem_release(struct vg_dev *d);
/* Carve @size bytes aligned to @align out of guest memory. */
int vg_mem_alloc(struct vg_dev *d, uint64_t size, uint64_t align,
		 uint64_t *gpa, void **hva);
/* NULL unless [gpa, gpa + len) lies inside one region. */
void *vg_gpa_to_hva(const struct vg_dev *d, uint64_t gpa, uint64_t len);
int vg_hva_to_gpa(const struct vg_dev *d, const void *hva, uint64_t len,
		  uint64_t *gpa);

/* VHOST_SET_MEM_TABLE with the regions of @d. */
int vg_set_mem_table(struct vg_dev *d);
/*
 * VHOST_SET_MEM_TABLE with an arbitrary array (may be invalid on purpose);
 * @r NULL sends @nregions zeroed entries.
 */
int vg_set_mem_table_raw(int fd, const struct vhost_memory_region *r,
			 uint32_t nregions, uint32_t padding);
/* Bytes covered by the regions of @d. */
uint64_t vg_mem_size(const struct vg_dev *d);

/* ---- raw per-vring ioctls (arguments passed through unchecked) ------- */

int vg_set_vring_num(struct vg_dev *d, unsigned int idx, unsigned int num);
int vg_set_vring_base(struct vg_dev *d, unsigned int idx, unsigned int num);
int vg_get_vring_base(struct vg_dev *d, unsigned int idx, unsigned int *num);
int vg_set_vring_addr(struct vg_dev *d, unsigned int idx, uint64_t desc,
		      uint64_t avail, uint64_t used, uint64_t log,
		      unsigned int flags);
int vg_set_vring_kick(struct vg_dev *d, unsigned int idx, int fd);
int vg_set_vring_call(struct vg_dev *d, unsigned int idx, int fd);
int vg_set_vring_err(struct vg_dev *d, unsigned int idx, int fd);
int vg_set_vring_busyloop(struct vg_dev *d, unsigned int idx,
			  unsigned int timeout);
int vg_get_vring_busyloop(struct vg_dev *d, unsigned int idx,
			  unsigned int *timeout);
int vg_set_log_base(struct vg_dev *d, uint64_t base);
int vg_set_log_fd(struct vg_dev *d, int fd);
int vg_set_backend(struct vg_dev *d, unsigned int idx, int fd);

/* ---- virtqueues ------------------------------------------------------ */

size_t vg_vring_desc_size(unsigned int num);
/* Write one split-ring descriptor in the ring's (little-endian) order. */
void vg_desc_set(struct vring_desc *d, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);
size_t vg_vring_avail_size(unsigned int num);	/* incl. used_event */
size_t vg_vring_used_size(unsigned int num);	/* incl. avail_event */
/* Bytes of the legacy contiguous layout with the used ring at @align. */
size_t vg_vring_legacy_size(unsigned int num, unsigned long align);

/*
 * Lay out a ring of @num entries in guest memory and create its eventfds.
 * @align: alignment of the used ring for VG_VQ_LEGACY_LAYOUT (0: 4096);
 * ignored otherwise (spec minimum alignment: 16/2/4).
 */
int vg_vq_init(struct vg_dev *d, unsigned int idx, unsigned int num,
	       unsigned int flags, unsigned long align);
/* vg_vq_init() with @indirect_max table entries per head (VG_VQ_INDIRECT). */
int vg_vq_init2(struct vg_dev *d, unsigned int idx, unsigned int num,
		unsigned int flags, unsigned long align,
		unsigned int indirect_max);
void vg_vq_fini(struct vg_dev *d, unsigned int idx);
/* NUM, BASE(0), ADDR, KICK, CALL, ERR for an initialised vq. */
int vg_vq_setup(struct vg_dev *d, unsigned int idx);
/* vg_vq_init (modern layout) + vg_vq_setup. */
int vg_setup_vring(struct vg_dev *d, unsigned int idx, unsigned int num);

/*
 * Add a chain: @nout device-readable buffers then @nin device-writable
 * ones, and publish it in the avail ring.  Returns the head (>= 0),
 * -ENOSPC when the ring is full, -EINVAL on bad arguments.
 */
int vg_vq_add(struct vg_dev *d, unsigned int idx,
	      const struct vg_buf *out, unsigned int nout,
	      const struct vg_buf *in, unsigned int nin,
	      void *cookie, unsigned int flags);
/* Whether the device asked to be notified of what was added since. */
bool vg_vq_kick_needed(struct vg_dev *d, unsigned int idx);
/* Write the kick eventfd unconditionally. */
int vg_vq_kick(struct vg_dev *d, unsigned int idx);
/* Kick only if vg_vq_kick_needed(); returns 1 if kicked, 0 if not. */
int vg_vq_notify(struct vg_dev *d, unsigned int idx);
/*
 * Take one used entry: returns its head and fills @len / @cookie,
 * -EAGAIN when there is none, -EIO when the device wrote an id that is
 * out of range or not in flight.
 */
int vg_vq_get_used(struct vg_dev *d, unsigned int idx, uint32_t *len,
		   void **cookie);
/* Wait up to @timeout_ms for the call eventfd; -ETIMEDOUT on timeout. */
int vg_vq_wait_call(struct vg_dev *d, unsigned int idx, int timeout_ms);
/* Wait up to @timeout_ms for the error eventfd. */
int vg_vq_wait_err(struct vg_dev *d, unsigned int idx, int timeout_ms);
/* vg_vq_get_used, waiting for calls up to @timeout_ms in total. */
int vg_vq_wait_used(struct vg_dev *d, unsigned int idx, int timeout_ms,
		    uint32_t *len, void **cookie);
/* Suppress / request used-buffer notifications (flag or used_event). */
void vg_vq_disable_cb(struct vg_dev *d, unsigned int idx);
void vg_vq_enable_cb(struct vg_dev *d, unsigned int idx);
/*
 * Ask for a call: at the next used buffer, or with @delayed (EVENT_IDX)
 * only when 3/4 of what is in flight is used, as Linux virtio_net does for
 * Tx (virtqueue_enable_cb_delayed()).  Returns 1 if used buffers are
 * already past that point (no call will come for them: do not sleep), 0
 * when armed, -EINVAL.  vg_vq_disable_cb() disarms.
 */
int vg_vq_arm_cb(struct vg_dev *d, unsigned int idx, bool delayed);
/* Arm, wait up to @timeout_ms for the call (a timeout is 0), disarm. */
int vg_vq_wait_cb(struct vg_dev *d, unsigned int idx, int timeout_ms,
		  bool delayed);
unsigned int vg_vq_num_free(const struct vg_dev *d, unsigned int idx);

/* Raw ring access, for deliberately malformed chains. */
/*
 * Take @n descriptors off the free list for the caller to fill by hand
 * (they never come back); their indices go to @ids.
 */
int vg_vq_take_descs(struct vg_dev *d, unsigned int idx, unsigned int n,
		     uint16_t *ids);
/* Write avail->ring[avail_idx] = @head and publish avail_idx + 1. */
int vg_vq_publish_raw(struct vg_dev *d, unsigned int idx, uint16_t head);
/* Store @avail_idx as avail->idx as is (our private copy follows). */
int vg_vq_set_avail_idx_raw(struct vg_dev *d, unsigned int idx,
			    uint16_t avail_idx);
/* The device's used->idx as it is in memory now. */
uint16_t vg_vq_used_idx(const struct vg_dev *d, unsigned int idx);

/* ---- datapath: NIC binding and backends (vhost-accel) --------------- */

/* VHOST_ACCEL_SET_NIC; @ifindex 0 unbinds. */
int vg_set_nic(struct vg_dev *d, int ifindex, const uint8_t mac[6],
	       uint32_t flags);
int vg_clear_nic(struct vg_dev *d);
/* VHOST_NET_SET_BACKEND @fd on RX (vq 0) then TX (vq 1). */
int vg_backend_start(struct vg_dev *d, int fd);
/* VHOST_NET_SET_BACKEND -1 on both; returns the first error. */
int vg_backend_stop(struct vg_dev *d);
/* 12 (VERSION_1 or MRG_RXBUF) or 10: the virtio-net header vhost uses. */
unsigned int vg_net_hdr_len(uint64_t features);

/* ---- virtio-net guest ------------------------------------------------ */

/*
 * A user-space virtio-net driver on top of vg_dev: guest memory holding
 * both rings, optional indirect tables, an Rx buffer pool and a Tx slot
 * pool.  Rx buffers are either mergeable (one descriptor each, a page by
 * default) or "big" (one buffer holds a whole frame, split over several
 * descriptors, header first, like Linux virtio_net's big-packet mode).
 * Tx copies header + frame into a slot and describes it with the layout
 * the caller asks for.
 */

/* Largest Ethernet frame: 14-byte header + 65535 bytes (an IPv4 maximum). */
#define VG_NET_MAX_FRAME	(14 + 65535)
/* Most descriptors vg_net_tx() / an Rx buffer use for one chain. */
#define VG_NET_MAX_BUF_DESCS	1024

struct vg_net_cfg {
	uint64_t features;	/* SET_FEATURES value, used as is */
	unsigned int rx_num;	/* Rx ring size (0: 256) */
	unsigned int tx_num;	/* Tx ring size (0: 256) */
	/*
	 * bytes per Rx buffer, header included (0: 4096 with MRG_RXBUF,
	 * else header + VG_NET_MAX_FRAME)
	 */
	unsigned int rx_buf_len;
	/*
	 * descriptors per Rx buffer (0: 1 with MRG_RXBUF, else 1 + pages);
	 * with more than one, the header gets its own first descriptor
	 */
	unsigned int rx_buf_descs;
	unsigned int rx_bufs;	/* Rx buffers (0: as many as the ring holds) */
	bool rx_indirect;	/* post each Rx buffer through an indirect table */
	unsigned int tx_slot_len; /* bytes per Tx slot, header incl. (0: 2048) */
	unsigned int tx_slots;	/* Tx slots (0: tx_num) */
	unsigned int indirect_max; /* entries per indirect table (0: 64) */
	uint64_t gpa_base;	/* GPA of guest memory (0: 4 GiB) */
	unsigned int mem_flags;	/* VG_MEM_* */
	uint64_t extra_mem;	/* spare guest memory for vg_mem_alloc() */
};

struct vg_tx_layout {
	/*
	 * 0: header and frame share descriptors (any layout); n: the header
	 * alone in n descriptors (n <= header length)
	 */
	unsigned int hdr_descs;
	unsigned int data_descs; /* descriptors for the frame (0: 1) */
	bool indirect;		/* everything in one indirect table */
};

/* One received frame. */
struct vg_net_rx {
	struct virtio_net_hdr_mrg_rxbuf hdr; /* as written by the device */
	const uint8_t *data;	/* the frame, valid until the next rx_fill */
	uint32_t len;		/* frame bytes (header excluded) */
	unsigned int nbufs;	/* Rx buffers it took */
};

struct vg_net {
	bool opened;		/* vg_net_open() got as far as vg_open() */
	struct vg_dev d;
	struct vg_net_cfg cfg;
	unsigned int hdr_len;
	bool mrg;
	int backend_fd;		/* eventfd given to SET_BACKEND, or -1 */
	char err[160];		/* what the last -EIO was about */

	/* Rx pool: rx_nbufs buffers of rx_buf_len bytes, rx_stride apart */
	uint8_t *rx_pool;
	uint64_t rx_pool_gpa;
	unsigned int rx_nbufs, rx_buf_len, rx_buf_descs, rx_stride;
	uint32_t *rx_free;	/* stack of free buffer ids */
	unsigned int rx_nfree;
	uint8_t *rx_scratch;	/* frames spanning buffers/descriptors */

	/* Tx pool */
	uint8_t *tx_pool;
	uint64_t tx_pool_gpa;
	unsigned int tx_nslots, tx_slot_len, tx_stride;
	uint32_t *tx_free;
	unsigned int tx_nfree;

	/* counters, for the caller */
	uint64_t tx_queued, tx_completed, rx_frames, rx_bufs_used;

	/*
	 * Optional observer of every used Rx entry taken (buffer @id, @len
	 * bytes written by the device), set by the caller after vg_net_open().
	 */
	void (*rx_used_cb)(void *ctx, uint32_t id, uint32_t len);
	void *rx_used_ctx;
};

/*
 * Open @path, own it, negotiate cfg->features, lay out and register guest
 * memory (populated), set up both vrings.  On error everything is undone.
 */
int vg_net_open(struct vg_net *n, const char *path,
		const struct vg_net_cfg *cfg);
/* Close the device and free everything (safe on a zeroed struct). */
void vg_net_close(struct vg_net *n);
/* VHOST_ACCEL_SET_NIC. */
int vg_net_bind(struct vg_net *n, int ifindex, const uint8_t mac[6],
		uint32_t flags);
/* Start both queues with @fd as backend (-1: an eventfd of our own). */
int vg_net_start(struct vg_net *n, int fd);
int vg_net_stop(struct vg_net *n);

/* Post up to @max free Rx buffers (no kick); returns how many. */
int vg_net_rx_fill(struct vg_net *n, unsigned int max);
/* Kick the Rx queue if the device wants it; 1 kicked, 0 not. */
int vg_net_rx_kick(struct vg_net *n);
/* Buffers the device holds now. */
unsigned int vg_net_rx_posted(const struct vg_net *n);
/*
 * Take one received frame: 0, -EAGAIN (none), -EIO (the device broke the
 * protocol: n->err says how).  A frame's buffers go back to the free
 * pool at once; f->data stays valid until the next vg_net_rx_fill().
 */
int vg_net_rx_get(struct vg_net *n, struct vg_net_rx *f);
/* vg_net_rx_get, waiting up to @timeout_ms. */
int vg_net_rx_wait(struct vg_net *n, struct vg_net_rx *f, int timeout_ms);

/*
 * Queue one frame (@hdr NULL: all zero) with layout @lay (NULL: one
 * descriptor).  Returns the head, -ENOSPC (no slot or ring space: reap),
 * -EMSGSIZE (larger than a slot), -EINVAL (layout impossible).
 */
int vg_net_tx(struct vg_net *n, const struct virtio_net_hdr_mrg_rxbuf *hdr,
	      const void *frame, uint32_t len,
	      const struct vg_tx_layout *lay);
int vg_net_tx_kick(struct vg_net *n);
/* Reap every completed Tx chain; how many, or -EIO. */
int vg_net_tx_reap(struct vg_net *n);
/* Frames queued and not completed yet. */
unsigned int vg_net_tx_inflight(const struct vg_net *n);
/* Reap until nothing is in flight; -ETIMEDOUT after @timeout_ms. */
int vg_net_tx_drain(struct vg_net *n, int timeout_ms);

/*
 * Fast path (benchmarks, bulk tests).  Transmit @count copies of @frame
 * (@len bytes, no header), each in one descriptor, storing a 32-bit
 * little-endian counter @seq, @seq + 1, ... at @seq_off (VG_NO_SEQ: none);
 * kicks once per @batch frames (0: whenever the ring is full or @count is
 * reached) and reaps completions when out of space.  Returns @count, or
 * -errno (-ETIMEDOUT: no completion for @timeout_ms).  Does not wait for
 * the last completions (vg_net_tx_drain()).
 */
#define VG_NO_SEQ	((size_t)-1)
int vg_net_tx_burst(struct vg_net *n, const void *frame, uint32_t len,
		    uint32_t seq, size_t seq_off, unsigned int count,
		    unsigned int batch, int timeout_ms);
/*
 * Receive up to @max frames, handing each to @cb (may be NULL; a non-zero
 * return stops early and is returned), refilling and kicking the Rx ring
 * as buffers come back.  Stops when @max frames arrived or none arrived
 * for @idle_ms.  Returns 0, @cb's value or -errno (-EIO: see n->err);
 * *@got (may be NULL) is the number of frames received.
 */
typedef int (*vg_net_rx_cb)(void *ctx, const struct vg_net_rx *f);
int vg_net_rx_burst(struct vg_net *n, unsigned int max, int idle_ms,
		    vg_net_rx_cb cb, void *ctx, unsigned int *got);

/*
 * GPA of Rx buffer @id: its descriptors are laid out back to back from
 * there, so the device's first @len bytes are [gpa, gpa + len).
 */
uint64_t vg_net_rx_buf_gpa(const struct vg_net *n, uint32_t id);

/*
 * VHOST_SET_VRING_ADDR again with vq @idx's ring addresses, asking for
 * dirty logging of its used ring (VHOST_VRING_F_LOG, log_guest_addr =
 * used_gpa) or not, as QEMU does at migration start / end.
 */
int vg_vq_set_log(struct vg_dev *d, unsigned int idx, bool on);

/* ---- process helpers ------------------------------------------------- */

uint64_t vg_now_ms(void);
void vg_sleep_ms(unsigned int ms);
/* poll(2) @fd for POLLIN, again after EINTR: 0, -ETIMEDOUT or -errno. */
int vg_poll_in(int fd, int timeout_ms);
/*
 * VG_TIME_SCALE=N in the environment (an integer, 1..20; 1 when unset or
 * invalid): every "must happen within" bound of the tests is N times
 * longer.  A debug kernel (KASAN, lockdep) under TCG runs the same work
 * several times slower; scripts/check-debug.sh sets it.
 */
unsigned int vg_time_scale(void);
/* alarm(@s * vg_time_scale()), 0 stays 0: what vharness.h arms tests with */
unsigned int vg_harness_alarm(unsigned int s);
/* Value of "<key>:" in /proc/self/status, in kB (VmLck, VmPin, ...). */
int vg_proc_status_kb(const char *key, uint64_t *kb);
int vg_vmlck_kb(uint64_t *kb);
/* Remove @cap from the effective, permitted and inheritable sets. */
int vg_drop_cap(int cap);
/* 1 if @cap is in the effective set, 0 if not, -errno on error. */
int vg_have_cap(int cap);
/* Set soft and hard RLIMIT_MEMLOCK to @bytes. */
int vg_set_memlock(uint64_t bytes);
int vg_read_u64_file(const char *path, uint64_t *val);

/* Expected worker name for @owner: "vhost-accel-<pid>", not truncated. */
void vg_worker_comm(pid_t owner, char *buf, size_t len);
/* @comm (as read from /proc) is @name, or @name cut to 15 characters. */
bool vg_comm_matches(const char *comm, const char *name);
/*
 * Find kernel threads (PF_KTHREAD) whose name matches vg_worker_comm(@owner)
 * (see vg_comm_matches()).
 * Returns how many there are (> 0) and the pid of the first in @tid, or
 * -ENOENT if there is none.
 */
int vg_find_worker(pid_t owner, pid_t *tid);
/* Comm of task @tid and whether it is a kernel thread; -ENOENT if gone. */
int vg_task_comm(pid_t tid, char *buf, size_t len, bool *is_kthread);

/* /dev/kmsg from its end: what the kernel logs from now on (fd or -1). */
int vg_kmsg_open(void);
/*
 * Kernel log records read from @fd since the last call whose text contains
 * @tag; the text of the last one in @last (@len bytes; none if @len is 0).
 * With @echo, each is also printed as a TAP comment.
 */
int vg_kmsg_count(int fd, const char *tag, char *last, size_t len,
		  bool echo);

/*
 * The debugfs stats file (/sys/kernel/debug/vhost-accel/<id>/stats) of the
 * device owned by @pid, its text in @buf: 1 when found, 0 when not,
 * -errno when debugfs has no vhost-accel directory.
 */
int vg_debugfs_stats(pid_t pid, char *buf, size_t size);
/* The counter @key ("tx_kicks"...) of that file: 0, or -ENOENT. */
int vg_debugfs_counter(pid_t pid, const char *key, uint64_t *val);

/* ---- traffic engine (vguest_traffic.c) ------------------------------- */

/*
 * The far end of a guest's queues, one thread each way.  A sender puts
 * copies of a template frame on an AF_PACKET socket, each numbered with a
 * little-endian 32-bit counter; a reader takes frames off a socket and
 * hands each to a check.  Set the fields marked "in", then start; the
 * counters may be read while the thread runs; stop sets @stop and joins.
 * A frame is counted in @sent once the socket took it: what becomes of it
 * after that is the guest side's to check.  Hooks left NULL and flags
 * left false keep the plain behaviour.
 */
struct vg_sender {
	/* in */
	int fd;			/* AF_PACKET socket, bound */
	int ifindex;		/* destination device */
	uint16_t proto;		/* sll_protocol (host order), 0: none */
	const uint8_t *dst_mac;	/* sll_addr, NULL: none */
	const void *tmpl;	/* the frame */
	size_t len;
	int seq_off;		/* where the counter goes, < 0: not numbered */
	uint32_t seq;		/* the first frame's number */
	uint64_t count;		/* frames to offer, 0: until stopped */
	unsigned int batch;	/* frames per sendmmsg(), 1..64 */
	unsigned int pps;	/* offered load, 0: as fast as it goes */
	bool retry;		/* refused frames are offered again */
	bool keep_going;	/* a failed send is counted, not the end */
	/* builds frame @seq in @f (@len bytes) instead of the template */
	void (*fill)(void *ctx, uint8_t *f, size_t len, uint32_t seq);
	/* frames that may go now, @sent so far (0: wait); NULL: no limit */
	unsigned int (*pace)(void *ctx, uint64_t sent);
	void *ctx;		/* fill's and pace's */
	/* out */
	atomic_uint_fast64_t sent;	/* frames the socket took */
	atomic_uint_fast64_t refused;	/* not taken and not retried */
	atomic_uint_fast64_t busy;	/* sendmmsg() calls that took none */
	atomic_uint_fast64_t failed;	/* sendmmsg() calls that failed */
	atomic_uint_fast64_t cut;	/* calls that took some, not all */
	atomic_bool stop;
	int err;		/* -errno that ended the thread, 0 */
	pthread_t th;
	bool running;
};
int vg_sender_start(struct vg_sender *s);
void vg_sender_stop(struct vg_sender *s);

struct vg_reader {
	/* in */
	int fd;			/* AF_PACKET socket, bound */
	size_t cap;		/* bytes kept per frame, 0: 2048 */
	/* 0: counted in @good; < 0: in @bad; > 0: not ours, not counted */
	int (*check)(void *ctx, const uint8_t *f, size_t len);
	void *ctx;		/* the check's, touched by the thread only */
	uint64_t count;		/* stop after this many good, 0: when stopped */
	unsigned int idle_ms;	/* nothing for so long: -ETIMEDOUT; 0: wait */
	bool skip_outgoing;	/* frames this host sent are not checked */
	bool down_ok;		/* ENETDOWN on receive: nothing came */
	/* out */
	atomic_uint_fast64_t good, bad;
	atomic_bool stop;
	int err;		/* -errno that ended the thread, 0 */
	pthread_t th;
	bool running;
};
int vg_reader_start(struct vg_reader *rd);
void vg_reader_stop(struct vg_reader *rd);
/*
 * With the thread stopped: take what @rd's socket holds now, as the
 * thread would; how many frames were checked, or -errno.
 */
int vg_reader_poll(struct vg_reader *rd);
/* Discard what @fd receives until it stayed empty for @quiet_ms. */
void vg_traffic_drain(int fd, unsigned int quiet_ms);

/*
 * @f (@len bytes) is the template @tmpl (@tmpl_len bytes) with a counter
 * at @seq_off: 0 and the counter in *@seq, -EMSGSIZE for another length,
 * -EBADMSG for other bytes.
 */
int vg_frame_seq_check(const uint8_t *tmpl, size_t tmpl_len, size_t seq_off,
		       const uint8_t *f, size_t len, uint32_t *seq);

#endif /* VGUEST_H */
