/* Force-included (-include, mk/fuzz.mk) into the files that the libFuzzer
 * and AFL++ builds compile without ASan: the harness around the core (the
 * replay engine, the kept core, the trace reader and writer, the POSIX
 * host, fuzz.c) and the invariant checker with the domain image.
 *
 * Without ASan's instrumentation, their calls to memcpy, memset and memcmp
 * still reached ASan's interceptors, which check the shadow of both ranges
 * on every call: a fifth of the time of a 16-exit input of the exits
 * target, mostly copies of a few bytes (an item into the trace being
 * written) and the kept core's image compared piece by piece. Those ranges
 * are the harness's own buffers, which it bounds itself; the core's memory
 * helpers (mem_libc.c), which the code under test calls, keep ASan's
 * checks. So these calls go to libc's functions (found by mem_libc.c), and
 * a small size known when compiling stays the compiler's inline copy.
 * The calls the compiler makes itself (struct copies and initializers)
 * get the same treatment after compiling: mk/fuzz.mk renames memcpy,
 * memset and memcmp in these objects to the functions below.
 * The reproducer build (repro) keeps ASan everywhere, harness included. */
#ifndef FUZZ_UNCHECKED_MEM_H
#define FUZZ_UNCHECKED_MEM_H

#include <string.h>

void *fz_unchecked_memcpy(void *d, const void *s, size_t n);
void *fz_unchecked_memset(void *d, int c, size_t n);
int fz_unchecked_memcmp(const void *a, const void *b, size_t n);

#define FZ_INLINE_SIZE(n) (__builtin_constant_p(n) && (n) <= 64)
#define memcpy(d, s, n) \
	(FZ_INLINE_SIZE(n) ? __builtin_memcpy(d, s, n) : fz_unchecked_memcpy(d, s, n))
#define memset(d, c, n) \
	(FZ_INLINE_SIZE(n) ? __builtin_memset(d, c, n) : fz_unchecked_memset(d, c, n))
#define memcmp(a, b, n) \
	(FZ_INLINE_SIZE(n) ? __builtin_memcmp(a, b, n) : fz_unchecked_memcmp(a, b, n))
/* The checker's and the image's use of the core's helpers (hv/core/core.h
 * declares them after this: the declarations name these functions). */
#define hv_memcpy(d, s, n) fz_unchecked_memcpy(d, s, n)
#define hv_memset(d, c, n) fz_unchecked_memset(d, c, n)
#define hv_memcmp(a, b, n) fz_unchecked_memcmp(a, b, n)

#endif
