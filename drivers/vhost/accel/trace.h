/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-accel tracepoints: Rx backpressure state changes, worker runs
 * cut short by their budget, and switches between the accelerated and the
 * copying datapath.  Enable with
 *   echo 1 > /sys/kernel/tracing/events/vhost_accel/enable
 * They fire once per state change or per run, never per frame.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhost_accel

#if !defined(_VHOST_ACCEL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VHOST_ACCEL_TRACE_H

#include <linux/tracepoint.h>

/*
 * A device moved between datapaths on its own (nic.c): @datapath is the
 * new one (VHOST_ACCEL_DATAPATH_*), @drops the frames the move threw away.
 */
TRACE_EVENT(vhost_accel_datapath_switch,
	TP_PROTO(u32 dev_id, int ifindex, u32 datapath, u64 switches,
		 unsigned int drops),
	TP_ARGS(dev_id, ifindex, datapath, switches, drops),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(int, ifindex)
		__field(u32, datapath)
		__field(u64, switches)
		__field(unsigned int, drops)
	),
	TP_fast_assign(
		__entry->dev_id = dev_id;
		__entry->ifindex = ifindex;
		__entry->datapath = datapath;
		__entry->switches = switches;
		__entry->drops = drops;
	),
	TP_printk("dev %u ifindex %d datapath %u switches %llu drops %u",
		  __entry->dev_id, __entry->ifindex, __entry->datapath,
		  __entry->switches, __entry->drops)
);

/* The NIC ran out of posted guest buffers (any context but hard irq). */
TRACE_EVENT(vhost_accel_rx_depleted,
	TP_PROTO(u32 dev_id, int ifindex),
	TP_ARGS(dev_id, ifindex),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(int, ifindex)
	),
	TP_fast_assign(
		__entry->dev_id = dev_id;
		__entry->ifindex = ifindex;
	),
	TP_printk("dev %u ifindex %d", __entry->dev_id, __entry->ifindex)
);

/* Depleted and the guest's avail ring is empty: a saturation begins. */
TRACE_EVENT(vhost_accel_rx_saturated,
	TP_PROTO(u32 dev_id, int ifindex, u64 saturations),
	TP_ARGS(dev_id, ifindex, saturations),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(int, ifindex)
		__field(u64, saturations)
	),
	TP_fast_assign(
		__entry->dev_id = dev_id;
		__entry->ifindex = ifindex;
		__entry->saturations = saturations;
	),
	TP_printk("dev %u ifindex %d saturations %llu", __entry->dev_id,
		  __entry->ifindex, __entry->saturations)
);

/* Buffers posted again (or the datapath stopped): the saturation ends. */
TRACE_EVENT(vhost_accel_rx_recovered,
	TP_PROTO(u32 dev_id, int ifindex, u64 duration_ns),
	TP_ARGS(dev_id, ifindex, duration_ns),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(int, ifindex)
		__field(u64, duration_ns)
	),
	TP_fast_assign(
		__entry->dev_id = dev_id;
		__entry->ifindex = ifindex;
		__entry->duration_ns = duration_ns;
	),
	TP_printk("dev %u ifindex %d duration_ns %llu", __entry->dev_id,
		  __entry->ifindex, __entry->duration_ns)
);

/*
 * A run of a queue's handler spent its budget (chains or bytes taken from
 * the guest's avail ring) and requeued itself: the worker yields.
 */
TRACE_EVENT(vhost_accel_budget_yield,
	TP_PROTO(u32 dev_id, unsigned int vq, unsigned int chains, u64 bytes),
	TP_ARGS(dev_id, vq, chains, bytes),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(unsigned int, vq)
		__field(unsigned int, chains)
		__field(u64, bytes)
	),
	TP_fast_assign(
		__entry->dev_id = dev_id;
		__entry->vq = vq;
		__entry->chains = chains;
		__entry->bytes = bytes;
	),
	TP_printk("dev %u vq %u chains %u bytes %llu", __entry->dev_id,
		  __entry->vq, __entry->chains, __entry->bytes)
);

#endif /* _VHOST_ACCEL_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I (see Kbuild). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
