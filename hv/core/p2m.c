/* The guest-physical-to-machine map, kept directly in Intel EPT format
 * (SDM 28.3) so the hardware walks the same tables the core edits: a
 * 4-level tree of 4 KiB tables of 512 entries, PML4 (level 4), PDPT (3),
 * PD (2) and PT (1). A leaf maps 4 KiB at level 1 or 2 MiB at level 2
 * (bit 7); 1 GiB leaves are not used. The p2m type lives in software bits
 * 52-55, so a leaf whose rights are all cleared (a not-present entry to the
 * hardware, which then faults) still says what it maps: an entry is in use
 * iff it is non-zero.
 *
 * Ownership: every table is an FT_P2M frame of the domain, counted in
 * p2m.nr_tables. Each 4 KiB RAM frame under a leaf holds one reference per
 * mapping (frame.refs) and d->nr_ram counts 4 KiB mappings. Unmapping drops
 * the references and gives a frame back when its last mapping goes: after
 * p2m_map() succeeds the p2m owns the frame's lifetime.
 *
 * Every operation either completes or, on an error, changes nothing. */
#include "p2m_impl.h"

/* ---- entry encoding ---- */

/* The guest-physical space the tables can express, capped by the domain. */
static u64 gfn_limit(const struct hv_domain *d)
{
	return d->p2m.max_gfn < HV_P2M_GFN_LIMIT ? d->p2m.max_gfn
						 : HV_P2M_GFN_LIMIT;
}

/* A 4 KiB or 2 MiB range, naturally aligned, inside the space. */
int range_check(const struct hv_domain *d, u64 gfn, unsigned order)
{
	if (order != 0 && order != LARGE_ORDER)
		return -HV_EINVAL;
	u64 n = 1ull << order;
	if (gfn & (n - 1))
		return -HV_EINVAL;
	if (gfn >= gfn_limit(d) || gfn_limit(d) - gfn < n)
		return -HV_ERANGE;
	return 0;
}

/* ---- table access ---- */

static bool group_empty(const u64 *t, unsigned first)
{
	u64 any = 0;
	for (unsigned i = first; i < first + USED_GROUP; i++)
		any |= t[i];
	return !any;
}

void entry_write(u64 table, unsigned idx, u64 e)
{
	hv.generation++;
	u64 *t = frame_map(table);
	t[idx] = e;
	struct hv_frame *f = frame_get(table);
	u32 bit = 1u << (idx / USED_GROUP);
	if (e)
		f->used |= bit;
	else if (group_empty(t, idx - idx % USED_GROUP))
		f->used &= ~bit;
	frame_unmap(t);
}

void slot_write(struct slot *s, u64 e)
{
	entry_write(s->table, s->idx, e);
	s->e = e;
}

/* Descend from the root towards gfn's entry at level stop, stopping early
 * at an empty entry or a leaf. One map per level, no allocation. */
void descend(const struct hv_domain *d, u64 gfn, unsigned stop,
		    struct slot *s)
{
	/* In locals, stored once: every lookup of every event comes here,
	 * and each store through s is one more checked by ASan. */
	u64 table = d->p2m.root_mfn, e;
	unsigned level = EPT_LEVELS, idx;
	for (;; level--) {
		idx = slot_index(gfn, level);
		e = entry_read(table, idx);
		if (level == stop || !e || is_leaf(e, level))
			break;
		table = ept_mfn(e);
	}
	*s = (struct slot){ .table = table, .idx = idx, .level = level, .e = e };
}

unsigned table_next_used(u64 table, unsigned idx)
{
	u64 *t = frame_map(table);
	idx = entries_next_used(t, table_used(table), idx);
	frame_unmap(t);
	return idx;
}

u32 table_used_bits(const u64 *t)
{
	u32 used = 0;
	for (unsigned g = 0; g < USED_GROUPS; g++)
		if (!group_empty(t, g * USED_GROUP))
			used |= 1u << g;
	return used;
}

static bool table_empty(u64 table)
{
	return table_next_used(table, 0) == EPT_ENTRIES;
}

/* A new table whose contents the caller writes in full (all 512 entries)
 * before linking it. */
u64 table_alloc_raw(struct hv_domain *d)
{
	u64 mfn = frame_alloc(0, d->id, FT_P2M);
	if (mfn != INVALID_MFN) {
		d->p2m.nr_tables++;
		frame_get(mfn)->used = ~0u; /* until its writer says better */
	}
	return mfn;
}

/* A new, empty table. Recycled frames hold stale data: zero it. */
u64 table_alloc(struct hv_domain *d)
{
	u64 mfn = table_alloc_raw(d);
	if (mfn == INVALID_MFN)
		return INVALID_MFN;
	void *t = frame_map(mfn);
	hv_memset(t, 0, PAGE_SIZE);
	frame_unmap(t);
	frame_get(mfn)->used = 0;
	return mfn;
}

void table_free(struct hv_domain *d, u64 mfn)
{
	frame_free(mfn);
	d->p2m.nr_tables--;
}

/* ---- RAM frame references ---- */

/* Only frames the domain owns as RAM may back its RAM, or shared frames
 * mapped read-only: never the hypervisor's, another domain's private
 * frames, or a page table. */
static bool ram_mappable(const struct hv_domain *d, u64 mfn, u64 n, u32 perms)
{
	for (u64 i = 0; i < n; i++) {
		const struct hv_frame *f = frame_get(mfn + i);
		bool own = f && f->type == FT_RAM && f->owner == d->id;
		bool shared = f && f->type == FT_SHARED && !(perms & EPT_W);
		if (!own && !shared)
			return false;
	}
	return true;
}

void ram_get(struct hv_domain *d, u64 mfn, u64 n)
{
	hv.generation++;
	for (u64 i = 0; i < n; i++)
		frame_get(mfn + i)->refs++;
	d->nr_ram += n;
}

void ram_put(struct hv_domain *d, u64 mfn, u64 n)
{
	for (u64 i = 0; i < n; i++) {
		struct hv_frame *f = frame_get(mfn + i);
		HV_ASSERT(f && (f->type == FT_RAM || f->type == FT_SHARED) && f->refs);
		if (--f->refs)
			continue;
		if (mfn + i == hv.zero_mfn)
			hv.zero_mfn = INVALID_MFN; /* made again when next needed */
		frame_free(mfn + i);
	}
	HV_ASSERT(d->nr_ram >= n);
	d->nr_ram -= n;
}


static void table_destroy(struct hv_domain *d, u64 table, unsigned level);

/* Drop an in-use entry found at level: a leaf's references, or a whole
 * subtree. The caller has unlinked the entry (and flushed) already. */
static void entry_drop(struct hv_domain *d, u64 e, unsigned level)
{
	if (is_leaf(e, level))
		ram_put(d, ept_mfn(e), 1ull << leaf_order(level));
	else
		table_destroy(d, ept_mfn(e), level - 1);
}

static void table_destroy(struct hv_domain *d, u64 table, unsigned level)
{
	u64 *t = frame_map(table);
	u32 used = table_used(table);
	for_each_used_entry(i, t, used)
		entry_drop(d, t[i], level);
	frame_unmap(t);
	table_free(d, table);
}

/* ---- building blocks of the operations ---- */

/* After a present entry changed or went away, the TLBs and paging-structure
 * caches may still hold it. Once per operation. */
void p2m_flush(const struct hv_domain *d)
{
	arch_invept(p2m_eptp(d));
}

/* One trace item per successful operation: the range, its new rights and
 * type (0 and P2M_NONE once unmapped). */
void rec_p2m(u64 gfn, unsigned order, u32 perms, u8 type)
{
	if (!hv.rec.on)
		return;
	u8 p[12];
	uxt_put64(p, gfn);
	p[8] = (u8)order;
	p[9] = (u8)perms;
	p[10] = type;
	p[11] = 0;
	rec_item(UXT_IT_P2M_OUT, 0, p, 12, NULL, 0);
}

/* Write leaf into the empty entry s, after building the tables missing
 * between s's level and level target. They are filled in bottom-up before
 * the top one is linked, so the hardware never sees a half-built path and
 * a failed allocation leaves nothing behind. */
int install(struct hv_domain *d, struct slot *s, u64 gfn,
		   unsigned target, u64 leaf)
{
	u64 made[EPT_LEVELS];
	unsigned n = 0;
	u64 e = leaf;
	for (unsigned level = target; level < s->level; level++) {
		u64 t = table_alloc(d);
		if (t == INVALID_MFN) {
			while (n)
				table_free(d, made[--n]);
			return -HV_ENOMEM;
		}
		made[n++] = t;
		entry_write(t, slot_index(gfn, level), e);
		e = table_entry(t);
	}
	slot_write(s, e);
	return 0;
}

/* A PT that 4 KiB unmaps emptied: maps nothing, and a 2 MiB map may take
 * its place. */
static bool is_empty_pt(const struct slot *s)
{
	return s->level == 2 && !is_leaf(s->e, 2) && table_empty(ept_mfn(s->e));
}

/* Replace the 2 MiB leaf at s by a PT of 512 4 KiB leaves with the same
 * rights, type and memory type. References stay as they are: each frame is
 * still mapped once, only by a smaller leaf. */
int split_leaf(struct hv_domain *d, struct slot *s)
{
	u64 pt = table_alloc(d);
	if (pt == INVALID_MFN)
		return -HV_ENOMEM;
	u64 keep = s->e & ~(EPT_ADDR_MASK | EPT_LARGE);
	u64 base = ept_mfn(s->e);
	u64 *t = frame_map(pt);
	for (u64 i = 0; i < EPT_ENTRIES; i++)
		t[i] = keep | (base + i) << PAGE_SHIFT;
	frame_unmap(t);
	frame_get(pt)->used = ~0u;
	slot_write(s, table_entry(pt));
	return 0;
}

/* s is an in-use leaf covering gfn: make it gfn's own 4 KiB leaf,
 * splitting a 2 MiB one. */
int leaf_4k(struct hv_domain *d, u64 gfn, struct slot *s)
{
	if (s->level == 1)
		return 0;
	int rc = split_leaf(d, s);
	if (rc)
		return rc;
	descend(d, gfn, 1, s);
	return 0;
}

/* ---- the operations ---- */

int p2m_init(struct hv_domain *d)
{
	d->p2m.nr_tables = 0;
	u64 root = table_alloc(d);
	if (root == INVALID_MFN)
		return -HV_ENOMEM;
	d->p2m.root_mfn = root;
	d->p2m.max_gfn = HV_P2M_GFN_LIMIT;
	return 0;
}

void p2m_destroy(struct hv_domain *d)
{
	if (!d->p2m.nr_tables)
		return; /* p2m_init() failed or never ran */
	p2m_flush(d); /* the domain's vCPUs are stopped: nothing refills it */
	table_destroy(d, d->p2m.root_mfn, EPT_LEVELS);
	HV_ASSERT(d->p2m.nr_tables == 0 && d->nr_ram == 0);
	d->p2m.root_mfn = INVALID_MFN;
}

/* Everything goes but the root, so the EPT pointer stays valid and
 * nothing needs allocating. */
void p2m_clear(struct hv_domain *d)
{
	u64 root = d->p2m.root_mfn;
	for (unsigned i = table_next_used(root, 0); i < EPT_ENTRIES;
	     i = table_next_used(root, i + 1)) {
		u64 e = entry_read(root, i);
		entry_write(root, i, 0);
		p2m_flush(d);
		entry_drop(d, e, EPT_LEVELS);
	}
	HV_ASSERT(d->p2m.nr_tables == 1 && d->nr_ram == 0);
}

int p2m_map(struct hv_domain *d, u64 gfn, u64 mfn, unsigned order, u32 perms,
	    u8 type, u8 memtype)
{
	int rc = range_check(d, gfn, order);
	if (rc)
		return rc;
	u64 n = 1ull << order;
	/* MMIO is never mapped: accesses must fault so they can be emulated. */
	if ((mfn & (n - 1)) || type != P2M_RAM || !ept_perms_valid(perms) ||
	    !ept_memtype_valid(memtype) || !ram_mappable(d, mfn, n, perms))
		return -HV_EINVAL;
	unsigned target = order ? 2 : 1;
	struct slot s;
	descend(d, gfn, target, &s);
	u64 empty_pt = INVALID_MFN;
	if (s.e) {
		if (!is_empty_pt(&s))
			return -HV_EEXIST;
		empty_pt = ept_mfn(s.e); /* the leaf overwrites its pointer */
	}
	rc = install(d, &s, gfn, target, leaf_entry(mfn, order, perms, type, memtype));
	if (rc)
		return rc; /* only a path of new tables can fail: no empty PT */
	ram_get(d, mfn, n);
	fork_log_entry(d, order ? gfn | BIT(63) : gfn);
	if (empty_pt != INVALID_MFN) {
		p2m_flush(d); /* before the PT is reused: walks may cache it */
		table_free(d, empty_pt);
	}
	rec_p2m(gfn, order, perms, type);
	return 0;
}

/* The entry an unmap clears: gfn's own 4 KiB leaf (splitting a 2 MiB one
 * around it), or the PD entry of a 2 MiB range that maps something. */
static int unmap_slot(struct hv_domain *d, u64 gfn, unsigned order,
		      struct slot *s)
{
	descend(d, gfn, order ? 2 : 1, s);
	if (!s->e)
		return -HV_ENOENT;
	if (!order)
		return leaf_4k(d, gfn, s);
	return is_empty_pt(s) ? -HV_ENOENT : 0;
}

int p2m_unmap(struct hv_domain *d, u64 gfn, unsigned order)
{
	int rc = range_check(d, gfn, order);
	if (rc)
		return rc;
	struct slot s;
	rc = unmap_slot(d, gfn, order, &s);
	if (rc)
		return rc;
	u64 old = s.e;
	slot_write(&s, 0);
	/* Until the flush, a TLB may still reach the frames: only then can
	 * they (and a PT under a 2 MiB range) go back. */
	p2m_flush(d);
	entry_drop(d, old, s.level);
	rec_p2m(gfn, order, 0, P2M_NONE);
	fork_log_entry(d, order ? gfn | BIT(63) : gfn);
	return 0;
}

int p2m_set_perms(struct hv_domain *d, u64 gfn, u32 perms)
{
	int rc = range_check(d, gfn, 0);
	if (rc)
		return rc;
	if (!ept_perms_valid(perms))
		return -HV_EINVAL;
	struct slot s;
	descend(d, gfn, 1, &s);
	if (!s.e)
		return -HV_ENOENT;
	/* A shared frame is never mapped writable: write becomes a copy on
	 * the first write. */
	u64 mfn = ept_mfn(s.e) + (gfn & ((1ull << leaf_order(s.level)) - 1));
	if (frame_get(mfn) && frame_get(mfn)->type == FT_SHARED)
		perms = ept_share_perms(perms);
	/* Rights the leaf already has need no split and no flush. */
	if ((s.e & EPT_PERMS) != perms) {
		rc = leaf_4k(d, gfn, &s);
		if (rc)
			return rc;
		slot_write(&s, (s.e & ~(u64)EPT_PERMS) | perms);
		p2m_flush(d);
		fork_log(d, gfn);
	}
	rec_p2m(gfn, 0, perms, ept_type(s.e));
	return 0;
}

/* Recorded as the 2 MiB range it covers, with unchanged rights and type:
 * the guest-visible map is the same, only its granularity changed. A range
 * already mapped by 4 KiB leaves is left as it is. */
int p2m_split(struct hv_domain *d, u64 gfn)
{
	int rc = range_check(d, gfn, 0);
	if (rc)
		return rc;
	struct slot s;
	descend(d, gfn, 1, &s);
	if (!s.e)
		return -HV_ENOENT;
	if (s.level == 2) {
		rc = leaf_4k(d, gfn, &s);
		if (rc)
			return rc;
		p2m_flush(d);
	}
	rec_p2m(gfn & ~(LARGE_FRAMES - 1), LARGE_ORDER, (u32)(s.e & EPT_RWX),
		ept_type(s.e));
	return 0;
}

/* What the leaf at s says about gfn (which it covers). */
void slot_to_entry(const struct slot *s, u64 gfn, struct p2m_entry *out)
{
	unsigned order = leaf_order(s->level);
	out->mfn = ept_mfn(s->e) + (gfn & ((1ull << order) - 1));
	out->perms = (u32)(s->e & EPT_PERMS);
	out->type = ept_type(s->e);
	out->order = (u8)order;
	out->memtype = ept_memtype(s->e);
}

int p2m_lookup(const struct hv_domain *d, u64 gfn, struct p2m_entry *out)
{
	if (gfn >= gfn_limit(d))
		return -HV_ENOENT;
	struct slot s;
	descend(d, gfn, 1, &s);
	if (!s.e)
		return -HV_ENOENT;
	slot_to_entry(&s, gfn, out);
	return 0;
}

/* EPTP (SDM 24.6.11): write-back paging structures, walk length - 1 in
 * bits 5:3, the root table's address. */
u64 p2m_eptp(const struct hv_domain *d)
{
	return EPT_MT_WB | (u64)(EPT_LEVELS - 1) << 3 |
	       d->p2m.root_mfn << PAGE_SHIFT;
}
