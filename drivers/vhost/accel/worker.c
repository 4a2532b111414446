// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-accel per-device worker.
 *
 * One kthread per open device, created at VHOST_SET_OWNER.  It adopts the
 * owner's address space (so ring accesses resolve as in the owner) and the
 * owner's cgroups (so its CPU time is charged where the VM's is), and runs
 * queued work items in order.  Eventfd kicks queue work through a
 * vhost_accel_poll; a work item already queued is not queued twice, so a
 * burst of kicks costs one wakeup.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>

#include "accel.h"

void vhost_accel_work_init(struct vhost_accel_work *work,
			   vhost_accel_work_fn_t fn)
{
	clear_bit(VHOST_ACCEL_WORK_QUEUED, &work->flags);
	work->fn = fn;
}

void vhost_accel_work_queue(struct vhost_accel_dev *dev,
			    struct vhost_accel_work *work)
{
	struct vhost_accel_worker *worker = &dev->worker;

	if (!worker->task)
		return;
	if (test_and_set_bit(VHOST_ACCEL_WORK_QUEUED, &work->flags))
		return;
	/* llist_add() orders the flag update before the list insertion. */
	llist_add(&work->node, &worker->work_list);
	wake_up_process(worker->task);
}

static void worker_run_list(struct vhost_accel_worker *worker,
			    struct llist_node *node)
{
	struct vhost_accel_work *work, *next;

	node = llist_reverse_order(node);
	llist_for_each_entry_safe(work, next, node, node) {
		/* Clear before running so a kick during fn() requeues it. */
		clear_bit_unlock(VHOST_ACCEL_WORK_QUEUED, &work->flags);
		work->fn(work);
		/*
		 * The yield point: a datapath run that spent its budget
		 * requeued itself, so a guest keeping us busy still lets
		 * the CPU go here after every bounded run.
		 */
		cond_resched();
	}
}

static int worker_thread(void *data)
{
	struct vhost_accel_dev *dev = data;
	struct vhost_accel_worker *worker = &dev->worker;
	struct llist_node *node;

	kthread_use_mm(dev->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		node = llist_del_all(&worker->work_list);
		if (!node) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		worker->wakeups++;
		worker_run_list(worker, node);
	}
	kthread_unuse_mm(dev->mm);
	return 0;
}

/**
 * vhost_accel_worker_start - create the worker for the current owner
 * @dev: device whose @mm was just set to current's
 *
 * Return: 0 or a negative errno from kthread creation or cgroup attach.
 */
int vhost_accel_worker_start(struct vhost_accel_dev *dev)
{
	struct vhost_accel_worker *worker = &dev->worker;
	struct task_struct *task;
	int ret;

	init_llist_head(&worker->work_list);
	worker->wakeups = 0;
	task = kthread_create(worker_thread, dev, "vhost-accel-%d",
			      task_pid_nr(current));
	if (IS_ERR(task))
		return PTR_ERR(task);

	ret = cgroup_attach_task_all(current, task);
	if (ret) {
		kthread_stop(task);
		return ret;
	}
	worker->task = task;
	wake_up_process(task);
	return 0;
}

struct worker_flush {
	struct vhost_accel_work work;
	struct completion done;
};

static void worker_flush_fn(struct vhost_accel_work *work)
{
	struct worker_flush *flush = container_of(work, struct worker_flush,
						  work);

	complete(&flush->done);
}

/* Wait until every work item queued before this call has run. */
void vhost_accel_worker_flush(struct vhost_accel_dev *dev)
{
	struct worker_flush flush;

	if (!dev->worker.task)
		return;
	init_completion(&flush.done);
	vhost_accel_work_init(&flush.work, worker_flush_fn);
	vhost_accel_work_queue(dev, &flush.work);
	wait_for_completion(&flush.done);
}

/* Stop the worker after it has drained its queue; callers stopped every
 * poll first, so nothing new can be queued.
 */
void vhost_accel_worker_stop(struct vhost_accel_dev *dev)
{
	struct vhost_accel_worker *worker = &dev->worker;

	if (!worker->task)
		return;
	vhost_accel_worker_flush(dev);
	WARN_ON(!llist_empty(&worker->work_list));
	kthread_stop(worker->task);
	worker->task = NULL;
}

static int poll_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
		       void *key)
{
	struct vhost_accel_poll *poll = container_of(wait,
						     struct vhost_accel_poll,
						     wait);

	if (!(key_to_poll(key) & poll->mask))
		return 0;
	vhost_accel_work_queue(poll->dev, &poll->work);
	return 0;
}

static void poll_add_waiter(struct file *file, wait_queue_head_t *wqh,
			    poll_table *pt)
{
	struct vhost_accel_poll *poll = container_of(pt,
						     struct vhost_accel_poll,
						     table);

	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

/*
 * @mask: the events that queue @fn: EPOLLIN for a kick eventfd or a
 * backend socket with frames to read, EPOLLOUT for one with room again.
 */
void vhost_accel_poll_init(struct vhost_accel_poll *poll,
			   struct vhost_accel_dev *dev,
			   vhost_accel_work_fn_t fn, __poll_t mask)
{
	init_waitqueue_func_entry(&poll->wait, poll_wakeup);
	init_poll_funcptr(&poll->table, poll_add_waiter);
	vhost_accel_work_init(&poll->work, fn);
	poll->dev = dev;
	poll->wqh = NULL;
	poll->mask = mask;
}

/* Start watching @file; an event already pending queues the work at once. */
void vhost_accel_poll_start(struct vhost_accel_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return;
	mask = vfs_poll(file, &poll->table);
	if (mask & poll->mask)
		vhost_accel_work_queue(poll->dev, &poll->work);
}

void vhost_accel_poll_stop(struct vhost_accel_poll *poll)
{
	if (!poll->wqh)
		return;
	remove_wait_queue(poll->wqh, &poll->wait);
	poll->wqh = NULL;
}
