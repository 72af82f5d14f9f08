/* p2m operations for vmfork and page sharing: write-protect a domain that
 * becomes a template, clone its tables into an eager fork, fill a lazy
 * fork's entry from its ancestors on first touch, replace one mapping (the
 * copy-on-write break and the merge), and iterate the mapped gfns. */
#include "p2m_impl.h"

/* A leaf of a frame that is (or becomes) shared: write turns into
 * copy-on-write. */
static u64 share_entry(u64 e)
{
	return (e & ~(u64)EPT_PERMS) | ept_share_perms((u32)(e & EPT_PERMS));
}

/* Everything a leaf maps becomes shared and read-only. */
static void share_leaf(struct hv_domain *d, u64 *entry, unsigned level)
{
	u64 n = 1ull << leaf_order(level);
	struct hv_frame *f = frame_get(ept_mfn(*entry));
	for (u64 i = 0; i < n; i++, f++) {
		if (f->type == FT_RAM && f->owner == d->id) {
			f->type = FT_SHARED;
			f->owner = OWNER_SHARED;
		}
	}
	*entry = share_entry(*entry);
}

/* Tables are mapped once each: this runs over every entry of a template. */
static void share_table(struct hv_domain *d, u64 table, unsigned level)
{
	u64 *t = frame_map(table);
	u32 used = table_used(table);
	for_each_used_entry(i, t, used) {
		if (is_leaf(t[i], level))
			share_leaf(d, &t[i], level);
		else
			share_table(d, ept_mfn(t[i]), level - 1);
	}
	frame_unmap(t);
}

void p2m_share_all(struct hv_domain *d)
{
	hv.generation++;
	share_table(d, d->p2m.root_mfn, EPT_LEVELS);
	p2m_flush(d);
}

/* Copy table src (of the parent) into dst (the child's, empty): leaves
 * read-only, as the parent's are once it is a template (it becomes one
 * after the copy, so that a failed copy leaves it as it was), each mapped
 * frame one more reference; subtables copied the same way. */
/* Frames of consecutive leaves are usually consecutive too: count the
 * references through one frame-table pointer. */
static void leaf_refs(struct hv_domain *c, u64 e, unsigned level)
{
	u64 n = 1ull << leaf_order(level);
	struct hv_frame *f = frame_get(ept_mfn(e));
	for (u64 i = 0; i < n; i++)
		f[i].refs++;
	c->nr_ram += n;
}


/* A last-level table: all leaves. The hot loop of an eager fork (512 of
 * these per GiB), kept to a copy and one increment per entry; the groups
 * of entries the source's used bits leave out are all zero. */
static u32 clone_pt(struct hv_domain *c, u64 *d, const u64 *s, u32 used)
{
	struct hv_frame *ft = hv.frames;
	u64 first = hv.first_mfn, n = 0;
	u32 out = 0;
	for (unsigned g = 0; g < USED_GROUPS; g++) {
		unsigned i = g * USED_GROUP, end = i + USED_GROUP;
		if (!(used & (1u << g))) {
			hv_memset(d + i, 0, USED_GROUP * sizeof(*d));
			continue;
		}
		for (; i < end; i++) { /* one pass: copy and count */
			u64 e = s[i];
			d[i] = e ? share_entry(e) : 0;
			if (e) {
				ft[ept_mfn(e) - first].refs++;
				n++;
				out |= 1u << g;
			}
		}
	}
	c->nr_ram += n;
	return out;
}

static int clone_table(struct hv_domain *c, u64 dst, u64 src, unsigned level)
{
	const u64 *s = frame_map(src);
	u64 *d = frame_map(dst);
	u32 used = table_used(src);
	int rc = 0;
	if (level == 1) {
		frame_get(dst)->used = clone_pt(c, d, s, used);
		frame_unmap(d);
		frame_unmap((void *)s);
		return 0;
	}
	for_each_used_entry(i, s, used) {
		u64 e = s[i];
		frame_get(dst)->used |= 1u << (i / USED_GROUP); /* d[i], below */
		if (is_leaf(e, level)) {
			d[i] = share_entry(e);
			leaf_refs(c, e, level);
			continue;
		}
		/* A PT is copied whole by clone_pt(): no need to zero it. */
		u64 t = level == 2 ? table_alloc_raw(c) : table_alloc(c);
		if (t == INVALID_MFN) {
			rc = -HV_ENOMEM;
			break;
		}
		d[i] = table_entry(t);
		rc = clone_table(c, t, ept_mfn(e), level - 1);
		if (rc)
			break;
	}
	frame_unmap(d);
	frame_unmap((void *)s);
	return rc;
}

/* On failure the child holds a consistent part of the copy: destroying it
 * gives everything back. */
int p2m_clone(struct hv_domain *c, const struct hv_domain *p)
{
	hv.generation++;
	return clone_table(c, c->p2m.root_mfn, p->p2m.root_mfn, EPT_LEVELS);
}

/* The mapping of gfn in the nearest ancestor of d that has one. Only a
 * lazy ancestor lacks what its own parent has: the search ends at the
 * first one that is not lazy (what it does not map, it unmapped). */
static int ancestor_lookup(const struct hv_domain *d, u64 gfn,
			   struct p2m_entry *e, u64 *leaf_gfn)
{
	for (unsigned n = 0; d->parent != HV_NO_PARENT && n < HV_FORK_DEPTH; n++) {
		d = &hv.dom[d->parent];
		if (p2m_lookup(d, gfn, e) == 0) {
			*leaf_gfn = gfn & ~((1ull << e->order) - 1);
			return 0;
		}
		if (!d->lazy)
			break;
	}
	return -HV_ENOENT;
}

int p2m_ancestor_lookup(const struct hv_domain *d, u64 gfn, struct p2m_entry *e)
{
	u64 base;
	return ancestor_lookup(d, gfn, e, &base);
}

/* The fill itself, from e: the nearest ancestor's mapping of gfn, by a
 * leaf whose first gfn is base. */
static int fill_from(struct hv_domain *d, u64 gfn, const struct p2m_entry *e, u64 base)
{
	u32 perms = ept_share_perms(e->perms);
	struct slot s;
	unsigned target = e->order ? 2 : 1;
	descend(d, gfn, target, &s);
	if (s.e && target == 2) { /* a PT exists here: fill one 4 KiB leaf */
		target = 1;
		descend(d, gfn, 1, &s);
	}
	if (s.e)
		return -HV_EEXIST;
	u64 first = e->mfn - (gfn - base); /* the leaf's first frame */
	u64 mfn = target == 2 ? first : e->mfn;
	u64 at = target == 2 ? base : gfn;
	int rc = install(d, &s, at, target,
			 leaf_entry(mfn, target == 2 ? LARGE_ORDER : 0, perms,
				    e->type, e->memtype));
	if (rc)
		return rc;
	ram_get(d, mfn, target == 2 ? LARGE_FRAMES : 1);
	return 0;
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
	return fill_from(d, gfn, &e, base);
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
 * Empty subtrees are skipped whole, and empty entries scanned in place, so
 * a sparse p2m is cheap to scan (a hostile count costs nothing). */
int p2m_next(const struct hv_domain *d, u64 *gfn, u64 end, struct p2m_entry *e)
{
	u64 g = *gfn;
	while (g < end) {
		struct slot s;
		descend(d, g, 1, &s);
		if (s.e && is_leaf(s.e, s.level)) {
			slot_to_entry(&s, g, e);
			*gfn = g;
			return 0;
		}
		/* s is empty: on to the next entry in use in its table (or past
		 * the table), then down from there. */
		u64 span = 1ull << level_shift(s.level);
		unsigned j = table_next_used(s.table, s.idx + 1);
		g = (g & ~(span - 1)) + (u64)(j - s.idx) * span;
	}
	return -HV_ENOENT;
}

/* p2m_walk() over an ancestor of the lazy domain d, nearest first: each
 * gfn a leaf of it maps and d does not, d fills, as its first touch would.
 * The entry comes with the walk: no ancestor nearer maps that gfn (d
 * would have it from that one already), so it is the one p2m_fill()
 * would look up. A gfn d maps already skips the rest of d's leaf. */
static int fill_leaf(void *arg, unsigned level, u64 gfn, u64 leaf, u64 table)
{
	struct hv_domain *d = arg;
	(void)table;
	if (!is_leaf(leaf, level))
		return 0;
	const struct slot s = { .level = level, .e = leaf };
	u64 end = gfn + (1ull << leaf_order(level));
	for (u64 g = gfn; g < end; g++) {
		struct p2m_entry e;
		if (p2m_lookup(d, g, &e) == 0) {
			g |= (1ull << e.order) - 1;
			continue;
		}
		slot_to_entry(&s, g, &e);
		int rc = fill_from(d, g, &e, gfn);
		if (rc)
			return rc;
	}
	return 0;
}

/* A lazy domain takes every mapping it would fill from its ancestors and
 * is lazy no more, so that a hole it makes stays a hole (an unmapped gfn
 * would otherwise be filled again on the next touch) and what it maps
 * anew cannot hide its template's memory. For the host's operations on
 * the layout of a lazy fork. On failure the domain stays lazy, with what
 * was filled so far: consistent either way. */
int p2m_materialize(struct hv_domain *d)
{
	const struct hv_domain *a = d;
	for (unsigned n = 0; d->lazy && a->parent != HV_NO_PARENT &&
			     n < HV_FORK_DEPTH; n++) {
		a = &hv.dom[a->parent];
		int rc = p2m_walk(a, fill_leaf, d);
		if (rc)
			return rc;
		if (!a->lazy)
			break;
	}
	d->lazy = false;
	return 0;
}
