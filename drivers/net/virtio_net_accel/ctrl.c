// SPDX-License-Identifier: GPL-2.0
/* The control virtqueue: the device's MAC filter, its Rx modes and how
 * many queue pairs it uses.  One command at a time (ctrl_lock); the
 * device answers synchronously, so we poll for the answer as virtio-net
 * drivers do.  Process context only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "virtio_net_accel.h"

/* Buffers the device reads or writes: heap, never the stack (DMA). */
struct vna_ctrl {
	struct virtio_net_ctrl_hdr hdr;
	u8 status;
	union {
		u8 on;
		u8 mac[ETH_ALEN];
		struct virtio_net_ctrl_mq mq;
		__virtio32 entries;
	};
};

int vna_ctrl_alloc(struct vna_info *vi)
{
	vi->ctrl = kzalloc(sizeof(*vi->ctrl), GFP_KERNEL);
	return vi->ctrl ? 0 : -ENOMEM;
}

void vna_ctrl_free(struct vna_info *vi)
{
	kfree(vi->ctrl);
	vi->ctrl = NULL;
}

/* Send class/cmd with @out (already in vi->ctrl) and @out2 after it;
 * -EIO if the device said no or is broken.
 */
static int vna_ctrl_cmd(struct vna_info *vi, u8 class, u8 cmd,
			const void *out, unsigned int len,
			const void *out2, unsigned int len2)
{
	struct scatterlist hdr, data, data2, stat, *sgs[4];
	struct vna_ctrl *c = vi->ctrl;
	unsigned int n = 0, tmp;
	int err;

	lockdep_assert_held(&vi->ctrl_lock);
	c->hdr.class = class;
	c->hdr.cmd = cmd;
	c->status = ~0;
	sg_init_one(&hdr, &c->hdr, sizeof(c->hdr));
	sgs[n++] = &hdr;
	if (len) {
		sg_init_one(&data, out, len);
		sgs[n++] = &data;
	}
	if (len2) {
		sg_init_one(&data2, out2, len2);
		sgs[n++] = &data2;
	}
	sg_init_one(&stat, &c->status, sizeof(c->status));
	sgs[n] = &stat;
	err = virtqueue_add_sgs(vi->cvq, sgs, n, 1, vi, GFP_KERNEL);
	if (err)
		return err;
	if (unlikely(!virtqueue_kick(vi->cvq)))
		return -EIO;
	/* the device answers at once; a broken one never does */
	while (!virtqueue_get_buf(vi->cvq, &tmp) &&
	       !virtqueue_is_broken(vi->cvq))
		cond_resched();
	return c->status == VIRTIO_NET_OK ? 0 : -EIO;
}

/* The device's own address: the unicast frames it accepts. */
int vna_ctrl_set_mac(struct vna_info *vi, const u8 *mac)
{
	int err;

	mutex_lock(&vi->ctrl_lock);
	ether_addr_copy(vi->ctrl->mac, mac);
	err = vna_ctrl_cmd(vi, VIRTIO_NET_CTRL_MAC,
			   VIRTIO_NET_CTRL_MAC_ADDR_SET, vi->ctrl->mac,
			   ETH_ALEN, NULL, 0);
	mutex_unlock(&vi->ctrl_lock);
	return err;
}

/* VIRTIO_NET_CTRL_RX_PROMISC, _ALLMULTI, _NOUNI, _NOMULTI, _NOBCAST. */
int vna_ctrl_rx_mode(struct vna_info *vi, u8 cmd, bool on)
{
	int err;

	mutex_lock(&vi->ctrl_lock);
	vi->ctrl->on = on;
	err = vna_ctrl_cmd(vi, VIRTIO_NET_CTRL_RX, cmd, &vi->ctrl->on, 1,
			   NULL, 0);
	mutex_unlock(&vi->ctrl_lock);
	return err;
}

/* No extra unicast or multicast address: only the device's own. */
int vna_ctrl_clear_mac_table(struct vna_info *vi)
{
	int err;

	mutex_lock(&vi->ctrl_lock);
	vi->ctrl->entries = cpu_to_virtio32(vi->vdev, 0);
	/* two tables, unicast then multicast, both empty */
	err = vna_ctrl_cmd(vi, VIRTIO_NET_CTRL_MAC,
			   VIRTIO_NET_CTRL_MAC_TABLE_SET, &vi->ctrl->entries,
			   sizeof(vi->ctrl->entries), &vi->ctrl->entries,
			   sizeof(vi->ctrl->entries));
	mutex_unlock(&vi->ctrl_lock);
	return err;
}

/* How many queue pairs the device spreads received frames over. */
int vna_ctrl_set_queue_pairs(struct vna_info *vi, unsigned int n)
{
	int err;

	if (!virtio_has_feature(vi->vdev, VIRTIO_NET_F_MQ))
		return 0;
	mutex_lock(&vi->ctrl_lock);
	vi->ctrl->mq.virtqueue_pairs = cpu_to_virtio16(vi->vdev, n);
	err = vna_ctrl_cmd(vi, VIRTIO_NET_CTRL_MQ,
			   VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &vi->ctrl->mq,
			   sizeof(vi->ctrl->mq), NULL, 0);
	mutex_unlock(&vi->ctrl_lock);
	return err;
}
