// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel-stat: the vhost-accel devices of this host, their counters
 * and backpressure events, read from the "vhost_accel" generic netlink
 * family (include/uapi/linux/vhost_accel.h, the YNL spec
 * Documentation/netlink/specs/vhost-accel.yaml).  Plain libc and raw
 * netlink sockets; see vhost-accel-stat.8.
 *
 *   vhost-accel-stat [-j]                 list the devices
 *   vhost-accel-stat [-j] show ID         every counter of device ID
 *   vhost-accel-stat [-j] [-c N] [-t S] monitor
 *                                         follow SATURATED / RECOVERED
 *
 * Each device is named by the QEMU guest that owns it: the -name option
 * of its owner's command line (/proc/PID/cmdline).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vhost_accel.h>

#define BUFSZ		65536
#define GUEST_MAX	128
#define NQ		2	/* virtqueues per device: Rx, Tx */

#define ATTR_DATA(a)	((void *)((char *)(a) + NLA_HDRLEN))
#define ATTR_LEN(a)	((int)(a)->nla_len - NLA_HDRLEN)

static bool json;

struct nl {
	int fd;
	uint16_t family;
	uint32_t grp;
	uint32_t seq;
};

/* One device, as a GET reply, a dump entry or an event carries it. */
struct dev {
	uint8_t cmd;
	uint32_t id, owner_pid, ifindex, backend_ifindex, queue_pairs;
	char ifname[16];
	uint8_t mac[6];
	bool has_mac, has_pinned, has_drops;
	uint8_t datapath, saturated, flow_control;
	uint64_t depletions, saturations, saturated_ns, drops_no_buf;
	uint64_t duration_ns, datapath_switches, switch_drops;
	uint64_t pinned_pages, worker_wakeups;
	unsigned int nq;
	uint64_t q[NQ][VHOST_ACCEL_A_Q_MAX + 1];
};

/* Per-queue counters by attribute, with the names the tool prints. */
static const char *const q_names[VHOST_ACCEL_A_Q_MAX + 1] = {
	[VHOST_ACCEL_A_Q_KICKS] = "kicks",
	[VHOST_ACCEL_A_Q_CALLS] = "calls",
	[VHOST_ACCEL_A_Q_ERRORS] = "errors",
	[VHOST_ACCEL_A_Q_PACKETS] = "packets",
	[VHOST_ACCEL_A_Q_BYTES] = "bytes",
	[VHOST_ACCEL_A_Q_BYTES_COPIED] = "bytes_copied",
	[VHOST_ACCEL_A_Q_BUFS_POSTED] = "bufs_posted",
	[VHOST_ACCEL_A_Q_DEPLETIONS] = "depletions",
	[VHOST_ACCEL_A_Q_DROPS_NO_BUF] = "drops_no_buf",
	[VHOST_ACCEL_A_Q_DROPS_TOO_BIG] = "drops_too_big",
	[VHOST_ACCEL_A_Q_DROPS_NIC] = "drops_nic",
	[VHOST_ACCEL_A_Q_SATURATIONS] = "saturations",
	[VHOST_ACCEL_A_Q_SATURATED_NS] = "saturated_ns",
	[VHOST_ACCEL_A_Q_RUN_CHAINS_MAX] = "run_chains_max",
	[VHOST_ACCEL_A_Q_BUDGET_YIELDS] = "budget_yields",
	[VHOST_ACCEL_A_Q_DROPS_SPOOFED] = "drops_spoofed",
};

static void die(const char *what, int err)
{
	fprintf(stderr, "vhost-accel-stat: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint32_t get_u32(const struct nlattr *a)
{
	uint32_t v = 0;

	if (ATTR_LEN(a) >= 4)
		memcpy(&v, ATTR_DATA(a), 4);
	return v;
}

static uint64_t get_u64(const struct nlattr *a)
{
	uint64_t v = 0;

	if (ATTR_LEN(a) >= 8)
		memcpy(&v, ATTR_DATA(a), 8);
	return v;
}

static uint8_t get_u8(const struct nlattr *a)
{
	return ATTR_LEN(a) >= 1 ? *(uint8_t *)ATTR_DATA(a) : 0;
}

#define for_each_attr(a, start, len)					\
	for (a = (struct nlattr *)(start);				\
	     (len) >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&		\
	     a->nla_len <= (len);					\
	     (len) -= NLA_ALIGN(a->nla_len),				\
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

static void parse_queue(struct dev *d, const struct nlattr *nest)
{
	int len = ATTR_LEN(nest);
	uint32_t idx = d->nq;
	struct nlattr *a;
	uint64_t v[VHOST_ACCEL_A_Q_MAX + 1] = { 0 };

	for_each_attr(a, ATTR_DATA(nest), len) {
		int t = a->nla_type & NLA_TYPE_MASK;

		if (t == VHOST_ACCEL_A_Q_INDEX)
			idx = get_u32(a);
		else if (t <= VHOST_ACCEL_A_Q_MAX && q_names[t])
			v[t] = get_u64(a);
	}
	if (idx >= NQ)
		return;
	memcpy(d->q[idx], v, sizeof(v));
	if (idx + 1 > d->nq)
		d->nq = idx + 1;
}

static void parse_attr(struct dev *d, const struct nlattr *a)
{
	switch (a->nla_type & NLA_TYPE_MASK) {
	case VHOST_ACCEL_A_DEV_ID:
		d->id = get_u32(a);
		break;
	case VHOST_ACCEL_A_OWNER_PID:
		d->owner_pid = get_u32(a);
		break;
	case VHOST_ACCEL_A_IFINDEX:
		d->ifindex = get_u32(a);
		break;
	case VHOST_ACCEL_A_MAC:
		if (ATTR_LEN(a) == 6) {
			memcpy(d->mac, ATTR_DATA(a), 6);
			d->has_mac = true;
		}
		break;
	case VHOST_ACCEL_A_SATURATED:
		d->saturated = get_u8(a);
		break;
	case VHOST_ACCEL_A_FLOW_CONTROL:
		d->flow_control = get_u8(a);
		break;
	case VHOST_ACCEL_A_DATAPATH:
		d->datapath = get_u8(a);
		break;
	case VHOST_ACCEL_A_DEPLETIONS:
		d->depletions = get_u64(a);
		break;
	case VHOST_ACCEL_A_SATURATIONS:
		d->saturations = get_u64(a);
		break;
	case VHOST_ACCEL_A_SATURATED_NS:
		d->saturated_ns = get_u64(a);
		break;
	case VHOST_ACCEL_A_DROPS_NO_BUF:
		d->drops_no_buf = get_u64(a);
		d->has_drops = true;
		break;
	case VHOST_ACCEL_A_DURATION_NS:
		d->duration_ns = get_u64(a);
		break;
	case VHOST_ACCEL_A_DATAPATH_SWITCHES:
		d->datapath_switches = get_u64(a);
		break;
	case VHOST_ACCEL_A_IFNAME:
		snprintf(d->ifname, sizeof(d->ifname), "%.*s", ATTR_LEN(a),
			 (char *)ATTR_DATA(a));
		break;
	case VHOST_ACCEL_A_BACKEND_IFINDEX:
		d->backend_ifindex = get_u32(a);
		break;
	case VHOST_ACCEL_A_QUEUE_PAIRS:
		d->queue_pairs = get_u32(a);
		break;
	case VHOST_ACCEL_A_PINNED_PAGES:
		d->pinned_pages = get_u64(a);
		d->has_pinned = true;
		break;
	case VHOST_ACCEL_A_WORKER_WAKEUPS:
		d->worker_wakeups = get_u64(a);
		break;
	case VHOST_ACCEL_A_SWITCH_DROPS:
		d->switch_drops = get_u64(a);
		break;
	case VHOST_ACCEL_A_QUEUE:
		parse_queue(d, a);
		break;
	}
}

static void parse_dev(const struct nlmsghdr *h, struct dev *d)
{
	const struct genlmsghdr *g = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct nlattr *a;

	memset(d, 0, sizeof(*d));
	d->cmd = g->cmd;
	for_each_attr(a, (const char *)g + GENL_HDRLEN, len)
		parse_attr(d, a);
}

static int nl_send(struct nl *n, uint16_t type, uint8_t cmd, uint16_t flags,
		   const void *attrs, size_t alen)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		char a[256];
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + alen);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req.h.nlmsg_seq = ++n->seq;
	req.g.cmd = cmd;
	req.g.version = 1;
	memcpy(req.a, attrs, alen);
	if (sendto(n->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static size_t put_attr(char *buf, size_t off, uint16_t type, const void *data,
		       uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(buf + off);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(ATTR_DATA(a), data, len);
	return off + NLA_ALIGN(a->nla_len);
}

typedef void (*msg_fn)(const struct nlmsghdr *h, void *arg);

/* Receive the answer to request n->seq: 0 or -errno; @fn per message. */
static int nl_answer(struct nl *n, msg_fn fn, void *arg)
{
	static char buf[BUFSZ];
	struct nlmsghdr *h;
	ssize_t len;

	for (;;) {
		len = recv(n->fd, buf, sizeof(buf), 0);
		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != n->seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			fn(h, arg);
		}
	}
}

struct family {
	uint16_t id;
	uint32_t grp;
};

static void family_grp(const struct nlattr *grps, struct family *f)
{
	int len = ATTR_LEN(grps);
	struct nlattr *g, *a;

	for_each_attr(g, ATTR_DATA(grps), len) {
		int glen = ATTR_LEN(g);
		uint32_t id = 0;
		bool ours = false;

		for_each_attr(a, ATTR_DATA(g), glen) {
			if (a->nla_type == CTRL_ATTR_MCAST_GRP_ID)
				id = get_u32(a);
			if (a->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
			    !strcmp(ATTR_DATA(a), VHOST_ACCEL_GENL_MCGRP_BP))
				ours = true;
		}
		if (ours)
			f->grp = id;
	}
}

static void family_msg(const struct nlmsghdr *h, void *arg)
{
	const struct genlmsghdr *g = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct family *f = arg;
	struct nlattr *a;

	for_each_attr(a, (const char *)g + GENL_HDRLEN, len) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			f->id = *(uint16_t *)ATTR_DATA(a);
		else if (a->nla_type == CTRL_ATTR_MCAST_GROUPS)
			family_grp(a, f);
	}
}

static void nl_open(struct nl *n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct family f = { 0 };
	char attrs[64];
	size_t alen;
	int r;

	n->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (n->fd < 0)
		die("netlink socket", errno);
	if (bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("netlink bind", errno);
	alen = put_attr(attrs, 0, CTRL_ATTR_FAMILY_NAME, VHOST_ACCEL_GENL_NAME,
			sizeof(VHOST_ACCEL_GENL_NAME));
	r = nl_send(n, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0, attrs, alen);
	if (!r)
		r = nl_answer(n, family_msg, &f);
	if (r == -ENOENT) {
		fprintf(stderr,
			"vhost-accel-stat: no generic netlink family %s (is vhost_accel loaded?)\n",
			VHOST_ACCEL_GENL_NAME);
		exit(1);
	}
	if (r)
		die("resolving the family", -r);
	n->family = f.id;
	n->grp = f.grp;
}

/* ---- guest names ---------------------------------------------------- */

/*
 * The guest name in a QEMU -name value: "guest=NAME,..." or "NAME,...",
 * ",," standing for a comma.
 */
static void name_from_opt(const char *opt, char *out, size_t len)
{
	const char *p = opt, *start = opt;
	size_t o = 0;

	/* find the element "guest=..." or a first one without a key */
	for (;;) {
		const char *e = p;

		while (*e && !(*e == ',' && e[1] != ','))
			e += *e == ',' ? 2 : 1;
		if (!strncmp(p, "guest=", 6)) {
			start = p + 6;
			break;
		}
		if (p == opt && !memchr(p, '=', e - p)) {
			start = p;
			break;
		}
		if (!*e) {
			out[0] = '\0';
			return;
		}
		p = e + 1;
	}
	for (p = start; *p && o + 1 < len; p++) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* The QEMU guest name of process @pid, or "" (no such option, no access). */
static void guest_name(uint32_t pid, char *out, size_t len)
{
	char path[64], *buf, *p, *end;
	size_t n;
	FILE *f;

	out[0] = '\0';
	if (!pid)
		return;
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	buf = malloc(BUFSZ);
	if (!buf) {
		fclose(f);
		return;
	}
	n = fread(buf, 1, BUFSZ - 1, f);
	fclose(f);
	buf[n] = '\0';
	end = buf + n;
	for (p = buf; p < end; p += strlen(p) + 1) {
		char *next = p + strlen(p) + 1;

		if (!strcmp(p, "-name") || !strcmp(p, "--name")) {
			if (next < end)
				name_from_opt(next, out, len);
			break;
		}
		if (!strncmp(p, "-name=", 6) || !strncmp(p, "--name=", 7)) {
			name_from_opt(strchr(p, '=') + 1, out, len);
			break;
		}
	}
	free(buf);
}

/* ---- output --------------------------------------------------------- */

static const char *mode_name(uint8_t dp)
{
	switch (dp) {
	case VHOST_ACCEL_DATAPATH_ACCEL:
		return "accel";
	case VHOST_ACCEL_DATAPATH_COPY:
		return "copy";
	default:
		return "none";
	}
}

static void fmt_mac(const struct dev *d, char *buf, size_t len)
{
	if (!d->has_mac) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0],
		 d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
}

/* A JSON string: the guest name comes from another process. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_dev_head(const struct dev *d, const char *guest)
{
	char mac[24];

	fmt_mac(d, mac, sizeof(mac));
	printf("{\"id\":%u,\"owner_pid\":%u,\"guest\":", d->id, d->owner_pid);
	json_str(guest);
	printf(",\"mode\":\"%s\",\"ifindex\":%u,\"nic\":", mode_name(d->datapath),
	       d->ifindex);
	json_str(d->ifname);
	printf(",\"mac\":\"%s\",\"backend_ifindex\":%u,\"queue_pairs\":%u,\"saturated\":%u",
	       mac, d->backend_ifindex, d->queue_pairs, d->saturated);
}

struct list {
	unsigned int n;
};

static void list_msg(const struct nlmsghdr *h, void *arg)
{
	struct list *l = arg;
	char guest[GUEST_MAX], mac[24];
	struct dev d;

	parse_dev(h, &d);
	guest_name(d.owner_pid, guest, sizeof(guest));
	fmt_mac(&d, mac, sizeof(mac));
	if (json) {
		printf("%s", l->n ? ",\n" : "");
		json_dev_head(&d, guest);
		printf(",\"rx_packets\":%" PRIu64 ",\"tx_packets\":%" PRIu64 "}",
		       d.q[0][VHOST_ACCEL_A_Q_PACKETS],
		       d.q[1][VHOST_ACCEL_A_Q_PACKETS]);
	} else {
		printf("%-5u %-8u %-16s %-5s %-12s %-17s %3u %12" PRIu64 " %12" PRIu64 "%s\n",
		       d.id, d.owner_pid, guest[0] ? guest : "-",
		       mode_name(d.datapath), d.ifname[0] ? d.ifname : "-",
		       mac, d.queue_pairs, d.q[0][VHOST_ACCEL_A_Q_PACKETS],
		       d.q[1][VHOST_ACCEL_A_Q_PACKETS],
		       d.saturated ? "  SATURATED" : "");
	}
	l->n++;
}

static int do_list(struct nl *n)
{
	struct list l = { 0 };
	int r;

	r = nl_send(n, n->family, VHOST_ACCEL_CMD_GET, NLM_F_DUMP, NULL, 0);
	if (r)
		die("dump request", -r);
	if (json)
		printf("[");
	else
		printf("%-5s %-8s %-16s %-5s %-12s %-17s %3s %12s %12s\n", "ID",
		       "PID", "GUEST", "MODE", "NIC", "MAC", "QPS", "RX_PACKETS",
		       "TX_PACKETS");
	r = nl_answer(n, list_msg, &l);
	if (json)
		printf("]\n");
	if (r)
		die("dump", -r);
	return 0;
}

static void show_json(const struct dev *d, const char *guest)
{
	unsigned int q, t;

	json_dev_head(d, guest);
	printf(",\"flow_control\":%u,\"depletions\":%" PRIu64
	       ",\"saturations\":%" PRIu64 ",\"saturated_ns\":%" PRIu64,
	       d->flow_control, d->depletions, d->saturations,
	       d->saturated_ns);
	if (d->has_drops)
		printf(",\"drops_no_buf\":%" PRIu64, d->drops_no_buf);
	if (d->has_pinned)
		printf(",\"pinned_pages\":%" PRIu64, d->pinned_pages);
	printf(",\"worker_wakeups\":%" PRIu64 ",\"datapath_switches\":%" PRIu64
	       ",\"switch_drops\":%" PRIu64 ",\"queues\":[",
	       d->worker_wakeups, d->datapath_switches, d->switch_drops);
	for (q = 0; q < d->nq; q++) {
		printf("%s{\"index\":%u", q ? "," : "", q);
		for (t = 0; t <= VHOST_ACCEL_A_Q_MAX; t++)
			if (q_names[t])
				printf(",\"%s\":%" PRIu64, q_names[t], d->q[q][t]);
		printf("}");
	}
	printf("]}\n");
}

static void show_text(const struct dev *d, const char *guest)
{
	unsigned int q, t;
	char mac[24];

	fmt_mac(d, mac, sizeof(mac));
	printf("device %u  owner_pid %u  guest %s\n", d->id, d->owner_pid,
	       guest[0] ? guest : "-");
	printf("  mode %s  nic %s (ifindex %u)  mac %s  backend_ifindex %u  queue_pairs %u\n",
	       mode_name(d->datapath), d->ifname[0] ? d->ifname : "-",
	       d->ifindex, mac, d->backend_ifindex, d->queue_pairs);
	printf("  saturated %u  flow_control %u  depletions %" PRIu64
	       "  saturations %" PRIu64 "  saturated_ns %" PRIu64 "\n",
	       d->saturated, d->flow_control, d->depletions, d->saturations,
	       d->saturated_ns);
	printf("  pinned_pages ");
	if (d->has_pinned)
		printf("%" PRIu64, d->pinned_pages);
	else
		printf("-");
	printf("  worker_wakeups %" PRIu64 "  datapath_switches %" PRIu64
	       "  switch_drops %" PRIu64 "\n", d->worker_wakeups,
	       d->datapath_switches, d->switch_drops);
	printf("  %-16s %20s %20s\n", "queue", "rx", "tx");
	for (t = 0; t <= VHOST_ACCEL_A_Q_MAX; t++) {
		if (!q_names[t])
			continue;
		printf("  %-16s", q_names[t]);
		for (q = 0; q < NQ; q++)
			printf(" %20" PRIu64, d->q[q][t]);
		printf("\n");
	}
}

static void one_msg(const struct nlmsghdr *h, void *arg)
{
	parse_dev(h, arg);
}

static int do_show(struct nl *n, const char *arg)
{
	char attrs[16], guest[GUEST_MAX], *end;
	unsigned long id;
	struct dev d;
	uint32_t id32;
	int r;

	errno = 0;
	id = strtoul(arg, &end, 0);
	if (errno || *end || !*arg || id > UINT32_MAX) {
		fprintf(stderr, "vhost-accel-stat: bad device id '%s'\n", arg);
		return 2;
	}
	id32 = id;
	r = nl_send(n, n->family, VHOST_ACCEL_CMD_GET, 0, attrs,
		    put_attr(attrs, 0, VHOST_ACCEL_A_DEV_ID, &id32, 4));
	if (!r)
		r = nl_answer(n, one_msg, &d);
	if (r == -ENODEV) {
		fprintf(stderr, "vhost-accel-stat: no device %lu in this network namespace\n",
			id);
		return 1;
	}
	if (r)
		die("get", -r);
	guest_name(d.owner_pid, guest, sizeof(guest));
	if (json)
		show_json(&d, guest);
	else
		show_text(&d, guest);
	return 0;
}

/* ---- monitor -------------------------------------------------------- */

static void print_event(const struct dev *d)
{
	const char *what = d->cmd == VHOST_ACCEL_CMD_SATURATED ? "SATURATED" :
			   d->cmd == VHOST_ACCEL_CMD_RECOVERED ? "RECOVERED" :
			   "UNKNOWN";
	char guest[GUEST_MAX], mac[24];

	guest_name(d->owner_pid, guest, sizeof(guest));
	fmt_mac(d, mac, sizeof(mac));
	if (json) {
		printf("{\"event\":\"%s\",\"id\":%u,\"owner_pid\":%u,\"guest\":",
		       what, d->id, d->owner_pid);
		json_str(guest);
		printf(",\"ifindex\":%u,\"mac\":\"%s\",\"saturations\":%" PRIu64
		       ",\"duration_ns\":%" PRIu64 "}\n", d->ifindex, mac,
		       d->saturations, d->duration_ns);
	} else {
		printf("%s device %u guest %s pid %u ifindex %u mac %s saturations %" PRIu64,
		       what, d->id, guest[0] ? guest : "-", d->owner_pid,
		       d->ifindex, mac, d->saturations);
		if (d->cmd == VHOST_ACCEL_CMD_RECOVERED)
			printf(" duration_ms %.3f", d->duration_ns / 1e6);
		printf("\n");
	}
	fflush(stdout);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Events until @count were printed (0: no limit) or @secs passed (0: none). */
static int do_monitor(struct nl *n, unsigned long count, unsigned long secs)
{
	static char buf[BUFSZ];
	long long end = secs ? now_ms() + secs * 1000LL : 0;
	unsigned long seen = 0;
	struct nlmsghdr *h;
	struct dev d;
	ssize_t len;

	if (setsockopt(n->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &n->grp,
		       sizeof(n->grp)))
		die("joining the backpressure group", errno);
	if (!json)
		printf("waiting for backpressure events\n");
	fflush(stdout);
	while (!count || seen < count) {
		struct pollfd pfd = { .fd = n->fd, .events = POLLIN };
		int ms = -1;

		if (end) {
			long long left = end - now_ms();

			if (left <= 0)
				return 1;
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		if (poll(&pfd, 1, ms) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", errno);
		}
		if (!(pfd.revents & POLLIN))
			continue;
		len = recv(n->fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == ENOBUFS) {
				fprintf(stderr, "vhost-accel-stat: events lost (socket buffer full)\n");
				continue;
			}
			die("recv", errno);
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type != n->family)
				continue;
			parse_dev(h, &d);
			print_event(&d);
			seen++;
		}
	}
	return 0;
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: vhost-accel-stat [-j]                 list the devices\n"
		"       vhost-accel-stat [-j] show ID         every counter of device ID\n"
		"       vhost-accel-stat [-j] [-c N] [-t SECONDS] monitor\n"
		"                                             follow backpressure events\n");
}

static unsigned long num_arg(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "vhost-accel-stat: bad %s '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long count = 0, secs = 0;
	struct nl n = { .fd = -1 };
	int c;

	while ((c = getopt(argc, argv, "hjc:t:")) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			count = num_arg(optarg, "-c");
			break;
		case 't':
			secs = num_arg(optarg, "-t");
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc && strcmp(argv[0], "list") && strcmp(argv[0], "show") &&
	    strcmp(argv[0], "monitor")) {
		print_usage(stderr);
		return 2;
	}
	if (argc && !strcmp(argv[0], "show") && argc != 2) {
		print_usage(stderr);
		return 2;
	}
	nl_open(&n);
	if (!argc || !strcmp(argv[0], "list"))
		return do_list(&n);
	if (!strcmp(argv[0], "show"))
		return do_show(&n, argv[1]);
	return do_monitor(&n, count, secs);
}
