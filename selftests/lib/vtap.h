/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP output for the stand-alone programs that run in the test VM without
 * the kselftest harness (demo, bench): numbered cases, diagnostics as "#"
 * lines, the plan printed last.  Header-only: each program is one file.
 */
#ifndef VTAP_H
#define VTAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static unsigned int vtap_cases, vtap_failed;

/* printf to stdout, flushed: the VM runner forwards it line by line */
static void vtap_out(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void vtap_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* One case; @why (may be NULL or empty) explains a failure. */
static inline bool vtap_case(bool ok, const char *name, const char *why)
{
	vtap_cases++;
	if (!ok)
		vtap_failed++;
	vtap_out("%sok %u %s%s%s\n", ok ? "" : "not ", vtap_cases, name,
		 !ok && why && *why ? " # " : "", !ok && why ? why : "");
	return ok;
}

#endif /* VTAP_H */
