/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API of 6.12, which the vhost-accel and nicsim sources are
 * written against, back-ported to the older kernels they build on (6.1 and
 * later).  Kbuild force-includes this file ahead of every source file, so
 * the sources call the newest names and never test a kernel version.  Each
 * section names the release that changed the interface; on 6.12 this file
 * reads nothing but <linux/version.h>.  Headers a kernel lacks are in
 * compat/include/.  See compat/README.
 */
#ifndef _VHOST_ACCEL_COMPAT_H
#define _VHOST_ACCEL_COMPAT_H

/*
 * The kernel headers below are read before the source file's own first
 * line, and <linux/printk.h> would settle pr_fmt to its bare default
 * there.  Every source file defines it as this, word for word, so its own
 * definition is an identical redefinition.
 */
#ifndef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#endif

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "vhost-accel needs Linux 6.1 or later"
#endif

/*
 * 6.2: virtio_net_hdr_to_skb() takes USO frames (VIRTIO_NET_HDR_GSO_UDP_L4,
 * also new in the uapi header).  Before, parse them as 6.2 does: NEEDS_CSUM
 * at the UDP checksum, at most UDP_MAX_SEGMENTS segments, SKB_GSO_UDP_L4
 * marked dodgy; anything else goes to the kernel's own function.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO		56	/* the device takes USO */
#endif

static inline int
__compat_virtio_net_hdr_to_skb(struct sk_buff *skb,
			       const struct virtio_net_hdr *hdr,
			       bool little_endian)
{
	struct virtio_net_hdr csum_only;
	u16 gso_size;
	u32 p_off;

	if (hdr->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return virtio_net_hdr_to_skb(skb, hdr, little_endian);

	gso_size = __virtio16_to_cpu(little_endian, hdr->gso_size);
	if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !gso_size)
		return -EINVAL;
	csum_only = *hdr;
	csum_only.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	if (virtio_net_hdr_to_skb(skb, &csum_only, little_endian) ||
	    skb->csum_offset != offsetof(struct udphdr, check))
		return -EINVAL;
	p_off = skb_transport_offset(skb) + sizeof(struct udphdr);
	if (!pskb_may_pull(skb, p_off) ||
	    skb->len - p_off > gso_size * UDP_MAX_SEGMENTS)
		return -EINVAL;
	if (skb->len - p_off > gso_size) {
		skb_shinfo(skb)->gso_size = gso_size;
		skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4 | SKB_GSO_DODGY;
		skb_shinfo(skb)->gso_segs = 0;
	}
	return 0;
}
#define virtio_net_hdr_to_skb __compat_virtio_net_hdr_to_skb
#endif

/*
 * May a GSO skb go up the host stack whole?  Before 6.2,
 * virtio_net_hdr_from_skb() (AF_PACKET with PACKET_VNET_HDR, tap) fails
 * USO skbs with -EINVAL, so nicsim segments those first.  No mainline
 * function says this: on 6.2 and later the answer is always yes, and the
 * caller's test goes away with this file.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
static inline bool compat_stack_takes_gso(const struct sk_buff *skb)
{
	return !(skb_shinfo(skb)->gso_type & SKB_GSO_UDP_L4);
}
#else
#define compat_stack_takes_gso(skb)	true
#endif

/*
 * 6.5: pin_user_pages() lost its vmas argument.  Callers hold mmap_lock
 * for reading; the pin never drops it.
 *
 * The same release changed what a long-term write pin of file pages does.
 * From 6.5 on, GUP itself refuses FOLL_LONGTERM | FOLL_WRITE pins of a
 * shared file mapping whose file system tracks dirty pages (ext4, xfs,
 * ...) with -EFAULT; 6.1 pins them, and writeback later finds pages it
 * cleaned dirtied behind its back.  No shim covers that: mem.c checks the
 * VMAs itself, under the mmap_lock it pins with, and refuses such regions
 * with -EOPNOTSUPP on every kernel.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#include <linux/mm.h>

#define pin_user_pages(start, nr_pages, gup_flags, pages) \
	pin_user_pages(start, nr_pages, gup_flags, pages, NULL)
#endif

/*
 * 6.5: the GSO declarations (__skb_gso_segment() and friends) moved from
 * <linux/netdevice.h> to <net/gso.h>: compat/include/net/gso.h stands in
 * for the latter.
 *
 * 6.8: eventfd_signal() lost its count argument; it always adds 1.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#include <linux/eventfd.h>

#define eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#endif

/*
 * 6.12: get_unaligned() and put_unaligned() moved from <asm/unaligned.h>
 * to <linux/unaligned.h>: compat/include/linux/unaligned.h stands in for
 * the latter.
 */

/*
 * 6.11: virtio_find_vqs() takes an array of struct virtqueue_info (name,
 * callback, ctx) instead of parallel arrays.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#include <linux/slab.h>
#include <linux/virtio_config.h>

struct virtqueue_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};

static inline int
__compat_virtio_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			 struct virtqueue *vqs[],
			 struct virtqueue_info vqs_info[],
			 struct irq_affinity *desc)
{
	vq_callback_t **callbacks;
	const char **names;
	unsigned int i;
	int err;

	callbacks = kcalloc(nvqs, sizeof(*callbacks), GFP_KERNEL);
	names = kcalloc(nvqs, sizeof(*names), GFP_KERNEL);
	err = -ENOMEM;
	if (callbacks && names) {
		for (i = 0; i < nvqs; i++) {
			callbacks[i] = vqs_info[i].callback;
			names[i] = vqs_info[i].name;
		}
		err = vdev->config->find_vqs(vdev, nvqs, vqs, callbacks, names,
					     NULL, desc);
	}
	kfree(callbacks);
	kfree(names);
	return err;
}
#define virtio_find_vqs __compat_virtio_find_vqs
#endif

/*
 * 6.12 (and its stable updates): virtqueue_reset() resets one virtqueue
 * and hands back every buffer the device held, then calls recycle_done.
 * Before, virtqueue_resize() is the only way in, and it resets only when
 * the size changes: reset to half the size and back (every buffer comes
 * back on the first; the ring is empty on the second).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#include <linux/virtio.h>

static inline int
__compat_virtqueue_reset(struct virtqueue *vq,
			 void (*recycle)(struct virtqueue *vq, void *buf),
			 void (*recycle_done)(struct virtqueue *vq))
{
	unsigned int num = virtqueue_get_vring_size(vq);
	int err;

	err = virtqueue_resize(vq, num > 1 ? num / 2 : 2, recycle);
	if (!err)
		err = virtqueue_resize(vq, num, recycle);
	if (!err && recycle_done)
		recycle_done(vq);
	return err;
}
#define virtqueue_reset __compat_virtqueue_reset
#endif

#endif /* _VHOST_ACCEL_COMPAT_H */
