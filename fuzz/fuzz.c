/* Shared machinery of the fuzz targets (see fuzz.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz.h"
#include "engine.h"
#include "hv/regs.h"

#define FZ_TRACE_CAP (2u << 20)

static u8 trace_buf[FZ_TRACE_CAP];
static const char *out_path;
static bool no_abort, fresh, want_digest;
int fz_last_status; /* worst status of a run (reproducer mode) */
bool fz_wrote_trace; /* -o: a trace was written */
u64 fz_last_digest;

void fz_set_fresh(bool on) { fresh = on; want_digest = true; }

void fz_set_output(const char *path) { out_path = path; }
void fz_set_no_abort(bool on) { no_abort = on; }
bool fz_no_abort(void) { if (no_abort) fz_last_status = 3; return no_abort; }

void fz_begin_frames(struct fz *f, u32 frames)
{
	f->events = 0;
	f->setup = 0;
	f->setup_base = 0;
	uxt_writer_mem(&f->w, trace_buf, sizeof(trace_buf), 0, frames);
	/* fz_run() replays the trace at once with the strict reader, which
	 * checks every event anyway: checking each as it is written too
	 * was 2-3% of the hypercalls target's time. */
	f->w.unchecked = true;
}

void fz_begin(struct fz *f)
{
	fz_begin_frames(f, FZ_MEM_FRAMES);
}

/* FUZZ_MAX_EVENTS=N (1 .. FZ_MAX_EVENTS): a lower cap, read once; for
 * benchmarks of short inputs (make bench: exits at 16 events). */
static u32 max_events(void)
{
	static u32 cap;
	if (!cap) {
		const char *e = getenv("FUZZ_MAX_EVENTS");
		char *end;
		unsigned long n = e ? strtoul(e, &end, 10) : 0;
		/* digits only: strtoul would skip spaces and take a sign */
		if (e && (*e < '0' || *e > '9' || *end || n < 1 || n > FZ_MAX_EVENTS)) {
			fprintf(stderr, "fuzz: FUZZ_MAX_EVENTS must be 1 to %u\n", FZ_MAX_EVENTS);
			exit(2);
		}
		cap = n ? (u32)n : FZ_MAX_EVENTS;
	}
	return cap;
}

bool fz_more(const struct fz *f)
{
	/* Leave room for the largest event an input can add. */
	return !f->w.failed && f->events < max_events() &&
	       f->w.cap - f->w.len > 64 * 1024;
}

void fz_call(struct fz *f, u32 nr, u64 a0, u64 a1, u64 a2, u64 a3,
	     const void *data, u32 len)
{
	u64 args[4] = { a0, a1, a2, a3 };
	/* Static: on the stack, ASan would poison and unpoison 64 KiB of
	 * redzone shadow on every call (10% of the exits target's time). */
	static u8 items[4 + 0xffff];
	u32 n = 0;
	if (data && len) {
		if (len > 0xffff - 4)
			len = 0xffff - 4;
		items[0] = UXT_IT_DATA;
		items[1] = 0;
		uxt_put16(items + 2, (u16)len);
		memcpy(items + 4, data, len);
		n = 4 + len;
	}
	uxt_write_hostcall(&f->w, 0, (u16)nr, 4, args, items, n);
}

void fz_exit_raw(struct fz *f, u16 reason, u16 domid, u16 vcpu,
		 const u8 *items, u32 len)
{
	uxt_write_exit(&f->w, 0, reason, domid, vcpu, len ? items : NULL, len);
}

void fz_exit(struct fz *f, u16 reason, u16 domid, u16 vcpu,
	     const struct fz_items *it)
{
	fz_exit_raw(f, reason, domid, vcpu, it ? it->buf : NULL, it ? it->len : 0);
}

void fz_items_reset(struct fz_items *it) { it->len = 0; }

static u8 *item_room(struct fz_items *it, u8 tag, u8 aux, u32 len)
{
	if (len > 0xffff || sizeof(it->buf) - it->len < 4 + len)
		return NULL;
	u8 *p = it->buf + it->len;
	p[0] = tag;
	p[1] = aux;
	uxt_put16(p + 2, (u16)len);
	it->len += 4 + len;
	return p + 4;
}

void fz_item_raw(struct fz_items *it, const u8 *raw, u32 len)
{
	if (sizeof(it->buf) - it->len < len)
		return;
	memcpy(it->buf + it->len, raw, len);
	it->len += len;
}

void fz_item_vmcs(struct fz_items *it, u32 enc, u64 val)
{
	u8 *p = item_room(it, UXT_IT_VMCS_IN, 0, 12);
	if (p) {
		uxt_put32(p, enc);
		uxt_put64(p + 4, val);
	}
}

void fz_item_reg(struct fz_items *it, unsigned gpr, u64 val)
{
	u8 *p = item_room(it, UXT_IT_REG_IN, (u8)gpr, 8);
	if (p)
		uxt_put64(p, val);
}

void fz_item_mem(struct fz_items *it, u64 gpa, const void *data, u32 len)
{
	u8 *p = item_room(it, UXT_IT_MEM_IN, 0, 8 + len);
	if (p) {
		uxt_put64(p, gpa);
		memcpy(p + 8, data, len);
	}
}

/* ---- items of a lenient reader's events ----
 * Here rather than in a target: this file is built plain (no ASan, no
 * coverage), and the item iterator's fast path inlines into it; every
 * input runs these loops over every item the same way, with no decision
 * worth coverage. */

/* One pass finds whether the items are one run of the input's own bytes
 * (what recorded traces hold, and most mutants of them): no copy then. */
u32 fz_exit_inputs(const struct uxt_event *ev, struct fz_items *items, const u8 **raw)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	const u8 *end = ev->items;
	bool run = true;
	uxt_items_begin(&it, ev);
	while (uxt_items_next(&it, &item) > 0 && !(item.tag & UXT_IT_OUTPUT)) {
		run = run && item.tag != UXT_IT_DATA;
		end = item.data + item.len;
	}
	if (run && !it.skipped && (size_t)(end - ev->items) <= sizeof(items->buf)) {
		*raw = ev->items;
		return (u32)(end - ev->items);
	}
	fz_items_reset(items);
	uxt_items_begin(&it, ev);
	while (uxt_items_next(&it, &item) > 0 && !(item.tag & UXT_IT_OUTPUT))
		if (item.tag != UXT_IT_DATA)
			fz_item_raw(items, item.raw, 4u + item.len);
	*raw = items->buf;
	return items->len;
}

const u8 *fz_call_payload(const struct uxt_event *ev, u32 *len)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	uxt_items_begin(&it, ev);
	while (uxt_items_next(&it, &item) > 0 && !(item.tag & UXT_IT_OUTPUT)) {
		if (item.tag == UXT_IT_DATA) {
			*len = item.len;
			return item.data;
		}
	}
	*len = 0;
	return NULL;
}

/* ---- the template domain ---- */

static void set_state(struct fz *f, u16 d, u16 vcpu, const u64 (*kv)[2], unsigned n)
{
	u8 buf[16 * 16];
	for (unsigned i = 0; i < n; i++) {
		uxt_put32(buf + 16 * i, (u32)kv[i][0]);
		uxt_put32(buf + 16 * i + 4, 0);
		uxt_put64(buf + 16 * i + 8, kv[i][1]);
	}
	fz_call(f, HC_VCPU_SET_STATE, d, vcpu, 0, 0, buf, 16 * n);
}

/* The MMIO moves of the scenario guests at FZ_CODE (mov [rax], ebx;
 * mov eax, [rbx+4]; mov byte [rdi], 0x41; movzx ecx, word [rsi]). */
static const u8 mmio_code[] = { 0x89, 0x18, 0x8b, 0x43, 0x04, 0xc6, 0x07, 0x41,
				0x0f, 0xb7, 0x0e };

/* The template's set-up events are the same for every input: written once,
 * and kept at the start of the trace buffer (later inputs only reset the
 * writer to just after them). The replay engine keeps their result too
 * (replay_opts.prefix_events): an input costs its own events and a fork. */
static struct {
	bool valid;
	unsigned vcpus;
	u32 frames;
	u64 hdr_len, len, nr_events;
} tpl;

/* The input's own domain, the set-up's last part: a lazy fork of the
 * template, running. The replay engine resets it between inputs rather
 * than destroying it and forking again (see replay/kept.c). */
static u16 fork_child(struct fz *f, u16 tpl_id, u16 child)
{
	f->setup_base = f->w.nr_events;
	fz_call(f, HC_FORK, tpl_id, 1, 0, 0, NULL, 0);
	fz_call(f, HC_DOMAIN_UNPAUSE, child, 0, 0, 0, NULL, 0);
	fz_setup_done(f);
	return child;
}

u16 fz_template(struct fz *f, unsigned nr_vcpus)
{
	static const u64 state[][2] = {
		{ VMCS_GUEST_CR0, 0x80000031 }, { VMCS_GUEST_CR4, 0x20 },
		{ VMCS_GUEST_CR3, FZ_PML4 },    { VMCS_GUEST_IA32_EFER, 0x500 },
		{ VMCS_GUEST_CS_AR, 0xa09b },   { VMCS_GUEST_SS_AR, 0xc093 },
		{ VMCS_GUEST_RIP, FZ_CODE },    { VMCS_GUEST_RSP, 0x8000 },
	};
	/* The page tables' non-zero entries (populated RAM is zero): a
	 * few 8-byte loads rather than 16 KiB, most of it zeros. */
	const u64 pte[][2] = {
		{ FZ_PML4, FZ_PDPT | 3 },
		{ FZ_PDPT, FZ_PD_LOW | 3 },
		{ FZ_PDPT + 3 * 8, FZ_PD_HIGH | 3 },
		{ FZ_PD_LOW, 0x83 }, /* 0-2 MiB, identity */
		{ FZ_PD_HIGH + ((FZ_MMIO_GPA >> 21) & 511) * 8,
		  (FZ_MMIO_GPA & ~0x1fffffull) | 0x83 },
	};
	const u16 d = FZ_TEMPLATE, child = FZ_CHILD;
	u32 frames = uxt_get32(trace_buf + UXT_HDR_OFF_MEM_FRAMES);
	if (tpl.valid && tpl.vcpus == nr_vcpus && tpl.frames == frames &&
	    f->w.mem == trace_buf && !f->w.failed && f->w.nr_events == 0 &&
	    f->w.len == tpl.hdr_len) {
		f->w.len = tpl.len;
		f->w.nr_events = tpl.nr_events;
		return fork_child(f, d, child);
	}
	u64 hdr_len = f->w.len;
	fz_call(f, HC_DOMAIN_CREATE, nr_vcpus, FZ_MAX_FRAMES, 0, 0, NULL, 0);
	fz_call(f, HC_POPULATE, d, 0, FZ_RAM_FRAMES, 0, NULL, 0);
	fz_call(f, HC_MMIO_MAP, d, FZ_MMIO_GFN, 1, 0, NULL, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(pte); i++) {
		u8 e[8];
		uxt_put64(e, pte[i][1]);
		fz_call(f, HC_LOAD, d, pte[i][0], 0, 0, e, sizeof(e));
	}
	fz_call(f, HC_LOAD, d, FZ_CODE, 0, 0, mmio_code, sizeof(mmio_code));
	/* Every other page distinct (a mark in its last bytes): re-merging
	 * finds nothing to merge inside the template, only between it and
	 * the inputs' copies, so the engine's kept template survives it. */
	for (u64 gfn = 0; gfn < FZ_RAM_FRAMES; gfn++) {
		u8 e[8];
		if (gfn >= (FZ_PML4 >> 12) && gfn <= (FZ_PD_HIGH >> 12))
			continue; /* the page tables differ already */
		uxt_put64(e, 0x7a78656e00000000ull | gfn);
		fz_call(f, HC_LOAD, d, (gfn << 12) + 0xff8, 0, 0, e, sizeof(e));
	}
	for (unsigned v = 0; v < nr_vcpus; v++)
		set_state(f, d, (u16)v, state, ARRAY_SIZE(state));
	/* A first fork makes d1 a template (its frames shared, read-only);
	 * that fork goes again, so that every input's fork is a later one. */
	fz_call(f, HC_FORK, d, 1, 0, 0, NULL, 0);
	fz_call(f, HC_DOMAIN_DESTROY, child, 0, 0, 0, NULL, 0);
	tpl.valid = f->w.mem == trace_buf && !f->w.failed;
	tpl.vcpus = nr_vcpus;
	tpl.frames = frames;
	tpl.hdr_len = hdr_len;
	tpl.len = f->w.len;
	tpl.nr_events = f->w.nr_events;
	return fork_child(f, d, child);
}

void fz_setup_done(struct fz *f)
{
	f->setup = f->w.nr_events;
}

/* ---- running, and turning a failure into a trace ---- */

/* The trace as it ran: the events before `events` (all of them after a
 * failure: up to and including the failing one) less those the engine
 * skipped (exits on vCPUs that could not run, which changed nothing), in
 * place. Returns its length. */
static u8 skipped[256]; /* set-up + FZ_MAX_EVENTS fit, whatever the target */
_Static_assert(FZ_MAX_EVENTS + 64 <= sizeof(skipped), "room for every event");

static size_t trace_that_ran(u8 *buf, size_t len, u64 events)
{
	struct uxt_reader rd;
	struct uxt_event ev;
	if (uxt_open(&rd, buf, len, false))
		return len;
	size_t out = rd.pos;
	u64 kept = 0;
	tpl.valid = false; /* rewritten in place: written afresh next time */
	for (u64 i = 0; i < events; i++) {
		size_t from = rd.pos;
		if (uxt_next(&rd, &ev) <= 0)
			break;
		if (i < sizeof(skipped) && skipped[i])
			continue;
		memmove(buf + out, buf + from, rd.pos - from);
		out += rd.pos - from;
		kept++;
	}
	uxt_put64(buf + UXT_HDR_OFF_EVENT_COUNT, kept);
	return out;
}

/* The trace to out_path, with plain system calls: the sanitizers' death
 * hook below writes it too, when the heap may be what broke. */
static bool put_trace(const u8 *buf, size_t len)
{
	int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t done = 0;
	while (fd >= 0 && done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	bool ok = fd >= 0 && done == len;
	if (fd >= 0 && close(fd))
		ok = false;
	fz_wrote_trace |= ok;
	return ok;
}

static void write_trace(const u8 *buf, size_t len)
{
	if (!put_trace(buf, len)) {
		fprintf(stderr, "fuzz: cannot write %s\n", out_path);
		exit(2);
	}
	fprintf(stderr, "fuzz: wrote %s (%zu bytes); reproduce: uxen-replay %s\n",
		out_path, len, out_path);
}

/* A finding that a sanitizer reports (ASan, UBSan) ends the process in
 * the middle of the run, before the trace is written. The sanitizers call
 * a hook as they die: it writes the trace that ran so far, up to and
 * including the event that was running, for an ASan build of uxen-replay
 * to reproduce. The hook is weak, for the builds without sanitizers. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static struct {
	bool armed;
	size_t len;
	const struct replay_result *res; /* its count of events run so far */
} dying;

static void say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		return; /* nothing more to do about it while dying */
}

static void write_dying_trace(void)
{
	if (!dying.armed)
		return;
	dying.armed = false;
	size_t len = trace_that_ran(trace_buf, dying.len, dying.res->st.events);
	if (!put_trace(trace_buf, len)) {
		say("fuzz: cannot write the trace of the failed run to ");
		say(out_path);
		say("\n");
		return;
	}
	say("fuzz: wrote ");
	say(out_path);
	say(", the run up to the sanitizer's report; reproduce with an ASan uxen-replay "
	    "(build/asan-clang/uxen-replay)\n");
}

/* FUZZ_VERBOSE=1: say how far each input got (seed and corpus triage). */
static bool verbose(void)
{
	static int v = -1;
	if (v < 0)
		v = getenv("FUZZ_VERBOSE") != NULL;
	return v;
}

int fz_run(struct fz *f, const char *target)
{
	static FILE *devnull;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (uxt_writer_close(&f->w)) /* a full buffer: run what fitted */
		uxt_put64(trace_buf + UXT_HDR_OFF_EVENT_COUNT, f->w.nr_events);
	size_t len = (size_t)f->w.len;
	/* Exits on vCPUs that cannot run (crashed, paused, waiting for I/O,
	 * missing) are skipped rather than ending the input there: the rest
	 * of it still runs, and the trace written out leaves them out. */
	memset(skipped, 0, f->w.nr_events < sizeof(skipped) ? f->w.nr_events : sizeof(skipped));
	struct replay_opts o = {
		.no_check = true, .check_every = 1, .check_from = f->setup,
		.reuse_core = !fresh, .prefix_events = fresh ? 0 : f->setup,
		.base_events = fresh ? 0 : f->setup_base,
		.digest = want_digest, .skip_stalled = true, .untimed = true,
		.skipped = skipped, .skipped_len = sizeof(skipped),
		.log = devnull, .name = NULL,
	};
	struct replay_result res = { 0 };
	if (out_path) {
		static bool hooked;
		if (!hooked && __sanitizer_set_death_callback)
			__sanitizer_set_death_callback(write_dying_trace);
		hooked = true;
		dying.armed = true;
		dying.len = len;
		dying.res = &res;
	}
	int rc = replay_buffer(trace_buf, len, &o, &res);
	dying.armed = false;
	fz_last_digest = res.digest ^ (u64)rc;
	/* FUZZ_DET_SELFTEST=1: every run differs, so that the test suite can
	 * see the determinism check (reproducer -d) fail. */
	static int selftest = -1;
	static u64 runs;
	if (selftest < 0)
		selftest = getenv("FUZZ_DET_SELFTEST") != NULL;
	if (selftest)
		fz_last_digest += ++runs;
	/* What the fuzzer saw (FUZZ_VERBOSE says it, also with -o, so that a
	 * test can hold uxen-replay's status against it). */
	if (verbose())
		fprintf(stderr, "fuzz %s: status %d after %llu events (%llu exits, %llu skipped)%s%s\n",
			target, rc, (unsigned long long)res.st.events,
			(unsigned long long)(res.st.exits - res.st.skipped),
			(unsigned long long)res.st.skipped, rc ? ": " : "", rc ? res.msg : "");
	if (out_path) {
		/* Reproducer mode: write the trace that ran, and report what it
		 * does run standalone, as uxen-replay runs it (fresh core,
		 * strict, invariants after every event): the same status and
		 * message. */
		int was = rc;
		len = trace_that_ran(trace_buf, len, rc == REPLAY_HV_FAILED
						      ? res.st.events : ~0ull);
		write_trace(trace_buf, len);
		struct replay_opts so = { .no_check = true, .check_every = 1,
					  .log = devnull };
		rc = replay_buffer(trace_buf, len, &so, &res);
		if ((rc == REPLAY_HV_FAILED) != (was == REPLAY_HV_FAILED))
			fprintf(stderr, "fuzz %s: NOT DETERMINISTIC: status %d in the fuzzer, %d standalone\n",
				target, was, rc);
	}
	if (rc == REPLAY_HV_FAILED) {
		fprintf(stderr, "fuzz %s: hypervisor failure: %s\n", target, res.msg);
		if (!no_abort)
			abort();
		fz_last_status = 3;
	}
	return rc;
}

/* ---- input decoding ---- */

u8 fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Little-endian, low part first. The reads are separate statements: the
 * operands of | (and a call's arguments) are evaluated in no fixed order,
 * and gcc (the coverage build) and clang must read an input alike. */
u16 fz_u16(struct fz_in *in)
{
	u16 lo = fz_u8(in);
	return (u16)(lo | fz_u8(in) << 8);
}

u32 fz_u32(struct fz_in *in)
{
	u32 lo = fz_u16(in);
	return lo | (u32)fz_u16(in) << 16;
}

u64 fz_u64(struct fz_in *in)
{
	u64 lo = fz_u32(in);
	return lo | (u64)fz_u32(in) << 32;
}

u64 fz_val(struct fz_in *in)
{
	u8 k = fz_u8(in);
	switch (k >> 5) {
	case 0: case 1: case 2:
		return k & 0x1f;                       /* small */
	case 3:
		return fz_u8(in);
	case 4:
		return fz_u16(in);
	case 5: {
		static const u64 edge[] = { 0x7fffffffull, 0x80000000ull, 0xffffffffull,
					    1ull << 32, 1ull << 36, (1ull << 36) - 1,
					    1ull << 48, 0x00007fffffffffffull,
					    0x0000800000000000ull, 0xffff800000000000ull,
					    0x7fffffffffffffffull, 0x8000000000000000ull,
					    ~0ull, ~0ull - 1, 1u << 20, (1u << 20) + 1 };
		return edge[k & 15];
	}
	case 6:
		return fz_u32(in);
	default:
		return fz_u64(in);
	}
}

#define FZ_C_HOST 1
#define FZ_C_GUEST 2
#define FZ_C_BOTH 3
const struct fz_hc fz_hcs[] = {
#define X(name, nr, callers, nargs, a0, a1, a2, a3)                            \
	{ #name, nr, FZ_C_##callers, nargs,                                    \
	  { FZ_ARG_##a0, FZ_ARG_##a1, FZ_ARG_##a2, FZ_ARG_##a3 } },
#include "hv/tables/hypercalls.def"
#undef X
};
const unsigned fz_nr_hcs = ARRAY_SIZE(fz_hcs);

const struct fz_hc *fz_hc_find(u32 nr)
{
	for (unsigned i = 0; i < fz_nr_hcs; i++)
		if (fz_hcs[i].nr == nr)
			return &fz_hcs[i];
	return NULL;
}

u64 fz_arg(struct fz_in *in, u8 kind, u16 dom, u32 nr_doms)
{
	u8 sel = fz_u8(in);
	if ((sel & 7) == 7)
		return fz_val(in); /* hostile */
	switch (kind) {
	case FZ_ARG_DOM:
		return nr_doms ? 1 + sel % nr_doms : dom;
	case FZ_ARG_VCPU:
		return sel & 1;
	case FZ_ARG_GFN:
		return (sel & 8) ? FZ_MMIO_GFN : sel % (FZ_RAM_FRAMES + 16);
	case FZ_ARG_COUNT:
		return 1 + sel % 16;
	case FZ_ARG_ORDER:
		return (sel & 8) ? 9 : 0;
	case FZ_ARG_GPA:
		return ((sel & 8) ? FZ_MMIO_GPA : (u64)(sel % FZ_RAM_FRAMES) << 12) +
		       (fz_u8(in) << 4);
	case FZ_ARG_LEN:
		return 1 + fz_u8(in);
	case FZ_ARG_VAL:
		return fz_val(in);
	}
	return 0;
}
