/* Scenario tests: each scripted scenario is generated into memory, then
 * replayed; the replay must reproduce every output. Then the ways a replay
 * can go wrong: divergence, corruption, truncation, a failing allocation
 * at every point the scenarios allocate. */
#include <stdlib.h>
#include "testlib.h"
#include "gen.h"
#include "engine.h"
#include "uxt_io.h"
#include "../../hv/core/core.h" /* hv, frame_get(): a corrupted state */

#define TRACE_CAP (4u << 20)

static u8 *trace;
static size_t trace_len;
static struct gen G;
static u64 injected; /* allocations the last generate() made fail */

/* Generate scenario name into `trace`; with fail_at, make the Nth frame
 * allocation fail. Returns the generator's status. */
static int generate(const char *name, u64 n, u64 fail_at)
{
	const struct scenario *s = scenario_find(name);
	if (!s)
		return -2;
	if (!trace)
		trace = malloc(TRACE_CAP);
	if (gen_open(&G, NULL, trace, TRACE_CAP, s->frames))
		return -2;
	G.host.fail_at = fail_at ? G.host.allocs + fail_at : 0;
	int rc = s->run(&G, n);
	trace_len = gen_len(&G);
	injected = G.host.failures;
	if (gen_close(&G))
		rc = -1;
	return rc;
}

static int replay(struct replay_result *res, bool keep_going)
{
	static FILE *devnull;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	struct replay_opts o = { .keep_going = keep_going, .check_every = 1, .log = devnull };
	return replay_buffer(trace, trace_len, &o, res);
}

static void check_scenario(const char *name, u64 n)
{
	struct replay_result res;
	CHECK_EQ(generate(name, n, 0), 0);
	CHECK_EQ(replay(&res, false), REPLAY_IDENTICAL);
	CHECK(res.st.exits > 0);
	CHECK_EQ(res.st.divergences, 0);
}

TEST(scenario_boot_replays_identically) { check_scenario("boot", 0); }
TEST(scenario_hostile_replays_identically) { check_scenario("hostile", 0); }
TEST(scenario_mix_replays_identically) { check_scenario("mix", 3000); }

/* The hostile scenario ends as designed: guests crash, the host's bad calls
 * fail, the victim survives, and the hypervisor never fails. */
TEST(scenario_hostile_outcomes)
{
	struct replay_result res;
	CHECK_EQ(generate("hostile", 0, 0), 0);
	CHECK_EQ(replay(&res, false), REPLAY_IDENTICAL);
	CHECK_EQ(res.st.by_fate[UXT_FATE_CRASHED], 6);
	CHECK(res.st.by_reason[EXIT_VMCALL] >= 15);
}

/* Find the first output item of the given tag in the skip+1'th exit that
 * has one, and flip a bit in it. */
static int flip_output(u8 tag, int skip)
{
	struct uxt_reader rd;
	struct uxt_event ev;
	struct uxt_item_iter it;
	struct uxt_item item;
	if (uxt_open(&rd, trace, trace_len, false))
		return -1;
	while (uxt_next(&rd, &ev) > 0) {
		if (ev.kind != UXT_EV_EXIT)
			continue;
		uxt_items_begin(&it, &ev);
		while (uxt_items_next(&it, &item) > 0)
			if (item.tag == tag) {
				if (skip-- > 0)
					break;
				trace[item.offset + 4 + item.len - 1] ^= 0x40;
				return 0;
			}
	}
	return -1;
}

/* A replay is timed unless asked not to be (fuzzers), and either way the
 * same: the clock is only ever reported. */
TEST(replay_untimed_runs_the_same_and_has_no_time)
{
	struct replay_result timed, untimed;
	CHECK_EQ(generate("boot", 0, 0), 0);
	struct replay_opts o = { .check_every = 1, .digest = true };
	CHECK_EQ(replay_buffer(trace, trace_len, &o, &timed), REPLAY_IDENTICAL);
	o.untimed = true;
	CHECK_EQ(replay_buffer(trace, trace_len, &o, &untimed), REPLAY_IDENTICAL);
	CHECK(timed.st.seconds > 0);
	CHECK(untimed.st.seconds == 0);
	CHECK_EQ(untimed.digest, timed.digest);
	CHECK_EQ(untimed.st.events, timed.st.events);
}

TEST(replay_reports_divergence)
{
	struct replay_result res;
	CHECK_EQ(generate("boot", 0, 0), 0);
	CHECK_EQ(flip_output(UXT_IT_VMCS_OUT, 0), 0);
	CHECK_EQ(replay(&res, false), REPLAY_DIVERGED);
	CHECK_EQ(res.st.divergences, 1);
	CHECK(strstr(res.msg, "expected VMCS"));
	CHECK(strstr(res.msg, "got VMCS"));
	CHECK(strstr(res.msg, "event "));
}

TEST(replay_keep_going_counts_all)
{
	struct replay_result res;
	CHECK_EQ(generate("boot", 0, 0), 0);
	CHECK_EQ(flip_output(UXT_IT_VMCS_OUT, 0), 0);
	CHECK_EQ(flip_output(UXT_IT_VMCS_OUT, 5), 0);
	CHECK_EQ(replay(&res, true), REPLAY_DIVERGED);
	CHECK_EQ(res.st.divergences, 2);
	CHECK(strstr(res.msg, "2 divergences"));
}

/* ---- the kept core (replay_opts.reuse_core, prefix_events) ---- */

/* Events before the first exit of the trace: its set-up (host calls). */
static u64 setup_events(void)
{
	struct uxt_reader rd;
	struct uxt_event ev;
	u64 n = 0;
	if (uxt_open(&rd, trace, trace_len, false))
		return 0;
	while (uxt_next(&rd, &ev) > 0 && ev.kind != UXT_EV_EXIT)
		n++;
	return n;
}

/* Replay buf with every output checked, on a fresh core or the kept one. */
static int replay_kept(const u8 *buf, size_t len, struct replay_result *res,
		       bool kept, u64 prefix)
{
	struct replay_opts o = { .check_every = 1, .digest = true, .reuse_core = kept,
				 .prefix_events = kept ? prefix : 0 };
	return replay_buffer(buf, len, &o, res);
}

/* A kept core resumed after the set-up, or brought back to started when the
 * next trace's set-up differs, reproduces every recorded output and the
 * digest of a fresh core's run. (The generator runs the core too: both
 * traces are made before the kept core starts.) */
TEST(kept_core_resumes_after_setup)
{
	struct replay_result fresh, other_fresh, res;
	struct replay_kept_stats before, after;
	CHECK_EQ(generate("hostile", 0, 0), 0);
	u8 *other = malloc(trace_len);
	size_t other_len = trace_len;
	CHECK(other != NULL);
	memcpy(other, trace, trace_len);
	CHECK_EQ(generate("boot", 0, 0), 0);
	u64 prefix = setup_events();
	CHECK(prefix > 2);
	CHECK_EQ(replay_kept(trace, trace_len, &fresh, false, 0), REPLAY_IDENTICAL);
	CHECK_EQ(replay_kept(other, other_len, &other_fresh, false, 0), REPLAY_IDENTICAL);
	replay_kept_stats(&before);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(replay_kept(trace, trace_len, &res, true, prefix), REPLAY_IDENTICAL);
		CHECK_EQ(res.digest, fresh.digest);
		CHECK_EQ(res.st.events, fresh.st.events);
		CHECK_EQ(res.st.hostcalls, fresh.st.hostcalls);
	}
	replay_kept_stats(&after);
	CHECK_EQ(after.resumed - before.resumed, 2); /* the first run set it up */
	/* The other trace's set-up has other bytes: no resume, same result. */
	CHECK_EQ(replay_kept(other, other_len, &res, true, prefix), REPLAY_IDENTICAL);
	CHECK_EQ(res.digest, other_fresh.digest);
	CHECK_EQ(replay_kept(trace, trace_len, &res, true, prefix), REPLAY_IDENTICAL);
	CHECK_EQ(res.digest, fresh.digest);
	replay_kept_stats(&before);
	CHECK_EQ(before.resumed, after.resumed);
	/* A fresh run stops the kept core (no leak for the next test). */
	CHECK_EQ(replay_kept(trace, trace_len, &res, false, 0), REPLAY_IDENTICAL);
	free(other);
}

/* A trace of host calls: set-up events a, then the call's own events b. */
static size_t hc_trace(u8 *buf, size_t cap, const u64 (*a)[5], unsigned na,
		       const u64 (*b)[5], unsigned nb)
{
	struct uxt_writer w;
	if (uxt_writer_mem(&w, buf, cap, 0, 512))
		return 0;
	for (unsigned i = 0; i < na + nb; i++) {
		const u64 *c = i < na ? a[i] : b[i - na];
		uxt_write_hostcall(&w, 0, (u16)c[0], 4, c + 1, NULL, 0);
	}
	return uxt_writer_close(&w) ? 0 : (size_t)w.len;
}

/* A template d1 (populated, forked once so frozen), its lazy fork d2
 * running: 6 events, the last 2 the fork's. */
static const u64 fork_setup[][5] = {
	{ HC_DOMAIN_CREATE, 1, 64, 0, 0 }, { HC_POPULATE, 1, 0, 16, 0 },
	{ HC_FORK, 1, 1, 0, 0 }, { HC_DOMAIN_DESTROY, 2, 0, 0, 0 },
	{ HC_FORK, 1, 1, 0, 0 }, { HC_DOMAIN_UNPAUSE, 2, 0, 0, 0 },
};

static size_t fork_trace(u8 *buf, size_t cap, const u64 (*calls)[5], unsigned n)
{
	return hc_trace(buf, cap, fork_setup, ARRAY_SIZE(fork_setup), calls, n);
}

/* Four traces of host calls, and a run of calls through the kept core: per
 * call, the trace, whether it resumes after the kept set-up, whether it
 * ends by making the set-up's forks again (tail) or the whole set-up. */
struct kept_traces {
	u8 buf[4][16384];
	size_t len[4];
	u64 prefix[4];     /* each trace's set-up events */
	u64 base;          /* replay_opts.base_events */
};
struct kept_call { int trace, resumed, tail, full; };

/* Every call's result must be what a fresh core gives for its trace (all
 * fresh runs first: a fresh run stops the kept core), with the counts
 * given; then the kept core is stopped. */
static void kept_calls(const struct kept_traces *t, const struct kept_call *calls,
		       unsigned n)
{
	struct replay_result fresh[4], res;
	struct replay_opts fo = { .check_every = 1, .digest = true, .no_check = true };
	for (int i = 0; i < 4; i++) {
		CHECK(t->len[i] > 0);
		CHECK_EQ(replay_buffer(t->buf[i], t->len[i], &fo, &fresh[i]), 0);
	}
	struct replay_opts ko = fo;
	ko.reuse_core = true;
	ko.base_events = t->base;
	for (unsigned k = 0; k < n; k++) {
		int i = calls[k].trace;
		struct replay_kept_stats a, b;
		ko.prefix_events = t->prefix[i];
		replay_kept_stats(&a);
		CHECK_EQ(replay_buffer(t->buf[i], t->len[i], &ko, &res), 0);
		CHECK_EQ(res.digest, fresh[i].digest);
		CHECK_EQ(res.st.events, fresh[i].st.events);
		replay_kept_stats(&b);
		CHECK_EQ(b.resumed - a.resumed, (u64)calls[k].resumed);
		CHECK_EQ(b.tail_redone - a.tail_redone, (u64)calls[k].tail);
		CHECK_EQ(b.redone - a.redone, (u64)calls[k].full);
		CHECK_EQ(b.restarted, a.restarted);
	}
	CHECK_EQ(replay_buffer(t->buf[0], t->len[0], &fo, &res), 0); /* stops it */
}

/* The kept core resets the set-up's fork after each call. A call that
 * makes the fork a template (forks it) or destroys it leaves something a
 * reset cannot undo: with base_events, only the fork is made again; a call
 * that destroys the template needs the whole set-up again. Every call's
 * result is a fresh core's. */
TEST(kept_core_makes_the_fork_again)
{
	static const u64 dirty[][5] = { { HC_POPULATE, 2, 32, 8, 0 }, { HC_DOMAIN_PAUSE, 2, 0, 0, 0 } };
	static const u64 fork_it[][5] = { { HC_DOMAIN_PAUSE, 2, 0, 0, 0 }, { HC_FORK, 2, 1, 0, 0 },
					  { HC_POPULATE, 3, 40, 1, 0 } };
	static const u64 kill_it[][5] = { { HC_DOMAIN_DESTROY, 2, 0, 0, 0 } };
	static const u64 kill_tpl[][5] = { { HC_DOMAIN_DESTROY, 1, 0, 0, 0 } };
	static struct kept_traces t = { .prefix = { 6, 6, 6, 6 }, .base = 4 };
	t.len[0] = fork_trace(t.buf[0], sizeof(t.buf[0]), dirty, ARRAY_SIZE(dirty));
	t.len[1] = fork_trace(t.buf[1], sizeof(t.buf[1]), fork_it, ARRAY_SIZE(fork_it));
	t.len[2] = fork_trace(t.buf[2], sizeof(t.buf[2]), kill_it, ARRAY_SIZE(kill_it));
	t.len[3] = fork_trace(t.buf[3], sizeof(t.buf[3]), kill_tpl, ARRAY_SIZE(kill_tpl));
	static const struct kept_call calls[] = {
		{ 0, 0, 0, 0 }, { 0, 1, 0, 0 }, { 1, 1, 1, 0 }, { 0, 1, 0, 0 },
		{ 2, 1, 1, 0 }, { 0, 1, 0, 0 }, { 1, 1, 1, 0 }, { 1, 1, 1, 0 },
		{ 3, 1, 0, 1 }, { 0, 1, 0, 0 }, { 2, 1, 1, 0 },
	};
	kept_calls(&t, calls, ARRAY_SIZE(calls));
}

/* A kept core resumed after the set-up is taken as checked (it equals the
 * set-up's state by the kept core's comparisons), so the full check at the
 * end of the call must audit it even when no event of the call changed
 * anything: here a corruption those comparisons cannot see, made between
 * two calls, is caught by a call whose one event (a pause) changes nothing
 * the checker audits. */
TEST(kept_core_resumed_state_is_checked)
{
	static const u64 pause[][5] = { { HC_DOMAIN_PAUSE, 2, 0, 0, 0 } };
	static u8 buf[16384];
	struct replay_result res;
	size_t len = fork_trace(buf, sizeof(buf), pause, ARRAY_SIZE(pause));
	struct replay_opts o = { .check_every = 1, .reuse_core = true, .no_check = true,
				 .prefix_events = ARRAY_SIZE(fork_setup) };
	CHECK(len > 0);
	CHECK_EQ(replay_buffer(buf, len, &o, &res), REPLAY_IDENTICAL);
	CHECK_EQ(replay_buffer(buf, len, &o, &res), REPLAY_IDENTICAL);
	struct hv_frame *f = frame_get(hv.frame_table_mfn);
	CHECK(f && f->type == FT_HV);
	f->type = FT_FREE;
	CHECK_EQ(replay_buffer(buf, len, &o, &res), REPLAY_HV_FAILED);
	CHECK(strstr(res.msg, "free frame marked held"));
	/* The failure abandoned that core: a fresh run leaves none behind. */
	o.reuse_core = false;
	o.prefix_events = 0;
	CHECK_EQ(replay_buffer(buf, len, &o, &res), REPLAY_IDENTICAL);
}

/* Set-ups the kept core must not take for unchanged: one with a domain
 * that is neither a template nor a fork (calls change it: it must be
 * found changed), and one with a fork a reset does not bring back (it has
 * RAM of its own: never kept, each call runs the set-up, once). */
TEST(kept_core_checks_or_refuses_other_setups)
{
	static const u64 plain_setup[][5] = {
		{ HC_DOMAIN_CREATE, 1, 64, 0, 0 }, { HC_POPULATE, 1, 0, 16, 0 },
		{ HC_DOMAIN_UNPAUSE, 1, 0, 0, 0 },
	};
	static const u64 own_ram_setup[][5] = {
		{ HC_DOMAIN_CREATE, 1, 64, 0, 0 }, { HC_POPULATE, 1, 0, 16, 0 },
		{ HC_FORK, 1, 1, 0, 0 }, { HC_POPULATE, 2, 32, 4, 0 },
	};
	static const u64 pause[][5] = { { HC_DOMAIN_PAUSE, 1, 0, 0, 0 } }; /* no frame changes */
	static const u64 none[][5] = { { HC_DOMAIN_PAUSE, 5, 0, 0, 0 } };
	static const u64 grow2[][5] = { { HC_POPULATE, 2, 40, 2, 0 } };
	static struct kept_traces t = { .prefix = { 3, 3, 4, 4 } };
	t.len[0] = hc_trace(t.buf[0], sizeof(t.buf[0]), plain_setup, 3, pause, 1);
	t.len[1] = hc_trace(t.buf[1], sizeof(t.buf[1]), plain_setup, 3, none, 1);
	t.len[2] = hc_trace(t.buf[2], sizeof(t.buf[2]), own_ram_setup, 4, grow2, 1);
	t.len[3] = hc_trace(t.buf[3], sizeof(t.buf[3]), own_ram_setup, 4, none, 1);
	static const struct kept_call calls[] = {
		/* the plain domain paused: found changed, set up again (the
		 * next call's PAUSE would fail on a paused domain) */
		{ 0, 0, 0, 1 }, { 1, 1, 0, 0 }, { 0, 1, 0, 1 }, { 0, 1, 0, 1 }, { 1, 1, 0, 0 },
		/* the fork with RAM of its own: its set-up runs again once,
		 * found not kept, then never again: never resumed */
		{ 2, 0, 0, 1 }, { 3, 0, 0, 0 }, { 2, 0, 0, 0 }, { 3, 0, 0, 0 },
	};
	kept_calls(&t, calls, ARRAY_SIZE(calls));
}

/* A trace cut anywhere is unusable (2) with an offset, never a crash. */
TEST(replay_truncated_everywhere)
{
	struct replay_result res;
	CHECK_EQ(generate("hostile", 0, 0), 0);
	size_t full = trace_len;
	size_t step = full / 3000 + 1;
	for (size_t cut = 0; cut < full; cut += step) {
		trace_len = cut;
		int rc = replay(&res, false);
		CHECK_EQ(rc, REPLAY_BAD_TRACE);
		CHECK(strstr(res.msg, "offset "));
	}
	trace_len = full;
}

/* Random corruption: any status but a hypervisor failure. */
TEST(replay_corrupted_bytes)
{
	struct replay_result res;
	CHECK_EQ(generate("boot", 0, 0), 0);
	u8 *orig = malloc(trace_len);
	memcpy(orig, trace, trace_len);
	u64 seed = 12345;
	for (int i = 0; i < 400; i++) {
		memcpy(trace, orig, trace_len);
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			trace[32 + (seed >> 33) % (trace_len - 32)] ^= (u8)(1u << (seed >> 61));
		}
		int rc = replay(&res, false);
		if (rc == REPLAY_HV_FAILED) {
			printf("    corruption %d: %s\n", i, res.msg);
			free(orig);
			CHECK(rc != REPLAY_HV_FAILED);
		}
	}
	free(orig);
}

/* Generate each scenario with the Nth allocation failing, for every N the
 * scenario reaches: a clean error or success, never a crash or a leak
 * (gen_close checks invariants and leaks). */
static void fault_inject(const char *name)
{
	u64 n;
	for (n = 1; n < 10000; n++) {
		int rc = generate(name, 200, n);
		if (rc == -1 && strstr(G.err, "leak")) {
			printf("    fail_at %llu: %s\n", (unsigned long long)n, G.err);
			CHECK(0);
		}
		if (rc == -1 && strstr(G.err, "invariant")) {
			printf("    fail_at %llu: %s\n", (unsigned long long)n, G.err);
			CHECK(0);
		}
		if (injected == 0)
			break; /* the scenario no longer reaches allocation N */
	}
	CHECK(n > 5);
	/* The same on replay: divergence is expected, failure is not. */
	CHECK_EQ(generate(name, 200, 0), 0);
	for (u64 k = 2; k < n; k++) { /* k = 1: the frame table; no start */
		static FILE *devnull;
		if (!devnull)
			devnull = fopen("/dev/null", "w");
		struct replay_opts o = { .check_every = 1, .fail_alloc = k, .log = devnull };
		struct replay_result res;
		int rc = replay_buffer(trace, trace_len, &o, &res);
		if (rc == REPLAY_HV_FAILED || rc == REPLAY_BAD_TRACE)
			printf("    replay fail_at %llu: %s\n", (unsigned long long)k, res.msg);
		CHECK(rc == REPLAY_IDENTICAL || rc == REPLAY_DIVERGED);
	}
}

TEST(fault_injection_boot) { fault_inject("boot"); }
TEST(fault_injection_hostile) { fault_inject("hostile"); }
TEST(fault_injection_mix) { fault_inject("mix"); }
