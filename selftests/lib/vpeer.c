// SPDX-License-Identifier: GPL-2.0
/*
 * vpeer: nicsim instances, the peer's network namespace, AF_PACKET
 * sockets and frame builders for the vhost-accel datapath tests.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "vguest.h"
#include "vpeer.h"

static void vp_set_err(struct vp_nic *nic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vp_set_err(struct vp_nic *nic, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nic->err, sizeof(nic->err), fmt, ap);
	va_end(ap);
}

/* ---- commands -------------------------------------------------------- */

static int vp_vsystem(const char *fmt, va_list ap)
{
	char cmd[1024], full[1100];
	int st;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	snprintf(full, sizeof(full), "{ %s ; } 1>&2", cmd);
	fflush(stdout);
	fflush(stderr);
	st = system(full);
	if (st < 0)
		return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int vp_run(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vp_vsystem(fmt, ap);
	va_end(ap);
	return r;
}

int vp_capture(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (len)
		buf[0] = '\0';
	fflush(stdout);
	f = popen(cmd, "re");
	if (!f)
		return -errno;
	if (len && fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	if (st < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int vp_enter_peer(struct vp_nic *nic)
{
	if (nic->peer_ns < 0)
		return -EINVAL;
	return setns(nic->peer_ns, CLONE_NEWNET) ? -errno : 0;
}

int vp_leave_peer(struct vp_nic *nic)
{
	if (nic->self_ns < 0)
		return -EINVAL;
	return setns(nic->self_ns, CLONE_NEWNET) ? -errno : 0;
}

int vp_peer_run(struct vp_nic *nic, const char *fmt, ...)
{
	va_list ap;
	int r;

	r = vp_enter_peer(nic);
	if (r)
		return r;
	va_start(ap, fmt);
	r = vp_vsystem(fmt, ap);
	va_end(ap);
	if (vp_leave_peer(nic))
		abort();	/* never carry on in the wrong namespace */
	return r;
}

int vp_peer_socket(struct vp_nic *nic, int domain, int type, int proto)
{
	int fd, r;

	r = vp_enter_peer(nic);
	if (r)
		return r;
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	r = fd < 0 ? -errno : fd;
	if (vp_leave_peer(nic))
		abort();
	return r;
}

/* ---- rtnetlink ------------------------------------------------------- */

#define VP_NL_BUF	1024

struct vp_nlmsg {
	struct nlmsghdr n;
	union {
		struct ifinfomsg i;
		struct ifaddrmsg a;
		struct ndmsg nd;
	};
	char attrs[VP_NL_BUF];
};

void vp_nla_put(struct nlmsghdr *n, unsigned short type,
		       const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n +
					       NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

struct rtattr *vp_nla_nest(struct nlmsghdr *n, unsigned short type)
{
	struct rtattr *rta = (struct rtattr *)((char *)n +
					       NLMSG_ALIGN(n->nlmsg_len));

	vp_nla_put(n, type, NULL, 0);
	return rta;
}

void vp_nla_nest_end(struct nlmsghdr *n, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)n + n->nlmsg_len -
					 (char *)nest);
}

/*
 * Send @req and wait for its answer: 0 / -errno from the ack, or with
 * @resp the first reply message copied there.
 */
static int vp_nl_talk(struct nlmsghdr *req, void *resp, size_t rlen)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[8192];
	ssize_t n;
	int fd, r = -EIO;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	req->nlmsg_seq = 1;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		struct nlmsghdr *h;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			r = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				r = e->error;
				goto out;
			}
			if (resp && h->nlmsg_type != NLMSG_DONE) {
				memcpy(resp, h, h->nlmsg_len < rlen ?
				       h->nlmsg_len : rlen);
				resp = NULL;
				r = 0;
			}
		}
	}
out:
	close(fd);
	return r;
}

static void vp_nl_init(struct vp_nlmsg *m, unsigned short type,
		       unsigned short flags, size_t hdr)
{
	memset(m, 0, sizeof(*m));
	m->n.nlmsg_len = (unsigned int)NLMSG_LENGTH(hdr);
	m->n.nlmsg_type = type;
	m->n.nlmsg_flags = flags;
}

int vp_nl_link_add(const char *name, const char *kind)
{
	struct vp_nlmsg m;
	struct rtattr *li;

	vp_nl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	vp_nla_put(&m.n, IFLA_IFNAME, name, strlen(name) + 1);
	li = vp_nla_nest(&m.n, IFLA_LINKINFO);
	vp_nla_put(&m.n, IFLA_INFO_KIND, kind, strlen(kind));
	vp_nla_nest_end(&m.n, li);
	return vp_nl_talk(&m.n, NULL, 0);
}

int vp_nl_veth_add(const char *a, const char *b)
{
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct rtattr *li, *data, *peer;
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	vp_nla_put(&m.n, IFLA_IFNAME, a, strlen(a) + 1);
	li = vp_nla_nest(&m.n, IFLA_LINKINFO);
	vp_nla_put(&m.n, IFLA_INFO_KIND, "veth", 4);
	data = vp_nla_nest(&m.n, IFLA_INFO_DATA);
	/* VETH_INFO_PEER holds an ifinfomsg, then the peer's attributes */
	peer = vp_nla_nest(&m.n, VETH_INFO_PEER);
	memcpy((char *)&m + m.n.nlmsg_len, &pi, sizeof(pi));
	m.n.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	vp_nla_put(&m.n, IFLA_IFNAME, b, strlen(b) + 1);
	vp_nla_nest_end(&m.n, peer);
	vp_nla_nest_end(&m.n, data);
	vp_nla_nest_end(&m.n, li);
	return vp_nl_talk(&m.n, NULL, 0);
}

int vp_nl_link_del(int ifindex)
{
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_DELLINK, 0, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = ifindex;
	return vp_nl_talk(&m.n, NULL, 0);
}

int vp_nl_link_set(int ifindex, int up, unsigned int mtu, int nsfd,
		   int noarp)
{
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_NEWLINK, 0, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = ifindex;
	if (up >= 0) {
		m.i.ifi_change |= IFF_UP;
		m.i.ifi_flags |= up ? IFF_UP : 0;
	}
	if (noarp >= 0) {
		m.i.ifi_change |= IFF_NOARP;
		m.i.ifi_flags |= noarp ? IFF_NOARP : 0;
	}
	if (mtu)
		vp_nla_put(&m.n, IFLA_MTU, &mtu, 4);
	if (nsfd >= 0) {
		uint32_t fd = (uint32_t)nsfd;

		vp_nla_put(&m.n, IFLA_NET_NS_FD, &fd, 4);
	}
	return vp_nl_talk(&m.n, NULL, 0);
}

int vp_nl_link_max_mtu(int ifindex, unsigned int *mtu)
{
	static char resp[8192];
	struct vp_nlmsg m;
	struct nlmsghdr *h = (struct nlmsghdr *)resp;
	struct rtattr *rta;
	int len, r;

	vp_nl_init(&m, RTM_GETLINK, 0, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = ifindex;
	memset(resp, 0, sizeof(resp));
	r = vp_nl_talk(&m.n, resp, sizeof(resp));
	if (r)
		return r;
	if (h->nlmsg_type != RTM_NEWLINK)
		return -EIO;
	len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(struct ifinfomsg));
	for (rta = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(rta, len);
	     rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_MAX_MTU) {
			memcpy(mtu, RTA_DATA(rta), 4);
			return 0;
		}
	}
	return -ENOENT;
}

int vp_nl_addr4_add(int ifindex, uint32_t addr, int prefix)
{
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
		   sizeof(m.a));
	m.a.ifa_family = AF_INET;
	m.a.ifa_prefixlen = (unsigned char)prefix;
	m.a.ifa_index = (unsigned int)ifindex;
	vp_nla_put(&m.n, IFA_LOCAL, &addr, 4);
	vp_nla_put(&m.n, IFA_ADDRESS, &addr, 4);
	return vp_nl_talk(&m.n, NULL, 0);
}

int vp_nl_neigh4_add(int ifindex, uint32_t addr, const uint8_t *mac)
{
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
		   sizeof(m.nd));
	m.nd.ndm_family = AF_INET;
	m.nd.ndm_ifindex = ifindex;
	m.nd.ndm_state = NUD_PERMANENT;
	vp_nla_put(&m.n, NDA_DST, &addr, 4);
	vp_nla_put(&m.n, NDA_LLADDR, mac, 6);
	return vp_nl_talk(&m.n, NULL, 0);
}

/* ---- nicsim instance ------------------------------------------------- */

static bool vp_path_exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

int vp_nicsim_ensure(char *why, size_t len)
{
	static const char *const rel[] = {
		"drivers/net/nicsim/nicsim.ko",
	};
	char exe[PATH_MAX], path[PATH_MAX + 64], *p;
	const char *env = getenv("VP_NICSIM_KO");
	unsigned int i;
	ssize_t n;
	int r;

	if (vp_path_exists("/sys/module/nicsim"))
		return 0;
	if (env && *env) {
		r = vp_run("insmod %s", env);
		if (!r && vp_path_exists("/sys/module/nicsim"))
			return 0;
		snprintf(why, len, "insmod %s (VP_NICSIM_KO) failed: %d",
			 env, r);
		return -ENOENT;
	}
	/* the binary is <project>/selftests/build/<name> */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(why, len, "readlink /proc/self/exe: %s",
			 strerror(errno));
		return -ENOENT;
	}
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {
		p = strrchr(exe, '/');
		if (!p)
			break;
		*p = '\0';
	}
	for (i = 0; i < VP_ARRAY_SIZE(rel); i++) {
		snprintf(path, sizeof(path), "%s/%s", exe, rel[i]);
		if (!vp_path_exists(path))
			continue;
		r = vp_run("insmod %s", path);
		if (!r && vp_path_exists("/sys/module/nicsim")) {
			fprintf(stderr,
				"# vpeer: nicsim was not loaded; loaded %s (add it to selftests/vm/modules.list)\n",
				path);
			return 0;
		}
		snprintf(why, len, "nicsim not loaded and insmod %s failed (%d)",
			 path, r);
		return -ENOENT;
	}
	snprintf(why, len,
		 "nicsim.ko is not loaded and not built (looked in %s/drivers/net/nicsim/): the reference NIC is missing",
		 exe);
	return -ENOENT;
}

int vp_module_ko(const char *rel, const char *env, char *path, size_t len)
{
	const char *val = getenv(env);
	char exe[PATH_MAX], *p;
	unsigned int i;
	ssize_t n;

	if (val && *val) {
		snprintf(path, len, "%s", val);
		return vp_path_exists(path) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {
		p = strrchr(exe, '/');
		if (!p)
			return -ENOENT;
		*p = '\0';
	}
	snprintf(path, len, "%s/%s", exe, rel);
	return vp_path_exists(path) ? 0 : -ENOENT;
}

int vp_ifreq_socket(struct ifreq *ifr, const char *ifname)
{
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	return fd;
}

/* Address of @ifname in the calling thread's netns. */
static int vp_read_mac(const char *ifname, uint8_t *mac)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = vp_ifreq_socket(&ifr, ifname);
	if (fd < 0)
		return fd;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}

int vp_write_file(const char *path, const char *val)
{
	int fd, r = 0;
	size_t n = strlen(val);

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		r = -errno;
	close(fd);
	return r;
}

void vp_nic_reap_stale(void)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir("/sys/class/net");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		const char *s = de->d_name;
		size_t l = strlen(s);
		long pid;
		char *end;

		if (strncmp(s, VP_NAME_PREFIX, strlen(VP_NAME_PREFIX)))
			continue;
		if (l && s[l - 1] == 'p')
			continue;	/* a peer goes with its NIC */
		pid = strtol(s + strlen(VP_NAME_PREFIX), &end, 10);
		if (pid <= 0 || end == s + strlen(VP_NAME_PREFIX))
			continue;
		if (pid == getpid() || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		fprintf(stderr, "# vpeer: removing stale %s\n", s);
		vp_nl_link_del((int)if_nametoindex(s));
	}
	closedir(dir);
}

/*
 * The peer (nic->peer, nic->peer_ifindex in our netns) into a fresh netns
 * of its own (IPv6 off, so its stack stays quiet; lo up), then up there:
 * nic->peer_ns, and nic->peer_ifindex / peer_mac as seen in it.
 */
static int vp_peer_into_ns(struct vp_nic *nic)
{
	int r, ns;

	if (unshare(CLONE_NEWNET)) {
		r = -errno;
		vp_set_err(nic, "unshare(CLONE_NEWNET): %s", strerror(-r));
		return r;
	}
	ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		r = -errno;
	else
		r = 0;
	vp_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	vp_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (!r)
		vp_nl_link_set((int)if_nametoindex("lo"), 1, 0, -1, -1);
	if (setns(nic->self_ns, CLONE_NEWNET))
		abort();
	if (r) {
		vp_set_err(nic, "open new netns: %s", strerror(-r));
		return r;
	}
	nic->peer_ns = ns;

	r = vp_nl_link_set(nic->peer_ifindex, -1, 0, nic->peer_ns, -1);
	if (r) {
		vp_set_err(nic, "moving %s to its netns: %s", nic->peer,
			   strerror(-r));
		return r;
	}
	r = vp_enter_peer(nic);
	if (r)
		return r;
	nic->peer_ifindex = (int)if_nametoindex(nic->peer);
	r = nic->peer_ifindex ? vp_nl_link_set(nic->peer_ifindex, 1, 0, -1, -1) :
				-ENODEV;
	if (!r)
		r = vp_read_mac(nic->peer, nic->peer_mac);
	if (vp_leave_peer(nic))
		abort();
	if (r)
		vp_set_err(nic, "%s up in its netns: %s", nic->peer,
			   strerror(-r));
	return r;
}

/*
 * The NIC (nic->name, nic->ifindex) up and NOARP, IPv6 off: it is a port
 * of our own stack too, which must stay quiet on it; nic->mac.
 */
static int vp_nic_up_quiet(struct vp_nic *nic)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 nic->name);
	vp_write_file(path, "1");
	r = vp_nl_link_set(nic->ifindex, 1, 0, -1, 1);
	if (r) {
		vp_set_err(nic, "ip link set %s up: %s", nic->name,
			   strerror(-r));
		return r;
	}
	r = vp_read_mac(nic->name, nic->mac);
	if (r)
		vp_set_err(nic, "%s: no address", nic->name);
	return r;
}

/*
 * The two ends of a link pair: NAME in our netns, NAMEp (made by nicsim,
 * or as the veth's peer) moved into a fresh netns; @veth chooses.
 */
static int vp_pair_create(struct vp_nic *nic, char tag, bool veth)
{
	char why[512];
	int r;

	memset(nic, 0, sizeof(*nic));
	nic->self_ns = -1;
	nic->peer_ns = -1;
	vp_nic_reap_stale();
	r = veth ? 0 : vp_nicsim_ensure(why, sizeof(why));
	if (r) {
		vp_set_err(nic, "%s", why);
		return r;
	}
	snprintf(nic->name, sizeof(nic->name), VP_NAME_PREFIX "%d%c",
		 (int)getpid(), tag);
	snprintf(nic->peer, sizeof(nic->peer), "%.14sp", nic->name);

	nic->self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nic->self_ns < 0) {
		r = -errno;
		vp_set_err(nic, "open own netns: %s", strerror(-r));
		goto err;
	}
	r = veth ? vp_nl_veth_add(nic->name, nic->peer) :
		   vp_nl_link_add(nic->name, "nicsim");
	if (r) {
		vp_set_err(nic, "ip link add %s type %s: %s", nic->name,
			   veth ? "veth" : "nicsim", strerror(-r));
		r = -ENODEV;
		goto err;
	}
	nic->created = true;
	nic->is_veth = veth;
	nic->ifindex = (int)if_nametoindex(nic->name);
	nic->peer_ifindex = (int)if_nametoindex(nic->peer);
	if (!nic->ifindex || !nic->peer_ifindex) {
		vp_set_err(nic, "nicsim made %s but no peer %s", nic->name,
			   nic->peer);
		r = -ENODEV;
		goto err;
	}

	r = vp_peer_into_ns(nic);
	if (!r)
		r = vp_nic_up_quiet(nic);
	if (r)
		goto err;
	return 0;
err:
	vp_nic_destroy(nic);
	return r;
}

int vp_nic_create(struct vp_nic *nic, char tag)
{
	return vp_pair_create(nic, tag, false);
}

int vp_veth_create(struct vp_nic *nic, char tag)
{
	return vp_pair_create(nic, tag, true);
}

static void vp_vnic_teardown(struct vp_nic *nic);

void vp_nic_destroy(struct vp_nic *nic)
{
	if (nic->is_vnic)
		vp_vnic_teardown(nic);
	if (nic->created && nic->self_ns >= 0 && if_nametoindex(nic->name))
		vp_nl_link_del((int)if_nametoindex(nic->name));
	nic->created = false;
	if (nic->peer_ns >= 0 && nic->self_ns >= 0 && !nic->is_tap &&
	    !nic->is_vnic) {
		/* a peer that outlived its NIC goes too */
		if (!vp_enter_peer(nic)) {
			int idx = (int)if_nametoindex(nic->peer);

			if (idx)
				vp_nl_link_del(idx);
			if (vp_leave_peer(nic))
				abort();
		}
	}
	if (nic->peer_ns >= 0)
		close(nic->peer_ns);
	if (nic->self_ns >= 0)
		close(nic->self_ns);
	nic->peer_ns = -1;
	nic->self_ns = -1;
}

int vp_tap_create(struct vp_nic *nic, char tag, int vnet_hdr_sz, int *tapfd)
{
	char path[128];
	struct ifreq ifr;
	int fd = -1, r;

	memset(nic, 0, sizeof(*nic));
	nic->is_tap = true;
	nic->peer_ns = -1;
	nic->self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nic->self_ns < 0)
		goto err_errno;
	nic->peer_ns = fcntl(nic->self_ns, F_DUPFD_CLOEXEC, 0);
	if (nic->peer_ns < 0)
		goto err_errno;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto err_errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr_sz ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), VP_NAME_PREFIX "%d%c",
		 (int)getpid(), tag);
	if (ioctl(fd, TUNSETIFF, &ifr))
		goto err_errno;
	if (vnet_hdr_sz && ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_sz))
		goto err_errno;
	snprintf(nic->name, sizeof(nic->name), "%s", ifr.ifr_name);
	snprintf(nic->peer, sizeof(nic->peer), "%s", ifr.ifr_name);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 nic->name);
	vp_write_file(path, "1");
	nic->peer_ifindex = (int)if_nametoindex(nic->name);
	r = vp_nl_link_set(nic->peer_ifindex, 1, 0, -1, 1);
	if (r) {
		vp_set_err(nic, "ip link set %s up: %s", nic->name,
			   strerror(-r));
		close(fd);
		vp_nic_destroy(nic);
		return r;
	}
	r = vp_read_mac(nic->name, nic->peer_mac);
	if (!nic->peer_ifindex || r) {
		vp_set_err(nic, "%s: no ifindex/address", nic->name);
		close(fd);
		vp_nic_destroy(nic);
		return -ENODEV;
	}
	memcpy(nic->mac, nic->peer_mac, 6);
	*tapfd = fd;
	return 0;
err_errno:
	r = -errno;
	vp_set_err(nic, "tap setup: %s", strerror(-r));
	if (fd >= 0)
		close(fd);
	vp_nic_destroy(nic);
	return r;
}

/* ---- virtio-net PCI NIC ---------------------------------------------- */

#define VP_VIRTIO_DEVS	"/sys/bus/virtio/devices"
#define VP_VIRTIO_DRVS	"/sys/bus/virtio/drivers"
/* bind, unbind and PCI removal are synchronous: this is only a margin */
#define VP_VNIC_WAIT_MS	5000
#define VP_VNIC_STEP_US	20000

/* @src into @dst, cut to fit. */
static void vp_copy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* First line of a small (sysfs) file, without its newline; 0 or -errno. */
static int vp_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		r = -EIO;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return r;
}

/* Last component of what the symlink @path points to ("" if none). */
static void vp_link_base(const char *path, char *buf, size_t len)
{
	char t[PATH_MAX];
	const char *b;
	ssize_t n;

	buf[0] = '\0';
	n = readlink(path, t, sizeof(t) - 1);
	if (n <= 0)
		return;
	t[n] = '\0';
	b = strrchr(t, '/');
	vp_copy(buf, len, b ? b + 1 : t);
}

/* The driver bound to virtio device @dev ("" when none). */
static void vp_virtio_driver(const char *dev, char *drv, size_t len)
{
	char p[320];

	snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s/driver", dev);
	vp_link_base(p, drv, len);
}

/* The netdev of virtio device @dev in our netns; 0 or -ENOENT. */
static int vp_virtio_netdev(const char *dev, char *name, size_t len)
{
	struct dirent *de;
	char p[320];
	int r = -ENOENT;
	DIR *d;

	snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s/net", dev);
	d = opendir(p);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		vp_copy(name, len, de->d_name);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

/* echo @dev > /sys/bus/virtio/drivers/@drv/{bind,unbind} */
static int vp_virtio_attach(const char *dev, const char *drv, bool bind)
{
	char p[320];

	snprintf(p, sizeof(p), VP_VIRTIO_DRVS "/%s/%s", drv,
		 bind ? "bind" : "unbind");
	return vp_write_file(p, dev);
}

/* Move virtio device @dev from whichever driver has it to @want. */
static int vp_virtio_set_driver(struct vp_nic *nic, const char *dev,
				const char *want)
{
	char drv[64];
	int r;

	vp_virtio_driver(dev, drv, sizeof(drv));
	if (!strcmp(drv, want))
		return 0;
	if (drv[0]) {
		r = vp_virtio_attach(dev, drv, false);
		if (r) {
			vp_set_err(nic, "unbind %s from %s: %s", dev, drv,
				   strerror(-r));
			return r;
		}
	}
	r = vp_virtio_attach(dev, want, true);
	if (r)
		vp_set_err(nic, "bind %s to %s: %s", dev, want, strerror(-r));
	return r;
}

/* The virtio device whose netdev (in our netns) has address @mac. */
static int vp_vnic_find_mac(const char *mac, char *dev, size_t len)
{
	char p[300], addr[32];
	struct dirent *de;
	int r = -ENODEV;
	DIR *d;

	d = opendir("/sys/class/net");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/net/%s/address", de->d_name);
		if (vp_read_line(p, addr, sizeof(addr)) || strcasecmp(addr, mac))
			continue;
		/* macvlans may share the address: they have no device */
		snprintf(p, sizeof(p), "/sys/class/net/%s/device", de->d_name);
		vp_link_base(p, dev, len);
		if (!strncmp(dev, "virtio", 6)) {
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

/*
 * Back to the boot state for a virtio-net device no driver has (a test
 * that died between unbind and bind): virtio_net takes it.
 */
static void vp_vnic_bind_orphans(void)
{
	char p[300], id[16], drv[64];
	struct dirent *de;
	DIR *d;

	d = opendir(VP_VIRTIO_DEVS);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s/device", de->d_name);
		if (vp_read_line(p, id, sizeof(id)) || strcmp(id, "0x0001"))
			continue;
		vp_virtio_driver(de->d_name, drv, sizeof(drv));
		if (drv[0])
			continue;
		fprintf(stderr, "# vpeer: %s had no driver: binding it to virtio_net\n",
			de->d_name);
		vp_virtio_attach(de->d_name, "virtio_net", true);
	}
	closedir(d);
}

static int vp_vnic_lookup(const char *mac, char *dev, size_t len)
{
	if (!vp_vnic_find_mac(mac, dev, len))
		return 0;
	vp_vnic_bind_orphans();
	return vp_vnic_find_mac(mac, dev, len);
}

/* Look @mac up into @dev; if it is not there, say so in @why. */
static int vp_vnic_need(const char *mac, char *dev, size_t dlen, char *why,
			size_t len)
{
	const char *host = getenv("VP_VNIC_WHY");

	if (!vp_vnic_lookup(mac, dev, dlen))
		return 0;
	if (host && *host)
		snprintf(why, len, "no virtio-net device with MAC %s in the VM (run.sh: %s)",
			 mac, host);
	else
		snprintf(why, len, "no virtio-net device with MAC %s in the VM",
			 mac);
	return -ENODEV;
}

/* Both devices (their virtioN into @dev, @peer) and the driver loaded. */
static int vp_vnic_check(char *why, size_t len, char *dev, char *peer,
			 size_t dlen)
{
	if (vp_vnic_need(VP_VNIC_MAC, dev, dlen, why, len) ||
	    vp_vnic_need(VP_VNIC_PEER_MAC, peer, dlen, why, len))
		return -ENODEV;
	if (!vp_path_exists(VP_VIRTIO_DRVS "/" VP_VNIC_DRIVER)) {
		snprintf(why, len,
			 VP_VNIC_DRIVER " is not loaded (selftests/vm/modules.list loads drivers/net/virtio_net_accel/virtio_net_accel.ko once it is built)");
		return -ENOENT;
	}
	return 0;
}

bool vp_vnic_available(char *why, size_t len)
{
	char dev[32], peer[32];

	return !vp_vnic_check(why, len, dev, peer, sizeof(dev));
}

/* nic->vnic_pci: the PCI function the virtio device sits on. */
static void vp_vnic_pci_addr(struct vp_nic *nic)
{
	char p[320], real[PATH_MAX], *s;

	nic->vnic_pci[0] = '\0';
	snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s", nic->vnic_dev);
	if (!realpath(p, real))
		return;
	s = strrchr(real, '/');
	if (!s)
		return;
	*s = '\0';
	s = strrchr(real, '/');
	vp_copy(nic->vnic_pci, sizeof(nic->vnic_pci), s ? s + 1 : real);
}

/* nic->name, ifindex: the netdev nic->vnic_dev's driver registered. */
static int vp_vnic_wait_netdev(struct vp_nic *nic)
{
	int i;

	for (i = 0; i < VP_VNIC_WAIT_MS * 1000 / VP_VNIC_STEP_US; i++) {
		if (!vp_virtio_netdev(nic->vnic_dev, nic->name,
				      sizeof(nic->name))) {
			nic->ifindex = (int)if_nametoindex(nic->name);
			if (nic->ifindex)
				return 0;
		}
		usleep(VP_VNIC_STEP_US);
	}
	return -ETIMEDOUT;
}

int vp_vnic_rebind(struct vp_nic *nic, bool accel)
{
	const char *want = accel ? VP_VNIC_DRIVER : "virtio_net";
	char p[320];
	int r;

	snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s", nic->vnic_dev);
	if (!nic->vnic_dev[0] || !vp_path_exists(p)) {
		r = vp_vnic_lookup(VP_VNIC_MAC, nic->vnic_dev,
				   sizeof(nic->vnic_dev));
		if (r) {
			vp_set_err(nic, "no virtio-net device with MAC %s",
				   VP_VNIC_MAC);
			return -ENODEV;
		}
	}
	vp_vnic_pci_addr(nic);
	nic->ifindex = 0;
	r = vp_virtio_set_driver(nic, nic->vnic_dev, want);
	if (r)
		return r;
	r = vp_vnic_wait_netdev(nic);
	if (r) {
		vp_set_err(nic, "%s took %s but no netdev appeared in %s/%s/net",
			   want, nic->vnic_dev, VP_VIRTIO_DEVS, nic->vnic_dev);
		return r;
	}
	if (accel)
		return vp_nic_up_quiet(nic);
	r = vp_read_mac(nic->name, nic->mac);
	if (r)
		vp_set_err(nic, "%s: no address", nic->name);
	return r;
}

int vp_vnic_create(struct vp_nic *nic, char tag)
{
	char why[256];
	int r;

	(void)tag;
	memset(nic, 0, sizeof(*nic));
	nic->self_ns = -1;
	nic->peer_ns = -1;
	nic->is_vnic = true;
	r = vp_vnic_check(why, sizeof(why), nic->vnic_dev, nic->peer_dev,
			  sizeof(nic->vnic_dev));
	if (r) {
		vp_set_err(nic, "%s", why);
		return r;
	}
	nic->self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nic->self_ns < 0) {
		r = -errno;
		vp_set_err(nic, "open own netns: %s", strerror(-r));
		goto err;
	}
	/* the far side is virtio_net's, whatever an earlier test did */
	r = vp_virtio_set_driver(nic, nic->peer_dev, "virtio_net");
	if (r)
		goto err;
	if (!vp_virtio_netdev(nic->peer_dev, nic->peer, sizeof(nic->peer)))
		nic->peer_ifindex = (int)if_nametoindex(nic->peer);
	if (!nic->peer_ifindex) {
		vp_set_err(nic, "far side %s: no netdev", nic->peer_dev);
		r = -ENODEV;
		goto err;
	}
	nic->created = true;
	r = vp_vnic_rebind(nic, true);
	if (!r)
		r = vp_peer_into_ns(nic);
	if (r)
		goto err;
	return 0;
err:
	vp_nic_destroy(nic);
	return r;
}

/* Move @ifindex into @nsfd under a name the kernel picks from @pattern. */
static int vp_nl_link_move_as(int ifindex, int nsfd, const char *pattern)
{
	uint32_t fd = (uint32_t)nsfd;
	struct vp_nlmsg m;

	vp_nl_init(&m, RTM_NEWLINK, 0, sizeof(m.i));
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = ifindex;
	vp_nla_put(&m.n, IFLA_NET_NS_FD, &fd, 4);
	vp_nla_put(&m.n, IFLA_IFNAME, pattern, strlen(pattern) + 1);
	return vp_nl_talk(&m.n, NULL, 0);
}

/*
 * The far side back into our netns (down; under a new ethN if its name
 * was taken meanwhile), the NIC back on virtio_net (after a PCI rescan if
 * a test removed it and did not bring it back).  nic->err keeps what the
 * caller saw; what fails here goes to stderr.
 */
static void vp_vnic_teardown(struct vp_nic *nic)
{
	char err[sizeof(nic->err)], p[320];
	int idx, r = 0;

	memcpy(err, nic->err, sizeof(err));
	if (nic->peer_ns >= 0 && nic->self_ns >= 0 && !vp_enter_peer(nic)) {
		idx = (int)if_nametoindex(nic->peer);
		if (idx)
			r = vp_nl_link_set(idx, 0, 0, nic->self_ns, -1);
		if (r == -EEXIST)
			r = vp_nl_link_move_as(idx, nic->self_ns, "eth%d");
		if (vp_leave_peer(nic))
			abort();
		if (r)
			fprintf(stderr, "# vpeer: moving %s back: %s\n",
				nic->peer, strerror(-r));
	}
	if (nic->created) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", nic->vnic_pci);
		if (nic->vnic_pci[0] && !vp_path_exists(p) &&
		    vp_vnic_pci_rescan(nic))
			fprintf(stderr, "# vpeer: %s\n", nic->err);
		if (vp_vnic_rebind(nic, false))
			fprintf(stderr, "# vpeer: %s\n", nic->err);
	}
	nic->created = false;
	memcpy(nic->err, err, sizeof(err));
}

int vp_vnic_pci_remove(struct vp_nic *nic)
{
	char p[320];
	int i, r;

	if (!nic->vnic_pci[0]) {
		vp_set_err(nic, "%s: no PCI function known", nic->vnic_dev);
		return -EINVAL;
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/remove", nic->vnic_pci);
	r = vp_write_file(p, "1");
	if (r) {
		vp_set_err(nic, "echo 1 > %s: %s", p, strerror(-r));
		return r;
	}
	nic->ifindex = 0;
	snprintf(p, sizeof(p), VP_VIRTIO_DEVS "/%s", nic->vnic_dev);
	for (i = 0; i < VP_VNIC_WAIT_MS * 1000 / VP_VNIC_STEP_US; i++) {
		if (!vp_path_exists(p))
			return 0;
		usleep(VP_VNIC_STEP_US);
	}
	vp_set_err(nic, "%s still there after its PCI function %s was removed",
		   nic->vnic_dev, nic->vnic_pci);
	return -ETIMEDOUT;
}

int vp_vnic_pci_rescan(struct vp_nic *nic)
{
	int i, r;

	r = vp_write_file("/sys/bus/pci/rescan", "1");
	if (r) {
		vp_set_err(nic, "echo 1 > /sys/bus/pci/rescan: %s",
			   strerror(-r));
		return r;
	}
	for (i = 0; i < VP_VNIC_WAIT_MS * 1000 / VP_VNIC_STEP_US; i++) {
		if (!vp_vnic_find_mac(VP_VNIC_MAC, nic->vnic_dev,
				      sizeof(nic->vnic_dev)))
			break;
		usleep(VP_VNIC_STEP_US);
	}
	nic->ifindex = 0;
	if (!vp_virtio_netdev(nic->vnic_dev, nic->name, sizeof(nic->name)))
		nic->ifindex = (int)if_nametoindex(nic->name);
	if (!nic->ifindex) {
		vp_set_err(nic, "no netdev with MAC %s within %d ms of a PCI rescan",
			   VP_VNIC_MAC, VP_VNIC_WAIT_MS);
		return -ETIMEDOUT;
	}
	vp_vnic_pci_addr(nic);
	r = vp_read_mac(nic->name, nic->mac);
	if (r)
		vp_set_err(nic, "%s: no address", nic->name);
	return r;
}

int vp_nic_set_mtu(struct vp_nic *nic, unsigned int mtu)
{
	int r;

	if (!nic->is_tap) {
		r = vp_nl_link_set(nic->ifindex, -1, mtu, -1, -1);
		if (r) {
			vp_set_err(nic, "ip link set %s mtu %u: %s", nic->name,
				   mtu, strerror(-r));
			return r;
		}
	}
	r = vp_enter_peer(nic);
	if (r)
		return r;
	r = vp_nl_link_set(nic->peer_ifindex, -1, mtu, -1, -1);
	if (vp_leave_peer(nic))
		abort();
	if (r)
		vp_set_err(nic, "ip link set %s mtu %u: %s", nic->peer, mtu,
			   strerror(-r));
	return r;
}

int vp_nic_max_mtu(struct vp_nic *nic, bool peer, unsigned int *mtu)
{
	int r;

	if (!peer)
		return vp_nl_link_max_mtu(nic->is_tap ? nic->peer_ifindex :
					  nic->ifindex, mtu);
	r = vp_enter_peer(nic);
	if (r)
		return r;
	r = vp_nl_link_max_mtu(nic->peer_ifindex, mtu);
	if (vp_leave_peer(nic))
		abort();
	return r;
}

int vp_nic_set_up(struct vp_nic *nic, bool up)
{
	return vp_nl_link_set(nic->ifindex, up, 0, -1, -1);
}

int vp_nic_knob_write(struct vp_nic *nic, const char *knob, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/debug/nicsim/%s/%s",
		 nic->name, knob);
	return vp_write_file(path, val);
}

int vp_nic_knob_read(struct vp_nic *nic, const char *knob, char *buf,
		     size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/debug/nicsim/%s/%s",
		 nic->name, knob);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len ? len - 1 : 0);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int vp_nic_ethtool_stat(struct vp_nic *nic, const char *stat, uint64_t *val)
{
	char line[256];
	int r;

	r = vp_capture(line, sizeof(line),
		       "ethtool -S %s | awk -F: '{ gsub(/^[ \\t]+/, \"\", $1) } $1 == \"%s\" { print $2 }'",
		       nic->name, stat);
	if (r)
		return -EIO;
	if (!line[0])
		return -ENOENT;
	*val = strtoull(line, NULL, 10);
	return 0;
}

/* ---- AF_PACKET ------------------------------------------------------- */

int vp_packet_open(struct vp_nic *nic, uint16_t proto, unsigned int flags)
{
	struct sockaddr_ll sll;
	int one = 1, big = 64 << 20, fd;

	fd = vp_peer_socket(nic, AF_PACKET, SOCK_RAW, htons(proto));
	if (fd < 0)
		return fd;
	if ((flags & VP_PKT_VNET_HDR) &&
	    setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
		goto err;
	if ((flags & VP_PKT_AUXDATA) &&
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)))
		goto err;
	if ((flags & VP_PKT_QDISC_BYPASS) &&
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		goto err;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	big = 16 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = nic->peer_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		goto err;
	return fd;
err:
	{
		int e = -errno;

		close(fd);
		return e;
	}
}

int vp_packet_backend(int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	int fd, r;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void vp_sll_to(struct vp_nic *nic, struct sockaddr_ll *sll)
{
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_ifindex = nic->peer_ifindex;
	sll->sll_halen = 6;
}

int vp_packet_send(struct vp_nic *nic, int fd, const void *buf, size_t len)
{
	struct sockaddr_ll sll;
	ssize_t n;

	vp_sll_to(nic, &sll);
	n = sendto(fd, buf, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int vp_packet_send_many(struct vp_nic *nic, int fd, void *const *bufs,
			const size_t *lens, unsigned int n)
{
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	struct sockaddr_ll sll;
	unsigned int done = 0, i, k;
	int r;

	vp_sll_to(nic, &sll);
	while (done < n) {
		k = n - done > 64 ? 64 : n - done;
		memset(msgs, 0, sizeof(msgs[0]) * k);
		for (i = 0; i < k; i++) {
			iov[i].iov_base = bufs[done + i];
			iov[i].iov_len = lens[done + i];
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &sll;
			msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		}
		r = sendmmsg(fd, msgs, k, 0);
		if (r < 0) {
			if (done)
				return (int)done;
			return -errno;
		}
		done += (unsigned int)r;
		if ((unsigned int)r < k)
			break;
	}
	return (int)done;
}

ssize_t vp_packet_recv(int fd, void *buf, size_t cap, int timeout_ms,
		       struct vp_rxinfo *info)
{
	char cbuf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	struct sockaddr_ll sll;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	int r;

	for (;;) {
		r = vg_poll_in(fd, timeout_ms);
		if (r)
			return r;
		iov.iov_base = buf;
		iov.iov_len = cap;
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &sll;
		mh.msg_namelen = sizeof(sll);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(fd, &mh, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (info) {
			memset(info, 0, sizeof(*info));
			info->pkttype = sll.sll_pkttype;
			info->orig_len = (size_t)n;
			for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
				struct tpacket_auxdata aux;

				if (c->cmsg_level != SOL_PACKET ||
				    c->cmsg_type != PACKET_AUXDATA)
					continue;
				memcpy(&aux, CMSG_DATA(c), sizeof(aux));
				info->orig_len = aux.tp_len;
				info->csum_not_ready =
					aux.tp_status & TP_STATUS_CSUMNOTREADY;
#ifdef TP_STATUS_CSUM_VALID
				info->csum_valid =
					aux.tp_status & TP_STATUS_CSUM_VALID;
#endif
			}
		}
		return n;
	}
}

int vp_packet_flush(int fd)
{
	char buf[64];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		n++;
	return n;
}

/* ---- frames ---------------------------------------------------------- */

static uint8_t vp_pat(uint32_t seq, size_t off)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ (seq * 40503u + 0x9e37u);

	return (uint8_t)((x >> 24) ^ (x >> 11) ^ (off >> 9));
}

void vp_pattern(uint8_t *buf, size_t n, size_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = vp_pat(0x55aa, off + i);
}

static void vp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t vp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void vp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t vp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void vp_eth(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
		   uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	vp_put16(buf + 12, type);
}

void vp_test_frame(uint8_t *buf, size_t len, const uint8_t *dst,
		   const uint8_t *src, uint32_t seq)
{
	size_t i;

	vp_eth(buf, dst, src, VP_ETH_P_TEST);
	memcpy(buf + 14, "VDPT", 4);
	vp_put32(buf + 18, seq);
	vp_put32(buf + 22, (uint32_t)len);
	for (i = VP_TEST_MIN_LEN; i < len; i++)
		buf[i] = vp_pat(seq, i);
}

int64_t vp_test_frame_seq(const uint8_t *buf, size_t len)
{
	if (len < VP_TEST_MIN_LEN || vp_get16(buf + 12) != VP_ETH_P_TEST ||
	    memcmp(buf + 14, "VDPT", 4))
		return -1;
	return vp_get32(buf + 18);
}

long vp_test_frame_check(const uint8_t *buf, size_t len, const uint8_t *dst,
			 const uint8_t *src, uint32_t *seq, char *why,
			 size_t whylen)
{
	uint32_t s, l;
	size_t i;

	if (why && whylen)
		why[0] = '\0';
	if (len < VP_TEST_MIN_LEN) {
		snprintf(why, whylen, "frame of %zu bytes is too short", len);
		return 1;
	}
	if (dst && memcmp(buf, dst, 6)) {
		snprintf(why, whylen, "wrong destination MAC");
		return 1;
	}
	if (src && memcmp(buf + 6, src, 6)) {
		snprintf(why, whylen, "wrong source MAC");
		return 7;
	}
	if (vp_get16(buf + 12) != VP_ETH_P_TEST || memcmp(buf + 14, "VDPT", 4)) {
		snprintf(why, whylen, "not a test frame (type %04x)",
			 vp_get16(buf + 12));
		return 13;
	}
	s = vp_get32(buf + 18);
	l = vp_get32(buf + 22);
	if (seq)
		*seq = s;
	if (l != len) {
		snprintf(why, whylen, "seq %u: length %zu, frame says %u", s,
			 len, l);
		return 23;
	}
	for (i = VP_TEST_MIN_LEN; i < len; i++) {
		if (buf[i] != vp_pat(s, i)) {
			snprintf(why, whylen,
				 "seq %u len %zu: byte %zu is %02x, want %02x",
				 s, len, i, buf[i], vp_pat(s, i));
			return (long)i + 1;
		}
	}
	return 0;
}

uint32_t vp_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t vp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t vp_pseudo4(uint32_t saddr, uint32_t daddr, uint8_t proto,
		    uint16_t l4len)
{
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = proto;
	vp_put16(ph + 10, l4len);
	return vp_csum_add(0, ph, sizeof(ph));
}

static size_t vp_ip4(uint8_t *ip, const struct vp_l4_opts *o, uint8_t proto,
		     size_t l4len)
{
	ip[0] = 0x45;
	ip[1] = 0;
	vp_put16(ip + 2, (uint16_t)(20 + l4len));
	vp_put16(ip + 4, o->ip_id);
	vp_put16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = proto;
	vp_put16(ip + 10, 0);
	memcpy(ip + 12, &o->saddr, 4);
	memcpy(ip + 16, &o->daddr, 4);
	vp_put16(ip + 10, vp_csum_fold(vp_csum_add(0, ip, 20)));
	return 20;
}

static void vp_l4_csum(uint8_t *l4, size_t l4len, const struct vp_l4_opts *o,
		       uint8_t proto, size_t field, uint16_t *csum_start,
		       uint16_t *csum_offset)
{
	uint32_t ps = vp_pseudo4(o->saddr, o->daddr, proto, (uint16_t)l4len);
	uint16_t c;

	vp_put16(l4 + field, 0);
	if (o->partial) {
		/* what Linux puts there: ~csum_tcpudp_magic(..., 0) */
		vp_put16(l4 + field, (uint16_t)~vp_csum_fold(ps));
	} else {
		c = vp_csum_fold(vp_csum_add(ps, l4, l4len));
		if (proto == 17 && !c)
			c = 0xffff;
		vp_put16(l4 + field, c);
	}
	if (csum_start)
		*csum_start = VP_ETH_HLEN + 20;
	if (csum_offset)
		*csum_offset = (uint16_t)field;
}

/*
 * Ethernet and IPv4 headers, the ports of an @hlen-byte L4 header, and the
 * payload (@payload, or the test pattern) after it; the L4 header.
 */
static uint8_t *vp_l4_frame(uint8_t *buf, const uint8_t *dst,
			    const uint8_t *src, const struct vp_l4_opts *o,
			    uint8_t proto, size_t hlen, const void *payload,
			    size_t plen)
{
	uint8_t *l4 = buf + VP_ETH_HLEN + 20;

	vp_eth(buf, dst, src, 0x0800);
	vp_ip4(buf + VP_ETH_HLEN, o, proto, hlen + plen);
	vp_put16(l4, o->sport);
	vp_put16(l4 + 2, o->dport);
	if (payload)
		memcpy(l4 + hlen, payload, plen);
	else
		vp_pattern(l4 + hlen, plen, 0);
	return l4;
}

size_t vp_build_udp4(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
		     const struct vp_l4_opts *o, const void *payload,
		     size_t plen, uint16_t *csum_start, uint16_t *csum_offset)
{
	uint8_t *udp = vp_l4_frame(buf, dst, src, o, 17, 8, payload, plen);

	vp_put16(udp + 4, (uint16_t)(8 + plen));
	vp_l4_csum(udp, 8 + plen, o, 17, 6, csum_start, csum_offset);
	return VP_ETH_HLEN + 20 + 8 + plen;
}

size_t vp_build_tcp4(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
		     const struct vp_l4_opts *o, const void *payload,
		     size_t plen, uint16_t *csum_start, uint16_t *csum_offset)
{
	uint8_t *tcp = vp_l4_frame(buf, dst, src, o, 6, 20, payload, plen);

	vp_put32(tcp + 4, o->tcp_seq);
	vp_put32(tcp + 8, 1);			/* ack */
	tcp[12] = 5 << 4;
	tcp[13] = o->tcp_flags ? o->tcp_flags : 0x18;	/* PSH|ACK */
	vp_put16(tcp + 14, 65535);
	vp_put16(tcp + 18, 0);
	vp_l4_csum(tcp, 20 + plen, o, 6, 16, csum_start, csum_offset);
	return VP_ETH_HLEN + 20 + 20 + plen;
}

int vp_check_ipv4(const uint8_t *f, size_t len, char *why, size_t wl)
{
	const uint8_t *ip = f + VP_ETH_HLEN;
	size_t ihl, tot, l4len;
	uint32_t saddr, daddr;
	uint16_t c;

	if (len < VP_ETH_HLEN + 20 || vp_get16(f + 12) != 0x0800) {
		snprintf(why, wl, "not IPv4 (len %zu)", len);
		return -EBADMSG;
	}
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = vp_get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl ||
	    VP_ETH_HLEN + tot > len) {
		snprintf(why, wl, "bad IPv4 header (ihl %zu, tot_len %zu, frame %zu)",
			 ihl, tot, len);
		return -EBADMSG;
	}
	c = vp_csum_fold(vp_csum_add(0, ip, ihl));
	if (c) {
		snprintf(why, wl, "IPv4 header checksum %04x is wrong",
			 vp_get16(ip + 10));
		return -EBADMSG;
	}
	if (ip[9] != 6 && ip[9] != 17)
		return 0;
	l4len = tot - ihl;
	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	if (ip[9] == 17 && l4len >= 8 && !vp_get16(ip + ihl + 6)) {
		snprintf(why, wl, "UDP checksum is 0 (none)");
		return -EBADMSG;
	}
	c = vp_csum_fold(vp_csum_add(vp_pseudo4(saddr, daddr, ip[9],
						(uint16_t)l4len),
				     ip + ihl, l4len));
	if (c) {
		snprintf(why, wl, "%s checksum %04x is wrong (residue %04x)",
			 ip[9] == 6 ? "TCP" : "UDP",
			 vp_get16(ip + ihl + (ip[9] == 6 ? 16 : 6)), c);
		return -EBADMSG;
	}
	return 0;
}

int vp_csum_complete(uint8_t *frame, size_t len, uint16_t start, uint16_t off)
{
	uint16_t c;

	if ((size_t)start + off + 2 > len)
		return -EINVAL;
	c = vp_csum_fold(vp_csum_add(0, frame + start, len - start));
	vp_put16(frame + start + off, c);
	return 0;
}
