/* The invariant checker: audits the core's whole state against the rules
 * the rest of the core relies on. Fuzzers run it after every event, so it
 * is O(frames held + entries in use) and allocates nothing.
 *
 * Pass 1 walks every live domain and counts, in the frame table's .check
 * scratch, how often each frame is reached: a table or VMCS frame must be
 * reached exactly once, a RAM frame once per p2m leaf that maps it. Pass 2
 * goes over the frames the core holds: .refs must match those counts, and
 * each must be the hypervisor's or have been reached from a live domain
 * (anything else is a leak); it zeroes .check behind it for the next
 * check. Only a check that stopped early leaves .check dirty
 * (hv.check_dirty): the next one clears the whole table first. */
#include "core.h"

struct audit {
	const struct hv_domain *d; /* the domain being walked */
	u32 kids[HV_MAX_DOMAINS];  /* live forks of each domain, counted once */
	u64 tables, ram;           /* tables and 4 KiB leaf frames reached */
	char *msg;
	u32 msglen;
};

#define FAIL(a, ...) (hv_snprintf((a)->msg, (a)->msglen, __VA_ARGS__), -1)

typedef unsigned long long ull; /* what %llx prints */

static const char *type_name(u8 type)
{
	static const char *const names[] = { "free", "hv", "p2m", "ram", "vmcs",
					     "shared", "log" };
	return type < ARRAY_SIZE(names) ? names[type] : "bad-type";
}

/* The domain refers to mfn as a frame of the given type ("what at" says
 * where from): it must be one, and the domain's. Counts the reference. */
static int claim(struct audit *a, u64 mfn, u8 type, bool once,
		 const char *what, u64 at)
{
	struct hv_frame *f = frame_get(mfn);
	unsigned id = a->d->id;
	if (!f)
		return FAIL(a, "d%u %s %llx: mfn %llx is outside the frame table",
			    id, what, (ull)at, (ull)mfn);
	if (f->type != type || f->owner != a->d->id)
		return FAIL(a, "d%u %s %llx: mfn %llx is a %s frame of owner %x, "
			       "expected a %s frame of d%u",
			    id, what, (ull)at, (ull)mfn, type_name(f->type),
			    f->owner, type_name(type), id);
	if (++f->check > 1 && once)
		return FAIL(a, "d%u %s %llx: %s frame %llx is reached twice", id,
			    what, (ull)at, type_name(type), (ull)mfn);
	return 0;
}

/* A frame behind a leaf: the domain's own RAM, or a shared frame, which no
 * domain may map writable (that is what keeps forks and merged pages from
 * seeing each other's writes). Copy-on-write is for shared frames only. */
static int claim_ram(struct audit *a, u64 mfn, bool writable, bool cow, u64 gfn)
{
	struct hv_frame *f = frame_get(mfn);
	if (cow && (!f || f->type != FT_SHARED))
		return FAIL(a, "d%u gfn %llx: copy-on-write mapping of mfn %llx, "
			       "not a shared frame", a->d->id, (ull)gfn, (ull)mfn);
	if (!f || f->type != FT_SHARED)
		return claim(a, mfn, FT_RAM, false, "gfn", gfn);
	if (writable)
		return FAIL(a, "d%u gfn %llx: shared frame %llx mapped writable",
			    a->d->id, (ull)gfn, (ull)mfn);
	f->check++;
	return 0;
}

/* A 4 KiB leaf at level 1 or a 2 MiB leaf at level 2. */
static int audit_leaf(struct audit *a, unsigned level, u64 gfn, u64 e)
{
	unsigned id = a->d->id;
	u64 n = level == 2 ? 1ull << LARGE_ORDER : 1;
	u64 mfn = ept_mfn(e);
	if (ept_type(e) != P2M_RAM)
		return FAIL(a, "d%u gfn %llx: leaf of p2m type %u (only RAM is "
			       "mapped)", id, (ull)gfn, ept_type(e));
	if (!ept_memtype_valid(ept_memtype(e)))
		return FAIL(a, "d%u gfn %llx: reserved memory type %u", id,
			    (ull)gfn, ept_memtype(e));
	if (mfn & (n - 1))
		return FAIL(a, "d%u gfn %llx: 2 MiB leaf at unaligned mfn %llx",
			    id, (ull)gfn, (ull)mfn);
	for (u64 i = 0; i < n; i++) {
		/* The common case first, as claim() would pass it: the domain's
		 * own RAM, mapped plainly (a 2 MiB leaf is 512 of these). */
		struct hv_frame *f = frame_get(mfn + i);
		if (f && f->type == FT_RAM && f->owner == id && !(e & EPT_COW)) {
			f->check++;
			continue;
		}
		int rc = claim_ram(a, mfn + i, e & EPT_W, e & EPT_COW, gfn + i);
		if (rc)
			return rc;
	}
	a->ram += n;
	return 0;
}

/* A pointer to the next level's table. We build them with full rights and
 * nothing else: restricted rights here would make lookups (which report the
 * leaf's) wrong, and bits 3-6 are reserved. */
static int audit_table(struct audit *a, unsigned level, u64 gfn, u64 e)
{
	unsigned id = a->d->id;
	if ((e & ~EPT_ADDR_MASK) != EPT_RWX)
		return FAIL(a, "d%u gfn %llx: level %u table entry %llx has "
			       "bits other than RWX set or rights missing",
			    id, (ull)gfn, level, (ull)e);
	int rc = claim(a, ept_mfn(e), FT_P2M, true, "table for gfn", gfn);
	if (rc)
		return rc;
	a->tables++;
	return 0;
}

/* p2m_walk callback: one call per in-use entry, before the walk descends. */
static int visit(void *arg, unsigned level, u64 gfn, u64 e, u64 table_mfn)
{
	struct audit *a = arg;
	(void)table_mfn;
	if (!ept_perms_valid((u32)(e & EPT_PERMS)))
		return FAIL(a, "d%u gfn %llx: level %u entry %llx is write "
			       "without read (EPT misconfiguration) or "
			       "copy-on-write and writable or not readable",
			    a->d->id, (ull)gfn, level, (ull)e);
	/* Large pages are 2 MiB only: bit 7 is a 1 GiB page at level 3 (not
	 * used), reserved at level 4 and meaningless at level 1. */
	if ((e & EPT_LARGE) && level != 2)
		return FAIL(a, "d%u gfn %llx: large-page bit in a level %u entry",
			    a->d->id, (ull)gfn, level);
	if (level == 1 || (e & EPT_LARGE))
		return audit_leaf(a, level, gfn, e);
	return audit_table(a, level, gfn, e);
}

/* Fork relations: a parent is a live or zombie template; children counts
 * its forks; a zombie exists only for its children. */
static int audit_family(struct audit *a)
{
	const struct hv_domain *d = a->d;
	u32 kids = a->kids[d->id];
	if (kids != d->children)
		return FAIL(a, "d%u: children is %u but %u domains fork from it",
			    d->id, d->children, kids);
	if (d->state == DOM_ZOMBIE && !kids)
		return FAIL(a, "d%u: zombie without children", d->id);
	if (d->is_template && d->state != DOM_PAUSED && d->state != DOM_ZOMBIE)
		return FAIL(a, "d%u: template in state %u (must stay paused)",
			    d->id, d->state);
	if (d->parent == HV_NO_PARENT)
		return 0;
	const struct hv_domain *p = d->parent < HV_MAX_DOMAINS ? &hv.dom[d->parent] : NULL;
	if (!p || p->state == DOM_FREE || !p->is_template)
		return FAIL(a, "d%u: parent d%u is not a template", d->id, d->parent);
	return 0;
}

static int audit_domain(struct audit *a)
{
	const struct hv_domain *d = a->d;
	if (d->nr_vcpus > HV_MAX_VCPUS)
		return FAIL(a, "d%u: %u vCPUs", d->id, d->nr_vcpus);
	int rc = claim(a, d->p2m.root_mfn, FT_P2M, true, "root table for gfn", 0);
	if (rc)
		return rc;
	a->tables = 1;
	a->ram = 0;
	rc = p2m_walk(d, visit, a);
	if (rc)
		return rc;
	if (a->tables != d->p2m.nr_tables)
		return FAIL(a, "d%u: p2m.nr_tables is %llu but %llu tables are "
			       "reached", d->id, (ull)d->p2m.nr_tables,
			    (ull)a->tables);
	if (a->ram != d->nr_ram)
		return FAIL(a, "d%u: nr_ram is %llu but %llu 4 KiB frames are "
			       "mapped", d->id, (ull)d->nr_ram, (ull)a->ram);
	for (u32 k = 0; k < d->nr_vcpus; k++) {
		rc = claim(a, d->vcpu[k].vmcs_mfn, FT_VMCS, true, "vcpu", k);
		if (rc)
			return rc;
	}
	/* The log's frames are taken in order (fork.c): the first missing one
	 * ends them, and fork_log_free() stops there. */
	bool gap = false;
	for (u32 k = 0; k < HV_LOG_FRAMES; k++) {
		if (d->log[k] == INVALID_MFN) {
			gap = true;
			continue;
		}
		if (gap)
			return FAIL(a, "d%u: dirty log frame %u after a missing one",
				    d->id, k);
		rc = claim(a, d->log[k], FT_LOG, true, "dirty log frame", k);
		if (rc)
			return rc;
	}
	return audit_family(a);
}

static bool zero_intact(u64 mfn)
{
	const u64 *p = frame_map(mfn);
	u64 any = 0;
	for (u32 i = 0; i < PAGE_SIZE / 8; i++)
		any |= p[i];
	frame_unmap((void *)p);
	return any == 0;
}

static const char *owner_state(u16 owner)
{
	if (owner < HV_MAX_DOMAINS)
		return hv.dom[owner].state == DOM_FREE ? "dead domain"
						       : "live domain";
	return owner == OWNER_HV ? "hypervisor" : "nobody";
}

/* A held frame: its references must be the leaves that map it (only RAM
 * is ever mapped), and it must belong to the hypervisor or have been
 * reached from its owner. */
static int audit_frame(struct audit *a, u64 mfn, const struct hv_frame *f)
{
	u32 leaves = f->type == FT_RAM || f->type == FT_SHARED ? f->check : 0;
	if (f->type > FT_LOG)
		return FAIL(a, "mfn %llx: bad frame type %u", (ull)mfn, f->type);
	if (f->refs != leaves)
		return FAIL(a, "mfn %llx (%s frame of owner %x): refs is %u but "
			       "%u p2m leaves map it", (ull)mfn,
			    type_name(f->type), f->owner, f->refs, leaves);
	if (f->type == FT_HV) {
		if (f->owner != OWNER_HV)
			return FAIL(a, "mfn %llx: hv frame of owner %x", (ull)mfn,
				    f->owner);
		return 0;
	}
	if (f->type == FT_SHARED && f->owner != OWNER_SHARED)
		return FAIL(a, "mfn %llx: shared frame of owner %x", (ull)mfn,
			    f->owner);
	if (mfn == hv.zero_mfn && (f->type != FT_SHARED || !zero_intact(mfn)))
		return FAIL(a, "mfn %llx: the zero frame is not a zeroed shared "
			       "frame", (ull)mfn);
	if (!f->check)
		return FAIL(a, "mfn %llx: leaked %s frame of owner %x (%s): not "
			       "reached from any live domain", (ull)mfn,
			    type_name(f->type), f->owner, owner_state(f->owner));
	return 0;
}

/* Pass 2 over the frames held (hv.held: frame_alloc() and frame_free()
 * keep it with the entries): most of a machine is free, and this runs
 * after every fuzzed event. A frame the held bits leave out but a domain
 * maps fails pass 1 (claim: a free frame); one they leave out that is
 * not free shows in the count against hv.in_use. */
static int audit_frames(struct audit *a)
{
	u64 held = 0;
	for (u64 w = 0; w < (hv.nr_frames + 63) / 64; w++) {
		for (u64 bits = hv.held[w]; bits; bits &= bits - 1) {
			u64 i = w * 64 + (u64)__builtin_ctzll(bits);
			struct hv_frame *f = &hv.frames[i];
			u64 mfn = hv.first_mfn + i;
			if (i >= hv.nr_frames || f->type == FT_FREE)
				return FAIL(a, "mfn %llx: free frame marked held",
					    (ull)mfn);
			held++;
			int rc = audit_frame(a, mfn, f);
			if (rc)
				return rc;
			f->check = 0;
		}
	}
	if (held != hv.in_use)
		return FAIL(a, "in_use is %llu but %llu frames are held",
			    (ull)hv.in_use, (ull)held);
	return 0;
}

/* The frames the core does not hold are free: nobody's, of no type, no
 * references. Only the full check sweeps them (a sweep of the whole
 * machine after every event is what the held bits spare the fuzzers). */
static int audit_free(struct audit *a)
{
	/* A free entry is all "nobody's, nothing" (frame_free() writes it
	 * whole): each run of frames not held, between the held ones of a
	 * group of 64, in one compare; entry by entry only where that finds a
	 * difference (in a field the rules below may not care about). */
	static const struct hv_frame free64[64] = { [0 ... 63] = { .owner = OWNER_NONE } };
	for (u64 base = 0; base < hv.nr_frames; base += 64) {
		u64 n = hv.nr_frames - base < 64 ? hv.nr_frames - base : 64;
		u64 free_bits = ~hv.held[base / 64] & (n == 64 ? ~0ull : (1ull << n) - 1);
		while (free_bits) {
			u64 k = (u64)__builtin_ctzll(free_bits);
			u64 rest = free_bits >> k;
			u64 len = ~rest ? (u64)__builtin_ctzll(~rest) : 64 - k;
			free_bits &= len == 64 ? 0 : ~(((1ull << len) - 1) << k);
			if (!hv_memcmp(&hv.frames[base + k], free64, len * sizeof(*free64)))
				continue;
			for (u64 i = base + k; i < base + k + len; i++) {
				const struct hv_frame *f = &hv.frames[i];
				if (f->type != FT_FREE || f->owner != OWNER_NONE || f->refs)
					return FAIL(a, "mfn %llx: free frame of owner %x, type %s, "
						       "with %u refs", (ull)(hv.first_mfn + i),
						    f->owner, type_name(f->type), f->refs);
			}
		}
	}
	return 0;
}

/* hv.slots against every slot: the rest of the check visits only the
 * slots it marks. Full check only. */
static int audit_slots(struct audit *a)
{
	for (u32 i = 0; i < HV_MAX_DOMAINS; i++) {
		bool used = hv.dom[i].state != DOM_FREE, marked = hv.slots >> i & 1;
		if (used != marked)
			return FAIL(a, "domain slot %u is %s (state %u) but its bit in "
				       "hv.slots is %s", i, used ? "in use" : "free",
				    hv.dom[i].state, marked ? "set" : "clear");
	}
	return 0;
}

int check_invariants(char *msg, u32 msglen, bool full)
{
	struct audit a = { .msg = msg, .msglen = msglen };
	if (!hv.started)
		return 0; /* nothing to check */
	if (hv.check_dirty)
		for (u64 i = 0; i < hv.nr_frames; i++)
			hv.frames[i].check = 0;
	hv.check_dirty = true; /* until pass 2 has gone all the way */
	for_each_slot(i) {
		const struct hv_domain *d = &hv.dom[i];
		if (d->state != DOM_FREE && d->id == i && d->parent < HV_MAX_DOMAINS)
			a.kids[d->parent]++;
	}
	for_each_slot(i) {
		if (hv.dom[i].state == DOM_FREE)
			continue;
		a.d = &hv.dom[i];
		if (a.d->id != i)
			return FAIL(&a, "domain slot %u holds d%u", i, a.d->id);
		int rc = audit_domain(&a);
		if (rc)
			return rc;
	}
	int rc = audit_frames(&a);
	hv.check_dirty = rc != 0;
	if (!rc && full)
		rc = audit_slots(&a);
	if (!rc && full)
		rc = audit_free(&a);
	return rc;
}

int check_free_frames(char *msg, u32 msglen)
{
	struct audit a = { .msg = msg, .msglen = msglen };
	return hv.started ? audit_free(&a) : 0;
}
