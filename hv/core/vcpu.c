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

/* A 64-bit flat long-mode guest, as a loader would leave it, and the
 * controls we ask for. The host may override any guest state with
 * VCPU_SET_STATE (e.g. for a real-mode guest). One table, written in a
 * loop: every vCPU creation runs it. */
struct field_value {
	u32 enc;
	u64 val;
};

static const struct field_value reset_fields[] = {
	{ VMCS_GUEST_CR0, 0x80000031 },       /* PG | NE | ET | PE */
	{ VMCS_GUEST_CR3, 0 },
	{ VMCS_GUEST_CR4, 0x2020 },           /* VMXE | PAE */
	{ VMCS_GUEST_IA32_EFER, 0x500 },      /* LMA | LME */
	{ VMCS_GUEST_IA32_PAT, 0x0007040600070406ull },
	{ VMCS_GUEST_RIP, 0x1000 },
	{ VMCS_GUEST_RSP, 0 },
	{ VMCS_GUEST_RFLAGS, 0x2 },
	{ VMCS_GUEST_DR7, 0x400 },
}, reset_controls[] = {
	{ VMCS_PIN_BASED_CONTROLS, PIN_EXTINT_EXITING | PIN_PREEMPTION_TIMER },
	{ VMCS_PROC_BASED_CONTROLS, PROC_HLT_EXITING | PROC_RDTSC_EXITING |
				    PROC_UNCOND_IO_EXITING | PROC_SECONDARY },
	{ VMCS_SECONDARY_CONTROLS, PROC2_EPT | PROC2_RDTSCP | PROC2_VPID | PROC2_UNRESTRICTED },
	{ VMCS_EXIT_CONTROLS, EXIT_HOST_64BIT | EXIT_ACK_INTR | EXIT_SAVE_EFER |
			      EXIT_LOAD_EFER | EXIT_SAVE_PREEMPT },
	{ VMCS_ENTRY_CONTROLS, ENTRY_IA32E | ENTRY_LOAD_EFER },
	{ VMCS_PREEMPTION_TIMER_VALUE, HV_TIME_SLICE },
};

static void vcpu_reset_state(struct hv_vcpu *v)
{
	static const u32 seg_ar[] = { 0xc093, 0xa09b, 0xc093, 0xc093, 0xc093,
				      0xc093, 0x10000, 0x8b };
	static const u16 seg_sel[] = { 0x10, 0x8, 0x10, 0x10, 0x10, 0x10, 0x10, 0x18 };
	for (unsigned i = 0; i < ARRAY_SIZE(seg_ar); i++) {
		vmw(VMCS_GUEST_ES_SEL + 2 * i, seg_sel[i]);
		vmw(VMCS_GUEST_ES_LIMIT + 2 * i, 0xffffffff);
		vmw(VMCS_GUEST_ES_AR + 2 * i, seg_ar[i]);
		vmw(VMCS_GUEST_ES_BASE + 2 * i, 0);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(reset_fields); i++)
		vmw(reset_fields[i].enc, reset_fields[i].val);
	vcpu_identity(v);
	for (unsigned i = 0; i < ARRAY_SIZE(reset_controls); i++)
		vmw(reset_controls[i].enc, reset_controls[i].val);
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
