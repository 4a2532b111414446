/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the vguest_*.c files share and the tests do not see: small
 * arithmetic helpers and the queue state reset that device open and
 * queue set-up both do.
 */
#ifndef VGUEST_INT_H
#define VGUEST_INT_H

#include <unistd.h>

#include "vguest.h"

static inline uint64_t vg_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

static inline uint64_t vg_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static inline bool vg_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static inline void vg_close_fdp(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* vguest_ring.c: a queue with no rings and no eventfds */
void vg_vq_reset_state(struct vg_vq *vq);
/* vguest_ring.c: queue @idx of @d, NULL when out of range */
struct vg_vq *vg_vq_get(struct vg_dev *d, unsigned int idx);

#endif /* VGUEST_INT_H */
