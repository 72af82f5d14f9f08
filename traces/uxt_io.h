/* Reading, writing and printing µ-Xen traces (the format: FORMAT.md, the
 * constants: uxt.h). Hosted code, part of libuxen.a, free to use libc; the
 * freestanding core never includes this header.
 *
 * Errors are reported as a return value of -1 plus a message in the
 * object's err[] that starts with "offset N: ", N being the absolute byte
 * offset in the trace file of the thing that is wrong. */
#ifndef UXT_IO_H
#define UXT_IO_H

#include <stdio.h>
#include "uxt.h"

#define UXT_ERR_LEN 192

/* ---- Reading ---------------------------------------------------------- */

struct uxt_header {
	u16 version, header_size;
	u32 flags;       /* UXT_HF_* */
	u64 event_count; /* 0: not known (written to a pipe) */
	u32 mem_frames;  /* 0: the replaying tool's default */
};

/* A reader over a trace that is wholly in memory (typically mmapped). It
 * never allocates or copies: events and items point into the buffer, which
 * must outlive them. Strict mode rejects anything FORMAT.md does not allow;
 * lenient mode (for fuzzers) skips events and items it cannot interpret
 * instead, but still fails on broken framing and never reads outside buf. */
struct uxt_reader {
	const u8 *buf;
	size_t len;
	size_t pos;       /* offset of the next event */
	u64 nr_events;    /* events read so far (returned or skipped) */
	u64 skipped;      /* lenient: events skipped as uninterpretable */
	struct uxt_header hdr;
	bool lenient;
	bool quiet;       /* no error messages (see uxt_open_quiet()) */
	int state;        /* 1 reading, 0 at the end, -1 failed: sticky */
	char err[UXT_ERR_LEN];
};

struct uxt_event {
	u64 index;       /* position in the file, 0-based (skipped ones count) */
	u64 offset;      /* file offset of the event header */
	u8 kind;         /* enum uxt_event_kind */
	u8 flags;        /* UXT_EF_* */
	u16 arg;         /* EXIT: basic exit reason; HOSTCALL: number; MARK: 0 */
	const u8 *body;  /* body_len bytes after the event header */
	u32 body_len;
	u16 domid, vcpu; /* EXIT only */
	u8 nargs;        /* HOSTCALL only; args[nargs..] are zero */
	u64 args[UXT_MAX_HOSTCALL_ARGS];
	const u8 *items; /* the item region: the body after the kind's prefix */
	u32 items_len;   /* (MARK has none: its whole body is the text) */
	u64 items_offset;
	bool lenient;    /* inherited by item iterators */
	bool quiet;      /* (so is this) */
};

struct uxt_item {
	u8 tag, aux;
	u16 len;         /* of the payload */
	const u8 *data;  /* payload */
	const u8 *raw;   /* the item as stored, header first: 4 + len bytes */
	u64 offset;      /* file offset of the item header */
};

struct uxt_item_iter {
	const u8 *p, *end;
	u64 offset;      /* file offset of p */
	bool lenient;
	bool quiet;      /* no error messages */
	bool outputs;    /* an output item was seen: no more inputs allowed */
	u32 skipped;     /* lenient: items skipped as uninterpretable */
	char err[UXT_ERR_LEN];
};

/* Check the file header of buf[0..len). Returns 0 or -1 (message in
 * r->err). lenient also ignores unknown header flags, the reserved field
 * and event_count. */
int uxt_open(struct uxt_reader *r, const u8 *buf, size_t len, bool lenient);
/* uxt_open() for a caller that never reads why an input ends (the fuzz
 * targets, whose inputs are mostly not traces, or end in a broken event):
 * failures leave r->err (and its item iterators' err) empty, the header's
 * too, since formatting them is wasted. */
int uxt_open_quiet(struct uxt_reader *r, const u8 *buf, size_t len, bool lenient);
/* The next event: 1 and *ev filled, 0 at a clean end, -1 on error. Only
 * the framing and the kind's prefix are checked here; items are checked as
 * uxt_items_next() walks them (one pass, no copies). */
int uxt_next(struct uxt_reader *r, struct uxt_event *ev);
/* Always inlined: the replay engine and the fuzz targets take every item
 * of every event through these, and in the builds with UBSan (the unit
 * tests, the reproducer, the trace target) its checks make them too big
 * for clang's inliner: a call per item, which the inline path spares. */
#define UXT_INLINE static inline __attribute__((always_inline))

/* Walk the items of ev, or of any item region (e.g. outputs recorded
 * during replay) that lies at file offset `offset`. */
UXT_INLINE void uxt_items_begin_buf(struct uxt_item_iter *it, const u8 *items, u32 len,
				    u64 offset, bool lenient)
{
	it->p = items;
	it->end = len ? items + len : items; /* no offset on a NULL region */
	it->offset = offset;
	it->lenient = lenient;
	it->quiet = false;
	it->outputs = false;
	it->skipped = 0;
	it->err[0] = 0;
}

UXT_INLINE void uxt_items_begin(struct uxt_item_iter *it, const struct uxt_event *ev)
{
	uxt_items_begin_buf(it, ev->items, ev->items_len, ev->items_offset, ev->lenient);
	it->quiet = ev->quiet;
}

/* What each item tag allows (uxt_reader.c), from the one table in uxt.h.
 * Ranges are (low, span), so that one unsigned compare tests both ends;
 * an unknown tag (all zero) fails every test. */
struct uxt_tag_rule {
	u16 min;      /* payload size: min .. min + span - 1 */
	u32 span;
	u8 aux_lo;    /* aux: aux_lo .. aux_lo + aux_span - 1, except aux_skip */
	u8 aux_span;
	u8 aux_skip;
	u8 known;
};
extern const struct uxt_tag_rule uxt_tag_rules[256];

/* The rules an item must meet: its payload size and aux for its tag, and
 * no input after an output (the reader's messages say which failed). */
UXT_INLINE bool uxt_item_size_ok(const struct uxt_tag_rule *t, u16 len)
{
	return (u32)(len - t->min) < t->span;
}

UXT_INLINE bool uxt_item_aux_ok(const struct uxt_tag_rule *t, u8 aux)
{
	return (u8)(aux - t->aux_lo) < t->aux_span && aux != t->aux_skip;
}

UXT_INLINE bool uxt_item_ok(const struct uxt_item_iter *it, u8 tag, u8 aux, u16 len)
{
	const struct uxt_tag_rule *t = &uxt_tag_rules[tag];
	bool order_ok = tag >= UXT_IT_OUTPUT || !it->outputs;
	return uxt_item_size_ok(t, len) && uxt_item_aux_ok(t, aux) && order_ok;
}

/* The item at it->p (its header read: tag, aux, len) into *item, and the
 * iterator past it. */
UXT_INLINE void uxt_item_take(struct uxt_item_iter *it, struct uxt_item *item, u8 tag,
			      u8 aux, u16 len)
{
	const u8 *p = it->p;
	*item = (struct uxt_item){ .tag = tag, .aux = aux, .len = len,
				   .data = p + UXT_ITEM_HDR_SIZE, .raw = p,
				   .offset = it->offset };
	it->p = p + UXT_ITEM_HDR_SIZE + len;
	it->offset += UXT_ITEM_HDR_SIZE + len;
}

/* uxt_items_next() past its fast path: the end, a bad item (an error, or
 * skipped when lenient), and any item after a skipped one. */
int uxt_items_next_slow(struct uxt_item_iter *it, struct uxt_item *item);

/* The next item: 1 and *item filled, 0 at the end, -1 on error. Inline:
 * the replay engine and the fuzz targets take every item of every event
 * through it, and a well-formed one (almost all) then costs no call. */
UXT_INLINE int uxt_items_next(struct uxt_item_iter *it, struct uxt_item *item)
{
	const u8 *p = it->p;
	size_t left = (size_t)(it->end - p);
	if (left < UXT_ITEM_HDR_SIZE)
		return uxt_items_next_slow(it, item);
	u8 tag = p[0], aux = p[1];
	u16 len = uxt_get16(p + 2);
	if (len > left - UXT_ITEM_HDR_SIZE || !uxt_item_ok(it, tag, aux, len))
		return uxt_items_next_slow(it, item);
	uxt_item_take(it, item, tag, aux, len);
	it->outputs |= tag >= UXT_IT_OUTPUT;
	return 1;
}
/* Read and check every remaining event and item of r. Returns the number
 * of events read, or -1 (message in r->err). */
long long uxt_validate(struct uxt_reader *r);

/* Check the header fields ev->kind, flags and arg of the event at file
 * offset off, decode the kind's prefix from the start of its body p[0..len)
 * into ev, and return the prefix size, or -1 with a message in err. Shared
 * by the reader and the writer, so that both apply the same rules. */
long uxt_decode_prefix(struct uxt_event *ev, const u8 *p, u32 len, u64 off,
		       char err[UXT_ERR_LEN]);

/* Format "offset OFF: " and the message into err (unless err is NULL: no
 * message wanted); returns -1, so that error paths read
 * `return uxt_errf(...)`. */
int uxt_errf(char err[UXT_ERR_LEN], u64 off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Writing ---------------------------------------------------------- */

/* A writer to a FILE* or to a caller's memory buffer. Every event is
 * checked with the reader's rules before it is written, so a writer never
 * produces a trace the strict reader rejects (but see unchecked below).
 * Any failure (I/O error, full buffer, invalid event) is sticky: later
 * calls fail too, err[] keeps the first message, and uxt_writer_close()
 * returns -1. */
struct uxt_writer {
	FILE *f;          /* NULL: writing to mem */
	bool own_f;       /* opened by uxt_writer_create(): closed at close */
	bool seekable;    /* event_count can be patched at close */
	long start;       /* file position of the header */
	u8 *mem;
	size_t cap;
	u64 len;          /* bytes written, header included */
	u64 nr_events;
	bool failed;
	bool closed;      /* by uxt_writer_close(): failed, and why */
	/* Set by a caller whose trace the strict reader reads at once (the
	 * fuzz targets: the replay engine): events are not checked with the
	 * reader's rules here as well, only their sizes. An event the rules
	 * refuse then ends the replay where it stands, as a writer's refusal
	 * would have ended the trace there. The caller must pass prefixes and
	 * items as long as it says they are: nothing checks that a prefix is
	 * its kind's length before it is copied. */
	bool unchecked;
	char err[UXT_ERR_LEN];
};

/* Each writes the file header and returns 0, or -1 (message in w->err). */
int uxt_writer_file(struct uxt_writer *w, FILE *f, u32 hflags, u32 mem_frames);
int uxt_writer_create(struct uxt_writer *w, const char *path, u32 hflags,
		      u32 mem_frames); /* path "-": stdout */
int uxt_writer_mem(struct uxt_writer *w, u8 *buf, size_t cap, u32 hflags,
		   u32 mem_frames);
/* One event whose body is prefix followed by items. Returns 0 or -1. */
int uxt_write_event(struct uxt_writer *w, u8 kind, u8 flags, u16 arg,
		    const void *prefix, u32 prefix_len, const void *items,
		    u32 items_len);
int uxt_write_exit(struct uxt_writer *w, u8 flags, u16 reason, u16 domid,
		   u16 vcpu, const void *items, u32 items_len);
int uxt_write_hostcall(struct uxt_writer *w, u8 flags, u16 nr, u8 nargs,
		       const u64 *args, const void *items, u32 items_len);
int uxt_write_mark(struct uxt_writer *w, const char *text);
/* Patch event_count (when seekable), flush, and close the file if the
 * writer opened it. Returns 0, or -1 if anything failed since the open. A
 * caller that passed its own FILE* must still check its fclose(). */
int uxt_writer_close(struct uxt_writer *w);

/* ---- Printing --------------------------------------------------------- */

const char *uxt_kind_name(u32 kind);   /* "EXIT", or "?" */
const char *uxt_tag_name(u32 tag);     /* "VMCS_IN", or "?" */
const char *uxt_fate_name(u32 fate);   /* "CRASHED", or "?" */
const char *uxt_gpr_name(u32 gpr);     /* "rax", or "?" */
/* A human-readable listing of one event and its decoded items. Items are
 * checked as they are printed: a bad one ends the listing with an
 * "error: offset N: ..." line and makes the result -1 (else 0). */
int uxt_dump_event(FILE *out, const struct uxt_event *ev, u64 index);
void uxt_dump_header(FILE *out, const struct uxt_header *h);

#endif
