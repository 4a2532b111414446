/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness as our test binaries use it: VG_HARNESS_MAIN in
 * place of TEST_HARNESS_MAIN multiplies every test's time limit by
 * vg_time_scale() (VG_TIME_SCALE in the environment) before running them,
 * so a debug kernel gets the same tests with longer bounds rather than
 * different tests.
 */
#ifndef VHARNESS_H
#define VHARNESS_H

#include "vguest.h"
#include "kselftest_harness.h"

static inline void vg_scale_test_timeouts(void)
{
	unsigned int scale = vg_time_scale();
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= (int)scale;
}

/* The harness's own constructor-order bookkeeping, then our scaling. */
#define VG_HARNESS_MAIN \
	static void __attribute__((constructor)) \
	__constructor_order_last(void) \
	{ \
		if (!__constructor_order) \
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	} \
	int main(int argc, char **argv) \
	{ \
		vg_scale_test_timeouts(); \
		return test_harness_run(argc, argv); \
	}

#endif /* VHARNESS_H */
