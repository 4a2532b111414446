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

/* Every counter of struct vhost_accel_vq_stats, in its order. */
#define VQ_STAT(field) { #field, offsetof(struct vhost_accel_vq_stats, field) }
static const struct {
	const char *name;
	size_t offset;
} vq_stats[] = {
	VQ_STAT(kicks), VQ_STAT(calls), VQ_STAT(errors), VQ_STAT(packets),
	VQ_STAT(bytes), VQ_STAT(bytes_copied), VQ_STAT(bufs_posted),
	VQ_STAT(depletions), VQ_STAT(drops_no_buf), VQ_STAT(drops_too_big),
	VQ_STAT(drops_nic), VQ_STAT(saturations), VQ_STAT(saturated_ns),
	VQ_STAT(run_chains_max), VQ_STAT(budget_yields), VQ_STAT(drops_spoofed),
};
#undef VQ_STAT

/* A table, so that a counter added to the uapi struct is one line here. */
static_assert(ARRAY_SIZE(vq_stats) * sizeof(u64) ==
	      sizeof(struct vhost_accel_vq_stats));

static void show_vq(struct seq_file *m, const char *name,
		    const struct vhost_accel_vq_stats *s)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vq_stats); i++)
		seq_printf(m, "%s_%s %llu\n", name, vq_stats[i].name,
			   *(const u64 *)((const u8 *)s + vq_stats[i].offset));
}

static const char *const datapath_names[] = {
	[VHOST_ACCEL_DATAPATH_NONE] = "none",
	[VHOST_ACCEL_DATAPATH_ACCEL] = "accel",
	[VHOST_ACCEL_DATAPATH_COPY] = "copy",
};

/* The datapath and, for the copying one, the kind of backend socket. */
static void show_datapath(struct seq_file *m, struct vhost_accel_dev *dev,
			  const struct vhost_accel_stats *st)
{
	unsigned int i;

	seq_printf(m, "datapath %s\n", datapath_names[st->datapath]);
	for (i = 0; i < VHOST_ACCEL_NVQS; i++)
		if (dev->vqs[i].copy) {
			seq_printf(m, "copy_backend %s\n",
				   vhost_accel_copy_kind_name(vhost_accel_copy_kind(&dev->vqs[i])));
			break;
		}
	seq_printf(m, "datapath_switches %llu\n", st->datapath_switches);
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
	/* dev->mutex: vq->copy stays */
	show_datapath(m, dev, st);
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
