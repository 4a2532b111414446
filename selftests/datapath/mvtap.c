// SPDX-License-Identifier: GPL-2.0
/*
 * macvtap helpers of the datapath tests (mvtap.h): rtnetlink requests for
 * macvtap links and the macvtap's queue character device (veth pairs:
 * vp_nl_veth_add()).
 */
#define NO_KSFT_HARNESS
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "mvtap.h"

/* ---- rtnetlink requests (vpeer only knows "type KIND") ----------------- */

struct mv_nlreq {
	struct nlmsghdr n;
	struct ifinfomsg i;
	char buf[1024];
};

static int mv_nl_talk(struct nlmsghdr *n)
{
	char resp[4096];
	struct nlmsghdr *h;
	ssize_t got;
	int fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	n->nlmsg_seq = 1;
	if (send(fd, n, n->nlmsg_len, 0) < 0) {
		r = -errno;
		goto out;
	}
	got = recv(fd, resp, sizeof(resp), 0);
	if (got < 0) {
		r = -errno;
		goto out;
	}
	h = (struct nlmsghdr *)resp;
	r = -EIO;
	if (NLMSG_OK(h, (unsigned int)got) && h->nlmsg_type == NLMSG_ERROR)
		r = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
out:
	close(fd);
	return r;
}

static void mv_req_init(struct mv_nlreq *m)
{
	memset(m, 0, sizeof(*m));
	m->n.nlmsg_len = NLMSG_LENGTH(sizeof(m->i));
	m->n.nlmsg_type = RTM_NEWLINK;
	m->n.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	m->i.ifi_family = AF_UNSPEC;
}

/* ... type macvtap mode @mode */
static void mv_put_macvtap_mode(struct mv_nlreq *m, uint32_t mode)
{
	struct rtattr *li, *data;

	li = vp_nla_nest(&m->n, IFLA_LINKINFO);
	vp_nla_put(&m->n, IFLA_INFO_KIND, "macvtap", 7);
	data = vp_nla_nest(&m->n, IFLA_INFO_DATA);
	vp_nla_put(&m->n, IFLA_MACVLAN_MODE, &mode, 4);
	vp_nla_nest_end(&m->n, data);
	vp_nla_nest_end(&m->n, li);
}

/*
 * ip link add link LOWER name NAME [address MAC] type macvtap mode @mode
 * (@mac NULL: macvlan picks the address; passthru: the lower device's).
 */
int mv_macvtap_add(const char *name, int lower, const uint8_t *mac,
		   uint32_t mode)
{
	uint32_t link = (uint32_t)lower;
	struct mv_nlreq m;

	mv_req_init(&m);
	vp_nla_put(&m.n, IFLA_IFNAME, name, strlen(name) + 1);
	vp_nla_put(&m.n, IFLA_LINK, &link, 4);
	if (mac)
		vp_nla_put(&m.n, IFLA_ADDRESS, mac, 6);
	mv_put_macvtap_mode(&m, mode);
	return mv_nl_talk(&m.n);
}

/* ip link set dev IFINDEX type macvtap mode @mode */
int mv_macvtap_set_mode(int ifindex, uint32_t mode)
{
	struct mv_nlreq m;

	mv_req_init(&m);
	m.n.nlmsg_flags = 0;
	m.i.ifi_index = ifindex;
	mv_put_macvtap_mode(&m, mode);
	return mv_nl_talk(&m.n);
}

void mv_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "# %s: %s\n", path, strerror(errno));
	close(fd);
}

/*
 * The character device of macvtap @name (ifindex @idx): /dev/tapN from
 * devtmpfs, or a node made from /sys/class/net/NAME/macvtap/tapN/dev.
 */
int mv_tap_open(const char *name, int idx)
{
	char path[128], sys[160], dev[32] = "";
	unsigned int maj, mnr;
	int fd, sfd;
	ssize_t n;

	snprintf(path, sizeof(path), "/dev/tap%d", idx);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	snprintf(sys, sizeof(sys), "/sys/class/net/%s/macvtap/tap%d/dev", name,
		 idx);
	sfd = open(sys, O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	n = read(sfd, dev, sizeof(dev) - 1);
	close(sfd);
	if (n <= 0 || sscanf(dev, "%u:%u", &maj, &mnr) != 2)
		return -ENODEV;
	snprintf(path, sizeof(path), "/tmp/dpt-tap%d-%d", idx, (int)getpid());
	unlink(path);
	if (mknod(path, S_IFCHR | 0600, makedev(maj, mnr)))
		return -errno;
	fprintf(stderr, "# /dev/tap%d missing: made %s\n", idx, path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	n = fd < 0 ? -errno : fd;
	unlink(path);
	return (int)n;
}

/*
 * A macvtap VP_NAME_PREFIX<pid><tag> on @lower with @mac, IPv6 off, NOARP,
 * up; its ifindex in *@idx.
 */
int mv_macvtap_create(char *name, char tag, int lower,
		      const uint8_t *mac, int *idx)
{
	char p[128];
	int r;

	snprintf(name, VP_IFNAMSIZ, VP_NAME_PREFIX "%d%c", (int)getpid(), tag);
	r = mv_macvtap_add(name, lower, mac, MACVLAN_MODE_BRIDGE);
	if (r)
		return r;
	*idx = (int)if_nametoindex(name);
	if (!*idx)
		return -ENODEV;
	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	mv_write(p, "1");
	return vp_nl_link_set(*idx, 1, 0, -1, 1);
}

/*
 * A test's world on nicsim (dp_ctx_init(), @tag) and what QEMU is given
 * there: a macvtap (mv_macvtap_create()) on its NIC with the first guest
 * MAC (in @mac) and the macvtap's queue fd, which gets a 12-byte
 * virtio-net header as QEMU sets it.  The fd, or -errno with the reason
 * in @why.
 */
int mv_ctx_macvtap(struct dp_ctx *c, char tag, char *name, uint8_t *mac,
		   int *idx, char *why, size_t wl)
{
	int vhdr = 12, fd, r;

	r = dp_ctx_init(c, tag, 0);
	if (r) {
		snprintf(why, wl, "%s", c->why);
		return r;
	}
	dp_guest_mac(mac, 0);
	r = mv_macvtap_create(name, 't', c->nic.ifindex, mac, idx);
	if (r) {
		snprintf(why, wl, "ip link add link %s name %s type macvtap: %s",
			 c->nic.name, name, dp_strerr(r));
		return r;
	}
	fd = mv_tap_open(name, *idx);
	if (fd < 0) {
		snprintf(why, wl, "open /dev/tap%d: %s", *idx, dp_strerr(fd));
		return fd;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &vhdr)) {
		r = -errno;
		snprintf(why, wl, "TUNSETVNETHDRSZ: %s", dp_strerr(r));
		close(fd);
		return r;
	}
	return fd;
}
