/* Freestanding helpers: the core links without libc in the real build.
 * The formatter is fmt.c (hv_snprintf), shared with the bare-metal host. */
#include <stdarg.h>
#include "core.h"

#if __STDC_HOSTED__
/* Built hosted (the fuzz builds, mk/fuzz.mk): libc's, so that ASan checks
 * each call's whole range at once instead of word by word (a fifth of the
 * memory target's time went into zeroing frames). The core proper is
 * freestanding and uses the loops below. */
#include <string.h>

void *hv_memset(void *d, int c, size_t n) { return memset(d, c, n); }
void *hv_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
int hv_memcmp(const void *a, const void *b, size_t n)
{
	int r = memcmp(a, b, n);
	return r < 0 ? -1 : r > 0;
}

#else

/* Word at a time where both sides are 8-byte aligned (frames always are):
 * page tables, copy-on-write copies and scrubbing go through these. The
 * may_alias type keeps the word accesses legal for any object. */
typedef u64 __attribute__((may_alias)) word_t;

static bool aligned8(const void *a, const void *b)
{
	return (((uintptr_t)a | (uintptr_t)b) & 7) == 0;
}

void *hv_memset(void *d, int c, size_t n)
{
	u8 *p = d;
	if (aligned8(p, p)) {
		word_t w = 0x0101010101010101ull * (u8)c;
		for (; n >= 8; n -= 8, p += 8)
			*(word_t *)p = w;
	}
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *hv_memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	if (aligned8(p, q))
		for (; n >= 8; n -= 8, p += 8, q += 8)
			*(word_t *)p = *(const word_t *)q;
	while (n--)
		*p++ = *q++;
	return d;
}

int hv_memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	if (aligned8(p, q))
		for (; n >= 8 && *(const word_t *)p == *(const word_t *)q;
		     n -= 8, p += 8, q += 8)
			;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

#endif

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
	va_start(ap, fmt);
	int n = hv_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (hv.ops)
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
