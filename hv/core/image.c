/* A domain's state as bytes (hv_domain_image()). For tools that must know
 * whether a domain is exactly as it was: the replay tool's kept core resets
 * the fork it gave the previous trace and carries on only if the fork is
 * then byte for byte what a fresh fork would be. */
#include "p2m_impl.h"

/* Written to buf, or (hv_domain_same()) compared with expect as it goes:
 * full says it went no further, on a buffer too small or a difference. */
struct image {
	u8 *buf;
	const u8 *expect;
	size_t len, cap;
	bool full;
};

static void put(struct image *im, const void *p, size_t n)
{
	if (im->full || im->cap - im->len < n) {
		im->full = true;
		return;
	}
	if (im->expect && hv_memcmp(im->expect + im->len, p, n)) {
		im->full = true;
		return;
	}
	if (!im->expect)
		hv_memcpy(im->buf + im->len, p, n);
	im->len += n;
}

/* A frame the domain holds: where it is, what the frame table says of it
 * (not the checker's scratch, nor the used bits, which only summarise
 * what the frame holds), and what it holds: its first `bytes` (a VMCS
 * frame, only the part that holds state; arch_vmcs_state_bytes()). */
static void put_frame(struct image *im, u64 mfn, const struct hv_frame *f, u32 bytes)
{
	u64 rec[2] = { mfn, (u64)f->owner | (u64)f->type << 16 |
				    (u64)f->flags << 24 | (u64)f->refs << 32 };
	put(im, rec, sizeof(rec));
	const void *va = frame_map(mfn);
	put(im, va, bytes);
	frame_unmap((void *)va);
}

struct walk {
	struct image *im;
	u16 id;
};

/* In p2m order: each table below the root, and each frame of the domain's
 * own RAM that a leaf maps (shared frames are not its own). */
static int visit(void *arg, unsigned level, u64 gfn, u64 e, u64 table)
{
	struct walk *w = arg;
	(void)gfn;
	(void)table;
	u64 mfn = ept_mfn(e);
	if (!is_leaf(e, level)) {
		struct hv_frame *f = frame_get(mfn);
		if (f && f->type == FT_P2M)
			put_frame(w->im, mfn, f, PAGE_SIZE);
		return w->im->full;
	}
	for (u64 i = 0; i < 1ull << leaf_order(level) && !w->im->full; i++) {
		struct hv_frame *f = frame_get(mfn + i);
		if (f && f->owner == w->id)
			put_frame(w->im, mfn + i, f, PAGE_SIZE);
	}
	return w->im->full;
}

static void put_mfn(struct image *im, u64 mfn, u32 bytes)
{
	struct hv_frame *f = frame_get(mfn);
	if (f)
		put_frame(im, mfn, f, bytes);
}

static void put_domain(struct image *im, const struct hv_domain *d)
{
	/* Not its creation number: a domain made again by the same calls is
	 * the same domain (hv_domain_serial() tells them apart). */
	static const u8 no_serial[sizeof(d->serial)];
	size_t at = offsetof(struct hv_domain, serial);
	put(im, d, at);
	put(im, no_serial, sizeof(no_serial));
	put(im, (const u8 *)d + at + sizeof(d->serial), sizeof(*d) - at - sizeof(d->serial));
	for (u32 i = 0; i < d->nr_vcpus; i++)
		put_mfn(im, d->vcpu[i].vmcs_mfn, arch_vmcs_state_bytes()); /* its state only */
	for (u32 i = 0; i < HV_LOG_FRAMES && d->log[i] != INVALID_MFN; i++)
		put_mfn(im, d->log[i], PAGE_SIZE);
	if (d->p2m.nr_tables) {
		struct walk w = { im, d->id };
		put_mfn(im, d->p2m.root_mfn, PAGE_SIZE);
		p2m_walk(d, visit, &w);
	}
}

size_t hv_domain_image(u32 domid, void *buf, size_t cap)
{
	const struct hv_domain *d = domain_get(domid);
	if (!d)
		return 0;
	struct image im = { .buf = buf, .cap = cap };
	put_domain(&im, d);
	return im.full ? 0 : im.len;
}

bool hv_domain_same(u32 domid, const void *image, size_t len)
{
	const struct hv_domain *d = domain_get(domid);
	if (!d)
		return false;
	struct image im = { .expect = image, .cap = len };
	put_domain(&im, d);
	return !im.full && im.len == len;
}

void hv_domain_serials(u64 out[HV_MAX_DOMAINS])
{
	hv_memset(out, 0, HV_MAX_DOMAINS * sizeof(*out));
	for_each_slot(id) {
		const struct hv_domain *d = &hv.dom[id];
		bool live = d->state != DOM_FREE && d->state != DOM_ZOMBIE;
		out[id] = live ? d->serial : 0; /* as domain_get() sees it */
	}
}

unsigned hv_domain_flags(u32 domid)
{
	const struct hv_domain *d = domain_get(domid);
	if (!d)
		return 0;
	return (d->is_template ? HV_DOM_TEMPLATE : 0) |
	       (d->parent != HV_NO_PARENT ? HV_DOM_FORK : 0);
}
