/* Freestanding helpers: the core links without libc in the real build.
 * The formatter is fmt.c (hv_snprintf), shared with the bare-metal host;
 * memset/memcpy/memcmp are mem.c. */
#include <stdarg.h>
#include "core.h"

size_t hv_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void hv_log(enum hv_log_level lvl, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	if (!hv.ops || (hv.ops->log_wanted && !hv.ops->log_wanted(hv.ctx, lvl)))
		return;
	va_start(ap, fmt);
	int n = hv_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hv.ops->log(hv.ctx, lvl, buf,
			    (u32)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
}

void hv_panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	hv_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hv.ops->panic(hv.ctx, buf);
}
