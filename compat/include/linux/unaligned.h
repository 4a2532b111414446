/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stands in for <linux/unaligned.h> on kernels before 6.12, which declare
 * get_unaligned() and put_unaligned() in <asm/unaligned.h>.  Kbuild puts
 * compat/include/ after the kernel's own include directories, so a kernel
 * that has the header never reads this one.
 */
#ifndef _VHOST_ACCEL_COMPAT_LINUX_UNALIGNED_H
#define _VHOST_ACCEL_COMPAT_LINUX_UNALIGNED_H

#include <asm/unaligned.h>

#endif
