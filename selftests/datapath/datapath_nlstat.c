// SPDX-License-Identifier: GPL-2.0
/*
 * The counters where tools look: vhost-accel-stat (tools/vhost-accel-stat)
 * against a device with traffic on nicsim, through the generic netlink GET
 * and dump.
 *
 *  - list: the device with its owner's QEMU -name (this test presents
 *    QEMU's command line, "qemu-system-x86_64 -name guest=t1,...", with
 *    PR_SET_MM), mode, NIC name, MAC, queue pairs (two devices bound with
 *    one MAC are one guest's two queue pairs);
 *  - show: every counter equal to VHOST_ACCEL_GET_STATS's once traffic
 *    stopped, non-zero where traffic went;
 *  - monitor: the SATURATED and RECOVERED events when the guest stops and
 *    resumes posting Rx buffers, each naming the device and the guest;
 *  - the -name forms QEMU accepts ("-name NAME", commas doubled).
 *
 * The tool is ./vhost-accel-stat (selftests/Makefile builds it beside the
 * tests), or $VHOST_ACCEL_STAT.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "dptest.h"

#define NL_FRAMES	200
#define NL_LEN		200
#define OUTSZ		65536

FIXTURE(nl) {
	struct dp_ctx c;
	struct vg_net g, g2;
	uint8_t mac[6];
	char *out;
	char argv_buf[256];	/* the command line we present */
};

FIXTURE_SETUP(nl)
{
	struct dp_be be = { .kind = DP_BE_NICSIM };
	char why[256];
	int r;

	if (!dp_be_available(&be, why, sizeof(why)))
		DP_SETUP_SKIP("%s", why);
	dp_guest_mac(self->mac, 0);
	self->out = calloc(1, OUTSZ);
	ASSERT_NE(NULL, self->out);
	r = dp_ctx_init_be(&self->c, 'n', 0, &be,
			   DP_F_V1 | DP_F_MRG | DP_F_EVIDX);
	if (r) {
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(nl)
{
	vg_net_close(&self->g);
	vg_net_close(&self->g2);
	dp_ctx_fini(&self->c);
	free(self->out);
}

/*
 * Present @args (NUL-separated, @len bytes with the last NUL) as our
 * /proc/self/cmdline, as a QEMU process would have it.
 */
static int fake_cmdline(struct _test_data_nl *self, const char *args,
			size_t len)
{
	unsigned long start = (unsigned long)self->argv_buf;

	if (len > sizeof(self->argv_buf))
		return -EINVAL;
	memcpy(self->argv_buf, args, len);
	if (prctl(PR_SET_MM, PR_SET_MM_ARG_START, start, 0, 0) ||
	    prctl(PR_SET_MM, PR_SET_MM_ARG_END, start + len, 0, 0))
		return -errno;
	return 0;
}

#define QEMU_ARGS(name) "qemu-system-x86_64\0-name\0" name "\0-m\0512"

static const char *tool(void)
{
	const char *t = getenv("VHOST_ACCEL_STAT");

	return t ? t : "./vhost-accel-stat";
}

/* Run @cmd; its stdout in self->out; its exit status. */
static int run_cmd(struct _test_data_nl *self, const char *cmd)
{
	size_t n = 0, r;
	int status;
	FILE *p;

	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (n < OUTSZ - 1 &&
	       (r = fread(self->out + n, 1, OUTSZ - 1 - n, p)) > 0)
		n += r;
	self->out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The tool with @args. */
static int run_tool(struct _test_data_nl *self, const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "%s %s", tool(), args);
	return run_cmd(self, cmd);
}

/*
 * The number after "key": in @obj, up to @end (NULL: the string's end);
 * UINT64_MAX if missing.
 */
static uint64_t json_num(const char *obj, const char *end, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || (end && p >= end))
		return UINT64_MAX;
	return strtoull(p + strlen(pat), NULL, 10);
}

/* The string after "key": in @obj, into @buf; false if missing. */
static bool json_str(const char *obj, const char *end, const char *key,
		     char *buf, size_t len)
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(obj, pat);
	if (!p || (end && p >= end))
		return false;
	p += strlen(pat);
	q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= len)
		return false;
	memcpy(buf, p, q - p);
	buf[q - p] = '\0';
	return true;
}

/* The list entry (a flat JSON object) of the device with @mac, or NULL. */
static const char *list_entry(const char *out, const uint8_t *mac,
			      const char **end, const char *after)
{
	char want[48];
	const char *p;

	snprintf(want, sizeof(want),
		 "\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\"", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	p = strstr(after ? after : out, want);
	if (!p)
		return NULL;
	*end = strchr(p, '}');
	while (p > out && *p != '{')
		p--;
	return p;
}

static int guest_up(struct dp_ctx *c, struct vg_net *g, const uint8_t *mac,
		    bool start)
{
	struct vg_net_cfg cfg = { .features = DP_F_V1 | DP_F_MRG | DP_F_EVIDX };
	int r;

	r = vg_net_open(g, VG_DEV_ACCEL, &cfg);
	if (!r)
		r = vg_net_bind(g, c->nic.ifindex, mac, 0);
	if (!r && start)
		r = vg_net_start(g, -1);
	if (r)
		snprintf(c->why, sizeof(c->why), "guest up: %s%s",
			 dp_strerr(r), dp_hint(r));
	return r;
}

#define GUEST_UP(_g, _start) do {					\
	int __r = guest_up(&self->c, (_g), self->mac, (_start));	\
	ASSERT_EQ(0, __r) TH_LOG("%s", self->c.why);			\
} while (0)

/* Our device's id, from the tool's list; 0 if it is not there. */
static uint32_t our_id(struct _test_data_nl *self)
{
	const char *e, *o;

	if (run_tool(self, "-j"))
		return 0;
	o = list_entry(self->out, self->mac, &e, NULL);
	if (!o)
		return 0;
	return (uint32_t)json_num(o, e, "id");
}

/* Frames both ways: NL_FRAMES from the guest, NL_FRAMES from the peer. */
static int traffic(struct _test_data_nl *self, char *why, size_t wl)
{
	struct vg_net_rx f;
	unsigned int i;
	int r;

	r = vg_net_rx_fill(&self->g, NL_FRAMES);
	if (r < NL_FRAMES / 2) {
		snprintf(why, wl, "rx fill: %d", r);
		return -1;
	}
	vg_net_rx_kick(&self->g);
	if (dp_wait_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(bufs_posted),
			 (uint64_t)r, DP_WAIT_MS) != (uint64_t)r) {
		snprintf(why, wl, "buffers not posted");
		return -1;
	}
	for (i = 0; i < NL_FRAMES / 2; i++) {
		vp_test_frame(self->c.tx, NL_LEN, self->mac,
			      self->c.nic.peer_mac, i);
		if (vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx,
				   NL_LEN)) {
			snprintf(why, wl, "peer send %u", i);
			return -1;
		}
	}
	for (i = 0; i < NL_FRAMES / 2; i++)
		if (vg_net_rx_wait(&self->g, &f, DP_WAIT_MS)) {
			snprintf(why, wl, "guest got %u of %u", i,
				 NL_FRAMES / 2);
			return -1;
		}
	vp_test_frame(self->c.tx, NL_LEN, self->c.nic.peer_mac, self->mac, 0);
	r = vg_net_tx_burst(&self->g, self->c.tx, NL_LEN, 0, VP_TEST_MIN_LEN,
			    NL_FRAMES, 16, DP_WAIT_MS);
	if (r != NL_FRAMES || vg_net_tx_drain(&self->g, DP_WAIT_MS)) {
		snprintf(why, wl, "guest tx: %d", r);
		return -1;
	}
	return 0;
}

#define QF(f)	{ #f, DP_STAT_OFF(f) }
static const struct {
	const char *key;
	size_t off;
} q_fields[] = {
	QF(kicks), QF(calls), QF(errors), QF(packets), QF(bytes),
	QF(bytes_copied), QF(bufs_posted), QF(depletions), QF(drops_no_buf),
	QF(drops_too_big), QF(drops_nic), QF(saturations), QF(saturated_ns),
	QF(run_chains_max), QF(budget_yields), QF(drops_spoofed),
};

static uint64_t vq_field(const struct vhost_accel_vq_stats *s, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

/*
 * list: the fake QEMU's -name, accel, the NIC's name, our MAC, one queue
 * pair, our pid; a second device bound with the MAC makes both two queue
 * pairs of one guest.
 */
TEST_F_TIMEOUT(nl, list_guest_name, 60)
{
	static const char args[] = QEMU_ARGS("guest=t1,debug-threads=on");
	char s[64], want[80];
	const char *o, *e, *o2, *e2;
	uint32_t id;
	int r;

	r = fake_cmdline(self, args, sizeof(args));
	ASSERT_EQ(0, r) TH_LOG("PR_SET_MM: %s", dp_strerr(r));
	GUEST_UP(&self->g, true);
	ASSERT_EQ(0, run_tool(self, "-j")) TH_LOG("%s", self->out);
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o) TH_LOG("our MAC not in: %s", self->out);
	id = (uint32_t)json_num(o, e, "id");
	EXPECT_NE(0U, id);
	EXPECT_EQ((uint64_t)getpid(), json_num(o, e, "owner_pid"));
	ASSERT_TRUE(json_str(o, e, "guest", s, sizeof(s)));
	EXPECT_STREQ("t1", s);
	ASSERT_TRUE(json_str(o, e, "mode", s, sizeof(s)));
	EXPECT_STREQ("accel", s);
	ASSERT_TRUE(json_str(o, e, "nic", s, sizeof(s)));
	EXPECT_STREQ(self->c.nic.name, s);
	EXPECT_EQ((uint64_t)self->c.nic.ifindex, json_num(o, e, "ifindex"));
	EXPECT_EQ(1ULL, json_num(o, e, "queue_pairs"));
	EXPECT_EQ(0ULL, json_num(o, e, "backend_ifindex"));

	/* the table: the same, one line */
	ASSERT_EQ(0, run_tool(self, "")) TH_LOG("%s", self->out);
	snprintf(want, sizeof(want), "\n%-5u %-8d %-16s accel %-12s", id,
		 getpid(), "t1", self->c.nic.name);
	EXPECT_NE(NULL, strstr(self->out, want))
		TH_LOG("no '%s' in:\n%s", want + 1, self->out);

	/* a second queue pair of the guest */
	GUEST_UP(&self->g2, false);
	ASSERT_EQ(0, run_tool(self, "-j")) TH_LOG("%s", self->out);
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o);
	o2 = list_entry(self->out, self->mac, &e2, e);
	ASSERT_NE(NULL, o2) TH_LOG("one entry with our MAC: %s", self->out);
	EXPECT_EQ(2ULL, json_num(o, e, "queue_pairs"));
	EXPECT_EQ(2ULL, json_num(o2, e2, "queue_pairs"));
	EXPECT_NE(json_num(o, e, "id"), json_num(o2, e2, "id"));
	vg_net_close(&self->g2);
	ASSERT_EQ(0, run_tool(self, "-j"));
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(1ULL, json_num(o, e, "queue_pairs"));
}

/* QEMU's other -name forms: no "guest=", a comma written twice. */
TEST_F_TIMEOUT(nl, name_forms, 60)
{
	static const char plain[] = QEMU_ARGS("vm-plain,debug-threads=on");
	static const char commas[] = QEMU_ARGS("guest=a,,b,process=x");
	static const char none[] = "qemu-system-x86_64\0-m\0512";
	const char *o, *e;
	char s[64];

	GUEST_UP(&self->g, true);
	ASSERT_EQ(0, fake_cmdline(self, plain, sizeof(plain)));
	ASSERT_EQ(0, run_tool(self, "-j"));
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o) TH_LOG("%s", self->out);
	ASSERT_TRUE(json_str(o, e, "guest", s, sizeof(s)));
	EXPECT_STREQ("vm-plain", s);

	ASSERT_EQ(0, fake_cmdline(self, commas, sizeof(commas)));
	ASSERT_EQ(0, run_tool(self, "-j"));
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_str(o, e, "guest", s, sizeof(s)));
	EXPECT_STREQ("a,b", s);

	ASSERT_EQ(0, fake_cmdline(self, none, sizeof(none)));
	ASSERT_EQ(0, run_tool(self, "-j"));
	o = list_entry(self->out, self->mac, &e, NULL);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_str(o, e, "guest", s, sizeof(s)));
	EXPECT_STREQ("", s);
}

/*
 * show: after traffic both ways, every counter equals GET_STATS's (read
 * before and after the tool: nothing moves meanwhile).  An unknown id and
 * a bad one fail.
 */
TEST_F_TIMEOUT(nl, show_counters, 90)
{
	struct vhost_accel_stats st, st2;
	char why[160], args[64];
	const char *q, *qe;
	unsigned int i, k;
	uint32_t id;

	GUEST_UP(&self->g, true);
	ASSERT_EQ(0, traffic(self, why, sizeof(why))) TH_LOG("%s", why);
	id = our_id(self);
	ASSERT_NE(0U, id) TH_LOG("%s", self->out);
	ASSERT_EQ(0, vg_get_stats(&self->g.d, &st));
	snprintf(args, sizeof(args), "-j show %u", id);
	ASSERT_EQ(0, run_tool(self, args)) TH_LOG("%s", self->out);
	ASSERT_EQ(0, vg_get_stats(&self->g.d, &st2));
	ASSERT_EQ(0, memcmp(&st, &st2, sizeof(st)))
		TH_LOG("counters moved while idle");

	EXPECT_EQ((uint64_t)id, json_num(self->out, NULL, "id"));
	EXPECT_EQ(st.pinned_pages, json_num(self->out, NULL, "pinned_pages"));
	EXPECT_EQ(st.worker_wakeups,
		  json_num(self->out, NULL, "worker_wakeups"));
	EXPECT_EQ(st.datapath_switches,
		  json_num(self->out, NULL, "datapath_switches"));
	EXPECT_EQ(st.switch_drops, json_num(self->out, NULL, "switch_drops"));
	EXPECT_LT(0ULL, st.pinned_pages);
	EXPECT_LE((uint64_t)NL_FRAMES / 2, st.vq[VG_VQ_RX].packets);
	EXPECT_LE((uint64_t)NL_FRAMES, st.vq[VG_VQ_TX].packets);

	q = strstr(self->out, "\"queues\":[");
	ASSERT_NE(NULL, q) TH_LOG("%s", self->out);
	for (i = 0; i < 2; i++) {
		q = strstr(q, "{\"index\":");
		ASSERT_NE(NULL, q) TH_LOG("queue %u missing: %s", i, self->out);
		ASSERT_EQ((uint64_t)i, json_num(q, NULL, "index"));
		qe = strchr(q, '}');
		ASSERT_NE(NULL, qe);
		for (k = 0; k < ARRAY_SIZE(q_fields); k++) {
			const char *key = q_fields[k].key;

			EXPECT_EQ(vq_field(&st.vq[i], q_fields[k].off),
				  json_num(q, qe, key))
				TH_LOG("queue %u field %u (%s)", i, k,
				       key ? key : "?");
		}
		q = qe;
	}

	/* the text form has them too */
	snprintf(args, sizeof(args), "show %u", id);
	ASSERT_EQ(0, run_tool(self, args));
	snprintf(why, sizeof(why), "  %-16s %20llu %20llu\n", "packets",
		 (unsigned long long)st.vq[0].packets,
		 (unsigned long long)st.vq[1].packets);
	EXPECT_NE(NULL, strstr(self->out, why)) TH_LOG("%s", self->out);

	snprintf(args, sizeof(args), "show %u 2>/dev/null", id + 100000);
	EXPECT_EQ(1, run_tool(self, args));
	EXPECT_EQ(2, run_tool(self, "show x1 2>/dev/null"));
	EXPECT_EQ(2, run_tool(self, "frobnicate 2>/dev/null"));
}

/*
 * monitor: the guest posts 16 buffers, 100 frames come: SATURATED; it
 * takes the 16 and posts again: RECOVERED; both name the device and t1.
 */
TEST_F_TIMEOUT(nl, monitor_events, 90)
{
	static const char args[] = QEMU_ARGS("guest=t1,debug-threads=on");
	char cmd[128], line[512], want[64];
	struct vg_net_rx f;
	unsigned int i;
	uint32_t id;
	FILE *p;
	int st;

	ASSERT_EQ(0, fake_cmdline(self, args, sizeof(args)));
	GUEST_UP(&self->g, true);
	id = our_id(self);
	ASSERT_NE(0U, id) TH_LOG("%s", self->out);

	snprintf(cmd, sizeof(cmd), "%s -c 2 -t %d monitor", tool(),
		 60 * vg_time_scale());
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	/* its first line: it joined the group */
	ASSERT_NE(NULL, fgets(line, sizeof(line), p));
	ASSERT_EQ(0, strncmp(line, "waiting", 7)) TH_LOG("%s", line);

	ASSERT_EQ(16, vg_net_rx_fill(&self->g, 16));
	vg_net_rx_kick(&self->g);
	ASSERT_EQ(16ULL, dp_wait_stat(&self->g, VG_VQ_RX,
				      DP_STAT_OFF(bufs_posted), 16,
				      DP_WAIT_MS));
	for (i = 0; i < 100; i++) {
		vp_test_frame(self->c.tx, NL_LEN, self->mac,
			      self->c.nic.peer_mac, i);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt,
					    self->c.tx, NL_LEN));
	}
	ASSERT_NE(NULL, fgets(line, sizeof(line), p));
	snprintf(want, sizeof(want), "SATURATED device %u guest t1 ", id);
	EXPECT_EQ(0, strncmp(line, want, strlen(want)))
		TH_LOG("want '%s', got '%s'", want, line);

	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, vg_net_rx_wait(&self->g, &f, DP_WAIT_MS));
	ASSERT_LT(0, vg_net_rx_fill(&self->g, 64));
	vg_net_rx_kick(&self->g);
	ASSERT_NE(NULL, fgets(line, sizeof(line), p));
	snprintf(want, sizeof(want), "RECOVERED device %u guest t1 ", id);
	EXPECT_EQ(0, strncmp(line, want, strlen(want)))
		TH_LOG("want '%s', got '%s'", want, line);
	EXPECT_NE(NULL, strstr(line, " duration_ms ")) TH_LOG("%s", line);
	st = pclose(p);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("monitor status %#x", st);
}

/*
 * The kernel's own YNL client on our spec: cli.py --dump get (from the
 * linux-source-6.12 tree that scripts/ynl-check.sh extracts into
 * build/ynl/) decodes our device, its NIC and both queues.  Skipped
 * without python3 and PyYAML or that tree.
 */
TEST_F_TIMEOUT(nl, ynl_cli_dump, 90)
{
	const char *cli = "../../build/ynl/src/tools/net/ynl/cli.py";
	const char *spec = "../../Documentation/netlink/specs/vhost-accel.yaml";
	char cmd[512], want[64];
	uint32_t id;
	int st;

	if (access(cli, R_OK))
		SKIP(return, "no %s (scripts/ynl-check.sh makes it)", cli);
	if (vp_run("python3 -c 'import yaml' 2>/dev/null"))
		SKIP(return, "no python3 with PyYAML in the VM");
	GUEST_UP(&self->g, true);
	id = our_id(self);
	ASSERT_NE(0U, id) TH_LOG("%s", self->out);
	snprintf(cmd, sizeof(cmd),
		 "python3 %s --spec %s --no-schema --dump get --output-json",
		 cli, spec);
	st = run_cmd(self, cmd);
	ASSERT_EQ(0, st) TH_LOG("%s: %s", cmd, self->out);
	snprintf(want, sizeof(want), "\"dev-id\": %u,", id);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("%s", self->out);
	snprintf(want, sizeof(want), "\"ifname\": \"%s\"", self->c.nic.name);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "\"queue-pairs\": 1"));
	EXPECT_NE(NULL, strstr(self->out, "\"bufs-posted\": "));
	EXPECT_NE(NULL, strstr(self->out, "\"index\": 1,"))
		TH_LOG("no Tx queue: %s", self->out);
}

TEST_HARNESS_MAIN
