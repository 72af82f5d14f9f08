/* The POSIX host platform: the hypervisor's host interface implemented in a
 * userspace process. "Machine memory" is one anonymous mapping; frames are
 * handed out by a bitmap allocator that can be told to fail the Nth
 * allocation (fault injection). A panic longjmps back to the tool. */
#ifndef HV_POSIX_H
#define HV_POSIX_H

#include <setjmp.h>
#include <stdio.h>
#include "hv/host.h"

#define POSIX_FIRST_MFN 0x100000ull /* machine addresses start at 4 GiB */

struct posix_host {
	unsigned char *pool;
	void *map_base;    /* the mapping behind pool, for munmap */
	size_t map_bytes;
	u64 first_mfn, nr_frames;
	u64 *bitmap;
	u64 hint;
	u64 used;          /* frames handed out and not given back */
	u64 allocs;        /* alloc_frames() calls so far */
	u64 fail_at;       /* fail the Nth call (1-based); 0: never */
	u64 failures;
	jmp_buf *panic_jmp; /* where a panic returns to; abort() if NULL */
	char panic_msg[256];
	FILE *log;         /* NULL: discard */
	int log_level;     /* messages above this level are dropped */
	u64 clock_ns;      /* deterministic counter */
};

extern const struct hv_host_ops posix_host_ops;

int posix_host_init(struct posix_host *h, u64 nr_frames);
/* Does [p, p + n) lie in the frame pool of the host set up last (and not
 * yet finished)? For the fuzz builds' memory helpers (fuzz/mem_libc.c). */
bool posix_pool_holds(const void *p, size_t n);
void posix_host_fini(struct posix_host *h);
/* hv_start() with this host; returns 0 or -HV_E*. */
int posix_hv_start(struct posix_host *h);

#endif
