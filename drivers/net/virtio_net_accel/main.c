// SPDX-License-Identifier: GPL-2.0
/* virtio_net_accel: a driver on the virtio bus for virtio-net devices that
 * lends the device's queue pairs to vhost-accel guests.  An administrator
 * binds it to a device in place of virtio_net (Documentation/virtio-nic.rst).
 *
 * The device has one MAC filter and no way to steer frames to a queue by
 * address, so it serves one guest MAC at a time, on all the queue pairs that
 * guest attaches.  The netdev registered here is the device's handle (the
 * lower device of the guest's macvtap, its link state, its counters): it
 * carries no traffic of the host's own, whose frames would land on the
 * guest's queues and the guest's on the host's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/virtio_config.h>

#include "virtio_net_accel.h"

static struct dentry *vna_debugfs_root;

/* --- the netdev: a handle, no host datapath ------------------------------ */

static int vna_open(struct net_device *netdev)
{
	return 0;
}

static int vna_stop(struct net_device *netdev)
{
	return 0;
}

/* The host's own frames: the device is the guests'; dropped and counted. */
static netdev_tx_t vna_start_xmit(struct sk_buff *skb,
				  struct net_device *netdev)
{
	dev_core_stats_tx_dropped_inc(netdev);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static void vna_get_stats64(struct net_device *netdev,
			    struct rtnl_link_stats64 *st)
{
	struct vna_info *vi = netdev_priv(netdev);
	struct vhost_accel_qp_stats sum;

	/* dev_get_stats() adds the host's own drops (vna_start_xmit) */
	vna_sum_stats(vi, &sum);
	st->tx_packets = sum.tx_packets;
	st->tx_bytes = sum.tx_bytes;
	st->rx_packets = sum.rx_packets;
	st->rx_bytes = sum.rx_bytes;
	st->tx_dropped = sum.tx_dropped;
	st->rx_dropped = sum.rx_dropped_no_buf + sum.rx_dropped_too_big;
}

/* Its own address may change only while no guest has the device. */
static int vna_set_mac(struct net_device *netdev, void *p)
{
	struct vna_info *vi = netdev_priv(netdev);
	int err;

	mutex_lock(&vi->lend_lock);
	err = vi->nlent ? -EBUSY : eth_mac_addr(netdev, p);
	if (!err)
		err = vna_ctrl_set_mac(vi, netdev->dev_addr);
	mutex_unlock(&vi->lend_lock);
	return err;
}

static const struct net_device_ops vna_netdev_ops = {
	.ndo_open = vna_open,
	.ndo_stop = vna_stop,
	.ndo_start_xmit = vna_start_xmit,
	.ndo_get_stats64 = vna_get_stats64,
	.ndo_set_mac_address = vna_set_mac,
	.ndo_validate_addr = eth_validate_addr,
};

/* --- link state and device resets: the config space ---------------------- */

static void vna_config_work(struct work_struct *work)
{
	struct vna_info *vi = container_of(work, struct vna_info, config_work);
	struct virtio_device *vdev = vi->vdev;
	u16 status = VIRTIO_NET_S_LINK_UP;

	if (virtio_has_feature(vdev, VIRTIO_NET_F_STATUS))
		status = virtio_cread16(vdev, offsetof(struct virtio_net_config,
						       status));
	if (status & VIRTIO_NET_S_LINK_UP)
		netif_carrier_on(vi->netdev);
	else
		netif_carrier_off(vi->netdev);
	/* the device wants a reset: its queue pairs are lost to the guests */
	if (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		vna_reset_lent(vi);
}

static void vna_config_changed(struct virtio_device *vdev)
{
	struct vna_info *vi = vdev->priv;

	schedule_work(&vi->config_work);
}

/* --- debugfs: what is lent, and a queue reset on demand ------------------ */

static int vna_lent_show(struct seq_file *m, void *unused)
{
	struct vna_info *vi = m->private;
	unsigned int i;

	mutex_lock(&vi->lend_lock);
	seq_printf(m, "%u of %u queue pairs lent", vi->nlent, vi->max_qps);
	if (vi->nlent)
		seq_printf(m, " to %pM", vi->lent_mac);
	seq_putc(m, '\n');
	for (i = 0; i < vi->max_qps; i++)
		if (vi->qps[i].lent)
			seq_printf(m, "qp%u: %s, tx %u posted, rx %u posted\n",
				   i, vi->qps[i].gone ? "gone" : "lent",
				   READ_ONCE(vi->qps[i].tx.posted),
				   READ_ONCE(vi->qps[i].rx.posted));
	mutex_unlock(&vi->lend_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vna_lent);

/* Writing 1 does what a device-initiated reset of the queues does. */
static ssize_t vna_reset_qps_write(struct file *file, const char __user *buf,
				   size_t len, loff_t *ppos)
{
	struct vna_info *vi = file->private_data;
	bool on;
	int err;

	err = kstrtobool_from_user(buf, len, &on);
	if (err)
		return err;
	if (on)
		vna_reset_lent(vi);
	return len;
}

static const struct file_operations vna_reset_qps_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = vna_reset_qps_write,
	.llseek = noop_llseek,
};

static void vna_debugfs_add(struct vna_info *vi)
{
	vi->debugfs = debugfs_create_dir(dev_name(&vi->vdev->dev),
					 vna_debugfs_root);
	debugfs_create_file("lent", 0444, vi->debugfs, vi, &vna_lent_fops);
	debugfs_create_file("reset_qps", 0200, vi->debugfs, vi,
			    &vna_reset_qps_fops);
}

/* --- probe and remove ----------------------------------------------------- */

/* What we need of the device, and what a refusal tells the administrator. */
static const struct {
	unsigned int bit;
	const char *why;
} vna_needed[] = {
	{ VIRTIO_NET_F_CTRL_VQ, "no control virtqueue (CTRL_VQ)" },
	{ VIRTIO_NET_F_CTRL_RX, "no Rx filter control (CTRL_RX)" },
	{ VIRTIO_NET_F_CTRL_RX_EXTRA, "no way to stop its Rx (CTRL_RX_EXTRA)" },
	{ VIRTIO_NET_F_CTRL_MAC_ADDR, "no way to set its MAC filter (CTRL_MAC_ADDR)" },
	{ VIRTIO_F_RING_RESET, "no queue reset (RING_RESET)" },
};

static int vna_check_features(struct virtio_device *vdev)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vna_needed); i++) {
		if (virtio_has_feature(vdev, vna_needed[i].bit))
			continue;
		dev_err(&vdev->dev, "refused: %s; bind it to virtio_net\n",
			vna_needed[i].why);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int vna_find_vqs(struct vna_info *vi, struct virtqueue **vqs)
{
	unsigned int i, n = 2 * vi->max_qps + 1;
	struct virtqueue_info *info;
	int err;

	info = kcalloc(n, sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	for (i = 0; i < 2 * vi->max_qps; i++) {
		info[i].name = i & 1 ? "tx" : "rx";
		info[i].callback = vna_vq_done;
	}
	info[n - 1].name = "control";
	err = virtio_find_vqs(vi->vdev, n, vqs, info, NULL);
	kfree(info);
	if (err)
		return err;
	vi->cvq = vqs[n - 1];
	for (i = 0; i < n - 1; i++) {
		if (virtqueue_get_vring_size(vqs[i]) >= VNA_MIN_RING)
			continue;
		dev_err(&vi->vdev->dev,
			"refused: ring of %u entries, at least %u needed; bind it to virtio_net\n",
			virtqueue_get_vring_size(vqs[i]), VNA_MIN_RING);
		vi->vdev->config->del_vqs(vi->vdev);
		return -EOPNOTSUPP;
	}
	return 0;
}

static void vna_read_config(struct vna_info *vi)
{
	struct virtio_device *vdev = vi->vdev;
	u16 max = 1, mtu;
	u8 mac[ETH_ALEN];

	if (virtio_has_feature(vdev, VIRTIO_NET_F_MQ))
		max = virtio_cread16(vdev, offsetof(struct virtio_net_config,
						    max_virtqueue_pairs));
	vi->max_qps = clamp_t(u16, max, 1, VNA_MAX_QPS);
	vi->mrg_rxbuf = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	vi->hdr_len = vi->mrg_rxbuf ||
		      virtio_has_feature(vdev, VIRTIO_F_VERSION_1) ?
		      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
		      sizeof(struct virtio_net_hdr);
	/* the largest frame the outer side carries: the guests' limit too */
	if (virtio_has_feature(vdev, VIRTIO_NET_F_MTU)) {
		mtu = virtio_cread16(vdev, offsetof(struct virtio_net_config,
						    mtu));
		if (mtu >= ETH_MIN_MTU) {
			vi->netdev->max_mtu = mtu;
			vi->netdev->mtu = min_t(u16, mtu, ETH_DATA_LEN);
		}
	}
	if (virtio_has_feature(vdev, VIRTIO_NET_F_MAC)) {
		virtio_cread_bytes(vdev, offsetof(struct virtio_net_config, mac),
				   mac, ETH_ALEN);
		eth_hw_addr_set(vi->netdev, mac);
	} else {
		eth_hw_addr_random(vi->netdev);
	}
}

static int vna_register(struct vna_info *vi)
{
	struct vhost_accel_nic_config config = {
		.netdev = vi->netdev,
		.ops = &vna_nic_ops,
		.max_qps = vi->max_qps,
		.max_segs = VNA_MAX_SEGS,
		.owner = THIS_MODULE,
	};
	int err;

	/* link state comes from the config space, once registered */
	netif_carrier_off(vi->netdev);
	err = register_netdev(vi->netdev);
	if (err)
		return err;
	vna_config_work(&vi->config_work);
	vi->nic = vhost_accel_nic_register(&config);
	if (IS_ERR(vi->nic)) {
		err = PTR_ERR(vi->nic);
		unregister_netdev(vi->netdev);
		return err;
	}
	return 0;
}

static int vna_setup(struct vna_info *vi)
{
	struct virtqueue **vqs;
	int err;

	vqs = kcalloc(2 * vi->max_qps + 1, sizeof(*vqs), GFP_KERNEL);
	if (!vqs)
		return -ENOMEM;
	err = vna_find_vqs(vi, vqs);
	if (!err) {
		err = vna_qps_init(vi, vqs);
		if (err) {
			vna_qps_free(vi);
			vi->vdev->config->del_vqs(vi->vdev);
		}
	}
	kfree(vqs);
	return err;
}

static int vna_probe(struct virtio_device *vdev)
{
	struct net_device *netdev;
	struct vna_info *vi;
	int err;

	err = vna_check_features(vdev);
	if (err)
		return err;
	netdev = alloc_etherdev(sizeof(*vi));
	if (!netdev)
		return -ENOMEM;
	SET_NETDEV_DEV(netdev, &vdev->dev);
	netdev->netdev_ops = &vna_netdev_ops;
	netdev->max_mtu = ETH_MAX_MTU;	/* unless the device says less */
	vi = netdev_priv(netdev);
	vi->vdev = vdev;
	vi->netdev = netdev;
	vdev->priv = vi;
	mutex_init(&vi->lend_lock);
	mutex_init(&vi->ctrl_lock);
	spin_lock_init(&vi->stats_lock);
	INIT_WORK(&vi->config_work, vna_config_work);
	vna_read_config(vi);

	err = vna_ctrl_alloc(vi);
	if (err)
		goto err_free;
	err = vna_setup(vi);
	if (err)
		goto err_ctrl;
	virtio_device_ready(vdev);
	/* the device starts promiscuous; it takes nothing until lent */
	err = vna_ctrl_rx_mode(vi, VIRTIO_NET_CTRL_RX_PROMISC, false);
	if (err)
		goto err_reset;
	err = vna_register(vi);
	if (err)
		goto err_reset;
	vna_debugfs_add(vi);
	netdev_info(netdev, "%u queue pairs to lend, rings of %u, %s Rx buffers\n",
		    vi->max_qps, vi->qps[0].rx.size,
		    vi->mrg_rxbuf ? "mergeable" : "whole-frame");
	return 0;

err_reset:
	virtio_reset_device(vdev);
	vna_qps_free(vi);
	vdev->config->del_vqs(vdev);
err_ctrl:
	vna_ctrl_free(vi);
err_free:
	free_netdev(netdev);
	return err;
}

static void vna_remove(struct virtio_device *vdev)
{
	struct vna_info *vi = vdev->priv;

	/* the core stopped config changes: the last one has run after this */
	cancel_work_sync(&vi->config_work);
	mutex_lock(&vi->lend_lock);
	vi->removing = true;
	mutex_unlock(&vi->lend_lock);
	debugfs_remove_recursive(vi->debugfs);
	/* detaches every lent queue pair: their buffers come back first */
	vhost_accel_nic_unregister(vi->nic);
	unregister_netdev(vi->netdev);
	virtio_reset_device(vdev);
	vna_qps_free(vi);
	vdev->config->del_vqs(vdev);
	vna_ctrl_free(vi);
	free_netdev(vi->netdev);
}

static const struct virtio_device_id vna_id_table[] = {
	{ VIRTIO_ID_NET, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vna_id_table);

/* Transmit offloads the device may do for the guests; never Rx offloads. */
static unsigned int vna_features[] = {
	VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
	VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_HOST_USO,
	VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MAC,
	VIRTIO_NET_F_MTU, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX,
	VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_MAC_ADDR,
	VIRTIO_NET_F_MQ,
};

static struct virtio_driver vna_driver = {
	.feature_table = vna_features,
	.feature_table_size = ARRAY_SIZE(vna_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vna_id_table,
	.probe = vna_probe,
	.remove = vna_remove,
	.config_changed = vna_config_changed,
};

static int __init vna_init(void)
{
	int err;

	vna_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	err = register_virtio_driver(&vna_driver);
	if (err)
		debugfs_remove(vna_debugfs_root);
	return err;
}
module_init(vna_init);

static void __exit vna_exit(void)
{
	unregister_virtio_driver(&vna_driver);
	debugfs_remove(vna_debugfs_root);
}
module_exit(vna_exit);

MODULE_DESCRIPTION("virtio-net devices lent to vhost-accel guests");
MODULE_LICENSE("GPL");
MODULE_VERSION(VHOST_ACCEL_VERSION);
