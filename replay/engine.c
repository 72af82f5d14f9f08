/* The replay engine (see engine.h). Each EXIT event is applied like the
 * hardware would present it: its input items go into the simulated VMCS,
 * the register file, guest memory and the simulated CPU; the core's real
 * exit dispatch runs; the outputs it records are compared byte for byte
 * with the recorded ones, and decoded only when they differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "replay_impl.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "sim.h"

void replay_fail(struct replay *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->res->msg, sizeof(r->res->msg), fmt, ap);
	va_end(ap);
	r->res->status = status;
}

static const char *ev_reason_name(const struct uxt_event *ev)
{
	return ev->kind == UXT_EV_EXIT ? exit_reason_name(ev->arg)
	       : ev->kind == UXT_EV_HOSTCALL ? hypercall_name(ev->arg)
					     : uxt_kind_name(ev->kind);
}

/* ---- inputs ---- */

static int apply_input(struct replay *r, struct hv_vcpu *v, const struct uxt_item *it)
{
	switch (it->tag) {
	case UXT_IT_VMCS_IN: {
		u32 enc = uxt_get32(it->data);
		u64 val = uxt_get64(it->data + 4);
		if (enc == VMCS_EXIT_REASON && (val & 0xffff) != r->ev.arg) {
			replay_fail(r, REPLAY_BAD_TRACE,
			     "offset %llu: exit reason %llu in the VMCS input disagrees with the event's %u",
			     (unsigned long long)it->offset,
			     (unsigned long long)(val & 0xffff), r->ev.arg);
			return -1;
		}
		if (sim_vmcs_set(enc, val) == 0)
			return 0;
		replay_fail(r, REPLAY_BAD_TRACE, "offset %llu: unknown VMCS field 0x%x",
		     (unsigned long long)it->offset, enc);
		return -1;
	}
	case UXT_IT_REG_IN:
		if (it->aux < 16 && it->aux != 4) {
			hv_vcpu_gprs(v)[it->aux] = uxt_get64(it->data);
			return 0;
		}
		replay_fail(r, REPLAY_BAD_TRACE, "offset %llu: bad register number %u",
		     (unsigned long long)it->offset, it->aux);
		return -1;
	case UXT_IT_MEM_IN: {
		u64 args[4] = { hv_vcpu_domid(v), uxt_get64(it->data), 0, 0 };
		if (hv_host_call(HC_LOAD, args, it->data + 8, it->len - 8u) == 0)
			return 0;
		replay_fail(r, REPLAY_BAD_TRACE,
		     "offset %llu: memory input at gpa 0x%llx (%u bytes) is not writable RAM of d%u",
		     (unsigned long long)it->offset, (unsigned long long)args[1],
		     it->len - 8u, hv_vcpu_domid(v));
		return -1;
	}
	case UXT_IT_CPUID_IN: {
		u32 regs[4];
		for (int i = 0; i < 4; i++)
			regs[i] = uxt_get32(it->data + 8 + 4 * i);
		if (sim_feed_cpuid(uxt_get32(it->data), uxt_get32(it->data + 4), regs) == 0)
			return 0;
		break;
	}
	case UXT_IT_TSC_IN:
		if (sim_feed_tsc(uxt_get64(it->data)) == 0)
			return 0;
		break;
	default:
		if (r->o->lenient)
			return 0;
		replay_fail(r, REPLAY_BAD_TRACE, "offset %llu: %s item is not an input of an exit",
		     (unsigned long long)it->offset, uxt_tag_name(it->tag));
		return -1;
	}
	replay_fail(r, REPLAY_BAD_TRACE, "offset %llu: too many %s inputs in one exit",
	     (unsigned long long)it->offset, uxt_tag_name(it->tag));
	return -1;
}

/* ---- outputs ---- */

/* "field = value" of an output item, for divergence reports. */
static void describe(char *buf, size_t len, const struct uxt_item *it)
{
	switch (it->tag) {
	case UXT_IT_VMCS_OUT:
		snprintf(buf, len, "VMCS %s = 0x%llx", vmcs_field_name(uxt_get32(it->data)),
			 (unsigned long long)uxt_get64(it->data + 4));
		return;
	case UXT_IT_REG_OUT:
		snprintf(buf, len, "register %s = 0x%llx", uxt_gpr_name(it->aux),
			 (unsigned long long)uxt_get64(it->data));
		return;
	case UXT_IT_FATE_OUT:
		snprintf(buf, len, "fate %s (reason %u: %s, arg 0x%llx)",
			 uxt_fate_name(it->aux), uxt_get32(it->data),
			 crash_reason_text(uxt_get32(it->data)),
			 (unsigned long long)uxt_get64(it->data + 4));
		return;
	case UXT_IT_STATUS_OUT:
		snprintf(buf, len, "status %lld", (long long)uxt_get64(it->data));
		return;
	case UXT_IT_P2M_OUT:
		snprintf(buf, len, "p2m gfn 0x%llx order %u perms %u type %u",
			 (unsigned long long)uxt_get64(it->data), it->data[8],
			 it->data[9], it->data[10]);
		return;
	}
	int n = snprintf(buf, len, "%s (%u bytes:", uxt_tag_name(it->tag), it->len);
	for (u32 i = 0; i < it->len && i < 24 && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, " %02x", it->data[i]);
	if (n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%s)", it->len > 24 ? " ..." : "");
}

/* Every divergence is logged as it happens; the result keeps the first
 * (with --keep-going, the summary names it). */
static void report(struct replay *r, u32 k, const char *exp, const char *got)
{
	struct replay_result *res = r->res;
	char line[sizeof(res->msg)];
	snprintf(line, sizeof(line), "event %llu (offset %llu) %s d%u: output %u: expected %s, got %s",
		 (unsigned long long)r->ev.index, (unsigned long long)r->ev.offset,
		 ev_reason_name(&r->ev), r->ev.domid, k, exp, got);
	if (res->st.divergences++ == 0)
		memcpy(res->msg, line, sizeof(line));
	fprintf(r->o->log ? r->o->log : stderr, "%s%sdivergence: %s\n",
		r->o->name ? r->o->name : "", r->o->name ? ": " : "", line);
}

/* Outputs differ somewhere: find the first item that does and say how. */
static int diverged(struct replay *r, const u8 *rec, u32 rec_len, u64 rec_off,
		    const u8 *got, u32 got_len)
{
	struct uxt_item_iter ei, gi;
	struct uxt_item e, g;
	char eb[200], gb[200];
	uxt_items_begin_buf(&ei, rec, rec_len, rec_off, false);
	uxt_items_begin_buf(&gi, got, got_len, rec_off, false);
	for (u32 k = 0;; k++) {
		int en = uxt_items_next(&ei, &e), gn = uxt_items_next(&gi, &g);
		if (en < 0) {
			replay_fail(r, REPLAY_BAD_TRACE, "%s", ei.err);
			return -1;
		}
		if (gn < 0) {
			replay_fail(r, REPLAY_HV_FAILED, "recorder produced a bad item: %s", gi.err);
			return -1;
		}
		if (en == 0 && gn == 0)
			return 0; /* equal after all (cannot happen after memcmp) */
		if (en && gn && e.len == g.len && !memcmp(e.raw, g.raw, 4u + e.len))
			continue;
		if (en)
			describe(eb, sizeof(eb), &e);
		if (gn)
			describe(gb, sizeof(gb), &g);
		report(r, k, en ? eb : "nothing more", gn ? gb : "nothing more");
		return 1;
	}
}

static int compare(struct replay *r, const u8 *rec, u32 rec_len, u64 rec_off,
		   const u8 *got, u32 got_len)
{
	if (rec_len == got_len && !memcmp(rec, got, rec_len))
		return 0;
	int rc = diverged(r, rec, rec_len, rec_off, got, got_len);
	if (rc > 0 && !r->o->keep_going) {
		r->res->status = REPLAY_DIVERGED;
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

/* ---- events ---- */

/* replay_opts.digest: FNV-1a over what the core produced, event by event. */
static void digest(struct replay *r, const void *p, size_t n)
{
	const u8 *b = p;
	u64 h = r->res->digest;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	r->res->digest = h;
}

static int run_exit(struct replay *r)
{
	const struct uxt_event *ev = &r->ev;
	struct hv_domain *d = hv_domain_get(ev->domid);
	struct hv_vcpu *v = hv_vcpu_get(d, ev->vcpu);
	if ((!v || !hv_vcpu_runnable(v)) && r->o->skip_stalled) {
		/* Nothing has changed yet: as if the event were not there. */
		r->res->st.skipped++;
		if (ev->index < r->o->skipped_len)
			r->o->skipped[ev->index] = 1;
		return 0;
	}
	if (!v) {
		replay_fail(r, REPLAY_BAD_TRACE, "offset %llu: exit on d%u vcpu %u, which does not exist",
		     (unsigned long long)ev->offset, ev->domid, ev->vcpu);
		return -1;
	}
	if (!hv_vcpu_runnable(v)) {
		replay_fail(r, REPLAY_BAD_TRACE,
		     "offset %llu: exit on d%u vcpu %u, which cannot run now (domain not running, or waiting for an I/O completion): events out of order",
		     (unsigned long long)ev->offset, ev->domid, ev->vcpu);
		return -1;
	}
	arch_vmcs_load(v);
	sim_inputs_reset();
	sim_vmcs_set(VMCS_EXIT_REASON, ev->arg);

	struct uxt_item_iter it;
	struct uxt_item item;
	const u8 *outputs = ev->items + ev->items_len;
	u64 out_off = ev->items_offset + ev->items_len;
	int n;
	uxt_items_begin(&it, ev);
	while ((n = uxt_items_next(&it, &item)) > 0) {
		if (item.tag & UXT_IT_OUTPUT) {
			outputs = item.raw;
			out_off = item.offset;
			break;
		}
		if (apply_input(r, v, &item))
			return -1;
	}
	if (n < 0) {
		replay_fail(r, REPLAY_BAD_TRACE, "%s", it.err);
		return -1;
	}

	bool check = (ev->flags & UXT_EF_OUTPUTS) && !r->o->no_check;
	hv_rec_begin(r->out, sizeof(r->out), false);
	unsigned fate = hv_vcpu_exit(v);
	long got = hv_rec_end();
	r->res->st.by_fate[fate]++;
	r->res->st.by_reason[ev->arg < EXIT_REASON_MAX ? ev->arg : EXIT_REASON_MAX]++;
	if (got < 0) {
		replay_fail(r, REPLAY_HV_FAILED, "event %llu: outputs overflow the %u-byte buffer",
		     (unsigned long long)ev->index, OUT_CAP);
		return -1;
	}
	if (r->o->digest) {
		digest(r, &fate, sizeof(fate));
		digest(r, r->out, (size_t)got);
	}
	if (!check)
		return 0;
	u32 rec_len = (u32)(ev->items + ev->items_len - outputs);
	return compare(r, outputs, rec_len, out_off, r->out, (u32)got);
}

static int run_hostcall(struct replay *r)
{
	const struct uxt_event *ev = &r->ev;
	struct uxt_item_iter it;
	struct uxt_item item;
	const u8 *data = NULL, *outputs = ev->items + ev->items_len;
	u64 out_off = ev->items_offset + ev->items_len;
	u32 data_len = 0;
	int n;
	uxt_items_begin(&it, ev);
	while ((n = uxt_items_next(&it, &item)) > 0) {
		if (item.tag & UXT_IT_OUTPUT) {
			outputs = item.raw;
			out_off = item.offset;
			break;
		}
		if (item.tag != UXT_IT_DATA || data) {
			if (r->o->lenient)
				continue;
			replay_fail(r, REPLAY_BAD_TRACE,
			     "offset %llu: a host call takes one DATA item and no other input (found %s)",
			     (unsigned long long)item.offset, uxt_tag_name(item.tag));
			return -1;
		}
		data = item.data;
		data_len = item.len;
	}
	if (n < 0) {
		replay_fail(r, REPLAY_BAD_TRACE, "%s", it.err);
		return -1;
	}
	s64 rc = hv_host_call(ev->arg, ev->args, data, data_len);
	if (r->o->digest)
		digest(r, &rc, sizeof(rc));
	if (!(ev->flags & UXT_EF_OUTPUTS) || r->o->no_check)
		return 0;
	u8 st[12] = { UXT_IT_STATUS_OUT, 0, 8, 0 };
	uxt_put64(st + 4, (u64)rc);
	u32 rec_len = (u32)(ev->items + ev->items_len - outputs);
	return compare(r, outputs, rec_len, out_off, st, sizeof(st));
}

/* The event in the counts by kind (replayed or only parsed alike). */
static void count_kind(struct replay_stats *st, const struct uxt_event *ev)
{
	st->exits += ev->kind == UXT_EV_EXIT;
	st->hostcalls += ev->kind == UXT_EV_HOSTCALL;
	st->marks += ev->kind == UXT_EV_MARK;
}

static int run_event(struct replay *r)
{
	count_kind(&r->res->st, &r->ev);
	switch (r->ev.kind) {
	case UXT_EV_EXIT:
		return run_exit(r);
	case UXT_EV_HOSTCALL:
		return run_hostcall(r);
	}
	return 0; /* a mark; the reader skips kinds it does not know */
}

/* The check itself, apart: its message buffer is on the stack only when a
 * check runs (ASan poisons and unpoisons a stack buffer's redzones on
 * every call, and most events change nothing the checker audits). */
static __attribute__((noinline)) int run_check(struct replay *r, bool full)
{
	char msg[256];
	/* A full check of a state the fast check passed in this call needs
	 * only the part the fast one leaves out (the end of most fuzz
	 * inputs). Not of a kept core resumed unchanged: it is taken as
	 * checked because it equals the set-up's state, and the full check
	 * at the end of the call is what audits it (the previous call's
	 * reset included). */
	bool rest = full && r->checked && r->checked_here && hv_generation() == r->checked_gen;
	int rc = rest ? hv_check_free_frames(msg, sizeof(msg))
		 : full ? hv_check_invariants(msg, sizeof(msg))
			: hv_check_invariants_fast(msg, sizeof(msg));
	if (rc == 0) {
		r->checked = true;
		r->checked_here = true;
		r->checked_full = full;
		r->checked_gen = hv_generation();
		return 0;
	}
	replay_fail(r, REPLAY_HV_FAILED, "after event %llu (offset %llu): invariant broken: %s",
	     (unsigned long long)r->ev.index, (unsigned long long)r->ev.offset, msg);
	return -1;
}

/* After an event: the fast check (frames held); at the end of a set-up or
 * of the run: the full one. */
static int check_invariants(struct replay *r, bool full)
{
	if (r->checked && hv_generation() == r->checked_gen && (r->checked_full || !full))
		return 0; /* nothing it audits has changed since it last passed */
	return run_check(r, full);
}

static void progress(struct replay *r)
{
	fprintf(stderr, "\rreplay: %s%s%3.0f%% (%llu events)", r->o->name ? r->o->name : "",
		r->o->name ? " " : "", 100.0 * (double)r->rd.pos / (double)r->rd.len,
		(unsigned long long)r->res->st.events);
}

static void parse_only(struct replay *r)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	int n;
	while ((n = uxt_next(&r->rd, &r->ev)) > 0) {
		r->res->st.events++;
		count_kind(&r->res->st, &r->ev);
		if (r->ev.kind == UXT_EV_EXIT)
			r->res->st.by_reason[r->ev.arg < EXIT_REASON_MAX ? r->ev.arg
									 : EXIT_REASON_MAX]++;
		if (r->ev.kind == UXT_EV_MARK)
			continue;
		uxt_items_begin(&it, &r->ev);
		while ((n = uxt_items_next(&it, &item)) > 0)
			;
		if (n < 0) {
			replay_fail(r, REPLAY_BAD_TRACE, "%s", it.err);
			return;
		}
	}
	if (n < 0)
		replay_fail(r, REPLAY_BAD_TRACE, "%s", r->rd.err);
}

static void replay_loop(struct replay *r)
{
	const struct replay_opts *o = r->o;
	int n;
	while ((n = uxt_next(&r->rd, &r->ev)) > 0) {
		struct replay_stats *st = &r->res->st;
		if (o->max_events && st->events >= o->max_events)
			return;
		st->events++;
		if (run_event(r))
			return;
		/* (Every event, the fuzzers' setting, without a division.) */
		if (o->check_every && st->events >= o->check_from &&
		    (o->check_every == 1 || (st->events - o->check_from) % o->check_every == 0) &&
		    check_invariants(r, false))
			return;
		if (st->events == o->prefix_events && o->reuse_core)
			kept_after_prefix(r);
		if (o->progress && (st->events & 0x3ffff) == 0)
			progress(r);
	}
	if (n < 0)
		replay_fail(r, REPLAY_BAD_TRACE, "%s", r->rd.err);
	else if (r->res->st.divergences) {
		char first[sizeof(r->res->msg)]; /* the message is rewritten below */
		memcpy(first, r->res->msg, sizeof(first));
		replay_fail(r, REPLAY_DIVERGED, "%llu divergences (first: %s)",
		     (unsigned long long)r->res->st.divergences, first);
	}
}

int replay_setup_again(struct replay *r, const struct uxt_reader *from, u64 n)
{
	struct replay_result *res = r->res, scratch = { 0 };
	int ok = 1;
	r->rd = *from;
	r->res = &scratch;
	r->checked = false;
	for (u64 i = 0; ok && i < n; i++) {
		scratch.st.events++;
		ok = uxt_next(&r->rd, &r->ev) > 0 && run_event(r) == 0 &&
		     scratch.status == 0;
	}
	ok = ok && check_invariants(r, true) == 0;
	r->res = res;
	return ok ? 0 : -1;
}

static double now(const struct replay_opts *o)
{
	struct timespec ts;
	if (o->untimed)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int start_core(struct replay *r)
{
	u64 frames = r->o->mem_frames ? r->o->mem_frames
		     : r->rd.hdr.mem_frames ? r->rd.hdr.mem_frames
					    : REPLAY_DEFAULT_FRAMES;
	if (frames > REPLAY_MAX_FRAMES) {
		replay_fail(r, REPLAY_BAD_TRACE,
			    "%s asks for %llu frames of machine memory; at most %llu can be simulated%s",
			    r->o->mem_frames ? "--mem-frames" : "the trace's header",
			    (unsigned long long)frames, (unsigned long long)REPLAY_MAX_FRAMES,
			    r->o->mem_frames ? "" : " (--mem-frames sets another size)");
		return -1;
	}
	if (r->o->reuse_core && kept_start(r, frames) >= 0)
		return 0;
	kept_discard(r);
	if (posix_host_init(&r->host, frames)) {
		replay_fail(r, REPLAY_BAD_TRACE, "cannot set up %llu frames of machine memory",
		     (unsigned long long)frames);
		return -1;
	}
	r->host.panic_jmp = &r->panic;
	r->host.fail_at = r->o->fail_alloc;
	sim_reset();
	int rc = posix_hv_start(&r->host);
	if (rc) {
		replay_fail(r, REPLAY_HV_FAILED, "hypervisor failed to start: %s", hv_strerror(rc));
		posix_host_fini(&r->host);
		return -1;
	}
	if (r->o->reuse_core)
		kept_started(r, frames);
	return 0;
}

/* Tear down: every domain destroyed, every frame back with the host. */
static void stop_core(struct replay *r)
{
	if (r->res->status != REPLAY_HV_FAILED)
		check_invariants(r, true);
	if (r->res->status == REPLAY_HV_FAILED) {
		hv_abandon();
		kept_forget();
		return;
	}
	if (kept_alive()) {
		kept_stop(r);
		return;
	}
	u64 left = hv_stop();
	if (left || r->host.used)
		replay_fail(r, REPLAY_HV_FAILED, "%llu frames leaked at shutdown",
		     (unsigned long long)(left ? left : r->host.used));
}

int replay_buffer(const u8 *buf, size_t len, const struct replay_opts *o,
		  struct replay_result *res)
{
	static struct replay rs; /* big output buffer: not on the stack */
	struct replay *volatile r = &rs;
	memset(res, 0, sizeof(*res));
	res->digest = 0xcbf29ce484222325ull; /* FNV-1a offset basis */
	memset(&rs.rd, 0, sizeof(rs.rd));
	rs.checked = false;
	rs.checked_here = false;
	r->o = o;
	r->res = res;
	if (uxt_open(&r->rd, buf, len, o->lenient)) {
		replay_fail(r, REPLAY_BAD_TRACE, "%s", r->rd.err);
		return res->status;
	}
	double t0 = now(o);
	if (o->parse_only) {
		parse_only(r);
		res->st.seconds = now(o) - t0;
		return res->status;
	}
	if (start_core(r))
		return res->status;
	if (setjmp(r->panic) == 0) {
		replay_loop(r);
		stop_core(r);
	} else {
		r->res = res; /* a panic while the kept core redid its set-up */
		replay_fail(r, REPLAY_HV_FAILED, "event %llu (offset %llu) %s: hypervisor failure: %s",
		     (unsigned long long)r->ev.index, (unsigned long long)r->ev.offset,
		     ev_reason_name(&r->ev), r->host.panic_msg);
		hv_abandon();
		kept_forget();
	}
	if (!kept_alive())
		posix_host_fini(&r->host);
	res->st.seconds = now(o) - t0;
	if (o->progress)
		fputc('\n', stderr);
	return res->status;
}
