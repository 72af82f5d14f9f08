/* The frame table: one entry per machine frame the host may donate, saying
 * who owns it, what it holds and how many p2m mappings refer to it. */
#include "core.h"

static unsigned order_for(u64 bytes)
{
	unsigned order = 0;
	while ((PAGE_SIZE << order) < bytes)
		order++;
	return order;
}

static void set_held(u64 mfn, bool on)
{
	u64 i = mfn - hv.first_mfn;
	if (on)
		hv.held[i / 64] |= 1ull << (i % 64);
	else
		hv.held[i / 64] &= ~(1ull << (i % 64));
}

int frame_table_init(u64 first_mfn, u64 nr_frames)
{
	/* The entries, then a bitmap of the frames held, so that the
	 * invariant checker visits those only. */
	u64 words = (nr_frames + 63) / 64;
	u64 bytes = nr_frames * sizeof(struct hv_frame) + words * 8;
	unsigned order = order_for(bytes);
	u64 mfn = hv.ops->alloc_frames(hv.ctx, order);
	if (mfn == INVALID_MFN)
		return -HV_ENOMEM;
	if (mfn < first_mfn || mfn + (1ull << order) > first_mfn + nr_frames) {
		/* Outside the range the host declared: all of it goes back. */
		for (u64 i = 0; i < (1ull << order); i++)
			hv.ops->free_frame(hv.ctx, mfn + i);
		return -HV_EINVAL;
	}
	hv.first_mfn = first_mfn;
	hv.nr_frames = nr_frames;
	hv.frames = hv.ops->map_frame(hv.ctx, mfn);
	hv.held = (u64 *)(hv.frames + nr_frames);
	hv.frame_table_mfn = mfn;
	hv.frame_table_frames = 1ull << order;
	for (u64 i = 0; i < nr_frames; i++)
		hv.frames[i] = (struct hv_frame){ .owner = OWNER_NONE };
	hv_memset(hv.held, 0, words * 8);
	for (u64 i = 0; i < hv.frame_table_frames; i++) {
		hv.frames[mfn - first_mfn + i].owner = OWNER_HV;
		hv.frames[mfn - first_mfn + i].type = FT_HV;
		set_held(mfn + i, true);
	}
	hv.in_use = hv.frame_table_frames;
	return 0;
}

void frame_table_fini(void)
{
	struct hv_frame *ft = hv.frames;
	u64 mfn = hv.frame_table_mfn;
	hv.frames = NULL;
	hv.held = NULL;
	for (u64 i = 0; i < hv.frame_table_frames; i++)
		hv.ops->free_frame(hv.ctx, mfn + i);
	hv.in_use -= hv.frame_table_frames;
	hv.ops->unmap_frame(hv.ctx, ft);
}

u64 frame_alloc(unsigned order, u16 owner, u8 type)
{
	u64 mfn = hv.ops->alloc_frames(hv.ctx, order);
	if (mfn == INVALID_MFN)
		return INVALID_MFN;
	u64 n = 1ull << order;
	/* A host that hands out frames outside the range it declared, or
	 * frames we already hold, is hostile: refuse them. */
	for (u64 i = 0; i < n; i++) {
		struct hv_frame *f = frame_get(mfn + i);
		if (!f || f->type != FT_FREE) {
			hv_log(HV_LOG_ERR, "host donated bad frame %llx",
			       (unsigned long long)(mfn + i));
			return INVALID_MFN;
		}
	}
	for (u64 i = 0; i < n; i++) {
		*frame_get(mfn + i) = (struct hv_frame){ .owner = owner, .type = type };
		set_held(mfn + i, true);
	}
	hv.in_use += n;
	hv.generation++;
	return mfn;
}

void frame_free(u64 mfn)
{
	struct hv_frame *f = frame_get(mfn);
	HV_ASSERT(f && f->type != FT_FREE && f->refs == 0);
	*f = (struct hv_frame){ .owner = OWNER_NONE };
	set_held(mfn, false);
	hv.in_use--;
	hv.generation++;
	hv.ops->free_frame(hv.ctx, mfn);
}

u64 hv_generation(void)
{
	return hv.generation;
}

u64 hv_frames_in_use(void)
{
	return hv.in_use;
}
