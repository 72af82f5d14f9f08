/* The core's memory helpers for the fuzz builds, in place of hv/core/mem.c:
 * libc's, so that ASan checks each call's whole range at once instead of
 * every word of every zeroed or copied frame (a fifth of the memory
 * target's time). Same contract as mem.c (hv_memcmp returns -1, 0, 1).
 *
 * Ranges that lie wholly in the host's frame pool go to libc's functions
 * themselves, not to ASan's wrappers of them: the pool is one anonymous
 * mapping, whose shadow ASan never poisons, so the wrapper's scan of the
 * range's shadow (an eighth of its bytes, for every frame zeroed, copied
 * or compared) can find nothing, and whether the range stays in the pool
 * is checked here instead, as is that a copy's ranges do not overlap.
 * Anything else (the core's globals, the stack, the heap) still goes
 * through ASan. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "hv/types.h"
#include "posix.h"

void *hv_memset(void *d, int c, size_t n);
void *hv_memcpy(void *d, const void *s, size_t n);
int hv_memcmp(const void *a, const void *b, size_t n);
/* For the files built without ASan (see unchecked_mem.h): */
void *fz_unchecked_memcpy(void *d, const void *s, size_t n);
void *fz_unchecked_memset(void *d, int c, size_t n);
int fz_unchecked_memcmp(const void *a, const void *b, size_t n);

/* libc's own functions: the next definitions after this program's (which,
 * in an ASan build, are ASan's wrappers). */
static struct {
	void *(*set)(void *, int, size_t);
	void *(*cpy)(void *, const void *, size_t);
	int (*cmp)(const void *, const void *, size_t);
} real;

static void find_real(void)
{
	real.set = (void *(*)(void *, int, size_t))dlsym(RTLD_NEXT, "memset");
	real.cpy = (void *(*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "memcpy");
	real.cmp = (int (*)(const void *, const void *, size_t))dlsym(RTLD_NEXT, "memcmp");
	if (!real.set || !real.cpy || !real.cmp)
		abort(); /* no libc behind this program: nothing can run */
}

/* The core may pass NULL with a length of 0 (mem.c allows it; libc's
 * contract does not). Ranges in the pool take libc's own functions (below). */
void *hv_memset(void *d, int c, size_t n)
{
	if (!n)
		return d;
	return posix_pool_holds(d, n) ? fz_unchecked_memset(d, c, n) : memset(d, c, n);
}

void *hv_memcpy(void *d, const void *s, size_t n)
{
	if (!n)
		return d;
	/* Overlapping ranges go to ASan, which reports them. */
	const u8 *dp = d, *sp = s;
	bool apart = dp + n <= sp || sp + n <= dp;
	if (apart && posix_pool_holds(d, n) && posix_pool_holds(s, n))
		return fz_unchecked_memcpy(d, s, n);
	return memcpy(d, s, n);
}

int hv_memcmp(const void *a, const void *b, size_t n)
{
	if (!n)
		return 0;
	if (posix_pool_holds(a, n) && posix_pool_holds(b, n))
		return fz_unchecked_memcmp(a, b, n);
	int r = memcmp(a, b, n);
	return r < 0 ? -1 : r > 0;
}

/* libc's own functions, for the harness and the checker (unchecked_mem.h):
 * the same contract as the hv_ ones (a length of 0 with NULL is allowed,
 * memcmp answers -1, 0 or 1), without ASan's look at the ranges. */
void *fz_unchecked_memcpy(void *d, const void *s, size_t n)
{
	if (!n)
		return d;
	if (!real.cpy)
		find_real();
	return real.cpy(d, s, n);
}

void *fz_unchecked_memset(void *d, int c, size_t n)
{
	if (!n)
		return d;
	if (!real.set)
		find_real();
	return real.set(d, c, n);
}

int fz_unchecked_memcmp(const void *a, const void *b, size_t n)
{
	if (!n)
		return 0;
	if (!real.cmp)
		find_real();
	int r = real.cmp(a, b, n);
	return r < 0 ? -1 : r > 0;
}
