// SPDX-License-Identifier: GPL-2.0
/*
 * nicsim: ethtool.  `ethtool -S NAME` lists the totals over all queue-pair
 * slots, the NIC-wide engine counters, then every slot's counters
 * (qpN_*); slots keep counting across attaches, like hardware queues.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/platform_device.h>

#include "nicsim.h"

static const char * const nicsim_qs_names[NICSIM_QS_NUM] = {
	[NICSIM_QS_TX_PACKETS]		= "tx_packets",
	[NICSIM_QS_TX_BYTES]		= "tx_bytes",
	[NICSIM_QS_TX_DROPPED]		= "tx_dropped",
	[NICSIM_QS_RX_PACKETS]		= "rx_packets",
	[NICSIM_QS_RX_BYTES]		= "rx_bytes",
	[NICSIM_QS_RX_DROPPED_NO_BUF]	= "rx_dropped_no_buf",
	[NICSIM_QS_RX_DROPPED_TOO_BIG]	= "rx_dropped_too_big",
	[NICSIM_QS_RX_DEPLETED]		= "rx_depleted",
	[NICSIM_QS_RX_HELD]		= "rx_held",
	[NICSIM_QS_ENGINE_DMA_BYTES]	= "engine_dma_bytes",
	[NICSIM_QS_TX_DROPPED_SPOOFED]	= "tx_dropped_spoofed",
	[NICSIM_QS_DROPPED_PORT_DOWN]	= "dropped_port_down",
	[NICSIM_QS_RX_DROPPED_ISOLATION] = "rx_dropped_isolated",
};

static const char * const nicsim_ns_names[NICSIM_NS_NUM] = {
	[NICSIM_NS_WIRE_RX]		= "wire_rx_frames",
	[NICSIM_NS_WIRE_TX]		= "wire_tx_frames",
	[NICSIM_NS_HOST_RX]		= "host_rx_frames",
	[NICSIM_NS_HOST_TX]		= "host_tx_frames",
	[NICSIM_NS_DROPPED_INJECTED]	= "rx_dropped_injected",
	[NICSIM_NS_DROPPED_LINK_DOWN]	= "dropped_link_down",
	[NICSIM_NS_DROPPED_OFFLOAD]	= "dropped_offload",
	[NICSIM_NS_PAUSES]		= "flow_control_pauses",
	[NICSIM_NS_DROPPED_ISOLATION]	= "dropped_isolation",
};

/* totals, NIC counters, attached queue pairs, then per slot */
#define NICSIM_N_STATS(nic) \
	(NICSIM_QS_NUM + NICSIM_NS_NUM + 1 + (nic)->max_qps * NICSIM_QS_NUM)

static void nicsim_get_drvinfo(struct net_device *dev,
			       struct ethtool_drvinfo *info)
{
	struct nicsim_nic *nic = netdev_priv(dev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, dev_name(nic->dma_dev), sizeof(info->bus_info));
}

static int nicsim_get_sset_count(struct net_device *dev, int sset)
{
	struct nicsim_nic *nic = netdev_priv(dev);

	return sset == ETH_SS_STATS ? NICSIM_N_STATS(nic) : -EOPNOTSUPP;
}

static void nicsim_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	struct nicsim_nic *nic = netdev_priv(dev);
	unsigned int i, q;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < NICSIM_QS_NUM; i++)
		ethtool_sprintf(&data, "%s", nicsim_qs_names[i]);
	for (i = 0; i < NICSIM_NS_NUM; i++)
		ethtool_sprintf(&data, "%s", nicsim_ns_names[i]);
	ethtool_sprintf(&data, "qps_attached");
	for (q = 0; q < nic->max_qps; q++)
		for (i = 0; i < NICSIM_QS_NUM; i++)
			ethtool_sprintf(&data, "qp%u_%s", q, nicsim_qs_names[i]);
}

static void nicsim_get_ethtool_stats(struct net_device *dev,
				     struct ethtool_stats *stats, u64 *data)
{
	struct nicsim_nic *nic = netdev_priv(dev);
	u64 *total = data, *slot_data;
	unsigned int i, q;

	memset(total, 0, NICSIM_QS_NUM * sizeof(*total));
	nicsim_ns_read(nic, data + NICSIM_QS_NUM);
	data[NICSIM_QS_NUM + NICSIM_NS_NUM] = READ_ONCE(nic->nr_qps);
	slot_data = data + NICSIM_QS_NUM + NICSIM_NS_NUM + 1;
	for (q = 0; q < nic->max_qps; q++, slot_data += NICSIM_QS_NUM) {
		nicsim_slot_read(&nic->slots[q], slot_data);
		for (i = 0; i < NICSIM_QS_NUM; i++)
			total[i] += slot_data[i];
	}
}

const struct ethtool_ops nicsim_nic_ethtool_ops = {
	.get_drvinfo		= nicsim_get_drvinfo,
	.get_link		= ethtool_op_get_link,
	.get_sset_count		= nicsim_get_sset_count,
	.get_strings		= nicsim_get_strings,
	.get_ethtool_stats	= nicsim_get_ethtool_stats,
};

static void nicsim_peer_get_drvinfo(struct net_device *dev,
				    struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, "wire", sizeof(info->bus_info));
}

const struct ethtool_ops nicsim_peer_ethtool_ops = {
	.get_drvinfo		= nicsim_peer_get_drvinfo,
	.get_link		= ethtool_op_get_link,
};
