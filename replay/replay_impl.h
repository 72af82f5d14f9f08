/* Inside the replay engine: one replay's state, shared by engine.c (running
 * events) and kept.c (the core kept alive across calls by fuzzers). */
#ifndef REPLAY_IMPL_H
#define REPLAY_IMPL_H

#include <setjmp.h>
#include "engine.h"
#include "uxt_io.h"
#include "posix.h"

#define OUT_CAP (256 * 1024)

struct replay {
	const struct replay_opts *o;
	struct replay_result *res;
	struct posix_host host;
	struct uxt_reader rd;
	struct uxt_event ev;
	jmp_buf panic;
	bool checked;    /* the checker passed at generation checked_gen */
	bool checked_full; /* ... the full one (free frames swept too) */
	bool checked_here; /* a check ran and passed in this call (a resumed
			    * kept core is taken as checked without one) */
	u64 checked_gen;
	u8 out[OUT_CAP];
};

void replay_fail(struct replay *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Run n events of a set-up again from reader `from` (kept.c), then the
 * invariant checker; r->rd is left after them. 0, or -1 if they did not
 * all run cleanly. */
int replay_setup_again(struct replay *r, const struct uxt_reader *from, u64 n);

/* kept.c: reuse_core. */

/* At the start of a call, with r->rd open on its trace. Returns 1 when the
 * kept core resumes after the trace's set-up (r->rd and r->res->st are
 * positioned after it), 0 when it is at its just-started state, -1 when
 * there is no usable kept core (start one: kept_started() after). */
int kept_start(struct replay *r, u64 frames);
/* A core was just started with r->host for this call. */
void kept_started(struct replay *r, u64 frames);
/* The call has run its set-up (prefix_events events) without failing. */
void kept_after_prefix(struct replay *r);
/* The call ended without a core failure: bring the kept core back (see
 * kept.c). Sets a failure in r->res if the core leaked. */
void kept_stop(struct replay *r);
/* The core was abandoned (a failure) or is about to be stopped. */
void kept_forget(void);
/* Stop the kept core, if any, before starting a fresh one. */
void kept_discard(struct replay *r);
bool kept_alive(void);

#endif
