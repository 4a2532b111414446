// SPDX-License-Identifier: GPL-2.0
/*
 * Who may do what with /dev/vhost-accel, and what a guest cannot reach.
 *
 *  - the udev rule (packaging/60-vhost-accel.rules): with the node's
 *    group and mode set as the rule says, a uid in that group opens and
 *    owns the device, one outside it gets EACCES;
 *  - VHOST_ACCEL_SET_NIC needs CAP_NET_ADMIN over the NIC's network
 *    namespace: EPERM without the capability, and EPERM for the root of
 *    a fresh user namespace (all capabilities, but over its own
 *    namespace only); and it works for the root of a user namespace
 *    that owns the network namespace the NIC was moved into;
 *  - a process holding the fd that is not the owner (a forked child, or
 *    an unrelated process that got the fd over a unix socket) gets EPERM
 *    from every ioctl vhost-net checks the owner for, EBUSY from
 *    SET_OWNER, and nothing written to its buffers; the owner's device
 *    keeps working;
 *  - debugfs (the device statistics, nicsim's knobs) is root only;
 *  - a memory-table swap that drops the region holding buffers already
 *    given to the device: the device neither writes the posted Rx
 *    buffers nor reads a Tx buffer there any more (Tx: the queue's error
 *    eventfd, nothing on the wire);
 *  - netlink tells a device's owner as a pid of the asking process's pid
 *    namespace: 0 when the owner is not in it;
 *  - only CAP_NET_ADMIN in the initial user namespace creates a nicsim
 *    NIC: the root of a user namespace gets EPERM (a NIC made in its
 *    network namespace would land in the host's when that one dies).
 *
 * Netlink scope (CAP_NET_ADMIN for GET/dump/events, nothing from another
 * namespace) is tested in datapath_backpressure.c (netlink_errors,
 * saturation_event); ring addresses outside or straddling the table in
 * datapath_malformed.c and the fuzzer.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <net/if.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "dptest.h"

#define SEC_NOBODY	65534
#define SEC_RULES	"packaging/60-vhost-accel.rules"
#define SEC_VHOST_DEBUGFS	"/sys/kernel/debug/vhost-accel"
#define SEC_NICSIM_DEBUGFS	"/sys/kernel/debug/nicsim"
#define SEC_PATTERN	0xa5

/* What a child found wrong, for the parent's message. */
struct sec_shared {
	char why[1200];
};

FIXTURE(sec) {
	struct dp_ctx c;
	struct vg_net g;
	uint8_t mac[6];
	struct sec_shared *sh;
	struct stat node;	/* /dev/vhost-accel before a test changed it */
	bool node_changed;
};

FIXTURE_SETUP(sec)
{
	int r;

	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	memset(self->sh, 0, sizeof(*self->sh));
	ASSERT_EQ(0, stat(VG_DEV_ACCEL, &self->node));
	dp_guest_mac(self->mac, 0);
	r = dp_ctx_init(&self->c, 's', 0);
	if (r) {
		dp_ctx_fini(&self->c);
		ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	}
}

FIXTURE_TEARDOWN(sec)
{
	if (self->node_changed) {
		if (chown(VG_DEV_ACCEL, self->node.st_uid, self->node.st_gid) ||
		    chmod(VG_DEV_ACCEL, self->node.st_mode & 07777))
			TH_LOG("could not restore %s", VG_DEV_ACCEL);
	}
	vg_net_close(&self->g);
	dp_ctx_fini(&self->c);
	munmap(self->sh, sizeof(*self->sh));
}

static const struct vg_net_cfg sec_cfg = {
	.features = DP_F_V1 | DP_F_MRG,
	.rx_bufs = 32,
};

#define SEC_FAIL(_sh, ...) do {						\
	snprintf((_sh)->why, sizeof((_sh)->why), __VA_ARGS__);		\
	return 1;							\
} while (0)

/* Run @fn in a child: its exit status (0: all as expected). */
static int sec_child(int (*fn)(struct sec_shared *, void *),
		     struct sec_shared *sh, void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(fn(sh, arg));
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFEXITED(status)) {
		snprintf(sh->why, sizeof(sh->why), "child died (status %#x)",
			 status);
		return 128;
	}
	return WEXITSTATUS(status);
}

/* Become nobody, with @gid as the only supplementary group (or none). */
static int sec_become_nobody(int gid)
{
	gid_t g = (gid_t)gid;

	if (setgroups(gid < 0 ? 0 : 1, &g))
		return -errno;
	if (setresgid(SEC_NOBODY, SEC_NOBODY, SEC_NOBODY) ||
	    setresuid(SEC_NOBODY, SEC_NOBODY, SEC_NOBODY))
		return -errno;
	return 0;
}

/* ---- the udev rule ---- */

struct sec_rule {
	char group[64];
	unsigned int mode;
};

/* The rule for KERNEL=="vhost-accel", from the rules file of this tree. */
static int sec_read_rule(struct sec_rule *rule, char *why, size_t wl)
{
	char exe[256], path[320], line[256];
	const char *g, *m;
	ssize_t n;
	FILE *f;
	int r = -ENOENT;

	/* the binary is selftests/build/NAME */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s/../../" SEC_RULES, dirname(exe));
	f = fopen(path, "r");
	if (!f) {
		snprintf(why, wl, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strstr(line, "KERNEL==\"vhost-accel\""))
			continue;
		g = strstr(line, "GROUP=\"");
		m = strstr(line, "MODE=\"");
		if (!g || !m ||
		    sscanf(g + 7, "%63[^\"]", rule->group) != 1 ||
		    sscanf(m + 6, "%o", &rule->mode) != 1) {
			snprintf(why, wl, "%s: no GROUP= and MODE= in: %s",
				 path, line);
			r = -EINVAL;
			break;
		}
		r = 0;
		break;
	}
	fclose(f);
	if (r == -ENOENT)
		snprintf(why, wl, "%s: no rule for KERNEL==\"vhost-accel\"",
			 path);
	return r;
}

static int sec_open_outside(struct sec_shared *sh, void *arg)
{
	int fd;

	(void)arg;
	if (sec_become_nobody(-1))
		SEC_FAIL(sh, "cannot become nobody: %s", strerror(errno));
	fd = open(VG_DEV_ACCEL, O_RDWR);
	if (fd >= 0)
		SEC_FAIL(sh, "nobody outside the group opened %s",
			 VG_DEV_ACCEL);
	if (errno != EACCES)
		SEC_FAIL(sh, "open outside the group: %s, not EACCES",
			 strerror(errno));
	fd = open(VG_DEV_ACCEL, O_RDONLY);
	if (fd >= 0 || errno != EACCES)
		SEC_FAIL(sh, "read-only open outside the group: %s",
			 fd >= 0 ? "opened" : strerror(errno));
	return 0;
}

static int sec_open_inside(struct sec_shared *sh, void *arg)
{
	struct vg_dev d;
	uint64_t features;
	int r;

	if (sec_become_nobody(*(int *)arg))
		SEC_FAIL(sh, "cannot become nobody: %s", strerror(errno));
	memset(&d, 0, sizeof(d));
	r = vg_open(&d, VG_DEV_ACCEL);
	if (r)
		SEC_FAIL(sh, "open in the group: %s", dp_strerr(r));
	r = vg_set_owner(&d);
	if (!r)
		r = vg_get_features(&d, &features);
	if (!r)
		r = vg_set_vring_num(&d, VG_VQ_RX, 256);
	vg_close(&d);
	if (r)
		SEC_FAIL(sh, "owning the device as a group member: %s",
			 dp_strerr(r));
	return 0;
}

TEST_F_TIMEOUT(sec, udev_rule_group_kvm, 30)
{
	struct sec_rule rule;
	struct group *gr;
	char why[1024];
	int gid, r;

	r = sec_read_rule(&rule, why, sizeof(why));
	ASSERT_EQ(0, r) TH_LOG("%s", why);
	/* what systemd does for /dev/vhost-net: group kvm, 0660 */
	EXPECT_STREQ("kvm", rule.group);
	EXPECT_EQ(0660U, rule.mode);
	EXPECT_EQ(0U, rule.mode & 07) TH_LOG("the rule opens the device to everyone");
	gr = getgrnam(rule.group);
	ASSERT_NE(NULL, gr) TH_LOG("no group %s in /etc/group", rule.group);
	gid = (int)gr->gr_gid;

	/* what udev would do when the node appears */
	self->node_changed = true;
	ASSERT_EQ(0, chown(VG_DEV_ACCEL, 0, (gid_t)gid));
	ASSERT_EQ(0, chmod(VG_DEV_ACCEL, rule.mode));

	r = sec_child(sec_open_outside, self->sh, NULL);
	EXPECT_EQ(0, r) TH_LOG("%s", self->sh->why);
	r = sec_child(sec_open_inside, self->sh, &gid);
	EXPECT_EQ(0, r) TH_LOG("%s", self->sh->why);
}

/* ---- binding needs CAP_NET_ADMIN over the NIC's namespace ---- */

struct sec_bind {
	struct dp_ctx *c;
	const uint8_t *mac;
	bool userns;
};

static int sec_bind_unprivileged(struct sec_shared *sh, void *arg)
{
	struct sec_bind *b = arg;
	struct vg_net g;
	char qps[256];
	int r;

	memset(&g, 0, sizeof(g));
	r = vg_net_open(&g, VG_DEV_ACCEL, &sec_cfg);
	if (r)
		SEC_FAIL(sh, "guest setup: %s", dp_strerr(r));
	if (b->userns) {
		/*
		 * Root of a new user namespace: every capability, over it.
		 * The kernel refuses one to a chrooted process; the VM runner
		 * moves its root onto / (selftests/vm/init), so we are not.
		 */
		if (unshare(CLONE_NEWUSER))
			SEC_FAIL(sh, "unshare(CLONE_NEWUSER): %s",
				 strerror(errno));
		if (vg_have_cap(CAP_NET_ADMIN) != 1)
			SEC_FAIL(sh, "no CAP_NET_ADMIN in the new user namespace");
	} else {
		r = vg_drop_cap(CAP_NET_ADMIN);
		if (r)
			SEC_FAIL(sh, "dropping CAP_NET_ADMIN: %s", dp_strerr(r));
	}
	r = vg_net_bind(&g, b->c->nic.ifindex, b->mac, 0);
	if (r != -EPERM)
		SEC_FAIL(sh, "SET_NIC without CAP_NET_ADMIN over the NIC: %s, not EPERM",
			 r ? dp_strerr(r) : "bound");
	/* and nothing was attached on the way (debugfs: not chrooted) */
	if (!b->userns && vp_nic_knob_read(&b->c->nic, "qps", qps, sizeof(qps)) == 0 &&
	    !strstr(qps, " 0 attached"))
		SEC_FAIL(sh, "a queue pair is attached: %s", qps);
	vg_net_close(&g);
	return 0;
}

static void sec_bind_case(struct __test_metadata *_metadata,
			  struct _test_data_sec *self, bool userns)
{
	struct sec_bind b = { .c = &self->c, .mac = self->mac,
			      .userns = userns };
	int r;

	r = sec_child(sec_bind_unprivileged, self->sh, &b);
	EXPECT_EQ(0, r) TH_LOG("%s", self->sh->why);
	/* the same bind with the capability works */
	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

TEST_F_TIMEOUT(sec, set_nic_without_cap_net_admin, 60)
{
	sec_bind_case(_metadata, self, false);
}

TEST_F_TIMEOUT(sec, set_nic_from_user_namespace, 60)
{
	sec_bind_case(_metadata, self, true);
}

/*
 * The positive side of ns_capable(): a user namespace's root binds to a
 * NIC in a network namespace of its own.  The child opens and sets up
 * the device as root, then makes the two namespaces; the parent (root in
 * the initial ones) moves a NIC of its own in; the child brings it up and
 * binds and starts the device there.
 */
struct sec_netns_nic {
	int made[2];		/* child -> parent: namespaces made */
	int moved[2];		/* parent -> child: 1, the NIC is in */
	char name[IFNAMSIZ];
	const uint8_t *mac;
};

static int sec_bind_own_netns(struct sec_shared *sh, void *arg)
{
	struct sec_netns_nic *u = arg;
	struct vg_net g;
	char c = 0;
	int r, ifindex;

	memset(&g, 0, sizeof(g));
	r = vg_net_open(&g, VG_DEV_ACCEL, &sec_cfg);
	if (r)
		SEC_FAIL(sh, "guest setup: %s", dp_strerr(r));
	/* see sec_bind_unprivileged() for the user namespace */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		SEC_FAIL(sh, "unshare(CLONE_NEWUSER | CLONE_NEWNET): %s",
			 strerror(errno));
	if (write(u->made[1], &c, 1) != 1 || read(u->moved[0], &c, 1) != 1 ||
	    c != 1)
		SEC_FAIL(sh, "the NIC was not moved into the new namespace");
	ifindex = (int)if_nametoindex(u->name);
	if (!ifindex)
		SEC_FAIL(sh, "no %s in the new namespace", u->name);
	r = vp_nl_link_set(ifindex, 1, 0, -1, -1);
	if (r)
		SEC_FAIL(sh, "%s up, as the namespace's root: %s", u->name,
			 dp_strerr(r));
	r = vg_net_bind(&g, ifindex, u->mac, 0);
	if (r)
		SEC_FAIL(sh, "SET_NIC as root of the user namespace owning the NIC's: %s",
			 dp_strerr(r));
	r = vg_net_start(&g, -1);
	if (r)
		SEC_FAIL(sh, "SET_BACKEND after that bind: %s", dp_strerr(r));
	vg_net_close(&g);
	return 0;
}

/* The parent's half: move the NIC into @pid's network namespace. */
static int sec_move_nic(int ifindex, pid_t pid)
{
	char path[64];
	int nsfd, r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -errno;
	r = vp_nl_link_set(ifindex, -1, 0, nsfd, -1);
	close(nsfd);
	return r;
}

TEST_F_TIMEOUT(sec, set_nic_in_user_namespace_netns, 60)
{
	struct sec_netns_nic u = { .mac = self->mac };
	char peer[IFNAMSIZ], c = 0;
	uint64_t deadline;
	int ifindex, r = -1, status;
	pid_t pid;

	snprintf(u.name, sizeof(u.name), VP_NAME_PREFIX "%du", (int)getpid());
	snprintf(peer, sizeof(peer), "%.14sp", u.name);
	ASSERT_EQ(0, vp_nl_link_add(u.name, "nicsim"));
	ifindex = (int)if_nametoindex(u.name);
	ASSERT_NE(0, ifindex);
	/* the wire's far end stays here, up: the NIC has carrier */
	EXPECT_EQ(0, vp_nl_link_set((int)if_nametoindex(peer), 1, 0, -1, -1));
	ASSERT_EQ(0, pipe(u.made));
	ASSERT_EQ(0, pipe(u.moved));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(u.made[0]);
		close(u.moved[1]);
		_exit(sec_bind_own_netns(self->sh, &u));
	}
	close(u.made[1]);
	close(u.moved[0]);
	if (read(u.made[0], &c, 1) == 1) {
		r = sec_move_nic(ifindex, pid);
		c = !r;
		EXPECT_EQ(1, (int)write(u.moved[1], &c, 1));
	}
	close(u.made[0]);
	close(u.moved[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, r) TH_LOG("moving %s: %s", u.name, dp_strerr(r));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("%s", self->sh->why);
	if (r) {
		vp_nl_link_del(ifindex);
		return;
	}
	/*
	 * The namespace dies with the child and, like hardware, the NIC
	 * comes back here (nicsim's netns_refund), free to be deleted.
	 */
	deadline = vg_now_ms() + 2 * DP_WAIT_MS;
	while (!(ifindex = (int)if_nametoindex(u.name)) &&
	       vg_now_ms() < deadline)
		vg_sleep_ms(20);
	ASSERT_NE(0, ifindex)
		TH_LOG("%s did not come back from the dead namespace", u.name);
	EXPECT_EQ(0, vp_nl_link_del(ifindex));
	EXPECT_EQ(0U, if_nametoindex(peer));
}

/* ---- a process holding the fd that is not the owner ---- */

struct sec_nonowner {
	int fd;
	int ifindex;
	const uint8_t *mac;
};

#define SEC_EXPECT(_sh, _want, _call) do {				\
	int __r = (_call);						\
	if (__r != (_want))						\
		SEC_FAIL(_sh, "%s: %s (%d), want %s", #_call,		\
			 __r ? dp_strerr(__r) : "success", __r,		\
			 dp_strerr(_want));				\
} while (0)

/* A GET ioctl that must fail without touching the caller's buffer. */
#define SEC_EXPECT_UNTOUCHED(_sh, _fd, _req, _buf) do {		\
	memset(&(_buf), 0x5a, sizeof(_buf));				\
	SEC_EXPECT(_sh, -EPERM, vg_xioctl(_fd, _req, &(_buf)));	\
	for (size_t __i = 0; __i < sizeof(_buf); __i++)			\
		if (((uint8_t *)&(_buf))[__i] != 0x5a)			\
			SEC_FAIL(_sh, "%s wrote the caller's buffer", #_req); \
} while (0)

/* Every ioctl vhost-net checks the owner for, as a non-owner. */
static int sec_nonowner_ioctls(struct sec_shared *sh, void *arg)
{
	struct sec_nonowner *no = arg;
	static uint8_t mem[1 << 16] __attribute__((aligned(4096)));
	struct vhost_memory_region reg = {
		.guest_phys_addr = 0,
		.memory_size = sizeof(mem),
		.userspace_addr = (uintptr_t)mem,
	};
	struct vhost_vring_state st = { .index = VG_VQ_RX, .num = 64 };
	struct vhost_vring_file vf = { .index = VG_VQ_TX, .fd = -1 };
	struct vhost_vring_addr va = {
		.index = VG_VQ_RX,
		.desc_user_addr = (uintptr_t)mem,
		.avail_user_addr = (uintptr_t)mem + 4096,
		.used_user_addr = (uintptr_t)mem + 8192,
	};
	struct vhost_accel_nic_bind nb = { .ifindex = no->ifindex };
	struct vhost_accel_stats stats;
	struct vhost_vring_state gst;
	uint64_t u64, features;
	int fd = no->fd;

	memcpy(nb.mac, no->mac, 6);
	nb.mac[5] ^= 0x40;
	SEC_EXPECT(sh, -EBUSY, vg_xioctl(fd, VHOST_SET_OWNER, NULL));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_RESET_OWNER, NULL));
	SEC_EXPECT(sh, -EPERM, vg_set_mem_table_raw(fd, &reg, 1, 0));
	u64 = (uintptr_t)mem;
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_LOG_BASE, &u64));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_LOG_FD, &vf.fd));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_ACCEL_SET_NIC, &nb));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_NUM, &st));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_ADDR, &va));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_BASE, &st));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_KICK, &vf));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_CALL, &vf));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_ERR, &vf));
	SEC_EXPECT(sh, -EPERM,
		   vg_xioctl(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_SET_VRING_ENDIAN, &st));
	SEC_EXPECT(sh, -EPERM, vg_xioctl(fd, VHOST_NET_SET_BACKEND, &vf));
	/* reads leak nothing either */
	gst.index = VG_VQ_RX;
	SEC_EXPECT_UNTOUCHED(sh, fd, VHOST_ACCEL_GET_STATS, stats);
	SEC_EXPECT_UNTOUCHED(sh, fd, VHOST_GET_VRING_BASE, gst);
	SEC_EXPECT_UNTOUCHED(sh, fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, gst);
	SEC_EXPECT_UNTOUCHED(sh, fd, VHOST_GET_VRING_ENDIAN, gst);
	/* as vhost-net: the feature query needs no ownership */
	SEC_EXPECT(sh, 0, vg_xioctl(fd, VHOST_GET_FEATURES, &features));
	return 0;
}

/* The owner's device still moves a frame each way. */
static void sec_still_works(struct __test_metadata *_metadata,
			    struct _test_data_sec *self)
{
	struct vg_net_rx f;
	unsigned int stray = 0;
	char why[300];
	int r;

	vp_test_frame(self->c.tx, 128, self->c.nic.peer_mac, self->mac, 1);
	r = dp_guest_send(&self->g, self->c.tx, 128, NULL, NULL);
	ASSERT_EQ(0, r) TH_LOG("guest Tx after the non-owner: %s", dp_strerr(r));
	ASSERT_EQ(0, dp_peer_expect(&self->c, self->c.tx, 128, why,
				    sizeof(why))) TH_LOG("%s", why);
	vp_test_frame(self->c.tx, 128, self->mac, self->c.nic.peer_mac, 2);
	ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, self->c.tx, 128));
	r = dp_guest_recv(&self->g, &f, DP_WAIT_MS, &stray);
	ASSERT_EQ(0, r) TH_LOG("guest Rx after the non-owner: %s", dp_strerr(r));
	EXPECT_EQ(128U, f.len);
	EXPECT_EQ(0, memcmp(f.data, self->c.tx, 128));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
}

TEST_F_TIMEOUT(sec, non_owner_after_fork, 60)
{
	struct sec_nonowner no;
	int r;

	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	no.fd = self->g.d.fd;
	no.ifindex = self->c.nic.ifindex;
	no.mac = self->mac;
	r = sec_child(sec_nonowner_ioctls, self->sh, &no);
	EXPECT_EQ(0, r) TH_LOG("forked child: %s", self->sh->why);
	sec_still_works(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

static int sec_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int sec_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * A process that existed before the device was opened (no inherited
 * state of the owner) gets the fd over a unix socket.
 */
TEST_F_TIMEOUT(sec, non_owner_via_scm_rights, 60)
{
	struct sec_nonowner no;
	int sv[2], status, r;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		no.fd = sec_recv_fd(sv[1]);
		if (no.fd < 0) {
			snprintf(self->sh->why, sizeof(self->sh->why),
				 "recvmsg: %s", dp_strerr(no.fd));
			_exit(1);
		}
		if (read(sv[1], &no.ifindex, sizeof(no.ifindex)) !=
		    sizeof(no.ifindex))
			_exit(1);
		no.mac = self->mac;
		_exit(sec_nonowner_ioctls(self->sh, &no));
	}
	close(sv[1]);
	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	if (r)
		kill(pid, SIGKILL);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	ASSERT_EQ(0, sec_send_fd(sv[0], self->g.d.fd));
	ASSERT_EQ((ssize_t)sizeof(int),
		  write(sv[0], &self->c.nic.ifindex, sizeof(int)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(sv[0]);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("receiver (status %#x): %s", status, self->sh->why);
	sec_still_works(_metadata, self);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* ---- debugfs is root only ---- */

struct sec_paths {
	char stats[300];
	char knob[300];
};

static int sec_debugfs_nobody(struct sec_shared *sh, void *arg)
{
	struct sec_paths *p = arg;
	int fd;

	if (sec_become_nobody(-1))
		SEC_FAIL(sh, "cannot become nobody: %s", strerror(errno));
	fd = open(p->stats, O_RDONLY);
	if (fd >= 0 || errno != EACCES)
		SEC_FAIL(sh, "nobody opening %s: %s", p->stats,
			 fd >= 0 ? "opened" : strerror(errno));
	fd = open(p->knob, O_WRONLY);
	if (fd >= 0 || errno != EACCES)
		SEC_FAIL(sh, "nobody opening %s for writing: %s", p->knob,
			 fd >= 0 ? "opened" : strerror(errno));
	return 0;
}

TEST_F_TIMEOUT(sec, debugfs_root_only, 60)
{
	struct sec_paths p;
	struct dirent *e;
	struct stat st;
	bool found = false;
	DIR *dir;
	int r;

	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	dir = opendir(SEC_VHOST_DEBUGFS);
	ASSERT_NE(NULL, dir);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p.stats, sizeof(p.stats), SEC_VHOST_DEBUGFS "/%s/stats",
			 e->d_name);
		if (stat(p.stats, &st))
			continue;
		found = true;
		EXPECT_EQ(0U, st.st_uid);
		EXPECT_EQ(0U, st.st_mode & 077)
			TH_LOG("%s has mode %o", p.stats, st.st_mode & 07777);
	}
	closedir(dir);
	ASSERT_TRUE(found) TH_LOG("no device statistics in debugfs");
	snprintf(p.knob, sizeof(p.knob), SEC_NICSIM_DEBUGFS "/%s/drop_every_n",
		 self->c.nic.name);
	ASSERT_EQ(0, stat(p.knob, &st)) TH_LOG("%s", p.knob);
	EXPECT_EQ(0U, st.st_mode & 022);
	r = sec_child(sec_debugfs_nobody, self->sh, &p);
	EXPECT_EQ(0, r) TH_LOG("%s", self->sh->why);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* ---- buffers in a region that a new memory table drops ---- */

/*
 * The guest's memory as three regions: rings, Rx pool, Tx pool (vg_net
 * lays them out in that order).  @drop: which pool to leave out
 * (VG_VQ_RX or VG_VQ_TX), -1 for none.
 */
static int sec_split_table(struct vg_net *g, int drop)
{
	struct vg_region *m = &g->d.region[0];
	struct vhost_memory_region r[3];
	uint64_t cut1 = g->rx_pool_gpa - m->gpa;
	uint64_t cut2 = g->tx_pool_gpa - m->gpa;
	unsigned int n = 0;

	memset(r, 0, sizeof(r));
	r[n].guest_phys_addr = m->gpa;
	r[n].memory_size = cut1;
	r[n++].userspace_addr = (uintptr_t)m->hva;
	if (drop != VG_VQ_RX) {
		r[n].guest_phys_addr = m->gpa + cut1;
		r[n].memory_size = cut2 - cut1;
		r[n++].userspace_addr = (uintptr_t)m->hva + cut1;
	}
	if (drop != VG_VQ_TX) {
		r[n].guest_phys_addr = m->gpa + cut2;
		r[n].memory_size = m->size - cut2;
		r[n++].userspace_addr = (uintptr_t)m->hva + cut2;
	}
	return vg_set_mem_table_raw(g->d.fd, r, n, 0);
}

/*
 * Rx buffers posted to the device (and by it to the NIC), then a table
 * without them: frames that arrive afterwards must not land in them.
 */
TEST_F_TIMEOUT(sec, mem_swap_drops_posted_rx, 60)
{
	uint8_t frame[128];
	uint16_t used0;
	size_t i, pool;
	unsigned int k;
	int r;

	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	ASSERT_EQ(1U, self->g.d.nregions);
	ASSERT_EQ(0, sec_split_table(&self->g, -1));
	ASSERT_LT(self->g.rx_pool_gpa, self->g.tx_pool_gpa);
	pool = self->g.tx_pool_gpa - self->g.rx_pool_gpa;
	used0 = vg_vq_used_idx(&self->g.d, VG_VQ_RX);

	r = sec_split_table(&self->g, VG_VQ_RX);
	ASSERT_EQ(0, r) TH_LOG("table without the Rx pool: %s", dp_strerr(r));
	/* still mapped in the process, no longer guest memory */
	memset(self->g.rx_pool, SEC_PATTERN, pool);
	for (k = 0; k < 16; k++) {
		vp_test_frame(frame, sizeof(frame), self->mac,
			      self->c.nic.peer_mac, k);
		ASSERT_EQ(0, vp_packet_send(&self->c.nic, self->c.pkt, frame,
					    sizeof(frame)));
	}
	vg_sleep_ms(DP_QUIET_MS * 3);
	for (i = 0; i < pool; i++)
		if (self->g.rx_pool[i] != SEC_PATTERN)
			break;
	EXPECT_EQ(pool, i) TH_LOG("byte %zu of the dropped Rx pool written after the swap", i);
	/* nothing reported as received into them either */
	for (k = used0; (uint16_t)k != vg_vq_used_idx(&self->g.d, VG_VQ_RX); k++) {
		struct vring_used_elem *u =
			&self->g.d.vq[VG_VQ_RX].used->ring[k % self->g.d.vq[VG_VQ_RX].num];

		EXPECT_EQ(0U, u->len) TH_LOG("used entry %u: %u bytes", k, u->len);
	}
	TH_LOG("Rx errors %llu, used entries since the swap %u",
	       (unsigned long long)dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)),
	       (uint16_t)(vg_vq_used_idx(&self->g.d, VG_VQ_RX) - used0));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* A Tx buffer in a region the table no longer has is never read. */
TEST_F_TIMEOUT(sec, mem_swap_tx_outside, 60)
{
	uint8_t frame[128];
	int r;

	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	ASSERT_EQ(1U, self->g.d.nregions);
	r = sec_split_table(&self->g, VG_VQ_TX);
	ASSERT_EQ(0, r) TH_LOG("table without the Tx pool: %s", dp_strerr(r));
	vp_test_frame(frame, sizeof(frame), self->c.nic.peer_mac, self->mac, 7);
	ASSERT_LE(0, vg_net_tx(&self->g, NULL, frame, sizeof(frame), NULL));
	ASSERT_LE(0, vg_net_tx_kick(&self->g));
	EXPECT_EQ(0, vg_vq_wait_err(&self->g.d, VG_VQ_TX, DP_WAIT_MS))
		TH_LOG("no Tx error for a buffer outside the table");
	EXPECT_EQ(0, dp_peer_quiet(&self->c, DP_QUIET_MS))
		TH_LOG("a frame from outside the table reached the wire");
	EXPECT_EQ(1ULL, dp_stat(&self->g, VG_VQ_TX, DP_STAT_OFF(errors)));
	EXPECT_EQ(0ULL, dp_stat(&self->g, VG_VQ_RX, DP_STAT_OFF(errors)));
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* ---- netlink reports the owner's pid in the caller's pid namespace ---- */

#define SEC_NLBUF	16384
#define SEC_NLA_DATA(a)	((void *)((char *)(a) + NLA_HDRLEN))
#define SEC_NLA_NEXT(a)	((struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))

/* Send one generic netlink request: 0 or -errno. */
static int sec_nl_send(int fd, uint16_t type, uint8_t cmd, uint16_t flags,
		       uint16_t atype, const void *adata, uint16_t alen)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		uint8_t a[64];
	} req;
	struct nlattr *a = (struct nlattr *)req.a;
	size_t len = 0;

	memset(&req, 0, sizeof(req));
	if (adata) {
		a->nla_type = atype;
		a->nla_len = NLA_HDRLEN + alen;
		memcpy(SEC_NLA_DATA(a), adata, alen);
		len = NLA_ALIGN(a->nla_len);
	}
	req.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + len);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | flags;
	req.h.nlmsg_seq = 1;
	req.g.cmd = cmd;
	req.g.version = type == GENL_ID_CTRL ? 1 : VHOST_ACCEL_GENL_VERSION;
	return send(fd, &req, req.h.nlmsg_len, 0) < 0 ? -errno : 0;
}

/*
 * The OWNER_PID the "vhost_accel" family's dump gives, in this process's
 * pid namespace, for the device bound with @mac: 0 or -errno.
 */
static int sec_nl_owner_pid(const uint8_t *mac, uint32_t *pid)
{
	struct timeval tv = { .tv_sec = 5 };
	uint16_t family = 0;
	int fd, r = -ENOENT;
	bool done = false;
	uint8_t *buf;

	buf = malloc(SEC_NLBUF);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (!buf || fd < 0) {
		r = buf ? -errno : -ENOMEM;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = sec_nl_send(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0,
			CTRL_ATTR_FAMILY_NAME, VHOST_ACCEL_GENL_NAME,
			sizeof(VHOST_ACCEL_GENL_NAME));
	if (r)
		goto out;
	r = -ENOENT;
	while (!done) {
		ssize_t len = recv(fd, buf, SEC_NLBUF, 0);
		struct nlmsghdr *h;

		if (len < 0) {
			r = -errno;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			struct nlattr *a = (struct nlattr *)
				((char *)NLMSG_DATA(h) + GENL_HDRLEN);
			int rem = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			bool ours = false;
			uint32_t owner = 0;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;

				if (e) {
					r = e;
					done = true;
					break;
				}
				continue;
			}
			for (; rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
			       a->nla_len <= rem;
			     rem -= NLA_ALIGN(a->nla_len), a = SEC_NLA_NEXT(a)) {
				if (h->nlmsg_type == GENL_ID_CTRL &&
				    a->nla_type == CTRL_ATTR_FAMILY_ID)
					memcpy(&family, SEC_NLA_DATA(a), 2);
				if (h->nlmsg_type != family || !family)
					continue;
				if (a->nla_type == VHOST_ACCEL_A_MAC)
					ours = !memcmp(SEC_NLA_DATA(a), mac, 6);
				if (a->nla_type == VHOST_ACCEL_A_OWNER_PID)
					memcpy(&owner, SEC_NLA_DATA(a), 4);
			}
			if (h->nlmsg_type == GENL_ID_CTRL && family) {
				/* the family is known: dump it */
				r = sec_nl_send(fd, family,
						VHOST_ACCEL_CMD_GET,
						NLM_F_DUMP, 0, NULL, 0);
				if (r) {
					done = true;
					break;
				}
				r = -ENOENT;
			}
			if (ours) {
				*pid = owner;
				r = 0;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

struct sec_pidns {
	const uint8_t *mac;	/* the test process's device */
	uint8_t mac2[6];	/* the one the child in the new pid ns owns */
	int ifindex;
	int ready[2];		/* child -> parent: its device is bound */
	int done[2];		/* parent -> child: checked, exit */
};

/* Pid 1 of a new pid namespace: asks about both devices. */
static int sec_pidns_inner(struct sec_shared *sh, struct sec_pidns *p)
{
	struct vg_net g;
	uint32_t pid = ~0U;
	char c = 1;
	int r;

	if (getpid() != 1)
		SEC_FAIL(sh, "not pid 1 of a new pid namespace: %d", getpid());
	r = sec_nl_owner_pid(p->mac, &pid);
	if (r)
		SEC_FAIL(sh, "dump from the new pid namespace: %s",
			 dp_strerr(r));
	if (pid != 0)
		SEC_FAIL(sh, "owner outside our pid namespace reported as %u, not 0",
			 pid);
	memset(&g, 0, sizeof(g));
	r = vg_net_open(&g, VG_DEV_ACCEL, &sec_cfg);
	if (!r)
		r = vg_net_bind(&g, p->ifindex, p->mac2, 0);
	if (r)
		SEC_FAIL(sh, "a device of our own: %s", dp_strerr(r));
	pid = ~0U;
	r = sec_nl_owner_pid(p->mac2, &pid);
	if (r)
		SEC_FAIL(sh, "dump for our own device: %s", dp_strerr(r));
	if (pid != 1)
		SEC_FAIL(sh, "we own it as pid 1 here, netlink says %u", pid);
	if (write(p->ready[1], &c, 1) != 1 || read(p->done[0], &c, 1) != 1)
		SEC_FAIL(sh, "lost the parent");
	vg_net_close(&g);
	return 0;
}

/* The child: a new pid namespace, whose first process does the work. */
static int sec_pidns_outer(struct sec_shared *sh, void *arg)
{
	struct sec_pidns *p = arg;
	int status;
	pid_t pid;

	if (unshare(CLONE_NEWPID))
		SEC_FAIL(sh, "unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		SEC_FAIL(sh, "fork: %s", strerror(errno));
	if (!pid)
		_exit(sec_pidns_inner(sh, p));
	if (write(p->ready[1], &pid, sizeof(pid)) != sizeof(pid))
		SEC_FAIL(sh, "pipe: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		SEC_FAIL(sh, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status))
		SEC_FAIL(sh, "pid 1 of the new namespace died (status %#x)",
			 status);
	return WEXITSTATUS(status);
}

TEST_F_TIMEOUT(sec, netlink_owner_pid_namespace, 60)
{
	struct sec_pidns p = { .mac = self->mac };
	uint32_t pid = 0;
	pid_t child, inner = 0;
	int r, status;
	char c = 0;

	r = dp_guest_up(&self->c, &self->g, &sec_cfg, self->mac);
	ASSERT_EQ(0, r) TH_LOG("%s", self->c.why);
	ASSERT_EQ(0, sec_nl_owner_pid(self->mac, &pid));
	EXPECT_EQ((uint32_t)getpid(), pid) TH_LOG("from the initial pid namespace");

	dp_guest_mac(p.mac2, 1);
	p.ifindex = self->c.nic.ifindex;
	ASSERT_EQ(0, pipe(p.ready));
	ASSERT_EQ(0, pipe(p.done));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(p.ready[0]);
		close(p.done[1]);
		_exit(sec_pidns_outer(self->sh, &p));
	}
	close(p.ready[1]);
	close(p.done[0]);
	/* the inner pid, then a byte once its device is bound */
	if (read(p.ready[0], &inner, sizeof(inner)) == sizeof(inner) &&
	    read(p.ready[0], &c, 1) == 1) {
		pid = 0;
		r = sec_nl_owner_pid(p.mac2, &pid);
		EXPECT_EQ(0, r) TH_LOG("dump: %s", dp_strerr(r));
		EXPECT_EQ((uint32_t)inner, pid)
			TH_LOG("the new namespace's pid 1, from the initial one");
		EXPECT_EQ(1, (int)write(p.done[1], &c, 1));
	}
	close(p.ready[0]);
	close(p.done[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("%s", self->sh->why);
	EXPECT_NE(0, inner);
	EXPECT_EQ(self->c.vmlck0, dp_close_all(&self->c,
					       (struct vg_net *[]){ &self->g }, 1));
}

/* ---- nicsim NICs are made by the host's administrator only ---- */

static int sec_nicsim_userns(struct sec_shared *sh, void *arg)
{
	const char *name = arg;
	int r, ifindex;

	/* see sec_bind_unprivileged() for the user namespace */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		SEC_FAIL(sh, "unshare(CLONE_NEWUSER | CLONE_NEWNET): %s",
			 strerror(errno));
	if (vg_have_cap(CAP_NET_ADMIN) != 1)
		SEC_FAIL(sh, "no CAP_NET_ADMIN in the new user namespace");
	r = vp_nl_link_add(name, "nicsim");
	if (r == -EPERM)
		return 0;
	if (!r) {
		/* do not let it come back to the host with the namespace */
		ifindex = (int)if_nametoindex(name);
		if (ifindex)
			vp_nl_link_del(ifindex);
	}
	SEC_FAIL(sh, "ip link add %s type nicsim as a user namespace's root: %s, not EPERM",
		 name, r ? dp_strerr(r) : "created");
}

TEST_F_TIMEOUT(sec, nicsim_create_needs_init_cap_net_admin, 60)
{
	char name[IFNAMSIZ];
	int r, ifindex;

	snprintf(name, sizeof(name), VP_NAME_PREFIX "%dn", (int)getpid());
	r = sec_child(sec_nicsim_userns, self->sh, name);
	EXPECT_EQ(0, r) TH_LOG("%s", self->sh->why);
	EXPECT_EQ(0U, if_nametoindex(name)) TH_LOG("%s is in the host namespace", name);
	/* the host's root still can */
	ASSERT_EQ(0, vp_nl_link_add(name, "nicsim"));
	ifindex = (int)if_nametoindex(name);
	ASSERT_NE(0, ifindex);
	EXPECT_EQ(0, vp_nl_link_del(ifindex));
}

TEST_HARNESS_MAIN
