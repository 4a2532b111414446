/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the vhost-accel control-plane tests.
 *
 * Environment:
 *   VG_DEVICE=<path>      device under test (default /dev/vhost-accel)
 *   VG_SKIP_NO_DEVICE=1   SKIP instead of FAIL when the device is absent
 *                         (for building/smoke-running on a host without
 *                         the module; inside the test VM leave it unset)
 */
#ifndef VTEST_H
#define VTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vguest.h"
#include "vharness.h"

/*
 * What /dev/vhost-accel answers to VHOST_NET_SET_BACKEND with a real
 * socket / tap fd until NIC binding exists.  Change here when it lands.
 */
#define VT_ACCEL_BACKEND_ERRNO	EOPNOTSUPP

/* Bounded waits; generous for QEMU TCG, longer on a debug kernel. */
#define VT_KICK_WAIT_MS		(2000 * vg_time_scale())
#define VT_GONE_WAIT_MS		(5000 * vg_time_scale())

#define VT_MODULE_DIR		"/sys/module/vhost_accel"
#define VT_MAX_REGIONS_PARAM	VT_MODULE_DIR "/parameters/max_mem_regions"
#define VT_REFCNT		VT_MODULE_DIR "/refcnt"
#define VT_VHOST_MAX_REGIONS	"/sys/module/vhost/parameters/max_mem_regions"

/* An ioctl number nobody implements (vhost magic, unused nr). */
#define VT_UNKNOWN_IOCTL	_IOW(VHOST_VIRTIO, 0x5f, struct vhost_vring_state)
#define VT_UNKNOWN_IOCTL2	_IOWR('x', 0x7e, struct vhost_vring_state)

/* Clearly not a user address on x86-64 (direct map). */
#define VT_KERNEL_ADDR		0xffff888000000000ULL

static inline const char *vt_dut(void)
{
	const char *p = getenv("VG_DEVICE");

	return p && *p ? p : VG_DEV_ACCEL;
}

static inline bool vt_skip_absent(void)
{
	const char *e = getenv("VG_SKIP_NO_DEVICE");

	return e && *e && strcmp(e, "0");
}

static inline uint64_t vt_page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Open @_path into @_d.  A missing device fails the test, or skips it if
 * VG_SKIP_NO_DEVICE is set.  Usable in FIXTURE_SETUP and test bodies.
 */
#define VT_OPEN_PATH(_d, _path) do {					\
	const char *__p = (_path);					\
	int __r = vg_open((_d), __p);					\
	if (__r == -ENOENT && vt_skip_absent())				\
		SKIP(return, "%s not present", __p);			\
	ASSERT_EQ(0, __r)						\
		TH_LOG("open %s: %s", __p, strerror(-__r));		\
} while (0)

#define VT_OPEN_DUT(_d)	VT_OPEN_PATH(_d, vt_dut())

/*
 * The 6.1 harness still runs a test whose FIXTURE_SETUP skipped: a setup
 * skips with VT_SETUP_SKIP(), and every TEST_F body of a fixture that can
 * skip starts with VT_SKIPPED().  Each test runs in a process of its own,
 * so one flag serves them all.
 */
static bool vt_setup_skipped;

#define VT_SETUP_SKIP(fmt, ...) do {					\
	vt_setup_skipped = true;					\
	SKIP(return, fmt, ##__VA_ARGS__);				\
} while (0)

#define VT_SKIPPED() do {						\
	if (vt_setup_skipped)						\
		return;							\
} while (0)

#define VT_VMLCK(_var) do {						\
	int __r = vg_vmlck_kb(&(_var));					\
	ASSERT_EQ(0, __r) TH_LOG("VmLck: %s", strerror(-__r));		\
} while (0)

/* Poll VmLck until it equals @want_kb or @timeout_ms passes; last value. */
static inline uint64_t vt_wait_vmlck(uint64_t want_kb, int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)timeout_ms;
	uint64_t kb = UINT64_MAX;

	for (;;) {
		if (vg_vmlck_kb(&kb))
			return UINT64_MAX;
		if (kb == want_kb || vg_now_ms() >= deadline)
			return kb;
		vg_sleep_ms(10);
	}
}

/* Kernel thread @tid named @name is gone within @timeout_ms. */
static inline bool vt_wait_task_gone(pid_t tid, const char *name,
				     int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)timeout_ms;
	char now[VG_COMM_BUF];
	bool kthread;

	for (;;) {
		if (vg_task_comm(tid, now, sizeof(now), &kthread) ||
		    !kthread || !vg_comm_matches(now, name))
			return true;
		if (vg_now_ms() >= deadline)
			return false;
		vg_sleep_ms(10);
	}
}

/* Worker of @owner appears within @timeout_ms; count (> 0) or -ENOENT. */
static inline int vt_wait_worker(pid_t owner, pid_t *tid, int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)timeout_ms;
	int r;

	for (;;) {
		r = vg_find_worker(owner, tid);
		if (r > 0 || vg_now_ms() >= deadline)
			return r;
		vg_sleep_ms(10);
	}
}

/*
 * No worker named after @owner within @timeout_ms.  Worker names carry
 * only the first digits of the pid, so a previous test's worker that is
 * still exiting can share ours: wait for it before counting on a name.
 */
static inline bool vt_wait_no_worker(pid_t owner, int timeout_ms)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)timeout_ms;
	pid_t tid;

	for (;;) {
		if (vg_find_worker(owner, &tid) == -ENOENT)
			return true;
		if (vg_now_ms() >= deadline)
			return false;
		vg_sleep_ms(10);
	}
}

/* Until stats.vq[@idx].kicks >= @min; 0, -ETIMEDOUT or -errno. */
static inline int vt_wait_kicks(struct vg_dev *d, unsigned int idx,
				uint64_t min, int timeout_ms, uint64_t *seen)
{
	uint64_t deadline = vg_now_ms() + (uint64_t)timeout_ms;
	struct vhost_accel_stats st;
	int r;

	for (;;) {
		r = vg_get_stats(d, &st);
		if (r)
			return r;
		*seen = st.vq[idx].kicks;
		if (*seen >= min)
			return 0;
		if (vg_now_ms() >= deadline)
			return -ETIMEDOUT;
		vg_sleep_ms(5);
	}
}

/*
 * Run @fn(@arg) in a forked child (which must not use the harness
 * asserts) and return its exit status, or 256 + signal if it died.
 */
static inline int vt_run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(fn(arg) & 0xff);
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 256 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* In a child: report the first mismatch as exit code @step. */
#define VT_CHILD_EXPECT(_step, _want, _expr) do {			\
	int __got = (_expr);						\
	if (__got != (_want)) {						\
		fprintf(stderr, "# child step %d: %s = %d, want %d\n",	\
			(_step), #_expr, __got, (_want));		\
		return _step;						\
	}								\
} while (0)

/* A mapping that is certainly not mapped any more. */
static inline void *vt_unmapped_area(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len);
	return p;
}

/* An fd number that is not open (stable: far above what tests open). */
static inline int vt_closed_fd(void)
{
	int fd;

	for (fd = 900; fd < 1000; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	return 999;
}

#endif /* VTEST_H */
