/* The invariant checker (hv/core/invariants.c): a healthy core passes, and
 * each kind of corruption is caught with a message that says where. Every
 * test repairs what it broke, so test_hv_down() finds the core healthy. */
#include "testlib.h"
#include "hv/hv.h"
#include "../../hv/core/core.h"

#define FRAMES 4096

static struct hv_domain *D;
static char msg[256];

/* A domain with a 4 KiB page at gfn 0x1 and a 2 MiB page at gfn 0x200. */
static u64 small_mfn, large_mfn;

static int map_ram(u64 gfn, unsigned order, u64 *mfn)
{
	*mfn = frame_alloc(order, D->id, FT_RAM);
	if (*mfn == INVALID_MFN)
		return -1;
	return p2m_map(D, gfn, *mfn, order, EPT_RWX, P2M_RAM, EPT_MT_WB);
}

static int setup(void)
{
	if (test_hv_up(FRAMES))
		return -1;
	s64 id = domain_create(1, FRAMES);
	D = id < 0 ? NULL : domain_get((u32)id);
	if (!D || map_ram(0x1, 0, &small_mfn) ||
	    map_ram(0x200, LARGE_ORDER, &large_mfn))
		return -1;
	return 0;
}

/* The checker refuses the state, saying something that contains each of
 * the given words. */
static bool caught(const char *w1, const char *w2)
{
	msg[0] = 0;
	if (hv_check_invariants(msg, sizeof(msg)) != -1) {
		test_failed(__FILE__, __LINE__, "corruption not caught");
		return false;
	}
	if (!strstr(msg, w1) || (w2 && !strstr(msg, w2))) {
		char m[400];
		snprintf(m, sizeof(m), "message '%s' lacks '%s'/'%s'", msg, w1,
			 w2 ? w2 : "");
		test_failed(__FILE__, __LINE__, m);
		return false;
	}
	return true;
}

struct find { unsigned level; u64 gfn; u64 *entry; };

static int find_entry(void *arg, unsigned level, u64 gfn, u64 e, u64 table)
{
	struct find *f = arg;
	(void)e;
	if (level != f->level || gfn != f->gfn)
		return 0;
	u64 *t = frame_map(table); /* the POSIX host maps frames for good */
	f->entry = &t[(gfn >> (9 * (level - 1))) & 511];
	return 1;
}

/* The EPT entry at level covering gfn (its first gfn), for corrupting. */
static u64 *ept_entry(unsigned level, u64 gfn)
{
	struct find f = { level, gfn, NULL };
	p2m_walk(D, find_entry, &f);
	return f.entry;
}

TEST(invariant_healthy_core_passes)
{
	CHECK(hv_check_invariants(msg, sizeof(msg)) == 0); /* not started */
	CHECK(setup() == 0);
	CHECK_INVARIANTS();
	CHECK_INVARIANTS(); /* the scratch counts start afresh */
	CHECK_EQ(p2m_split(D, 0x200), 0);
	CHECK_EQ(p2m_set_perms(D, 0x201, 0), 0);
	CHECK_EQ(p2m_unmap(D, 0x202, 0), 0);
	CHECK_INVARIANTS();
}

TEST(invariant_write_without_read)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(1, 0x1), saved = *e;
	*e = (saved & ~EPT_RWX) | EPT_W;
	CHECK(caught("write without read", "gfn 1:"));
	*e = (saved & ~EPT_RWX) | EPT_W | EPT_X;
	CHECK(caught("write without read", NULL));
	*e = saved;
	e = ept_entry(3, 0); /* in a table pointer too */
	saved = *e;
	*e = (saved & ~EPT_RWX) | EPT_W;
	CHECK(caught("write without read", "level 3"));
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_reserved_memtype)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(2, 0x200), saved = *e;
	for (u64 mt = 2; mt < 8; mt = mt == 3 ? 7 : mt + 1) {
		*e = (saved & ~EPT_MT_MASK) | mt << EPT_MT_SHIFT;
		CHECK(caught("reserved memory type", "gfn 200"));
	}
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_large_bit_outside_pd)
{
	CHECK(setup() == 0);
	static const unsigned levels[] = { 1, 3, 4 };
	for (unsigned i = 0; i < ARRAY_SIZE(levels); i++) {
		u64 *e = ept_entry(levels[i], levels[i] == 1 ? 0x1 : 0);
		u64 saved = *e;
		*e |= EPT_LARGE;
		CHECK(caught("large-page bit", "level"));
		*e = saved;
	}
	CHECK_INVARIANTS();
}

TEST(invariant_unaligned_2m_leaf)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(2, 0x200), saved = *e;
	*e += PAGE_SIZE;
	CHECK(caught("unaligned", "gfn 200"));
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_leaf_type)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(1, 0x1), saved = *e;
	*e = (saved & ~EPT_TYPE_MASK) | (u64)P2M_MMIO << EPT_TYPE_SHIFT;
	CHECK(caught("p2m type 2", "gfn 1:"));
	*e = saved & ~EPT_TYPE_MASK;
	CHECK(caught("p2m type 0", NULL));
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_bad_table_entry)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(2, 0), saved = *e;
	*e = saved & ~EPT_X; /* restricted rights in a table pointer */
	CHECK(caught("table entry", "level 2"));
	*e = saved | 6 << EPT_MT_SHIFT; /* reserved bits */
	CHECK(caught("table entry", NULL));
	/* Pointing at something that is not one of the domain's tables. */
	*e = (saved & ~EPT_ADDR_MASK) | small_mfn << PAGE_SHIFT;
	CHECK(caught("is a ram frame", "expected a p2m frame"));
	*e = (saved & ~EPT_ADDR_MASK) | (hv.first_mfn - 1) << PAGE_SHIFT;
	CHECK(caught("outside the frame table", NULL));
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_table_reached_twice)
{
	CHECK(setup() == 0);
	u64 *pd0 = ept_entry(2, 0);
	u64 *pd2 = pd0 + 2; /* gfn 0x400: unused */
	CHECK_EQ(*pd2, 0);
	*pd2 = *pd0;
	CHECK(caught("reached twice", "p2m frame"));
	*pd2 = 0;
	CHECK_INVARIANTS();
}

TEST(invariant_leaf_frame_not_ram)
{
	CHECK(setup() == 0);
	u64 *e = ept_entry(1, 0x1), saved = *e;
	*e = (saved & ~EPT_ADDR_MASK) | D->vcpu[0].vmcs_mfn << PAGE_SHIFT;
	CHECK(caught("is a vmcs frame", "expected a ram frame"));
	*e = (saved & ~EPT_ADDR_MASK) | (hv.first_mfn + hv.nr_frames) << PAGE_SHIFT;
	CHECK(caught("outside the frame table", "gfn 1:"));
	*e = saved;
	CHECK_INVARIANTS();
}

TEST(invariant_refcount_mismatch)
{
	CHECK(setup() == 0);
	struct hv_frame *f = frame_get(large_mfn + 5);
	f->refs++;
	CHECK(caught("refs is 2 but 1", NULL));
	f->refs = 0;
	CHECK(caught("refs is 0 but 1", NULL));
	f->refs = 1;
	struct hv_frame *t = frame_get(D->p2m.root_mfn);
	t->refs = 1; /* tables are never mapped by leaves */
	CHECK(caught("refs is 1 but 0", "p2m frame"));
	t->refs = 0;
	CHECK_INVARIANTS();
}

TEST(invariant_domain_counters)
{
	CHECK(setup() == 0);
	D->nr_ram++;
	CHECK(caught("nr_ram is 514 but 513", NULL));
	D->nr_ram--;
	D->p2m.nr_tables--;
	CHECK(caught("nr_tables is 3 but 4", NULL));
	D->p2m.nr_tables++;
	hv.in_use++;
	CHECK(caught("in_use", NULL));
	hv.in_use--;
	CHECK_INVARIANTS();
}

/* Fork relations: children counts, templates frozen, zombies only for
 * their forks, parents templates. */
TEST(invariant_family)
{
	CHECK(setup() == 0);
	s64 c = domain_fork(D, true);
	CHECK(c > 0);
	struct hv_domain *k = domain_get((u32)c);
	CHECK(k && D->is_template && D->children == 1);
	CHECK_INVARIANTS();
	D->children = 2;
	CHECK(caught("children is 2 but 1", NULL));
	D->children = 1;
	D->state = DOM_RUNNING;
	CHECK(caught("template in state", NULL));
	D->state = DOM_ZOMBIE;
	CHECK_INVARIANTS(); /* a zombie with a fork is what a zombie is */
	k->parent = HV_NO_PARENT;
	D->children = 0;
	CHECK(caught("zombie without children", NULL));
	k->parent = D->id;
	D->children = 1;
	D->state = DOM_PAUSED;
	D->is_template = false;
	CHECK(caught("is not a template", NULL));
	D->is_template = true;
	CHECK_INVARIANTS();
}

TEST(invariant_frame_owners)
{
	CHECK(setup() == 0);
	/* A mapped frame that belongs to a domain that does not exist. */
	struct hv_frame *f = frame_get(small_mfn);
	f->owner = HV_MAX_DOMAINS - 1;
	CHECK(caught("gfn 1:", "expected a ram frame"));
	f->owner = D->id;
	/* One of the domain's tables, given to another. */
	f = frame_get(D->p2m.root_mfn);
	f->owner = HV_MAX_DOMAINS - 1;
	CHECK(caught("root table", "expected a p2m frame"));
	f->owner = D->id;
	/* The frame table belongs to the hypervisor. */
	f = frame_get(hv.frame_table_mfn);
	f->owner = D->id;
	CHECK(caught("hv frame of owner", NULL));
	f->owner = OWNER_HV;
	/* A free frame is nobody's. */
	f = frame_get(hv.first_mfn + hv.nr_frames / 2);
	CHECK_EQ(f->type, FT_FREE);
	f->owner = D->id;
	CHECK(caught("free frame", NULL));
	f->owner = OWNER_NONE;
	f->type = FT_LOG + 1;
	CHECK(caught("free frame", "bad-type"));
	f->type = FT_FREE;
	/* The fast check trusts that frames not held are free... */
	f->owner = D->id;
	CHECK_EQ(hv_check_invariants_fast(msg, sizeof(msg)), 0);
	/* ... which the free sweep, the rest of a full check, does not. */
	msg[0] = 0;
	CHECK_EQ(hv_check_free_frames(msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "free frame of owner"));
	f->owner = OWNER_NONE;
	CHECK_EQ(hv_check_free_frames(msg, sizeof(msg)), 0);
	/* The sweep takes the free frames run by run after the held ones of
	 * a group of 64: a bad entry is caught where a run starts after a
	 * held frame, and at the end of that group. */
	u64 first = 0;
	for (u64 i = 0; i + 1 < hv.nr_frames && !first; i++)
		if ((i + 1) % 64 && (hv.held[i / 64] >> (i % 64) & 1) &&
		    !(hv.held[(i + 1) / 64] >> ((i + 1) % 64) & 1))
			first = i + 1;
	u64 group_end = first | 63;
	CHECK(first && group_end < hv.nr_frames &&
	      !(hv.held[group_end / 64] >> (group_end % 64) & 1));
	const u64 edge[] = { first, group_end };
	for (unsigned e = 0; e < ARRAY_SIZE(edge); e++) {
		f = &hv.frames[edge[e]];
		f->refs = 1;
		msg[0] = 0;
		CHECK_EQ(hv_check_free_frames(msg, sizeof(msg)), -1);
		CHECK(strstr(msg, "with 1 refs"));
		f->refs = 0;
	}
	CHECK_EQ(hv_check_free_frames(msg, sizeof(msg)), 0);
	/* A frame held but marked free is caught. */
	f = frame_get(hv.frame_table_mfn);
	f->type = FT_FREE;
	CHECK(caught("free frame marked held", NULL));
	f->type = FT_HV;
	/* Frames name their domain by its slot. */
	D->id++;
	CHECK(caught("domain slot", NULL));
	D->id--;
	CHECK_INVARIANTS();
}

TEST(invariant_leaks)
{
	CHECK(setup() == 0);
	/* RAM that no leaf maps. */
	u64 mfn = frame_alloc(0, D->id, FT_RAM);
	CHECK(caught("leaked ram frame", "live domain"));
	frame_free(mfn);
	/* A table of a domain that is gone. */
	mfn = frame_alloc(0, HV_MAX_DOMAINS - 1, FT_P2M);
	CHECK(caught("leaked p2m frame", "dead domain"));
	frame_get(mfn)->owner = OWNER_NONE;
	CHECK(caught("leaked p2m frame", "nobody"));
	frame_get(mfn)->owner = HV_MAX_DOMAINS - 1;
	frame_free(mfn);
	/* A dirty-log frame past a gap in the log: the log's frames are taken
	 * in order, and freeing it stops at the first missing one. */
	mfn = frame_alloc(0, D->id, FT_LOG);
	D->log[1] = mfn;
	CHECK(caught("dirty log frame 1", "after a missing one"));
	D->log[0] = mfn;
	D->log[1] = INVALID_MFN;
	CHECK_EQ(hv_check_invariants(msg, sizeof(msg)), 0);
	D->log[0] = INVALID_MFN;
	frame_free(mfn);
	/* A whole domain forgotten without being destroyed. */
	D->state = DOM_FREE;
	CHECK(caught("dead domain", NULL));
	D->state = DOM_PAUSED;
	CHECK_INVARIANTS();
	/* A free slot that says it holds a domain, and a free one marked in
	 * use: the checker visits the slots hv.slots marks, and only the full
	 * check holds the others against it. */
	struct hv_domain *last = &hv.dom[HV_MAX_DOMAINS - 1];
	last->state = DOM_PAUSED;
	CHECK_EQ(hv_check_invariants_fast(msg, sizeof(msg)), 0);
	CHECK(caught("domain slot 63 is in use", "bit in hv.slots is clear"));
	last->state = DOM_FREE;
	CHECK_INVARIANTS();
	hv.slots |= 1ull << (HV_MAX_DOMAINS - 2);
	CHECK_EQ(hv_check_invariants_fast(msg, sizeof(msg)), 0);
	CHECK(caught("domain slot 62 is free", "bit in hv.slots is set"));
	hv.slots &= ~(1ull << (HV_MAX_DOMAINS - 2));
	CHECK_INVARIANTS();
}

TEST(invariant_vmcs_frames)
{
	CHECK(setup() == 0);
	u64 vmcs = D->vcpu[0].vmcs_mfn;
	D->vcpu[0].vmcs_mfn = D->p2m.root_mfn;
	CHECK(caught("vcpu 0", "expected a vmcs frame"));
	D->vcpu[0].vmcs_mfn = vmcs;
	frame_get(vmcs)->type = FT_RAM;
	CHECK(caught("vcpu 0", "is a ram frame"));
	frame_get(vmcs)->type = FT_VMCS;
	D->nr_vcpus = HV_MAX_VCPUS + 1;
	CHECK(caught("vCPUs", NULL));
	D->nr_vcpus = 1;
	CHECK_INVARIANTS();
}

TEST(invariant_message_fits_small_buffers)
{
	CHECK(setup() == 0);
	D->nr_ram++;
	char small[8];
	memset(small, 'x', sizeof(small));
	CHECK(hv_check_invariants(small, sizeof(small)) == -1);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(hv_check_invariants(NULL, 0) == -1);
	D->nr_ram--;
	CHECK_INVARIANTS();
}

/* The isolation of shared frames (forks' templates, merged pages, the zero
 * frame): none mapped writable, copy-on-write only over shared frames,
 * shared frames owned by no domain, the zero frame zero. */
TEST(invariant_shared_frame_isolation)
{
	CHECK(setup() == 0);
	u64 a[4] = { D->id, 0x1, 1, HV_HINT_FREE };
	CHECK_EQ(hv_host_call(HC_HINT, a, NULL, 0), 1); /* gfn 1: the zero frame */
	CHECK(hv.zero_mfn != INVALID_MFN);
	CHECK_INVARIANTS();
	u64 *e = ept_entry(1, 0x1), saved = *e;
	*e = (saved & ~(u64)EPT_COW) | EPT_R | EPT_W; /* writable, not copy-on-write */
	CHECK(caught("shared frame", "mapped writable"));
	*e = saved;
	u64 *l = ept_entry(2, 0x200), lsaved = *l;
	*l = (lsaved & ~(u64)EPT_W) | EPT_COW; /* COW over private RAM */
	CHECK(caught("copy-on-write mapping", "not a shared frame"));
	*l = lsaved;
	struct hv_frame *z = frame_get(hv.zero_mfn);
	u16 owner = z->owner;
	z->owner = D->id;
	CHECK(caught("shared frame of owner", NULL));
	z->owner = owner;
	u8 *zp = frame_map(hv.zero_mfn);
	zp[100] = 1;
	CHECK(caught("zero frame", NULL));
	zp[100] = 0;
	frame_unmap(zp);
	CHECK_INVARIANTS();
}

/* A frame the core holds must be of a known type: one no domain reaches
 * (the frame table) is caught by the pass over the held frames, one a
 * domain maps by the walk that reaches it. */
TEST(invariant_bad_frame_type)
{
	CHECK(setup() == 0);
	char want[64];
	struct hv_frame *f = frame_get(hv.frame_table_mfn);
	CHECK_EQ(f->type, FT_HV);
	snprintf(want, sizeof(want), "mfn %llx: bad frame type 7",
		 (unsigned long long)hv.frame_table_mfn);
	f->type = FT_LOG + 1;
	CHECK(caught(want, NULL));
	f->type = 0xff;
	CHECK(caught("bad frame type 255", NULL));
	f->type = FT_HV;
	f = frame_get(small_mfn);
	f->type = FT_LOG + 1;
	CHECK(caught("is a bad-type frame", "expected a ram frame"));
	f->type = FT_RAM;
	CHECK_INVARIANTS();
}

/* A fork's dirty log (fork.c): its frames are log frames of its own,
 * each reached once, taken in order. */
TEST(invariant_dirty_log_frames)
{
	CHECK(setup() == 0);
	s64 c1 = domain_fork(D, false), c2 = domain_fork(D, false);
	CHECK(c1 > 0 && c2 > 0);
	struct hv_domain *k = domain_get((u32)c1), *other = domain_get((u32)c2);
	fork_log(k, 0x1);
	fork_log(other, 0x1);
	CHECK(k->log[0] != INVALID_MFN && other->log[0] != INVALID_MFN);
	CHECK_EQ(frame_get(k->log[0])->type, FT_LOG);
	CHECK_INVARIANTS();
	u64 log0 = k->log[0];
	char want[64];
	snprintf(want, sizeof(want), "expected a log frame of d%u", k->id);
	/* Not a log frame: the fork's own VMCS, a frame past the table. */
	k->log[0] = k->vcpu[0].vmcs_mfn;
	CHECK(caught("dirty log frame 0", "is a vmcs frame"));
	k->log[0] = hv.first_mfn + hv.nr_frames;
	CHECK(caught("dirty log frame 0", "outside the frame table"));
	k->log[0] = log0;
	/* Another fork's log frame, and its own twice. */
	k->log[1] = other->log[0];
	CHECK(caught("dirty log frame 1", want));
	k->log[1] = log0;
	CHECK(caught("log frame", "reached twice"));
	/* One of its own after a gap that a real frame comes before. */
	k->log[1] = INVALID_MFN;
	k->log[2] = frame_alloc(0, k->id, FT_LOG);
	CHECK(k->log[2] != INVALID_MFN);
	CHECK(caught("dirty log frame 2", "after a missing one"));
	frame_free(k->log[2]);
	k->log[2] = INVALID_MFN;
	CHECK_INVARIANTS();
}

/* A fork's parent must be a template that still exists: not a free slot
 * (even one a stale flag calls a template), not past the table, not a
 * plain domain. The parent's count of forks follows each move, so that
 * only the parent itself is wrong. */
TEST(invariant_parent_not_template)
{
	CHECK(setup() == 0);
	s64 c = domain_fork(D, true), plain = domain_create(1, 16);
	CHECK(c > 0 && plain > 0);
	struct hv_domain *k = domain_get((u32)c), *p = domain_get((u32)plain);
	struct hv_domain *gone = &hv.dom[HV_MAX_DOMAINS - 1];
	CHECK_EQ(gone->state, DOM_FREE);
	char want[64];
	snprintf(want, sizeof(want), "d%u: parent d%u is not a template", k->id,
		 HV_MAX_DOMAINS - 1);
	D->children = 0;
	k->parent = HV_MAX_DOMAINS - 1;
	gone->is_template = true;
	CHECK(caught(want, NULL));
	gone->is_template = false;
	k->parent = HV_MAX_DOMAINS;
	snprintf(want, sizeof(want), "parent d%u is not a template", HV_MAX_DOMAINS);
	CHECK(caught(want, NULL));
	k->parent = p->id;
	p->children = 1;
	snprintf(want, sizeof(want), "parent d%u is not a template", p->id);
	CHECK(caught(want, NULL));
	p->children = 0;
	k->parent = D->id;
	D->children = 1;
	CHECK_INVARIANTS();
}
