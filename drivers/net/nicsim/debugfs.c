// SPDX-License-Identifier: GPL-2.0
/*
 * nicsim: debugfs knobs, /sys/kernel/debug/nicsim/<ifname>/ (the name the
 * NIC had when it was created):
 *   ring_size            descriptors per ring for queue pairs attached
 *                        from now on (power of two, 8-4096, default 256)
 *   completion_delay_us  the engine waits this long before it marks a
 *                        pass's descriptors done (0-1000000)
 *   drop_every_n         the engine drops every Nth frame from the wire
 *                        (0: off)
 *   xmit_accept_max      xmit and post_rx take at most this many buffers
 *                        per call, free space or not (0: no limit)
 *   link                 0/1: carrier of both ends
 *   flow_control         0/1: default for new attaches (hold frames and
 *                        pause the inputs instead of dropping)
 *   qps                  read only: "N queue pairs, M attached", then one
 *                        line per attached queue pair
 *   rss                  read only: the RSS key, then per pool (MAC) its
 *                        queue pairs and their indirection entries
 *   engines              read only: "N engines", then per engine its
 *                        index, thread id and queue pairs attached
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/log2.h>
#include <linux/seq_file.h>

#include "nicsim.h"

static struct dentry *nicsim_debugfs_root;

static int nicsim_ring_size_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->ring_size);
	return 0;
}

static int nicsim_ring_size_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val < NICSIM_RING_MIN || val > NICSIM_RING_MAX ||
	    !is_power_of_2(val))
		return -EINVAL;
	WRITE_ONCE(nic->ring_size, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_ring_size_fops, nicsim_ring_size_get,
			 nicsim_ring_size_set, "%llu\n");

static int nicsim_delay_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->delay_us);
	return 0;
}

static int nicsim_delay_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val > NICSIM_MAX_DELAY_US)
		return -EINVAL;
	WRITE_ONCE(nic->delay_us, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_delay_fops, nicsim_delay_get,
			 nicsim_delay_set, "%llu\n");

static int nicsim_drop_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->drop_every_n);
	return 0;
}

static int nicsim_drop_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val > U32_MAX)
		return -EINVAL;
	WRITE_ONCE(nic->drop_every_n, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_drop_fops, nicsim_drop_get,
			 nicsim_drop_set, "%llu\n");

static int nicsim_accept_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->accept_max);
	return 0;
}

static int nicsim_accept_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val > NICSIM_RING_MAX)
		return -EINVAL;
	WRITE_ONCE(nic->accept_max, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_accept_fops, nicsim_accept_get,
			 nicsim_accept_set, "%llu\n");

static int nicsim_link_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->link);
	return 0;
}

static int nicsim_link_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val > 1)
		return -EINVAL;
	WRITE_ONCE(nic->link, val);
	nicsim_update_carrier(nic);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_link_fops, nicsim_link_get,
			 nicsim_link_set, "%llu\n");

static int nicsim_fc_get(void *data, u64 *val)
{
	struct nicsim_nic *nic = data;

	*val = READ_ONCE(nic->flow_control);
	return 0;
}

static int nicsim_fc_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val > 1)
		return -EINVAL;
	WRITE_ONCE(nic->flow_control, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_fc_fops, nicsim_fc_get, nicsim_fc_set,
			 "%llu\n");

static int nicsim_qps_show(struct seq_file *m, void *v)
{
	struct nicsim_nic *nic = m->private;
	struct nicsim_qp *qp;

	down_write(&nic->engine_lock);
	/* first the capacity: tests read it with strtoul() */
	seq_printf(m, "%u queue pairs, %u attached\n", nic->max_qps,
		   nic->nr_qps);
	seq_puts(m, "qp mac               fl ring tx_pending rx_posted rx_done held depleted\n");
	list_for_each_entry(qp, &nic->qps, node) {
		u32 tx_prod = READ_ONCE(qp->tx.prod);
		u32 rx_prod = READ_ONCE(qp->rx.prod);

		seq_printf(m, "%-2u %pM %s%s %4u %10u %9u %7u %4u %8u\n",
			   qp->slot->index, qp->mac,
			   qp->flags & VHOST_ACCEL_ATTACH_RX_MERGE ? "m" : "-",
			   qp->flow_control ? "f" : "-",
			   nicsim_ring_size(&qp->tx),
			   tx_prod - READ_ONCE(qp->tx.clean),
			   rx_prod - qp->rx.next,
			   qp->rx.next - READ_ONCE(qp->rx.clean),
			   skb_queue_len(&qp->held), qp->depleted);
	}
	up_write(&nic->engine_lock);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(nicsim_qps);

/* Writing 1 to "reset_qps" loses every attached queue pair (cb->detached). */
static int nicsim_reset_set(void *data, u64 val)
{
	struct nicsim_nic *nic = data;

	if (val != 1)
		return -EINVAL;
	netdev_info(nic->netdev, "reset: %u queue pairs lost\n",
		    nicsim_reset_qps(nic));
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nicsim_reset_fops, NULL, nicsim_reset_set, "%llu\n");

static unsigned int nicsim_rss_entries(const struct nicsim_group *g,
				       const struct nicsim_qp *qp)
{
	unsigned int i, n = 0;

	for (i = 0; i < NICSIM_RSS_INDIR; i++)
		n += g->indir[i] == qp;
	return n;
}

/* "pool MAC qps N: slot/entries ..." per pool; tests parse it. */
static int nicsim_rss_show(struct seq_file *m, void *v)
{
	struct nicsim_nic *nic = m->private;
	struct nicsim_group *g;
	struct nicsim_qp *qp;

	down_write(&nic->engine_lock);
	seq_printf(m, "key %*phC\nindirection %u\n", NICSIM_RSS_KEY_LEN,
		   nic->rss_key, NICSIM_RSS_INDIR);
	list_for_each_entry(g, &nic->groups, node) {
		seq_printf(m, "pool %pM qps %u:", g->mac, g->n);
		list_for_each_entry(qp, &g->members, group_node)
			seq_printf(m, " %u/%u", qp->slot->index,
				   nicsim_rss_entries(g, qp));
		seq_putc(m, '\n');
	}
	up_write(&nic->engine_lock);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(nicsim_rss);

/* "N engines", then "index pid queue-pairs" per engine; tests parse it. */
static int nicsim_engines_show(struct seq_file *m, void *v)
{
	struct nicsim_nic *nic = m->private;
	unsigned int i;

	down_read(&nic->engine_lock);
	seq_printf(m, "%u engines\n", nic->nr_engines);
	for (i = 0; i < nic->nr_engines; i++) {
		const struct nicsim_engine *e = &nic->engines[i];

		seq_printf(m, "%u %d %u\n", i,
			   e->task ? task_pid_nr(e->task) : 0, e->nr_qps);
	}
	up_read(&nic->engine_lock);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(nicsim_engines);

void nicsim_debugfs_add(struct nicsim_nic *nic)
{
	struct dentry *dir;
	char name[IFNAMSIZ + 16];

	dir = debugfs_create_dir(nic->netdev->name, nicsim_debugfs_root);
	if (IS_ERR(dir)) {
		/* the name exists: another namespace has a NIC of that name */
		snprintf(name, sizeof(name), "%s.%s", nic->netdev->name,
			 dev_name(nic->dma_dev));
		dir = debugfs_create_dir(name, nicsim_debugfs_root);
	}
	nic->debugfs = dir;
	debugfs_create_file_unsafe("ring_size", 0600, dir, nic,
				   &nicsim_ring_size_fops);
	debugfs_create_file_unsafe("completion_delay_us", 0600, dir, nic,
				   &nicsim_delay_fops);
	debugfs_create_file_unsafe("drop_every_n", 0600, dir, nic,
				   &nicsim_drop_fops);
	debugfs_create_file_unsafe("xmit_accept_max", 0600, dir, nic,
				   &nicsim_accept_fops);
	debugfs_create_file_unsafe("link", 0600, dir, nic, &nicsim_link_fops);
	debugfs_create_file_unsafe("flow_control", 0600, dir, nic,
				   &nicsim_fc_fops);
	debugfs_create_file("qps", 0400, dir, nic, &nicsim_qps_fops);
	debugfs_create_file_unsafe("reset_qps", 0200, dir, nic,
				   &nicsim_reset_fops);
	debugfs_create_file("rss", 0400, dir, nic, &nicsim_rss_fops);
	debugfs_create_file("engines", 0400, dir, nic, &nicsim_engines_fops);
}

void nicsim_debugfs_remove(struct nicsim_nic *nic)
{
	debugfs_remove_recursive(nic->debugfs);
	nic->debugfs = NULL;
}

void nicsim_debugfs_init(void)
{
	nicsim_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void nicsim_debugfs_exit(void)
{
	debugfs_remove_recursive(nicsim_debugfs_root);
}
