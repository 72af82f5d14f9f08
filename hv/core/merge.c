/* Page sharing beyond forks: the shared zero frame, hints ("this page is
 * free / zero"), and the re-merge scanner, which finds frames with the same
 * contents across domains and maps them all to one read-only shared frame.
 * A fast hash finds candidates; a full comparison decides, always. The
 * scanner works through a budget of pages per call and remembers where it
 * stopped, so a call always returns promptly. */
#include "p2m_impl.h"

#define MERGE_ORDER 9 /* the scanner's state and table: 2 MiB */
#define WORDS (PAGE_SIZE / 8)

/* A candidate: the frame last seen with this hash, where it was mapped. */
struct merge_slot {
	u64 hash, mfn, gfn;
	u16 dom;
	u16 pad[3];
};
/* The slots' live bits fill at most the block's second page (the slot
 * count is the block less two pages, rounded down to a power of two). */
_Static_assert(((PAGE_SIZE << MERGE_ORDER) - 2 * PAGE_SIZE) / sizeof(struct merge_slot) < 2 * PAGE_SIZE * 8,
	       "the live bits of the slots fit a page");

struct merge_state {
	u64 mfn;                   /* first frame of the block holding all this */
	u64 nr_slots;              /* a power of two */
	struct merge_slot *slots;
	u64 *live;                 /* a bit per slot: set once written */
	u32 cursor_dom;
	u64 cursor_gfn;
	u64 zero_hash;
	struct hv_share_stats st;
};

/* ---- the zero frame ---- */

/* The one shared zero frame, made on first use; it goes when its last
 * mapping does (p2m.c) and comes back when needed. */
u64 zero_frame(void)
{
	if (hv.zero_mfn != INVALID_MFN)
		return hv.zero_mfn;
	u64 mfn = frame_alloc(0, OWNER_SHARED, FT_SHARED);
	if (mfn == INVALID_MFN)
		return INVALID_MFN;
	void *p = frame_map(mfn);
	hv_memset(p, 0, PAGE_SIZE);
	frame_unmap(p);
	hv.zero_mfn = mfn;
	return mfn;
}

/* A zero frame just made for a mapping that then failed has no mapping to
 * take it away again (p2m.c frees it with its last one): free it here. */
static void zero_frame_unused(u64 z)
{
	if (z == hv.zero_mfn && frame_get(z)->refs == 0) {
		hv.zero_mfn = INVALID_MFN;
		frame_free(z);
	}
}

/* ---- page contents ---- */

/* 64-bit multiply-rotate hash over the words of a page: a candidate
 * filter only, so speed matters more than strength. */
static u64 page_hash(const u64 *w)
{
	u64 h = 0x9e3779b97f4a7c15ull;
	for (u32 i = 0; i < WORDS; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

static bool page_equal(const u64 *a, const u64 *b)
{
	u64 diff = 0;
	for (u32 i = 0; i < WORDS; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static bool page_zero(const u64 *a)
{
	u64 any = 0;
	for (u32 i = 0; i < WORDS; i++)
		any |= a[i];
	return any == 0;
}

static u64 frame_hash(u64 mfn)
{
	const u64 *p = frame_map(mfn);
	u64 h = page_hash(p);
	frame_unmap((void *)p);
	return h;
}

static bool frames_equal(u64 a, u64 b)
{
	const u64 *pa = frame_map(a), *pb = frame_map(b);
	bool eq = page_equal(pa, pb);
	frame_unmap((void *)pb);
	frame_unmap((void *)pa);
	return eq;
}

static bool frame_is_zero(u64 mfn)
{
	const u64 *p = frame_map(mfn);
	bool z = page_zero(p);
	frame_unmap((void *)p);
	return z;
}

/* ---- hints ---- */

/* The guest (or the host) says the page at gfn is free (its contents may
 * go) or zero (checked: a page that is not stays as it is). Either way it
 * is mapped to the zero frame, read-only; a write allocates again. */
static int hint_one(struct hv_domain *d, u64 gfn, unsigned kind)
{
	struct p2m_entry e;
	if (p2m_lookup(d, gfn, &e) || e.type != P2M_RAM)
		return 0; /* nothing mapped: nothing to give back */
	if (e.mfn == hv.zero_mfn && hv.zero_mfn != INVALID_MFN)
		return 0;
	if (kind == HV_HINT_ZERO && !frame_is_zero(e.mfn))
		return 0;
	u64 z = zero_frame();
	if (z == INVALID_MFN)
		return -HV_ENOMEM;
	int rc = p2m_replace(d, gfn, z, ept_share_perms(e.perms));
	if (rc)
		zero_frame_unused(z);
	return rc ? rc : 1;
}

s64 share_hint(struct hv_domain *d, u64 gfn, u64 count, u64 kind)
{
	if (kind != HV_HINT_FREE && kind != HV_HINT_ZERO)
		return -HV_EINVAL;
	if (gfn >= d->p2m.max_gfn || count > d->p2m.max_gfn - gfn)
		return -HV_ERANGE;
	s64 done = 0;
	struct p2m_entry e;
	/* Only mapped gfns can be given back: skip the holes whole. */
	for (u64 g = gfn; p2m_next(d, &g, gfn + count, &e) == 0; g++) {
		int rc = hint_one(d, g, (unsigned)kind);
		if (rc < 0)
			return rc;
		done += rc;
	}
	return done;
}

/* Map the zero frame over [gfn, gfn+count), copy-on-write: memory that costs
 * nothing until written. */
int populate_zero(struct hv_domain *d, u64 gfn, u64 count)
{
	if (gfn >= d->p2m.max_gfn || count > d->p2m.max_gfn - gfn)
		return -HV_ERANGE;
	if (d->nr_ram > d->max_frames || count > d->max_frames - d->nr_ram)
		return -HV_ENOSPC;
	for (u64 g = gfn; g < gfn + count; g++) {
		if (domain_is_mmio(d, g))
			return -HV_EEXIST;
		u64 z = zero_frame();
		if (z == INVALID_MFN)
			return -HV_ENOMEM;
		int rc = p2m_map(d, g, z, 0, EPT_R | EPT_X | EPT_COW, P2M_RAM,
				 EPT_MT_WB);
		if (rc) {
			zero_frame_unused(z);
			return rc;
		}
	}
	return 0;
}

/* ---- the scanner ---- */

static struct merge_state *merge_get(void)
{
	if (hv.merge)
		return hv.merge;
	u64 mfn = frame_alloc(MERGE_ORDER, OWNER_HV, FT_HV);
	if (mfn == INVALID_MFN)
		return NULL;
	/* The block maps contiguously: this state in its first page, the
	 * slots' live bits in the second, the slots after them. Only the
	 * first two pages are zeroed: a slot is read only once its bit says
	 * it was written (a fresh table at the cost of 8 KiB, not 2 MiB: the
	 * fuzzers' kept core makes one for every input that merges). */
	struct merge_state *m = frame_map(mfn);
	hv_memset(m, 0, 2 * PAGE_SIZE);
	m->mfn = mfn;
	m->live = (u64 *)((u8 *)m + PAGE_SIZE);
	m->slots = (struct merge_slot *)((u8 *)m + 2 * PAGE_SIZE);
	m->nr_slots = ((PAGE_SIZE << MERGE_ORDER) - 2 * PAGE_SIZE) / sizeof(struct merge_slot);
	/* round down to a power of two for masking */
	while (m->nr_slots & (m->nr_slots - 1))
		m->nr_slots &= m->nr_slots - 1;
	u64 zero[WORDS];
	hv_memset(zero, 0, sizeof(zero));
	m->zero_hash = page_hash(zero);
	hv.merge = m;
	return m;
}

void merge_fini(void)
{
	if (!hv.merge)
		return;
	u64 mfn = hv.merge->mfn;
	frame_unmap(hv.merge);
	hv.merge = NULL;
	for (u64 i = 0; i < (1ull << MERGE_ORDER); i++)
		frame_free(mfn + i);
}

/* Is the candidate still what it was: mapped where we saw it, and either
 * shared or the private RAM of that domain? */
static bool slot_valid(const struct merge_slot *s)
{
	const struct hv_frame *f = frame_get(s->mfn);
	struct hv_domain *d = s->dom < HV_MAX_DOMAINS ? &hv.dom[s->dom] : NULL;
	struct p2m_entry e;
	if (!f || !d || d->state == DOM_FREE || p2m_lookup(d, s->gfn, &e) ||
	    e.mfn != s->mfn)
		return false;
	return f->type == FT_SHARED || (f->type == FT_RAM && f->owner == s->dom);
}

/* The candidate becomes a shared frame: its owner's mapping is made
 * read-only first, so the comparison that follows cannot be raced. */
static int share_candidate(struct merge_slot *s)
{
	struct hv_frame *f = frame_get(s->mfn);
	if (f->type == FT_SHARED)
		return 0;
	struct hv_domain *d = &hv.dom[s->dom];
	struct p2m_entry e;
	p2m_lookup(d, s->gfn, &e);
	int rc = p2m_set_perms(d, s->gfn, ept_share_perms(e.perms));
	if (rc)
		return rc;
	f->type = FT_SHARED;
	f->owner = OWNER_SHARED;
	return 0;
}

/* One 4 KiB page of d at gfn, mapped to mfn: merge it, or remember it.
 * Returns 1 if merged, 0 if not, or a negative error. */
static int scan_page(struct merge_state *m, struct hv_domain *d, u64 gfn,
		     const struct p2m_entry *e)
{
	const struct hv_frame *f = frame_get(e->mfn);
	if (f->type != FT_RAM || !(e->perms & EPT_R))
		return 0; /* already shared, or hidden from the guest itself */
	u64 h = frame_hash(e->mfn);
	m->st.scanned++;
	if (h == m->zero_hash && frame_is_zero(e->mfn)) {
		int rc = hint_one(d, gfn, HV_HINT_ZERO);
		m->st.zeroed += rc > 0;
		return rc;
	}
	u64 i = h & (m->nr_slots - 1);
	struct merge_slot *s = &m->slots[i];
	bool live = m->live[i / 64] & (1ull << (i % 64));
	m->live[i / 64] |= 1ull << (i % 64); /* written below, or merged */
	if (live && s->hash == h && s->mfn != e->mfn && slot_valid(s) &&
	    frames_equal(s->mfn, e->mfn)) {
		int rc = share_candidate(s);
		if (rc == 0 && frames_equal(s->mfn, e->mfn))
			rc = p2m_replace(d, gfn, s->mfn, ept_share_perms(e->perms));
		if (rc)
			return rc;
		m->st.merged++;
		return 1;
	}
	*s = (struct merge_slot){ .hash = h, .mfn = e->mfn, .gfn = gfn, .dom = d->id };
	return 0;
}

/* Scan up to budget pages, continuing where the last call stopped.
 * Returns the number of pages merged (zero pages included). */
s64 merge_scan(u64 budget)
{
	if (budget == 0 || budget > HV_MAX_COUNT)
		return -HV_EINVAL;
	struct merge_state *m = merge_get();
	if (!m)
		return -HV_ENOMEM;
	u64 t0 = hv.ops->counter_ns(hv.ctx);
	s64 merged = 0;
	u64 visited = 0;
	for (u32 n = 0; n <= HV_MAX_DOMAINS && visited < budget; n++) {
		struct hv_domain *d = &hv.dom[m->cursor_dom];
		bool live = d->state == DOM_RUNNING || d->state == DOM_PAUSED ||
			    d->state == DOM_CRASHED || d->state == DOM_SHUTDOWN;
		struct p2m_entry e;
		while (live && visited < budget &&
		       p2m_next(d, &m->cursor_gfn, d->p2m.max_gfn, &e) == 0) {
			visited++;
			int rc = scan_page(m, d, m->cursor_gfn, &e);
			if (rc < 0)
				return rc;
			merged += rc;
			m->cursor_gfn++;
		}
		if (visited >= budget)
			break;
		m->cursor_gfn = 0; /* this domain done: the next one */
		if (++m->cursor_dom == HV_MAX_DOMAINS) {
			m->cursor_dom = 0;
			m->st.passes++;
		}
	}
	m->st.scan_ns += hv.ops->counter_ns(hv.ctx) - t0;
	m->st.visited += visited;
	return merged;
}

void hv_share_reset(void)
{
	merge_fini();
}

void hv_share_stats(struct hv_share_stats *out)
{
	struct hv_share_stats st = { 0 };
	if (hv.merge)
		st = hv.merge->st;
	st.shared_frames = st.shared_maps = 0;
	for (u64 i = 0; hv.frames && i < hv.nr_frames; i++)
		if (hv.frames[i].type == FT_SHARED) {
			st.shared_frames++;
			st.shared_maps += hv.frames[i].refs;
		}
	st.saved_bytes = (st.shared_maps - st.shared_frames) * PAGE_SIZE;
	st.frames_in_use = hv.in_use;
	*out = st;
}
