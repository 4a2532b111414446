// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: process helpers (time, capabilities, workers) and the kernel log.
 * See vguest.h for the conventions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "vguest_int.h"

#define VG_PF_KTHREAD	0x00200000UL

/* ---- process helpers ------------------------------------------------- */

uint64_t vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned int vg_time_scale(void)
{
	static unsigned int scale;
	const char *e;
	char *end;
	unsigned long v;

	if (scale)
		return scale;
	scale = 1;
	e = getenv("VG_TIME_SCALE");
	if (e && *e) {
		errno = 0;
		v = strtoul(e, &end, 10);
		if (!errno && !*end && v >= 1 && v <= 20)
			scale = (unsigned int)v;
	}
	return scale;
}

unsigned int vg_harness_alarm(unsigned int s)
{
	return alarm(s ? s * vg_time_scale() : 0);
}

void vg_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int vg_poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

int vg_proc_status_kb(const char *key, uint64_t *kb)
{
	size_t klen = strlen(key);
	char line[256];
	int r = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		errno = 0;
		*kb = strtoull(line + klen + 1, &end, 10);
		r = (errno || end == line + klen + 1) ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return r;
}

int vg_vmlck_kb(uint64_t *kb)
{
	return vg_proc_status_kb("VmLck", kb);
}

static int vg_caps(struct __user_cap_data_struct data[2], bool set)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	long r;

	r = syscall(set ? SYS_capset : SYS_capget, &hdr, data);
	return r ? -errno : 0;
}

/* Our capability sets, once @cap is known to be a valid number. */
static int vg_caps_for(int cap, struct __user_cap_data_struct data[2])
{
	if (cap < 0 || cap >= 64)
		return -EINVAL;
	return vg_caps(data, false);
}

int vg_drop_cap(int cap)
{
	struct __user_cap_data_struct data[2];
	__u32 bit;
	int r;

	r = vg_caps_for(cap, data);
	if (r)
		return r;
	bit = 1U << (cap % 32);
	data[cap / 32].effective &= ~bit;
	data[cap / 32].permitted &= ~bit;
	data[cap / 32].inheritable &= ~bit;
	return vg_caps(data, true);
}

int vg_have_cap(int cap)
{
	struct __user_cap_data_struct data[2];
	int r;

	r = vg_caps_for(cap, data);
	if (r)
		return r;
	return !!(data[cap / 32].effective & (1U << (cap % 32)));
}

int vg_set_memlock(uint64_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

int vg_read_u64_file(const char *path, uint64_t *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

void vg_worker_comm(pid_t owner, char *buf, size_t len)
{
	snprintf(buf, len, VG_WORKER_PREFIX "%d", (int)owner);
}

bool vg_comm_matches(const char *comm, const char *name)
{
	size_t n = strlen(comm);

	if (!strcmp(comm, name))
		return true;
	return n == VG_TASK_COMM_LEN - 1 && !strncmp(comm, name, n);
}

int vg_task_comm(pid_t tid, char *buf, size_t len, bool *is_kthread)
{
	char path[64], stat[512], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	stat[n] = '\0';

	/* "pid (comm) state ppid ... flags": comm may contain ')' */
	p = strchr(stat, '(');
	if (p && buf && len) {
		char *q = strrchr(stat, ')');
		size_t cl = q && q > p ? (size_t)(q - p - 1) : 0;

		if (cl >= len)
			cl = len - 1;
		memcpy(buf, p + 1, cl);
		buf[cl] = '\0';
	}
	p = strrchr(stat, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* fields after comm: state(3) ppid pgrp session tty tpgid flags(9) */
	for (i = 0; i < 6 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	flags = strtoul(p + 1, NULL, 10);
	if (is_kthread)
		*is_kthread = flags & VG_PF_KTHREAD;
	return 0;
}

int vg_find_worker(pid_t owner, pid_t *tid)
{
	char want[VG_COMM_BUF], comm[VG_COMM_BUF];
	struct dirent *de;
	int found = 0;
	DIR *dir;

	vg_worker_comm(owner, want, sizeof(want));
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		bool kthread = false;
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (vg_task_comm(pid, comm, sizeof(comm), &kthread))
			continue;
		if (!kthread || !vg_comm_matches(comm, want))
			continue;
		if (!found && tid)
			*tid = pid;
		found++;
	}
	closedir(dir);
	return found ? found : -ENOENT;
}

/* ---- kernel log ------------------------------------------------------ */

int vg_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int vg_kmsg_count(int fd, const char *tag, char *last, size_t len,
		  bool echo)
{
	char rec[8192];
	int n = 0;

	if (len)
		last[0] = '\0';
	for (;;) {
		ssize_t got = read(fd, rec, sizeof(rec) - 1);
		char *msg;
		size_t l;

		/* EPIPE: records were overwritten; the next read goes on. */
		if (got < 0 && errno == EPIPE)
			continue;
		if (got <= 0)
			break;
		rec[got] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		if (!strstr(msg, tag))
			continue;
		n++;
		if (echo)
			fprintf(stderr, "#   kernel: %s\n", msg);
		if (!len)
			continue;
		l = strlen(msg);
		if (l >= len)
			l = len - 1;
		memcpy(last, msg, l);
		last[l] = '\0';
	}
	return n;
}

int vg_debugfs_stats(pid_t pid, char *buf, size_t size)
{
	const char *root = "/sys/kernel/debug/vhost-accel";
	char path[320], want[32];
	struct dirent *e;
	int found = 0;
	DIR *dir;
	FILE *f;
	size_t n;

	dir = opendir(root);
	if (!dir)
		return -errno;
	snprintf(want, sizeof(want), "owner_pid %d\n", pid);
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/stats", root, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(buf, 1, size - 1, f);
		fclose(f);
		buf[n] = '\0';
		found = strstr(buf, want) != NULL;
	}
	closedir(dir);
	return found;
}

int vg_debugfs_counter(pid_t pid, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	char buf[4096], *line;
	int r;

	r = vg_debugfs_stats(pid, buf, sizeof(buf));
	if (r <= 0)
		return r ? r : -ENOENT;
	for (line = buf; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			*val = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}
