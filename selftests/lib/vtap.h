/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP output for the stand-alone programs that run in the test VM without
 * the kselftest harness (demo, bench): numbered cases, diagnostics as "#"
 * lines, the plan printed last (vtap.c).
 */
#ifndef VTAP_H
#define VTAP_H

#include <stdbool.h>

/* Cases so far, and how many of them failed. */
extern unsigned int vtap_cases, vtap_failed;

/* printf to stdout, flushed: the VM runner forwards it line by line */
void vtap_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One case; @why (may be NULL or empty) explains a failure. */
bool vtap_case(bool ok, const char *name, const char *why);

#endif /* VTAP_H */
