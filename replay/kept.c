/* The core kept alive across calls (replay_opts.reuse_core): fuzzers run
 * thousands of short traces a second, and starting a core, or building the
 * same template domain, for each would cost more than the trace itself.
 *
 * Every call must still behave exactly as a fresh core replaying its trace
 * (uxen-replay): a crash found this way is a trace that reproduces. So the
 * kept core is only ever resumed from a state equal to one a fresh core
 * reaches, at two points:
 *  - started: right after hv_start(). No domain; the host allocator's
 *    bitmap is then the same, and its hint and counters are reset.
 *  - after the set-up (replay_opts.prefix_events): the first events of
 *    every trace, identical byte for byte (a fuzz target's template). The
 *    snapshot keeps the allocator's whole bitmap, hint and counters, and
 *    which domains exist (by creation number). A later call whose trace
 *    starts with the same bytes skips them and starts from there.
 * At the end of a call every domain the set-up did not create is destroyed
 * (that frees everything the call allocated: a fork's frames, its copies),
 * every fork the set-up made is reset (HC_RESET, and unpaused if it was
 * running: a fuzz target's per-input domain, cheaper to reset than to
 * destroy and fork again), each set-up domain but the templates is
 * compared byte for byte with its image after the set-up
 * (hv_domain_image(); hv_domain_same() compares in place), and the whole
 * with the snapshot: the same domains, the same frames held, the very
 * same bitmap. Templates are frozen (only FORK and DESTROY reach them,
 * and either shows there). When the call changed what the set-up made,
 * it is made again at once, so that the next call finds it (and each
 * call's coverage is its own): only the forks, by running the set-up's
 * last events again (base_events), when the call forked or destroyed
 * one; else the whole set-up, on the core brought back to started (or
 * stopped and started again). A set-up that
 * cannot be kept (an image too large, a fork a reset does not bring back)
 * is not: each call then runs it. */
#include <string.h>
#include "replay_impl.h"
#include "hv/hv.h"
#include "sim.h"

#define KEPT_PREFIX_CAP (64 * 1024)
#define KEPT_IMAGE_CAP (4u << 20) /* the set-up's domains, as bytes */
#define KEPT_BITMAP_WORDS 4096 /* up to 262144 frames */
#define KEPT_MAX_DOMS HV_MAX_DOMAINS

static struct {
	bool alive;
	u64 frames;
	u64 used, in_use;         /* right after hv_start() */
	/* after the set-up */
	bool have_prefix;
	bool lenient, digest;     /* the options it ran with */
	u64 digest_val;           /* replay_result.digest after it */
	u64 prefix_events;
	size_t prefix_len;
	struct uxt_reader rd;     /* positioned after the set-up */
	struct replay_stats st;   /* counts of the set-up's events */
	u64 hint, allocs, p_used, clock_ns, p_in_use;
	u64 serial[KEPT_MAX_DOMS]; /* 0: no such domain */
	/* The set-up's last events, which made its forks (base_events on):
	 * run again alone when a call left a fork that a reset cannot undo. */
	bool have_tail;
	u64 tail_events;
	struct uxt_reader tail_rd;
	bool refused;             /* the set-up in prefix[] cannot be kept:
				   * do not try it again */
	/* The set-up's domains that calls may change (all but templates):
	 * their image (hv_domain_image()) after the set-up; forks are reset
	 * after each call (unpaused if they were running), the others must
	 * simply be as they were. */
	u32 nr_doms;
	struct { u16 id; bool fork, unpause; size_t off, len; } dom[KEPT_MAX_DOMS];
	size_t image_used;
	u8 image[KEPT_IMAGE_CAP];
	u64 bitmap[KEPT_BITMAP_WORDS];
	u8 prefix[KEPT_PREFIX_CAP];
} kept;

static struct replay_kept_stats counts;

bool kept_alive(void) { return kept.alive; }

void replay_kept_stats(struct replay_kept_stats *out) { *out = counts; }

void kept_forget(void)
{
	kept.alive = false;
	kept.have_prefix = false;
}

static size_t bitmap_words(const struct posix_host *h)
{
	return (size_t)((h->nr_frames + 63) / 64);
}

/* Destroy every domain whose creation number the snapshot does not hold
 * (all of them when keep is false). */
static void destroy_others(bool keep)
{
	u64 none[4] = { 0 }, serial[KEPT_MAX_DOMS];
	hv_domain_serials(serial);
	for (u32 id = 0; id < KEPT_MAX_DOMS; id++) {
		u64 s = serial[id];
		if (!s || (keep && s == kept.serial[id]))
			continue;
		none[0] = id;
		hv_host_call(HC_DOMAIN_DESTROY, none, NULL, 0);
	}
	/* The scanner's table and cursor would carry one call into the next
	 * (the set-up does not merge: a fresh core has none after it). */
	hv_share_reset();
}

static s64 call1(u32 nr, u64 dom)
{
	u64 a[4] = { dom, 0, 0, 0 };
	return hv_host_call(nr, a, NULL, 0);
}

static bool dom_same(u32 i)
{
	return hv_domain_same(kept.dom[i].id, kept.image + kept.dom[i].off, kept.dom[i].len);
}

/* A set-up domain back to how the set-up left it. A fork is reset to its
 * template's state (HC_RESET, as a fresh fork would be) and unpaused if it
 * was running; any other must not have changed. Then byte for byte the
 * image it had after the set-up? */
static bool dom_back(u32 i)
{
	u16 id = kept.dom[i].id;
	if (kept.dom[i].fork &&
	    (call1(HC_RESET, id) || (kept.dom[i].unpause && call1(HC_DOMAIN_UNPAUSE, id))))
		return false;
	return dom_same(i);
}

/* The set-up's domains that a call may change, with their images; it
 * changes nothing. Templates are left out: frozen, only FORK and DESTROY
 * reach them, and either shows in the domains or the frames. False if an
 * image does not fit: such a set-up is not kept. */
static bool find_doms(void)
{
	kept.nr_doms = 0;
	kept.image_used = 0;
	for (u32 id = 1; id < KEPT_MAX_DOMS; id++) {
		unsigned flags = kept.serial[id] ? hv_domain_flags(id) : HV_DOM_TEMPLATE;
		if (flags & HV_DOM_TEMPLATE)
			continue;
		size_t len = hv_domain_image(id, kept.image + kept.image_used,
					     sizeof(kept.image) - kept.image_used);
		if (!len)
			return false;
		u32 i = kept.nr_doms++;
		kept.dom[i] = (typeof(kept.dom[i])){ (u16)id, (flags & HV_DOM_FORK) != 0,
						     false, kept.image_used, len };
		kept.image_used += len;
	}
	return true;
}

/* Reset each set-up fork once now, to learn whether it comes back exactly
 * (paused, or else once unpaused). False if one does not. */
static bool try_resets(void)
{
	for (u32 i = 0; i < kept.nr_doms; i++) {
		if (!kept.dom[i].fork)
			continue;
		s64 rc = call1(HC_RESET, kept.dom[i].id);
		if (rc == 0 && dom_same(i))
			continue;
		kept.dom[i].unpause = true;
		if (rc || call1(HC_DOMAIN_UNPAUSE, kept.dom[i].id) || !dom_same(i))
			return false;
	}
	return true;
}

static bool same_frames(const struct posix_host *h)
{
	return hv_frames_in_use() == kept.p_in_use && h->used == kept.p_used &&
	       !memcmp(h->bitmap, kept.bitmap, bitmap_words(h) * sizeof(u64));
}

/* Is the core exactly as the set-up left it? */
static bool at_prefix(const struct posix_host *h)
{
	u64 serial[KEPT_MAX_DOMS];
	hv_domain_serials(serial);
	return !memcmp(serial, kept.serial, sizeof(serial)) && same_frames(h);
}

/* Back to the started state: no domain, every frame back with the host.
 * False if the core holds more than it did then. */
static bool to_started(struct replay *r)
{
	destroy_others(false);
	kept.have_prefix = false;
	return hv_frames_in_use() == kept.in_use && r->host.used == kept.used;
}

/* Does this call's trace begin with the kept set-up? The header's event
 * count is the one field that differs between calls. */
static bool same_setup_bytes(const u8 *buf, size_t len)
{
	const size_t cnt = UXT_HDR_OFF_EVENT_COUNT, after = cnt + 8;
	return len >= kept.prefix_len && !memcmp(buf, kept.prefix, cnt) &&
	       !memcmp(buf + after, kept.prefix + after, kept.prefix_len - after);
}

static bool prefix_matches(const struct replay *r)
{
	const struct replay_opts *o = r->o;
	return kept.have_prefix && o->prefix_events == kept.prefix_events &&
	       !o->fail_alloc && !o->keep_going && o->lenient == kept.lenient &&
	       (!o->max_events || o->max_events > kept.prefix_events) &&
	       (!r->rd.hdr.event_count || r->rd.hdr.event_count >= kept.prefix_events) &&
	       o->digest == kept.digest && same_setup_bytes(r->rd.buf, r->rd.len);
}

static void arm_host(struct replay *r)
{
	r->host.panic_jmp = &r->panic;
	r->host.fail_at = r->o->fail_alloc;
	r->host.failures = 0;
	sim_reset();
}

int kept_start(struct replay *r, u64 frames)
{
	if (!kept.alive || kept.frames != frames)
		return -1;
	if (prefix_matches(r)) {
		/* Resume after the set-up: the reader where it stood then (this
		 * trace's own header), the set-up's events counted. */
		struct uxt_header hdr = r->rd.hdr;
		const u8 *buf = r->rd.buf;
		size_t len = r->rd.len;
		r->rd = kept.rd;
		r->rd.buf = buf;
		r->rd.len = len;
		r->rd.hdr = hdr;
		r->res->st = kept.st;
		r->res->digest = kept.digest_val;
		arm_host(r);
		/* The state is the one the checker passed after the set-up. */
		r->checked = true;
		r->checked_full = false;
		r->checked_gen = hv_generation();
		counts.resumed++;
		return 1;
	}
	if (kept.have_prefix && !to_started(r))
		return -1;
	if (r->o->fail_alloc == 1) /* the frame table's allocation */
		return -1;
	r->host.hint = 0;
	r->host.allocs = 1; /* the frame table's allocation */
	r->host.clock_ns = 0;
	arm_host(r);
	return 0;
}

void kept_started(struct replay *r, u64 frames)
{
	kept.alive = true;
	kept.have_prefix = false;
	kept.frames = frames;
	kept.used = r->host.used;
	kept.in_use = hv_frames_in_use();
}

static void back_to_prefix(struct posix_host *h)
{
	h->hint = kept.hint;
	h->allocs = kept.allocs;
	h->clock_ns = kept.clock_ns;
}

/* Run n of the kept set-up's events again from reader `from`, with no
 * failure injected; the call's reader is left where it was. */
static int run_again(struct replay *r, const struct uxt_reader *from, u64 n)
{
	struct uxt_reader rd = r->rd;
	r->host.fail_at = 0;
	sim_reset();
	int rc = replay_setup_again(r, from, n);
	r->rd = rd;
	return rc;
}

/* The whole set-up again, on the started core. */
static int setup_again(struct replay *r)
{
	r->host.hint = 0;
	r->host.allocs = 1;
	r->host.clock_ns = 0;
	/* The set-up's bytes keep the event count of the trace they came
	 * from: read them leniently, and only its events. */
	struct uxt_reader from;
	if (uxt_open(&from, kept.prefix, kept.prefix_len, true))
		return -1;
	return run_again(r, &from, kept.prefix_events);
}

/* Where the set-up's forks were made: a reader on the kept set-up after
 * its first base_events events. */
static void find_tail(const struct replay_opts *o)
{
	struct uxt_event ev;
	kept.have_tail = false;
	if (!o->base_events || o->base_events >= kept.prefix_events || !kept.nr_doms ||
	    uxt_open(&kept.tail_rd, kept.prefix, kept.prefix_len, true))
		return;
	for (u64 i = 0; i < o->base_events; i++)
		if (uxt_next(&kept.tail_rd, &ev) <= 0)
			return;
	kept.tail_events = kept.prefix_events - o->base_events;
	kept.have_tail = true;
}

/* A call left a set-up fork that a reset cannot bring back (it forked it,
 * so it is a template now, or destroyed it): destroy the forks and run the
 * set-up's last events again, those that made them, rather than all of
 * it. The result must be the set-up's state once more: the other domains
 * the same ones, the forks in their slots with their images, the very
 * same frames. */
static bool redo_tail(struct replay *r)
{
	if (!kept.have_tail)
		return false;
	for (u32 i = 0; i < kept.nr_doms; i++)
		if (!kept.dom[i].fork && !dom_same(i))
			return false; /* not the tail's to make again */
	for (u32 i = 0; i < kept.nr_doms; i++)
		if (kept.dom[i].fork && hv_domain_serial(kept.dom[i].id))
			call1(HC_DOMAIN_DESTROY, kept.dom[i].id);
	int rc = run_again(r, &kept.tail_rd, kept.tail_events);
	u64 serial[KEPT_MAX_DOMS];
	hv_domain_serials(serial);
	for (u32 id = 0; id < KEPT_MAX_DOMS && rc == 0; id++)
		if (!serial[id] != !kept.serial[id])
			rc = -1;
	for (u32 i = 0; i < kept.nr_doms && rc == 0; i++) {
		u16 id = kept.dom[i].id;
		if (!kept.dom[i].fork)
			continue;
		if (serial[id] == kept.serial[id] || !dom_same(i))
			rc = -1; /* not made again, or not as before */
		kept.serial[id] = serial[id];
	}
	if (rc || !at_prefix(&r->host))
		return false;
	counts.tail_redone++;
	back_to_prefix(&r->host);
	return true;
}

void kept_after_prefix(struct replay *r)
{
	const struct posix_host *h = &r->host;
	const struct replay_opts *o = r->o;
	/* Only a state the checker passed (resuming skips that check), and a
	 * set-up of host calls alone: the simulated CPU (TSC model, queued
	 * inputs) keeps nothing of it, so resetting it on resume is exact. */
	if (!kept.alive || kept.have_prefix || o->fail_alloc || o->keep_going ||
	    r->res->status || r->res->st.exits || r->res->st.divergences ||
	    !r->checked || r->checked_gen != hv_generation() ||
	    r->rd.pos > KEPT_PREFIX_CAP || bitmap_words(h) > KEPT_BITMAP_WORDS)
		return;
	if (kept.refused && kept.prefix_events == o->prefix_events &&
	    kept.prefix_len == r->rd.pos && same_setup_bytes(r->rd.buf, r->rd.pos))
		return; /* tried already: it cannot be kept */
	kept.refused = false;
	memcpy(kept.prefix, r->rd.buf, r->rd.pos);
	kept.prefix_len = r->rd.pos;
	kept.prefix_events = o->prefix_events;
	kept.lenient = o->lenient;
	kept.rd = r->rd;
	kept.st = r->res->st;
	kept.digest = o->digest;
	kept.digest_val = r->res->digest;
	kept.st.seconds = 0;
	memcpy(kept.bitmap, h->bitmap, bitmap_words(h) * sizeof(u64));
	kept.hint = h->hint;
	kept.allocs = h->allocs;
	kept.p_used = h->used;
	kept.clock_ns = h->clock_ns;
	kept.p_in_use = hv_frames_in_use();
	hv_domain_serials(kept.serial);
	if (!find_doms()) {
		kept.refused = true; /* nothing changed: the call goes on */
		return;
	}
	/* Trying the resets changes the forks: the state must then be
	 * exactly the set-up's again, frames included. */
	if (try_resets() && at_prefix(h)) {
		back_to_prefix(&r->host);
		find_tail(o);
		kept.have_prefix = true;
		return;
	}
	/* It is not: this call must still run on what its set-up made, so
	 * the set-up runs again, and this set-up is not kept. */
	kept.refused = true;
	counts.redone++;
	if (!to_started(r) || setup_again(r))
		replay_fail(r, REPLAY_HV_FAILED,
			    "kept core: the set-up did not give the same state twice");
}

/* Stop the kept core and start it again at once, so that the next call
 * finds it kept (the same path each time: fuzzers measure that as
 * stability). A core that does not give every frame back leaked. */
static void restart(struct replay *r)
{
	counts.restarted++;
	kept_forget();
	u64 left = hv_stop();
	if (left || r->host.used) {
		replay_fail(r, REPLAY_HV_FAILED, "%llu frames leaked at shutdown",
			    (unsigned long long)(left ? left : r->host.used));
		return;
	}
	r->host.hint = 0;
	r->host.fail_at = 0;
	if (posix_hv_start(&r->host) == 0)
		kept_started(r, kept.frames);
}

/* The call changed what the set-up made: run the set-up again now, on the
 * core brought back to started, rather than in the next call. That way
 * each call's coverage is its own, whatever ran before it (a fuzzer sees
 * the same input take the same path: stability). */
static void redo_prefix(struct replay *r)
{
	bool digest = r->o->digest;
	counts.redone++;
	int rc = setup_again(r);
	if (rc == 0 && same_frames(&r->host) && digest == kept.digest) {
		/* The same frames as the first time; its domains are new ones,
		 * and so are its forks' images (their creation numbers). */
		hv_domain_serials(kept.serial);
		if (find_doms() && try_resets() && at_prefix(&r->host)) {
			kept.have_prefix = true;
			back_to_prefix(&r->host);
			find_tail(r->o);
			return;
		}
	}
	/* Not as before (cannot happen: the same events on the same state):
	 * leave the core started, the next call runs its set-up. */
	if (!to_started(r))
		restart(r);
}

void kept_stop(struct replay *r)
{
	struct posix_host *h = &r->host;
	if (kept.have_prefix) {
		destroy_others(true);
		bool back = true;
		for (u32 i = 0; i < kept.nr_doms && back; i++)
			back = dom_back(i);
		if (back && at_prefix(h)) {
			back_to_prefix(h);
			return;
		}
		if (redo_tail(r))
			return;
		bool again = !r->o->fail_alloc && r->o->prefix_events == kept.prefix_events;
		if (!to_started(r)) {
			restart(r);
			if (!kept.alive)
				return;
		}
		if (again)
			redo_prefix(r);
		return;
	}
	if (!to_started(r))
		restart(r);
}

void kept_discard(struct replay *r)
{
	if (!kept.alive)
		return;
	kept_forget();
	hv_stop();
	posix_host_fini(&r->host);
}
