// SPDX-License-Identifier: GPL-2.0
/*
 * Differential test: the same ioctl sequences against /dev/vhost-net and
 * /dev/vhost-accel must give identical results (return codes, and the
 * values of GET_VRING_BASE / GET_VRING_BUSYLOOP_TIMEOUT).
 *
 * Every argument vhost-net takes must be taken (Documentation/
 * control-plane.rst, "Compared with vhost-net"): memory tables of any
 * alignment (a malloc'd buffer), overlapping regions, rings anywhere in
 * user memory, unknown ioctls that read a queue index first.  Where
 * vhost-accel is documented as stricter (a memory table over memory that
 * cannot be pinned: unmapped, not user memory, a shared file mapping) or
 * different (features offered, backend fds), the cases live in the other
 * binaries.
 *
 * Each step's "want" is what vhost-net (6.1) is expected to return; it is
 * only reported, never asserted: the assertion is net == accel.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "vtest.h"

#define MEM_SIZE	(256 * 1024)
#define NUM		64

enum {
	OP_END = 0,
	OP_SET_OWNER,
	OP_RESET_OWNER,
	OP_GET_FEATURES,
	OP_SET_FEATURES,		/* a: features */
	OP_GET_BACKEND_FEATURES,
	OP_SET_BACKEND_FEATURES,	/* a: features */
	OP_MEM_TABLE,			/* a: MT_* */
	OP_VRING_NUM,			/* idx, a: num */
	OP_VRING_BASE,			/* idx, a: num */
	OP_GET_VRING_BASE,		/* idx; value compared */
	OP_VRING_ADDR,			/* idx, a: AD_* */
	OP_VRING_KICK,			/* idx, a: FD_* */
	OP_VRING_CALL,			/* idx, a: FD_* */
	OP_VRING_ERR,			/* idx, a: FD_* */
	OP_LOG_BASE,
	OP_LOG_FD,			/* a: FD_* */
	OP_SET_BUSYLOOP,		/* idx, a: timeout */
	OP_GET_BUSYLOOP,		/* idx; value compared */
	OP_SET_BACKEND,			/* idx, a: FD_* (UNBIND only here) */
	OP_UNKNOWN,			/* unknown ioctl, arg {idx, 0} */
	OP_NULL_ARG,			/* a: ioctl request, NULL argument */
	OP_VRING_IOCTL,			/* a: ioctl request, arg {idx, 0} */
};

static const char * const op_names[] = {
	"END", "SET_OWNER", "RESET_OWNER", "GET_FEATURES", "SET_FEATURES",
	"GET_BACKEND_FEATURES", "SET_BACKEND_FEATURES", "SET_MEM_TABLE",
	"SET_VRING_NUM", "SET_VRING_BASE", "GET_VRING_BASE",
	"SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL",
	"SET_VRING_ERR", "SET_LOG_BASE", "SET_LOG_FD", "SET_BUSYLOOP",
	"GET_BUSYLOOP", "NET_SET_BACKEND", "UNKNOWN", "NULL_ARG",
	"VRING_IOCTL",
};

enum {
	MT_VALID, MT_EMPTY, MT_PADDING, MT_TOO_MANY, MT_NULL, MT_KERNEL,
	MT_MALLOC,		/* a malloc'd buffer: user address mid-page */
	MT_ODD_GPA,		/* gpa and user address at the same odd offset */
	MT_ODD_UADDR,		/* page-aligned gpa, user address mid-page */
	MT_ODD_SIZE,		/* a size that is no multiple of the page */
	MT_SHARE_PAGE,		/* two regions, one page between them */
	MT_OVERLAP,		/* gpa ranges overlapping partly and wholly */
	MT_OVERLAP_SAME,	/* the same region twice */
	MT_ZERO_GPA0,		/* size 0 at gpa 0: vhost-net takes it */
	MT_ZERO,		/* size 0 elsewhere */
	MT_GPA_WRAP,		/* gpa range past 2^64 */
	MT_GPA_TOP,		/* gpa range ending at 2^64 - 1 */
	MT_REGION_FLAGS,	/* a region's flags_padding set: ignored */
};
enum {
	AD_VALID, AD_LOG, AD_BAD_FLAGS, AD_AVAIL_ODD, AD_USED_2, AD_LOG_ODD,
	AD_DESC_ODD,		/* descriptor table 8-byte aligned only */
	AD_OUTSIDE,		/* rings in memory outside the table */
	AD_KERNEL,		/* rings at a kernel address */
};
enum { LB_VALID, LB_ODD, LB_KERNEL };
/*
 * Fds for the steps.  FD_TAP (a tap with a vnet header, down) and
 * FD_PACKET (an AF_PACKET raw socket bound to no protocol) are backends
 * vhost-net takes; no frame moves through either.
 */
enum {
	FD_EVENTFD, FD_UNBIND, FD_PIPE, FD_CLOSED, FD_NEG2,
	FD_TAP, FD_PACKET, FD_UDP,
};

struct step {
	int op;
	unsigned int idx;
	uint64_t a;
	bool child;	/* run in a forked child (not the owner's mm) */
	int want;	/* vhost-net's expected return, for the report */
};

#define ST(_op, ...)	{ .op = OP_##_op, __VA_ARGS__ }
#define END		{ .op = OP_END }

struct result {
	int rc;
	uint64_t val;
};

struct ctx {
	struct vg_dev d;
	int efd;
	int pipefd[2];
	int tapfd, packetfd, udpfd;
	uint64_t log[64];
	uintptr_t desc, avail, used;
	char *heap;		/* HEAP_SIZE bytes of malloc */
	char *outside;		/* mapped, never in a table */
};

#define HEAP_SIZE	(100 * 1000)
#define OUTSIDE_SIZE	(64 * 1024)

static int ctx_open(struct ctx *c, const char *path)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->efd = -1;
	c->pipefd[0] = c->pipefd[1] = -1;
	/* as QEMU opens one: a 12-byte vnet header */
	c->tapfd = vt_tap_open("vgcmp", 12, NULL, 0);
	c->packetfd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	c->udpfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->tapfd < 0 || c->packetfd < 0 || c->udpfd < 0)
		return c->tapfd < 0 ? c->tapfd : -errno;
	r = vg_open(&c->d, path);
	if (r)
		return r;
	r = vg_mem_init(&c->d, MEM_SIZE);
	if (r)
		return r;
	c->desc = (uintptr_t)c->d.region[0].hva + 0x1000;
	c->avail = c->desc + vg_vring_desc_size(NUM);
	c->used = (uintptr_t)c->d.region[0].hva + 0x3000;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0 || pipe(c->pipefd))
		return -errno;
	c->heap = malloc(HEAP_SIZE);
	c->outside = mmap(NULL, OUTSIDE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!c->heap || c->outside == MAP_FAILED) {
		c->outside = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void ctx_close(struct ctx *c)
{
	vg_close(&c->d);
	if (c->tapfd >= 0)
		close(c->tapfd);
	if (c->packetfd >= 0)
		close(c->packetfd);
	if (c->udpfd >= 0)
		close(c->udpfd);
	if (c->efd >= 0)
		close(c->efd);
	if (c->pipefd[0] >= 0)
		close(c->pipefd[0]);
	if (c->pipefd[1] >= 0)
		close(c->pipefd[1]);
	free(c->heap);
	if (c->outside)
		munmap(c->outside, OUTSIDE_SIZE);
}

static int pick_fd(struct ctx *c, uint64_t kind)
{
	switch (kind) {
	case FD_EVENTFD:
		return c->efd;
	case FD_UNBIND:
		return VHOST_FILE_UNBIND;
	case FD_PIPE:
		return c->pipefd[0];
	case FD_CLOSED:
		return vt_closed_fd();
	case FD_TAP:
		return c->tapfd;
	case FD_PACKET:
		return c->packetfd;
	case FD_UDP:
		return c->udpfd;
	default:
		return -2;
	}
}

static struct vhost_memory_region mr(uint64_t gpa, uint64_t size,
				     uintptr_t uaddr)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return r;
}

/* The tables that are no single aligned region: all taken by vhost-net. */
static int do_odd_table(struct ctx *c, uint64_t kind)
{
	uintptr_t hva = (uintptr_t)c->d.region[0].hva;
	/* a heap pointer is 16-byte aligned: make sure it is not more */
	uintptr_t heap = (uintptr_t)c->heap + 16 * !((uintptr_t)c->heap & 0xff0);
	struct vhost_memory_region r[3];
	unsigned int n = 1;

	switch (kind) {
	case MT_MALLOC:
		r[0] = mr(0x100000, HEAP_SIZE - 16, heap);
		break;
	case MT_ODD_GPA:
		r[0] = mr(0x1234, MEM_SIZE - 0x1234, hva + 0x1234);
		break;
	case MT_ODD_UADDR:
		r[0] = mr(0, MEM_SIZE - 0x1000, hva + 0x830);
		break;
	case MT_ODD_SIZE:
		r[0] = mr(0, MEM_SIZE - 0x123, hva);
		break;
	case MT_SHARE_PAGE:
		r[0] = mr(0, 0x1800, hva);
		r[1] = mr(0x1800, MEM_SIZE - 0x1800, hva + 0x1800);
		r[2] = mr(0x100000, 0x800, hva + 0x1400);
		n = 3;
		break;
	case MT_OVERLAP:
		r[0] = mr(0, MEM_SIZE, hva);
		r[1] = mr(0x10000, 0x10000, hva + 0x20000);
		r[2] = mr(MEM_SIZE - 0x1000, 0x3000, hva + 0x1000);
		n = 3;
		break;
	case MT_OVERLAP_SAME:
		r[0] = mr(0, MEM_SIZE, hva);
		r[1] = r[0];
		n = 2;
		break;
	case MT_ZERO_GPA0:
		r[0] = mr(0, 0, hva);
		r[1] = mr(0, MEM_SIZE, hva);
		n = 2;
		break;
	case MT_ZERO:
		r[0] = mr(0, MEM_SIZE, hva);
		r[1] = mr(0x100000, 0, hva);
		n = 2;
		break;
	case MT_GPA_WRAP:
		r[0] = mr(~0ULL - 0xfff, 0x2000, hva);
		break;
	case MT_GPA_TOP:
		r[0] = mr(~0ULL - 0x1fff, 0x2000, hva);
		break;
	default:	/* MT_REGION_FLAGS */
		r[0] = mr(0, MEM_SIZE, hva);
		r[0].flags_padding = 1;
		break;
	}
	return vg_set_mem_table_raw(c->d.fd, r, n, 0);
}

static int do_mem_table(struct ctx *c, uint64_t kind)
{
	struct vhost_memory hdr = { .nregions = 65536 };
	struct vhost_memory_region r = mr(0, MEM_SIZE,
					  (uintptr_t)c->d.region[0].hva);

	if (kind >= MT_MALLOC)
		return do_odd_table(c, kind);
	switch (kind) {
	case MT_VALID:
		return vg_set_mem_table_raw(c->d.fd, &r, 1, 0);
	case MT_EMPTY:
		return vg_set_mem_table_raw(c->d.fd, NULL, 0, 0);
	case MT_PADDING:
		return vg_set_mem_table_raw(c->d.fd, &r, 1, 1);
	case MT_TOO_MANY:
		return vg_ioctl(&c->d, VHOST_SET_MEM_TABLE, &hdr);
	case MT_KERNEL:
		return vg_ioctl(&c->d, VHOST_SET_MEM_TABLE,
				(void *)(uintptr_t)VT_KERNEL_ADDR);
	default:
		return vg_ioctl(&c->d, VHOST_SET_MEM_TABLE, NULL);
	}
}

static int do_vring_addr(struct ctx *c, unsigned int idx, uint64_t kind)
{
	/* each vq its own rings */
	uintptr_t off = (idx & 1) * 0x8000;
	uintptr_t desc = c->desc + off, avail = c->avail + off;
	uintptr_t used = c->used + off;
	uint64_t log = 0;
	unsigned int flags = 0;

	switch (kind) {
	case AD_LOG:
		flags = 1U << VHOST_VRING_F_LOG;
		log = 0x3000 + off;
		break;
	case AD_BAD_FLAGS:
		flags = 0x2;
		break;
	case AD_AVAIL_ODD:
		avail += 1;
		break;
	case AD_USED_2:
		used += 2;
		break;
	case AD_LOG_ODD:
		flags = 1U << VHOST_VRING_F_LOG;
		log = 0x3002 + off;
		break;
	case AD_DESC_ODD:
		desc += 8;
		break;
	case AD_OUTSIDE:
		desc = (uintptr_t)c->outside + off / 2;
		avail = desc + 0x1000;
		used = desc + 0x2000;
		break;
	case AD_KERNEL:
		desc = VT_KERNEL_ADDR + off;
		avail = desc + 0x1000;
		used = desc + 0x2000;
		break;
	}
	return vg_set_vring_addr(&c->d, idx, desc, avail, used, log, flags);
}

static struct result run_step(struct ctx *c, const struct step *s)
{
	struct vhost_vring_state st = { .index = s->idx, .num = 0 };
	struct result res = { 0, 0 };
	unsigned int v = 0;
	uint64_t f = 0;

	switch (s->op) {
	case OP_SET_OWNER:
		res.rc = vg_set_owner(&c->d);
		break;
	case OP_RESET_OWNER:
		res.rc = vg_reset_owner(&c->d);
		break;
	case OP_GET_FEATURES:
		res.rc = vg_get_features(&c->d, &f);
		break;
	case OP_SET_FEATURES:
		res.rc = vg_set_features(&c->d, s->a);
		break;
	case OP_GET_BACKEND_FEATURES:
		res.rc = vg_get_backend_features(&c->d, &f);
		res.val = f;	/* the same bits: there is one to offer */
		break;
	case OP_SET_BACKEND_FEATURES:
		res.rc = vg_set_backend_features(&c->d, s->a);
		break;
	case OP_MEM_TABLE:
		res.rc = do_mem_table(c, s->a);
		break;
	case OP_VRING_NUM:
		res.rc = vg_set_vring_num(&c->d, s->idx, (unsigned int)s->a);
		break;
	case OP_VRING_BASE:
		res.rc = vg_set_vring_base(&c->d, s->idx, (unsigned int)s->a);
		break;
	case OP_GET_VRING_BASE:
		res.rc = vg_get_vring_base(&c->d, s->idx, &v);
		res.val = v;
		break;
	case OP_VRING_ADDR:
		res.rc = do_vring_addr(c, s->idx, s->a);
		break;
	case OP_VRING_KICK:
		res.rc = vg_set_vring_kick(&c->d, s->idx, pick_fd(c, s->a));
		break;
	case OP_VRING_CALL:
		res.rc = vg_set_vring_call(&c->d, s->idx, pick_fd(c, s->a));
		break;
	case OP_VRING_ERR:
		res.rc = vg_set_vring_err(&c->d, s->idx, pick_fd(c, s->a));
		break;
	case OP_LOG_BASE:
		res.rc = vg_set_log_base(&c->d, s->a == LB_VALID ?
					 (uintptr_t)c->log :
					 s->a == LB_ODD ?
					 (uintptr_t)c->log + 3 : VT_KERNEL_ADDR);
		break;
	case OP_LOG_FD:
		res.rc = vg_set_log_fd(&c->d, pick_fd(c, s->a));
		break;
	case OP_SET_BUSYLOOP:
		res.rc = vg_set_vring_busyloop(&c->d, s->idx,
					       (unsigned int)s->a);
		break;
	case OP_GET_BUSYLOOP:
		res.rc = vg_get_vring_busyloop(&c->d, s->idx, &v);
		res.val = v;
		break;
	case OP_SET_BACKEND:
		res.rc = vg_set_backend(&c->d, s->idx, pick_fd(c, s->a));
		break;
	case OP_UNKNOWN:
		res.rc = vg_ioctl(&c->d, VT_UNKNOWN_IOCTL, &st);
		break;
	case OP_NULL_ARG:
		res.rc = vg_ioctl(&c->d, (unsigned long)s->a, NULL);
		break;
	case OP_VRING_IOCTL:
		res.rc = vg_ioctl(&c->d, (unsigned long)s->a, &st);
		break;
	default:
		res.rc = -EINVAL;
	}
	return res;
}

struct step_child {
	struct ctx *c;
	const struct step *s;
	struct result *shm;
};

static int step_child_fn(void *arg)
{
	struct step_child *sc = arg;

	*sc->shm = run_step(sc->c, sc->s);
	return 0;
}

/* Run @s in a forked child sharing the fd; the result comes back in @shm. */
static struct result run_step_child(struct ctx *c, const struct step *s,
				    struct result *shm)
{
	struct result res = { -ECHILD, 0 };
	struct step_child sc = { c, s, shm };

	if (vt_run_child(step_child_fn, &sc))
		return res;
	return *shm;
}

static int run_scenario(const char *path, const struct step *steps,
			struct result *out, unsigned int *n)
{
	struct result *shm;
	struct ctx c;
	unsigned int i;
	int r;

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return -errno;
	r = ctx_open(&c, path);
	if (r) {
		ctx_close(&c);
		munmap(shm, sizeof(*shm));
		return r;
	}
	for (i = 0; steps[i].op != OP_END; i++)
		out[i] = steps[i].child ? run_step_child(&c, &steps[i], shm) :
					  run_step(&c, &steps[i]);
	*n = i;
	ctx_close(&c);
	munmap(shm, sizeof(*shm));
	return 0;
}

#define MAX_STEPS	64

FIXTURE(compat) {
	bool ready;
};

FIXTURE_VARIANT(compat) {
	const struct step *steps;
};

FIXTURE_SETUP(compat)
{
	struct vg_dev d;

	if (access(VG_DEV_NET, F_OK))
		VT_SETUP_SKIP("%s not present", VG_DEV_NET);
	VT_OPEN_DUT(&d);
	vg_close(&d);
	self->ready = true;
}

FIXTURE_TEARDOWN(compat)
{
}

TEST_F(compat, identical)
{
	struct result net[MAX_STEPS], acc[MAX_STEPS];
	unsigned int n_net = 0, n_acc = 0, i;
	const struct step *st = variant->steps;
	int r;

	VT_SKIPPED();
	ASSERT_TRUE(self->ready);
	r = run_scenario(VG_DEV_NET, st, net, &n_net);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", VG_DEV_NET, strerror(-r));
	r = run_scenario(vt_dut(), st, acc, &n_acc);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", vt_dut(), strerror(-r));
	ASSERT_EQ(n_net, n_acc);
	ASSERT_GT(MAX_STEPS, n_net);

	for (i = 0; i < n_net; i++) {
		const struct step *s = &st[i];

		if (net[i].rc != s->want)
			TH_LOG("note: step %u %s%s: vhost-net %d, table says %d",
			       i, op_names[s->op], s->child ? " (child)" : "",
			       net[i].rc, s->want);
		EXPECT_EQ(net[i].rc, acc[i].rc)
			TH_LOG("step %u %s%s idx %u a 0x%llx: vhost-net %d (%s), vhost-accel %d (%s)",
			       i, op_names[s->op], s->child ? " (child)" : "",
			       s->idx, (unsigned long long)s->a,
			       net[i].rc, strerror(-net[i].rc),
			       acc[i].rc, strerror(-acc[i].rc));
		EXPECT_EQ(net[i].val, acc[i].val)
			TH_LOG("step %u %s: vhost-net value %llu, vhost-accel %llu",
			       i, op_names[s->op],
			       (unsigned long long)net[i].val,
			       (unsigned long long)acc[i].val);
	}
}

/* ---- the sequences --------------------------------------------------- */

#define F_V1	VG_FBIT(VIRTIO_F_VERSION_1)
#define F_COMMON (F_V1 | VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |		\
		  VG_FBIT(VIRTIO_RING_F_INDIRECT_DESC) |		\
		  VG_FBIT(VIRTIO_NET_F_MRG_RXBUF) |			\
		  VG_FBIT(VHOST_NET_F_VIRTIO_NET_HDR))

FIXTURE_VARIANT_ADD(compat, pre_owner_allowed) {
	.steps = (const struct step[]) {
		ST(GET_FEATURES),
		ST(SET_FEATURES, .a = F_V1),
		ST(SET_FEATURES, .a = F_COMMON),
		ST(SET_FEATURES, .a = 0),
		ST(GET_BACKEND_FEATURES),
		ST(SET_BACKEND_FEATURES, .a = 0),
		ST(SET_OWNER),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, pre_owner_eperm) {
	.steps = (const struct step[]) {
		ST(MEM_TABLE, .a = MT_VALID, .want = -EPERM),
		ST(MEM_TABLE, .a = MT_EMPTY, .want = -EPERM),
		ST(VRING_NUM, .idx = 0, .a = NUM, .want = -EPERM),
		ST(VRING_NUM, .idx = 7, .a = NUM, .want = -EPERM),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID, .want = -EPERM),
		ST(VRING_BASE, .idx = 1, .a = 0, .want = -EPERM),
		ST(GET_VRING_BASE, .idx = 1, .want = -EPERM),
		ST(VRING_KICK, .idx = 0, .a = FD_EVENTFD, .want = -EPERM),
		ST(VRING_CALL, .idx = 0, .a = FD_UNBIND, .want = -EPERM),
		ST(VRING_ERR, .idx = 1, .a = FD_EVENTFD, .want = -EPERM),
		ST(LOG_BASE, .want = -EPERM),
		ST(LOG_FD, .a = FD_EVENTFD, .want = -EPERM),
		ST(SET_BUSYLOOP, .idx = 0, .a = 5, .want = -EPERM),
		ST(GET_BUSYLOOP, .idx = 0, .want = -EPERM),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND, .want = -EPERM),
		ST(SET_BACKEND, .idx = 5, .a = FD_UNBIND, .want = -EPERM),
		ST(RESET_OWNER, .want = -EPERM),
		END,
	},
};

/* vhost-net checks ownership before it knows the ioctl. */
FIXTURE_VARIANT_ADD(compat, pre_owner_unknown_ioctl) {
	.steps = (const struct step[]) {
		ST(UNKNOWN, .want = -EPERM),
		ST(SET_OWNER),
		ST(UNKNOWN, .want = -ENOTTY),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, owner_twice) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(SET_OWNER, .want = -EBUSY),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, child_not_owner) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(VRING_BASE, .idx = 0, .a = 3),
		ST(VRING_NUM, .idx = 0, .a = NUM, .child = true,
		   .want = -EPERM),
		ST(GET_VRING_BASE, .idx = 0, .child = true, .want = -EPERM),
		ST(MEM_TABLE, .a = MT_VALID, .child = true, .want = -EPERM),
		ST(VRING_KICK, .idx = 1, .a = FD_EVENTFD, .child = true,
		   .want = -EPERM),
		ST(LOG_FD, .a = FD_UNBIND, .child = true, .want = -EPERM),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND, .child = true,
		   .want = -EPERM),
		ST(RESET_OWNER, .child = true, .want = -EPERM),
		ST(SET_OWNER, .child = true, .want = -EBUSY),
		ST(GET_FEATURES, .child = true),
		ST(SET_FEATURES, .a = F_V1, .child = true),
		ST(GET_VRING_BASE, .idx = 0),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, child_becomes_owner) {
	.steps = (const struct step[]) {
		ST(SET_OWNER, .child = true),
		/* the child has exited; its mm still owns the device */
		ST(SET_OWNER, .want = -EBUSY),
		ST(VRING_NUM, .idx = 0, .a = NUM, .want = -EPERM),
		ST(RESET_OWNER, .want = -EPERM),
		ST(GET_FEATURES),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, reset_owner) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_BASE, .idx = 0, .a = 7),
		ST(SET_BUSYLOOP, .idx = 1, .a = 9),
		ST(VRING_KICK, .idx = 0, .a = FD_EVENTFD),
		ST(LOG_FD, .a = FD_EVENTFD),
		ST(RESET_OWNER),
		ST(GET_VRING_BASE, .idx = 0, .want = -EPERM),
		ST(RESET_OWNER, .want = -EPERM),
		ST(SET_OWNER),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_BUSYLOOP, .idx = 1),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(RESET_OWNER),
		ST(SET_OWNER),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, mem_table) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_EMPTY),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(MEM_TABLE, .a = MT_PADDING, .want = -EOPNOTSUPP),
		ST(MEM_TABLE, .a = MT_TOO_MANY, .want = -E2BIG),
		ST(MEM_TABLE, .a = MT_NULL, .want = -EFAULT),
		ST(MEM_TABLE, .a = MT_KERNEL, .want = -EFAULT),
		ST(MEM_TABLE, .a = MT_EMPTY),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, vring_num) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(VRING_NUM, .idx = 0, .a = 1),
		ST(VRING_NUM, .idx = 0, .a = 32768),
		ST(VRING_NUM, .idx = 1, .a = 256),
		ST(VRING_NUM, .idx = 0, .a = 0, .want = -EINVAL),
		ST(VRING_NUM, .idx = 0, .a = 3, .want = -EINVAL),
		ST(VRING_NUM, .idx = 1, .a = 1000, .want = -EINVAL),
		ST(VRING_NUM, .idx = 0, .a = 65535, .want = -EINVAL),
		ST(VRING_NUM, .idx = 0, .a = 65536, .want = -EINVAL),
		ST(VRING_NUM, .idx = 1, .a = 0x80000000, .want = -EINVAL),
		ST(VRING_NUM, .idx = 2, .a = 256, .want = -ENOBUFS),
		ST(VRING_NUM, .idx = 0xffffffff, .a = 256, .want = -ENOBUFS),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, vring_base) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_VRING_BASE, .idx = 1),
		ST(VRING_BASE, .idx = 0, .a = 0x1234),
		ST(VRING_BASE, .idx = 1, .a = 0xffff),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_VRING_BASE, .idx = 1),
		ST(VRING_BASE, .idx = 0, .a = 0x10000, .want = -EINVAL),
		ST(GET_VRING_BASE, .idx = 0),
		ST(VRING_BASE, .idx = 2, .a = 1, .want = -ENOBUFS),
		ST(GET_VRING_BASE, .idx = 2, .want = -ENOBUFS),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, vring_addr) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID),
		ST(VRING_ADDR, .idx = 0, .a = AD_LOG),
		ST(VRING_ADDR, .idx = 0, .a = AD_BAD_FLAGS,
		   .want = -EOPNOTSUPP),
		ST(VRING_ADDR, .idx = 0, .a = AD_AVAIL_ODD, .want = -EINVAL),
		ST(VRING_ADDR, .idx = 0, .a = AD_USED_2, .want = -EINVAL),
		ST(VRING_ADDR, .idx = 0, .a = AD_LOG_ODD, .want = -EINVAL),
		ST(VRING_ADDR, .idx = 2, .a = AD_VALID, .want = -ENOBUFS),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, vring_addr_no_table) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(VRING_NUM, .idx = 1, .a = NUM),
		ST(VRING_ADDR, .idx = 1, .a = AD_VALID),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, vring_files) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(VRING_KICK, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_KICK, .idx = 0, .a = FD_UNBIND),
		ST(VRING_KICK, .idx = 0, .a = FD_PIPE, .want = -EINVAL),
		ST(VRING_KICK, .idx = 0, .a = FD_CLOSED, .want = -EBADF),
		ST(VRING_KICK, .idx = 0, .a = FD_NEG2, .want = -EBADF),
		ST(VRING_CALL, .idx = 1, .a = FD_EVENTFD),
		ST(VRING_CALL, .idx = 1, .a = FD_UNBIND),
		ST(VRING_CALL, .idx = 1, .a = FD_PIPE, .want = -EINVAL),
		ST(VRING_CALL, .idx = 1, .a = FD_CLOSED, .want = -EBADF),
		ST(VRING_ERR, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_ERR, .idx = 0, .a = FD_UNBIND),
		ST(VRING_ERR, .idx = 0, .a = FD_PIPE, .want = -EINVAL),
		ST(VRING_ERR, .idx = 0, .a = FD_CLOSED, .want = -EBADF),
		ST(VRING_KICK, .idx = 2, .a = FD_EVENTFD, .want = -ENOBUFS),
		ST(VRING_CALL, .idx = 2, .a = FD_UNBIND, .want = -ENOBUFS),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, log) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(LOG_BASE),
		ST(LOG_FD, .a = FD_EVENTFD),
		ST(LOG_FD, .a = FD_UNBIND),
		ST(LOG_FD, .a = FD_PIPE, .want = -EINVAL),
		ST(LOG_FD, .a = FD_CLOSED, .want = -EBADF),
		ST(SET_FEATURES, .a = F_V1 | VG_FBIT(VHOST_F_LOG_ALL)),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, busyloop) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(GET_BUSYLOOP, .idx = 0),
		ST(SET_BUSYLOOP, .idx = 0, .a = 100),
		ST(SET_BUSYLOOP, .idx = 1, .a = 50),
		ST(GET_BUSYLOOP, .idx = 0),
		ST(GET_BUSYLOOP, .idx = 1),
		ST(SET_BUSYLOOP, .idx = 2, .a = 1, .want = -ENOBUFS),
		ST(GET_BUSYLOOP, .idx = 2, .want = -ENOBUFS),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, backend_unbind) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 2, .a = FD_UNBIND, .want = -ENOBUFS),
		/* vhost-net: not a socket it knows, -ENOTSOCK (not -EBADF) */
		ST(SET_BACKEND, .idx = 0, .a = FD_CLOSED, .want = -ENOTSOCK),
		END,
	},
};

/* vhost-net: no memory table yet means the vq "is not accessible". */
FIXTURE_VARIANT_ADD(compat, backend_unbind_no_table) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND, .want = -EFAULT),
		ST(MEM_TABLE, .a = MT_EMPTY),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, features) {
	.steps = (const struct step[]) {
		ST(SET_FEATURES, .a = VG_FBIT(63), .want = -EOPNOTSUPP),
		ST(SET_FEATURES, .a = VG_FBIT(VIRTIO_F_RING_PACKED),
		   .want = -EOPNOTSUPP),
		ST(SET_FEATURES, .a = ~0ULL, .want = -EOPNOTSUPP),
		ST(SET_BACKEND_FEATURES, .a = VG_FBIT(63),
		   .want = -EOPNOTSUPP),
		ST(SET_OWNER),
		ST(SET_FEATURES, .a = F_COMMON),
		ST(SET_FEATURES, .a = VG_FBIT(63), .want = -EOPNOTSUPP),
		ST(SET_BACKEND_FEATURES, .a = 0),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, unknown_ioctl) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(UNKNOWN, .idx = 0, .want = -ENOTTY),
		ST(UNKNOWN, .idx = 1, .want = -ENOTTY),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, null_args) {
	.steps = (const struct step[]) {
		ST(NULL_ARG, .a = VHOST_GET_FEATURES, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_FEATURES, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_NET_SET_BACKEND, .want = -EFAULT),
		ST(SET_OWNER),
		ST(NULL_ARG, .a = VHOST_SET_MEM_TABLE, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_VRING_NUM, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_GET_VRING_BASE, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_VRING_ADDR, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_VRING_KICK, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_LOG_BASE, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_SET_LOG_FD, .want = -EFAULT),
		ST(NULL_ARG, .a = VHOST_NET_SET_BACKEND, .want = -EFAULT),
		END,
	},
};

/*
 * Every backend vhost-net takes runs on both devices (on /dev/vhost-accel
 * the copying datapath), and what it refuses is refused alike; a running
 * queue's layout is fixed, a new backend or memory table may come while
 * it runs, and the ring base is final after it stops.
 */
FIXTURE_VARIANT_ADD(compat, backends) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(SET_FEATURES, .a = F_COMMON & ~VG_FBIT(VHOST_NET_F_VIRTIO_NET_HDR)),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_BASE, .idx = 0, .a = 7),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID),
		ST(VRING_KICK, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_CALL, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_NUM, .idx = 1, .a = NUM),
		ST(VRING_BASE, .idx = 1, .a = 9),
		ST(VRING_ADDR, .idx = 1, .a = AD_VALID),
		ST(VRING_KICK, .idx = 1, .a = FD_EVENTFD),
		ST(VRING_CALL, .idx = 1, .a = FD_EVENTFD),
		ST(SET_BACKEND, .idx = 0, .a = FD_UDP, .want = -ENOTSOCK),
		ST(SET_BACKEND, .idx = 0, .a = FD_PIPE, .want = -ENOTSOCK),
		ST(SET_BACKEND, .idx = 0, .a = FD_EVENTFD, .want = -ENOTSOCK),
		ST(SET_BACKEND, .idx = 0, .a = FD_TAP),
		ST(SET_BACKEND, .idx = 1, .a = FD_TAP),
		ST(VRING_NUM, .idx = 0, .a = NUM, .want = -EBUSY),
		ST(VRING_BASE, .idx = 1, .a = 0, .want = -EBUSY),
		ST(SET_BACKEND, .idx = 0, .a = FD_TAP),
		ST(SET_BACKEND, .idx = 1, .a = FD_UDP, .want = -ENOTSOCK),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_VRING_BASE, .idx = 1),
		ST(SET_BACKEND, .idx = 0, .a = FD_PACKET),
		ST(SET_BACKEND, .idx = 1, .a = FD_PACKET),
		ST(SET_BACKEND, .idx = 1, .a = FD_TAP),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_VRING_BASE, .idx = 1),
		END,
	},
};

/* What QEMU does on DRIVER_OK, minus the tap. */
FIXTURE_VARIANT_ADD(compat, qemu_sequence) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(GET_FEATURES),
		ST(SET_FEATURES, .a = F_COMMON),
		ST(GET_BACKEND_FEATURES),
		ST(SET_BACKEND_FEATURES, .a = 0),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_BASE, .idx = 0, .a = 0),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID),
		ST(VRING_KICK, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_CALL, .idx = 0, .a = FD_EVENTFD),
		ST(VRING_NUM, .idx = 1, .a = NUM),
		ST(VRING_BASE, .idx = 1, .a = 0),
		ST(VRING_ADDR, .idx = 1, .a = AD_VALID),
		ST(VRING_KICK, .idx = 1, .a = FD_EVENTFD),
		ST(VRING_CALL, .idx = 1, .a = FD_EVENTFD),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(GET_VRING_BASE, .idx = 0),
		ST(GET_VRING_BASE, .idx = 1),
		ST(MEM_TABLE, .a = MT_VALID),
		END,
	},
};

/*
 * Memory tables of any alignment: a malloc'd buffer, odd guest and user
 * addresses and sizes, regions sharing a page.  A queue may then be
 * (un)bound as with any table.
 */
FIXTURE_VARIANT_ADD(compat, mem_unaligned) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_MALLOC),
		ST(MEM_TABLE, .a = MT_ODD_GPA),
		ST(MEM_TABLE, .a = MT_ODD_UADDR),
		ST(MEM_TABLE, .a = MT_ODD_SIZE),
		ST(MEM_TABLE, .a = MT_SHARE_PAGE),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_ADDR, .idx = 0, .a = AD_VALID),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(MEM_TABLE, .a = MT_MALLOC),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(MEM_TABLE, .a = MT_VALID),
		END,
	},
};

/* Overlapping regions, size 0 and the ends of the guest address space. */
FIXTURE_VARIANT_ADD(compat, mem_overlap_and_edges) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_OVERLAP),
		ST(MEM_TABLE, .a = MT_OVERLAP_SAME),
		ST(MEM_TABLE, .a = MT_ZERO_GPA0),
		ST(MEM_TABLE, .a = MT_ZERO, .want = -EFAULT),
		ST(MEM_TABLE, .a = MT_GPA_WRAP, .want = -EFAULT),
		ST(MEM_TABLE, .a = MT_GPA_TOP),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(MEM_TABLE, .a = MT_REGION_FLAGS),
		END,
	},
};

/*
 * Rings anywhere: a descriptor table aligned to 8 only, rings outside the
 * memory table; a kernel address is taken too until a queue is (un)bound.
 */
FIXTURE_VARIANT_ADD(compat, vring_addr_anywhere) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_VALID),
		ST(VRING_NUM, .idx = 0, .a = NUM),
		ST(VRING_NUM, .idx = 1, .a = NUM),
		ST(VRING_ADDR, .idx = 0, .a = AD_DESC_ODD),
		ST(VRING_ADDR, .idx = 1, .a = AD_OUTSIDE),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		ST(MEM_TABLE, .a = MT_ODD_UADDR),
		ST(VRING_ADDR, .idx = 1, .a = AD_KERNEL),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND, .want = -EFAULT),
		ST(VRING_ADDR, .idx = 1, .a = AD_OUTSIDE),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		END,
	},
};

/* The log may be anywhere too while no queue runs. */
FIXTURE_VARIANT_ADD(compat, log_base_anywhere) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(MEM_TABLE, .a = MT_ODD_GPA),
		ST(LOG_BASE, .a = LB_ODD),
		ST(SET_FEATURES, .a = F_V1 | VG_FBIT(VHOST_F_LOG_ALL)),
		ST(LOG_BASE, .a = LB_KERNEL),
		ST(LOG_BASE, .a = LB_VALID),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		END,
	},
};

/*
 * vhost-net reads a queue index for any ioctl it does not know, and
 * refuses a bad one first; VHOST_SET/GET_VRING_ENDIAN are unknown without
 * CONFIG_VHOST_CROSS_ENDIAN_LEGACY (Debian's kernels).
 */
FIXTURE_VARIANT_ADD(compat, unknown_ioctl_index) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(UNKNOWN, .idx = 2, .want = -ENOBUFS),
		ST(UNKNOWN, .idx = 0xffffffff, .want = -ENOBUFS),
		ST(NULL_ARG, .a = VT_UNKNOWN_IOCTL, .want = -EFAULT),
		ST(VRING_IOCTL, .idx = 0, .a = VHOST_SET_VRING_ENDIAN,
		   .want = -ENOTTY),
		ST(VRING_IOCTL, .idx = 2, .a = VHOST_SET_VRING_ENDIAN,
		   .want = -ENOBUFS),
		ST(VRING_IOCTL, .idx = 1, .a = VHOST_GET_VRING_ENDIAN,
		   .want = -ENOTTY),
		ST(VRING_IOCTL, .idx = 1, .a = VT_UNKNOWN_IOCTL2,
		   .want = -ENOTTY),
		ST(VRING_IOCTL, .idx = 9, .a = VT_UNKNOWN_IOCTL2,
		   .want = -ENOBUFS),
		END,
	},
};

/* vhost-net's reset leaves an empty memory table, not none. */
FIXTURE_VARIANT_ADD(compat, reset_owner_keeps_a_table) {
	.steps = (const struct step[]) {
		ST(SET_OWNER),
		ST(RESET_OWNER),
		ST(SET_OWNER),
		ST(SET_BACKEND, .idx = 0, .a = FD_UNBIND),
		ST(MEM_TABLE, .a = MT_ODD_SIZE),
		ST(RESET_OWNER),
		ST(SET_OWNER),
		ST(SET_BACKEND, .idx = 1, .a = FD_UNBIND),
		END,
	},
};

FIXTURE_VARIANT_ADD(compat, backend_features_msg_v2) {
	.steps = (const struct step[]) {
		ST(SET_BACKEND_FEATURES,
		   .a = VG_FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2)),
		ST(SET_OWNER),
		ST(GET_BACKEND_FEATURES),
		ST(SET_BACKEND_FEATURES,
		   .a = VG_FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2)),
		ST(SET_BACKEND_FEATURES,
		   .a = VG_FBIT(VHOST_BACKEND_F_IOTLB_BATCH),
		   .want = -EOPNOTSUPP),
		ST(SET_BUSYLOOP, .idx = 0, .a = 0xffffffff),
		ST(GET_BUSYLOOP, .idx = 0),
		END,
	},
};

/*
 * Reference check of the guest library itself: drive vhost-net with a tap
 * backend through vguest's rings (split chain on a legacy-layout TX ring,
 * indirect descriptors on RX, EVENT_IDX) and see the frames cross.  If
 * this fails on vhost-net, the library is wrong, not vhost-accel.  The
 * same steps on /dev/vhost-accel over the same kind of tap run its copying
 * datapath, with the same results.
 */
#define DP_HDR		12	/* virtio_net_hdr_mrg_rxbuf: VERSION_1 */
#define DP_FRAME	60
#define DP_BUF		1526

static void dp_frame(unsigned char *f, unsigned char tag)
{
	unsigned int i;

	memset(f, 0xff, 6);				/* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x88;					/* local experimental */
	f[13] = 0xb5;
	for (i = 14; i < DP_FRAME; i++)
		f[i] = (unsigned char)(i ^ tag);
}

static int dp_repost(struct vg_dev *d, void *buf)
{
	struct vg_buf b = { .len = DP_BUF };
	int r;

	r = vg_hva_to_gpa(d, buf, DP_BUF, &b.gpa);
	if (r)
		return r;
	r = vg_vq_add(d, VG_VQ_RX, NULL, 0, &b, 1, buf, 0);
	if (r < 0)
		return r;
	return vg_vq_notify(d, VG_VQ_RX) < 0 ? -EIO : 0;
}

static void reference_datapath(struct __test_metadata *_metadata,
			       const char *path)
{
	unsigned char frame[DP_FRAME], pkt[2048];
	int tap, ctl, ps, hdrsz = DP_HDR, i, k, r;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	struct vg_dev d;
	uint64_t gpa;
	uint32_t len;
	void *hva, *cookie;

	if (access(path, F_OK))
		SKIP(return, "%s not present", path);
	tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap < 0)
		SKIP(return, "/dev/net/tun: %s", strerror(errno));

	ASSERT_EQ(0, vg_open(&d, path));
	ASSERT_LE(0, vg_mem_add(&d, 0x100000, 1 << 20, 0));
	ASSERT_EQ(0, vg_set_owner(&d));
	ASSERT_EQ(0, vg_set_features(&d, VG_FBIT(VIRTIO_F_VERSION_1) |
				     VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |
				     VG_FBIT(VIRTIO_RING_F_INDIRECT_DESC)));
	ASSERT_EQ(0, vg_set_mem_table(&d));
	ASSERT_EQ(0, vg_vq_init(&d, VG_VQ_RX, 256, VG_VQ_INDIRECT, 0));
	ASSERT_EQ(0, vg_vq_init(&d, VG_VQ_TX, 256, VG_VQ_LEGACY_LAYOUT, 4096));
	ASSERT_EQ(0, vg_vq_setup(&d, VG_VQ_RX));
	ASSERT_EQ(0, vg_vq_setup(&d, VG_VQ_TX));

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vgref%d",
		 (int)(getpid() % 100000));
	ASSERT_EQ(0, ioctl(tap, TUNSETIFF, &ifr));
	ASSERT_EQ(0, ioctl(tap, TUNSETVNETHDRSZ, &hdrsz));
	ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, ioctl(ctl, SIOCGIFFLAGS, &ifr));
	ifr.ifr_flags |= IFF_UP;
	ASSERT_EQ(0, ioctl(ctl, SIOCSIFFLAGS, &ifr));
	ASSERT_EQ(0, ioctl(ctl, SIOCGIFINDEX, &ifr));
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, ps);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifr.ifr_ifindex;
	ASSERT_EQ(0, bind(ps, (struct sockaddr *)&sll, sizeof(sll)));
	ASSERT_EQ(0, vg_set_backend(&d, VG_VQ_RX, tap));
	ASSERT_EQ(0, vg_set_backend(&d, VG_VQ_TX, tap));
	if (strcmp(path, VG_DEV_NET)) {
		struct vhost_accel_stats st;

		ASSERT_EQ(0, vg_get_stats(&d, &st));
		EXPECT_EQ(VHOST_ACCEL_DATAPATH_COPY, st.datapath);
	}

	/* TX: header and frame in two chained descriptors */
	dp_frame(frame, 0);
	ASSERT_EQ(0, vg_mem_alloc(&d, DP_HDR + DP_FRAME, 16, &gpa, &hva));
	memset(hva, 0, DP_HDR);
	memcpy((char *)hva + DP_HDR, frame, DP_FRAME);
	{
		struct vg_buf out[2] = {
			{ .gpa = gpa, .len = DP_HDR },
			{ .gpa = gpa + DP_HDR, .len = DP_FRAME },
		};

		ASSERT_LE(0, vg_vq_add(&d, VG_VQ_TX, out, 2, NULL, 0,
				       (void *)frame, 0));
	}
	ASSERT_EQ(254U, vg_vq_num_free(&d, VG_VQ_TX));
	ASSERT_EQ(1, vg_vq_notify(&d, VG_VQ_TX));
	ASSERT_LE(0, vg_vq_wait_used(&d, VG_VQ_TX, 3000, &len, &cookie));
	EXPECT_EQ((void *)frame, cookie);
	EXPECT_EQ(256U, vg_vq_num_free(&d, VG_VQ_TX));
	for (i = 0; i < 16; i++) {
		struct pollfd pfd = { .fd = ps, .events = POLLIN };

		ASSERT_EQ(1, poll(&pfd, 1, 3000)) TH_LOG("TX frame not seen");
		r = recv(ps, pkt, sizeof(pkt), 0);
		if (r == DP_FRAME && !memcmp(pkt, frame, DP_FRAME))
			break;
	}
	ASSERT_GT(16, i) TH_LOG("TX frame not seen on the tap");

	/* RX: the first buffer through an indirect table, then plain ones */
	for (i = 0; i < 4; i++) {
		struct vg_buf in[2];

		ASSERT_EQ(0, vg_mem_alloc(&d, DP_BUF, 16, &gpa, &hva));
		in[0].gpa = gpa;
		in[0].len = DP_HDR;
		in[1].gpa = gpa + DP_HDR;
		in[1].len = DP_BUF - DP_HDR;
		ASSERT_LE(0, vg_vq_add(&d, VG_VQ_RX, NULL, 0, in, 2, hva,
				       i ? 0 : VG_ADD_INDIRECT));
	}
	ASSERT_LE(0, vg_vq_notify(&d, VG_VQ_RX));
	for (i = 0; i < 3; i++) {
		dp_frame(frame, (unsigned char)(i + 1));
		frame[0] = 0x02;	/* unicast to somebody */
		ASSERT_EQ(DP_FRAME, sendto(ps, frame, DP_FRAME, 0,
					   (struct sockaddr *)&sll,
					   sizeof(sll)));
		/* skip what the host stack sends on its own (IPv6 ND...) */
		for (k = 0; k < 8; k++) {
			ASSERT_LE(0, vg_vq_wait_used(&d, VG_VQ_RX, 3000, &len,
						     &cookie));
			ASSERT_EQ(0, dp_repost(&d, cookie));
			if (len == DP_HDR + DP_FRAME &&
			    !memcmp((char *)cookie + DP_HDR, frame, DP_FRAME))
				break;
		}
		ASSERT_GT(8, k) TH_LOG("RX frame %d not received", i);
	}

	EXPECT_EQ(0, vg_set_backend(&d, VG_VQ_RX, -1));
	EXPECT_EQ(0, vg_set_backend(&d, VG_VQ_TX, -1));
	close(ps);
	close(ctl);
	close(tap);
	vg_close(&d);
}

TEST(reference_datapath_vhost_net)
{
	reference_datapath(_metadata, VG_DEV_NET);
}

TEST(reference_datapath_vhost_accel_tap)
{
	reference_datapath(_metadata, vt_dut());
}

TEST_HARNESS_MAIN
