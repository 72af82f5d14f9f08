/* The trace writer (see uxt_io.h, FORMAT.md). Events are checked with the
 * reader's own rules before they are written, so what the generator and the
 * recorder produce is exactly what the strict reader accepts, and a bad
 * event is reported where it is made rather than at replay time. (A writer
 * marked unchecked, whose trace the strict reader replays at once, leaves
 * that to the reader: only the sizes are checked.) */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include "uxt_io.h"

/* Any failure is sticky: the trace is unusable from then on. */
static int fail_errno(struct uxt_writer *w, const char *what)
{
	w->failed = true;
	return uxt_errf(w->err, w->len, "%s failed: %s", what, strerror(errno));
}

static int put_file(struct uxt_writer *w, const void *p, size_t n)
{
	errno = 0;
	if (fwrite(p, 1, n, w->f) != n)
		return fail_errno(w, "writing the trace");
	return 0;
}

static int put(struct uxt_writer *w, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (w->f) {
		if (put_file(w, p, n))
			return -1;
	} else {
		/* write_event() checked that the whole event fits */
		memcpy(w->mem + w->len, p, n);
	}
	w->len += n;
	return 0;
}

static void fill_header(u8 h[UXT_HEADER_SIZE], u32 hflags, u32 mem_frames)
{
	memset(h, 0, UXT_HEADER_SIZE);
	memcpy(h + UXT_HDR_OFF_MAGIC, UXT_MAGIC, UXT_MAGIC_LEN);
	uxt_put16(h + UXT_HDR_OFF_VERSION, UXT_VERSION);
	uxt_put16(h + UXT_HDR_OFF_HEADER_SIZE, UXT_HEADER_SIZE);
	uxt_put32(h + UXT_HDR_OFF_FLAGS, hflags);
	uxt_put32(h + UXT_HDR_OFF_MEM_FRAMES, mem_frames);
}

static int write_header(struct uxt_writer *w, u32 hflags, u32 mem_frames)
{
	u8 h[UXT_HEADER_SIZE];
	if (hflags & ~UXT_HF_ALL) {
		w->failed = true;
		return uxt_errf(w->err, UXT_HDR_OFF_FLAGS, "unknown header flags 0x%x",
				hflags & ~UXT_HF_ALL);
	}
	fill_header(h, hflags, mem_frames);
	return put(w, h, sizeof(h));
}

/* event_count can be patched only where we can seek back, and not in an
 * O_APPEND file, where the patch would land at the end instead. */
static bool can_patch(FILE *f, long start)
{
	if (start < 0)
		return false;
	int fd = fileno(f);
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : 0;
	return fl >= 0 && !(fl & O_APPEND);
}

int uxt_writer_file(struct uxt_writer *w, FILE *f, u32 hflags, u32 mem_frames)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->start = ftell(f);
	w->seekable = can_patch(f, w->start);
	return write_header(w, hflags, mem_frames);
}

int uxt_writer_create(struct uxt_writer *w, const char *path, u32 hflags,
		      u32 mem_frames)
{
	bool std = strcmp(path, "-") == 0;
	FILE *f = std ? stdout : fopen(path, "wb");
	if (!f) {
		memset(w, 0, sizeof(*w));
		w->failed = true;
		return uxt_errf(w->err, 0, "cannot create %s: %s", path,
				strerror(errno));
	}
	int rc = uxt_writer_file(w, f, hflags, mem_frames);
	w->own_f = !std;
	return rc;
}

int uxt_writer_mem(struct uxt_writer *w, u8 *buf, size_t cap, u32 hflags,
		   u32 mem_frames)
{
	memset(w, 0, sizeof(*w));
	w->mem = buf;
	w->cap = cap;
	w->seekable = true;
	if (cap < UXT_HEADER_SIZE) {
		w->failed = true;
		return uxt_errf(w->err, 0, "memory buffer of %zu bytes cannot hold the header",
				cap);
	}
	return write_header(w, hflags, mem_frames);
}

/* The whole event, checked with the reader's rules; n is its total size.
 * The size checks always run: they keep a memory writer inside its buffer. */
static int check_event(struct uxt_writer *w, struct uxt_event *ev,
		       const void *prefix, u32 prefix_len, u32 items_len, u64 n)
{
	u64 off = w->len;
	if (n - UXT_EVENT_HDR_SIZE > UXT_MAX_EVENT_BODY)
		return uxt_errf(w->err, off, "event body length %llu exceeds limit %u",
				(unsigned long long)(n - UXT_EVENT_HDR_SIZE),
				UXT_MAX_EVENT_BODY);
	if (!w->unchecked) {
		long got = uxt_decode_prefix(ev, prefix, prefix_len, off, w->err);
		if (got < 0)
			return -1;
		if ((u64)got != prefix_len)
			return uxt_errf(w->err, off + UXT_EVENT_HDR_SIZE,
					"%u-byte prefix given, the event's prefix is %ld bytes",
					prefix_len, got);
		if (ev->kind == UXT_EV_MARK && items_len)
			return uxt_errf(w->err, off, "MARK events carry no items");
	}
	if (!w->f && n > w->cap - w->len)
		return uxt_errf(w->err, off,
				"memory buffer full: a %llu-byte event does not fit in %zu bytes left",
				(unsigned long long)n, w->cap - (size_t)w->len);
	return 0;
}

static int check_items(struct uxt_writer *w, const void *items, u32 len, u64 off)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	int rc;
	uxt_items_begin_buf(&it, items, len, off, false);
	while ((rc = uxt_items_next(&it, &item)) > 0)
		;
	if (rc < 0)
		memcpy(w->err, it.err, sizeof(w->err));
	return rc;
}

int uxt_write_event(struct uxt_writer *w, u8 kind, u8 flags, u16 arg,
		    const void *prefix, u32 prefix_len, const void *items,
		    u32 items_len)
{
	struct uxt_event ev = { .kind = kind, .flags = flags, .arg = arg };
	u64 body = (u64)prefix_len + items_len;
	u8 h[UXT_EVENT_HDR_SIZE];
	if (w->failed)
		return w->closed ? uxt_errf(w->err, w->len, "trace writer is closed") : -1;
	if (check_event(w, &ev, prefix, prefix_len, items_len,
			UXT_EVENT_HDR_SIZE + body) ||
	    (!w->unchecked && check_items(w, items, items_len,
					  w->len + UXT_EVENT_HDR_SIZE + prefix_len))) {
		w->failed = true;
		return -1;
	}
	h[0] = kind;
	h[1] = flags;
	uxt_put16(h + 2, arg);
	uxt_put32(h + 4, (u32)body);
	if (put(w, h, sizeof(h)) || put(w, prefix, prefix_len) ||
	    put(w, items, items_len))
		return -1;
	w->nr_events++;
	return 0;
}

int uxt_write_exit(struct uxt_writer *w, u8 flags, u16 reason, u16 domid,
		   u16 vcpu, const void *items, u32 items_len)
{
	u8 p[UXT_EXIT_PREFIX];
	uxt_put16(p, domid);
	uxt_put16(p + 2, vcpu);
	return uxt_write_event(w, UXT_EV_EXIT, flags, reason, p, sizeof(p), items,
			       items_len);
}

int uxt_write_hostcall(struct uxt_writer *w, u8 flags, u16 nr, u8 nargs,
		       const u64 *args, const void *items, u32 items_len)
{
	u8 p[UXT_HOSTCALL_PREFIX + 8 * UXT_MAX_HOSTCALL_ARGS] = { nargs };
	/* Too many args: the prefix check reports it, with the reader's words. */
	unsigned n = nargs < UXT_MAX_HOSTCALL_ARGS ? nargs : UXT_MAX_HOSTCALL_ARGS;
	for (unsigned i = 0; i < n; i++)
		uxt_put64(p + UXT_HOSTCALL_PREFIX + 8 * i, args[i]);
	return uxt_write_event(w, UXT_EV_HOSTCALL, flags, nr, p,
			       UXT_HOSTCALL_PREFIX + 8 * n, items, items_len);
}

int uxt_write_mark(struct uxt_writer *w, const char *text)
{
	size_t len = strlen(text);
	if (len > UXT_MAX_EVENT_BODY) {
		w->failed = true;
		return uxt_errf(w->err, w->len, "MARK text of %zu bytes exceeds limit %u",
				len, UXT_MAX_EVENT_BODY);
	}
	return uxt_write_event(w, UXT_EV_MARK, 0, 0, text, (u32)len, NULL, 0);
}

/* Write the final event_count into the header, then go back to the end. */
static int patch_count(struct uxt_writer *w)
{
	u8 c[8];
	uxt_put64(c, w->nr_events);
	if (!w->f) {
		memcpy(w->mem + UXT_HDR_OFF_EVENT_COUNT, c, sizeof(c));
		return 0;
	}
	if (fseek(w->f, w->start + UXT_HDR_OFF_EVENT_COUNT, SEEK_SET))
		return fail_errno(w, "seeking to the trace header");
	if (put_file(w, c, sizeof(c)))
		return -1;
	if (fseek(w->f, 0, SEEK_END))
		return fail_errno(w, "seeking to the end of the trace");
	return 0;
}

static int finish_file(struct uxt_writer *w)
{
	errno = 0;
	if (fflush(w->f) || ferror(w->f))
		return fail_errno(w, "flushing the trace");
	return 0;
}

int uxt_writer_close(struct uxt_writer *w)
{
	if (w->closed)
		return uxt_errf(w->err, w->len, "trace writer is closed");
	if (!w->failed && w->seekable)
		patch_count(w);
	if (!w->failed && w->f)
		finish_file(w);
	if (w->own_f) {
		errno = 0;
		if (fclose(w->f) && !w->failed)
			fail_errno(w, "closing the trace");
		w->own_f = false;
	}
	w->f = NULL;
	w->mem = NULL;
	if (w->failed)
		return -1;
	/* Closed: further writes must fail, not touch the file or buffer.
	 * Their message is written when one is tried (the fuzz targets close
	 * a writer for every input: formatting it here cost 1% of their time). */
	w->failed = true;
	w->closed = true;
	return 0;
}
