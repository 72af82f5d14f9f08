/* The trace reader (see uxt_io.h, FORMAT.md). It sits on the replay hot
 * path, so each event is checked in one pass over bytes that are already
 * in memory: a few comparisons per event and a table lookup per item. Any
 * length is checked against what is left before it is used, so no input,
 * however hostile, makes it read outside the buffer. */
#include <stdarg.h>
#include <string.h>
#include "uxt_io.h"

int uxt_errf(char err[UXT_ERR_LEN], u64 off, const char *fmt, ...)
{
	if (!err)
		return -1; /* nobody reads it (lenient skips): do not format */
	int n = snprintf(err, UXT_ERR_LEN, "offset %llu: ", (unsigned long long)off);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && n < UXT_ERR_LEN)
		vsnprintf(err + n, UXT_ERR_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Where a reader's or item iterator's message goes (NULL: none wanted). */
#define ERR(x) ((x)->quiet ? NULL : (x)->err)

/* ---- File header ------------------------------------------------------ */

/* Each event takes at least its header, so a count that cannot fit is
 * corruption, caught here rather than after a long read. */
static bool count_fits(u64 count, size_t len)
{
	return count <= (len - UXT_HEADER_SIZE) / UXT_EVENT_HDR_SIZE;
}

static int check_header(struct uxt_reader *r)
{
	const struct uxt_header *h = &r->hdr;
	u32 reserved = uxt_get32(r->buf + UXT_HDR_OFF_RESERVED);
	if (h->version != UXT_VERSION)
		return uxt_errf(ERR(r), UXT_HDR_OFF_VERSION,
				"unsupported trace version %u (this build reads %u)",
				h->version, UXT_VERSION);
	if (h->header_size != UXT_HEADER_SIZE)
		return uxt_errf(ERR(r), UXT_HDR_OFF_HEADER_SIZE,
				"header size %u, version %u headers are %u bytes",
				h->header_size, UXT_VERSION, UXT_HEADER_SIZE);
	if (r->lenient)
		return 0;
	if (h->flags & ~UXT_HF_ALL)
		return uxt_errf(ERR(r), UXT_HDR_OFF_FLAGS,
				"unknown header flags 0x%x", h->flags & ~UXT_HF_ALL);
	if (!count_fits(h->event_count, r->len))
		return uxt_errf(ERR(r), UXT_HDR_OFF_EVENT_COUNT,
				"event_count %llu cannot fit in the %zu bytes after the header",
				(unsigned long long)h->event_count,
				r->len - UXT_HEADER_SIZE);
	if (reserved)
		return uxt_errf(ERR(r), UXT_HDR_OFF_RESERVED,
				"reserved header field is 0x%x, must be 0", reserved);
	return 0;
}

static int open_reader(struct uxt_reader *r, const u8 *buf, size_t len, bool lenient,
		       bool quiet)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	r->lenient = lenient;
	r->quiet = quiet;
	r->pos = UXT_HEADER_SIZE;
	r->state = -1; /* until the header passed */
	/* The magic first: a file that is not a trace at all deserves that
	 * message rather than "truncated". */
	size_t m = len < UXT_MAGIC_LEN ? len : UXT_MAGIC_LEN;
	if (m && memcmp(buf, UXT_MAGIC, m))
		return uxt_errf(ERR(r), 0, "bad magic (not a uXen trace)");
	if (len < UXT_HEADER_SIZE)
		return uxt_errf(ERR(r), len, "truncated file header (%zu of %u bytes)",
				len, UXT_HEADER_SIZE);
	r->hdr.version = uxt_get16(buf + UXT_HDR_OFF_VERSION);
	r->hdr.header_size = uxt_get16(buf + UXT_HDR_OFF_HEADER_SIZE);
	r->hdr.flags = uxt_get32(buf + UXT_HDR_OFF_FLAGS);
	r->hdr.event_count = uxt_get64(buf + UXT_HDR_OFF_EVENT_COUNT);
	r->hdr.mem_frames = uxt_get32(buf + UXT_HDR_OFF_MEM_FRAMES);
	if (check_header(r))
		return -1;
	r->state = 1;
	return 0;
}

int uxt_open(struct uxt_reader *r, const u8 *buf, size_t len, bool lenient)
{
	return open_reader(r, buf, len, lenient, false);
}

/* Most fuzzed inputs are not traces: saying why each is not was 1% of the
 * exits target's time. */
int uxt_open_quiet(struct uxt_reader *r, const u8 *buf, size_t len, bool lenient)
{
	return open_reader(r, buf, len, lenient, true);
}

/* ---- Events ----------------------------------------------------------- */

/* Offset of the first byte of s[0..n) that is not well-formed UTF-8 (the
 * rules of Unicode 3.9: no overlong forms, no surrogates, <= U+10FFFF), or
 * n if there is none. */
static size_t utf8_bad(const u8 *s, size_t n)
{
	static const u32 min_cp[4] = { 0, 0x80, 0x800, 0x10000 };
	size_t i = 0;
	while (i < n) {
		u8 c = s[i];
		size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 :
			   (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
		if (k == 4 || k >= n - i)
			return i;
		u32 cp = k ? c & (0x3fu >> k) : c;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min_cp[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += k + 1;
	}
	return n;
}

static long exit_prefix(struct uxt_event *ev, const u8 *p, u32 len, u64 off,
			char err[UXT_ERR_LEN])
{
	if (len < UXT_EXIT_PREFIX)
		return uxt_errf(err, off, "EXIT body is %u bytes, shorter than its %u-byte prefix",
				len, UXT_EXIT_PREFIX);
	ev->domid = uxt_get16(p);
	ev->vcpu = uxt_get16(p + 2);
	return UXT_EXIT_PREFIX;
}

static long hostcall_prefix(struct uxt_event *ev, const u8 *p, u32 len, u64 off,
			    char err[UXT_ERR_LEN])
{
	if (len < UXT_HOSTCALL_PREFIX)
		return uxt_errf(err, off, "HOSTCALL body is %u bytes, shorter than its %u-byte prefix",
				len, UXT_HOSTCALL_PREFIX);
	if (p[0] > UXT_MAX_HOSTCALL_ARGS)
		return uxt_errf(err, off, "HOSTCALL nargs %u exceeds %u",
				p[0], UXT_MAX_HOSTCALL_ARGS);
	for (unsigned i = 1; i < UXT_HOSTCALL_PREFIX; i++)
		if (p[i])
			return uxt_errf(err, off + i, "HOSTCALL padding byte is 0x%02x, must be 0",
					p[i]);
	u32 need = UXT_HOSTCALL_PREFIX + 8u * p[0];
	if (len < need)
		return uxt_errf(err, off, "HOSTCALL body is %u bytes, too short for %u args",
				len, p[0]);
	ev->nargs = p[0];
	for (unsigned i = 0; i < ev->nargs; i++)
		ev->args[i] = uxt_get64(p + UXT_HOSTCALL_PREFIX + 8 * i);
	return need;
}

static long mark_prefix(const u8 *p, u32 len, u64 off, char err[UXT_ERR_LEN])
{
	size_t bad = utf8_bad(p, len);
	if (bad < len)
		return uxt_errf(err, off + bad, "MARK text is not valid UTF-8");
	return len;
}

/* The event header's kind, flags and arg, before the body is looked at. */
static int check_event_header(const struct uxt_event *ev, u64 off,
			      char err[UXT_ERR_LEN])
{
	if (ev->kind == 0 || ev->kind >= UXT_EV_MAX)
		return uxt_errf(err, off, "unknown event kind %u", ev->kind);
	if (ev->flags & ~UXT_EF_ALL)
		return uxt_errf(err, off + 1, "unknown event flags 0x%x",
				ev->flags & ~UXT_EF_ALL);
	if (ev->kind == UXT_EV_MARK && (ev->flags || ev->arg))
		return uxt_errf(err, off + 1, "MARK event with flags 0x%x and arg %u, both must be 0",
				ev->flags, ev->arg);
	return 0;
}

long uxt_decode_prefix(struct uxt_event *ev, const u8 *p, u32 len, u64 off,
		       char err[UXT_ERR_LEN])
{
	u64 body_off = off + UXT_EVENT_HDR_SIZE;
	ev->domid = ev->vcpu = 0;
	ev->nargs = 0;
	memset(ev->args, 0, sizeof(ev->args));
	if (check_event_header(ev, off, err))
		return -1;
	switch (ev->kind) {
	case UXT_EV_EXIT:
		return exit_prefix(ev, p, len, body_off, err);
	case UXT_EV_HOSTCALL:
		return hostcall_prefix(ev, p, len, body_off, err);
	default:
		return mark_prefix(p, len, body_off, err);
	}
}

static int read_fail(struct uxt_reader *r)
{
	r->state = -1;
	return -1;
}

/* At the end of the file, or where the header says the events end. */
static int check_end(struct uxt_reader *r)
{
	u64 want = r->hdr.event_count;
	size_t left = r->len - r->pos;
	if (r->lenient || !want)
		return left ? 1 : 0;
	if (r->nr_events < want)
		return left ? 1 : uxt_errf(ERR(r), r->pos,
				"file ends after %llu events, header event_count says %llu",
				(unsigned long long)r->nr_events, (unsigned long long)want);
	if (left)
		return uxt_errf(ERR(r), r->pos,
				"%zu bytes of trailing garbage after the last of %llu events",
				left, (unsigned long long)want);
	return 0;
}

/* The event header at r->pos and the extent of its body. */
static int read_frame(struct uxt_reader *r, struct uxt_event *ev)
{
	size_t left = r->len - r->pos;
	const u8 *p = r->buf + r->pos;
	if (left < UXT_EVENT_HDR_SIZE)
		return uxt_errf(ERR(r), r->pos, "truncated event header (%zu of %u bytes)",
				left, UXT_EVENT_HDR_SIZE);
	u32 blen = uxt_get32(p + 4);
	if (blen > UXT_MAX_EVENT_BODY)
		return uxt_errf(ERR(r), r->pos, "event body length %u exceeds limit %u",
				blen, UXT_MAX_EVENT_BODY);
	if (blen > left - UXT_EVENT_HDR_SIZE)
		return uxt_errf(ERR(r), r->pos,
				"truncated event body (%u bytes, %zu left in the file)",
				blen, left - UXT_EVENT_HDR_SIZE);
	ev->index = r->nr_events++;
	ev->offset = r->pos;
	ev->kind = p[0];
	ev->flags = p[1];
	ev->arg = uxt_get16(p + 2);
	ev->body = p + UXT_EVENT_HDR_SIZE;
	ev->body_len = blen;
	ev->lenient = r->lenient;
	ev->quiet = r->quiet;
	r->pos += UXT_EVENT_HDR_SIZE + blen;
	return 0;
}

int uxt_next(struct uxt_reader *r, struct uxt_event *ev)
{
	while (r->state == 1) {
		int more = check_end(r);
		if (more <= 0) {
			r->state = more;
			return more;
		}
		if (read_frame(r, ev))
			return read_fail(r);
		long n = uxt_decode_prefix(ev, ev->body, ev->body_len, ev->offset,
					   r->lenient || r->quiet ? NULL : r->err);
		if (n >= 0) {
			ev->items = ev->body + n;
			ev->items_len = ev->body_len - (u32)n;
			ev->items_offset = ev->offset + UXT_EVENT_HDR_SIZE + (u64)n;
			return 1;
		}
		if (!r->lenient)
			return read_fail(r);
		r->skipped++; /* lenient: the frame is sound, skip just this event */
	}
	return r->state;
}

/* ---- Items ------------------------------------------------------------ */

/* Which aux values a tag allows: a GPR index (but not RSP, which lives in
 * the VMCS), a fate other than RESUME (which is never recorded), else 0. */
#define IS_REG(tag) ((tag) == UXT_IT_REG_IN || (tag) == UXT_IT_REG_OUT)
#define AUX_LO(tag) ((tag) == UXT_IT_FATE_OUT ? UXT_FATE_RESUME + 1 : 0)
#define AUX_HI(tag) (IS_REG(tag) ? UXT_NR_GPRS - 1 :                           \
		     (tag) == UXT_IT_FATE_OUT ? UXT_FATE_MAX - 1 : 0)
#define AUX_SKIP(tag) (IS_REG(tag) ? UXT_GPR_RSP : 0xff)

const struct uxt_tag_rule uxt_tag_rules[256] = {
#define X(name, tag, size, mn) [tag] = {                                       \
	.min = mn, .span = (size) < 0 ? 0x10000u - (mn) : 1,                   \
	.aux_lo = AUX_LO(tag), .aux_span = AUX_HI(tag) - AUX_LO(tag) + 1,      \
	.aux_skip = AUX_SKIP(tag), .known = 1 },
	UXT_ITEM_TAGS(X)
#undef X
};

/* The same rules as uxt_item_ok(), one at a time, to say which one failed. */
static int item_error(struct uxt_item_iter *it, const struct uxt_item *x)
{
	const struct uxt_tag_rule *t = &uxt_tag_rules[x->tag];
	if (!t->known)
		return uxt_errf(ERR(it), x->offset, "unknown item tag 0x%02x", x->tag);
	if (!uxt_item_size_ok(t, x->len) && t->span == 1)
		return uxt_errf(ERR(it), x->offset,
				"item tag 0x%02x has a %u-byte payload, must be %u",
				x->tag, x->len, t->min);
	if (!uxt_item_size_ok(t, x->len))
		return uxt_errf(ERR(it), x->offset,
				"item tag 0x%02x has a %u-byte payload, needs at least %u",
				x->tag, x->len, t->min);
	if (x->tag < UXT_IT_OUTPUT && it->outputs)
		return uxt_errf(ERR(it), x->offset,
				"input item tag 0x%02x after an output item", x->tag);
	if (IS_REG(x->tag))
		return uxt_errf(ERR(it), x->offset + 1,
				"%s register index %u is not a GPR other than RSP",
				x->tag == UXT_IT_REG_IN ? "REG_IN" : "REG_OUT", x->aux);
	if (x->tag == UXT_IT_FATE_OUT)
		return uxt_errf(ERR(it), x->offset + 1,
				"FATE_OUT fate %u is not one of %u..%u", x->aux,
				UXT_FATE_RESUME + 1, UXT_FATE_MAX - 1);
	return uxt_errf(ERR(it), x->offset + 1,
			"item tag 0x%02x has aux %u, must be 0", x->tag, x->aux);
}

int uxt_items_next_slow(struct uxt_item_iter *it, struct uxt_item *item)
{
	for (;;) {
		const u8 *p = it->p;
		size_t left = (size_t)(it->end - p);
		if (!left)
			return 0;
		if (left < UXT_ITEM_HDR_SIZE)
			return uxt_errf(ERR(it), it->offset,
					"truncated item header (%zu of %u bytes left in the event)",
					left, UXT_ITEM_HDR_SIZE);
		u8 tag = p[0], aux = p[1];
		u16 len = uxt_get16(p + 2);
		if (len > left - UXT_ITEM_HDR_SIZE)
			return uxt_errf(ERR(it), it->offset,
					"truncated item: %u-byte payload, %zu bytes left in the event",
					len, left - UXT_ITEM_HDR_SIZE);
		uxt_item_take(it, item, tag, aux, len);
		if (likely(uxt_item_ok(it, tag, aux, len))) {
			it->outputs |= tag >= UXT_IT_OUTPUT;
			return 1;
		}
		if (!it->lenient)
			return item_error(it, item);
		it->skipped++; /* lenient: the extent is sound, skip just this item */
	}
}

long long uxt_validate(struct uxt_reader *r)
{
	struct uxt_event ev;
	struct uxt_item_iter it;
	struct uxt_item item;
	int rc;
	while ((rc = uxt_next(r, &ev)) > 0) {
		uxt_items_begin(&it, &ev);
		while ((rc = uxt_items_next(&it, &item)) > 0)
			;
		if (rc < 0) {
			memcpy(r->err, it.err, sizeof(r->err));
			return read_fail(r);
		}
	}
	return rc < 0 ? -1 : (long long)r->nr_events;
}
