/* vmfork: a paused domain becomes a template (its memory shared and
 * read-only, frozen for good) and children are forked from it, either
 * eagerly (a copy of its EPT tables) or lazily (entries filled from the
 * ancestors on first touch). A child records every gfn whose mapping it
 * changes in its dirty log, so that a fork reset (back to the template's
 * state) costs in proportion to what it dirtied. */
#include "handlers.h"
#include "hv/arch.h"

#define LOG_LARGE BIT(63) /* a log entry for a whole 2 MiB range */

/* ---- the dirty log ---- */

/* Note that d's mapping of gfn (or of its 2 MiB range, with LOG_LARGE) no
 * longer matches its template. Without room, reset falls back to a walk. */
void fork_log_entry(struct hv_domain *d, u64 entry)
{
	if (d->parent == HV_NO_PARENT || d->resetting || d->log_full)
		return;
	u64 frame = d->nr_dirty / HV_LOG_PER_FRAME;
	u64 idx = d->nr_dirty % HV_LOG_PER_FRAME;
	if (frame >= HV_LOG_FRAMES) {
		d->log_full = true;
		return;
	}
	if (idx == 0 && d->log[frame] == INVALID_MFN) {
		d->log[frame] = frame_alloc(0, d->id, FT_LOG);
		if (d->log[frame] == INVALID_MFN) {
			d->log_full = true;
			return;
		}
	}
	u64 *log = frame_map(d->log[frame]);
	log[idx] = entry;
	frame_unmap(log);
	d->nr_dirty++;
}

void fork_log(struct hv_domain *d, u64 gfn)
{
	fork_log_entry(d, gfn);
}

void fork_log_free(struct hv_domain *d)
{
	/* The log's frames are taken in order: the first missing one ends
	 * them (a reset after every run frees one or none). */
	for (u32 i = 0; i < HV_LOG_FRAMES && d->log[i] != INVALID_MFN; i++) {
		frame_free(d->log[i]);
		d->log[i] = INVALID_MFN;
	}
	d->nr_dirty = 0;
	d->log_full = false;
}

/* ---- fork ---- */

/* A fork's vCPU state, what fork gives a child and reset gives back:
 * copied from the parent. */
static void vcpu_copy(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	arch_vmcs_copy_state(dst, src);
	hv_memcpy(dst->gpr, src->gpr, sizeof(dst->gpr));
	hv_memcpy(dst->msr, src->msr, sizeof(dst->msr));
	dst->xcr0 = src->xcr0;
	dst->cr8 = src->cr8;
	dst->pending_irq = 0;
	dst->io_pending = false;
	dst->blocked = false;
}

void fork_vcpus_copy(struct hv_domain *c, struct hv_domain *p)
{
	for (u32 i = 0; i < c->nr_vcpus; i++)
		vcpu_copy(&c->vcpu[i], &p->vcpu[i]);
}


s64 domain_fork(struct hv_domain *p, bool lazy)
{
	if (p->state != DOM_PAUSED)
		return -HV_EBUSY; /* running, crashed, shut down or dying */
	if (p->depth + 1 >= HV_FORK_DEPTH)
		return -HV_ERANGE;
	for (u32 i = 0; i < p->nr_vcpus; i++)
		if (p->vcpu[i].io_pending)
			return -HV_EBUSY;
	s64 id = domain_create(p->nr_vcpus, p->max_frames);
	if (id < 0)
		return id;
	struct hv_domain *c = &hv.dom[id];
	c->depth = p->depth + 1;
	c->lazy = lazy || p->lazy; /* what a lazy parent lacks, its ancestors have */
	c->fork_lazy = c->lazy;
	c->nr_mmio = p->nr_mmio;
	hv_memcpy(c->mmio, p->mmio, sizeof(c->mmio));
	/* The copy first: if it fails, the parent is left as it was. */
	if (!lazy) {
		int rc = p2m_clone(c, p);
		if (rc) {
			domain_destroy(c);
			return rc;
		}
	}
	if (!p->is_template) {
		p2m_share_all(p);
		p->is_template = true;
	}
	c->parent = p->id;
	p->children++;
	fork_vcpus_copy(c, p);
	return id;
}

/* ---- reset ---- */

/* gfn back to the template's mapping: the child's own mapping goes; an
 * eager child maps the ancestor's frame again, a lazy one refaults it. */
static int reset_gfn(struct hv_domain *c, u64 gfn)
{
	struct p2m_entry e;
	if (p2m_lookup(c, gfn, &e) == 0) {
		int rc = p2m_unmap(c, gfn, 0);
		if (rc)
			return rc;
	}
	if (c->lazy || p2m_ancestor_lookup(c, gfn, &e))
		return 0;
	return p2m_map(c, gfn, e.mfn, 0, ept_share_perms(e.perms), e.type,
		       e.memtype);
}

static int reset_entry(struct hv_domain *c, u64 entry)
{
	if (!(entry & LOG_LARGE))
		return reset_gfn(c, entry);
	u64 base = entry & ~LOG_LARGE;
	for (u64 i = 0; i < (1ull << LARGE_ORDER); i++) {
		int rc = reset_gfn(c, base + i);
		if (rc)
			return rc;
	}
	return 0;
}

static int reset_from_log(struct hv_domain *c)
{
	for (u64 n = 0; n < c->nr_dirty; n++) {
		u64 *log = frame_map(c->log[n / HV_LOG_PER_FRAME]);
		u64 entry = log[n % HV_LOG_PER_FRAME];
		frame_unmap(log);
		int rc = reset_entry(c, entry);
		if (rc)
			return rc;
	}
	return 0;
}

/* The log overflowed: rebuild the whole p2m from the template, as the
 * fork made it. The root stays (and so the EPT pointer): nothing is left
 * without a p2m if the copy fails half way. */
static int reset_whole(struct hv_domain *c)
{
	p2m_clear(c);
	c->lazy = c->fork_lazy;
	return c->lazy ? 0 : p2m_clone(c, &hv.dom[c->parent]);
}

int domain_reset(struct hv_domain *c)
{
	if (c->parent == HV_NO_PARENT)
		return -HV_EINVAL; /* not a fork */
	if (c->is_template)
		return -HV_EBUSY; /* its children see its memory as it is */
	if (c->state == DOM_DYING)
		return -HV_EINVAL;
	c->resetting = true;
	/* A lazy fork starts with an empty p2m: clearing it all costs what
	 * it filled, and gives back the tables too, so that the reset fork
	 * holds exactly the frames a fresh fork holds. */
	int rc = c->log_full || c->fork_lazy ? reset_whole(c) : reset_from_log(c);
	c->resetting = false;
	if (rc) {
		/* Out of memory half way (an eager fork's remapping needs
		 * tables; a lazy one's clear cannot fail): what was not undone
		 * is still logged (the log is kept), and the domain cannot run
		 * in between states. */
		domain_crash(c, CRASH_NO_MEMORY);
		return rc;
	}
	fork_log_free(c); /* a fresh fork has no log frame */
	c->nr_mmio = hv.dom[c->parent].nr_mmio;
	hv_memcpy(c->mmio, hv.dom[c->parent].mmio, sizeof(c->mmio));
	/* The vCPUs as the fork made them: a fresh VMCS with their identity,
	 * the parent's state copied in; nothing of the undone run is left. */
	for (u32 i = 0; i < c->nr_vcpus; i++) {
		rc = vcpu_clear(&c->vcpu[i]);
		if (rc) {
			/* The CPU refused the VMCS (VMCLEAR or VMPTRLD failed):
			 * the vCPU cannot be entered. */
			domain_crash(c, CRASH_ENTRY_FAILURE);
			return rc;
		}
	}
	fork_vcpus_copy(c, &hv.dom[c->parent]);
	/* Back to the template's state, TLBs included: nothing cached from
	 * the run that was undone survives (a fork starts with none). */
	arch_invept(p2m_eptp(c));
	c->state = DOM_PAUSED;
	c->crash_reason = CRASH_NONE;
	c->shutdown_code = 0;
	c->con_len = 0;
	hv_memset(c->con, 0, sizeof(c->con)); /* as a fresh fork's */
	return 0;
}

/* ---- copy-on-write ---- */

/* A write to a shared frame: the writer gets a private copy (or, if it
 * holds the only reference, the frame itself). Zero-page writes get a
 * fresh zeroed frame. */
int cow_break(struct hv_domain *d, u64 gfn)
{
	struct p2m_entry e;
	if (p2m_lookup(d, gfn, &e))
		return -HV_ENOENT;
	struct hv_frame *f = frame_get(e.mfn);
	if (f->type != FT_SHARED || !(e.perms & EPT_COW))
		return -HV_EINVAL;
	u32 perms = (e.perms & ~(u32)EPT_COW) | EPT_W;
	if (f->refs == 1 && e.mfn != hv.zero_mfn) {
		f->type = FT_RAM;
		f->owner = d->id;
		int rc = p2m_set_perms(d, gfn, perms);
		if (rc) {
			f->type = FT_SHARED;
			f->owner = OWNER_SHARED;
		}
		return rc;
	}
	u64 mfn = frame_alloc(0, d->id, FT_RAM);
	if (mfn == INVALID_MFN)
		return -HV_ENOMEM;
	u8 *to = frame_map(mfn);
	if (e.mfn == hv.zero_mfn) {
		hv_memset(to, 0, PAGE_SIZE);
	} else {
		const u8 *from = frame_map(e.mfn);
		hv_memcpy(to, from, PAGE_SIZE);
		frame_unmap((void *)from);
	}
	frame_unmap(to);
	int rc = p2m_replace(d, gfn, mfn, perms);
	if (rc)
		frame_free(mfn);
	return rc;
}

/* An EPT violation that sharing explains: a lazy fork's first touch, or a
 * write to a shared frame the domain may write (copy-on-write). Returns 1
 * if handled (the guest retries), 0 if not a sharing fault, or
 * -HV_ENOMEM. */
int share_fault(struct hv_domain *d, u64 gfn, bool write)
{
	struct p2m_entry e;
	if (p2m_lookup(d, gfn, &e)) {
		if (!d->lazy)
			return 0;
		int rc = p2m_fill(d, gfn);
		if (rc == -HV_ENOENT)
			return 0;
		if (rc)
			return rc;
		if (!write)
			return 1;
		if (p2m_lookup(d, gfn, &e))
			return -HV_ENOENT;
	}
	if (!write || !(e.perms & EPT_COW) || frame_get(e.mfn)->type != FT_SHARED)
		return 0;
	int rc = cow_break(d, gfn);
	return rc ? rc : 1;
}
