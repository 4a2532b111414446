// SPDX-License-Identifier: GPL-2.0
/* TAP output for the demo and the benchmark: see vtap.h. */
#include <stdarg.h>
#include <stdio.h>

#include "vtap.h"

unsigned int vtap_cases, vtap_failed;

void vtap_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

bool vtap_case(bool ok, const char *name, const char *why)
{
	vtap_cases++;
	if (!ok)
		vtap_failed++;
	vtap_out("%sok %u %s%s%s\n", ok ? "" : "not ", vtap_cases, name,
		 !ok && why && *why ? " # " : "", !ok && why ? why : "");
	return ok;
}
