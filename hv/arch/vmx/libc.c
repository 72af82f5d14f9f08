/* The few libc symbols the compiler may call on its own (struct copies,
 * large zeroing) in a freestanding image. */
#include "core.h"

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *d, const void *s, size_t n) { return hv_memcpy(d, s, n); }
void *memset(void *d, int c, size_t n) { return hv_memset(d, c, n); }
int memcmp(const void *a, const void *b, size_t n) { return hv_memcmp(a, b, n); }

void *memmove(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	if (p <= q)
		return hv_memcpy(d, s, n);
	while (n--)
		p[n] = q[n];
	return d;
}
