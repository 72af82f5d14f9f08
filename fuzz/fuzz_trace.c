/* Fuzz target "trace": the trace reader itself (traces/uxt_reader.c) and
 * the listing code (uxt_dump.c). Any byte string must give a clean error,
 * never a crash (ASan, UBSan). Two more oracles:
 *  - strict implies lenient: what the strict reader accepts, the lenient
 *    one accepts identically (same events, nothing skipped);
 *  - the writer agrees with the reader: every event the strict reader
 *    accepts is written back by uxt_write_event() (which applies the
 *    reader's rules) to exactly the same bytes.
 * A finding here is its own reproducer: build/fuzz/repro/trace FILE. A
 * crash of the reader is also one of uxen-replay (an ASan build) on FILE;
 * a disagreement between reader and writer is only the target's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

bool fz_writes_traces(void) { return false; } /* -o has no trace to write */

static void finding(const char *what, u64 off)
{
	fprintf(stderr, "fuzz trace: %s (event at offset %llu)\n", what,
		(unsigned long long)off);
	if (!fz_no_abort())
		abort();
}

static u8 out[1u << 21];

/* Walk every event and item of a reader; returns events, -1 on error. */
static long long walk(struct uxt_reader *rd, FILE *sink)
{
	struct uxt_event ev;
	struct uxt_item_iter it;
	struct uxt_item item;
	long long n = 0;
	int rc;
	while ((rc = uxt_next(rd, &ev)) > 0) {
		n++;
		if (sink)
			uxt_dump_event(sink, &ev, ev.index);
		if (ev.kind == UXT_EV_MARK)
			continue;
		uxt_items_begin(&it, &ev);
		while (uxt_items_next(&it, &item) > 0)
			;
	}
	return rc < 0 ? -1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	struct uxt_reader strict, lenient;
	int so = uxt_open(&strict, data, size, false);
	int lo = uxt_open(&lenient, data, size, true);
	if (so == 0 && lo != 0)
		finding("strict reader accepts a header the lenient one rejects", 0);
	if (lo == 0) {
		uxt_dump_header(sink, &lenient.hdr);
		walk(&lenient, sink);
	}
	if (so != 0)
		return 0;

	/* Strict: validate, then check every accepted event against the
	 * lenient reader and the writer. */
	struct uxt_reader v = strict;
	long long total = uxt_validate(&v);
	struct uxt_writer w;
	struct uxt_event ev, lev;
	uxt_open(&lenient, data, size, true);
	uxt_writer_mem(&w, out, sizeof(out), strict.hdr.flags, strict.hdr.mem_frames);
	long long n = 0;
	while (uxt_next(&strict, &ev) > 0) {
		struct uxt_item_iter it;
		struct uxt_item item;
		int rc;
		uxt_items_begin(&it, &ev);
		while ((rc = uxt_items_next(&it, &item)) > 0)
			;
		if (rc < 0)
			break; /* the strict reader rejects this event's items */
		n++;
		if (uxt_next(&lenient, &lev) <= 0 || lev.offset != ev.offset ||
		    lev.body_len != ev.body_len)
			finding("lenient reader disagrees on an event the strict one accepts",
				ev.offset);
		u64 at = w.len;
		u32 plen = (u32)(ev.items - ev.body);
		if (ev.kind == UXT_EV_MARK)
			plen = ev.body_len;
		if (uxt_write_event(&w, ev.kind, ev.flags, ev.arg, ev.body, plen,
				    ev.kind == UXT_EV_MARK ? NULL : ev.items,
				    ev.kind == UXT_EV_MARK ? 0 : ev.items_len))
			finding("writer rejects an event the strict reader accepts", ev.offset);
		if (memcmp(out + at, data + ev.offset, w.len - at))
			finding("writer writes an accepted event differently", ev.offset);
	}
	if (total >= 0 && n != total)
		finding("uxt_validate and a walk disagree on the number of events", 0);
	return 0;
}
