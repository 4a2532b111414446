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
 */
#ifndef VGUEST_H
#define VGUEST_H

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

struct vg_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	uint64_t used;		/* bytes handed out by vg_mem_alloc() */
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
	struct vring_desc *indirect;	/* VG_INDIRECT_MAX entries per head */
	uint64_t indirect_gpa;
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
unsigned int vg_vq_num_free(const struct vg_dev *d, unsigned int idx);

/* ---- process helpers ------------------------------------------------- */

uint64_t vg_now_ms(void);
void vg_sleep_ms(unsigned int ms);
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

#endif /* VGUEST_H */
