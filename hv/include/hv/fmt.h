/* The printf-style formatter (hv/core/fmt.c): freestanding, no state; the
 * core and the bare-metal host OS both use it. Conversions: %s %c %d %u %x
 * %p %%, with l or ll, a field width and a 0 flag (numbers are right-
 * aligned, strings left-aligned); no floats. Returns the length the whole
 * output would have; buf gets as much as fits, NUL-terminated (len > 0). */
#ifndef HV_FMT_H
#define HV_FMT_H

#include <stdarg.h>
#include "hv/types.h"

int hv_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int hv_snprintf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
