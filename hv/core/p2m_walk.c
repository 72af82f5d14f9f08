/* The p2m walk: every entry in use of a domain's tables, in order. The
 * invariant checker and the domain image use it (and tests), and a lazy
 * fork that materializes walks its ancestors with it. The fuzz builds
 * leave it without coverage (mk/fuzz.mk): the same loop for any input. */
#include "p2m_impl.h"

static bool is_table_frame(u64 mfn)
{
	const struct hv_frame *f = frame_get(mfn);
	return f && f->type == FT_P2M;
}

/* Pre-order: fn sees an entry before the walk descends into the table it
 * points to, so a checker can stop the walk at a bad pointer. The walk
 * itself only ever follows pointers to p2m table frames. */
static int walk_table(u64 table, unsigned level, u64 base, p2m_visit_fn fn,
		      void *arg)
{
	u64 *t = frame_map(table);
	u32 used = table_used(table);
	int rc = 0;
	for_each_used_entry(i, t, used) {
		u64 e = t[i];
		u64 gfn = base + ((u64)i << level_shift(level));
		rc = fn(arg, level, gfn, e, table);
		if (!rc && !is_leaf(e, level) && is_table_frame(ept_mfn(e)))
			rc = walk_table(ept_mfn(e), level - 1, gfn, fn, arg);
		if (rc)
			break;
	}
	frame_unmap(t);
	return rc;
}

int p2m_walk(const struct hv_domain *d, p2m_visit_fn fn, void *arg)
{
	if (!d->p2m.nr_tables)
		return 0;
	return walk_table(d->p2m.root_mfn, EPT_LEVELS, 0, fn, arg);
}
