/* Domains: creation, destruction, crash, and the host's memory operations
 * on them. Memory is handed to a domain frame by frame (or 2 MiB block by
 * block) from frames the host donates. */
#include "core.h"
#include "hv/arch.h"

/* Zombies (destroyed templates kept for their forks) are gone for the
 * host and the guests: only the fork code reaches them, by parent id. */
struct hv_domain *domain_get(u32 domid)
{
	if (domid >= HV_MAX_DOMAINS || hv.dom[domid].state == DOM_FREE ||
	    hv.dom[domid].state == DOM_ZOMBIE)
		return NULL;
	return &hv.dom[domid];
}

static struct hv_domain *domain_slot(void)
{
	/* Id 0 is the de-privileged host's own container. */
	for (u32 i = 1; i < HV_MAX_DOMAINS; i++)
		if (hv.dom[i].state == DOM_FREE)
			return &hv.dom[i];
	return NULL;
}

s64 domain_create(u32 nr_vcpus, u64 max_frames)
{
	if (nr_vcpus == 0 || nr_vcpus > HV_MAX_VCPUS || max_frames == 0 ||
	    max_frames > hv.nr_frames)
		return -HV_EINVAL;
	struct hv_domain *d = domain_slot();
	if (!d)
		return -HV_ENOSPC;
	u16 id = (u16)(d - hv.dom);
	hv_memset(d, 0, sizeof(*d));
	d->id = id;
	d->serial = ++hv.domains_created;
	d->state = DOM_PAUSED; /* nothing runs until the host unpauses */
	hv.slots |= 1ull << id;
	d->max_frames = max_frames;
	d->parent = HV_NO_PARENT;
	for (u32 i = 0; i < HV_MAX_VCPUS; i++)
		d->vcpu[i].vmcs_mfn = INVALID_MFN;
	for (u32 i = 0; i < HV_LOG_FRAMES; i++)
		d->log[i] = INVALID_MFN;
	int rc = p2m_init(d);
	if (rc) {
		d->state = DOM_FREE;
		hv.slots &= ~(1ull << id);
		return rc;
	}
	for (u32 i = 0; i < nr_vcpus; i++) {
		rc = vcpu_init(d, i);
		if (rc) {
			domain_destroy(d);
			return rc;
		}
		d->nr_vcpus = i + 1;
	}
	return id;
}

/* A template with live forks keeps its p2m (they read it, and reset to
 * it) as a zombie; the last fork to go takes it along. */
int domain_destroy(struct hv_domain *d)
{
	if (d->children) {
		d->state = DOM_ZOMBIE; /* its vCPU state is what resets restore */
		return 0;
	}
	d->state = DOM_DYING;
	for (u32 i = 0; i < HV_MAX_VCPUS; i++)
		if (d->vcpu[i].dom)
			vcpu_fini(&d->vcpu[i]);
	p2m_destroy(d);
	fork_log_free(d);
	u16 parent = d->parent;
	hv_memset(d, 0, sizeof(*d));
	d->state = DOM_FREE;
	hv.slots &= ~(1ull << (d - hv.dom));
	if (parent != HV_NO_PARENT) {
		struct hv_domain *p = &hv.dom[parent];
		HV_ASSERT(p->children > 0);
		if (--p->children == 0 && p->state == DOM_ZOMBIE)
			domain_destroy(p);
	}
	return 0;
}

/* The guest (or an internal failure on its behalf) ended the domain. Its
 * memory stays until the host destroys it, so the host can inspect it. */
void domain_crash(struct hv_domain *d, u32 reason)
{
	if (d->state != DOM_RUNNING && d->state != DOM_PAUSED)
		return;
	d->state = DOM_CRASHED;
	d->crash_reason = reason;
	hv_log(HV_LOG_INFO, "d%u crashed: %s", d->id, crash_reason_text(reason));
}

bool domain_is_mmio(const struct hv_domain *d, u64 gfn)
{
	for (u32 i = 0; i < d->nr_mmio; i++)
		if (gfn - d->mmio[i].gfn < d->mmio[i].count)
			return true;
	return false;
}

static bool range_overlaps_mmio(const struct hv_domain *d, u64 gfn, u64 count)
{
	for (u32 i = 0; i < d->nr_mmio; i++)
		if (gfn < d->mmio[i].gfn + d->mmio[i].count &&
		    d->mmio[i].gfn < gfn + count)
			return true;
	return false;
}

/* Map one fresh, zeroed block of 2^order frames at gfn. Zeroing is what
 * keeps a previous owner's data from ever reaching this guest. */
static int populate_block(struct hv_domain *d, u64 gfn, unsigned order)
{
	u64 mfn = frame_alloc(order, d->id, FT_RAM);
	if (mfn == INVALID_MFN)
		return -HV_ENOMEM;
	u8 *va = frame_map(mfn);
	hv_memset(va, 0, PAGE_SIZE << order);
	frame_unmap(va);
	int rc = p2m_map(d, gfn, mfn, order, EPT_RWX, P2M_RAM, EPT_MT_WB);
	if (rc)
		for (u64 i = 0; i < (1ull << order); i++)
			frame_free(mfn + i);
	return rc;
}

int domain_populate(struct hv_domain *d, u64 gfn, u64 count, unsigned order)
{
	u64 step = 1ull << order;
	if ((gfn | count) & (step - 1))
		return -HV_EINVAL;
	if (gfn >= d->p2m.max_gfn || count > d->p2m.max_gfn - gfn)
		return -HV_ERANGE;
	if (d->nr_ram > d->max_frames || count > d->max_frames - d->nr_ram)
		return -HV_ENOSPC;
	if (range_overlaps_mmio(d, gfn, count))
		return -HV_EEXIST;
	for (u64 i = 0; i < count; i += step) {
		int rc = populate_block(d, gfn + i, order);
		if (rc)
			return rc; /* what was mapped so far stays, accounted */
	}
	return 0;
}

/* Give back the frames behind [gfn, gfn+count); unmapped gfns are skipped.
 * Returns the number of frames unmapped. */
s64 domain_unmap(struct hv_domain *d, u64 gfn, u64 count)
{
	if (gfn >= d->p2m.max_gfn || count > d->p2m.max_gfn - gfn)
		return -HV_ERANGE;
	s64 done = 0;
	/* Visit only what is mapped: a hostile count costs nothing more. */
	struct p2m_entry e;
	for (u64 g = gfn; p2m_next(d, &g, gfn + count, &e) == 0; g++) {
		int rc = p2m_unmap(d, g, 0);
		if (rc)
			return rc;
		done++;
	}
	return done;
}

int domain_add_mmio(struct hv_domain *d, u64 gfn, u64 count)
{
	if (gfn >= d->p2m.max_gfn || count > d->p2m.max_gfn - gfn)
		return -HV_ERANGE;
	if (d->nr_mmio == HV_MAX_MMIO)
		return -HV_ENOSPC;
	if (range_overlaps_mmio(d, gfn, count))
		return -HV_EEXIST;
	struct p2m_entry e;
	u64 g = gfn;
	if (p2m_next(d, &g, gfn + count, &e) == 0)
		return -HV_EEXIST; /* RAM in the range */
	d->mmio[d->nr_mmio].gfn = gfn;
	d->mmio[d->nr_mmio].count = count;
	d->nr_mmio++;
	return 0;
}
