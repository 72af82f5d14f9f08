/* p2m operations for vmfork and page sharing: write-protect a domain that
 * becomes a template, clone its tables into an eager fork, fill a lazy
 * fork's entry from its ancestors on first touch, replace one mapping (the
 * copy-on-write break and the merge), and iterate the mapped gfns. */
#include "p2m_impl.h"

/* Everything a leaf maps becomes shared and read-only. */
static void share_leaf(struct hv_domain *d, u64 table, unsigned idx, u64 e,
		       unsigned level)
{
	u64 n = 1ull << leaf_order(level);
	for (u64 i = 0; i < n; i++) {
		struct hv_frame *f = frame_get(ept_mfn(e) + i);
		if (f->type == FT_RAM && f->owner == d->id) {
			f->type = FT_SHARED;
			f->owner = OWNER_SHARED;
		}
	}
	if (e & EPT_W)
		entry_write(table, idx, e & ~EPT_W);
}

static void share_table(struct hv_domain *d, u64 table, unsigned level)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		u64 e = entry_read(table, i);
		if (!e)
			continue;
		if (is_leaf(e, level))
			share_leaf(d, table, i, e, level);
		else
			share_table(d, ept_mfn(e), level - 1);
	}
}

void p2m_share_all(struct hv_domain *d)
{
	share_table(d, d->p2m.root_mfn, EPT_LEVELS);
	p2m_flush(d);
}

/* Copy table src (of the parent) into dst (the child's, empty): leaves as
 * they are (the parent is a template: read-only, shared), each mapped
 * frame one more reference; subtables copied the same way. */
static int clone_table(struct hv_domain *c, u64 dst, u64 src, unsigned level)
{
	u64 *s = frame_map(src);
	int rc = 0;
	for (unsigned i = 0; i < EPT_ENTRIES && !rc; i++) {
		u64 e = s[i];
		if (!e)
			continue;
		if (is_leaf(e, level)) {
			entry_write(dst, i, e);
			ram_get(c, ept_mfn(e), 1ull << leaf_order(level));
			continue;
		}
		u64 t = table_alloc(c);
		if (t == INVALID_MFN) {
			rc = -HV_ENOMEM;
			break;
		}
		entry_write(dst, i, table_entry(t));
		rc = clone_table(c, t, ept_mfn(e), level - 1);
	}
	frame_unmap(s);
	return rc;
}

/* On failure the child holds a consistent part of the copy: destroying it
 * gives everything back. */
int p2m_clone(struct hv_domain *c, const struct hv_domain *p)
{
	return clone_table(c, c->p2m.root_mfn, p->p2m.root_mfn, EPT_LEVELS);
}

/* The mapping of gfn in the nearest ancestor of d that has one. */
static int ancestor_lookup(const struct hv_domain *d, u64 gfn,
			   struct p2m_entry *e, u64 *leaf_gfn)
{
	for (unsigned n = 0; d->parent != HV_NO_PARENT && n < HV_FORK_DEPTH; n++) {
		d = &hv.dom[d->parent];
		if (p2m_lookup(d, gfn, e) == 0) {
			*leaf_gfn = gfn & ~((1ull << e->order) - 1);
			return 0;
		}
	}
	return -HV_ENOENT;
}

int p2m_ancestor_lookup(const struct hv_domain *d, u64 gfn, struct p2m_entry *e)
{
	u64 base;
	return ancestor_lookup(d, gfn, e, &base);
}

/* A lazy fork's first touch of gfn: map what its nearest ancestor maps,
 * read-only (a whole 2 MiB leaf where the child has room for one). Not a
 * change of the guest's view, so neither logged nor recorded. */
int p2m_fill(struct hv_domain *d, u64 gfn)
{
	struct p2m_entry e;
	u64 base;
	if (ancestor_lookup(d, gfn, &e, &base))
		return -HV_ENOENT;
	u32 perms = e.perms & ~(u32)EPT_W;
	struct slot s;
	unsigned target = e.order ? 2 : 1;
	descend(d, gfn, target, &s);
	if (s.e && target == 2) { /* a PT exists here: fill one 4 KiB leaf */
		target = 1;
		descend(d, gfn, 1, &s);
	}
	if (s.e)
		return -HV_EEXIST;
	u64 first = e.mfn - (gfn - base); /* the leaf's first frame */
	u64 mfn = target == 2 ? first : e.mfn;
	u64 at = target == 2 ? base : gfn;
	int rc = install(d, &s, at, target,
			 leaf_entry(mfn, target == 2 ? LARGE_ORDER : 0, perms,
				    e.type, e.memtype));
	if (rc)
		return rc;
	ram_get(d, mfn, target == 2 ? LARGE_FRAMES : 1);
	return 0;
}

/* gfn's 4 KiB mapping now points at mfn with perms (a 2 MiB leaf is split
 * first). The old frame's reference goes after the flush. */
int p2m_replace(struct hv_domain *d, u64 gfn, u64 mfn, u32 perms)
{
	int rc = range_check(d, gfn, 0);
	if (rc)
		return rc;
	const struct hv_frame *f = frame_get(mfn);
	if (!f || !ept_perms_valid(perms) ||
	    !((f->type == FT_RAM && f->owner == d->id) ||
	      (f->type == FT_SHARED && !(perms & EPT_W))))
		return -HV_EINVAL;
	struct slot s;
	descend(d, gfn, 1, &s);
	if (!s.e)
		return -HV_ENOENT;
	rc = leaf_4k(d, gfn, &s);
	if (rc)
		return rc;
	u64 old = s.e;
	slot_write(&s, leaf_entry(mfn, 0, perms, ept_type(old), ept_memtype(old)));
	ram_get(d, mfn, 1);
	p2m_flush(d);
	ram_put(d, ept_mfn(old), 1);
	rec_p2m(gfn, 0, perms, ept_type(old));
	fork_log(d, gfn);
	return 0;
}

/* The first mapped gfn at or after *gfn (below end), its entry in *e.
 * Empty subtrees are skipped whole, so a sparse p2m is cheap to scan. */
int p2m_next(const struct hv_domain *d, u64 *gfn, u64 end, struct p2m_entry *e)
{
	u64 g = *gfn;
	while (g < end) {
		struct slot s;
		descend(d, g, 1, &s);
		if (s.e && is_leaf(s.e, s.level)) {
			unsigned order = leaf_order(s.level);
			e->mfn = ept_mfn(s.e) + (g & ((1ull << order) - 1));
			e->perms = (u32)(s.e & EPT_RWX);
			e->type = ept_type(s.e);
			e->order = (u8)order;
			e->memtype = ept_memtype(s.e);
			*gfn = g;
			return 0;
		}
		/* Nothing below this entry: skip to the next one at its level. */
		u64 span = 1ull << level_shift(s.level);
		g = (g & ~(span - 1)) + span;
	}
	return -HV_ENOENT;
}
