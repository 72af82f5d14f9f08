/* The vmfork scenario of the real build: a template guest (gfork.S) fills
 * its memory and halts; the host pauses it, forks children from it (lazy
 * and eager), lets them diverge (copy-on-write), hints and re-merges
 * (MERGE with a budget, call after call), and each child then checks
 * every page of its memory: the template's contents where it wrote
 * nothing, its own data where it did. All of it recorded and streamed. */
#include "domains.h"
#include "gfork.h"
#include "hv/exits.h"

extern const u8 guest_gfork[], guest_gfork_end[];

#define MERGE_BUDGET 64
/* One full pass of the scanner from any cursor: every mapped page of every
 * domain (at most G_RAM_FRAMES each), twice, in MERGE_BUDGET steps. */
#define MERGE_CALLS(doms) (2 * (doms) * G_RAM_FRAMES / MERGE_BUDGET)

static u64 words = 512; /* qwords of data a page (config fork_words) */
static bool sync;       /* mirror guest-written data into the trace (fork_sync) */

/* The page plan of gfork.h, as gfork.S has it (stage 2: after phase B's
 * rewrites). */
static unsigned kind_of(unsigned k, unsigned stage, unsigned p)
{
	if (k == 0)
		return K_TEMPLATE;
	if (p >= 16 * k && p < 16 * k + 8)
		return K_OWN;
	if (stage == 2 && ((k == 1 && p == 96) || (k == 3 && p == 112)))
		return K_OWN;
	if (k <= 3 && p >= 96 && p < 104)
		return K_COMMON;
	if (k <= 2 && p >= 104 && p < 108)
		return K_ZERO;
	if (k == 3 && p >= 112 && p < 116)
		return K_ZERO;
	return K_TEMPLATE;
}

static u64 value(unsigned k, unsigned kind, u64 p, u64 i)
{
	if (kind == K_ZERO || i >= words || (kind == K_TEMPLATE && p % 8 == 7))
		return 0;
	u64 v = p << 32 | i;
	if (kind == K_OWN)
		return C_TAG | (u64)k << 48 | v;
	return (kind == K_COMMON ? M_TAG : T_TAG) | v;
}

/* Guest stores cause no exits, so a replay cannot know what they wrote,
 * and MERGE and checked hints decide on contents. With fork_sync the host
 * LOADs what guest k has just written (the same bytes: a LOAD of what a
 * page already holds changes nothing) so that the trace carries it. Only
 * the first `words` qwords: keep fork_words small when syncing. */
static int sync_pages(s64 d, unsigned k, unsigned stage, unsigned only)
{
	static u64 page[512];
	if (!sync)
		return 0;
	for (unsigned p = 0; p < F_PAGES; p++) {
		unsigned kind = kind_of(k, stage, p);
		if ((only != F_PAGES && p != only) || (kind == K_TEMPLATE && (k || p % 8 == 7)))
			continue;
		for (u64 i = 0; i < words; i++)
			page[i] = value(k, kind, p, i);
		s64 rc = hcall(HC_LOAD, (u64)d, F_BASE + ((u64)p << PAGE_SHIFT), 0, 0, page,
			       (u32)(words * 8));
		if (rc) {
			kprintf("host: sync LOAD d%ld page %u: %ld\n", d, p, rc);
			return -1;
		}
	}
	return 0;
}

struct child {
	s64 id;
	bool lazy;
	u32 fate;
	u64 code, counts, zeros, bad, exits;
};

/* Frames the core holds: only the de-privileged host can ask (HVOP_STATS);
 * the image exports no share statistics to the host. */
static s64 frames_in_use(void)
{
	if (!hv_deprivileged)
		return -1;
	static struct hv_depriv_stats st;
	hv_vmcall(HVOP_STATS, (u64)(uintptr_t)&st, 0, 0, 0);
	return (s64)st.frames_in_use;
}

static void print_frames(const char *when)
{
	s64 f = frames_in_use();
	if (f >= 0)
		kprintf("host: %s: %ld frames in use\n", when, f);
}

/* Run d until it halts (want BLOCKED) or ends; the device model gives
 * child k its number and takes its reports. */
static int run_until(u32 d, unsigned k, struct child *c, unsigned *fate)
{
	for (unsigned calls = 0; calls < 200; calls++) {
		struct hv_run r;
		int rc = hv.run_vcpu(d, 0, &r);
		if (rc) {
			kprintf("host: run_vcpu d%u: %d\n", d, rc);
			return rc;
		}
		if (c)
			c->exits += r.exits;
		if (r.fate == UXT_FATE_IOREQ) {
			u64 val = 0;
			if (r.io.type != UXT_IOREQ_PIO) {
				kprintf("host: d%u: unexpected MMIO at 0x%lx\n", d, r.io.addr);
				return -1;
			}
			if (r.io.dir == UXT_IOREQ_DIR_IN)
				val = r.io.addr == F_PORT_ROLE ? k :
				      r.io.addr == F_PORT_WORDS ? words : 0xffffffffu;
			else if (c && r.io.addr == F_PORT_COUNTS)
				c->counts = r.io.data;
			else if (c && r.io.addr == F_PORT_ZEROS)
				c->zeros = r.io.data;
			else if (c && r.io.addr == F_PORT_BAD)
				c->bad = r.io.data;
			s64 x = hcall(HC_IOREQ_COMPLETE, d, 0, val, 0, NULL, 0);
			if (x) {
				kprintf("host: IOREQ_COMPLETE d%u: %ld\n", d, x);
				return (int)x;
			}
			continue;
		}
		if (r.fate == UXT_FATE_YIELD)
			continue;
		*fate = r.fate;
		if (c) {
			c->fate = r.fate;
			c->code = r.fate == UXT_FATE_SHUTDOWN ? r.shutdown_code : r.crash_reason;
		}
		return 0;
	}
	kprintf("host: d%u never stopped\n", d);
	return -1;
}

/* MERGE calls until at least one full pass is done; the pages merged. */
static s64 merge_round(unsigned doms, unsigned *calls)
{
	s64 total = 0;
	*calls = MERGE_CALLS(doms);
	for (unsigned i = 0; i < *calls; i++) {
		s64 n = hcall(HC_MERGE, MERGE_BUDGET, 0, 0, 0, NULL, 0);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

enum result sc_fork(void)
{
	char why[200], msg[200];
	if (boot_load_hv(why, sizeof(why)))
		return !strncmp(why, "no VMX", 6) ? RES_SKIP : RES_FAILURE;
	u64 before[EXIT_REASON_MAX];
	memcpy(before, hv.exits_by_reason, sizeof(before));
	print_frames("loaded");
	const char *w = config_get("fork_words");
	if (w) {
		for (words = 0; *w >= '0' && *w <= '9'; w++)
			words = words * 10 + (u64)(*w - '0');
		CHECK(words >= 1 && words <= 512, "fork_words=%lu", words);
	}
	sync = config_flag("fork_sync");
	kprintf("host: %lu qwords of data a page%s\n", words,
		sync ? ", guest-written data mirrored into the trace" : "");
	trace_start();

	/* The template: boots, fills its region, halts. */
	struct guest_spec g = {
		.image = guest_gfork, .image_len = (u32)(guest_gfork_end - guest_gfork),
		.ram_frames = G_RAM_FRAMES, .order = 0, .long_mode = true,
	};
	s64 t = guest_create(&g);
	CHECK(t > 0, "guest_create: %ld", t);
	unsigned fate = 0;
	struct child tc = { .id = t };
	CHECK(run_until((u32)t, 0, &tc, &fate) == 0 && fate == UXT_FATE_BLOCKED,
	      "template: fate %u, code 0x%lx", fate, tc.code);
	print_frames("template filled");
	CHECK(sync_pages(t, 0, 0, F_PAGES) == 0, "sync");
	/* Its unwritten pages go to the zero frame (checked zero hint): 16 in
	 * the region, the 128 above it. */
	s64 hz = hcall(HC_HINT, (u64)t, F_GFN, G_RAM_FRAMES - F_GFN, 1, NULL, 0);
	CHECK(hz == 16 + (G_RAM_FRAMES - F_GFN - F_PAGES), "HINT zero on the template: %ld", hz);
	CHECK(hcall(HC_DOMAIN_PAUSE, (u64)t, 0, 0, 0, NULL, 0) == 0, "pause the template");

	/* The children: 1 lazy, 2 eager, 3 lazy, 4 eager. */
	struct child c[F_CHILDREN];
	memset(c, 0, sizeof(c));
	for (unsigned k = 1; k <= F_CHILDREN; k++) {
		struct child *ch = &c[k - 1];
		ch->lazy = k % 2;
		ch->id = hcall(HC_FORK, (u64)t, ch->lazy, 0, 0, NULL, 0);
		CHECK(ch->id > 0, "FORK %u: %ld", k, ch->id);
		CHECK(hcall(HC_DOMAIN_UNPAUSE, (u64)ch->id, 0, 0, 0, NULL, 0) == 0, "unpause child %u", k);
	}
	CHECK(hcall(HC_DOMAIN_UNPAUSE, (u64)t, 0, 0, 0, NULL, 0) == -HV_EPERM,
	      "the template must stay frozen");
	CHECK(hcall(HC_HINT, (u64)t, F_GFN, 1, 0, NULL, 0) == -HV_EPERM,
	      "a hint on the template must be refused");
	kprintf("host: template d%ld forked: d%ld (lazy), d%ld (eager), d%ld (lazy), d%ld (eager)\n",
		t, c[0].id, c[1].id, c[2].id, c[3].id);
	print_frames("forked");

	/* Phase A: each child writes its own pages and halts. */
	for (unsigned k = 1; k <= F_CHILDREN; k++) {
		struct child *ch = &c[k - 1];
		CHECK(run_until((u32)ch->id, k, ch, &fate) == 0 && fate == UXT_FATE_BLOCKED,
		      "child %u phase A: fate %u, code 0x%lx, bad 0x%lx", k, fate, ch->code, ch->bad);
		CHECK(sync_pages(ch->id, k, 0, F_PAGES) == 0, "sync");
	}
	print_frames("children diverged");

	/* Hints: child 1's zeroed pages (checked: 4), its own data (none). */
	s64 h1 = hcall(HC_HINT, (u64)c[0].id, F_GFN + 104, 4, 1, NULL, 0);
	s64 h2 = hcall(HC_HINT, (u64)c[0].id, F_GFN + 16, 4, 1, NULL, 0);
	CHECK(h1 == 4 && h2 == 0, "HINT zero on child 1: %ld (want 4), on its data %ld (want 0)", h1, h2);

	/* Re-merge: rounds of budgeted calls until a round merges nothing. */
	unsigned doms = 1 + F_CHILDREN, calls = 0, rounds = 0;
	s64 merged[4] = { 0 };
	for (; rounds < 4; rounds++) {
		merged[rounds] = merge_round(doms, &calls);
		CHECK(merged[rounds] >= 0, "MERGE: %ld", merged[rounds]);
		kprintf("host: merge round %u: %u calls of budget %u, %ld pages merged\n",
			rounds + 1, calls, MERGE_BUDGET, merged[rounds]);
		if (merged[rounds] == 0)
			break;
	}
	CHECK(rounds == 1, "merging did not settle after one round (%u rounds)", rounds + 1);
	/* Child 2's common pages into child 1's (8), child 3's too (8),
	 * child 2's zeroed ones to the zero frame (4): 20, nothing else. */
	CHECK(merged[0] == 20, "round 1 merged %ld pages, want 20", merged[0]);
	print_frames("merged");

	/* Phase B: every child checks every page, rewrites one, reports. */
	bool all_ok = true;
	for (unsigned k = 1; k <= F_CHILDREN; k++) {
		struct child *ch = &c[k - 1];
		CHECK(run_until((u32)ch->id, k, ch, &fate) == 0, "child %u phase B", k);
		bool good = ch->fate == UXT_FATE_SHUTDOWN && ch->code == G_SHUTDOWN_OK && !ch->bad;
		kprintf("GUEST child %u d%ld (%s): %s, fate %u code 0x%lx; pages: %lu template (%lu of them zero), %lu own, %lu common, %lu zeroed; %lu exits\n",
			k, ch->id, ch->lazy ? "lazy" : "eager", good ? "verified OK" : "FAILED",
			ch->fate, ch->code, (ch->counts >> 16) & 0xff, (ch->zeros >> 8) & 0xff,
			(ch->counts >> 8) & 0xff, ch->counts & 0xff, ch->zeros & 0xff, ch->exits);
		if (ch->bad)
			kprintf("host: child %u: first mismatch at page %lu qword %lu\n", k,
				(ch->bad >> 9) & 0x3fffff, ch->bad & 511);
		all_ok &= good && (ch->counts >> 24) == k;
		if (k == 1 || k == 3)
			CHECK(sync_pages(ch->id, k, 2, k == 1 ? 96 : 112) == 0, "sync");
	}
	CHECK(all_ok, "not every child verified its memory");

	/* After the rewrites: one more round merges what is equal again. */
	s64 again = merge_round(doms, &calls);
	CHECK(again >= 0, "MERGE: %ld", again);
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	print_frames("all checked");
	struct hv_share_stats ss;
	hv.share_stats(&ss);
	kprintf("STATS share: %lu frames in use, %lu shared frames mapped %lu times, %lu bytes saved; scanner: %lu pages visited, %lu hashed, %lu merged, %lu zeroed, %lu passes\n",
		ss.frames_in_use, ss.shared_frames, ss.shared_maps, ss.saved_bytes, ss.visited,
		ss.scanned, ss.merged, ss.zeroed, ss.passes);
	kprintf("STATS fork: template hint zero %ld; child hint zero %ld/%ld; merge rounds %ld + %ld (settled: 0), after phase B %ld; merge calls %u x budget %u; template exits %lu\n",
		hz, h1, h2, merged[0], merged[1], again, calls, MERGE_BUDGET, tc.exits);

	/* Phase C: a reset child is its fresh fork again (memory, and vCPUs
	 * in a re-made VMCS with the template's state copied in): run again,
	 * a lazy and an eager one each do phase A again, from the start. */
	for (unsigned k = 1; k <= 2; k++) {
		struct child *ch = &c[k - 1];
		CHECK(hcall(HC_RESET, (u64)ch->id, 0, 0, 0, NULL, 0) == 0, "reset child %u", k);
		CHECK(hcall(HC_DOMAIN_UNPAUSE, (u64)ch->id, 0, 0, 0, NULL, 0) == 0,
		      "unpause child %u after its reset", k);
		CHECK(run_until((u32)ch->id, k, ch, &fate) == 0 && fate == UXT_FATE_BLOCKED,
		      "child %u after its reset: fate %u, code 0x%lx, bad 0x%lx", k, fate, ch->code, ch->bad);
		CHECK(sync_pages(ch->id, k, 0, F_PAGES) == 0, "sync");
	}
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	kprintf("host: children 1 (lazy) and 2 (eager) reset: both ran phase A again\n");
	print_frames("reset");

	for (unsigned k = 1; k <= F_CHILDREN; k++)
		CHECK(hcall(HC_DOMAIN_DESTROY, (u64)c[k - 1].id, 0, 0, 0, NULL, 0) == 0, "destroy child %u", k);
	CHECK(hcall(HC_DOMAIN_DESTROY, (u64)t, 0, 0, 0, NULL, 0) == 0, "destroy the template");
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	print_frames("all destroyed");
	kprintf("EXITS fork:");
	static const char *const names[EXIT_REASON_MAX] = {
#define X(n, num, handler) [num] = #n,
#include "hv/tables/exit_reasons.def"
#undef X
	};
	for (u32 i = 0; i < EXIT_REASON_MAX; i++)
		if (hv.exits_by_reason[i] != before[i])
			kprintf(" %s=%lu", names[i] ? names[i] : "?", hv.exits_by_reason[i] - before[i]);
	kprintf("\n");
	CHECK(trace_stream("fork") == 0, "trace");
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	return RES_SUCCESS;
}
