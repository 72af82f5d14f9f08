/* The replay engine: runs a trace through the hosted hypervisor and checks
 * every recorded output against what the handlers do now. Shared by
 * uxen-replay, the tests and the fuzz targets. */
#ifndef REPLAY_ENGINE_H
#define REPLAY_ENGINE_H

#include <stdio.h>
#include "hv/exits.h"
#include "uxt.h"

enum replay_status {
	REPLAY_IDENTICAL = 0, /* every recorded output reproduced */
	REPLAY_DIVERGED = 1,  /* an output differs */
	REPLAY_BAD_TRACE = 2, /* unusable trace (message names the offset) */
	REPLAY_HV_FAILED = 3, /* an assertion or invariant of the core broke */
};

#define REPLAY_DEFAULT_FRAMES (1u << 18) /* 1 GiB of simulated machine memory */
/* The most it simulates, 512 GiB: the core's frame table for it takes
 * 2 GiB of this process's memory, a header's size costing a trace's
 * reader that much; from 2^28 the table no longer fits the host's largest
 * allocation and the core could not start. */
#define REPLAY_MAX_FRAMES (1ull << 27)

struct replay_opts {
	bool keep_going;   /* count every divergence instead of stopping */
	bool no_check;     /* run only; ignore recorded outputs */
	bool lenient;      /* fuzzing: skip what cannot be interpreted */
	bool skip_stalled; /* an exit on a vCPU that does not exist or cannot
			    * run now is skipped (counted, and marked in
			    * skipped[] if given), not an unusable trace: the
			    * trace without those events runs the same */
	u8 *skipped;       /* skip_stalled: skipped[i] = 1 for event i skipped */
	u64 skipped_len;   /* ... entries of skipped[] */
	bool parse_only;   /* read and validate, run nothing (benchmarks) */
	bool progress;     /* progress on stderr */
	u64 check_every;   /* invariant check every N events; 0: at the end only */
	u64 check_from;    /* ... counting from event N on (fuzzers: after their
			    * fixed set-up); 0: from the first */
	u64 mem_frames;    /* 0: from the trace header, else the default */
	u64 max_events;    /* 0: no limit (fuzzers cap the work per input) */
	u64 fail_alloc;    /* fault injection: fail the Nth frame allocation */
	bool reuse_core;   /* fuzzers: keep one host + hypervisor across calls;
			    * each call starts from the state a fresh core
			    * would have (see engine.c), so results match */
	u64 prefix_events; /* reuse_core: the first N events are a set-up that
			    * every call repeats byte for byte: the kept core
			    * keeps its result (a template domain) and later
			    * calls start after it, from the same state (see
			    * kept.c); 0: no such set-up */
	u64 base_events;   /* with prefix_events: the set-up's events after the
			    * first N only fork and start domains (a fuzz
			    * target's per-input fork). When a call leaves such
			    * a fork beyond what a reset undoes, the kept core
			    * destroys it and runs only those events again,
			    * not the whole set-up; 0: none */
	bool digest;       /* hash every output the core produces (exits'
			    * records, host calls' status) into
			    * replay_result.digest: two runs that agree on it
			    * behaved the same (the fuzzers' determinism check) */
	bool untimed;      /* no clock: replay_stats.seconds stays 0 (fuzzers:
			    * two clock reads per input, for nothing) */
	FILE *log;         /* divergence reports; NULL: stderr */
	const char *name;  /* trace name for messages */
};

struct replay_stats {
	u64 events, exits, hostcalls, marks;
	u64 skipped; /* exits skipped (skip_stalled) */
	u64 by_reason[EXIT_REASON_MAX + 1]; /* [EXIT_REASON_MAX]: out of range */
	u64 by_fate[UXT_FATE_MAX];
	u64 divergences;
	double seconds;
};

struct replay_result {
	int status; /* enum replay_status */
	struct replay_stats st;
	char msg[512]; /* why, when status != 0 */
	u64 digest;    /* replay_opts.digest */
};

int replay_buffer(const u8 *buf, size_t len, const struct replay_opts *o,
		  struct replay_result *res);

/* reuse_core: how often a call resumed after the kept set-up, how often
 * only the set-up's forks were made again (base_events), how often the
 * whole set-up had to run again (a call changed what it made), how often
 * the core was stopped and started again (a call left state behind). */
struct replay_kept_stats {
	u64 resumed, tail_redone, redone, restarted;
};
void replay_kept_stats(struct replay_kept_stats *out);

#endif
