/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences for the vhost-accel modules, kept in one place
 * so the rest of the code is written against one API.  Each wrapper names
 * the kernel release that changed the underlying interface.
 *
 * Kbuild force-includes this file ahead of every source file.
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
#include <linux/eventfd.h>
#include <linux/if_tun.h>
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/udp.h>
#include <linux/virtio_net.h>
/* get_unaligned() and put_unaligned() moved to linux/ in 6.12 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <net/gso.h>
#endif

/* 6.8 dropped the counter argument of eventfd_signal(); it always adds 1. */
static inline void vhost_accel_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * Segment a GSO skb on the receive path (no WARN for CHECKSUM_UNNECESSARY
 * frames).  6.5 moved the GSO declarations from netdevice.h to net/gso.h
 * (included above); the function itself is unchanged.
 */
static inline struct sk_buff *
vhost_accel_skb_gso_segment_rx(struct sk_buff *skb, netdev_features_t features)
{
	return __skb_gso_segment(skb, features, false);
}

/* The uapi value of USO GSO frames appeared in 6.2's virtio_net.h. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif

/*
 * virtio_net_hdr_to_skb() learnt VIRTIO_NET_HDR_GSO_UDP_L4 (USO) in 6.2;
 * before, do what 6.2 does: NEEDS_CSUM at the UDP checksum, at most
 * UDP_MAX_SEGMENTS segments, SKB_GSO_UDP_L4 marked dodgy.  @hdr is
 * little endian (virtio 1.0 byte order).
 */
static inline int vhost_accel_virtio_net_hdr_to_skb(struct sk_buff *skb,
						    const struct virtio_net_hdr *hdr)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	if (hdr->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4) {
		u16 gso_size = __virtio16_to_cpu(true, hdr->gso_size);
		struct virtio_net_hdr csum_only = *hdr;
		u32 p_off;

		if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !gso_size)
			return -EINVAL;
		csum_only.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		if (virtio_net_hdr_to_skb(skb, &csum_only, true) ||
		    skb->csum_offset != offsetof(struct udphdr, check))
			return -EINVAL;
		p_off = skb_transport_offset(skb) + sizeof(struct udphdr);
		if (!pskb_may_pull(skb, p_off) ||
		    skb->len - p_off > gso_size * UDP_MAX_SEGMENTS)
			return -EINVAL;
		if (skb->len - p_off > gso_size) {
			skb_shinfo(skb)->gso_size = gso_size;
			skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4 |
						    SKB_GSO_DODGY;
			skb_shinfo(skb)->gso_segs = 0;
		}
		return 0;
	}
#endif
	return virtio_net_hdr_to_skb(skb, hdr, true);
}

/*
 * May a GSO skb go up the host stack as it is?  virtio_net_hdr_from_skb()
 * (AF_PACKET with PACKET_VNET_HDR, tap) fails USO skbs with -EINVAL before
 * 6.2, which added VIRTIO_NET_HDR_GSO_UDP_L4: segment those first there.
 */
static inline bool vhost_accel_stack_takes_gso(const struct sk_buff *skb)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	return !(skb_shinfo(skb)->gso_type & SKB_GSO_UDP_L4);
#else
	return true;
#endif
}

/*
 * Long-term write pins of file pages.  From 6.5 on, GUP itself refuses
 * FOLL_LONGTERM | FOLL_WRITE pins of a shared file mapping whose file
 * system tracks dirty pages (ext4, xfs, ...) with -EFAULT; 6.1 pins them,
 * and writeback later finds pages it cleaned dirtied behind its back.
 * mem.c therefore checks the VMAs itself, under the mmap_lock it pins
 * with, and refuses such regions with -EOPNOTSUPP on every kernel.
 *
 * pin_user_pages() lost its vmas argument in 6.5.  The caller holds
 * mmap_lock for reading; the pin never drops it.
 */
static inline long vhost_accel_pin_user_pages(unsigned long start,
					      unsigned long nr_pages,
					      unsigned int gup_flags,
					      struct page **pages)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#endif
}

#endif /* _VHOST_ACCEL_COMPAT_H */
