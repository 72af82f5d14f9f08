/* Start, stop and the public lookups of the core (hv/include/hv/hv.h). */
#include "core.h"
#include "hv/arch.h"

void hv_host_set(const struct hv_host_ops *ops, void *ctx)
{
	hv.ops = ops;
	hv.ctx = ctx;
	hv.direct = ops->direct_map && ops->direct_map(ctx, &hv.direct_base);
}

int hv_start(const struct hv_host_ops *ops, void *ctx, u64 first_mfn,
	     u64 nr_frames)
{
	if (hv.started || !ops || nr_frames == 0)
		return -HV_EINVAL;
	hv_memset(&hv, 0, sizeof(hv));
	hv_host_set(ops, ctx);
	hv.zero_mfn = INVALID_MFN;
	int rc = frame_table_init(first_mfn, nr_frames);
	if (rc) {
		hv.ops = NULL;
		return rc;
	}
	hv.started = true;
	return 0;
}

u64 hv_stop(void)
{
	if (!hv.started)
		return 0;
	for (u32 i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv.dom[i].state != DOM_FREE && hv.dom[i].state != DOM_ZOMBIE)
			domain_destroy(&hv.dom[i]);
	merge_fini();
	frame_table_fini();
	u64 left = hv.in_use;
	hv.started = false;
	hv.ops = NULL;
	return left;
}

void hv_abandon(void)
{
	hv_memset(&hv, 0, sizeof(hv));
}

struct hv_domain *hv_domain_get(u32 domid)
{
	return domain_get(domid);
}

u64 hv_domain_serial(u32 domid)
{
	const struct hv_domain *d = domain_get(domid);
	return d ? d->serial : 0;
}

struct hv_vcpu *hv_vcpu_get(struct hv_domain *d, u32 vcpu)
{
	if (!d || vcpu >= d->nr_vcpus)
		return NULL;
	return &d->vcpu[vcpu];
}

bool hv_vcpu_runnable(const struct hv_vcpu *v)
{
	return v->dom->state == DOM_RUNNING && !v->io_pending;
}

u16 hv_vcpu_domid(const struct hv_vcpu *v)
{
	return v->dom->id;
}

u64 *hv_vcpu_gprs(struct hv_vcpu *v)
{
	return v->gpr;
}

void *hv_vcpu_vmcs_va(struct hv_vcpu *v)
{
	return v->vmcs_va;
}

int hv_check_invariants(char *msg, u32 msglen)
{
	return check_invariants(msg, msglen, true);
}

int hv_check_invariants_fast(char *msg, u32 msglen)
{
	return check_invariants(msg, msglen, false);
}

int hv_check_free_frames(char *msg, u32 msglen)
{
	return check_free_frames(msg, msglen);
}
