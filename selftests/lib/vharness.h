/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness as our test binaries use it: include this in place
 * of kselftest_harness.h and end the file with TEST_HARNESS_MAIN, as
 * mainline tests do.  Every test's time limit is multiplied by
 * vg_time_scale() (VG_TIME_SCALE in the environment), so a debug kernel
 * gets the same tests with longer bounds rather than different tests.
 *
 * Only the harness's documented interface is used: the scaling wraps
 * alarm(), the one call by which the harness (6.1 to 6.12 at least) arms
 * a test's TEST_F_TIMEOUT() or default limit, and touches neither its
 * fixture lists nor its constructor-order bookkeeping.
 */
#ifndef VHARNESS_H
#define VHARNESS_H

#include <unistd.h>

#include "vguest.h"

#define alarm vg_harness_alarm
#include "kselftest_harness.h"
#undef alarm

#endif /* VHARNESS_H */
