// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_accel_bench: the same user-space virtio-net guest
 * (selftests/lib/vguest) on five backends, measured side by side in one
 * run (`make bench`, Documentation/performance.rst):
 *
 *   accel    /dev/vhost-accel bound to a nicsim NIC; far side: its wire
 *            peer (in its own netns)
 *   tap      /dev/vhost-net + tap (vnet header 12, handled by tap as QEMU
 *            sets it up); far side: the tap netdev
 *   macvtap  /dev/vhost-net + macvtap (bridge mode) on one end of a veth
 *            pair; far side: the other end
 *   copy-tap, copy-macvtap
 *            /dev/vhost-accel on the tap and macvtap set-ups: its copying
 *            datapath (GET_STATS says so at set-up, or the path fails),
 *            against vhost-net on the same backend, with the targets of
 *            the copying datapath (rate >= 0.95x, CPU per frame <= 1.05x)
 *   vnic, vnic-macvtap, vnic-bridge
 *            the test VM's virtio-net PCI NIC (selftests/vm/run.sh): bound
 *            to virtio_net_accel, /dev/vhost-accel with SET_NIC on its
 *            netdev; bound to virtio_net, /dev/vhost-net + macvtap
 *            (bridge mode) on its netdev; and /dev/vhost-net + tap, the
 *            tap and its netdev in a Linux bridge.  Far side: the other
 *            virtio-net device (virtio_net) in its own netns.  The device
 *            is the outer QEMU's, outside the VM's CPU accounting.  One
 *            set-up at a time (they need the device's driver changed),
 *            in turn within each repetition, with the targets of issue
 *            16 against vnic-macvtap (CPU per 64-byte frame <= 1/3x,
 *            64-byte rate >= 1.5x)
 *
 * The far side is the same for all: AF_PACKET sockets (a sink that
 * only counts with PACKET_STATISTICS, a sendmmsg source with
 * PACKET_QDISC_BYPASS, an echo thread).  Every figure is measured REPS
 * times, the paths interleaved within each repetition; the table gives
 * the median and min-max, and the ratio accel / each vhost-net path;
 * two more tables the copying paths against their vhost-net path.  Apart
 * from those, the switch: a device bound through a macvtap on nicsim
 * whose queue pair nicsim resets, timed to copying and back.
 *
 * Output: TAP (one case per setup and per measurement group) with the
 * report as "#" lines, "csv,..." lines (the machine-readable copy, pulled
 * out by scripts/bench.sh), "ratio <row> <accel / tap>" lines and
 * "target <row> copy-tap/tap|copy-macvtap/macvtap|vnic/vnic-macvtap <ratio>
 * met|not met", and per target of issue 18 (targets18[]) "target18 <row>
 * <figure> <limit> met|not met|not measured".
 *
 * Environment: BENCH_MS (window, default 1000), BENCH_REPS (default 3),
 * BENCH_SLOW_US (guest work per frame in the slow-Rx rows, default 40),
 * BENCH_SLOW_PPS (the load offered to them, default 40000; 0: unpaced),
 * BENCH_SLOW_PPS_HI (the second load of slow-cpu/mdrop, default 2x),
 * BENCH_SCALE_THREADS (guest threads of the scaling rows, default the
 * online CPUs), BENCH_ENGINES (nicsim's "engines" parameter for the
 * scaling rows' NIC, default the online CPUs), BENCH_POLL_US (nicsim's
 * "poll_us" parameter for the latency rows, default 200),
 * BENCH_PARTS (any of "size,copy,vnic,switch,slow,scale,lat", default all);
 * also read from ./bench.env (KEY=VALUE lines), which scripts/bench.sh
 * writes because the VM runner passes no environment.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "vguest.h"
#include "vtap.h"
#include "vpeer.h"

#define RING		256
#define HDR_LEN		12
#define WARM_MS		200
#define BATCH		32
#define GSO_MSS		1448
#define GSO_FRAME	(14 + 65535)	/* IP total length 65535 */
#define MAX_DEVS	64
#define MAX_REPS	9
#define MAX_ROWS	64
#define LAT_MAX		200000

/*
 * The paths.  The first NBASE are the original comparison; the copying
 * ones are /dev/vhost-accel on the tap and macvtap set-ups of K_TAP and
 * K_MACVTAP (its copying datapath, checked at set-up), compared with those.
 */
enum kind {
	K_ACCEL, K_TAP, K_MACVTAP, NBASE,
	K_COPY_TAP = NBASE, K_COPY_MACVTAP,
	K_VNIC, K_VNIC_MACVTAP, K_VNIC_BRIDGE, NKINDS
};
static const char *const kind_name[NKINDS] = {
	"vhost-accel+nicsim", "vhost-net+tap", "vhost-net+macvtap",
	"vhost-accel-copy+tap", "vhost-accel-copy+macvtap",
	"vhost-accel+virtio_net_accel", "vhost-net+macvtap+virtio_net",
	"vhost-net+tap+bridge+virtio_net"
};

#define KBIT(k)		(1u << (k))
#define BASE_KINDS	(KBIT(K_ACCEL) | KBIT(K_TAP) | KBIT(K_MACVTAP))
#define COPY_KINDS	(KBIT(K_COPY_TAP) | KBIT(K_COPY_MACVTAP))

/*
 * The order the paths run in within a repetition: each copy after its
 * reference; the virtio-net NIC's paths, one set-up at a time, last.
 */
static const enum kind run_order[NKINDS] = {
	K_ACCEL, K_TAP, K_COPY_TAP, K_MACVTAP, K_COPY_MACVTAP,
	K_VNIC, K_VNIC_MACVTAP, K_VNIC_BRIDGE
};

static bool kind_is_copy(enum kind k)
{
	return k == K_COPY_TAP || k == K_COPY_MACVTAP;
}

/* The paths on the test VM's virtio-net PCI NIC. */
static bool kind_is_vnic(enum kind k)
{
	return k == K_VNIC || k == K_VNIC_MACVTAP || k == K_VNIC_BRIDGE;
}

static bool kind_is_tap(enum kind k)
{
	return k == K_TAP || k == K_COPY_TAP;
}

static bool kind_is_macvtap(enum kind k)
{
	return k == K_MACVTAP || k == K_COPY_MACVTAP;
}

/* A tap is the backend: its own far side, or a port of the vnic bridge. */
static bool kind_has_tap(enum kind k)
{
	return kind_is_tap(k) || k == K_VNIC_BRIDGE;
}

/* Opens /dev/vhost-accel (else /dev/vhost-net). */
static bool kind_is_vhost_accel(enum kind k)
{
	return k == K_ACCEL || kind_is_copy(k) || k == K_VNIC;
}

/* Targets of the copying datapath (issue 15): vs vhost-net on the same backend. */
#define TARGET_RATE	0.95	/* rate at least this times vhost-net's */
#define TARGET_CPU	1.05	/* host CPU per frame at most this times */
/*
 * Targets on the virtio-net NIC (issue 16), vhost-accel + virtio_net_accel
 * against vhost-net + macvtap on virtio_net, 64-byte frames both ways.
 */
#define TARGET_VNIC_RATE	1.5
#define TARGET_VNIC_CPU		(1.0 / 3)

static unsigned int window_ms = 1000, reps = 3, slow_us = 40;
/* Offered load of the slow-Rx rows, the same on every path (0: unpaced). */
static unsigned int slow_pps = 40000;
/* The second, higher load of the marginal CPU per drop (default 2x). */
static unsigned int slow_pps_hi;
/* Guest threads driving the scaling rows' devices (default: online CPUs). */
static unsigned int scale_threads;
/* nicsim engines for the scaling rows' NIC (default: online CPUs). */
static unsigned int engines;
/* nicsim's engines poll this long before they sleep, latency rows */
static unsigned int poll_us = 200;
static const uint8_t far_mac[6] = { 0x02, 0x76, 0x78, 0x62, 0xff, 0x02 };

/* ------------------------------------------------------------- time */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void spin_ns(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

/* ------------------------------------------------------------ results */

struct row {
	char name[32];
	char unit[24];
	char what[224];
	bool lower_better;
	bool target;			/* the copying datapath's target applies */
	bool vtarget;			/* the virtio-net NIC's target applies */
	double v[NKINDS][MAX_REPS];
	unsigned int nv[NKINDS];
	bool na[NKINDS];		/* not applicable to that path */
	bool failed[NKINDS];		/* a measurement failed */
};

static struct row rows[MAX_ROWS];
static unsigned int n_rows;

static struct row *row_get(const char *name, const char *unit,
			   const char *what, bool lower_better)
{
	unsigned int i;

	for (i = 0; i < n_rows; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	if (n_rows == MAX_ROWS)
		abort();
	snprintf(rows[n_rows].name, sizeof(rows[0].name), "%s", name);
	snprintf(rows[n_rows].unit, sizeof(rows[0].unit), "%s", unit);
	snprintf(rows[n_rows].what, sizeof(rows[0].what), "%s", what);
	rows[n_rows].lower_better = lower_better;
	return &rows[n_rows++];
}

/* A row defined in main() (define_rows()). */
static struct row *row_find(const char *name)
{
	return row_get(name, "?", "?", false);
}

static void row_add(struct row *r, enum kind k, double v)
{
	if (r->nv[k] < MAX_REPS)
		r->v[k][r->nv[k]++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of a row's values for @k; false if none. */
static bool row_stat(const struct row *r, enum kind k, double *med,
		     double *lo, double *hi)
{
	double v[MAX_REPS];
	unsigned int n = r->nv[k];

	if (!n)
		return false;
	memcpy(v, r->v[k], n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
	return true;
}

static void fmt_num(char *b, size_t l, double v)
{
	if (v == 0)
		snprintf(b, l, "0");
	else if (v >= 100000)
		snprintf(b, l, "%.0f", v);
	else if (v >= 100)
		snprintf(b, l, "%.0f", v);
	else if (v >= 10)
		snprintf(b, l, "%.1f", v);
	else
		snprintf(b, l, "%.2f", v);
}

static void fmt_cell(char *b, size_t l, const struct row *r, enum kind k)
{
	char m[16], a[16], z[16];
	double med, lo, hi;

	if (r->na[k]) {
		snprintf(b, l, "n/a");
		return;
	}
	if (!row_stat(r, k, &med, &lo, &hi)) {
		snprintf(b, l, "%s", r->failed[k] ? "FAILED" : "-");
		return;
	}
	fmt_num(m, sizeof(m), med);
	fmt_num(a, sizeof(a), lo);
	fmt_num(z, sizeof(z), hi);
	snprintf(b, l, "%s [%s-%s]", m, a, z);
}

/* Median of path @k divided by that of path @ref; false if there is none. */
static bool row_ratio_of(const struct row *r, enum kind k, enum kind ref,
			 double *ratio)
{
	double a, b, lo, hi;

	if (r->na[k] || r->na[ref] || !row_stat(r, k, &a, &lo, &hi) ||
	    !row_stat(r, ref, &b, &lo, &hi) || b == 0)
		return false;
	*ratio = a / b;
	return true;
}

static bool row_ratio(const struct row *r, enum kind ref, double *ratio)
{
	return row_ratio_of(r, K_ACCEL, ref, ratio);
}

/* The vhost-net path a copying path is compared with. */
static enum kind copy_ref(enum kind k)
{
	return k == K_COPY_TAP ? K_TAP : K_MACVTAP;
}

/*
 * A copying path's row against its target, or vnic's against
 * vnic-macvtap: "met" or "not met", and the ratio; NULL where the row has
 * no target or no ratio.
 */
static const char *row_target(const struct row *r, enum kind k, double *ratio)
{
	if (k == K_VNIC) {
		if (!r->vtarget ||
		    !row_ratio_of(r, K_VNIC, K_VNIC_MACVTAP, ratio))
			return NULL;
		if (r->lower_better)
			return *ratio <= TARGET_VNIC_CPU ? "met" : "not met";
		return *ratio >= TARGET_VNIC_RATE ? "met" : "not met";
	}
	if (!kind_is_copy(k) || !r->target ||
	    !row_ratio_of(r, k, copy_ref(k), ratio))
		return NULL;
	if (r->lower_better)
		return *ratio <= TARGET_CPU ? "met" : "not met";
	return *ratio >= TARGET_RATE ? "met" : "not met";
}

/*
 * Issue 18's targets, vhost-accel + nicsim against vhost-net + tap, each
 * on one row: the ratio of the medians (T_RATIO), or vhost-accel's own
 * figure: its median (T_VALUE) or its worst repetition (T_WORST, the
 * highest: every repetition must hold).  T_ATMOST: at most the limit,
 * else at least.
 */
#define T_RATIO		0x1
#define T_VALUE		0x2
#define T_WORST		0x4
#define T_ATMOST	0x8

struct target18 {
	const char *row;
	unsigned int how;
	double limit;
};

static const struct target18 targets18[] = {
	{ "cpu-tx-64", T_RATIO | T_ATMOST, 0.33 },
	{ "cpu-rx-64", T_RATIO | T_ATMOST, 0.33 },
	{ "cpu-tx-1500", T_RATIO | T_ATMOST, 0.25 },
	{ "cpu-rx-1500", T_RATIO | T_ATMOST, 0.25 },
	{ "cpu-tx-gso64k", T_RATIO | T_ATMOST, 0.25 },
	{ "cpu-rx-gso64k", T_RATIO | T_ATMOST, 0.25 },
	{ "lat-p50", T_RATIO | T_ATMOST, 1.0 },
	{ "lat-p99", T_RATIO | T_ATMOST, 1.0 },
	{ "scale-4", T_RATIO, 1.0 },
	{ "scale-16", T_RATIO, 1.0 },
	{ "scale-64", T_RATIO, 1.0 },
	{ "scale-4-fair", T_VALUE, 0.5 },
	{ "scale-16-fair", T_VALUE, 0.5 },
	{ "scale-64-fair", T_VALUE, 0.5 },
	{ "slow-cpu/mdrop", T_RATIO | T_ATMOST, 0.1 },
	{ "slowfc-lost", T_WORST | T_ATMOST, 0 },
	{ "slowfc-cpu/frame", T_RATIO | T_ATMOST, 1.0 },
};

/*
 * Target @t: "met", "not met", or NULL if not measured (no figure, or a
 * ratio of medians that are not both positive: a marginal cost below the
 * noise can come out negative, and a negative ratio would pass an "at
 * most" target on noise); the figure in *@v.
 */
static const char *target18_eval(const struct target18 *t, double *v)
{
	const struct row *r = row_find(t->row);
	double med, lo, hi, ref;

	if (!row_stat(r, K_ACCEL, &med, &lo, &hi))
		return NULL;
	if (t->how & T_RATIO) {
		if (!row_stat(r, K_TAP, &ref, &lo, &lo) || ref <= 0 ||
		    med <= 0)
			return NULL;
		*v = med / ref;
	} else {
		*v = t->how & T_WORST ? hi : med;
	}
	if (t->how & T_ATMOST)
		return *v <= t->limit ? "met" : "not met";
	return *v >= t->limit ? "met" : "not met";
}

/* The target on row @r, if any. */
static const struct target18 *row_target18(const struct row *r)
{
	unsigned int i;

	for (i = 0; i < VP_ARRAY_SIZE(targets18); i++)
		if (!strcmp(targets18[i].row, r->name))
			return &targets18[i];
	return NULL;
}

static void fmt_limit(char *b, size_t l, const struct target18 *t)
{
	snprintf(b, l, "%s%.2f", t->how & T_ATMOST ? "<=" : ">=", t->limit);
}

static void print_targets18(void)
{
	const struct target18 *t;
	const char *m;
	char lim[16];
	unsigned int i;
	double v = 0;

	vtap_out("#\n# issue 18's targets, %s against %s (ratio of the medians; fair: the accelerated path's own median; slowfc-lost: its worst repetition):\n",
	    kind_name[K_ACCEL], kind_name[K_TAP]);
	vtap_out("# %-18s %8s %8s %s\n", "target", "figure", "limit", "verdict");
	for (i = 0; i < VP_ARRAY_SIZE(targets18); i++) {
		t = &targets18[i];
		m = target18_eval(t, &v);
		fmt_limit(lim, sizeof(lim), t);
		if (m)
			vtap_out("# %-18s %8.2f %8s %s\n", t->row, v, lim, m);
		else
			vtap_out("# %-18s %8s %8s not measured\n", t->row, "-",
			    lim);
	}
}

/* Path @k was measured, or failed, in some row. */
static bool kind_ran(enum kind k)
{
	unsigned int i;

	for (i = 0; i < n_rows; i++)
		if (rows[i].nv[k] || rows[i].failed[k])
			return true;
	return false;
}

/* A row has something to show for the copying paths. */
static bool row_has_copy(const struct row *r)
{
	return !r->na[K_COPY_TAP] || !r->na[K_COPY_MACVTAP];
}

static void print_main_table(void)
{
	char c[NBASE][64], rt[16], rm[16];
	unsigned int i;
	double x;
	int k;

	vtap_out("# %-16s %-9s %-24s %-24s %-24s %6s %6s\n", "row", "unit",
	    "accel+nicsim", "net+tap", "net+macvtap", "/tap", "/mvtap");
	vtap_out("# %.16s %.9s %.24s %.24s %.24s %.6s %.6s\n",
	    "--------------------------------", "---------------",
	    "--------------------------------", "--------------------------------",
	    "--------------------------------", "------", "------");
	for (i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];

		for (k = 0; k < NBASE; k++)
			fmt_cell(c[k], sizeof(c[k]), r, (enum kind)k);
		snprintf(rt, sizeof(rt), "-");
		snprintf(rm, sizeof(rm), "-");
		if (row_ratio(r, K_TAP, &x))
			snprintf(rt, sizeof(rt), "%.2f", x);
		if (row_ratio(r, K_MACVTAP, &x))
			snprintf(rm, sizeof(rm), "%.2f", x);
		vtap_out("# %-16s %-9s %-24s %-24s %-24s %6s %6s\n", r->name,
		    r->unit, c[0], c[1], c[2], rt, rm);
	}
}

/*
 * The copying datapath against vhost-net on the same backend, one table
 * per backend: the rows measured on the copying paths, with the ratio and
 * whether the target holds.
 */
static void print_copy_table(enum kind k)
{
	enum kind ref = copy_ref(k);
	char c[2][64], rt[32];
	const char *t;
	unsigned int i;
	double x;

	vtap_out("#\n# copying datapath, %s against %s (median of the copy / median of vhost-net; target: rate >= %.2fx, CPU per frame <= %.2fx):\n",
	    kind_name[k], kind_name[ref], TARGET_RATE, TARGET_CPU);
	vtap_out("# %-16s %-9s %-24s %-24s %6s %s\n", "row", "unit",
	    k == K_COPY_TAP ? "accel-copy+tap" : "accel-copy+macvtap",
	    k == K_COPY_TAP ? "net+tap" : "net+macvtap", "ratio", "target");
	vtap_out("# %.16s %.9s %.24s %.24s %.6s %.7s\n",
	    "--------------------------------", "---------------",
	    "--------------------------------", "--------------------------------",
	    "------", "--------");
	for (i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];

		if (r->na[k])
			continue;
		fmt_cell(c[0], sizeof(c[0]), r, k);
		fmt_cell(c[1], sizeof(c[1]), r, ref);
		snprintf(rt, sizeof(rt), "-");
		if (row_ratio_of(r, k, ref, &x))
			snprintf(rt, sizeof(rt), "%.2f", x);
		t = row_target(r, k, &x);
		vtap_out("# %-16s %-9s %-24s %-24s %6s %s\n", r->name,
		    r->unit, c[0], c[1], rt, t ? t : "-");
	}
}

/*
 * The virtio-net NIC: vhost-accel + virtio_net_accel against vhost-net +
 * macvtap and vhost-net + tap + bridge on virtio_net, the rows measured
 * there, with the ratios and whether issue 16's target holds.
 */
static void print_vnic_table(void)
{
	char c[3][64], rm[16], rb[16];
	const char *t;
	unsigned int i;
	double x;
	int k;

	vtap_out("#\n# on the virtio-net PCI NIC: %s against %s and %s (median / median; target vs macvtap, 64 bytes: rate >= %.2fx, CPU per frame <= %.2fx):\n",
	    kind_name[K_VNIC], kind_name[K_VNIC_MACVTAP],
	    kind_name[K_VNIC_BRIDGE], TARGET_VNIC_RATE, TARGET_VNIC_CPU);
	vtap_out("# %-16s %-9s %-24s %-24s %-24s %6s %6s %s\n", "row", "unit",
	    "accel+vnic", "net+macvtap", "net+tap+bridge", "/mvtap", "/br",
	    "target");
	vtap_out("# %.16s %.9s %.24s %.24s %.24s %.6s %.6s %.7s\n",
	    "--------------------------------", "---------------",
	    "--------------------------------", "--------------------------------",
	    "--------------------------------", "------", "------", "--------");
	for (i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];

		if (r->na[K_VNIC] && r->na[K_VNIC_MACVTAP])
			continue;
		for (k = 0; k < 3; k++)
			fmt_cell(c[k], sizeof(c[k]), r, (enum kind)(K_VNIC + k));
		snprintf(rm, sizeof(rm), "-");
		snprintf(rb, sizeof(rb), "-");
		if (row_ratio_of(r, K_VNIC, K_VNIC_MACVTAP, &x))
			snprintf(rm, sizeof(rm), "%.2f", x);
		if (row_ratio_of(r, K_VNIC, K_VNIC_BRIDGE, &x))
			snprintf(rb, sizeof(rb), "%.2f", x);
		t = row_target(r, K_VNIC, &x);
		vtap_out("# %-16s %-9s %-24s %-24s %-24s %6s %6s %s\n", r->name,
		    r->unit, c[0], c[1], c[2], rm, rb, t ? t : "-");
	}
}

/* The vhost-net path @k's ratio_vs_tap / ratio_vs_macvtap CSV cells name. */
static enum kind csv_ref(enum kind k, bool macvtap)
{
	if (kind_is_vnic(k))
		return macvtap ? K_VNIC_MACVTAP : K_VNIC_BRIDGE;
	return macvtap ? K_MACVTAP : K_TAP;
}

/* Machine-readable copy: one line per row and path. */
static void print_csv(void)
{
	char a[16], b[16], t18c[64];
	const char *t;
	double x, med, lo, hi;
	unsigned int i;
	int k;

	vtap_out("csv,row,unit,path,median,min,max,runs,ratio_vs_tap,ratio_vs_macvtap,target,target18_figure,target18_limit,target18\n");
	for (i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];

		const struct target18 *t18 = row_target18(r);

		t18c[0] = '\0';
		if (t18) {
			char lim[16];

			fmt_limit(lim, sizeof(lim), t18);
			t = target18_eval(t18, &x);
			if (t)
				snprintf(t18c, sizeof(t18c), "%.4f,%s,%s", x,
					 lim, t);
			else
				snprintf(t18c, sizeof(t18c), ",%s,not measured",
					 lim);
		}
		for (k = 0; k < NKINDS; k++) {
			/* issue 18's target on vhost-accel+nicsim's line */
			const char *c18 = k == K_ACCEL && t18 ? t18c : ",,";

			a[0] = b[0] = '\0';
			t = NULL;
			if ((k == K_ACCEL || k == K_COPY_TAP || k == K_VNIC) &&
			    row_ratio_of(r, (enum kind)k,
					 csv_ref((enum kind)k, false), &x))
				snprintf(a, sizeof(a), "%.4f", x);
			if ((k == K_ACCEL || k == K_COPY_MACVTAP || k == K_VNIC) &&
			    row_ratio_of(r, (enum kind)k,
					 csv_ref((enum kind)k, true), &x))
				snprintf(b, sizeof(b), "%.4f", x);
			t = row_target(r, (enum kind)k, &x);
			if (r->na[k]) {
				vtap_out("csv,%s,%s,%s,na,na,na,0,,,,%s\n",
				    r->name, r->unit, kind_name[k], c18);
				continue;
			}
			if (!row_stat(r, (enum kind)k, &med, &lo, &hi)) {
				vtap_out("csv,%s,%s,%s,%s,,,0,,,,%s\n", r->name,
				    r->unit, kind_name[k],
				    r->failed[k] ? "failed" : "not-run", c18);
				continue;
			}
			vtap_out("csv,%s,%s,%s,%.6g,%.6g,%.6g,%u,%s,%s,%s,%s\n",
			    r->name, r->unit, kind_name[k], med, lo, hi,
			    r->nv[k], a, b, t ? t : "", c18);
		}
	}
}

static void print_table(void)
{
	const char *t;
	char v[32];
	double x = 0;
	unsigned int i;
	int k;

	vtap_out("# table:\n");
	if (kind_ran(K_ACCEL) || kind_ran(K_TAP) || kind_ran(K_MACVTAP))
		print_main_table();
	for (k = NBASE; k < NKINDS; k++)
		if (kind_is_copy((enum kind)k) && kind_ran((enum kind)k))
			print_copy_table((enum kind)k);
	if (kind_ran(K_VNIC) || kind_ran(K_VNIC_MACVTAP) ||
	    kind_ran(K_VNIC_BRIDGE))
		print_vnic_table();
	print_targets18();
	vtap_out("#\n# rows:\n");
	for (i = 0; i < n_rows; i++)
		vtap_out("#   %-16s %s%s\n", rows[i].name, rows[i].what,
		    rows[i].lower_better ? " (lower is better)" : "");
	vtap_out("# end of table\n");
	print_csv();
	for (i = 0; i < n_rows; i++) {
		if (row_ratio(&rows[i], K_TAP, &x))
			vtap_out("ratio %s %.2f\n", rows[i].name, x);
		else
			vtap_out("ratio %s -\n", rows[i].name);
	}
	/*
	 * "target <row> <copy-tap/tap|copy-macvtap/macvtap|vnic/vnic-macvtap>
	 * <ratio> met|not met"
	 */
	for (i = 0; i < n_rows; i++) {
		if (!rows[i].target || !row_has_copy(&rows[i]))
			continue;
		for (k = NBASE; k < NKINDS; k++) {
			if (!kind_is_copy((enum kind)k))
				continue;
			t = row_target(&rows[i], (enum kind)k, &x);
			if (t)
				snprintf(v, sizeof(v), "%.2f %s", x, t);
			else
				snprintf(v, sizeof(v), "- -");
			vtap_out("target %s %s %s\n", rows[i].name,
			    k == K_COPY_TAP ? "copy-tap/tap" :
			    "copy-macvtap/macvtap", v);
		}
	}
	for (i = 0; i < n_rows; i++) {
		if (!rows[i].vtarget || rows[i].na[K_VNIC])
			continue;
		t = row_target(&rows[i], K_VNIC, &x);
		if (t)
			snprintf(v, sizeof(v), "%.2f %s", x, t);
		else
			snprintf(v, sizeof(v), "- -");
		vtap_out("target %s vnic/vnic-macvtap %s\n", rows[i].name, v);
	}
	/* "target18 <row> <figure> <limit> met|not met|not measured" */
	for (i = 0; i < VP_ARRAY_SIZE(targets18); i++) {
		const struct target18 *t18 = &targets18[i];
		char lim[16];

		fmt_limit(lim, sizeof(lim), t18);
		t = target18_eval(t18, &x);
		if (t)
			vtap_out("target18 %s %.2f %s %s\n", t18->row, x, lim, t);
		else
			vtap_out("target18 %s - %s not measured\n", t18->row,
			    lim);
	}
}

/* ----------------------------------------------- host CPU accounting */

/* Time a task spent on a CPU, ns (/proc/<tid>/schedstat, first field). */
static uint64_t task_ns(pid_t tid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

/* Softirq time of all CPUs, ns (/proc/stat "cpu" line, 7th field). */
static uint64_t softirq_ns(void)
{
	unsigned long long v[7] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6]) != 7)
		v[6] = 0;
	fclose(f);
	return v[6] * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100));
}

#define MAX_TIDS	(NKINDS * MAX_DEVS + 16)
#define ENGINE_PREFIX	"nicsim/"	/* nicsim's engine threads */

struct tidset {
	pid_t tid[MAX_TIDS];
	unsigned int n;
};

/*
 * Kernel threads named @name (or @name cut to 15 characters), or with
 * @prefix whose name starts with @name.
 */
static void find_kthreads_by(const char *name, bool prefix, struct tidset *s)
{
	char comm[VG_COMM_BUF];
	struct dirent *de;
	DIR *dir;
	bool kt;
	pid_t t;

	s->n = 0;
	dir = opendir("/proc");
	if (!dir)
		return;
	while ((de = readdir(dir)) && s->n < MAX_TIDS) {
		t = (pid_t)atoi(de->d_name);
		if (t <= 0 || vg_task_comm(t, comm, sizeof(comm), &kt) || !kt)
			continue;
		if (prefix ? strncmp(comm, name, strlen(name)) :
		    !vg_comm_matches(comm, name))
			continue;
		s->tid[s->n++] = t;
	}
	closedir(dir);
}

static void find_kthreads(const char *name, struct tidset *s)
{
	find_kthreads_by(name, false, s);
}

/* Threads in @after that are not in @before. */
static void tid_diff(const struct tidset *after, const struct tidset *before,
		     struct tidset *out_set)
{
	unsigned int i, j;

	out_set->n = 0;
	for (i = 0; i < after->n; i++) {
		for (j = 0; j < before->n; j++)
			if (after->tid[i] == before->tid[j])
				break;
		if (j == before->n)
			out_set->tid[out_set->n++] = after->tid[i];
	}
}

static uint64_t tidset_ns(const struct tidset *s)
{
	uint64_t ns = 0;
	unsigned int i;

	for (i = 0; i < s->n; i++)
		ns += task_ns(s->tid[i]);
	return ns;
}

struct cpu_snap {
	uint64_t workers, softirq, engine, t;
};

/* ----------------------------------------------------------- one path */

struct bdev {
	struct vg_net g;
	struct vp_nic tapnic;		/* tap paths: the tap is this device's far side */
	int tapfd;
	uint8_t mac[6];
	char mvtap[VP_IFNAMSIZ];	/* macvtap paths */
	uint64_t kicks, sleeps, calls, reaps;
};

struct bpath {
	enum kind kind;
	bool fc;			/* accel: bound with flow control */
	char tag;
	unsigned int ndev;
	struct bdev *dev;
	struct vp_nic nic;		/* accel: nicsim; macvtap: veth far end; vnic: the NIC */
	char veth[2][VP_IFNAMSIZ];	/* macvtap: [0] carries the macvtaps */
	char bridge[VP_IFNAMSIZ];	/* vnic-bridge: the Linux bridge */
	bool up;
	struct tidset workers, engine;
	char err[320];
};

/* The far side of device @i: where frames from it arrive. */
static struct vp_nic *far_nic(struct bpath *p, unsigned int i)
{
	return kind_is_tap(p->kind) ? &p->dev[i].tapnic : &p->nic;
}

/*
 * Where guest Tx frames of device @i are addressed: on the virtio-net NIC
 * the far side's own address (its device filters others out).
 */
static const uint8_t *far_mac_of(struct bpath *p, unsigned int i)
{
	if (kind_is_vnic(p->kind))
		return p->nic.peer_mac;
	return kind_is_tap(p->kind) ? p->dev[i].tapnic.peer_mac : far_mac;
}

static void guest_mac(uint8_t *mac, struct bpath *p, unsigned int i)
{
	mac[0] = 0x02;
	mac[1] = 0x76;
	mac[2] = 0x78;
	mac[3] = 0x62;
	mac[4] = (uint8_t)(p->kind * 16 + p->fc);
	mac[5] = (uint8_t)i;
}

/*
 * The last character of tap device i's name (vpeer names every netdev
 * VP_NAME_PREFIX<pid><tag>): a path of one device takes the path's tag,
 * the scaling path's taps take tap_tags[i], which lacks the scaling
 * phase's own tags ("SUV" name its NICs and taps) and '%' (a name
 * template to the kernel).  The phases run one after the other; within
 * the single-device phase the tags "ATMCDF" differ, the switch uses "W".
 */
static char tap_tag(const struct bpath *p, unsigned int i)
{
	static const char tap_tags[] =
		"abcdefghijklmnopqrstuvwxyz0123456789BCDEGHIJKLNOPQRWXYZ_-+=.,~^!";

	_Static_assert(sizeof(tap_tags) - 1 >= MAX_DEVS, "tap tags");
	return p->ndev > 1 ? tap_tags[i] : p->tag;
}

/*
 * A macvtap (bridge mode) with the guest's MAC on @lower, up; its queue fd
 * with a HDR_LEN-byte virtio-net header in *@fd.  0 or -errno, @err says.
 */
static int macvtap_open(const char *lower, const char *name,
			const uint8_t *mac, int *fd, char *err, size_t errlen)
{
	int hdr = HDR_LEN, r;
	unsigned int idx;
	char path[32];

	r = vp_run("ip link add link %s name %s address %02x:%02x:%02x:%02x:%02x:%02x type macvtap mode bridge && ip link set %s up",
		   lower, name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		   name);
	idx = if_nametoindex(name);
	if (r || !idx)
		return snprintf(err, errlen,
				"ip link add %s type macvtap: exit %d", name,
				r), -ENODEV;
	snprintf(path, sizeof(path), "/dev/tap%u", idx);
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0 || ioctl(*fd, TUNSETVNETHDRSZ, &hdr))
		return snprintf(err, errlen, "%s: %s", path, strerror(errno)),
		       -errno;
	return 0;
}

/* Device @i's datapath (GET_STATS) must be @want. */
static int check_datapath(struct bpath *p, unsigned int i, unsigned int want)
{
	struct vhost_accel_stats st;
	int r = vg_get_stats(&p->dev[i].g.d, &st);

	if (r)
		return snprintf(p->err, sizeof(p->err),
				"VHOST_ACCEL_GET_STATS dev %u: %s", i,
				strerror(-r)), r;
	if (st.datapath != want)
		return snprintf(p->err, sizeof(p->err),
				"dev %u: GET_STATS datapath %u, not %u",
				i, st.datapath, want), -EPROTO;
	return 0;
}

/* A copying path's device: GET_STATS must say it copies. */
static int check_copying(struct bpath *p, unsigned int i)
{
	return check_datapath(p, i, VHOST_ACCEL_DATAPATH_COPY);
}

static int open_dev(struct bpath *p, unsigned int i, bool big)
{
	struct vg_net_cfg cfg = {
		.features = VG_FBIT(VIRTIO_F_VERSION_1) |
			    VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |
			    VG_FBIT(VIRTIO_NET_F_MRG_RXBUF),
		.rx_num = RING,
		.tx_num = RING,
		/* 64 KiB GSO frames need slots that big; scaling does not */
		.tx_slot_len = big ? HDR_LEN + GSO_FRAME : 2048,
		.rx_bufs = big ? 0 : 16,
	};
	struct bdev *d = &p->dev[i];
	int r, fd;

	guest_mac(d->mac, p, i);
	d->tapfd = -1;
	if (p->kind == K_ACCEL || p->kind == K_VNIC) {
		r = vg_net_open(&d->g, VG_DEV_ACCEL, &cfg);
		if (r)
			return snprintf(p->err, sizeof(p->err), "open %s: %s",
					VG_DEV_ACCEL, strerror(-r)), r;
		r = vg_net_bind(&d->g, p->nic.ifindex, d->mac,
				p->fc ? VHOST_ACCEL_BIND_F_FLOW_CONTROL : 0);
		if (r)
			return snprintf(p->err, sizeof(p->err),
					"VHOST_ACCEL_SET_NIC %s dev %u: %s",
					p->nic.name, i, strerror(-r)), r;
		fd = -1;
	} else if (kind_has_tap(p->kind)) {
		r = vp_tap_create(&d->tapnic, tap_tag(p, i), HDR_LEN,
				  &d->tapfd);
		if (r)
			return snprintf(p->err, sizeof(p->err), "tap %u: %s", i,
					d->tapnic.err), r;
		fd = d->tapfd;
		if (p->kind == K_VNIC_BRIDGE &&
		    vp_run("ip link set %s master %s", d->tapnic.peer,
			   p->bridge))
			return snprintf(p->err, sizeof(p->err),
					"ip link set %s master %s failed",
					d->tapnic.peer, p->bridge), -EIO;
	} else {
		snprintf(d->mvtap, sizeof(d->mvtap), "bm%c%u", p->tag, i);
		r = macvtap_open(p->kind == K_VNIC_MACVTAP ? p->nic.name :
				 p->veth[0], d->mvtap, d->mac, &d->tapfd,
				 p->err, sizeof(p->err));
		if (r)
			return r;
		fd = d->tapfd;
	}
	if (p->kind != K_ACCEL && p->kind != K_VNIC) {
		const char *dev = kind_is_vhost_accel(p->kind) ? VG_DEV_ACCEL :
				  VG_DEV_NET;

		r = vg_net_open(&d->g, dev, &cfg);
		if (r)
			return snprintf(p->err, sizeof(p->err), "open %s: %s",
					dev, strerror(-r)), r;
	}
	r = vg_net_rx_fill(&d->g, d->g.rx_nbufs);
	if (r >= 0)
		r = vg_net_start(&d->g, fd);
	if (!r)
		r = vg_vq_kick(&d->g.d, VG_VQ_RX);
	if (r)
		return snprintf(p->err, sizeof(p->err),
				"Rx buffers/SET_BACKEND dev %u: %s", i,
				strerror(-r)), r;
	if (kind_is_copy(p->kind)) {
		r = check_copying(p, i);
		if (r)
			return r;
	}
	/* on the virtio-net NIC: accelerated, not the copying fallback */
	if (p->kind == K_VNIC) {
		r = check_datapath(p, i, VHOST_ACCEL_DATAPATH_ACCEL);
		if (r)
			return r;
	}
	/* callbacks off unless we sleep (as a NAPI driver) */
	vg_vq_disable_cb(&d->g.d, VG_VQ_RX);
	vg_vq_disable_cb(&d->g.d, VG_VQ_TX);
	return 0;
}

/*
 * The virtio-net NIC with its far side in a netns (vp_vnic_create()); for
 * the vhost-net paths bound to virtio_net again, its netdev up (IPv6 off,
 * NOARP) and, for vnic-bridge, in a new bridge the taps join.
 */
static int vnic_far_side(struct bpath *p)
{
	char path[96];
	int r;

	r = vp_vnic_create(&p->nic, p->tag);
	if (!r && p->kind != K_VNIC)
		r = vp_vnic_rebind(&p->nic, false);
	if (r) {
		snprintf(p->err, sizeof(p->err), "%s", p->nic.err);
		return r;
	}
	if (p->kind == K_VNIC)
		return 0;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 p->nic.name);
	if (vp_run("echo 1 > %s && ip link set %s arp off up", path,
		   p->nic.name)) {
		snprintf(p->err, sizeof(p->err), "ip link set %s up failed",
			 p->nic.name);
		return -EIO;
	}
	if (p->kind != K_VNIC_BRIDGE)
		return 0;
	snprintf(p->bridge, sizeof(p->bridge), "bvnbr%c", p->tag);
	if (vp_run("ip link add %s type bridge && echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6 && ip link set %s master %s && ip link set %s up",
		   p->bridge, p->bridge, p->nic.name, p->bridge, p->bridge)) {
		snprintf(p->err, sizeof(p->err), "bridge %s with %s failed",
			 p->bridge, p->nic.name);
		return -EIO;
	}
	return 0;
}

static int far_side_create(struct bpath *p)
{
	int r;

	if (kind_is_vnic(p->kind))
		return vnic_far_side(p);
	if (p->kind == K_ACCEL) {
		r = vp_nic_create(&p->nic, p->tag);
		if (r)
			snprintf(p->err, sizeof(p->err), "%s", p->nic.err);
		return r;
	}
	if (kind_is_tap(p->kind))
		return 0;
	/* veth pair in our netns; the far end stands in for a wire peer */
	snprintf(p->veth[0], VP_IFNAMSIZ, "bv%ca", p->tag);
	snprintf(p->veth[1], VP_IFNAMSIZ, "bv%cb", p->tag);
	r = vp_run("ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up",
		   p->veth[0], p->veth[1], p->veth[0], p->veth[1]);
	if (r) {
		snprintf(p->err, sizeof(p->err), "ip link add veth: exit %d", r);
		return -ENODEV;
	}
	memset(&p->nic, 0, sizeof(p->nic));
	p->nic.is_tap = true;		/* nothing for vp_nic_destroy to delete */
	p->nic.self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	p->nic.peer_ns = dup(p->nic.self_ns);
	snprintf(p->nic.name, sizeof(p->nic.name), "%s", p->veth[0]);
	snprintf(p->nic.peer, sizeof(p->nic.peer), "%s", p->veth[1]);
	p->nic.ifindex = (int)if_nametoindex(p->veth[0]);
	p->nic.peer_ifindex = (int)if_nametoindex(p->veth[1]);
	return p->nic.peer_ifindex ? 0 : -ENODEV;
}

static void path_down(struct bpath *p)
{
	unsigned int i;

	for (i = 0; p->dev && i < p->ndev; i++) {
		struct bdev *d = &p->dev[i];

		if (d->g.opened) {
			vg_net_stop(&d->g);
			vg_net_close(&d->g);
		}
		if (d->tapfd >= 0)
			close(d->tapfd);
		d->tapfd = -1;
		if (kind_has_tap(p->kind))
			vp_nic_destroy(&d->tapnic);
		if (p->kind == K_VNIC_MACVTAP && d->mvtap[0])
			vp_run("ip link del %s 2>/dev/null", d->mvtap);
	}
	free(p->dev);
	p->dev = NULL;
	if (p->bridge[0])
		vp_run("ip link del %s 2>/dev/null", p->bridge);
	p->bridge[0] = '\0';
	vp_nic_destroy(&p->nic);
	if (kind_is_macvtap(p->kind) && p->veth[0][0])
		vp_run("ip link del %s 2>/dev/null", p->veth[0]);
	p->up = false;
}

static const char *worker_name(enum kind k, char *buf, size_t len)
{
	if (kind_is_vhost_accel(k))
		vg_worker_comm(getpid(), buf, len);
	else
		snprintf(buf, len, "vhost-%d", (int)getpid());
	return buf;
}

static bool path_up(struct bpath *p, unsigned int ndev, bool big)
{
	struct tidset before, after, eng0;
	char name[VG_COMM_BUF], cname[160];
	unsigned int i;
	int r;

	p->ndev = ndev;
	p->err[0] = '\0';
	p->dev = calloc(ndev, sizeof(*p->dev));
	if (!p->dev)
		abort();
	/* no fds yet: vp_nic_destroy() on them must close none (not fd 0) */
	for (i = 0; i < ndev; i++) {
		p->dev[i].tapfd = -1;
		p->dev[i].tapnic.self_ns = p->dev[i].tapnic.peer_ns = -1;
	}
	memset(&p->nic, 0, sizeof(p->nic));
	p->nic.self_ns = p->nic.peer_ns = -1;
	find_kthreads(worker_name(p->kind, name, sizeof(name)), &before);
	find_kthreads_by(ENGINE_PREFIX, true, &eng0);
	r = far_side_create(p);
	for (i = 0; !r && i < ndev; i++)
		r = open_dev(p, i, big);
	find_kthreads(name, &after);
	tid_diff(&after, &before, &p->workers);
	if (!r && p->workers.n != ndev) {
		snprintf(p->err, sizeof(p->err),
			 "found %u new worker threads named %s for %u devices",
			 p->workers.n, name, ndev);
		r = -ESRCH;
	}
	/*
	 * nicsim's engines: every kernel thread named "nicsim/..." that
	 * appeared while the NIC and its bindings were set up (one per
	 * engine with the module's "engines" parameter; all are summed).
	 */
	p->engine.n = 0;
	if (!r && p->kind == K_ACCEL) {
		find_kthreads_by(ENGINE_PREFIX, true, &after);
		tid_diff(&after, &eng0, &p->engine);
		if (!p->engine.n) {
			snprintf(p->err, sizeof(p->err),
				 "no new engine thread %s* for %s",
				 ENGINE_PREFIX, p->nic.name);
			r = -ESRCH;
		}
	}
	snprintf(cname, sizeof(cname), "%s%s: %u device%s up", kind_name[p->kind],
		 p->fc ? " (flow control)" : "", ndev, ndev > 1 ? "s" : "");
	p->up = !r;
	vtap_case(p->up, cname, p->err);
	if (!p->up)
		path_down(p);
	return p->up;
}

static void cpu_snap(struct bpath *p, struct cpu_snap *s)
{
	s->workers = tidset_ns(&p->workers);
	s->engine = tidset_ns(&p->engine);
	s->softirq = softirq_ns();
	s->t = now_ns();
}

/* --------------------------------------------------------- guest Tx */

/* Fill every Tx slot of @d with header @h and @len bytes of @frame. */
static void tx_prefill(struct bdev *d, const struct virtio_net_hdr_mrg_rxbuf *h,
		       const uint8_t *frame, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < d->g.tx_nslots; i++) {
		uint8_t *s = d->g.tx_pool + (size_t)i * d->g.tx_stride;

		memcpy(s, h, HDR_LEN);
		memcpy(s + HDR_LEN, frame, len);
	}
}

/*
 * Queue free slots (already filled) without copying, at most @max (0: all);
 * kick if the device asks.  How many, or -errno.
 */
static int tx_fill(struct bdev *d, uint32_t len, int max)
{
	int n = 0, r;

	while (d->g.tx_nfree && vg_vq_num_free(&d->g.d, VG_VQ_TX) &&
	       (!max || n < max)) {
		uint32_t id = d->g.tx_free[d->g.tx_nfree - 1];
		struct vg_buf b = {
			.gpa = d->g.tx_pool_gpa + (uint64_t)id * d->g.tx_stride,
			.len = HDR_LEN + len,
		};

		r = vg_vq_add(&d->g.d, VG_VQ_TX, &b, 1, NULL, 0,
			      (void *)(uintptr_t)(id + 1), 0);
		if (r < 0)
			return r;
		d->g.tx_nfree--;
		d->g.tx_queued++;
		n++;
	}
	if (n) {
		r = vg_vq_notify(&d->g.d, VG_VQ_TX);
		if (r < 0)
			return r;
		d->kicks += (uint64_t)r;
	}
	return n;
}

/*
 * Drive the Tx rings of @n devices for @ms: keep them full, kick when the
 * device asks, sleep on the call eventfds when nothing moved (asking for
 * the call at 3/4 of what is in flight with @delayed, else at the next).
 */
static int tx_run(struct bdev *const *devs, unsigned int n, uint32_t len,
		  unsigned int ms, bool delayed)
{
	struct pollfd pfd[MAX_DEVS];
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	unsigned int i, np;
	int r, progress;

	while (now_ns() < end) {
		progress = 0;
		for (i = 0; i < n; i++) {
			r = vg_net_tx_reap(&devs[i]->g);
			if (r < 0)
				return r;
			if (r)
				devs[i]->reaps++;
			progress += r;
			r = tx_fill(devs[i], len, 0);
			if (r < 0)
				return r;
			progress += r;
		}
		if (progress)
			continue;
		np = 0;
		for (i = 0; i < n; i++) {
			r = vg_vq_arm_cb(&devs[i]->g.d, VG_VQ_TX, delayed);
			if (r)
				break;
			pfd[np].fd = devs[i]->g.d.vq[VG_VQ_TX].call_fd;
			pfd[np++].events = POLLIN;
		}
		if (i == n) {
			for (i = 0; i < n; i++)
				devs[i]->sleeps++;
			r = poll(pfd, np, 10);
			for (i = 0; r > 0 && i < np; i++) {
				uint64_t v;

				if ((pfd[i].revents & POLLIN) &&
				    read(pfd[i].fd, &v, sizeof(v)) == sizeof(v))
					devs[i]->calls++;
			}
		}
		for (i = 0; i < n; i++)
			vg_vq_disable_cb(&devs[i]->g.d, VG_VQ_TX);
	}
	return 0;
}

/* Sink on the far side: arrivals counted by the socket, never read. */
static uint64_t sink_count(int fd)
{
	struct tpacket_stats st = { 0 };
	socklen_t l = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &l))
		return 0;
	return st.tp_packets;	/* delivered + dropped at the full socket */
}

struct tx_result {
	double pps, bps, completed, arrived;
	double cpu_ns, engine_ns;	/* per frame completed */
	double softirq_ns;		/* of cpu_ns, the softirq part */
	double kicks, sleeps, calls, reaps;	/* per frame completed */
	struct vhost_accel_stats st0, st1;
};

static void accel_stats(struct bpath *p, struct vhost_accel_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (kind_is_vhost_accel(p->kind))
		vg_get_stats(&p->dev[0].g.d, st);
}

/* One Tx window on device 0 of @p. */
static int tx_window(struct bpath *p, uint32_t len, bool delayed,
		     struct tx_result *res)
{
	struct bdev *d = &p->dev[0];
	struct bdev *devs[1] = { d };
	struct cpu_snap c0, c1;
	uint64_t done0, k0, s0, ca0, re0;
	int sink, r;

	memset(res, 0, sizeof(*res));
	sink = vp_packet_open(far_nic(p, 0), ETH_P_ALL, 0);
	if (sink < 0)
		return sink;
	r = tx_run(devs, 1, len, WARM_MS, delayed);
	if (r)
		goto out;
	sink_count(sink);	/* resets the socket's counters */
	accel_stats(p, &res->st0);
	done0 = d->g.tx_completed;
	k0 = d->kicks;
	s0 = d->sleeps;
	ca0 = d->calls;
	re0 = d->reaps;
	cpu_snap(p, &c0);
	r = tx_run(devs, 1, len, window_ms, delayed);
	cpu_snap(p, &c1);
	res->arrived = (double)sink_count(sink);
	accel_stats(p, &res->st1);
	if (r)
		goto out;
	res->completed = (double)(d->g.tx_completed - done0);
	if (res->completed > 0) {
		double c = res->completed;

		res->cpu_ns = (double)(c1.workers - c0.workers +
				       c1.softirq - c0.softirq) / c;
		res->softirq_ns = (double)(c1.softirq - c0.softirq) / c;
		res->engine_ns = (double)(c1.engine - c0.engine) / c;
		res->kicks = (double)(d->kicks - k0) / c;
		res->sleeps = (double)(d->sleeps - s0) / c;
		res->calls = (double)(d->calls - ca0) / c;
		res->reaps = (double)(d->reaps - re0) / c;
	}
	res->pps = res->arrived * 1e9 / (double)(c1.t - c0.t);
	res->bps = res->completed * (double)len * 8e9 / (double)(c1.t - c0.t);
	r = vg_net_tx_drain(&d->g, 2000);
out:
	close(sink);
	return r;
}

/* --------------------------------------------------------- guest Rx */

/*
 * A sender under backpressure (the flow-control rows): after a send the
 * far netdev refused in whole or in part (ENOBUFS/EAGAIN, counted in the
 * sender's busy and cut), it waits FC_WAIT_US before the next, and the
 * refused frames are offered again (vg_sender's retry), never counted
 * lost.  An AF_PACKET socket does not signal a stopped device queue with
 * POLLOUT, so the wait is a short sleep.
 */
#define FC_WAIT_US	20

struct fc_pace {
	struct vg_sender *s;
	uint64_t refusals;	/* busy + cut seen at the last call */
	atomic_uint_fast64_t waits;
};

static unsigned int fc_pace(void *ctx, uint64_t sent)
{
	const struct timespec nap = { .tv_nsec = FC_WAIT_US * 1000 };
	struct fc_pace *f = ctx;
	uint64_t n = atomic_load(&f->s->busy) + atomic_load(&f->s->cut);

	(void)sent;
	if (n != f->refusals) {
		f->refusals = n;
		atomic_fetch_add(&f->waits, 1);
		nanosleep(&nap, NULL);
	}
	return UINT32_MAX;
}

/*
 * The far side's sender (a vg_sender): the frame over and over, either as
 * fast as the netdev takes it or @pps frames per second whatever the path
 * does with them, so every path gets the same offered load.  Without @fc
 * a refused frame is not sent again: "full" counts the sends the netdev
 * refused, frames when paced, calls when not.  With @fc (and @fp) the
 * sender waits and retries (fc_pace()): "full" stays 0.
 */
static int sender_start(struct vg_sender *s, struct vp_nic *nic, int fd,
			const uint8_t *frame, size_t len, unsigned int pps,
			struct fc_pace *fp)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->ifindex = nic->peer_ifindex;
	s->tmpl = frame;
	s->len = len;
	s->seq_off = -1;
	s->batch = BATCH;
	s->pps = pps;
	if (fp) {
		memset(fp, 0, sizeof(*fp));
		fp->s = s;
		s->retry = true;
		s->pace = fc_pace;
		s->ctx = fp;
	}
	return vg_sender_start(s);
}

static uint64_t sender_full(struct vg_sender *s)
{
	return s->pps ? atomic_load(&s->refused) : atomic_load(&s->busy);
}

struct rx_result {
	double pps, bps, got, sent, offered, lost;
	double cpu_ns, engine_ns;	/* per frame received */
	double softirq_ns;		/* of cpu_ns, the softirq part */
	double cpu_per_lost_ns, engine_per_lost_ns;
	double kicks, sleeps, calls;
	uint64_t full;		/* sends refused (a frame each), whole run */
	uint64_t full_win;	/* the same, in the window */
	double cpu_win_ns;	/* host CPU in the window (workers + softirq) */
	double worker_win_ns;	/* the workers' part */
	double src_win_ns;	/* the source thread's CPU in the window */
	double win_ns;		/* the window's length */
	/* whole run, warm-up to drained: frames the far netdev accepted ... */
	uint64_t total_sent;
	uint64_t total_got;	/* ... and the guest got */
	uint64_t fc_waits;	/* flow-controlled source: waits after a refusal */
};

/* Guest Rx for @ms: reap, repost, sleep on calls when idle. */
static int rx_run(struct bdev *d, unsigned int ms, uint64_t work_ns,
		  uint64_t *frames, uint64_t *bytes)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	struct vg_net_rx f;
	int r, got;

	while (now_ns() < end) {
		got = 0;
		while ((r = vg_net_rx_get(&d->g, &f)) == 0) {
			got++;
			(*frames)++;
			*bytes += f.len;
			if (work_ns)
				spin_ns(work_ns);
			if (got >= RING / 4)
				break;
		}
		if (r && r != -EAGAIN)
			return r;
		if (got) {
			r = vg_net_rx_fill(&d->g, d->g.rx_nfree);
			if (r >= 0)
				r = vg_net_rx_kick(&d->g);
			if (r < 0)
				return r;
			d->kicks += (uint64_t)r;
			continue;
		}
		r = vg_vq_arm_cb(&d->g.d, VG_VQ_RX, false);
		if (!r) {
			d->sleeps++;
			if (!vg_vq_wait_call(&d->g.d, VG_VQ_RX, 10))
				d->calls++;
		}
		vg_vq_disable_cb(&d->g.d, VG_VQ_RX);
	}
	return 0;
}

/* CPU time of thread @th so far, ns (0 if it cannot be read). */
static uint64_t thread_cpu_ns(pthread_t th)
{
	struct timespec ts;
	clockid_t cid;

	if (pthread_getcpuclockid(th, &cid) || clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * After the source stopped: the guest reaps at full speed until 100 ms
 * pass without a frame (at most 2 s); the frames in *@frames.
 */
static int rx_drain(struct bdev *d, uint64_t *frames)
{
	uint64_t f, b = 0;
	unsigned int i;
	int r;

	for (i = 0; i < 20; i++) {
		f = 0;
		r = rx_run(d, 100, 0, &f, &b);
		if (r)
			return r;
		*frames += f;
		if (!f)
			break;
	}
	return 0;
}

/*
 * One Rx window on device 0 of @p: the far side sends @frame (@pps
 * frames/s, 0: as fast as it goes; @fc: a flow-controlled source that
 * retries refused frames), the guest spends @work_ns per frame.
 */
static int rx_window(struct bpath *p, const uint8_t *frame, size_t len,
		     uint16_t proto, bool vnet_hdr, uint64_t work_ns,
		     unsigned int pps, bool fc, struct rx_result *res)
{
	struct bdev *d = &p->dev[0];
	struct vp_nic *nic = far_nic(p, 0);
	struct vg_sender s;
	struct fc_pace fp;
	struct cpu_snap c0, c1;
	uint64_t fr = 0, by = 0, warm = 0, sent0, full0, k0, s0, ca0, src0;
	int r, fd;

	memset(res, 0, sizeof(*res));
	/*
	 * Direct xmit (QDISC_BYPASS) drops a frame that validation changes,
	 * e.g. GSO to a netdev without TSO: GSO goes through the qdisc.
	 */
	fd = vp_packet_open(nic, proto, vnet_hdr ? VP_PKT_VNET_HDR :
			    VP_PKT_QDISC_BYPASS);
	if (fd < 0)
		return fd;
	r = sender_start(&s, nic, fd, frame, len, pps, fc ? &fp : NULL);
	if (r) {
		close(fd);
		return r;
	}
	r = rx_run(d, WARM_MS, work_ns, &fr, &by);
	warm = fr;
	fr = by = 0;
	k0 = d->kicks;
	s0 = d->sleeps;
	ca0 = d->calls;
	sent0 = atomic_load(&s.sent);
	full0 = sender_full(&s);
	src0 = thread_cpu_ns(s.th);
	cpu_snap(p, &c0);
	if (!r)
		r = rx_run(d, window_ms, work_ns, &fr, &by);
	cpu_snap(p, &c1);
	res->src_win_ns = (double)(thread_cpu_ns(s.th) - src0);
	res->sent = (double)(atomic_load(&s.sent) - sent0);
	res->full = sender_full(&s);
	res->full_win = res->full - full0;
	vg_sender_stop(&s);
	close(fd);
	res->total_sent = atomic_load(&s.sent);
	res->total_got = warm + fr;
	res->fc_waits = fc ? atomic_load(&fp.waits) : 0;
	if (!r)
		r = rx_drain(d, &res->total_got);
	if (r)
		return r;
	if (s.err)
		return s.err;
	if (!fr)
		return -ENODATA;	/* nothing got through: no figure */
	res->got = (double)fr;
	res->pps = res->got * 1e9 / (double)(c1.t - c0.t);
	res->bps = (double)by * 8e9 / (double)(c1.t - c0.t);
	/*
	 * A refused send is a frame the far netdev did not take: tap drops
	 * it in the sender's call when its queue is full (NET_XMIT_DROP), a
	 * stopped queue (nicsim with flow control) refuses it.  Either way
	 * it was offered and the guest never got it.
	 */
	res->offered = res->sent + (double)res->full_win;
	res->lost = res->offered > res->got ? res->offered - res->got : 0;
	res->win_ns = (double)(c1.t - c0.t);
	res->cpu_win_ns = (double)(c1.workers - c0.workers +
				   c1.softirq - c0.softirq);
	res->worker_win_ns = (double)(c1.workers - c0.workers);
	if (fr) {
		res->cpu_ns = (double)(c1.workers - c0.workers +
				       c1.softirq - c0.softirq) / res->got;
		res->softirq_ns = (double)(c1.softirq - c0.softirq) / res->got;
		res->engine_ns = (double)(c1.engine - c0.engine) / res->got;
		res->kicks = (double)(d->kicks - k0) / res->got;
		res->sleeps = (double)(d->sleeps - s0) / res->got;
		res->calls = (double)(d->calls - ca0) / res->got;
	}
	if (res->lost > 0) {
		res->cpu_per_lost_ns = (double)(c1.workers - c0.workers +
						c1.softirq - c0.softirq) /
				       res->lost;
		res->engine_per_lost_ns = (double)(c1.engine - c0.engine) /
					  res->lost;
	}
	return 0;
}

/* ------------------------------------------------------------ frames */

static uint8_t small_frame[NKINDS][2][1600];	/* [path][0 tx, 1 rx] */
static uint8_t *gso_frame;			/* guest -> far side */
static uint8_t *gso_rx_frame;			/* vnet header + frame */

static void gso_hdr(struct virtio_net_hdr_mrg_rxbuf *h, uint16_t cs,
		    uint16_t co)
{
	memset(h, 0, sizeof(*h));
	h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr.hdr_len = htole16(54);
	h->hdr.gso_size = htole16(GSO_MSS);
	h->hdr.csum_start = htole16(cs);
	h->hdr.csum_offset = htole16(co);
}

/* A 64 KiB TCP frame in @buf and the virtio-net header that sends it. */
static size_t build_gso(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
			struct virtio_net_hdr_mrg_rxbuf *h)
{
	struct vp_l4_opts o = {
		.saddr = htonl(0x0a630001), .daddr = htonl(0x0a630002),
		.sport = 5001, .dport = 5001, .partial = true,
	};
	uint16_t cs, co;
	size_t len;

	len = vp_build_tcp4(buf, dst, src, &o, NULL, 65535 - 40, &cs, &co);
	gso_hdr(h, cs, co);
	return len;
}

/* ------------------------------------------------------- the measures */

static struct bpath paths[NKINDS];

static void fail_row(enum kind k, const char *row, int r, struct bpath *p)
{
	char name[128], why[200];

	row_find(row)->failed[k] = true;
	snprintf(name, sizeof(name), "%s: %s", kind_name[k], row);
	snprintf(why, sizeof(why), "%s%s%s", strerror(r < 0 ? -r : r),
		 p->dev[0].g.err[0] ? ": " : "", p->dev[0].g.err);
	vtap_case(false, name, why);
}

/*
 * The @o-th path in run order if it is in @kinds and up (its kind in
 * *@k), else NULL: the measures' loop over the paths.
 */
static struct bpath *path_in_turn(unsigned int kinds, unsigned int o, int *k)
{
	*k = run_order[o];
	if (!(kinds & KBIT(*k)) || !paths[*k].up)
		return NULL;
	return &paths[*k];
}

static void measure_tx_size(unsigned int sz, unsigned int rep, bool delayed,
			    const char *rname, unsigned int kinds)
{
	struct virtio_net_hdr_mrg_rxbuf h = { 0 };
	struct tx_result res;
	struct bpath *p;
	unsigned int o;
	char nm[32];
	int k, r;

	for (o = 0; o < NKINDS; o++) {
		struct row *rr = row_find(rname);

		p = path_in_turn(kinds, o, &k);
		if (!p)
			continue;
		vp_test_frame(small_frame[k][0], sz - 4, far_mac_of(p, 0),
			      p->dev[0].mac, 1);
		tx_prefill(&p->dev[0], &h, small_frame[k][0], sz - 4);
		r = tx_window(p, sz - 4, delayed, &res);
		if (r) {
			fail_row((enum kind)k, rname, r, p);
			continue;
		}
		row_add(rr, (enum kind)k, res.pps / 1e3);
		if ((sz == 64 || sz == 1500) && delayed) {
			snprintf(nm, sizeof(nm), "cpu-%s", rname);
			row_add(row_find(nm),
				(enum kind)k, res.cpu_ns / 1e3);
		}
		if (sz == 64 && delayed) {
			rr = row_find("engine-tx-64");
			if (k == K_ACCEL)
				row_add(rr, K_ACCEL, res.engine_ns / 1e3);
			else
				rr->na[k] = true;
		}
		vtap_out("#   %s %s rep %u: %.0f pps at the far side, %.0f completed; per frame: cpu %.2f us (softirq %.2f), engine %.2f us, kicks %.3f, guest sleeps %.3f, calls %.3f, completions per reap %.1f\n",
		    kind_name[k], rname, rep, res.pps,
		    res.completed * 1000.0 / window_ms, res.cpu_ns / 1e3,
		    res.softirq_ns / 1e3,
		    res.engine_ns / 1e3, res.kicks, res.sleeps, res.calls,
		    res.reaps > 0 ? 1 / res.reaps : 0);
		if (kind_is_vhost_accel(k)) {
			const struct vhost_accel_vq_stats *a = &res.st0.vq[VG_VQ_TX],
				*b = &res.st1.vq[VG_VQ_TX];
			double c = (double)(b->packets - a->packets);

			if (c > 0)
				vtap_out("#     vhost-accel counters per frame: kicks %.4f calls %.4f worker_wakeups %.4f (all queues), packets per wakeup %.1f, bytes_copied %" PRIu64 "\n",
				    (double)(b->kicks - a->kicks) / c,
				    (double)(b->calls - a->calls) / c,
				    (double)(res.st1.worker_wakeups -
					     res.st0.worker_wakeups) / c,
				    c / (double)(res.st1.worker_wakeups -
						 res.st0.worker_wakeups + 1),
				    (uint64_t)(b->bytes_copied - a->bytes_copied));
		}
	}
}

static void measure_tx_gso(unsigned int rep, unsigned int kinds)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct tx_result res;
	struct bpath *p;
	unsigned int o;
	size_t len;
	int k, r;

	for (o = 0; o < NKINDS; o++) {
		struct row *rr = row_find("tx-gso64k");

		p = path_in_turn(kinds, o, &k);
		if (!p)
			continue;
		len = build_gso(gso_frame, far_mac_of(p, 0), p->dev[0].mac, &h);
		tx_prefill(&p->dev[0], &h, gso_frame, (uint32_t)len);
		r = tx_window(p, (uint32_t)len, true, &res);
		if (r) {
			fail_row((enum kind)k, "tx-gso64k", r, p);
			continue;
		}
		row_add(rr, (enum kind)k, res.bps / 1e9);
		row_add(row_find("cpu-tx-gso64k"), (enum kind)k,
			res.cpu_ns / 1e3);
		vtap_out("#   %s tx-gso64k rep %u: %.0f frames/s completed, %.3f Gbit/s; %.0f packets at the far side; cpu %.1f us/frame, engine %.1f us/frame\n",
		    kind_name[k], rep, res.completed * 1000.0 / window_ms,
		    res.bps / 1e9, res.arrived, res.cpu_ns / 1e3,
		    res.engine_ns / 1e3);
	}
}

/* An Rx window where the guest got nothing: what the far side offered. */
static void rx_nodata(int k, const char *row, unsigned int rep, int r,
		      const struct rx_result *res)
{
	if (r == -ENODATA)
		vtap_out("#   %s %s rep %u: the guest got nothing (in the window: %.0f sent, refused by the far netdev %" PRIu64 ")\n",
		    kind_name[k], row, rep, res->sent, res->full_win);
}

static void measure_rx_size(unsigned int sz, unsigned int rep,
			    unsigned int kinds)
{
	struct rx_result res;
	struct bpath *p;
	unsigned int o;
	char nm[32];
	int k, r;

	snprintf(nm, sizeof(nm), "rx-%u", sz);
	for (o = 0; o < NKINDS; o++) {
		struct row *rr = row_find(nm);

		p = path_in_turn(kinds, o, &k);
		if (!p)
			continue;
		vp_test_frame(small_frame[k][1], sz - 4, p->dev[0].mac,
			      far_mac, 2);
		r = rx_window(p, small_frame[k][1], sz - 4, VP_ETH_P_TEST,
			      false, 0, 0, false, &res);
		if (r) {
			rx_nodata(k, nm, rep, r, &res);
			fail_row((enum kind)k, nm, r, p);
			continue;
		}
		row_add(rr, (enum kind)k, res.pps / 1e3);
		if (sz == 64 || sz == 1500) {
			char c[32];

			snprintf(c, sizeof(c), "cpu-rx-%u", sz);
			row_add(row_find(c),
				(enum kind)k, res.cpu_ns / 1e3);
		}
		if (sz == 64) {
			rr = row_find("engine-rx-64");
			if (k == K_ACCEL)
				row_add(rr, K_ACCEL, res.engine_ns / 1e3);
			else
				rr->na[k] = true;
		}
		vtap_out("#   %s %s rep %u: guest got %.0f pps (in the window: %.0f sent, %.0f got, %.0f not received; refused by the far netdev %" PRIu64 "); per frame: cpu %.2f us (softirq %.2f), engine %.2f us, kicks %.3f, guest sleeps %.3f, calls %.3f\n",
		    kind_name[k], nm, rep, res.pps, res.sent, res.got,
		    res.lost, res.full_win,
		    res.cpu_ns / 1e3, res.softirq_ns / 1e3, res.engine_ns / 1e3, res.kicks,
		    res.sleeps, res.calls);
	}
}

static void measure_rx_gso(unsigned int rep, unsigned int kinds)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct rx_result res;
	struct bpath *p;
	unsigned int o;
	size_t len;
	int k, r;

	for (o = 0; o < NKINDS; o++) {
		struct row *rr = row_find("rx-gso64k");

		p = path_in_turn(kinds, o, &k);
		if (!p)
			continue;
		len = build_gso(gso_rx_frame + sizeof(struct virtio_net_hdr),
				p->dev[0].mac, far_mac, &h);
		/* PACKET_VNET_HDR takes the 10-byte header */
		memcpy(gso_rx_frame, &h.hdr, sizeof(h.hdr));
		r = rx_window(p, gso_rx_frame, sizeof(struct virtio_net_hdr) + len,
			      ETH_P_IP, true, 0, 0, false, &res);
		if (r) {
			rx_nodata(k, "rx-gso64k", rep, r, &res);
			fail_row((enum kind)k, "rx-gso64k", r, p);
			continue;
		}
		row_add(rr, (enum kind)k, res.bps / 1e9);
		row_add(row_find("cpu-rx-gso64k"), (enum kind)k,
			res.cpu_ns / 1e3);
		vtap_out("#   %s rx-gso64k rep %u: %.3f Gbit/s in %.0f guest frames/s; %.0f GSO frames sent (refused %" PRIu64 "); cpu %.1f us/frame\n",
		    kind_name[k], rep, res.bps / 1e9, res.pps, res.sent,
		    res.full_win, res.cpu_ns / 1e3);
	}
}

/*
 * Rx with a guest slower than the wire, 64-byte frames at @pps (paced),
 * the guest spending BENCH_SLOW_US per frame; @fc: the flow-controlled
 * source.  0 or -errno; the detail line printed.
 */
static int slow_window(struct bpath *p, int k, unsigned int rep,
		       unsigned int pps, bool fc, struct rx_result *res)
{
	int r;

	vp_test_frame(small_frame[k][1], 60, p->dev[0].mac, far_mac, 3);
	r = rx_window(p, small_frame[k][1], 60, VP_ETH_P_TEST, false,
		      (uint64_t)slow_us * 1000, pps, fc, res);
	if (r)
		return r;
	vtap_out("#   %s slow Rx%s at %u frames/s rep %u: in the window offered %.0f (sent %.0f, refused by the far netdev %" PRIu64 "), guest got %.0f, lost %.0f; host CPU %.0f us/s (workers %.0f, softirq %.0f; not in it: the source thread %.0f), %.2f us per lost frame, %.2f us per frame sent (engine %.2f us per lost frame); whole run: %" PRIu64 " accepted by the far netdev, %" PRIu64 " got by the guest%s",
	    kind_name[k], fc ? ", flow-controlled source" : "", pps, rep,
	    res->offered, res->sent, res->full_win, res->got, res->lost,
	    res->cpu_win_ns / res->win_ns * 1e6,
	    res->worker_win_ns / res->win_ns * 1e6,
	    (res->cpu_win_ns - res->worker_win_ns) / res->win_ns * 1e6,
	    res->src_win_ns / res->win_ns * 1e6,
	    res->cpu_per_lost_ns / 1e3,
	    res->sent > 0 ? res->cpu_win_ns / res->sent / 1e3 : 0,
	    res->engine_per_lost_ns / 1e3, res->total_sent, res->total_got,
	    fc ? "" : "\n");
	if (fc)
		vtap_out(", %" PRIu64 " waits after a refusal\n", res->fc_waits);
	return 0;
}

/*
 * The marginal host CPU per dropped frame between two loads: the extra
 * CPU per second over the extra drops per second, us; false if the
 * higher load did not drop more.
 */
static bool marginal_drop(const struct rx_result *lo,
			  const struct rx_result *hi, double *us)
{
	double dc = hi->cpu_win_ns / hi->win_ns - lo->cpu_win_ns / lo->win_ns;
	double dd = hi->lost / hi->win_ns - lo->lost / lo->win_ns;

	if (dd <= 0)
		return false;
	*us = dc / dd / 1e3;
	return true;
}

/*
 * A guest slower than the wire.  Without flow control, at BENCH_SLOW_PPS
 * and at BENCH_SLOW_PPS_HI: frames lost and CPU per lost frame at the
 * first, the marginal CPU per dropped frame between the two.  With it
 * (vhost-accel bound with VHOST_ACCEL_BIND_F_FLOW_CONTROL, the source
 * waiting and retrying when the far netdev refuses), at BENCH_SLOW_PPS:
 * frames accepted and never received, CPU per frame accepted.
 */
static void measure_slow(unsigned int rep, struct bpath *fcpath)
{
	struct rx_result lo[NBASE], hi, lo_s, hi_s;
	bool have_lo[NBASE] = { false };
	double us, us_s;
	int k, r;

	for (k = 0; k < NBASE; k++) {
		struct bpath *p = &paths[k];

		if (!p->up)
			continue;
		r = slow_window(p, k, rep, slow_pps, false, &lo[k]);
		if (r) {
			fail_row((enum kind)k, "slow-cpu/drop", r, p);
			continue;
		}
		have_lo[k] = true;
		row_add(row_find("slow-cpu/drop"), (enum kind)k,
			lo[k].cpu_per_lost_ns / 1e3);
		row_add(row_find("slow-lost"), (enum kind)k,
			lo[k].offered > 0 ? 100 * lo[k].lost / lo[k].offered : 0);
	}
	for (k = 0; slow_pps_hi > slow_pps && k < NBASE; k++) {
		struct bpath *p = &paths[k];

		if (!p->up || !have_lo[k])
			continue;
		r = slow_window(p, k, rep, slow_pps_hi, false, &hi);
		if (!r && !marginal_drop(&lo[k], &hi, &us))
			r = -ERANGE;	/* no more drops at the higher load */
		if (r) {
			fail_row((enum kind)k, "slow-cpu/mdrop", r, p);
			continue;
		}
		row_add(row_find("slow-cpu/mdrop"), (enum kind)k, us);
		/* the same with the source thread's CPU counted too */
		lo_s = lo[k];
		hi_s = hi;
		lo_s.cpu_win_ns += lo_s.src_win_ns;
		hi_s.cpu_win_ns += hi_s.src_win_ns;
		if (!marginal_drop(&lo_s, &hi_s, &us_s))
			us_s = 0;
		vtap_out("#   %s slow Rx rep %u: marginal host CPU %.2f us per dropped frame between %u and %u frames/s (%.2f us counting the source thread too)\n",
		    kind_name[k], rep, us, slow_pps, slow_pps_hi, us_s);
	}
	for (k = 0; k < NBASE; k++) {
		struct bpath *p = k == K_ACCEL ? fcpath : &paths[k];

		if (!p->up)
			continue;
		r = slow_window(p, k, rep, slow_pps, true, &hi);
		if (r) {
			fail_row((enum kind)k, "slowfc-lost", r, p);
			continue;
		}
		row_add(row_find("slowfc-lost"), (enum kind)k,
			hi.total_sent > hi.total_got ?
			(double)(hi.total_sent - hi.total_got) : 0);
		if (hi.sent > 0)
			row_add(row_find("slowfc-cpu/frame"), (enum kind)k,
				hi.cpu_win_ns / hi.sent / 1e3);
	}
}

/*
 * Scaling: one guest thread of several, driving its own devices (a
 * disjoint share of the path's) through warm-up and the window; the
 * threads start the window together (when main sets @go, once all are
 * @ready).
 */
struct scale_go {
	atomic_uint ready;
	atomic_bool go;
};

struct scale_thr {
	struct bdev **devs;
	unsigned int n;
	struct scale_go *go;
	pthread_t th_id;
	double done[MAX_DEVS];	/* completions in the window, per device */
	double t;		/* the window, s */
	int r;
};

static void *scale_main(void *arg)
{
	struct scale_thr *th = arg;
	uint64_t done0[MAX_DEVS], t0;
	unsigned int i;
	int r;

	const struct timespec nap = { .tv_nsec = 100000 };

	r = tx_run(th->devs, th->n, 60, WARM_MS, true);
	atomic_fetch_add(&th->go->ready, 1);
	while (!atomic_load(&th->go->go))
		nanosleep(&nap, NULL);
	for (i = 0; i < th->n; i++)
		done0[i] = th->devs[i]->g.tx_completed;
	t0 = now_ns();
	if (!r)
		r = tx_run(th->devs, th->n, 60, window_ms, true);
	th->t = (double)(now_ns() - t0) / 1e9;
	/* the window's completions; what is drained after is not */
	for (i = 0; i < th->n; i++)
		th->done[i] = (double)(th->devs[i]->g.tx_completed - done0[i]);
	for (i = 0; !r && i < th->n; i++)
		r = vg_net_tx_drain(&th->devs[i]->g, 2000);
	th->r = r;
	return NULL;
}

/*
 * Tx from @n devices at once, @nt guest threads (device i to thread
 * i % nt): aggregate and slowest device's rate; 0 or -errno.
 */
static int scale_run(struct bpath *p, unsigned int n, unsigned int nt,
		     double *sum, double *mn)
{
	struct bdev *devs[MAX_DEVS];
	static struct scale_thr th[MAX_DEVS];
	const struct timespec nap = { .tv_nsec = 100000 };
	struct scale_go go;
	unsigned int i, j, started = 0;
	int r = 0;

	memset(th, 0, sizeof(th));
	atomic_init(&go.ready, 0);
	atomic_init(&go.go, false);
	for (j = 0; j < nt; j++) {
		th[j].devs = &devs[j * ((n + nt - 1) / nt)];
		th[j].go = &go;
	}
	for (i = 0; i < n; i++) {
		struct scale_thr *t = &th[i % nt];

		/* thread j's devices: i = j, j + nt, ... packed in its slice */
		t->devs[t->n++] = &p->dev[i];
	}
	for (j = 0; j < nt; j++) {
		if (pthread_create(&th[j].th_id, NULL, scale_main, &th[j]))
			break;
		started++;
	}
	if (started < nt)
		r = -EAGAIN;	/* nothing measured: the rest still run */
	while (atomic_load(&go.ready) < started)
		nanosleep(&nap, NULL);
	atomic_store(&go.go, true);
	*sum = 0;
	*mn = 1e30;
	for (j = 0; j < started; j++) {
		pthread_join(th[j].th_id, NULL);
		if (th[j].r && !r)
			r = th[j].r;
		for (i = 0; i < th[j].n; i++) {
			double rate = th[j].done[i] / th[j].t;

			*sum += rate;
			if (rate < *mn)
				*mn = rate;
		}
	}
	return r;
}

static void measure_scale(unsigned int n, struct bpath *sp, unsigned int rep)
{
	struct virtio_net_hdr_mrg_rxbuf h = { 0 };
	unsigned int nt = scale_threads < n ? scale_threads : n;
	char nm[32], nf[32];
	double sum, mn;
	unsigned int i;
	int k, r;

	snprintf(nm, sizeof(nm), "scale-%u", n);
	snprintf(nf, sizeof(nf), "scale-%u-fair", n);
	for (k = 0; k < NBASE; k++) {
		struct bpath *p = &sp[k];

		if (!p->up)
			continue;
		for (i = 0; i < n; i++) {
			vp_test_frame(small_frame[k][0], 60, far_mac_of(p, i),
				      p->dev[i].mac, 4);
			tx_prefill(&p->dev[i], &h, small_frame[k][0], 60);
		}
		r = scale_run(p, n, nt, &sum, &mn);
		if (r) {
			fail_row((enum kind)k, nm, r, p);
			continue;
		}
		row_add(row_find(nm), (enum kind)k, sum / 1e3);
		if (n > 1)
			row_add(row_find(nf), (enum kind)k,
				sum > 0 ? mn / (sum / n) : 0);
		vtap_out("#   %s %u devices rep %u: %u guest thread%s%s; %.0f pps aggregate, slowest device %.0f pps, mean %.0f\n",
		    kind_name[k], n, rep, nt, nt > 1 ? "s" : "",
		    k == K_ACCEL ? (p->engine.n > 1 ? ", several nicsim engines" :
				    ", one nicsim engine") : "",
		    sum, mn, sum / n);
	}
}

/* --------------------------------------------------------- latency */

struct echo {
	struct vp_nic *nic;
	int fd;
	atomic_bool stop;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	uint8_t buf[2048], tmp[6];
	ssize_t n;

	while (!atomic_load(&e->stop)) {
		n = vp_packet_recv(e->fd, buf, sizeof(buf), 50, NULL);
		if (n < 14)
			continue;
		memcpy(tmp, buf, 6);
		memcpy(buf, buf + 6, 6);
		memcpy(buf + 6, tmp, 6);
		vp_packet_send(e->nic, e->fd, buf, (size_t)n);
	}
	return NULL;
}

#define LAT_SLICES	10

static uint64_t lat[NKINDS][LAT_MAX];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct lat_state {
	struct echo e;
	pthread_t th;
	bool running;
	uint64_t n, lost, tmo, stale;
	uint32_t seq;		/* of the request in flight */
	int err;
};

/* Number the frame in the Tx slot the next tx_fill() posts. */
static void lat_number(struct bdev *d, uint32_t seq)
{
	uint32_t id = d->g.tx_free[d->g.tx_nfree - 1];
	uint8_t *fr = d->g.tx_pool + (uint64_t)id * d->g.tx_stride + HDR_LEN;
	uint8_t dst[6], src[6];

	memcpy(dst, fr, 6);
	memcpy(src, fr + 6, 6);
	vp_test_frame(fr, 60, dst, src, seq);
}

/* Round trips on device 0 of @p for @ms, appended to @st / lat[k]. */
static int lat_slice(struct bpath *p, enum kind k, unsigned int ms,
		     struct lat_state *st)
{
	struct bdev *d = &p->dev[0];
	uint64_t end = now_ns() + (uint64_t)ms * 1000000, t0, dl;
	struct vg_net_rx f;
	int r = 0;

	while (now_ns() < end && st->n < LAT_MAX) {
		r = vg_net_tx_reap(&d->g);
		if (r < 0)
			return r;
		if (!d->g.tx_nfree)
			continue;
		/* a reply is the one with our number: not an earlier one */
		lat_number(d, ++st->seq);
		t0 = now_ns();
		r = tx_fill(d, 60, 1);
		if (r < 0)
			return r;
		dl = t0 + 200000000ULL;
		for (;;) {
			r = vg_net_rx_get(&d->g, &f);
			if (!r && vp_test_frame_seq(f.data, f.len) != st->seq) {
				st->stale++;
				r = vg_net_rx_fill(&d->g, d->g.rx_nfree);
				if (r >= 0)
					r = vg_net_rx_kick(&d->g);
				if (r < 0)
					return r;
				continue;
			}
			if (r != -EAGAIN || now_ns() > dl)
				break;
			if (!vg_vq_arm_cb(&d->g.d, VG_VQ_RX, false) &&
			    vg_vq_wait_call(&d->g.d, VG_VQ_RX, 10))
				st->tmo++;
			vg_vq_disable_cb(&d->g.d, VG_VQ_RX);
		}
		if (r == -EAGAIN) {
			st->lost++;
			continue;
		}
		if (r)
			return r;
		lat[k][st->n++] = now_ns() - t0;
		r = vg_net_rx_fill(&d->g, d->g.rx_nfree);
		if (r >= 0)
			r = vg_net_rx_kick(&d->g);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Latency on the paths in @kinds: the window is cut in LAT_SLICES slices
 * taken in turn by the paths, so a busy moment of the machine hits them
 * alike.
 */
static void measure_latency(unsigned int rep, unsigned int kinds)
{
	struct virtio_net_hdr_mrg_rxbuf h = { 0 };
	struct lat_state st[NKINDS];
	unsigned int sl;
	int k;

	memset(st, 0, sizeof(st));
	for (k = 0; k < NKINDS; k++) {
		struct bpath *p = &paths[k];
		struct bdev *d;

		if (!(kinds & KBIT(k)) || !p->up)
			continue;
		d = &p->dev[0];
		st[k].e.nic = far_nic(p, 0);
		atomic_init(&st[k].e.stop, false);
		st[k].e.fd = vp_packet_open(st[k].e.nic, VP_ETH_P_TEST, 0);
		if (st[k].e.fd < 0 ||
		    pthread_create(&st[k].th, NULL, echo_main, &st[k].e)) {
			if (st[k].e.fd >= 0)
				close(st[k].e.fd);
			fail_row((enum kind)k, "lat-p50", -EAGAIN, p);
			continue;
		}
		st[k].running = true;
		vp_test_frame(small_frame[k][0], 60, far_mac_of(p, 0), d->mac,
			      5);
		tx_prefill(d, &h, small_frame[k][0], 60);
	}
	for (sl = 0; sl < LAT_SLICES; sl++)
		for (k = 0; k < NKINDS; k++)
			if (st[k].running && !st[k].err)
				st[k].err = lat_slice(&paths[k], (enum kind)k,
						      window_ms / LAT_SLICES,
						      &st[k]);
	for (k = 0; k < NKINDS; k++) {
		struct lat_state *s = &st[k];
		uint64_t n = s->n;

		if (!s->running)
			continue;
		atomic_store(&s->e.stop, true);
		pthread_join(s->th, NULL);
		close(s->e.fd);
		if (!s->err)
			s->err = vg_net_tx_drain(&paths[k].dev[0].g, 2000);
		if (s->err || !n) {
			fail_row((enum kind)k, "lat-p50",
				 s->err ? s->err : -ETIMEDOUT, &paths[k]);
			continue;
		}
		qsort(lat[k], n, sizeof(lat[k][0]), cmp_u64);
		row_add(row_find("lat-p50"), (enum kind)k,
			(double)lat[k][n / 2] / 1e3);
		row_add(row_find("lat-p99"), (enum kind)k,
			(double)lat[k][n * 99 / 100] / 1e3);
		vtap_out("#   %s latency rep %u: %" PRIu64 " round trips (%" PRIu64 " lost, %" PRIu64 " stale replies dropped, %" PRIu64 " 10-ms waits without a call), median %.1f us, p99 %.1f us\n",
		    kind_name[k], rep, n, s->lost, s->stale, s->tmo,
		    (double)lat[k][n / 2] / 1e3,
		    (double)lat[k][n * 99 / 100] / 1e3);
	}
}

/* ------------------------------------------------------------ switch */

/*
 * The switch: a device bound through a macvtap on nicsim (accelerated),
 * traffic both ways at a modest paced rate; nicsim's reset_qps takes the
 * queue pair back, the device goes on copying through the macvtap, and
 * the kernel attaches a queue pair again 200 ms later.  Timed by polling
 * GET_STATS between guest turns, SW_TURN_US apart.
 */
#define SW_RX_PPS	10000	/* far side -> guest */
#define SW_TX_PER_MS	8	/* guest -> far side, numbered frames */
#define SW_TURN_US	200
#define SW_WAIT_MS	5000	/* for a datapath and frames on it */
#define SW_SETTLE_MS	300	/* traffic after a repetition, before counting */

struct sw_state {
	struct vp_nic nic;
	struct bdev d;
	char mvtap[VP_IFNAMSIZ];
	int fd;			/* far side: sender and sink */
	struct vg_sender s;
	bool sending;
	uint32_t dp;		/* GET_STATS datapath of the last turn */
	uint64_t switches, switch_drops, no_buf;
	uint64_t rx;		/* frames the guest got */
	uint32_t tx_seq;	/* last numbered guest frame posted */
	uint64_t tx_posted, tx_arrived;
	uint32_t arrived_max;	/* highest number the far side got */
	uint64_t next_tx;
	char err[320];
};

/* The far side's arrivals since the last turn: count, highest number. */
static int sw_far_rx(struct sw_state *w)
{
	uint8_t buf[128];
	int64_t seq;
	ssize_t n;

	for (;;) {
		n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		seq = vp_test_frame_seq(buf, (size_t)n < sizeof(buf) ?
					(size_t)n : sizeof(buf));
		if (seq < 0 || memcmp(buf + 6, w->d.mac, 6))
			continue;
		w->tx_arrived++;
		if ((uint32_t)seq > w->arrived_max)
			w->arrived_max = (uint32_t)seq;
	}
}

/* One guest turn: datapath, Rx reaped and reposted, Tx paced, far side. */
static int sw_turn(struct sw_state *w)
{
	struct vhost_accel_stats st;
	struct vg_net_rx f;
	unsigned int i;
	int r, got = 0;

	r = vg_get_stats(&w->d.g.d, &st);
	if (r)
		return r;
	w->dp = st.datapath;
	w->switches = st.datapath_switches;
	w->switch_drops = st.switch_drops;
	w->no_buf = st.vq[VG_VQ_RX].drops_no_buf;
	while ((r = vg_net_rx_get(&w->d.g, &f)) == 0)
		got++;
	if (r != -EAGAIN)
		return r;
	if (got) {
		w->rx += (uint64_t)got;
		r = vg_net_rx_fill(&w->d.g, w->d.g.rx_nfree);
		if (r >= 0)
			r = vg_net_rx_kick(&w->d.g);
		if (r < 0)
			return r;
	}
	r = vg_net_tx_reap(&w->d.g);
	if (r < 0)
		return r;
	if (now_ns() >= w->next_tx) {
		for (i = 0; i < SW_TX_PER_MS && w->d.g.tx_nfree; i++) {
			lat_number(&w->d, w->tx_seq + 1);
			r = tx_fill(&w->d, 60, 1);
			if (r < 0)
				return r;
			if (!r)
				break;
			w->tx_seq++;
			w->tx_posted++;
		}
		w->next_tx = now_ns() + 1000000;
	}
	r = sw_far_rx(w);
	if (r)
		return r;
	usleep(SW_TURN_US);
	return 0;
}

static const char *dp_name(uint32_t dp)
{
	return dp == VHOST_ACCEL_DATAPATH_ACCEL ? "ACCEL" :
	       dp == VHOST_ACCEL_DATAPATH_COPY ? "COPY" : "NONE";
}

/*
 * Turns until GET_STATS says @want (*@seen: the start of that turn), then
 * until frames flow both ways on it (*@flow): a frame the guest reaped
 * after that turn, and a frame the guest posted after it at the far side.
 */
static int sw_wait(struct sw_state *w, uint32_t want, uint64_t *seen,
		   uint64_t *flow)
{
	uint64_t end = now_ns() + SW_WAIT_MS * 1000000ULL, t, rx_mark = 0;
	uint32_t seq_mark = 0;
	bool marked = false;
	int r;

	*seen = *flow = 0;
	while ((t = now_ns()) < end) {
		r = sw_turn(w);
		if (r)
			return snprintf(w->err, sizeof(w->err), "guest turn: %s",
					strerror(-r)), r;
		if (!marked) {
			if (w->dp != want)
				continue;
			marked = true;
			*seen = t;
			rx_mark = w->rx;
			seq_mark = w->tx_seq;
			continue;
		}
		if (w->dp != want)
			return snprintf(w->err, sizeof(w->err),
					"datapath %s, then %s before frames flowed on it",
					dp_name(want), dp_name(w->dp)), -EPROTO;
		if (w->rx > rx_mark && w->arrived_max > seq_mark) {
			*flow = now_ns();
			return 0;
		}
	}
	return snprintf(w->err, sizeof(w->err),
			"%s: datapath %s, guest got %" PRIu64 " frames since, far side highest %u of %u posted",
			marked ? "no frames both ways within 5 s" :
			"not seen within 5 s", dp_name(w->dp),
			w->rx - rx_mark, w->arrived_max, w->tx_seq), -ETIMEDOUT;
}

static void sw_down(struct sw_state *w)
{
	if (w->sending)
		vg_sender_stop(&w->s);
	w->sending = false;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->d.g.opened) {
		vg_net_stop(&w->d.g);
		vg_net_close(&w->d.g);
	}
	if (w->d.tapfd >= 0)
		close(w->d.tapfd);
	w->d.tapfd = -1;
	/* the macvtap goes with its lower device */
	vp_nic_destroy(&w->nic);
}

/* nicsim, a macvtap on it, /dev/vhost-accel through it: accelerated. */
static int sw_up(struct sw_state *w)
{
	static const uint8_t sw_mac[6] = { 0x02, 0x76, 0x78, 0x62, 0x70, 0 };
	static uint8_t rx_frame[60];
	struct virtio_net_hdr_mrg_rxbuf h = { 0 };
	struct vg_net_cfg cfg = {
		.features = VG_FBIT(VIRTIO_F_VERSION_1) |
			    VG_FBIT(VIRTIO_RING_F_EVENT_IDX) |
			    VG_FBIT(VIRTIO_NET_F_MRG_RXBUF),
		.rx_num = RING,
		.tx_num = RING,
		.tx_slot_len = 2048,
	};
	struct vhost_accel_stats st;
	uint8_t frame[60];
	int r;

	w->fd = w->d.tapfd = -1;
	memcpy(w->d.mac, sw_mac, sizeof(sw_mac));
	r = vp_nic_create(&w->nic, 'W');
	if (r)
		return snprintf(w->err, sizeof(w->err), "%s", w->nic.err), r;
	snprintf(w->mvtap, sizeof(w->mvtap), "bmW0");
	r = macvtap_open(w->nic.name, w->mvtap, w->d.mac, &w->d.tapfd, w->err,
			 sizeof(w->err));
	if (r)
		return r;
	r = vg_net_open(&w->d.g, VG_DEV_ACCEL, &cfg);
	if (r)
		return snprintf(w->err, sizeof(w->err), "open %s: %s",
				VG_DEV_ACCEL, strerror(-r)), r;
	r = vg_net_rx_fill(&w->d.g, w->d.g.rx_nbufs);
	if (r >= 0)
		r = vg_net_start(&w->d.g, w->d.tapfd);
	if (!r)
		r = vg_vq_kick(&w->d.g.d, VG_VQ_RX);
	if (!r)
		r = vg_get_stats(&w->d.g.d, &st);
	if (r)
		return snprintf(w->err, sizeof(w->err),
				"Rx buffers/SET_BACKEND/GET_STATS: %s",
				strerror(-r)), r;
	if (st.datapath != VHOST_ACCEL_DATAPATH_ACCEL)
		return snprintf(w->err, sizeof(w->err),
				"GET_STATS datapath %s, not ACCEL",
				dp_name(st.datapath)), -EPROTO;
	vg_vq_disable_cb(&w->d.g.d, VG_VQ_RX);
	vg_vq_disable_cb(&w->d.g.d, VG_VQ_TX);
	vp_test_frame(frame, sizeof(frame), far_mac, w->d.mac, 0);
	tx_prefill(&w->d, &h, frame, sizeof(frame));
	w->fd = vp_packet_open(&w->nic, VP_ETH_P_TEST, VP_PKT_QDISC_BYPASS);
	if (w->fd < 0)
		return snprintf(w->err, sizeof(w->err), "far-side socket: %s",
				strerror(-w->fd)), w->fd;
	vp_test_frame(rx_frame, sizeof(rx_frame), w->d.mac, far_mac, 6);
	r = sender_start(&w->s, &w->nic, w->fd, rx_frame, sizeof(rx_frame),
			 SW_RX_PPS, NULL);
	if (r)
		return snprintf(w->err, sizeof(w->err), "sender: %s",
				strerror(-r)), r;
	w->sending = true;
	return 0;
}

/* One reset of the queue pair: to copying and back, timed. */
static int sw_cycle(struct sw_state *w, unsigned int rep)
{
	uint64_t t_reset, c_seen, c_flow, a_seen, a_flow, end;
	uint64_t sw0, dr0, nb0, rx0, sent0, posted0, arr0;
	char name[160];
	int r;

	r = sw_wait(w, VHOST_ACCEL_DATAPATH_ACCEL, &a_seen, &a_flow);
	if (r)
		return r;
	sw0 = w->switches;
	dr0 = w->switch_drops;
	nb0 = w->no_buf;
	rx0 = w->rx;
	sent0 = atomic_load(&w->s.sent);
	posted0 = w->tx_posted;
	arr0 = w->tx_arrived;
	t_reset = now_ns();
	r = vp_nic_knob_write(&w->nic, "reset_qps", "1");
	if (r)
		return snprintf(w->err, sizeof(w->err), "reset_qps: %s",
				strerror(-r)), r;
	r = sw_wait(w, VHOST_ACCEL_DATAPATH_COPY, &c_seen, &c_flow);
	if (!r)
		r = sw_wait(w, VHOST_ACCEL_DATAPATH_ACCEL, &a_seen, &a_flow);
	if (r)
		return r;
	end = now_ns() + SW_SETTLE_MS * 1000000ULL;
	while (!r && now_ns() < end)
		r = sw_turn(w);
	if (r)
		return snprintf(w->err, sizeof(w->err), "guest turn: %s",
				strerror(-r)), r;
	vtap_out("#   switch rep %u: reset_qps -> COPY seen %.1f ms, frames both ways %.1f ms; COPY -> ACCEL seen %.1f ms, frames both ways %.1f ms; datapath_switches +%" PRIu64 ", switch_drops +%" PRIu64 ", Rx drops_no_buf +%" PRIu64 "; guest Rx %" PRIu64 " of %" PRIu64 " sent, far side got %" PRIu64 " of %" PRIu64 " posted (counted %u ms after)\n",
	    rep, (double)(c_seen - t_reset) / 1e6,
	    (double)(c_flow - t_reset) / 1e6, (double)(a_seen - c_seen) / 1e6,
	    (double)(a_flow - c_seen) / 1e6, w->switches - sw0,
	    w->switch_drops - dr0, w->no_buf - nb0, w->rx - rx0,
	    (uint64_t)atomic_load(&w->s.sent) - sent0,
	    w->tx_arrived - arr0, w->tx_posted - posted0, SW_SETTLE_MS);
	snprintf(name, sizeof(name),
		 "switch rep %u: to copying %.1f ms, back to accelerated %.1f ms",
		 rep, (double)(c_flow - t_reset) / 1e6,
		 (double)(a_flow - c_seen) / 1e6);
	if (w->switches - sw0 != 2)
		return snprintf(w->err, sizeof(w->err),
				"%s: datapath_switches +%" PRIu64 ", not +2",
				name, w->switches - sw0), -EPROTO;
	row_add(row_find("switch-to-copy"), K_ACCEL,
		(double)(c_flow - t_reset) / 1e6);
	row_add(row_find("switch-to-accel"), K_ACCEL,
		(double)(a_flow - c_seen) / 1e6);
	vtap_case(true, name, NULL);
	return 0;
}

static void phase_switch(void)
{
	struct sw_state w;
	unsigned int rep;
	int r;

	memset(&w, 0, sizeof(w));
	r = sw_up(&w);
	vtap_case(!r, "switch: vhost-accel bound through a macvtap on nicsim, accelerated",
		  w.err);
	for (rep = 1; !r && rep <= reps; rep++) {
		w.err[0] = '\0';
		r = sw_cycle(&w, rep);
		if (r) {
			row_find("switch-to-copy")->failed[K_ACCEL] = true;
			row_find("switch-to-accel")->failed[K_ACCEL] = true;
			vtap_case(false, "switch", w.err);
		}
	}
	sw_down(&w);
}

/* ------------------------------------------------------------- main */

struct row_def {
	const char *name, *unit, *what;
	bool lower_better;
	unsigned int flags;
};

#define R_COPY		0x1	/* measured on the copying paths too */
#define R_TARGET	0x2	/* the copying datapath's target applies */
#define R_SWITCH	0x4	/* the switch device only (vhost-accel column) */
#define R_VNIC		0x8	/* measured on the virtio-net NIC's paths too */
#define R_VTARGET	0x10	/* issue 16's target applies (vnic vs vnic-macvtap) */

static const struct row_def row_defs[] = {
	{ "tx-64", "kpps", "guest Tx, 64-byte frames (60 + FCS; 72-byte buffer with the 12-byte virtio-net header), arrivals at the far side", false, R_COPY | R_TARGET | R_VNIC | R_VTARGET },
	{ "rx-64", "kpps", "guest Rx, 64-byte frames (60 + FCS; 72 with the header), frames the guest reaped", false, R_COPY | R_TARGET | R_VNIC | R_VTARGET },
	{ "tx-512", "kpps", "guest Tx, 512-byte frames (508 + FCS; 520 with the header)", false, 0 },
	{ "rx-512", "kpps", "guest Rx, 512-byte frames", false, 0 },
	{ "tx-1500", "kpps", "guest Tx, 1500-byte frames (1496 + FCS; 1508 with the header)", false, R_COPY | R_TARGET | R_VNIC },
	{ "rx-1500", "kpps", "guest Rx, 1500-byte frames", false, R_COPY | R_TARGET | R_VNIC },
	{ "tx-gso64k", "Gbit/s", "guest Tx of 64 KiB TCP/IPv4 GSO frames (IP length 65535, MSS 1448): frame bits completed by the device", false, R_COPY | R_TARGET | R_VNIC },
	{ "rx-gso64k", "Gbit/s", "64 KiB TCP GSO frames sent by the far side (PACKET_VNET_HDR): frame bits the guest received", false, R_COPY | R_TARGET | R_VNIC },
	{ "tx-64-cbeach", "kpps", "as tx-64, but the guest asks for a call at every completion instead of at 3/4 of the ring", false, 0 },
	{ "cpu-tx-64", "us/pkt", "host CPU per frame in tx-64: worker kthreads (schedstat) + all softirq (/proc/stat); nicsim engine excluded", true, R_COPY | R_TARGET | R_VNIC | R_VTARGET },
	{ "cpu-rx-64", "us/pkt", "host CPU per frame in rx-64, as cpu-tx-64", true, R_COPY | R_TARGET | R_VNIC | R_VTARGET },
	{ "cpu-tx-1500", "us/pkt", "host CPU per frame in tx-1500", true, R_COPY | R_TARGET | R_VNIC },
	{ "cpu-rx-1500", "us/pkt", "host CPU per frame in rx-1500", true, R_COPY | R_TARGET | R_VNIC },
	{ "cpu-tx-gso64k", "us/frame", "host CPU per 64 KiB GSO frame completed in tx-gso64k", true, R_COPY | R_TARGET | R_VNIC },
	{ "cpu-rx-gso64k", "us/frame", "host CPU per frame the guest received in rx-gso64k", true, R_COPY | R_TARGET | R_VNIC },
	{ "engine-tx-64", "us/pkt", "nicsim engine kthread per frame in tx-64 (simulated hardware: reported apart, not in cpu-*)", true, 0 },
	{ "engine-rx-64", "us/pkt", "nicsim engine kthread per frame in rx-64", true, 0 },
	{ "copied-bytes", "B/pkt", "payload bytes the CPU copied per frame (VHOST_ACCEL_GET_STATS bytes_copied / packets, whole run; the copying paths too)", true, R_COPY | R_VNIC },
	{ "slow-cpu/drop", "us/drop", "64-byte Rx at BENCH_SLOW_PPS to a guest that spends BENCH_SLOW_US per frame: host CPU (workers + softirq) per frame lost", true, 0 },
	{ "slow-lost", "%", "frames the far side sent that the slow guest did not get", true, 0 },
	{ "slow-cpu/mdrop", "us/drop", "marginal host CPU per dropped frame: (CPU/s at BENCH_SLOW_PPS_HI - at BENCH_SLOW_PPS) / (drops/s at the one - at the other)", true, 0 },
	{ "slowfc-lost", "frames", "slow guest at BENCH_SLOW_PPS, the source waiting and retrying what the far netdev refuses, accel bound with VHOST_ACCEL_BIND_F_FLOW_CONTROL: frames the far netdev accepted that the guest never got, whole run", true, 0 },
	{ "slowfc-cpu/frame", "us/pkt", "the same: host CPU (workers + softirq) per frame the far netdev accepted in the window", true, 0 },
	{ "scale-1", "kpps", "1 device, 64-byte guest Tx: aggregate completions", false, 0 },
	{ "scale-4", "kpps", "4 devices on one NIC (distinct MACs; tap: 4 taps; up to BENCH_SCALE_THREADS guest threads, nicsim with BENCH_ENGINES engines), aggregate", false, 0 },
	{ "scale-16", "kpps", "16 devices, aggregate", false, 0 },
	{ "scale-64", "kpps", "64 devices, aggregate", false, 0 },
	{ "scale-4-fair", "min/mean", "slowest device's rate / mean device rate, 4 devices", false, 0 },
	{ "scale-16-fair", "min/mean", "the same, 16 devices", false, 0 },
	{ "scale-64-fair", "min/mean", "the same, 64 devices", false, 0 },
	{ "lat-p50", "us", "request/response round trip, guest -> far-side echo thread -> guest, 64-byte frames: median", true, R_VNIC },
	{ "lat-p99", "us", "the same, 99th percentile", true, R_VNIC },
	{ "switch-to-copy", "ms", "vhost-accel bound through a macvtap on nicsim, traffic both ways: nicsim reset_qps written -> GET_STATS says COPY and frames flow both ways again", true, R_SWITCH },
	{ "switch-to-accel", "ms", "then: GET_STATS first said COPY -> says ACCEL and frames flow both ways again (the kernel retries every 200 ms)", true, R_SWITCH },
};

static void define_rows(void)
{
	unsigned int i;

	const struct row_def *d;
	struct row *r;
	int k;

	for (i = 0; i < VP_ARRAY_SIZE(row_defs); i++) {
		d = &row_defs[i];
		r = row_get(d->name, d->unit, d->what, d->lower_better);
		r->target = d->flags & R_TARGET;
		r->vtarget = d->flags & R_VTARGET;
		for (k = 0; k < NKINDS; k++) {
			if (kind_is_copy((enum kind)k) && !(d->flags & R_COPY))
				r->na[k] = true;
			if (kind_is_vnic((enum kind)k) && !(d->flags & R_VNIC))
				r->na[k] = true;
			if (k != K_ACCEL && (d->flags & R_SWITCH))
				r->na[k] = true;
		}
	}
}

static bool part(const char *parts, const char *name)
{
	return !parts || !*parts || strstr(parts, name);
}

static unsigned int env_uint(const char *name, unsigned int def,
			     unsigned int lo, unsigned int hi)
{
	const char *e = getenv(name);
	long v;

	if (!e || !*e)
		return def;
	v = strtol(e, NULL, 10);
	return v < lo ? lo : v > hi ? hi : (unsigned int)v;
}

/*
 * Bytes the CPU copied per frame on a vhost-accel path, whole run; a
 * copying path must still be copying.
 */
static void measure_copied(struct bpath *p)
{
	struct vhost_accel_stats st;
	struct row *r = row_find("copied-bytes");
	char name[96];
	double pk, cp;
	int e, k;

	for (k = 0; k < NKINDS; k++)
		if (!kind_is_vhost_accel((enum kind)k))
			r->na[k] = true;
	if (!p->up)
		return;
	e = vg_get_stats(&p->dev[0].g.d, &st);
	if (e) {
		fail_row(p->kind, "copied-bytes", e, p);
		return;
	}
	pk = (double)(st.vq[0].packets + st.vq[1].packets);
	cp = (double)(st.vq[0].bytes_copied + st.vq[1].bytes_copied);
	if (pk > 0)
		row_add(r, p->kind, cp / pk);
	vtap_out("#   %s whole run: %.0f packets, %.0f bytes copied, worker_wakeups %" PRIu64 ", datapath %u\n",
	    kind_name[p->kind], pk, cp, (uint64_t)st.worker_wakeups,
	    st.datapath);
	if (kind_is_copy(p->kind)) {
		snprintf(name, sizeof(name), "%s: still copying at the end",
			 kind_name[p->kind]);
		p->err[0] = '\0';
		vtap_case(!check_copying(p, 0), name, p->err);
	}
}

/*
 * Rates at each size and GSO, both ways: the original three paths with
 * "size", and the copying paths with their references at 64 and 1500
 * bytes and GSO with "copy".
 */
static void phase_sizes(unsigned int size_kinds, unsigned int copy_kinds)
{
	static const unsigned int sizes[] = { 64, 512, 1500 };
	unsigned int rep, i, kinds;
	char nm[16];

	for (rep = 1; rep <= reps; rep++) {
		vtap_out("# sizes, repetition %u of %u\n", rep, reps);
		for (i = 0; i < VP_ARRAY_SIZE(sizes); i++) {
			kinds = size_kinds;
			if (sizes[i] == 64 || sizes[i] == 1500)
				kinds |= copy_kinds;
			if (!kinds)
				continue;
			snprintf(nm, sizeof(nm), "tx-%u", sizes[i]);
			measure_tx_size(sizes[i], rep, true, nm, kinds);
			measure_rx_size(sizes[i], rep, kinds);
		}
		measure_tx_gso(rep, size_kinds | copy_kinds);
		measure_rx_gso(rep, size_kinds | copy_kinds);
		if (size_kinds)
			measure_tx_size(64, rep, false, "tx-64-cbeach",
					size_kinds);
	}
}

#define ENGINES_PARAM	"/sys/module/nicsim/parameters/engines"
#define POLL_US_PARAM	"/sys/module/nicsim/parameters/poll_us"

/*
 * A module parameter of nicsim at @path: @val written, the value it had
 * in @old (NUL-terminated); false if there is no such parameter or the
 * write failed.
 */
static bool param_set(const char *path, const char *val, char *old,
		      size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	if (!fgets(old, (int)len, f))
		old[0] = '\0';
	old[strcspn(old, "\n")] = '\0';
	fclose(f);
	f = fopen(path, "we");
	if (!f)
		return false;
	ok = fputs(val, f) >= 0;
	return fclose(f) == 0 && ok;
}

/*
 * The latency rows with nicsim's engines polling BENCH_POLL_US after a
 * pass: a NIC does not sleep between doorbells, and a sleeping engine's
 * wake-up is most of a round trip's extra time under emulation.  Only
 * here: in the rate rows a polling engine would keep a CPU from the
 * threads it serves, which a NIC does not either (performance.rst).
 */
static void phase_latency(void)
{
	char val[16], old[32] = "";
	unsigned int rep;
	bool set;

	snprintf(val, sizeof(val), "%u", poll_us);
	set = param_set(POLL_US_PARAM, val, old, sizeof(old));
	if (set)
		vtap_out("# latency: nicsim engines poll %u us after a pass (%s, was %s)\n",
		    poll_us, POLL_US_PARAM, old);
	else
		vtap_out("# latency: %s cannot be written (%s): engines sleep at once\n",
		    POLL_US_PARAM, strerror(errno));
	for (rep = 1; rep <= reps; rep++)
		measure_latency(rep, BASE_KINDS);
	if (set && !param_set(POLL_US_PARAM, old, val, sizeof(val)))
		vtap_out("# latency: could not put %s back to %s\n",
		    POLL_US_PARAM, old);
}

static void phase_single(const char *parts)
{
	static const char tags[NKINDS] = "ATMCD";
	struct bpath fcpath = { .kind = K_ACCEL, .fc = true, .tag = 'F' };
	unsigned int rep, up = 0, copy_kinds = 0;
	int k;

	if (part(parts, "size") || part(parts, "slow") || part(parts, "lat"))
		up = BASE_KINDS;
	if (part(parts, "copy"))
		copy_kinds = COPY_KINDS | KBIT(K_TAP) | KBIT(K_MACVTAP);
	up |= copy_kinds;
	for (k = 0; k < NKINDS; k++) {
		paths[k].kind = (enum kind)k;
		paths[k].tag = tags[k];
		if (up & KBIT(k))
			path_up(&paths[k], 1, true);
	}
	if (part(parts, "slow"))
		path_up(&fcpath, 1, true);
	if (part(parts, "size") || copy_kinds)
		phase_sizes(part(parts, "size") ? BASE_KINDS : 0, copy_kinds);
	if (part(parts, "lat"))
		phase_latency();
	if (part(parts, "slow"))
		for (rep = 1; rep <= reps; rep++)
			measure_slow(rep, &fcpath);
	for (k = 0; k < NKINDS; k++)
		if (kind_is_vhost_accel((enum kind)k) &&
		    !kind_is_vnic((enum kind)k))
			measure_copied(&paths[k]);
	for (k = 0; k < NKINDS; k++)
		if (paths[k].up)
			path_down(&paths[k]);
	if (fcpath.up)
		path_down(&fcpath);
}

/*
 * The virtio-net NIC's three paths, one at a time (each needs the device
 * on its own driver), in turn within each repetition: rates and CPU at 64
 * and 1500 bytes and GSO both ways, latency.  In @init_ns, the netns the
 * devices live in (and the one /sys/class/net shows).
 */
static void phase_vnic(int init_ns)
{
	static const enum kind order[] = { K_VNIC, K_VNIC_MACVTAP, K_VNIC_BRIDGE };
	char why[320];
	unsigned int rep, o;
	int own, r;
	enum kind k;

	own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0 || init_ns < 0 || setns(init_ns, CLONE_NEWNET)) {
		vtap_case(false, "vnic: into the initial network namespace",
			  strerror(errno));
		if (own >= 0)
			close(own);
		return;
	}
	if (!vp_vnic_available(why, sizeof(why))) {
		vtap_out("ok %u vnic: vhost-accel on the virtio-net NIC # SKIP %s\n",
		    ++vtap_cases, why);
		goto out;
	}
	for (rep = 1; rep <= reps; rep++) {
		vtap_out("# virtio-net NIC, repetition %u of %u\n", rep, reps);
		for (o = 0; o < VP_ARRAY_SIZE(order); o++) {
			k = order[o];
			memset(&paths[k], 0, sizeof(paths[k]));
			paths[k].kind = k;
			paths[k].tag = "XYZ"[o];
			if (!path_up(&paths[k], 1, true))
				continue;
			measure_tx_size(64, rep, true, "tx-64", KBIT(k));
			measure_rx_size(64, rep, KBIT(k));
			measure_tx_size(1500, rep, true, "tx-1500", KBIT(k));
			measure_rx_size(1500, rep, KBIT(k));
			measure_tx_gso(rep, KBIT(k));
			measure_rx_gso(rep, KBIT(k));
			measure_latency(rep, KBIT(k));
			if (k == K_VNIC && rep == reps)
				measure_copied(&paths[k]);
			path_down(&paths[k]);
		}
	}
out:
	r = setns(own, CLONE_NEWNET);
	close(own);
	if (r) {
		perror("setns back into the bench's netns");
		exit(1);
	}
}

/*
 * The scaling NIC's set-up: nicsim with BENCH_ENGINES engines where the
 * module has the parameter (put back after the NIC exists), else one.
 */
static void scale_accel_up(struct bpath *p, unsigned int n)
{
	char val[16], old[32] = "";
	bool set;

	snprintf(val, sizeof(val), "%u", engines);
	set = param_set(ENGINES_PARAM, val, old, sizeof(old));
	if (set)
		vtap_out("#   scale-%u: wrote %u to %s (was %s)\n", n, engines,
		    ENGINES_PARAM, old);
	else
		vtap_out("#   scale-%u: %s cannot be written (%s): nicsim with its default, 1 engine\n",
		    n, ENGINES_PARAM, strerror(errno));
	path_up(p, n, false);
	if (set && !param_set(ENGINES_PARAM, old, val, sizeof(val)))
		vtap_out("#   scale-%u: could not put %s back to %s\n", n,
		    ENGINES_PARAM, old);
	if (p->up)
		vtap_out("#   scale-%u: %s has %u engine thread(s) (%s*)\n", n,
		    p->nic.name, p->engine.n, ENGINE_PREFIX);
}

static void phase_scale(void)
{
	static const unsigned int ns[] = { 1, 4, 16, 64 };
	struct bpath sp[NBASE];
	unsigned int i, rep;
	int k;

	for (i = 0; i < 4; i++) {
		memset(sp, 0, sizeof(sp));
		for (k = 0; k < NBASE; k++) {
			sp[k].kind = (enum kind)k;
			sp[k].tag = "SUV"[k];
			if (k == K_ACCEL)
				scale_accel_up(&sp[k], ns[i]);
			else
				path_up(&sp[k], ns[i], false);
		}
		for (rep = 1; rep <= reps; rep++)
			measure_scale(ns[i], sp, rep);
		for (k = 0; k < NBASE; k++)
			if (sp[k].up)
				path_down(&sp[k]);
	}
}

/*
 * The VM runner passes no environment: scripts/bench.sh writes the BENCH_*
 * settings as KEY=VALUE lines into bench.env beside the binary (our cwd).
 */
static void load_env_file(void)
{
	char line[256], *eq;
	FILE *f = fopen("bench.env", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (line[0] == '#' || !eq || strncmp(line, "BENCH_", 6))
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 0);
	}
	fclose(f);
}

int main(void)
{
	const char *parts;
	uint64_t t0 = now_ns();
	long ncpu;
	char buf[256] = "";
	int init_ns;

	setvbuf(stdout, NULL, _IOLBF, 0);
	load_env_file();
	parts = getenv("BENCH_PARTS");
	window_ms = env_uint("BENCH_MS", window_ms, 100, 60000);
	reps = env_uint("BENCH_REPS", reps, 1, MAX_REPS);
	slow_us = env_uint("BENCH_SLOW_US", slow_us, 1, 100000);
	slow_pps = env_uint("BENCH_SLOW_PPS", slow_pps, 0, 10000000);
	slow_pps_hi = env_uint("BENCH_SLOW_PPS_HI", 2 * slow_pps, 0, 20000000);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	scale_threads = env_uint("BENCH_SCALE_THREADS", (unsigned int)ncpu, 1,
				 MAX_DEVS);
	engines = env_uint("BENCH_ENGINES", (unsigned int)ncpu, 1, 64);
	poll_us = env_uint("BENCH_POLL_US", poll_us, 0, 1000);
	gso_frame = calloc(1, GSO_FRAME + 64);
	gso_rx_frame = calloc(1, GSO_FRAME + 64);
	if (!gso_frame || !gso_rx_frame)
		return 1;
	define_rows();

	vtap_out("TAP version 13\n");
	vp_capture(buf, sizeof(buf), "uname -r");
	vtap_out("# vhost-accel bench: one user-space virtio-net guest (selftests/lib/vguest), kernel %s, %ld CPUs\n",
	    buf, sysconf(_SC_NPROCESSORS_ONLN));
	vtap_out("# window %u ms (after %u ms warm-up), %u repetitions, paths interleaved in each; slow guest %u us/frame at %u and %u frames/s; scaling: up to %u guest threads, %u nicsim engines asked for\n",
	    window_ms, WARM_MS, reps, slow_us, slow_pps, slow_pps_hi,
	    scale_threads, engines);
	/* the virtio-net NIC's devices stay in the initial netns */
	init_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (unshare(CLONE_NEWNET)) {
		vtap_case(false, "private network namespace", strerror(errno));
		vtap_out("1..%u\n", vtap_cases);
		return 1;
	}
	vp_run("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6");
	vg_set_memlock(1ULL << 30);
	{
		/* 3 x 64 devices, 8 descriptors each, plus sockets */
		struct rlimit nf = { 8192, 8192 };

		setrlimit(RLIMIT_NOFILE, &nf);
	}

	if (part(parts, "size") || part(parts, "slow") || part(parts, "lat") ||
	    part(parts, "copy"))
		phase_single(parts);
	if (part(parts, "vnic"))
		phase_vnic(init_ns);
	if (part(parts, "switch"))
		phase_switch();
	if (part(parts, "scale"))
		phase_scale();

	print_table();
	vtap_out("# bench took %.0f s\n", (double)(now_ns() - t0) / 1e9);
	vtap_out("1..%u\n", vtap_cases);
	vtap_out("# %u cases, %u failed\n", vtap_cases, vtap_failed);
	return vtap_failed ? 1 : 0;
}
