/* The p2m's building blocks, shared by p2m.c (map, unmap, lookup, walk)
 * and p2m_share.c (write-protect, clone, fill from an ancestor, replace).
 * Nothing outside those two files uses this header. */
#ifndef HV_P2M_IMPL_H
#define HV_P2M_IMPL_H

#include "core.h"

#define EPT_ENTRIES 512
#define EPT_LEVELS 4
#define LARGE_FRAMES (1ull << LARGE_ORDER)

/* Where an entry lives. A descent towards a gfn ends at one of these. */
struct slot {
	u64 table; /* mfn of the table holding the entry */
	unsigned idx, level;
	u64 e;     /* the entry's value */
};

/* ---- entry encoding (inline: on every path through the tables) ---- */

static inline unsigned level_shift(unsigned level)
{
	return LARGE_ORDER * (level - 1);
}

static inline unsigned slot_index(u64 gfn, unsigned level)
{
	return (unsigned)(gfn >> level_shift(level)) & (EPT_ENTRIES - 1);
}

/* Bit 7 is never set by us outside level 2, but trusting it at every level
 * keeps a walk from descending through a corrupted entry. */
static inline bool is_leaf(u64 e, unsigned level)
{
	return level == 1 || (e & EPT_LARGE);
}

static inline unsigned leaf_order(unsigned level)
{
	return level == 2 ? LARGE_ORDER : 0;
}

/* Access is the AND of the rights at every level: table entries grant
 * everything so that the leaf alone decides (and lookups can report it). */
static inline u64 table_entry(u64 mfn)
{
	return mfn << PAGE_SHIFT | EPT_RWX;
}

static inline u64 leaf_entry(u64 mfn, unsigned order, u32 perms, u8 type, u8 memtype)
{
	return mfn << PAGE_SHIFT | perms | (u64)memtype << EPT_MT_SHIFT |
	       (order ? EPT_LARGE : 0) | (u64)type << EPT_TYPE_SHIFT;
}

int range_check(const struct hv_domain *d, u64 gfn, unsigned order);
void slot_to_entry(const struct slot *s, u64 gfn, struct p2m_entry *out);
/* Always inlined, like frame_map(): a lookup reads one entry per level. */
static inline __attribute__((always_inline)) u64 entry_read(u64 table, unsigned idx)
{
	u64 *t = frame_map(table);
	u64 e = t[idx];
	frame_unmap(t);
	return e;
}
void entry_write(u64 table, unsigned idx, u64 e);
void slot_write(struct slot *s, u64 e);
/* Descend towards gfn's entry at level stop, stopping early at an empty
 * entry or a leaf. */
void descend(const struct hv_domain *d, u64 gfn, unsigned stop, struct slot *s);
/* A table's hv_frame.used: a bit per group of USED_GROUP entries. */
#define USED_GROUPS 32
#define USED_GROUP (EPT_ENTRIES / USED_GROUPS)
/* The first entry in use in table at or after idx, or EPT_ENTRIES: only
 * the groups its used bits name are read. */
unsigned table_next_used(u64 table, unsigned idx);
/* The same in a table already mapped at t, whose used bits are used.
 * Tables are mostly empty, and the invariant checker walks every table
 * after every fuzzed event. (Inline, so that the checker's copy is not
 * coverage the fuzzers see.) */
static inline unsigned entries_next_used(const u64 *t, u32 used, unsigned idx)
{
	while (idx < EPT_ENTRIES) {
		unsigned g = idx / USED_GROUP;
		u32 left = used >> g;
		if (!left)
			break;
		g += (unsigned)__builtin_ctz(left);
		unsigned end = (g + 1) * USED_GROUP;
		if (idx < g * USED_GROUP)
			idx = g * USED_GROUP;
		for (; idx < end; idx++)
			if (t[idx])
				return idx;
	}
	return EPT_ENTRIES;
}

/* i over the entries in use of the table mapped at t, whose used bits
 * are used, in order. */
#define for_each_used_entry(i, t, used)                                        \
	for (unsigned i = entries_next_used(t, used, 0); i < EPT_ENTRIES;      \
	     i = entries_next_used(t, used, i + 1))

static inline u32 table_used(u64 table)
{
	return frame_get(table)->used;
}
/* hv_frame.used for a table whose entries were written directly. */
u32 table_used_bits(const u64 *t);
u64 table_alloc(struct hv_domain *d);
u64 table_alloc_raw(struct hv_domain *d); /* not zeroed: caller fills it */
void table_free(struct hv_domain *d, u64 mfn);
/* A frame reference per 4 KiB mapping: get after mapping, put after the
 * unmap was flushed (the last put frees the frame). */
void ram_get(struct hv_domain *d, u64 mfn, u64 n);
void ram_put(struct hv_domain *d, u64 mfn, u64 n);
void p2m_flush(const struct hv_domain *d);
void rec_p2m(u64 gfn, unsigned order, u32 perms, u8 type);
/* Fill the empty entry s with leaf, building missing tables down to target. */
int install(struct hv_domain *d, struct slot *s, u64 gfn, unsigned target, u64 leaf);
int split_leaf(struct hv_domain *d, struct slot *s);
/* Make s (an in-use leaf covering gfn) gfn's own 4 KiB leaf. */
int leaf_4k(struct hv_domain *d, u64 gfn, struct slot *s);

#endif
