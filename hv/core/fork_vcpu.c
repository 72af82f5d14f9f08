/* A fork's vCPU state: what fork gives a child and reset gives back, copied
 * from the parent. Apart from fork.c so that fuzz builds can leave its
 * field-by-field loop without comparison tracing (it decides nothing). */
#include "core.h"

/* Which VMCS fields are a vCPU's state (copied by fork and reset): guest
 * state and the controls that follow it, but not the fields that name the
 * domain itself (VPID, EPT pointer) or that the CPU writes on exit. */
static bool vcpu_state_field(u32 enc)
{
	unsigned type = (enc >> 10) & 3; /* 0 control, 1 exit info, 2 guest, 3 host */
	if (type == 2)
		return true;
	return type == 0 && enc != VMCS_VPID && enc != VMCS_EPT_POINTER &&
	       enc != VMCS_VMCS_LINK_POINTER;
}

static void vcpu_copy(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	static const u16 fields[] = {
#define X(name, enc) enc,
#include "hv/tables/vmcs_fields.def"
#undef X
	};
	u64 val[ARRAY_SIZE(fields)];
	arch_vmcs_load(src);
	for (unsigned i = 0; i < ARRAY_SIZE(fields); i++)
		val[i] = arch_vmread(fields[i]);
	arch_vmcs_load(dst);
	for (unsigned i = 0; i < ARRAY_SIZE(fields); i++)
		if (vcpu_state_field(fields[i]))
			arch_vmwrite(fields[i], val[i]);
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
