/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the vhost-accel control-plane tests (vtest.c); the
 * datapath tests use the VmLck wait and the child runner too.
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
/*
 * The test file gets the harness from here; the helpers' own .c file, linked
 * beside it, defines NO_KSFT_HARNESS first: kselftest_harness.h defines
 * global symbols, so one binary can hold it once only.
 */
#ifndef NO_KSFT_HARNESS
#include "vharness.h"
#endif

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

const char *vt_dut(void);

bool vt_skip_absent(void);

uint64_t vt_page(void);

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
 * so one flag (in vtest.c) serves them all.
 */
extern bool vt_setup_skipped;

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

uint64_t vt_wait_vmlck(uint64_t want_kb, int timeout_ms);

bool vt_wait_task_gone(pid_t tid, const char *name,
		       int timeout_ms);

int vt_wait_worker(pid_t owner, pid_t *tid, int timeout_ms);

bool vt_wait_no_worker(pid_t owner, int timeout_ms);

int vt_wait_kicks(struct vg_dev *d, unsigned int idx,
		  uint64_t min, int timeout_ms, uint64_t *seen);

int vt_run_child(int (*fn)(void *), void *arg);

/* In a child: report the first mismatch as exit code @step. */
#define VT_CHILD_EXPECT(_step, _want, _expr) do {			\
	int __got = (_expr);						\
	if (__got != (_want)) {						\
		fprintf(stderr, "# child step %d: %s = %d, want %d\n",	\
			(_step), #_expr, __got, (_want));		\
		return _step;						\
	}								\
} while (0)

void *vt_unmapped_area(size_t len);

int vt_closed_fd(void);

int vt_tap_open(const char *prefix, int hdrsz, char *name, size_t len);

#endif /* VTEST_H */
