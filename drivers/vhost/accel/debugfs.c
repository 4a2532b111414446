// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel debugfs view: one directory per open device,
 * /sys/kernel/debug/vhost-accel/<id>/stats, so a host administrator can
 * read any device's counters without holding its file descriptor (which
 * only the owner, QEMU, may use).  Readable by root only: the counters of
 * one guest are not for other users.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "accel.h"

static struct dentry *vhost_accel_debugfs_root;

static const char *const vq_names[VHOST_ACCEL_NVQS] = { "rx", "tx" };

static void show_vq(struct seq_file *m, const char *name,
		    const struct vhost_accel_vq_stats *s)
{
	seq_printf(m, "%s_kicks %llu\n", name, s->kicks);
	seq_printf(m, "%s_calls %llu\n", name, s->calls);
	seq_printf(m, "%s_errors %llu\n", name, s->errors);
	seq_printf(m, "%s_packets %llu\n", name, s->packets);
	seq_printf(m, "%s_bytes %llu\n", name, s->bytes);
	seq_printf(m, "%s_bytes_copied %llu\n", name, s->bytes_copied);
	seq_printf(m, "%s_bufs_posted %llu\n", name, s->bufs_posted);
	seq_printf(m, "%s_depletions %llu\n", name, s->depletions);
	seq_printf(m, "%s_drops_no_buf %llu\n", name, s->drops_no_buf);
	seq_printf(m, "%s_drops_too_big %llu\n", name, s->drops_too_big);
	seq_printf(m, "%s_drops_nic %llu\n", name, s->drops_nic);
	seq_printf(m, "%s_saturations %llu\n", name, s->saturations);
	seq_printf(m, "%s_saturated_ns %llu\n", name, s->saturated_ns);
}

static int stats_show(struct seq_file *m, void *unused)
{
	struct vhost_accel_dev *dev = m->private;
	struct vhost_accel_stats *st;
	unsigned int i;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	mutex_lock(&dev->mutex);
	vhost_accel_dev_stats(dev, st);
	/* in the reader's pid namespace, 0 when the owner is not in it */
	seq_printf(m, "owner_pid %d\n", pid_vnr(dev->owner_pid));
	mutex_unlock(&dev->mutex);
	vhost_accel_binding_show(dev, m);
	seq_printf(m, "pinned_pages %llu\n", st->pinned_pages);
	seq_printf(m, "worker_wakeups %llu\n", st->worker_wakeups);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		show_vq(m, vq_names[i], &st->vq[i]);
	kfree(st);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

void vhost_accel_debugfs_init(void)
{
	vhost_accel_debugfs_root = debugfs_create_dir("vhost-accel", NULL);
}

void vhost_accel_debugfs_exit(void)
{
	debugfs_remove(vhost_accel_debugfs_root);
}

/* Failures are not fatal: debugfs is a view, the device works without. */
void vhost_accel_debugfs_add(struct vhost_accel_dev *dev)
{
	char name[16];

	/* The id given at open, as in netlink and the tracepoints. */
	snprintf(name, sizeof(name), "%u", dev->id);
	dev->debugfs = debugfs_create_dir(name, vhost_accel_debugfs_root);
	debugfs_create_file("stats", 0400, dev->debugfs, dev, &stats_fops);
}

/* Waits for readers, so @dev may be freed afterwards. */
void vhost_accel_debugfs_remove(struct vhost_accel_dev *dev)
{
	debugfs_remove(dev->debugfs);
}
