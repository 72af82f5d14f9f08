/* vCPU creation and its architectural reset state. */
#include "handlers.h"
#include "hv/arch.h"

/* VM-execution controls we ask for (SDM 24.6). The real backend adjusts
 * them to what the CPU allows; the simulated one takes them as they are. */
#define PIN_EXTINT_EXITING BIT(0)
#define PIN_PREEMPTION_TIMER BIT(6)
#define PROC_HLT_EXITING BIT(7)
#define PROC_RDTSC_EXITING BIT(12)
#define PROC_UNCOND_IO_EXITING BIT(24)
#define PROC_SECONDARY BIT(31)
#define PROC2_EPT BIT(1)
#define PROC2_RDTSCP BIT(3)
#define PROC2_VPID BIT(5)
#define PROC2_UNRESTRICTED BIT(7)
#define EXIT_HOST_64BIT BIT(9)
#define EXIT_ACK_INTR BIT(15)
#define EXIT_SAVE_EFER BIT(20)
#define EXIT_LOAD_EFER BIT(21)
#define EXIT_SAVE_PREEMPT BIT(22)
#define ENTRY_IA32E BIT(9)
#define ENTRY_LOAD_EFER BIT(15)

#define HV_TIME_SLICE 100000 /* preemption-timer ticks per slice */

/* The VMCS fields that name the vCPU itself, which a fork does not copy
 * from its parent (vmcs_field_is_vcpu_state()). */
static void vcpu_identity(struct hv_vcpu *v)
{
	struct hv_domain *d = v->dom;
	vmw(VMCS_VMCS_LINK_POINTER, ~0ull);
	vmw(VMCS_EPT_POINTER, p2m_eptp(d));
	vmw(VMCS_VPID, (u16)(d->id * HV_MAX_VCPUS + v->id + 1));
}

/* A 64-bit flat long-mode guest, as a loader would leave it. The host may
 * override any of it with VCPU_SET_STATE (e.g. for a real-mode guest). */
static void vcpu_reset_state(struct hv_vcpu *v)
{
	static const u32 seg_ar[] = { 0xc093, 0xa09b, 0xc093, 0xc093, 0xc093,
				      0xc093, 0x10000, 0x8b };
	for (unsigned i = 0; i < ARRAY_SIZE(seg_ar); i++) {
		vmw(VMCS_GUEST_ES_SEL + 2 * i, i == 1 ? 0x8 : i == 7 ? 0x18 : 0x10);
		vmw(VMCS_GUEST_ES_LIMIT + 2 * i, 0xffffffff);
		vmw(VMCS_GUEST_ES_AR + 2 * i, seg_ar[i]);
		vmw(VMCS_GUEST_ES_BASE + 2 * i, 0);
	}
	vmw(VMCS_GUEST_CR0, 0x80000031); /* PG | NE | ET | PE */
	vmw(VMCS_GUEST_CR3, 0);
	vmw(VMCS_GUEST_CR4, 0x2020);     /* VMXE | PAE */
	vmw(VMCS_GUEST_IA32_EFER, 0x500); /* LMA | LME */
	vmw(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
	vmw(VMCS_GUEST_RIP, 0x1000);
	vmw(VMCS_GUEST_RSP, 0);
	vmw(VMCS_GUEST_RFLAGS, 0x2);
	vmw(VMCS_GUEST_DR7, 0x400);
	vcpu_identity(v);
	vmw(VMCS_PIN_BASED_CONTROLS, PIN_EXTINT_EXITING | PIN_PREEMPTION_TIMER);
	vmw(VMCS_PROC_BASED_CONTROLS, PROC_HLT_EXITING | PROC_RDTSC_EXITING |
				      PROC_UNCOND_IO_EXITING | PROC_SECONDARY);
	vmw(VMCS_SECONDARY_CONTROLS,
	    PROC2_EPT | PROC2_RDTSCP | PROC2_VPID | PROC2_UNRESTRICTED);
	vmw(VMCS_EXIT_CONTROLS, EXIT_HOST_64BIT | EXIT_ACK_INTR | EXIT_SAVE_EFER |
				EXIT_LOAD_EFER | EXIT_SAVE_PREEMPT);
	vmw(VMCS_ENTRY_CONTROLS, ENTRY_IA32E | ENTRY_LOAD_EFER);
	vmw(VMCS_PREEMPTION_TIMER_VALUE, HV_TIME_SLICE);
	for (unsigned r = 0; r < NR_GPRS; r++)
		v->gpr[r] = 0;
	v->xcr0 = 1;
	v->cr8 = 0;
	v->pending_irq = 0;
	v->io_pending = false;
	v->blocked = false;
	cr_init(v);
	msr_reset(v);
}

int vcpu_init(struct hv_domain *d, unsigned id)
{
	struct hv_vcpu *v = &d->vcpu[id];
	v->dom = d;
	v->id = (u16)id;
	v->vmcs_mfn = frame_alloc(0, d->id, FT_VMCS);
	if (v->vmcs_mfn == INVALID_MFN)
		return -HV_ENOMEM;
	v->vmcs_va = frame_map(v->vmcs_mfn);
	int rc = arch_vmcs_init(v, v->vmcs_va, v->vmcs_mfn);
	if (rc) {
		vcpu_fini(v);
		return rc;
	}
	arch_vmcs_load(v);
	vcpu_reset_state(v);
	return 0;
}

int vcpu_clear(struct hv_vcpu *v)
{
	int rc = arch_vmcs_init(v, v->vmcs_va, v->vmcs_mfn);
	if (rc)
		return rc;
	arch_vmcs_load(v);
	vcpu_identity(v);
	hv_memset(&v->io, 0, sizeof(v->io));
	return 0;
}

void vcpu_fini(struct hv_vcpu *v)
{
	if (v->vmcs_mfn == INVALID_MFN || !v->vmcs_va)
		return;
	arch_vmcs_fini(v);
	frame_unmap(v->vmcs_va);
	frame_free(v->vmcs_mfn);
	v->vmcs_va = NULL;
	v->vmcs_mfn = INVALID_MFN;
}
