/* A domain's state as bytes (hv_domain_image()). For tools that must know
 * whether a domain is exactly as it was: the replay tool's kept core resets
 * the fork it gave the previous trace and carries on only if the fork is
 * then byte for byte what a fresh fork would be. */
#include "core.h"

struct image {
	u8 *buf;
	size_t len, cap;
	bool full;
};

static void put(struct image *im, const void *p, size_t n)
{
	if (im->full || im->cap - im->len < n) {
		im->full = true;
		return;
	}
	hv_memcpy(im->buf + im->len, p, n);
	im->len += n;
}

/* A frame the domain owns: where it is, what the frame table says of it
 * (not the checker's scratch), and what it holds. */
static void put_frame(struct image *im, u64 mfn, const struct hv_frame *f)
{
	u64 rec[2] = { mfn, (u64)f->owner | (u64)f->type << 16 |
				    (u64)f->flags << 24 | (u64)f->refs << 32 };
	put(im, rec, sizeof(rec));
	const void *va = frame_map(mfn);
	put(im, va, PAGE_SIZE);
	frame_unmap((void *)va);
}

size_t hv_domain_image(u32 domid, void *buf, size_t cap)
{
	const struct hv_domain *d = domain_get(domid);
	if (!d)
		return 0;
	struct image im = { buf, 0, cap, false };
	put(&im, d, sizeof(*d));
	/* Not its creation number: a domain made again by the same calls is
	 * the same domain (hv_domain_serial() tells them apart). */
	if (!im.full)
		hv_memset(im.buf + offsetof(struct hv_domain, serial), 0, sizeof(d->serial));
	for (u64 i = 0; i < hv.nr_frames; i++)
		if (hv.frames[i].owner == d->id)
			put_frame(&im, hv.first_mfn + i, &hv.frames[i]);
	return im.full ? 0 : im.len;
}

void hv_domain_serials(u64 out[HV_MAX_DOMAINS])
{
	for (u32 id = 0; id < HV_MAX_DOMAINS; id++) {
		const struct hv_domain *d = &hv.dom[id];
		bool live = d->state != DOM_FREE && d->state != DOM_ZOMBIE;
		out[id] = live ? d->serial : 0; /* as domain_get() sees it */
	}
}
