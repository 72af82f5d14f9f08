/* The p2m (hv/core/p2m.c): mapping, lookup, rights, splitting, unmapping,
 * the walk, reference counts, recording, and failure of every allocation. */
#include "testlib.h"
#include "hv/hv.h"
#include "sim.h"
#include "../../hv/core/core.h"

#define FRAMES 4096
#define LARGE_N (1ull << LARGE_ORDER)
#define EPT_RX (EPT_R | EPT_X)

static struct hv_domain *D; /* the domain under test */

/* Start the hypervisor with one domain in D. */
static int dom_up(void)
{
	if (test_hv_up(FRAMES))
		return -1;
	s64 id = domain_create(1, FRAMES);
	D = id < 0 ? NULL : domain_get((u32)id);
	return D ? 0 : -1;
}

static u64 ram_alloc(unsigned order)
{
	return frame_alloc(order, D->id, FT_RAM);
}

/* Map fresh RAM at gfn the way domain_populate() does: a frame the p2m
 * refuses goes straight back. Returns the mfn through *mfn. */
static int map_new(u64 gfn, unsigned order, u32 perms, u8 memtype, u64 *mfn)
{
	u64 m = ram_alloc(order);
	if (m == INVALID_MFN)
		return -HV_ENOMEM;
	int rc = p2m_map(D, gfn, m, order, perms, P2M_RAM, memtype);
	if (rc)
		for (u64 i = 0; i < (1ull << order); i++)
			frame_free(m + i);
	if (mfn)
		*mfn = m;
	return rc;
}

static u32 refs(u64 mfn)
{
	return frame_get(mfn)->refs;
}

static u8 ftype(u64 mfn)
{
	return frame_get(mfn)->type;
}

TEST(p2m_init_and_eptp)
{
	CHECK(dom_up() == 0);
	u64 root = D->p2m.root_mfn;
	CHECK_EQ(D->p2m.nr_tables, 1);
	CHECK_EQ(D->p2m.max_gfn, HV_P2M_GFN_LIMIT);
	CHECK_EQ(D->nr_ram, 0);
	CHECK_EQ(ftype(root), FT_P2M);
	CHECK_EQ(frame_get(root)->owner, D->id);
	/* WB (6), walk length 4 - 1 in bits 5:3, the root's address. */
	CHECK_EQ(p2m_eptp(D), 6 | 3 << 3 | root << 12);
	struct p2m_entry e;
	CHECK_EQ(p2m_lookup(D, 0, &e), -HV_ENOENT);
	CHECK_EQ(p2m_lookup(D, HV_P2M_GFN_LIMIT, &e), -HV_ENOENT);
	CHECK_INVARIANTS();
}

TEST(p2m_map_lookup_4k)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	CHECK_EQ(map_new(0x12345, 0, EPT_RWX, EPT_MT_WB, &mfn), 0);
	struct p2m_entry e;
	CHECK_EQ(p2m_lookup(D, 0x12345, &e), 0);
	CHECK_EQ(e.mfn, mfn);
	CHECK_EQ(e.perms, EPT_RWX);
	CHECK_EQ(e.type, P2M_RAM);
	CHECK_EQ(e.order, 0);
	CHECK_EQ(e.memtype, EPT_MT_WB);
	CHECK_EQ(p2m_lookup(D, 0x12344, &e), -HV_ENOENT);
	CHECK_EQ(p2m_lookup(D, 0x12346, &e), -HV_ENOENT);
	CHECK_EQ(refs(mfn), 1);
	CHECK_EQ(D->nr_ram, 1);
	CHECK_EQ(D->p2m.nr_tables, 4); /* PML4, PDPT, PD, PT */
	/* The top of the space shares no table but the root. */
	u64 top = HV_P2M_GFN_LIMIT - 1;
	CHECK_EQ(map_new(top, 0, EPT_R, EPT_MT_WB, &mfn), 0);
	CHECK_EQ(p2m_lookup(D, top, &e), 0);
	CHECK_EQ(e.mfn, mfn);
	CHECK_EQ(D->p2m.nr_tables, 7);
	CHECK_INVARIANTS();
}

TEST(p2m_map_lookup_2m)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	CHECK_EQ(map_new(0x200, LARGE_ORDER, EPT_RX, EPT_MT_WB, &mfn), 0);
	CHECK_EQ(D->p2m.nr_tables, 3); /* no PT */
	CHECK_EQ(D->nr_ram, LARGE_N);
	struct p2m_entry e;
	for (u64 i = 0; i < LARGE_N; i += 73) {
		CHECK_EQ(p2m_lookup(D, 0x200 + i, &e), 0);
		CHECK_EQ(e.mfn, mfn + i);
		CHECK_EQ(e.order, LARGE_ORDER);
		CHECK_EQ(e.perms, EPT_R | EPT_X);
		CHECK_EQ(refs(mfn + i), 1);
	}
	CHECK_EQ(p2m_lookup(D, 0x1ff, &e), -HV_ENOENT);
	CHECK_EQ(p2m_lookup(D, 0x400, &e), -HV_ENOENT);
	CHECK_INVARIANTS();
}

TEST(p2m_rights_and_memtypes)
{
	static const u32 ok_perms[] = { 0, EPT_R, EPT_R | EPT_W, EPT_R | EPT_X,
					EPT_RWX, EPT_X };
	static const u8 ok_mt[] = { 0, 1, 4, 5, 6 };
	CHECK(dom_up() == 0);
	u64 gfn = 0x100;
	for (unsigned p = 0; p < ARRAY_SIZE(ok_perms); p++)
		for (unsigned m = 0; m < ARRAY_SIZE(ok_mt); m++, gfn++) {
			struct p2m_entry e;
			CHECK_EQ(map_new(gfn, 0, ok_perms[p], ok_mt[m], NULL), 0);
			CHECK_EQ(p2m_lookup(D, gfn, &e), 0);
			CHECK_EQ(e.perms, ok_perms[p]);
			CHECK_EQ(e.memtype, ok_mt[m]);
		}
	/* Write without read is a misconfiguration; 2, 3, 7 are reserved. */
	static const u32 bad_perms[] = { EPT_W, EPT_W | EPT_X, 8, EPT_RWX | 16 };
	for (unsigned p = 0; p < ARRAY_SIZE(bad_perms); p++)
		CHECK_EQ(map_new(gfn, 0, bad_perms[p], EPT_MT_WB, NULL), -HV_EINVAL);
	for (u8 mt = 2; mt < 8; mt = mt == 3 ? 7 : mt + 1)
		CHECK_EQ(map_new(gfn, 0, EPT_RWX, mt, NULL), -HV_EINVAL);
	/* MMIO is never mapped (accesses fault and are emulated). */
	u64 mfn = ram_alloc(0);
	CHECK_EQ(p2m_map(D, gfn, mfn, 0, EPT_RWX, P2M_MMIO, EPT_MT_UC), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, gfn, mfn, 0, EPT_RWX, P2M_NONE, EPT_MT_UC), -HV_EINVAL);
	frame_free(mfn);
	CHECK_INVARIANTS();
}

TEST(p2m_map_bad_arguments)
{
	CHECK(dom_up() == 0);
	u64 in_use = hv_frames_in_use();
	u64 blk = ram_alloc(LARGE_ORDER);
	CHECK_EQ(p2m_map(D, 0x200, blk, 1, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0x201, blk, LARGE_ORDER, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0x200, blk + 1, LARGE_ORDER, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	/* Beyond the guest-physical space, or the domain's limit. */
	CHECK_EQ(p2m_map(D, HV_P2M_GFN_LIMIT, blk, 0, EPT_RWX, P2M_RAM, 6), -HV_ERANGE);
	CHECK_EQ(p2m_map(D, ~0ull << LARGE_ORDER, blk, LARGE_ORDER, EPT_RWX, P2M_RAM, 6),
		 -HV_ERANGE);
	D->p2m.max_gfn = 0x1000;
	CHECK_EQ(p2m_map(D, 0x1000, blk, 0, EPT_RWX, P2M_RAM, 6), -HV_ERANGE);
	CHECK_EQ(p2m_map(D, 0xe00, blk, LARGE_ORDER, EPT_RWX, P2M_RAM, 6), 0);
	CHECK_EQ(p2m_unmap(D, 0x1000, 0), -HV_ERANGE);
	CHECK_EQ(p2m_set_perms(D, 0x1000, EPT_R), -HV_ERANGE);
	CHECK_EQ(p2m_split(D, 0x1000), -HV_ERANGE);
	struct p2m_entry e;
	CHECK_EQ(p2m_lookup(D, 0x1000, &e), -HV_ENOENT);
	D->p2m.max_gfn = HV_P2M_GFN_LIMIT;
	CHECK_EQ(p2m_unmap(D, 0xe00, LARGE_ORDER), 0);
	/* The block went with its mapping; the PDPT and PD on its path stay. */
	CHECK_EQ(hv_frames_in_use(), in_use + 2);
	CHECK_EQ(D->p2m.nr_tables, 3);
	/* Only the domain's own RAM frames may be mapped. */
	u64 other = frame_alloc(0, HV_MAX_DOMAINS - 1, FT_RAM);
	CHECK_EQ(p2m_map(D, 0, other, 0, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	frame_free(other);
	CHECK_EQ(p2m_map(D, 0, D->p2m.root_mfn, 0, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0, D->vcpu[0].vmcs_mfn, 0, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0, hv.frame_table_mfn, 0, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0, hv.first_mfn + hv.nr_frames, 0, EPT_RWX, P2M_RAM, 6),
		 -HV_EINVAL);
	CHECK_EQ(p2m_map(D, 0, hv.first_mfn - 1, 0, EPT_RWX, P2M_RAM, 6), -HV_EINVAL);
	CHECK_EQ(D->p2m.nr_tables, 3);
	CHECK_EQ(hv_frames_in_use(), in_use + 2);
	CHECK_INVARIANTS();
}

TEST(p2m_overlap_is_refused)
{
	CHECK(dom_up() == 0);
	u64 small, large;
	CHECK_EQ(map_new(0x405, 0, EPT_RWX, EPT_MT_WB, &small), 0);
	CHECK_EQ(map_new(0x800, LARGE_ORDER, EPT_RWX, EPT_MT_WB, &large), 0);
	CHECK_EQ(map_new(0x405, 0, EPT_RWX, EPT_MT_WB, NULL), -HV_EEXIST);
	CHECK_EQ(map_new(0x400, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), -HV_EEXIST);
	CHECK_EQ(map_new(0x9ff, 0, EPT_RWX, EPT_MT_WB, NULL), -HV_EEXIST);
	CHECK_EQ(map_new(0x800, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), -HV_EEXIST);
	CHECK_EQ(refs(small), 1);
	CHECK_EQ(refs(large + 0x1ff), 1);
	CHECK_EQ(D->nr_ram, 1 + LARGE_N);
	CHECK_INVARIANTS();
}

TEST(p2m_split_keeps_everything)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	CHECK_EQ(map_new(0x600, LARGE_ORDER, EPT_RX, 4, &mfn), 0);
	u64 tables = D->p2m.nr_tables, in_use = hv_frames_in_use();
	u64 flushes = sim_effects.invept;
	CHECK_EQ(p2m_split(D, 0x6c3), 0);
	CHECK_EQ(D->p2m.nr_tables, tables + 1);
	CHECK_EQ(hv_frames_in_use(), in_use + 1);
	CHECK_EQ(sim_effects.invept, flushes + 1);
	for (u64 i = 0; i < LARGE_N; i++) {
		struct p2m_entry e;
		CHECK_EQ(p2m_lookup(D, 0x600 + i, &e), 0);
		CHECK_EQ(e.mfn, mfn + i);
		CHECK_EQ(e.order, 0);
		CHECK_EQ(e.perms, EPT_RX);
		CHECK_EQ(e.memtype, 4);
		CHECK_EQ(e.type, P2M_RAM);
		CHECK_EQ(refs(mfn + i), 1);
	}
	CHECK_EQ(D->nr_ram, LARGE_N);
	/* Already 4 KiB: nothing to do. Nothing mapped: nothing to split. */
	CHECK_EQ(p2m_split(D, 0x600), 0);
	CHECK_EQ(D->p2m.nr_tables, tables + 1);
	CHECK_EQ(sim_effects.invept, flushes + 1);
	CHECK_EQ(p2m_split(D, 0x800), -HV_ENOENT);
	CHECK_INVARIANTS();
}

TEST(p2m_unmap_part_of_2m)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	u64 in_use = hv_frames_in_use(), tables = D->p2m.nr_tables;
	CHECK_EQ(map_new(0x200, LARGE_ORDER, EPT_RWX, EPT_MT_WB, &mfn), 0);
	CHECK_EQ(p2m_unmap(D, 0x207, 0), 0);
	struct p2m_entry e;
	CHECK_EQ(p2m_lookup(D, 0x207, &e), -HV_ENOENT);
	CHECK_EQ(ftype(mfn + 7), FT_FREE); /* its only mapping went */
	CHECK_EQ(p2m_lookup(D, 0x208, &e), 0);
	CHECK_EQ(e.mfn, mfn + 8);
	CHECK_EQ(e.order, 0);
	CHECK_EQ(D->nr_ram, LARGE_N - 1);
	CHECK_EQ(p2m_unmap(D, 0x207, 0), -HV_ENOENT);
	CHECK_INVARIANTS();
	/* The rest at once: the 511 leaves, their frames and their PT. */
	CHECK_EQ(p2m_unmap(D, 0x200, LARGE_ORDER), 0);
	CHECK_EQ(D->nr_ram, 0);
	CHECK_EQ(ftype(mfn + 8), FT_FREE);
	CHECK_EQ(D->p2m.nr_tables, tables + 2); /* PDPT and PD stay */
	CHECK_EQ(hv_frames_in_use(), in_use + 2);
	CHECK_EQ(p2m_unmap(D, 0x200, LARGE_ORDER), -HV_ENOENT);
	CHECK_EQ(p2m_unmap(D, 0x200, 0), -HV_ENOENT);
	CHECK_EQ(p2m_unmap(D, 0x201, LARGE_ORDER), -HV_EINVAL);
	CHECK_EQ(p2m_unmap(D, 0x200, 3), -HV_EINVAL);
	CHECK_EQ(p2m_unmap(D, 0x12340000, 0), -HV_ENOENT);
	CHECK_INVARIANTS();
}

TEST(p2m_unmap_whole_2m_leaf)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	CHECK_EQ(map_new(0x400, LARGE_ORDER, EPT_RWX, EPT_MT_WB, &mfn), 0);
	u64 tables = D->p2m.nr_tables;
	CHECK_EQ(p2m_unmap(D, 0x400, LARGE_ORDER), 0);
	CHECK_EQ(D->p2m.nr_tables, tables);
	for (u64 i = 0; i < LARGE_N; i++)
		CHECK_EQ(ftype(mfn + i), FT_FREE);
	CHECK_INVARIANTS();
}

TEST(p2m_shared_frame_refcounts)
{
	CHECK(dom_up() == 0);
	u64 mfn;
	CHECK_EQ(map_new(0x10, 0, EPT_RWX, EPT_MT_WB, &mfn), 0);
	CHECK_EQ(p2m_map(D, 0x20, mfn, 0, EPT_R, P2M_RAM, EPT_MT_WB), 0);
	CHECK_EQ(refs(mfn), 2);
	CHECK_EQ(D->nr_ram, 2);
	CHECK_INVARIANTS();
	CHECK_EQ(p2m_unmap(D, 0x10, 0), 0);
	CHECK_EQ(refs(mfn), 1);
	CHECK_EQ(ftype(mfn), FT_RAM); /* still mapped at 0x20 */
	CHECK_EQ(p2m_unmap(D, 0x20, 0), 0);
	CHECK_EQ(ftype(mfn), FT_FREE);
	CHECK_EQ(D->nr_ram, 0);
	CHECK_INVARIANTS();
}

TEST(p2m_set_perms_4k_and_2m)
{
	CHECK(dom_up() == 0);
	struct p2m_entry e;
	CHECK_EQ(map_new(0x33, 0, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_EQ(p2m_set_perms(D, 0x33, EPT_R), 0);
	CHECK_EQ(p2m_lookup(D, 0x33, &e), 0);
	CHECK_EQ(e.perms, EPT_R);
	CHECK_EQ(p2m_set_perms(D, 0x33, 0), 0);
	CHECK_EQ(p2m_lookup(D, 0x33, &e), 0); /* no rights, still mapped */
	CHECK_EQ(e.perms, 0);
	CHECK_EQ(e.type, P2M_RAM);
	CHECK_EQ(p2m_set_perms(D, 0x33, EPT_W), -HV_EINVAL);
	CHECK_EQ(p2m_set_perms(D, 0x33, 0x10), -HV_EINVAL);
	CHECK_EQ(p2m_set_perms(D, 0x34, EPT_R), -HV_ENOENT);

	u64 mfn;
	CHECK_EQ(map_new(0x800, LARGE_ORDER, EPT_RWX, 5, &mfn), 0);
	u64 tables = D->p2m.nr_tables;
	CHECK_EQ(p2m_set_perms(D, 0x8aa, EPT_RWX), 0); /* same rights: kept 2M */
	CHECK_EQ(D->p2m.nr_tables, tables);
	CHECK_EQ(p2m_lookup(D, 0x8aa, &e), 0);
	CHECK_EQ(e.order, LARGE_ORDER);
	CHECK_EQ(p2m_set_perms(D, 0x8aa, EPT_R | EPT_X), 0);
	CHECK_EQ(D->p2m.nr_tables, tables + 1);
	CHECK_EQ(p2m_lookup(D, 0x8aa, &e), 0);
	CHECK_EQ(e.perms, EPT_R | EPT_X);
	CHECK_EQ(e.order, 0);
	CHECK_EQ(e.memtype, 5);
	CHECK_EQ(e.mfn, mfn + 0xaa);
	CHECK_EQ(p2m_lookup(D, 0x8ab, &e), 0);
	CHECK_EQ(e.perms, EPT_RWX);
	CHECK_EQ(e.memtype, 5);
	CHECK_INVARIANTS();
}

TEST(p2m_2m_map_reclaims_emptied_pt)
{
	CHECK(dom_up() == 0);
	CHECK_EQ(map_new(0x401, 0, EPT_RWX, EPT_MT_WB, NULL), 0);
	u64 tables = D->p2m.nr_tables;
	CHECK_EQ(p2m_unmap(D, 0x401, 0), 0);
	CHECK_EQ(p2m_unmap(D, 0x400, LARGE_ORDER), -HV_ENOENT); /* empty PT */
	CHECK_EQ(map_new(0x400, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_EQ(D->p2m.nr_tables, tables - 1);
	CHECK_INVARIANTS();
}

/* One flush per operation that changed or removed a present entry. */
TEST(p2m_invept_once_per_operation)
{
	CHECK(dom_up() == 0);
	u64 n = sim_effects.invept;
	CHECK_EQ(map_new(0x200, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_EQ(map_new(0x1000, 0, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_EQ(sim_effects.invept, n); /* new entries need no flush */
	CHECK_EQ(p2m_set_perms(D, 0x1000, EPT_RWX), 0);
	CHECK_EQ(sim_effects.invept, n);
	CHECK_EQ(p2m_set_perms(D, 0x201, EPT_R), 0); /* split + change */
	CHECK_EQ(sim_effects.invept, n + 1);
	CHECK_EQ(p2m_unmap(D, 0x202, 0), 0);
	CHECK_EQ(sim_effects.invept, n + 2);
	CHECK_EQ(p2m_unmap(D, 0x200, LARGE_ORDER), 0); /* 510 leaves, one flush */
	CHECK_EQ(sim_effects.invept, n + 3);
	CHECK_EQ(p2m_unmap(D, 0x200, LARGE_ORDER), -HV_ENOENT);
	CHECK_EQ(sim_effects.invept, n + 3);
	CHECK_INVARIANTS();
}

struct visit { unsigned level; u64 gfn, entry; };
struct visits { struct visit v[16]; unsigned n, stop_at_level; };

static int record_visit(void *arg, unsigned level, u64 gfn, u64 entry,
			u64 table_mfn)
{
	struct visits *w = arg;
	(void)table_mfn;
	if (w->n < ARRAY_SIZE(w->v))
		w->v[w->n] = (struct visit){ level, gfn, entry };
	w->n++;
	return level == w->stop_at_level ? 7 : 0;
}

TEST(p2m_walk_levels)
{
	CHECK(dom_up() == 0);
	u64 small, large;
	CHECK_EQ(map_new(0x1, 0, EPT_R, EPT_MT_WB, &small), 0);
	CHECK_EQ(map_new(0x200, LARGE_ORDER, EPT_RWX, EPT_MT_WB, &large), 0);
	struct visits w = { .n = 0 };
	CHECK_EQ(p2m_walk(D, record_visit, &w), 0);
	/* Pre-order: each table pointer before what it points to. */
	static const struct { unsigned level; u64 gfn; } want[] = {
		{ 4, 0 }, { 3, 0 }, { 2, 0 }, { 1, 1 }, { 2, 0x200 },
	};
	CHECK_EQ(w.n, ARRAY_SIZE(want));
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK_EQ(w.v[i].level, want[i].level);
		CHECK_EQ(w.v[i].gfn, want[i].gfn);
	}
	CHECK_EQ(w.v[3].entry, small << 12 | EPT_R | 6 << 3 | (u64)P2M_RAM << 52);
	CHECK_EQ(w.v[4].entry, large << 12 | EPT_RWX | 6 << 3 | EPT_LARGE |
				       (u64)P2M_RAM << 52);
	CHECK_EQ(w.v[0].entry & EPT_RWX, EPT_RWX);
	/* The first non-zero result stops the walk and comes back. */
	w = (struct visits){ .stop_at_level = 2 };
	CHECK_EQ(p2m_walk(D, record_visit, &w), 7);
	CHECK_EQ(w.n, 3);
	/* gfns of high entries. */
	CHECK_EQ(map_new(HV_P2M_GFN_LIMIT - 1, 0, EPT_R, EPT_MT_WB, NULL), 0);
	w = (struct visits){ .n = 0 };
	CHECK_EQ(p2m_walk(D, record_visit, &w), 0);
	CHECK_EQ(w.n, 9);
	CHECK_EQ(w.v[5].level, 4);
	CHECK_EQ(w.v[5].gfn, 511ull << 27);
	CHECK_EQ(w.v[8].gfn, HV_P2M_GFN_LIMIT - 1);
}

struct item { u64 gfn; u8 order, perms, type; };

/* Parse the P2M_OUT items of a recording. */
static unsigned p2m_items(const u8 *buf, long len, struct item *out, unsigned max)
{
	unsigned n = 0;
	for (long off = 0; off + UXT_ITEM_HDR_SIZE <= len;) {
		u16 size = uxt_get16(buf + off + 2);
		const u8 *p = buf + off + UXT_ITEM_HDR_SIZE;
		if (buf[off] == UXT_IT_P2M_OUT && size == 12 && n < max && !p[11])
			out[n++] = (struct item){ uxt_get64(p), p[8], p[9], p[10] };
		off += UXT_ITEM_HDR_SIZE + size;
	}
	return n;
}

TEST(p2m_records_one_item_per_operation)
{
	CHECK(dom_up() == 0);
	u64 mfn = ram_alloc(LARGE_ORDER);
	static u8 buf[4096];
	hv_rec_begin(buf, sizeof(buf), false);
	CHECK_EQ(p2m_map(D, 0xc00, mfn, LARGE_ORDER, EPT_RWX, P2M_RAM, 6), 0);
	CHECK_EQ(p2m_set_perms(D, 0xc05, EPT_R), 0);
	CHECK_EQ(p2m_split(D, 0xc09), 0);
	CHECK_EQ(p2m_unmap(D, 0xc06, 0), 0);
	CHECK_EQ(p2m_unmap(D, 0xc06, 0), -HV_ENOENT); /* failures: no item */
	CHECK_EQ(p2m_unmap(D, 0xc00, LARGE_ORDER), 0);
	long len = hv_rec_end();
	CHECK(len > 0);
	struct item it[8];
	static const struct item want[] = {
		{ 0xc00, 9, EPT_RWX, P2M_RAM },
		{ 0xc05, 0, EPT_R, P2M_RAM },
		{ 0xc00, 9, EPT_RWX, P2M_RAM }, /* the 2M range, at 4K now */
		{ 0xc06, 0, 0, P2M_NONE },
		{ 0xc00, 9, 0, P2M_NONE },
	};
	CHECK_EQ(p2m_items(buf, len, it, 8), ARRAY_SIZE(want));
	CHECK_EQ(len, (long)ARRAY_SIZE(want) * 16);
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK_EQ(it[i].gfn, want[i].gfn);
		CHECK_EQ(it[i].order, want[i].order);
		CHECK_EQ(it[i].perms, want[i].perms);
		CHECK_EQ(it[i].type, want[i].type);
	}
	CHECK_INVARIANTS();
}

TEST(p2m_destroy_gives_everything_back)
{
	CHECK(test_hv_up(FRAMES) == 0);
	u64 in_use = hv_frames_in_use();
	s64 id = domain_create(1, FRAMES);
	CHECK(id > 0);
	D = domain_get((u32)id);
	u64 shared;
	CHECK_EQ(map_new(0x200, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_EQ(p2m_split(D, 0x200), 0);
	CHECK_EQ(map_new(0x5, 0, EPT_RWX, EPT_MT_WB, &shared), 0);
	CHECK_EQ(p2m_map(D, 0x7777777, shared, 0, EPT_R, P2M_RAM, 6), 0);
	CHECK_EQ(map_new(0x800, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL), 0);
	CHECK_INVARIANTS();
	u64 flushes = sim_effects.invept;
	CHECK_EQ(domain_destroy(D), 0);
	CHECK_EQ(sim_effects.invept, flushes + 1);
	CHECK_EQ(hv_frames_in_use(), in_use);
	CHECK_INVARIANTS();
}

/* ---- allocation failure ---- */

typedef int (*op_fn)(void);

/* Run op with its Nth allocation failing, for N = 1, 2, ... until it
 * succeeds. Each failure must be -HV_ENOMEM, keep the invariants and leave
 * the core holding exactly what it held. Returns how many failures were
 * seen, or -1 (with a test failure recorded). */
static int fail_each_alloc(op_fn op)
{
	for (int n = 1; n < 16; n++) {
		u64 in_use = hv_frames_in_use(), ram = D->nr_ram;
		u64 tables = D->p2m.nr_tables;
		test_host.fail_at = test_host.allocs + (u64)n;
		int rc = op();
		test_host.fail_at = 0;
		if (rc == 0)
			return n - 1;
		if (test_invariants(__FILE__, __LINE__))
			return -1;
		if (rc != -HV_ENOMEM || hv_frames_in_use() != in_use ||
		    D->nr_ram != ram || D->p2m.nr_tables != tables) {
			char m[160];
			snprintf(m, sizeof(m), "failure %d: rc %d, in_use %llu -> %llu",
				 n, rc, (unsigned long long)in_use,
				 (unsigned long long)hv_frames_in_use());
			test_failed(__FILE__, __LINE__, m);
			return -1;
		}
	}
	test_failed(__FILE__, __LINE__, "operation never succeeded");
	return -1;
}

/* RAM frame, PDPT, PD, PT. */
static int op_map_4k(void)
{
	return map_new(0x123456789, 0, EPT_RWX, EPT_MT_WB, NULL);
}

/* RAM block, PDPT, PD. */
static int op_map_2m(void)
{
	return map_new(0x4000000, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL);
}

/* Each needs one PT to split the 2 MiB leaf at 0x200. */
static int op_unmap_in_2m(void)
{
	return p2m_unmap(D, 0x3ff, 0);
}

static int op_set_perms_in_2m(void)
{
	return p2m_set_perms(D, 0x200, EPT_R);
}

static int op_split(void)
{
	return p2m_split(D, 0x250);
}

static int map_2m_at_200(void)
{
	return map_new(0x200, LARGE_ORDER, EPT_RWX, EPT_MT_WB, NULL);
}

TEST(p2m_enomem_map)
{
	CHECK(dom_up() == 0);
	CHECK_EQ(fail_each_alloc(op_map_4k), 4);
	CHECK_EQ(fail_each_alloc(op_map_2m), 3);
	struct p2m_entry e;
	CHECK_EQ(p2m_lookup(D, 0x123456789, &e), 0);
	CHECK_EQ(p2m_lookup(D, 0x4000000, &e), 0);
	CHECK_EQ(D->nr_ram, 1 + LARGE_N);
	CHECK_INVARIANTS();
}

TEST(p2m_enomem_split)
{
	static const op_fn ops[] = { op_unmap_in_2m, op_set_perms_in_2m, op_split };
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		CHECK(dom_up() == 0);
		CHECK_EQ(map_2m_at_200(), 0);
		CHECK_EQ(fail_each_alloc(ops[i]), 1);
		struct p2m_entry e;
		CHECK_EQ(p2m_lookup(D, 0x200, &e), 0);
		CHECK_EQ(e.order, 0);
		CHECK(test_hv_down() == 0);
	}
}

static int op_domain_create(void)
{
	s64 id = domain_create(2, FRAMES);
	if (id < 0)
		return (int)id;
	return domain_destroy(domain_get((u32)id));
}

TEST(p2m_enomem_domain_create)
{
	CHECK(dom_up() == 0);
	/* Root table, then one VMCS per vCPU. */
	CHECK_EQ(fail_each_alloc(op_domain_create), 3);
	CHECK_INVARIANTS();
}
