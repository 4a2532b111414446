// SPDX-License-Identifier: GPL-2.0
/*
 * nicsim: the reference cooperating NIC of vhost-accel.
 *
 * This file: the module, the two netdevs of a NIC (the host port NAME and
 * the wire end NAMEp), their creation and removal through rtnetlink
 * (`ip link add NAME type nicsim`, `ip link del NAME`), carrier and the
 * netdev statistics.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/platform_device.h>
#include <net/rtnetlink.h>

#include "nicsim.h"

static unsigned int max_qps = 64;
module_param(max_qps, uint, 0444);
MODULE_PARM_DESC(max_qps, "queue pairs each NIC lends to vhost-accel (1-1024, default 64)");

#define NICSIM_FEATURES (NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_RXCSUM | \
			 NETIF_F_HIGHDMA | NETIF_F_GSO_SOFTWARE)

struct nicsim_peer {
	struct nicsim_nic *nic;
	struct nicsim_port port;
};

static const struct net_device_ops nicsim_nic_netdev_ops;
static struct rtnl_link_ops nicsim_link_ops;

static bool nicsim_is_nic(const struct net_device *dev)
{
	return dev->netdev_ops == &nicsim_nic_netdev_ops;
}

static struct nicsim_nic *nicsim_nic_of(struct net_device *dev)
{
	struct nicsim_peer *peer;

	if (nicsim_is_nic(dev))
		return netdev_priv(dev);
	peer = netdev_priv(dev);
	return peer->nic;
}

struct nicsim_port *nicsim_port_of(struct net_device *dev)
{
	struct nicsim_peer *peer;

	if (nicsim_is_nic(dev))
		return &((struct nicsim_nic *)netdev_priv(dev))->port;
	peer = netdev_priv(dev);
	return &peer->port;
}

/* The other end of the wire, NULL while a NIC is being created. */
static struct net_device *nicsim_other(struct net_device *dev)
{
	struct nicsim_nic *nic = nicsim_nic_of(dev);

	return nicsim_is_nic(dev) ? READ_ONCE(nic->peer) : nic->netdev;
}

/* --- statistics ----------------------------------------------------------- */

void nicsim_dstats_add(struct nicsim_dstats *s, unsigned int len)
{
	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->packets);
	u64_stats_add(&s->bytes, len);
	u64_stats_update_end(&s->syncp);
}

void nicsim_dstats_drop(struct nicsim_dstats *s)
{
	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->dropped);
	u64_stats_update_end(&s->syncp);
}

void nicsim_dstats_read(const struct nicsim_dstats *s, u64 *packets,
			u64 *bytes, u64 *dropped)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&s->syncp);
		*packets = u64_stats_read(&s->packets);
		*bytes = u64_stats_read(&s->bytes);
		*dropped = u64_stats_read(&s->dropped);
	} while (u64_stats_fetch_retry(&s->syncp, start));
}

static void nicsim_port_init(struct nicsim_port *port)
{
	u64_stats_init(&port->tx.syncp);
}

/* Received: what the engines gave to @dev's stack, each counting apart. */
static void nicsim_get_stats64(struct net_device *dev,
			       struct rtnl_link_stats64 *s)
{
	struct nicsim_nic *nic = nicsim_nic_of(dev);
	enum nicsim_port_id id = nicsim_is_nic(dev) ? NICSIM_PORT_HOST :
						      NICSIM_PORT_WIRE;
	u64 packets, bytes, dropped;
	unsigned int i;

	nicsim_dstats_read(&nicsim_port_of(dev)->tx, &s->tx_packets,
			   &s->tx_bytes, &s->tx_dropped);
	for (i = 0; i < nic->nr_engines; i++) {
		nicsim_dstats_read(&nic->engines[i].port_rx[id], &packets,
				   &bytes, &dropped);
		s->rx_packets += packets;
		s->rx_bytes += bytes;
		s->rx_dropped += dropped;
	}
}

/* --- carrier -------------------------------------------------------------- */

/* Both ends have carrier when the link knob is on and both netdevs are up,
 * like a cable between two ports.
 */
void nicsim_update_carrier(struct nicsim_nic *nic)
{
	struct net_device *peer = READ_ONCE(nic->peer);
	bool up;

	spin_lock_bh(&nic->carrier_lock);
	up = READ_ONCE(nic->link) && peer && netif_running(nic->netdev) &&
	     netif_running(peer);
	if (up) {
		netif_carrier_on(nic->netdev);
		netif_carrier_on(peer);
	} else {
		netif_carrier_off(nic->netdev);
		if (peer)
			netif_carrier_off(peer);
	}
	spin_unlock_bh(&nic->carrier_lock);
	/* let the engines drop what is queued or restart stopped queues */
	nicsim_engine_kick_all(nic);
}

static int nicsim_open(struct net_device *dev)
{
	nicsim_update_carrier(nicsim_nic_of(dev));
	return 0;
}

static int nicsim_stop(struct net_device *dev)
{
	nicsim_update_carrier(nicsim_nic_of(dev));
	return 0;
}

/* --- transmit: frames for the engine -------------------------------------- */

static netdev_tx_t nicsim_enqueue(struct nicsim_nic *nic,
				  struct net_device *dev,
				  struct sk_buff_head *q, struct sk_buff *skb)
{
	struct nicsim_port *port = nicsim_port_of(dev);
	unsigned int len = skb->len;

	if (unlikely(!netif_carrier_ok(dev) ||
		     skb_queue_len_lockless(q) >= NICSIM_QUEUE_LEN)) {
		nicsim_dstats_drop(&port->tx);
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	}
	skb_tx_timestamp(skb);
	nicsim_cb(skb)->csum_ok = false;
	skb_queue_tail(q, skb);
	nicsim_dstats_add(&port->tx, len);
	/* Stop before kicking: the engine wakes the queue at the end of a
	 * pass that starts after the kick.
	 */
	if (skb_queue_len_lockless(q) >= NICSIM_QUEUE_LEN)
		netif_stop_queue(dev);
	nicsim_input_kick(nic);
	return NETDEV_TX_OK;
}

static netdev_tx_t nicsim_nic_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct nicsim_nic *nic = netdev_priv(dev);

	return nicsim_enqueue(nic, dev, &nic->host_q, skb);
}

static netdev_tx_t nicsim_peer_xmit(struct sk_buff *skb,
				    struct net_device *dev)
{
	struct nicsim_nic *nic = nicsim_nic_of(dev);

	/* On the wire the frame is no longer its sender's: a sender faster
	 * than the NIC sees a full queue (refused), not a full socket whose
	 * every freed frame wakes it for one more.
	 */
	skb_orphan(skb);
	return nicsim_enqueue(nic, dev, &nic->wire_q, skb);
}

static int nicsim_get_iflink(const struct net_device *dev)
{
	struct net_device *other = nicsim_other((struct net_device *)dev);

	return other ? other->ifindex : 0;
}

/* --- the host port: NIC netdev -------------------------------------------- */

static int nicsim_dma_dev_create(struct nicsim_nic *nic)
{
	struct platform_device_info info = {
		.name = KBUILD_MODNAME,
		.id = PLATFORM_DEVID_AUTO,
		.dma_mask = DMA_BIT_MASK(64),
	};
	struct platform_device *pdev;
	int err;

	pdev = platform_device_register_full(&info);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err) {
		platform_device_unregister(pdev);
		return err;
	}
	nic->pdev = pdev;
	nic->dma_dev = &pdev->dev;
	return 0;
}

static int nicsim_nic_init(struct net_device *dev)
{
	struct nicsim_nic *nic = netdev_priv(dev);
	unsigned int i;
	int err;

	nic->max_qps = max_qps;
	nic->slots = kcalloc(nic->max_qps, sizeof(*nic->slots), GFP_KERNEL);
	if (!nic->slots)
		return -ENOMEM;
	err = nicsim_engine_init(nic);
	if (err)
		goto err_slots;
	err = nicsim_dma_dev_create(nic);
	if (err)
		goto err_engines;
	SET_NETDEV_DEV(dev, nic->dma_dev);
	for (i = 0; i < nic->max_qps; i++) {
		struct nicsim_slot *slot = &nic->slots[i];

		slot->nic = nic;
		slot->index = i;
		u64_stats_init(&slot->stats[NICSIM_CTR_TX].syncp);
		u64_stats_init(&slot->stats[NICSIM_CTR_RX].syncp);
		netif_napi_add(dev, &slot->napi, nicsim_poll);
	}
	return 0;

err_engines:
	nicsim_engine_free(nic);
err_slots:
	kfree(nic->slots);
	nic->slots = NULL;
	return err;
}

/* Last reference to the host port: nothing can reach the NIC any more
 * (both netdevs are unregistered, the engines are stopped, no queue pair is
 * attached).  Also runs when register_netdevice() fails after ndo_init.
 */
static void nicsim_nic_destructor(struct net_device *dev)
{
	struct nicsim_nic *nic = netdev_priv(dev);
	unsigned int i;

	for (i = 0; i < nic->max_qps; i++)
		__netif_napi_del(&nic->slots[i].napi);
	synchronize_net();
	kfree(nic->slots);
	nicsim_engine_free(nic);
	skb_queue_purge(&nic->wire_q);
	skb_queue_purge(&nic->host_q);
	platform_device_unregister(nic->pdev);
}

static const struct net_device_ops nicsim_nic_netdev_ops = {
	.ndo_init		= nicsim_nic_init,
	.ndo_open		= nicsim_open,
	.ndo_stop		= nicsim_stop,
	.ndo_start_xmit		= nicsim_nic_xmit,
	.ndo_get_stats64	= nicsim_get_stats64,
	.ndo_set_mac_address	= eth_mac_addr,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_get_iflink		= nicsim_get_iflink,
	.ndo_features_check	= passthru_features_check,
};

static void nicsim_common_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->priv_flags &= ~IFF_TX_SKB_SHARING;
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	dev->features |= NICSIM_FEATURES;
	dev->hw_features |= NICSIM_FEATURES;
	dev->max_mtu = ETH_MAX_MTU;
	dev->needs_free_netdev = true;
	dev->rtnl_link_ops = &nicsim_link_ops;
}

static void nicsim_nic_setup(struct net_device *dev)
{
	struct nicsim_nic *nic = netdev_priv(dev);

	nicsim_common_setup(dev);
	dev->netdev_ops = &nicsim_nic_netdev_ops;
	dev->ethtool_ops = &nicsim_nic_ethtool_ops;
	dev->priv_destructor = nicsim_nic_destructor;

	nic->netdev = dev;
	nic->ring_size = NICSIM_RING_DEFAULT;
	nic->link = true;
	spin_lock_init(&nic->carrier_lock);
	mutex_init(&nic->ctrl_lock);
	init_rwsem(&nic->engine_lock);
	INIT_LIST_HEAD(&nic->qps);
	INIT_LIST_HEAD(&nic->groups);
	netdev_rss_key_fill(nic->rss_key, sizeof(nic->rss_key));
	skb_queue_head_init(&nic->wire_q);
	skb_queue_head_init(&nic->host_q);
	nicsim_port_init(&nic->port);
}

/* --- the wire end: peer netdev -------------------------------------------- */

static const struct net_device_ops nicsim_peer_netdev_ops = {
	.ndo_open		= nicsim_open,
	.ndo_stop		= nicsim_stop,
	.ndo_start_xmit		= nicsim_peer_xmit,
	.ndo_get_stats64	= nicsim_get_stats64,
	.ndo_set_mac_address	= eth_mac_addr,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_get_iflink		= nicsim_get_iflink,
	.ndo_features_check	= passthru_features_check,
};

static void nicsim_peer_setup(struct net_device *dev)
{
	struct nicsim_peer *peer = netdev_priv(dev);

	nicsim_common_setup(dev);
	dev->netdev_ops = &nicsim_peer_netdev_ops;
	dev->ethtool_ops = &nicsim_peer_ethtool_ops;
	nicsim_port_init(&peer->port);
}

static int nicsim_peer_create(struct nicsim_nic *nic,
			      struct netlink_ext_ack *extack)
{
	struct net_device *dev = nic->netdev, *peer;
	char name[IFNAMSIZ];
	int err;

	if (snprintf(name, sizeof(name), "%sp", dev->name) >= IFNAMSIZ) {
		NL_SET_ERR_MSG(extack, "name too long for the peer NAMEp");
		return -ENAMETOOLONG;
	}
	peer = alloc_netdev(sizeof(struct nicsim_peer), name,
			    NET_NAME_PREDICTABLE, nicsim_peer_setup);
	if (!peer)
		return -ENOMEM;
	((struct nicsim_peer *)netdev_priv(peer))->nic = nic;
	dev_net_set(peer, dev_net(dev));
	eth_hw_addr_random(peer);
	netif_carrier_off(peer);
	err = register_netdevice(peer);
	if (err) {
		NL_SET_ERR_MSG(extack, "cannot register the peer NAMEp");
		free_netdev(peer);
		return err;
	}
	WRITE_ONCE(nic->peer, peer);
	return 0;
}

/* --- rtnetlink ------------------------------------------------------------ */

static int nicsim_validate(struct nlattr *tb[], struct nlattr *data[],
			   struct netlink_ext_ack *extack)
{
	if (tb[IFLA_ADDRESS]) {
		if (nla_len(tb[IFLA_ADDRESS]) != ETH_ALEN ||
		    !is_valid_ether_addr(nla_data(tb[IFLA_ADDRESS]))) {
			NL_SET_ERR_MSG(extack, "invalid MAC address");
			return -EADDRNOTAVAIL;
		}
	}
	return 0;
}

static int nicsim_vnic_register(struct nicsim_nic *nic)
{
	const struct vhost_accel_nic_config config = {
		.netdev = nic->netdev,
		.ops = &nicsim_vnic_ops,
		.max_qps = nic->max_qps,
		.max_segs = NICSIM_MAX_SEGS,
		.owner = THIS_MODULE,
	};
	struct vhost_accel_nic *vnic = vhost_accel_nic_register(&config);

	if (IS_ERR(vnic))
		return PTR_ERR(vnic);
	nic->vnic = vnic;
	return 0;
}

static int nicsim_newlink(struct net *src_net, struct net_device *dev,
			  struct nlattr *tb[], struct nlattr *data[],
			  struct netlink_ext_ack *extack)
{
	struct nicsim_nic *nic = netdev_priv(dev);
	int err;

	/* A test device for the host's administrator: a user namespace's
	 * root may not make one (it would come back to init_net, netns_refund).
	 */
	if (!capable(CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG(extack, "nicsim needs CAP_NET_ADMIN in the initial user namespace");
		return -EPERM;
	}
	if (!tb[IFLA_ADDRESS])
		eth_hw_addr_random(dev);
	netif_carrier_off(dev);
	err = register_netdevice(dev);
	if (err)
		return err;
	err = nicsim_peer_create(nic, extack);
	if (err)
		goto err_unregister_dev;
	err = nicsim_engine_start(nic);
	if (err)
		goto err_unregister_peer;
	nicsim_debugfs_add(nic);
	err = nicsim_vnic_register(nic);
	if (err) {
		NL_SET_ERR_MSG(extack, "vhost-accel refused the NIC");
		goto err_engine;
	}
	return 0;

err_engine:
	nicsim_debugfs_remove(nic);
	nicsim_engine_stop(nic);
err_unregister_peer:
	unregister_netdevice(nic->peer);
err_unregister_dev:
	unregister_netdevice(dev);
	return err;
}

/* Called once per NIC before its netdevs are unregistered: give the queue
 * pairs back (vhost-accel detaches them through our detach op), then stop
 * the engine.
 */
static void nicsim_teardown(struct nicsim_nic *nic)
{
	if (nic->vnic) {
		vhost_accel_nic_unregister(nic->vnic);
		nic->vnic = NULL;
	}
	mutex_lock(&nic->ctrl_lock);
	nic->dead = true;
	mutex_unlock(&nic->ctrl_lock);
	nicsim_debugfs_remove(nic);
	nicsim_engine_stop(nic);
	skb_queue_purge(&nic->wire_q);
	skb_queue_purge(&nic->host_q);
}

/* Deleting either end deletes the NIC and both netdevs. */
static void nicsim_dellink(struct net_device *dev, struct list_head *head)
{
	struct nicsim_nic *nic = nicsim_nic_of(dev);

	if (!nic->dead)
		nicsim_teardown(nic);
	unregister_netdevice_queue(nic->netdev, head);
	unregister_netdevice_queue(nic->peer, head);
}

static struct net *nicsim_get_link_net(const struct net_device *dev)
{
	struct net_device *other = nicsim_other((struct net_device *)dev);

	return other ? dev_net(other) : dev_net(dev);
}

static struct rtnl_link_ops nicsim_link_ops = {
	.kind		= KBUILD_MODNAME,
	.priv_size	= sizeof(struct nicsim_nic),
	.setup		= nicsim_nic_setup,
	.validate	= nicsim_validate,
	.newlink	= nicsim_newlink,
	.dellink	= nicsim_dellink,
	.get_link_net	= nicsim_get_link_net,
	/* like hardware: back to init_net when a namespace goes away */
	.netns_refund	= true,
};

static int __init nicsim_init(void)
{
	int err;

	if (!max_qps || max_qps > NICSIM_MAX_QPS) {
		pr_err("max_qps must be 1-%u\n", NICSIM_MAX_QPS);
		return -EINVAL;
	}
	nicsim_debugfs_init();
	err = rtnl_link_register(&nicsim_link_ops);
	if (err)
		nicsim_debugfs_exit();
	return err;
}

static void __exit nicsim_exit(void)
{
	/* deletes every NIC through nicsim_dellink() */
	rtnl_link_unregister(&nicsim_link_ops);
	nicsim_debugfs_exit();
}

module_init(nicsim_init);
module_exit(nicsim_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(VHOST_ACCEL_VERSION);
MODULE_DESCRIPTION("nicsim: reference cooperating NIC for vhost-accel");
MODULE_ALIAS_RTNL_LINK(KBUILD_MODNAME);
