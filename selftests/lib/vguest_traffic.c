// SPDX-License-Identifier: GPL-2.0
/*
 * vguest: the traffic engine, the far end of a guest's queues.  A sender
 * thread puts numbered copies of a template frame on an AF_PACKET socket;
 * a reader thread takes frames off one and hands each to a check.  The
 * tests, the demo and the benchmark drive the guest side themselves and
 * read the engine's counters while it runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>
#include <sys/socket.h>

#include "vguest_int.h"

#define VG_TRAFFIC_BATCH_MAX	64
#define VG_READER_CAP		2048

/* ---- sender ----------------------------------------------------------- */

struct vg_send_ctx {
	struct sockaddr_ll to;
	struct mmsghdr msgs[VG_TRAFFIC_BATCH_MAX];
	struct iovec iov[VG_TRAFFIC_BATCH_MAX];
	uint8_t *bufs;		/* batch copies of the template, or NULL */
};

static uint64_t vg_traffic_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int vg_send_ctx_init(struct vg_sender *s, struct vg_send_ctx *c)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->to.sll_family = AF_PACKET;
	c->to.sll_protocol = htons(s->proto);
	c->to.sll_ifindex = s->ifindex;
	c->to.sll_halen = ETH_ALEN;
	if (s->dst_mac)
		memcpy(c->to.sll_addr, s->dst_mac, ETH_ALEN);
	if (s->seq_off >= 0 || s->fill) {
		c->bufs = malloc(s->batch * s->len);
		if (!c->bufs)
			return -ENOMEM;
	}
	for (i = 0; i < s->batch; i++) {
		if (c->bufs && s->tmpl)
			memcpy(c->bufs + i * s->len, s->tmpl, s->len);
		c->iov[i].iov_base = c->bufs ? c->bufs + i * s->len :
					       (void *)s->tmpl;
		c->iov[i].iov_len = s->len;
	}
	return 0;
}

/*
 * Frames @seq.. into the first @n slots and out in one sendmmsg: how many
 * the socket took, or -errno.
 */
static int vg_send_batch(struct vg_sender *s, struct vg_send_ctx *c,
			 uint32_t seq, unsigned int n)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		if (s->fill) {
			s->fill(s->ctx, c->bufs + i * s->len, s->len, seq + i);
		} else if (c->bufs) {
			uint32_t le = htole32(seq + i);

			memcpy(c->bufs + i * s->len + s->seq_off, &le, 4);
		}
		memset(&c->msgs[i], 0, sizeof(c->msgs[i]));
		c->msgs[i].msg_hdr.msg_iov = &c->iov[i];
		c->msgs[i].msg_hdr.msg_iovlen = 1;
		c->msgs[i].msg_hdr.msg_name = &c->to;
		c->msgs[i].msg_hdr.msg_namelen = sizeof(c->to);
	}
	r = sendmmsg(s->fd, c->msgs, n, 0);
	return r < 0 ? -errno : r;
}

/* Frames this round may offer: the schedule's, the count's, a batch. */
static unsigned int vg_send_due(struct vg_sender *s, uint64_t t0,
				uint64_t offered)
{
	uint64_t due = s->count ? s->count - offered : s->batch;

	if (s->pps) {
		uint64_t sched = (vg_traffic_now_ns() - t0) * s->pps /
				 1000000000ULL;

		due = sched > offered ? sched - offered : 0;
	}
	if (s->count && due > s->count - offered)
		due = s->count - offered;
	if (s->pace && due) {
		uint64_t may = s->pace(s->ctx, atomic_load(&s->sent));

		if (due > may)
			due = may;
	}
	return due < s->batch ? (unsigned int)due : s->batch;
}

static void *vg_sender_main(void *arg)
{
	const struct timespec nap = { .tv_nsec = 200000 };
	struct vg_sender *s = arg;
	struct vg_send_ctx c;
	uint64_t t0 = vg_traffic_now_ns(), offered = 0;
	unsigned int want;
	int n;

	s->err = vg_send_ctx_init(s, &c);
	while (!s->err && !atomic_load(&s->stop) &&
	       (!s->count || offered < s->count)) {
		want = vg_send_due(s, t0, offered);
		if (!want) {
			nanosleep(&nap, NULL);
			continue;
		}
		n = vg_send_batch(s, &c, s->seq + (uint32_t)offered, want);
		if (n < 0)
			atomic_fetch_add(&s->failed, 1);
		else if ((unsigned int)n < want)
			atomic_fetch_add(&s->cut, 1);
		if (n < 0 && n != -ENOBUFS && n != -EAGAIN && n != -EINTR &&
		    !s->keep_going) {
			s->err = n;
			break;
		}
		if (n < 0 && s->keep_going) {
			/* a downed or deleted device: try again later */
			nanosleep(&nap, NULL);
			n = 0;
		}
		if (n < 0)
			n = 0;
		if (n)
			atomic_fetch_add(&s->sent, (uint64_t)n);
		else
			atomic_fetch_add(&s->busy, 1);
		if (s->retry) {
			offered += (unsigned int)n;
		} else {
			atomic_fetch_add(&s->refused, want - (unsigned int)n);
			offered += want;
		}
		if (!n && !s->pps)
			sched_yield();	/* the device queue is full */
	}
	free(c.bufs);
	return NULL;
}

int vg_sender_start(struct vg_sender *s)
{
	if (!s->batch || s->batch > VG_TRAFFIC_BATCH_MAX || !s->len ||
	    (!s->tmpl && !s->fill) ||
	    (s->seq_off >= 0 && (size_t)s->seq_off + 4 > s->len))
		return -EINVAL;
	atomic_store(&s->stop, false);
	s->err = 0;
	if (pthread_create(&s->th, NULL, vg_sender_main, s))
		return -EAGAIN;
	s->running = true;
	return 0;
}

void vg_sender_stop(struct vg_sender *s)
{
	atomic_store(&s->stop, true);
	if (s->running)
		pthread_join(s->th, NULL);
	s->running = false;
}

/* ---- reader ----------------------------------------------------------- */

/*
 * One non-blocking pass over @rd's socket into @bufs (@cap bytes a
 * frame): how many frames went to the check, or -errno (-EAGAIN: none
 * there).
 */
static int vg_reader_take(struct vg_reader *rd, uint8_t *bufs, size_t cap)
{
	struct mmsghdr msgs[VG_TRAFFIC_BATCH_MAX];
	struct iovec iov[VG_TRAFFIC_BATCH_MAX];
	struct sockaddr_ll from[VG_TRAFFIC_BATCH_MAX];
	int i, n, r, got = 0;

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < VG_TRAFFIC_BATCH_MAX; i++) {
		iov[i].iov_base = bufs + i * cap;
		iov[i].iov_len = cap;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		if (rd->skip_outgoing) {
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
	}
	n = recvmmsg(rd->fd, msgs, VG_TRAFFIC_BATCH_MAX,
		     MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n < 0)
		return errno == EINTR || (errno == ENETDOWN && rd->down_ok) ?
		       -EAGAIN : -errno;
	for (i = 0; i < n; i++) {
		if (rd->skip_outgoing &&
		    from[i].sll_pkttype == PACKET_OUTGOING)
			continue;
		got++;
		r = rd->check(rd->ctx, bufs + i * cap, msgs[i].msg_len);
		if (!r)
			atomic_fetch_add(&rd->good, 1);
		else if (r < 0)
			atomic_fetch_add(&rd->bad, 1);
	}
	return n ? got : -EAGAIN;
}

static void *vg_reader_main(void *arg)
{
	struct vg_reader *rd = arg;
	size_t cap = rd->cap ? rd->cap : VG_READER_CAP;
	uint64_t last = vg_now_ms();
	uint8_t *bufs;
	int n;

	bufs = malloc(VG_TRAFFIC_BATCH_MAX * cap);
	if (!bufs) {
		rd->err = -ENOMEM;
		return NULL;
	}
	while (!atomic_load(&rd->stop) &&
	       (!rd->count || atomic_load(&rd->good) < rd->count)) {
		struct pollfd pfd = { .fd = rd->fd, .events = POLLIN };

		n = vg_reader_take(rd, bufs, cap);
		if (n < 0 && n != -EAGAIN) {
			rd->err = n;
			break;
		}
		if (n < 0) {
			if (rd->idle_ms && vg_now_ms() - last > rd->idle_ms) {
				rd->err = -ETIMEDOUT;
				break;
			}
			poll(&pfd, 1, 50);
			continue;
		}
		last = vg_now_ms();
	}
	free(bufs);
	return NULL;
}

int vg_reader_poll(struct vg_reader *rd)
{
	size_t cap = rd->cap ? rd->cap : VG_READER_CAP;
	uint8_t *bufs = malloc(VG_TRAFFIC_BATCH_MAX * cap);
	int n;

	if (!bufs)
		return -ENOMEM;
	n = vg_reader_take(rd, bufs, cap);
	free(bufs);
	return n == -EAGAIN ? 0 : n;
}

void vg_traffic_drain(int fd, unsigned int quiet_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[VG_READER_CAP];

	while (poll(&p, 1, quiet_ms) > 0)
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			;
}

int vg_reader_start(struct vg_reader *rd)
{
	if (!rd->check)
		return -EINVAL;
	atomic_store(&rd->stop, false);
	rd->err = 0;
	if (pthread_create(&rd->th, NULL, vg_reader_main, rd))
		return -EAGAIN;
	rd->running = true;
	return 0;
}

void vg_reader_stop(struct vg_reader *rd)
{
	atomic_store(&rd->stop, true);
	if (rd->running)
		pthread_join(rd->th, NULL);
	rd->running = false;
}

int vg_frame_seq_check(const uint8_t *tmpl, size_t tmpl_len, size_t seq_off,
		       const uint8_t *f, size_t len, uint32_t *seq)
{
	uint32_t s;

	if (len != tmpl_len)
		return -EMSGSIZE;
	if (memcmp(f, tmpl, seq_off) ||
	    memcmp(f + seq_off + 4, tmpl + seq_off + 4, len - seq_off - 4))
		return -EBADMSG;
	memcpy(&s, f + seq_off, 4);
	*seq = le32toh(s);
	return 0;
}
