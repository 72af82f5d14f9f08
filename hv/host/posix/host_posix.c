/* The POSIX host platform (see posix.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "posix.h"
#include "hv/hv.h"

#define LARGE (1ull << 9)

/* The pool of the host set up last, while it is mapped: what
 * posix_pool_holds() answers from. */
static const unsigned char *pool_lo, *pool_hi;

bool posix_pool_holds(const void *p, size_t n)
{
	const unsigned char *c = p;
	return pool_lo && c >= pool_lo && c < pool_hi && n <= (size_t)(pool_hi - c);
}

int posix_host_init(struct posix_host *h, u64 nr_frames)
{
	memset(h, 0, sizeof(*h));
	if (nr_frames < LARGE || nr_frames > (1ull << 32))
		return -1;
	nr_frames = (nr_frames + LARGE - 1) & ~(LARGE - 1);
	/* Over-allocate by 2 MiB so the pool can start 2 MiB aligned. Untouched
	 * frames cost nothing: the mapping is lazily backed. */
	size_t bytes = (nr_frames + LARGE) * PAGE_SIZE;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	uintptr_t a = ((uintptr_t)p + LARGE * PAGE_SIZE - 1) &
		      ~(uintptr_t)(LARGE * PAGE_SIZE - 1);
	h->bitmap = calloc(nr_frames / 64, sizeof(u64));
	if (!h->bitmap) {
		munmap(p, bytes);
		return -1;
	}
	h->map_base = p;
	h->map_bytes = bytes;
	h->pool = (unsigned char *)a;
	h->first_mfn = POSIX_FIRST_MFN;
	h->nr_frames = nr_frames;
	h->log_level = HV_LOG_WARN;
	pool_lo = h->pool;
	pool_hi = h->pool + nr_frames * PAGE_SIZE;
	return 0;
}

void posix_host_fini(struct posix_host *h)
{
	if (h->pool && h->pool == pool_lo)
		pool_lo = pool_hi = NULL;
	if (h->map_base)
		munmap(h->map_base, h->map_bytes);
	free(h->bitmap);
	memset(h, 0, sizeof(*h));
}

int posix_hv_start(struct posix_host *h)
{
	return hv_start(&posix_host_ops, h, h->first_mfn, h->nr_frames);
}

static bool range_free(const struct posix_host *h, u64 i, u64 n)
{
	if (n >= 64) { /* whole words: i is 64-aligned */
		for (u64 w = i / 64; w < (i + n) / 64; w++)
			if (h->bitmap[w])
				return false;
		return true;
	}
	u64 mask = ((1ull << n) - 1) << (i % 64);
	return !(h->bitmap[i / 64] & mask);
}

static void range_set(struct posix_host *h, u64 i, u64 n)
{
	for (u64 k = i; k < i + n; k++)
		h->bitmap[k / 64] |= 1ull << (k % 64);
}

static u64 px_alloc_frames(void *ctx, unsigned order)
{
	struct posix_host *h = ctx;
	h->allocs++;
	if (h->fail_at && h->allocs == h->fail_at) {
		h->failures++;
		return INVALID_MFN;
	}
	if (order > 20)
		return INVALID_MFN;
	u64 n = 1ull << order;
	/* Single frames: first-fit from a moving hint, a word at a time. */
	if (n == 1) {
		u64 words = h->nr_frames / 64, w = h->hint / 64;
		for (u64 k = 0; k < words; k++, w++) {
			if (w >= words)
				w = 0; /* wrap around (not %: a division per allocation) */
			if (h->bitmap[w] != ~0ull) {
				u64 i = w * 64 + (u64)__builtin_ctzll(~h->bitmap[w]);
				h->bitmap[w] |= 1ull << (i % 64);
				h->hint = i;
				h->used++;
				return h->first_mfn + i;
			}
		}
		return INVALID_MFN;
	}
	/* Blocks: naturally aligned first fit from the top, so that single
	 * frames (from the bottom) fragment the large blocks last. */
	for (u64 i = (h->nr_frames - n) & ~(n - 1);; i -= n) {
		if (range_free(h, i, n)) {
			range_set(h, i, n);
			h->used += n;
			return h->first_mfn + i;
		}
		if (i < n)
			break;
	}
	return INVALID_MFN;
}

static void px_free_frame(void *ctx, u64 mfn)
{
	struct posix_host *h = ctx;
	u64 i = mfn - h->first_mfn;
	if (mfn < h->first_mfn || i >= h->nr_frames ||
	    !(h->bitmap[i / 64] & (1ull << (i % 64)))) {
		fprintf(stderr, "posix host: hypervisor freed frame %llx it does not hold\n",
			(unsigned long long)mfn);
		abort();
	}
	h->bitmap[i / 64] &= ~(1ull << (i % 64));
	h->used--;
	/* Hand out recently freed (warm) frames first, as a host OS would;
	 * fresh ones cost a page fault in this process. */
	if (i < h->hint)
		h->hint = i;
}

static void *px_map_frame(void *ctx, u64 mfn)
{
	struct posix_host *h = ctx;
	return h->pool + (mfn - h->first_mfn) * PAGE_SIZE;
}

static void px_unmap_frame(void *ctx, void *va)
{
	(void)ctx;
	(void)va;
}

/* The pool is one mapping: frame mfn is at pool + (mfn - first_mfn) pages.
 * As an integer (the offset of frame 0 lies outside the pool). */
static bool px_direct_map(void *ctx, u64 *base)
{
	const struct posix_host *h = ctx;
	*base = (u64)(uintptr_t)h->pool - (h->first_mfn << PAGE_SHIFT);
	return true;
}

static bool px_log_wanted(void *ctx, enum hv_log_level lvl)
{
	const struct posix_host *h = ctx;
	return h->log && (int)lvl <= h->log_level;
}

static void px_log(void *ctx, enum hv_log_level lvl, const char *msg, u32 len)
{
	struct posix_host *h = ctx;
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (!px_log_wanted(ctx, lvl))
		return;
	fprintf(h->log, "hv %s: %.*s\n", names[lvl], (int)len, msg);
}

/* Deterministic: the hosted build must replay identically. */
static u64 px_counter_ns(void *ctx)
{
	struct posix_host *h = ctx;
	return h->clock_ns += 1000;
}

static void px_kick_cpu(void *ctx, u32 cpu)
{
	(void)ctx;
	(void)cpu; /* one simulated CPU: nothing to kick */
}

static u32 px_this_cpu(void *ctx)
{
	(void)ctx;
	return 0;
}

static void px_notify(void *ctx, u16 domid, u16 vcpu, unsigned fate)
{
	(void)ctx;
	(void)domid;
	(void)vcpu;
	(void)fate; /* the tool driving the core polls the exit's fate */
}

__attribute__((noreturn)) static void px_panic(void *ctx, const char *msg)
{
	struct posix_host *h = ctx;
	snprintf(h->panic_msg, sizeof(h->panic_msg), "%s", msg);
	if (h->panic_jmp)
		longjmp(*h->panic_jmp, 1);
	fprintf(stderr, "hypervisor panic: %s\n", msg);
	abort();
}

const struct hv_host_ops posix_host_ops = {
	.alloc_frames = px_alloc_frames,
	.free_frame = px_free_frame,
	.map_frame = px_map_frame,
	.unmap_frame = px_unmap_frame,
	.log = px_log,
	.log_wanted = px_log_wanted,
	.direct_map = px_direct_map,
	.counter_ns = px_counter_ns,
	.kick_cpu = px_kick_cpu,
	.this_cpu = px_this_cpu,
	.notify = px_notify,
	.panic = px_panic,
};
