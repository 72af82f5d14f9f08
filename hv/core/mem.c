/* hv_memset, hv_memcpy, hv_memcmp: the core links without libc. The fuzz
 * builds link fuzz/mem_libc.c instead (mk/fuzz.mk), so that ASan checks a
 * call's whole range at once rather than word by word. */
#include "core.h"

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
