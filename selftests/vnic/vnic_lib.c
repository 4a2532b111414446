// SPDX-License-Identifier: GPL-2.0
/*
 * vnic_lib: the test library's virtio-net NIC calls (lib/vpeer.h,
 * vp_vnic_*) on the test VM's two virtio-net devices, one case per run:
 *
 *   vnic_lib nodriver   virtio_net_accel not loaded: vp_vnic_available()
 *                       and vp_vnic_create() say so, nothing changes
 *   vnic_lib create     vp_vnic_create() binds the NIC and moves the far
 *                       side; vp_nic_destroy() puts both back
 *   vnic_lib remove     vp_vnic_pci_remove(), vp_vnic_pci_rescan() (back
 *                       on virtio_net), vp_vnic_rebind(); removed again,
 *                       vp_nic_destroy() rescans
 *
 * vnic/vnic_basic.sh runs it and checks the boot state afterwards.  Exit
 * status 0 pass, 1 fail; what it saw goes to stdout.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpeer.h"

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			printf("line %d: %s: ", __LINE__, #cond);	\
			printf(__VA_ARGS__);				\
			printf("\n");					\
			return 1;					\
		}							\
	} while (0)

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The driver of virtio device @dev into @buf ("" when none). */
static void driver_of(const char *dev, char *buf, size_t len)
{
	char p[128], t[PATH_MAX], *b;
	ssize_t n;

	buf[0] = '\0';
	snprintf(p, sizeof(p), "/sys/bus/virtio/devices/%s/driver", dev);
	n = readlink(p, t, sizeof(t) - 1);
	if (n <= 0)
		return;
	t[n] = '\0';
	b = strrchr(t, '/');
	snprintf(buf, len, "%.63s", b ? b + 1 : t);
}

static int case_nodriver(void)
{
	struct vp_nic nic;
	char why[256];
	int r;

	CHECK(!vp_vnic_available(why, sizeof(why)), "available");
	printf("vp_vnic_available: %s\n", why);
	CHECK(strstr(why, VP_VNIC_DRIVER " is not loaded"), "%s", why);
	r = vp_vnic_create(&nic, 'v');
	printf("vp_vnic_create: %d, %s\n", r, nic.err);
	CHECK(r == -ENOENT, "%d", r);
	CHECK(strstr(nic.err, VP_VNIC_DRIVER " is not loaded"), "%s", nic.err);
	vp_nic_destroy(&nic);	/* safe after a failed create */
	return 0;
}

/* What vp_vnic_create() promised, as the kernel shows it. */
static int check_created(struct vp_nic *nic)
{
	char drv[64], m[32], p[128];

	printf("NIC %s (ifindex %d) on %s (PCI %s), peer %s (ifindex %d in its netns) on %s\n",
	       nic->name, nic->ifindex, nic->vnic_dev, nic->vnic_pci,
	       nic->peer, nic->peer_ifindex, nic->peer_dev);
	CHECK(nic->is_vnic, "is_vnic");
	driver_of(nic->vnic_dev, drv, sizeof(drv));
	CHECK(!strcmp(drv, VP_VNIC_DRIVER), "%s on %s", nic->vnic_dev, drv);
	snprintf(p, sizeof(p), "/sys/bus/virtio/devices/%s/net/%s",
		 nic->vnic_dev, nic->name);
	CHECK(!access(p, F_OK), "no %s", p);
	CHECK((int)if_nametoindex(nic->name) == nic->ifindex, "ifindex");
	mac_str(nic->mac, m, sizeof(m));
	CHECK(!strcmp(m, VP_VNIC_MAC), "NIC address %s", m);
	mac_str(nic->peer_mac, m, sizeof(m));
	CHECK(!strcmp(m, VP_VNIC_PEER_MAC), "peer address %s", m);
	CHECK(vp_run("ip link show %s | grep -q ',UP'", nic->name) == 0,
	      "%s not up", nic->name);
	/* the far side: in its netns, up, gone from ours */
	CHECK(vp_peer_run(nic, "ip link show %s | grep -q ',UP'", nic->peer) == 0,
	      "%s not up in its netns", nic->peer);
	CHECK(vp_run("ip -br link | grep -qi %s", VP_VNIC_PEER_MAC) != 0,
	      "%s still in our netns", VP_VNIC_PEER_MAC);
	return 0;
}

static int check_remove(struct vp_nic *nic)
{
	char drv[64], old[32];

	memcpy(old, nic->vnic_dev, sizeof(old));
	CHECK(!vp_vnic_pci_remove(nic), "%s", nic->err);
	CHECK(nic->ifindex == 0, "ifindex %d", nic->ifindex);
	CHECK(!if_nametoindex(nic->name), "%s still there", nic->name);
	CHECK(!vp_vnic_pci_rescan(nic), "%s", nic->err);
	driver_of(nic->vnic_dev, drv, sizeof(drv));
	printf("after the rescan: %s (was %s) on %s, netdev %s\n",
	       nic->vnic_dev, old, drv, nic->name);
	CHECK(!strcmp(drv, "virtio_net"), "%s", drv);
	CHECK(nic->ifindex && (int)if_nametoindex(nic->name) == nic->ifindex,
	      "ifindex");
	CHECK(!vp_vnic_rebind(nic, true), "%s", nic->err);
	if (check_created(nic))
		return 1;
	/* removed again and left so: vp_nic_destroy() has to rescan */
	CHECK(!vp_vnic_pci_remove(nic), "%s", nic->err);
	return 0;
}

/* vp_vnic_create(), @check, vp_nic_destroy(): @check's verdict. */
static int with_vnic(int (*check)(struct vp_nic *nic))
{
	struct vp_nic nic;
	int r;

	r = vp_vnic_create(&nic, 'v');
	CHECK(!r, "vp_vnic_create: %d %s", r, nic.err);
	r = check(&nic);
	vp_nic_destroy(&nic);
	return r;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "nodriver"))
		return case_nodriver();
	if (argc == 2 && !strcmp(argv[1], "create"))
		return with_vnic(check_created);
	if (argc == 2 && !strcmp(argv[1], "remove"))
		return with_vnic(check_remove);
	fprintf(stderr, "usage: vnic_lib nodriver|create|remove\n");
	return 2;
}
