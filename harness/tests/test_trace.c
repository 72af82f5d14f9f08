/* Trace format tests: writer -> reader round trips, one negative test per
 * reader error (each message must name the offending offset), truncation at
 * every byte, and lenient reading of random bytes (under ASan: never out of
 * bounds). Traces for negative tests are assembled by hand here, not with
 * the writer, which refuses to produce them. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "testlib.h"
#include "uxt_io.h"
#include "hv/exits.h"

/* ---- Building traces by hand ------------------------------------------- */

struct buf {
	u8 b[8192];
	u32 n;
};

static void add(struct buf *t, const void *p, u32 n)
{
	if (t->n + n > sizeof(t->b))
		abort(); /* a test bug, not a trace error */
	memcpy(t->b + t->n, p, n);
	t->n += n;
}

static void add_u8(struct buf *t, u8 v) { add(t, &v, 1); }
static void add_u16(struct buf *t, u16 v) { u8 p[2]; uxt_put16(p, v); add(t, p, 2); }
static void add_u32(struct buf *t, u32 v) { u8 p[4]; uxt_put32(p, v); add(t, p, 4); }
static void add_u64(struct buf *t, u64 v) { u8 p[8]; uxt_put64(p, v); add(t, p, 8); }

static void file_header(struct buf *t, u64 count)
{
	t->n = 0;
	add(t, UXT_MAGIC, UXT_MAGIC_LEN);
	add_u16(t, UXT_VERSION);
	add_u16(t, UXT_HEADER_SIZE);
	add_u32(t, UXT_HF_OUTPUTS);
	add_u64(t, count);
	add_u32(t, 0); /* mem_frames */
	add_u32(t, 0); /* reserved */
}

static void event_header(struct buf *t, u8 kind, u8 flags, u16 arg, u32 body_len)
{
	add_u8(t, kind);
	add_u8(t, flags);
	add_u16(t, arg);
	add_u32(t, body_len);
}

static void item(struct buf *t, u8 tag, u8 aux, const void *p, u16 len)
{
	add_u8(t, tag);
	add_u8(t, aux);
	add_u16(t, len);
	add(t, p, len);
}

static void item_u64(struct buf *t, u8 tag, u8 aux, u64 v)
{
	u8 p[8];
	uxt_put64(p, v);
	item(t, tag, aux, p, 8);
}

static void item_vmcs(struct buf *t, u8 tag, u32 enc, u64 v)
{
	u8 p[12];
	uxt_put32(p, enc);
	uxt_put64(p + 4, v);
	item(t, tag, 0, p, 12);
}

static void item_fate(struct buf *t, u8 fate, u32 reason, u64 arg)
{
	u8 p[12];
	uxt_put32(p, reason);
	uxt_put64(p + 4, arg);
	item(t, UXT_IT_FATE_OUT, fate, p, 12);
}

static void exit_event(struct buf *t, u16 reason, const struct buf *items)
{
	event_header(t, UXT_EV_EXIT, UXT_EF_OUTPUTS, reason, UXT_EXIT_PREFIX + items->n);
	add_u16(t, 1); /* domid */
	add_u16(t, 0); /* vcpu */
	add(t, items->b, items->n);
}

static void mark_event(struct buf *t, const char *text)
{
	event_header(t, UXT_EV_MARK, 0, 0, (u32)strlen(text));
	add(t, text, (u32)strlen(text));
}

/* A trace of one event with these items, header count 1. */
static void one_exit(struct buf *t, const struct buf *items)
{
	file_header(t, 1);
	exit_event(t, EXIT_CPUID, items);
}

/* ---- Checking the reader's verdict -------------------------------------- */

/* Read and check all of buf in strict mode: the number of events, or -1
 * with the message in err. */
static long long read_all(const u8 *buf, size_t len, bool lenient, char *err)
{
	struct uxt_reader r;
	long long n = uxt_open(&r, buf, len, lenient) ? -1 : uxt_validate(&r);
	strcpy(err, r.err);
	return n;
}

/* Strict reading fails with a message that starts with "offset N: " and
 * contains want (want may itself start with the "offset N: " prefix). */
static bool rejects(const struct buf *t, const char *want)
{
	char err[UXT_ERR_LEN];
	if (read_all(t->b, t->n, false, err) >= 0) {
		printf("    accepted, expected \"%s\"\n", want);
		return false;
	}
	if (strncmp(err, "offset ", 7) || !strstr(err, want)) {
		printf("    got \"%s\", expected \"%s\"\n", err, want);
		return false;
	}
	return true;
}

/* A valid exit with one input and one output item. */
static void basic_items(struct buf *it)
{
	it->n = 0;
	item_u64(it, UXT_IT_REG_IN, UXT_GPR_RAX, 1);
	item_u64(it, UXT_IT_REG_OUT, UXT_GPR_RBX, 2);
}

/* ---- Round trips -------------------------------------------------------- */

/* Items of an exit that uses most tags, as the recorder would emit them. */
static void rich_items(struct buf *it)
{
	u8 mem[8 + 3] = { 0 }, cpuid[24] = { 0 }, io[24] = { 0 }, p2m[12] = { 0 };
	it->n = 0;
	item_vmcs(it, UXT_IT_VMCS_IN, VMCS_EXIT_REASON, EXIT_WRMSR);
	item_u64(it, UXT_IT_REG_IN, UXT_GPR_RCX, 0xc0000080);
	uxt_put64(mem, 0x1000);
	mem[8] = 0xaa;
	item(it, UXT_IT_MEM_IN, 0, mem, sizeof(mem));
	uxt_put32(cpuid, 1);
	item(it, UXT_IT_CPUID_IN, 0, cpuid, sizeof(cpuid));
	item_u64(it, UXT_IT_TSC_IN, 0, 12345);
	item_vmcs(it, UXT_IT_VMCS_OUT, VMCS_ENTRY_INTR_INFO, 0x80000b0d);
	item_vmcs(it, UXT_IT_VMCS_OUT, VMCS_ENTRY_EXCEPTION_ERRCODE, 0);
	uxt_put64(p2m, 0x42);
	p2m[9] = 7;
	p2m[10] = 1;
	item(it, UXT_IT_P2M_OUT, 0, p2m, sizeof(p2m));
	io[0] = UXT_IOREQ_PIO;
	io[2] = 1;
	uxt_put32(io + 4, 1);
	uxt_put64(io + 8, 0x3f8);
	uxt_put64(io + 16, 'A');
	item(it, UXT_IT_IOREQ_OUT, 0, io, sizeof(io));
	item(it, UXT_IT_MEM_OUT, 0, mem, sizeof(mem));
	item(it, UXT_IT_CONSOLE_OUT, 0, "hi\n", 3);
	item_fate(it, UXT_FATE_CRASHED, CRASH_UNOWNED_MEMORY, 0);
}

static void status_items(struct buf *it, s64 status)
{
	it->n = 0;
	item(it, UXT_IT_DATA, 0, "\x01\x02\x03", 3);
	item_u64(it, UXT_IT_STATUS_OUT, 0, (u64)status);
}

static const u64 hc_args[3] = { 1, 0x100, 0xffffffffffffffffull };

/* The trace the round-trip tests write: MARK, EXIT (rich), HOSTCALL. */
static int write_sample(struct uxt_writer *w)
{
	struct buf ex, hc;
	rich_items(&ex);
	status_items(&hc, -HV_EINVAL);
	if (uxt_write_mark(w, "start \xc3\xa9") ||
	    uxt_write_exit(w, UXT_EF_OUTPUTS, EXIT_WRMSR, 3, 2, ex.b, ex.n) ||
	    uxt_write_hostcall(w, UXT_EF_OUTPUTS, HC_POPULATE, 3, hc_args, hc.b, hc.n))
		return -1;
	return 0;
}

static int write_sample_mem(struct buf *t)
{
	struct uxt_writer w;
	if (uxt_writer_mem(&w, t->b, sizeof(t->b), UXT_HF_OUTPUTS, 4096) ||
	    write_sample(&w) || uxt_writer_close(&w)) {
		printf("    writer: %s\n", w.err);
		return -1;
	}
	t->n = (u32)w.len;
	return 0;
}

/* Walk an event's items, checking tags against want[] (0-terminated). */
static bool items_are(const struct uxt_event *ev, const u8 *want)
{
	struct uxt_item_iter it;
	struct uxt_item x;
	uxt_items_begin(&it, ev);
	for (; *want; want++)
		if (uxt_items_next(&it, &x) != 1 || x.tag != *want)
			return false;
	return uxt_items_next(&it, &x) == 0;
}

TEST(trace_round_trip_memory)
{
	static const u8 ex_tags[] = { UXT_IT_VMCS_IN, UXT_IT_REG_IN, UXT_IT_MEM_IN,
		UXT_IT_CPUID_IN, UXT_IT_TSC_IN, UXT_IT_VMCS_OUT, UXT_IT_VMCS_OUT,
		UXT_IT_P2M_OUT, UXT_IT_IOREQ_OUT, UXT_IT_MEM_OUT, UXT_IT_CONSOLE_OUT,
		UXT_IT_FATE_OUT, 0 };
	static const u8 hc_tags[] = { UXT_IT_DATA, UXT_IT_STATUS_OUT, 0 };
	struct buf t;
	struct uxt_reader r;
	struct uxt_event ev;
	CHECK(write_sample_mem(&t) == 0);
	CHECK(uxt_open(&r, t.b, t.n, false) == 0);
	CHECK_EQ(r.hdr.event_count, 3);
	CHECK_EQ(r.hdr.mem_frames, 4096);
	CHECK_EQ(r.hdr.flags, UXT_HF_OUTPUTS);

	CHECK_EQ(uxt_next(&r, &ev), 1);
	CHECK_EQ(ev.kind, UXT_EV_MARK);
	CHECK_EQ(ev.offset, UXT_HEADER_SIZE);
	CHECK(ev.body_len == 8 && !memcmp(ev.body, "start \xc3\xa9", 8));
	CHECK_EQ(ev.items_len, 0);

	CHECK_EQ(uxt_next(&r, &ev), 1);
	CHECK_EQ(ev.index, 1);
	CHECK(ev.kind == UXT_EV_EXIT && ev.arg == EXIT_WRMSR);
	CHECK(ev.domid == 3 && ev.vcpu == 2 && ev.flags == UXT_EF_OUTPUTS);
	CHECK_EQ(ev.items_offset, ev.offset + UXT_EVENT_HDR_SIZE + UXT_EXIT_PREFIX);
	CHECK(items_are(&ev, ex_tags));

	CHECK_EQ(uxt_next(&r, &ev), 1);
	CHECK(ev.kind == UXT_EV_HOSTCALL && ev.arg == HC_POPULATE && ev.nargs == 3);
	CHECK(ev.args[0] == hc_args[0] && ev.args[2] == hc_args[2] && ev.args[3] == 0);
	CHECK(items_are(&ev, hc_tags));

	CHECK_EQ(uxt_next(&r, &ev), 0);
	CHECK_EQ(uxt_next(&r, &ev), 0); /* the end is sticky */
}

TEST(trace_item_fields)
{
	struct buf t, it;
	struct uxt_reader r;
	struct uxt_event ev;
	struct uxt_item_iter ii;
	struct uxt_item x;
	it.n = 0;
	item_vmcs(&it, UXT_IT_VMCS_IN, VMCS_GUEST_RIP, 0xfff0);
	item_fate(&it, UXT_FATE_SHUTDOWN, 0, 0x1234);
	one_exit(&t, &it);
	CHECK(uxt_open(&r, t.b, t.n, false) == 0 && uxt_next(&r, &ev) == 1);
	uxt_items_begin(&ii, &ev);
	CHECK_EQ(uxt_items_next(&ii, &x), 1);
	CHECK(x.tag == UXT_IT_VMCS_IN && x.len == 12 && x.aux == 0);
	CHECK_EQ(x.offset, UXT_HEADER_SIZE + UXT_EVENT_HDR_SIZE + UXT_EXIT_PREFIX);
	CHECK(x.raw + UXT_ITEM_HDR_SIZE == x.data);
	CHECK(uxt_get32(x.data) == VMCS_GUEST_RIP && uxt_get64(x.data + 4) == 0xfff0);
	CHECK_EQ(uxt_items_next(&ii, &x), 1);
	CHECK(x.tag == UXT_IT_FATE_OUT && x.aux == UXT_FATE_SHUTDOWN);
	CHECK_EQ(uxt_get64(x.data + 4), 0x1234);
	CHECK_EQ(uxt_items_next(&ii, &x), 0);
}

/* The FILE* writer must produce the same bytes as the memory writer. */
TEST(trace_round_trip_file)
{
	struct buf t, f;
	FILE *fp = tmpfile();
	struct uxt_writer w;
	CHECK(fp);
	CHECK(write_sample_mem(&t) == 0);
	CHECK(uxt_writer_file(&w, fp, UXT_HF_OUTPUTS, 4096) == 0);
	CHECK(write_sample(&w) == 0);
	CHECK(uxt_writer_close(&w) == 0);
	/* Closed: a write fails, says why, and adds nothing to the file. */
	long end = ftell(fp);
	CHECK(uxt_write_mark(&w, "late") == -1);
	CHECK(strstr(w.err, "trace writer is closed") != NULL);
	CHECK_EQ(ftell(fp), end);
	rewind(fp);
	f.n = (u32)fread(f.b, 1, sizeof(f.b), fp);
	fclose(fp);
	CHECK_EQ(f.n, t.n);
	CHECK(memcmp(f.b, t.b, t.n) == 0);
}

/* Through a pipe the count cannot be patched: it stays 0, which readers
 * take as "unknown". */
TEST(trace_pipe_leaves_count_zero)
{
	struct buf t;
	struct uxt_writer w;
	char err[UXT_ERR_LEN];
	int fds[2];
	CHECK(pipe(fds) == 0);
	FILE *in = fdopen(fds[0], "rb"), *out = fdopen(fds[1], "wb");
	CHECK(in && out);
	CHECK(uxt_writer_file(&w, out, UXT_HF_OUTPUTS, 0) == 0);
	CHECK(!w.seekable);
	CHECK(write_sample(&w) == 0 && uxt_writer_close(&w) == 0);
	fclose(out);
	t.n = (u32)fread(t.b, 1, sizeof(t.b), in);
	fclose(in);
	CHECK_EQ(uxt_get64(t.b + UXT_HDR_OFF_EVENT_COUNT), 0);
	CHECK_EQ(read_all(t.b, t.n, false, err), 3);
}

/* ---- Writer errors ------------------------------------------------------ */

TEST(trace_writer_rejects_bad_events)
{
	struct buf t, it;
	struct uxt_writer w;
	u64 args[5] = { 0 };
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	it.n = 0;
	item_u64(&it, UXT_IT_REG_OUT, UXT_GPR_RAX, 1);
	item_u64(&it, UXT_IT_REG_IN, UXT_GPR_RAX, 1);
	CHECK(uxt_write_exit(&w, 0, EXIT_HLT, 1, 0, it.b, it.n) == -1);
	CHECK(strstr(w.err, "offset 56: input item tag 0x02 after an output item"));
	/* sticky: a good event fails too, and so does close */
	CHECK(uxt_write_mark(&w, "x") == -1);
	CHECK(uxt_writer_close(&w) == -1);

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_hostcall(&w, 0, HC_VERSION, 5, args, NULL, 0) == -1);
	CHECK(strstr(w.err, "offset 40: HOSTCALL nargs 5 exceeds 4"));

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_event(&w, 9, 0, 0, NULL, 0, NULL, 0) == -1);
	CHECK(strstr(w.err, "offset 32: unknown event kind 9"));

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_event(&w, UXT_EV_EXIT, 0, 0, "\1\0\0", 3, NULL, 0) == -1);
	CHECK(strstr(w.err, "EXIT body is 3 bytes"));

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_event(&w, UXT_EV_MARK, 0, 0, "a", 1, "b", 1) == -1);
	CHECK(strstr(w.err, "MARK events carry no items"));

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0x80, 0) == -1);
	CHECK(strstr(w.err, "unknown header flags 0x80"));
}

TEST(trace_writer_bad_sizes)
{
	struct buf t;
	struct uxt_writer w;
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_event(&w, UXT_EV_EXIT, 0, 0, "\1\0\0\0\0\0", 6, NULL, 0) == -1);
	CHECK(strstr(w.err, "offset 40: 6-byte prefix given, the event's prefix is 4 bytes"));
	/* the limit is checked before anything looks at the bytes */
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_write_exit(&w, 0, 0, 0, 0, t.b, UXT_MAX_EVENT_BODY) == -1);
	CHECK(strstr(w.err, "offset 32: event body length 1048580 exceeds limit 1048576"));
}

/* An unchecked writer leaves the rules to the reader, but never its
 * sizes: a body over the limit, or an event past the buffer, still fails
 * with nothing written. */
TEST(trace_writer_unchecked)
{
	struct buf t, it;
	struct uxt_writer w;
	char err[UXT_ERR_LEN];
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	w.unchecked = true;
	it.n = 0;
	item_u64(&it, UXT_IT_REG_OUT, UXT_GPR_RAX, 1);
	item_u64(&it, UXT_IT_REG_IN, UXT_GPR_RAX, 1);
	CHECK(uxt_write_mark(&w, "before") == 0);
	CHECK(uxt_write_exit(&w, 0, EXIT_HLT, 1, 0, it.b, it.n) == 0);
	CHECK(uxt_writer_close(&w) == 0);
	t.n = (u32)w.len;
	CHECK_EQ(read_all(t.b, t.n, false, err), -1);
	CHECK(strstr(err, "input item tag 0x02 after an output item"));

	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	w.unchecked = true;
	CHECK(uxt_write_exit(&w, 0, 0, 0, 0, t.b, UXT_MAX_EVENT_BODY) == -1);
	CHECK(strstr(w.err, "exceeds limit"));

	u8 small[UXT_HEADER_SIZE + 10];
	CHECK(uxt_writer_mem(&w, small, sizeof(small), 0, 0) == 0);
	w.unchecked = true;
	CHECK(uxt_write_mark(&w, "ab") == 0);
	CHECK(uxt_write_mark(&w, "ab") == -1);
	CHECK(strstr(w.err, "memory buffer full"));
	CHECK_EQ(w.len, UXT_HEADER_SIZE + 10);
}

/* uxt_writer_create() owns its file: close must leave a complete trace. */
TEST(trace_writer_create)
{
	char path[] = "/tmp/uxt-test-XXXXXX", err[UXT_ERR_LEN];
	struct uxt_writer w;
	struct buf t;
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(uxt_writer_create(&w, path, UXT_HF_OUTPUTS, 0) == 0);
	CHECK(write_sample(&w) == 0 && uxt_writer_close(&w) == 0);
	FILE *f = fopen(path, "rb");
	CHECK(f);
	t.n = (u32)fread(t.b, 1, sizeof(t.b), f);
	fclose(f);
	unlink(path);
	CHECK_EQ(read_all(t.b, t.n, false, err), 3);
	CHECK(uxt_writer_create(&w, "/nonexistent-dir/x.uxt", 0, 0) == -1);
	CHECK(strstr(w.err, "offset 0: cannot create /nonexistent-dir/x.uxt: "));
	CHECK(uxt_writer_close(&w) == -1);
}

TEST(trace_writer_buffer_full)
{
	u8 small[UXT_HEADER_SIZE + 10];
	struct uxt_writer w;
	CHECK(uxt_writer_mem(&w, small, 16, 0, 0) == -1);
	CHECK(uxt_writer_mem(&w, small, sizeof(small), 0, 0) == 0);
	CHECK(uxt_write_mark(&w, "ab") == 0);
	CHECK(uxt_write_mark(&w, "ab") == -1);
	CHECK(strstr(w.err, "offset 42: memory buffer full"));
	CHECK_EQ(w.len, UXT_HEADER_SIZE + 10); /* nothing partial written */
	CHECK(uxt_writer_close(&w) == -1);
}

/* /dev/full fails every write: the loss must be reported, not swallowed. */
TEST(trace_writer_io_error)
{
	struct uxt_writer w;
	FILE *f = fopen("/dev/full", "wb");
	if (!f)
		return; /* no /dev/full here: nothing to test */
	setvbuf(f, NULL, _IONBF, 0);
	CHECK(uxt_writer_file(&w, f, 0, 0) == -1);
	CHECK(strstr(w.err, "writing the trace failed"));
	CHECK(uxt_writer_close(&w) == -1);
	fclose(f);

	f = fopen("/dev/full", "wb"); /* buffered: fails at the flush */
	CHECK(f);
	CHECK(uxt_writer_file(&w, f, 0, 0) == 0);
	CHECK(uxt_write_mark(&w, "lost") == 0);
	CHECK(uxt_writer_close(&w) == -1);
	CHECK(strstr(w.err, "failed"));
	fclose(f);
}

TEST(trace_writer_closed)
{
	struct buf t;
	struct uxt_writer w;
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_writer_close(&w) == 0);
	CHECK(uxt_write_mark(&w, "late") == -1);
	CHECK(strstr(w.err, "closed"));
	/* Closing again fails, and says why. */
	CHECK(uxt_writer_mem(&w, t.b, sizeof(t.b), 0, 0) == 0);
	CHECK(uxt_writer_close(&w) == 0);
	CHECK(uxt_writer_close(&w) == -1);
	CHECK(strstr(w.err, "trace writer is closed"));
}

/* ---- File header errors ------------------------------------------------- */

TEST(trace_bad_magic)
{
	struct buf t;
	file_header(&t, 0);
	t.b[3] = 'X';
	CHECK(rejects(&t, "offset 0: bad magic"));
	t.n = 4; /* even a short file is "not a trace" before "truncated" */
	CHECK(rejects(&t, "offset 0: bad magic"));
}

TEST(trace_bad_version)
{
	struct buf t;
	file_header(&t, 0);
	uxt_put16(t.b + UXT_HDR_OFF_VERSION, 7);
	CHECK(rejects(&t, "offset 8: unsupported trace version 7 (this build reads 1)"));
}

TEST(trace_bad_header_size)
{
	struct buf t;
	file_header(&t, 0);
	uxt_put16(t.b + UXT_HDR_OFF_HEADER_SIZE, 0xffff);
	CHECK(rejects(&t, "offset 10: header size 65535"));
	uxt_put16(t.b + UXT_HDR_OFF_HEADER_SIZE, 0);
	CHECK(rejects(&t, "offset 10: header size 0"));
}

TEST(trace_bad_header_fields)
{
	struct buf t;
	file_header(&t, 0);
	uxt_put32(t.b + UXT_HDR_OFF_FLAGS, 0x100);
	CHECK(rejects(&t, "offset 12: unknown header flags 0x100"));
	file_header(&t, 0);
	uxt_put32(t.b + UXT_HDR_OFF_RESERVED, 1);
	CHECK(rejects(&t, "offset 28: reserved header field"));
}

TEST(trace_absurd_event_count)
{
	struct buf t;
	file_header(&t, 1ull << 60);
	mark_event(&t, "");
	CHECK(rejects(&t, "offset 16: event_count 1152921504606846976 cannot fit"));
}

TEST(trace_truncated_header)
{
	struct buf t;
	file_header(&t, 0);
	t.n = 20;
	CHECK(rejects(&t, "offset 20: truncated file header (20 of 32 bytes)"));
	t.n = 0;
	CHECK(rejects(&t, "offset 0: truncated file header (0 of 32 bytes)"));
}

/* ---- Event errors -------------------------------------------------------- */

TEST(trace_absurd_body_length)
{
	struct buf t;
	file_header(&t, 0);
	mark_event(&t, "");
	event_header(&t, UXT_EV_EXIT, 0, 0, 0xffffffff);
	CHECK(rejects(&t, "offset 40: event body length 4294967295 exceeds limit 1048576"));
	file_header(&t, 0);
	event_header(&t, UXT_EV_EXIT, 0, 0, UXT_MAX_EVENT_BODY + 1);
	CHECK(rejects(&t, "offset 32: event body length 1048577 exceeds limit"));
}

TEST(trace_truncated_body)
{
	struct buf t;
	file_header(&t, 0);
	event_header(&t, UXT_EV_MARK, 0, 0, 100);
	add(&t, "abc", 3);
	CHECK(rejects(&t, "offset 32: truncated event body (100 bytes, 3 left in the file)"));
	file_header(&t, 0);
	add(&t, "\1\0\0", 3);
	CHECK(rejects(&t, "offset 32: truncated event header (3 of 8 bytes)"));
}

TEST(trace_unknown_event_kind)
{
	struct buf t;
	file_header(&t, 0);
	event_header(&t, 0, 0, 0, 0);
	CHECK(rejects(&t, "offset 32: unknown event kind 0"));
	file_header(&t, 0);
	event_header(&t, UXT_EV_MAX, 0, 0, 0);
	CHECK(rejects(&t, "offset 32: unknown event kind"));
	file_header(&t, 0);
	event_header(&t, 0xff, 0, 0, 0);
	CHECK(rejects(&t, "offset 32: unknown event kind 255"));
}

TEST(trace_bad_event_flags)
{
	struct buf t;
	file_header(&t, 0);
	event_header(&t, UXT_EV_EXIT, 0x80, 0, 4);
	add_u32(&t, 0);
	CHECK(rejects(&t, "offset 33: unknown event flags 0x80"));
	file_header(&t, 0);
	event_header(&t, UXT_EV_MARK, 0, 5, 0);
	CHECK(rejects(&t, "offset 33: MARK event with flags 0x0 and arg 5"));
}

TEST(trace_short_exit_body)
{
	struct buf t;
	file_header(&t, 0);
	event_header(&t, UXT_EV_EXIT, 0, EXIT_HLT, 2);
	add_u16(&t, 1);
	CHECK(rejects(&t, "offset 40: EXIT body is 2 bytes, shorter than its 4-byte prefix"));
}

TEST(trace_bad_nargs)
{
	struct buf t;
	file_header(&t, 0);
	event_header(&t, UXT_EV_HOSTCALL, 0, HC_VERSION, 8 + 5 * 8);
	add_u64(&t, 5);
	for (int i = 0; i < 5; i++)
		add_u64(&t, 0);
	CHECK(rejects(&t, "offset 40: HOSTCALL nargs 5 exceeds 4"));

	file_header(&t, 0);
	event_header(&t, UXT_EV_HOSTCALL, 0, HC_VERSION, 8 + 8);
	add_u64(&t, 2); /* nargs 2, one arg present */
	add_u64(&t, 0);
	CHECK(rejects(&t, "offset 40: HOSTCALL body is 16 bytes, too short for 2 args"));

	file_header(&t, 0);
	event_header(&t, UXT_EV_HOSTCALL, 0, HC_VERSION, 8);
	add_u64(&t, 0x0100); /* padding byte 1 is set */
	CHECK(rejects(&t, "offset 41: HOSTCALL padding byte is 0x01"));

	file_header(&t, 0);
	event_header(&t, UXT_EV_HOSTCALL, 0, HC_VERSION, 4);
	add_u32(&t, 0);
	CHECK(rejects(&t, "offset 40: HOSTCALL body is 4 bytes, shorter than its 8-byte prefix"));
}

TEST(trace_bad_mark_text)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\x80" /* overlong NUL */,
		"\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */,
	};
	struct buf t;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		file_header(&t, 0);
		mark_event(&t, bad[i]);
		CHECK(rejects(&t, "MARK text is not valid UTF-8"));
	}
	file_header(&t, 0);
	mark_event(&t, "ok \xe2\x82\xac \xf0\x9f\x98\x80");
	char err[UXT_ERR_LEN];
	CHECK_EQ(read_all(t.b, t.n, false, err), 1);
}

TEST(trace_event_count_mismatch)
{
	struct buf t, it;
	basic_items(&it);
	file_header(&t, 2);
	exit_event(&t, EXIT_HLT, &it);
	CHECK(rejects(&t, "file ends after 1 events, header event_count says 2"));
	file_header(&t, 1);
	exit_event(&t, EXIT_HLT, &it);
	u32 end = t.n;
	exit_event(&t, EXIT_HLT, &it);
	char want[64];
	snprintf(want, sizeof(want), "offset %u: %u bytes of trailing garbage", end,
		 t.n - end);
	CHECK(rejects(&t, want));
}

/* ---- Item errors --------------------------------------------------------- */

/* File offset of the first item of the single exit built by one_exit(). */
#define FIRST_ITEM (UXT_HEADER_SIZE + UXT_EVENT_HDR_SIZE + UXT_EXIT_PREFIX)

TEST(trace_unknown_item_tag)
{
	struct buf t, it;
	it.n = 0;
	item_u64(&it, 0x07, 0, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 44: unknown item tag 0x07"));
	it.n = 0;
	item_u64(&it, 0xff, 0, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "unknown item tag 0xff"));
}

TEST(trace_wrong_item_size)
{
	struct buf t, it;
	u8 z[16] = { 0 };
	it.n = 0;
	item(&it, UXT_IT_VMCS_IN, 0, z, 8);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 44: item tag 0x01 has a 8-byte payload, must be 12"));
	it.n = 0;
	item(&it, UXT_IT_MEM_IN, 0, z, 8);
	one_exit(&t, &it);
	CHECK(rejects(&t, "item tag 0x03 has a 8-byte payload, needs at least 9"));
	it.n = 0;
	item(&it, UXT_IT_CONSOLE_OUT, 0, z, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "needs at least 1"));
}

TEST(trace_item_overruns_event)
{
	struct buf t, it;
	it.n = 0;
	item_u64(&it, UXT_IT_TSC_IN, 0, 1);
	uxt_put16(it.b + 2, 200); /* claims more than the event holds */
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 44: truncated item: 200-byte payload, 8 bytes left"));
	it.n = 0;
	item_u64(&it, UXT_IT_TSC_IN, 0, 1);
	add(&it, "\x05\x00", 2); /* half an item header */
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 56: truncated item header (2 of 4 bytes"));
}

TEST(trace_output_before_input)
{
	struct buf t, it;
	it.n = 0;
	item_u64(&it, UXT_IT_REG_OUT, UXT_GPR_RAX, 1);
	item_vmcs(&it, UXT_IT_VMCS_IN, VMCS_GUEST_RIP, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 56: input item tag 0x01 after an output item"));
}

TEST(trace_bad_item_aux)
{
	struct buf t, it;
	it.n = 0;
	item_u64(&it, UXT_IT_REG_IN, UXT_NR_GPRS, 1);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 45: REG_IN register index 16"));
	it.n = 0;
	item_u64(&it, UXT_IT_REG_OUT, UXT_GPR_RSP, 1);
	one_exit(&t, &it);
	CHECK(rejects(&t, "REG_OUT register index 4"));
	it.n = 0;
	item_fate(&it, UXT_FATE_RESUME, 0, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 45: FATE_OUT fate 0"));
	it.n = 0;
	item_fate(&it, UXT_FATE_MAX, 0, 0);
	one_exit(&t, &it);
	CHECK(rejects(&t, "FATE_OUT fate 7"));
	it.n = 0;
	item_u64(&it, UXT_IT_TSC_IN, 3, 1);
	one_exit(&t, &it);
	CHECK(rejects(&t, "offset 45: item tag 0x05 has aux 3, must be 0"));
}

/* ---- Truncation and lenient mode ----------------------------------------- */

/* Cutting a valid trace anywhere must fail with a located message (the
 * header's event_count catches cuts at event boundaries). */
TEST(trace_truncated_everywhere)
{
	struct buf t;
	char err[UXT_ERR_LEN];
	CHECK(write_sample_mem(&t) == 0);
	CHECK_EQ(read_all(t.b, t.n, false, err), 3);
	for (u32 n = 0; n < t.n; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past the cut */
		u8 *cut = malloc(n ? n : 1);
		CHECK(cut);
		memcpy(cut, t.b, n);
		long long got = read_all(cut, n, false, err);
		read_all(cut, n, true, err); /* lenient: only must not crash */
		read_all(cut, n, false, err);
		free(cut);
		if (got >= 0 || strncmp(err, "offset ", 7)) {
			printf("    cut at %u: %lld events, \"%s\"\n", n, got, err);
			CHECK(0);
		}
	}
}

TEST(trace_lenient_skips)
{
	struct buf t, it;
	char err[UXT_ERR_LEN];
	struct uxt_reader r;
	struct uxt_event ev;
	struct uxt_item_iter ii;
	struct uxt_item x;
	it.n = 0;
	item_u64(&it, 0x7e, 0, 0);                    /* unknown tag */
	item_u64(&it, UXT_IT_REG_IN, UXT_GPR_RAX, 5); /* kept */
	item_u64(&it, UXT_IT_REG_OUT, 99, 0);         /* bad aux */
	file_header(&t, 7);                           /* wrong count: ignored */
	uxt_put32(t.b + UXT_HDR_OFF_FLAGS, 0x80);     /* unknown flag: ignored */
	event_header(&t, 0x42, 0, 0, 3);              /* unknown kind */
	add(&t, "xyz", 3);
	exit_event(&t, EXIT_HLT, &it);
	CHECK(read_all(t.b, t.n, false, err) < 0);
	CHECK(uxt_open(&r, t.b, t.n, true) == 0);
	CHECK_EQ(uxt_next(&r, &ev), 1);
	CHECK(ev.kind == UXT_EV_EXIT && ev.index == 1);
	CHECK_EQ(r.skipped, 1);
	uxt_items_begin(&ii, &ev);
	CHECK_EQ(uxt_items_next(&ii, &x), 1);
	CHECK(x.tag == UXT_IT_REG_IN && uxt_get64(x.data) == 5);
	CHECK_EQ(uxt_items_next(&ii, &x), 0);
	CHECK_EQ(ii.skipped, 2);
	CHECK_EQ(uxt_next(&r, &ev), 0);
}

/* A quiet reader fails where a plain one does, with no message, and so do
 * the item iterators of its events. */
static int read_to_end(const u8 *b, size_t n, bool quiet, char *err, char *item_err)
{
	struct uxt_reader r;
	struct uxt_event ev;
	struct uxt_item_iter ii;
	struct uxt_item x;
	int rc, irc = 0;
	if ((quiet ? uxt_open_quiet : uxt_open)(&r, b, n, true))
		return -2;
	while ((rc = uxt_next(&r, &ev)) > 0) {
		uxt_items_begin(&ii, &ev);
		while ((irc = uxt_items_next(&ii, &x)) > 0)
			;
		if (irc < 0)
			memcpy(item_err, ii.err, UXT_ERR_LEN);
	}
	memcpy(err, r.err, UXT_ERR_LEN);
	return rc * 2 + (irc < 0);
}

TEST(trace_quiet_reader_fails_without_messages)
{
	struct buf t, it;
	char err[UXT_ERR_LEN], item_err[UXT_ERR_LEN];
	it.n = 0;
	item_u64(&it, UXT_IT_REG_IN, UXT_GPR_RAX, 5);
	add(&it, "\x10\x00", 2);                   /* a cut item header */
	file_header(&t, 2);
	exit_event(&t, EXIT_HLT, &it);
	exit_event(&t, EXIT_HLT, &it);
	t.n -= 3;                                    /* a cut event */
	item_err[0] = 0;
	CHECK_EQ(read_to_end(t.b, t.n, false, err, item_err), -2 + 1);
	CHECK(strstr(err, "truncated event body") && strstr(item_err, "truncated item header"));
	CHECK_EQ(read_to_end(t.b, t.n, true, err, item_err), -2 + 1);
	CHECK(!err[0] && !item_err[0]);
	/* Strict too, where an event's prefix is what is wrong. */
	struct uxt_reader r;
	struct uxt_event ev;
	file_header(&t, 1);
	event_header(&t, 0x77, 0, 0, 0);
	for (int quiet = 0; quiet < 2; quiet++) {
		CHECK((quiet ? uxt_open_quiet : uxt_open)(&r, t.b, t.n, false) == 0);
		CHECK_EQ(uxt_next(&r, &ev), -1);
		CHECK(quiet ? !r.err[0] : strstr(r.err, "unknown event kind") != NULL);
	}
	/* Quiet from the open: a header that fails (not a trace, cut short,
	 * another version) fails the same, with no message. */
	static const struct { size_t len; u16 version; const char *says; } bad[] = {
		{ 3, UXT_VERSION, "bad magic" }, { UXT_HEADER_SIZE - 1, UXT_VERSION, "truncated file header" },
		{ UXT_HEADER_SIZE, UXT_VERSION + 1, "unsupported trace version" },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		file_header(&t, 0);
		uxt_put16(t.b + UXT_HDR_OFF_VERSION, bad[i].version);
		if (i == 0)
			t.b[0] ^= 1;
		for (int lenient = 0; lenient < 2; lenient++) {
			CHECK_EQ(uxt_open(&r, t.b, bad[i].len, lenient), -1);
			CHECK(strstr(r.err, bad[i].says) != NULL);
			memset(r.err, 'x', sizeof(r.err));
			CHECK_EQ(uxt_open_quiet(&r, t.b, bad[i].len, lenient), -1);
			CHECK(!r.err[0]);
		}
	}
	file_header(&t, 0);
	CHECK_EQ(uxt_open_quiet(&r, t.b, t.n, false), 0);
	CHECK(r.quiet);
}

/* Deterministic xorshift64*: the same inputs on every run and machine. */
static u64 rng_state;
static u64 rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Read everything the reader accepts, dumping it too (the dump decodes
 * payloads, so it must be as safe as the reader on hostile input). */
static void read_and_dump(const u8 *buf, size_t len, bool lenient, FILE *sink)
{
	struct uxt_reader r;
	struct uxt_event ev;
	if (uxt_open(&r, buf, len, lenient))
		return;
	while (uxt_next(&r, &ev) > 0 && uxt_dump_event(sink, &ev, ev.index) == 0)
		;
}

/* Mostly known tags with plausible sizes, so that random events get past
 * the framing checks and into the item checks and the decoders. */
static void random_items(struct buf *it)
{
	static const u8 tags[] = { UXT_IT_VMCS_IN, UXT_IT_REG_IN, UXT_IT_MEM_IN,
		UXT_IT_CPUID_IN, UXT_IT_TSC_IN, UXT_IT_DATA, UXT_IT_VMCS_OUT,
		UXT_IT_REG_OUT, UXT_IT_P2M_OUT, UXT_IT_IOREQ_OUT, UXT_IT_FATE_OUT,
		UXT_IT_STATUS_OUT, UXT_IT_MEM_OUT, UXT_IT_CONSOLE_OUT, 0x7f, 0xfe };
	static const u16 sizes[] = { 0, 1, 8, 9, 12, 24, 40 };
	u8 payload[64];
	it->n = 0;
	for (u64 k = rng() % 6; k; k--) {
		for (unsigned i = 0; i < sizeof(payload); i++)
			payload[i] = (u8)rng();
		item(it, tags[rng() % ARRAY_SIZE(tags)], (u8)(rng() % 3 ? rng() % 8 : rng()),
		     payload, sizes[rng() % ARRAY_SIZE(sizes)]);
	}
}

/* Whole events, framed right, with random kinds, flags and contents. */
static void random_events(struct buf *t)
{
	struct buf it;
	file_header(t, rng() % 4);
	for (u64 k = rng() % 8; k; k--) {
		u8 kind = (u8)(rng() % 5), pre = kind == UXT_EV_EXIT ? 4 : 8 + 8 * (u8)(rng() % 6);
		random_items(&it);
		event_header(t, kind, (u8)(rng() % 4 ? 1 : rng()), (u16)(rng() % 70),
			     pre + it.n);
		add_u8(t, (u8)(rng() % 6));
		for (u8 i = 1; i < pre; i++)
			add_u8(t, (u8)(rng() % 8 ? 0 : rng()));
		add(t, it.b, it.n);
	}
	if (rng() % 4 == 0)
		t->n -= (u32)(rng() % (t->n + 1)); /* and sometimes cut short */
}

/* Random bytes behind a valid header, random mutations of a valid trace,
 * and random well-framed events, each in an exactly sized heap copy so
 * that ASan catches any read past the end. */
TEST(trace_lenient_random_bytes)
{
	struct buf good, t;
	FILE *sink = fopen("/dev/null", "w");
	CHECK(sink);
	CHECK(write_sample_mem(&good) == 0);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (int iter = 0; iter < 30000; iter++) {
		if (iter % 3 == 0) {
			t = good;
			for (u64 k = rng() % 8 + 1; k; k--)
				t.b[rng() % t.n] = (u8)rng();
		} else if (iter % 3 == 1) {
			file_header(&t, 0);
			for (u32 k = (u32)(rng() % 600); k; k--)
				add_u8(&t, (u8)(rng() % 5 ? rng() % 8 : rng()));
		} else {
			random_events(&t);
		}
		u8 *copy = malloc(t.n);
		CHECK(copy);
		memcpy(copy, t.b, t.n);
		read_and_dump(copy, t.n, true, sink);
		read_and_dump(copy, t.n, false, sink);
		free(copy);
	}
	fclose(sink);
}

/* ---- Dump ---------------------------------------------------------------- */

TEST(trace_dump)
{
	struct buf t;
	struct uxt_reader r;
	struct uxt_event ev;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	CHECK(out);
	CHECK(write_sample_mem(&t) == 0);
	CHECK(uxt_open(&r, t.b, t.n, false) == 0);
	uxt_dump_header(out, &r.hdr);
	while (uxt_next(&r, &ev) > 0)
		uxt_dump_event(out, &ev, ev.index);
	fclose(out);
	static const char *const want[] = {
		"3 events", "MARK \"start \xc3\xa9\"", "EXIT WRMSR (32) d3 v2",
		"VMCS EXIT_REASON (0x4402) = 0x20", "rcx = 0xc0000080  MSR IA32_EFER",
		"inject #GP(0)", "CPUID leaf 0x1", "TSC 0x3039",
		"MEM gpa 0x1000, 3 bytes: aa 00 00", "P2M gfn 0x42 order 0 perms rwx type 1",
		"IOREQ PIO out port 0x3f8 size 1 count 1 data 0x41",
		"CONSOLE \"hi\\n\"", "FATE CRASHED: access to guest-physical memory",
		"HOSTCALL POPULATE (0x05) args 0x1, 0x100, 0xffffffffffffffff",
		"DATA 3 bytes: 01 02 03", "STATUS -22 (invalid argument)",
	};
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		if (!strstr(text, want[i])) {
			printf("    missing \"%s\" in:\n%s", want[i], text);
			free(text);
			CHECK(0);
		}
	}
	free(text);
}

TEST(trace_dump_reports_bad_item)
{
	struct buf t, it;
	struct uxt_reader r;
	struct uxt_event ev;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	CHECK(out);
	it.n = 0;
	item_u64(&it, UXT_IT_TSC_IN, 0, 1);
	item_u64(&it, 0x70, 0, 1);
	one_exit(&t, &it);
	CHECK(uxt_open(&r, t.b, t.n, false) == 0 && uxt_next(&r, &ev) == 1);
	int rc = uxt_dump_event(out, &ev, 0);
	fclose(out);
	bool listed = strstr(text, "TSC 0x1") &&
		      strstr(text, "error: offset 56: unknown item tag 0x70");
	free(text);
	CHECK_EQ(rc, -1);
	CHECK(listed);
}
