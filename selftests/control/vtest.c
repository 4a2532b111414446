// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of the vhost-accel control-plane tests (vtest.h).
 */
#define NO_KSFT_HARNESS
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "vtest.h"

bool vt_setup_skipped;

const char *vt_dut(void)
{
	const char *p = getenv("VG_DEVICE");

	return p && *p ? p : VG_DEV_ACCEL;
}

bool vt_skip_absent(void)
{
	const char *e = getenv("VG_SKIP_NO_DEVICE");

	return e && *e && strcmp(e, "0");
}

uint64_t vt_page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Poll VmLck until it equals @want_kb or @timeout_ms passes; last value. */
uint64_t vt_wait_vmlck(uint64_t want_kb, int timeout_ms)
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
bool vt_wait_task_gone(pid_t tid, const char *name,
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
int vt_wait_worker(pid_t owner, pid_t *tid, int timeout_ms)
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
bool vt_wait_no_worker(pid_t owner, int timeout_ms)
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
int vt_wait_kicks(struct vg_dev *d, unsigned int idx,
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
int vt_run_child(int (*fn)(void *), void *arg)
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

/* A mapping that is certainly not mapped any more. */
void *vt_unmapped_area(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len);
	return p;
}

/* An fd number that is not open (stable: far above what tests open). */
int vt_closed_fd(void)
{
	int fd;

	for (fd = 900; fd < 1000; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	return 999;
}

/*
 * A tap as QEMU opens one (IFF_VNET_HDR, no packet info), left down, named
 * @prefix<pid>; with @hdrsz, TUNSETVNETHDRSZ to it.  Its name in @name
 * (@len bytes) unless NULL.  The fd, or -errno.
 */
int vt_tap_open(const char *prefix, int hdrsz, char *name, size_t len)
{
	struct ifreq ifr;
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s%d", prefix,
		 (int)(getpid() % 100000));
	if (ioctl(fd, TUNSETIFF, &ifr) ||
	    (hdrsz && ioctl(fd, TUNSETVNETHDRSZ, &hdrsz))) {
		r = -errno;
		close(fd);
		return r;
	}
	if (name)
		snprintf(name, len, "%s", ifr.ifr_name);
	return fd;
}
