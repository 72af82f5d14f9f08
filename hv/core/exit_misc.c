/* The small exits: HLT, interrupts, triple fault, XSETBV, INVD/WBINVD,
 * RDTSC/RDTSCP, the preemption timer and the VMX instructions. */
#include "handlers.h"
#include "hv/arch.h"

/* Primary processor-based controls (SDM 24.6.2, table 24-6). */
#define PROC_INTR_WINDOW_EXITING BIT(2)
/* VM-entry interruption information (SDM 24.8.3): type 0 = external
 * interrupt in bits 10:8, valid in bit 31. */
#define INTR_INFO_EXTINT (0u << 8)
#define INTR_INFO_VALID (1u << 31)

unsigned handle_hlt(struct hv_vcpu *v)
{
	advance_rip(v);
	return UXT_FATE_BLOCKED;
}

/* The host's interrupt: let the host handle it. */
unsigned handle_external_interrupt(struct hv_vcpu *v)
{
	(void)v;
	return UXT_FATE_YIELD;
}

/* The guest can take an interrupt now: deliver the one the host queued,
 * and stop asking for the window. */
unsigned handle_interrupt_window(struct hv_vcpu *v)
{
	if (v->pending_irq) {
		u32 vector = (v->pending_irq - 1) & 0xff;
		vmw(VMCS_ENTRY_INTR_INFO,
		    vector | INTR_INFO_EXTINT | INTR_INFO_VALID);
		v->pending_irq = 0;
	}
	vmw(VMCS_PROC_BASED_CONTROLS,
	    vmr(VMCS_PROC_BASED_CONTROLS) & ~PROC_INTR_WINDOW_EXITING);
	return UXT_FATE_RESUME;
}

unsigned handle_triple_fault(struct hv_vcpu *v)
{
	return exit_crash(v, CRASH_TRIPLE_FAULT);
}

/* XCR0 state components (SDM 13.1) and their rules (SDM 13.3): x87 is
 * always on; AVX needs SSE; the MPX pair and the AMX pair go together;
 * the three AVX-512 components go together and need AVX; only components
 * the CPU enumerates in CPUID.(EAX=0DH,ECX=0):EDX:EAX may be set. */
#define XCR0_X87 BIT(0)
#define XCR0_SSE BIT(1)
#define XCR0_AVX BIT(2)
#define XCR0_MPX (BIT(3) | BIT(4))
#define XCR0_AVX512 (BIT(5) | BIT(6) | BIT(7))
#define XCR0_AMX (BIT(17) | BIT(18))

/* Components in mask must be all on or all off. */
static bool all_or_none(u64 val, u64 mask)
{
	return (val & mask) == 0 || (val & mask) == mask;
}

static bool xcr0_valid(u64 val)
{
	u32 r[4];
	cpuid_input(0xd, 0, r);
	u64 supported = (u64)r[3] << 32 | r[0];
	if (!(val & XCR0_X87) || (val & ~supported))
		return false;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE))
		return false;
	if ((val & XCR0_AVX512) && !(val & XCR0_AVX))
		return false;
	return all_or_none(val, XCR0_MPX) && all_or_none(val, XCR0_AVX512) &&
	       all_or_none(val, XCR0_AMX);
}

unsigned handle_xsetbv(struct hv_vcpu *v)
{
	u64 val = reg_get_edx_eax(v);
	if ((u32)reg_get(v, RCX) != 0 || !xcr0_valid(val)) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	v->xcr0 = val;
	arch_set_xcr0(val);
	advance_rip(v);
	return UXT_FATE_RESUME;
}

/* INVD would throw away dirty lines the host may own: write them back
 * instead, which is always a correct implementation of INVD too. */
unsigned handle_invd(struct hv_vcpu *v)
{
	arch_wbinvd();
	advance_rip(v);
	return UXT_FATE_RESUME;
}

/* RDTSC and RDTSCP: the guest sees the host TSC plus its offset, as
 * without TSC exiting (SDM 25.3); RDTSCP also returns IA32_TSC_AUX in
 * ECX. */
unsigned handle_rdtsc(struct hv_vcpu *v)
{
	u64 tsc = tsc_input() + vmr(VMCS_TSC_OFFSET);
	reg_set(v, RAX, (u32)tsc);
	reg_set(v, RDX, tsc >> 32);
	if ((vmr(VMCS_EXIT_REASON) & 0xffff) == EXIT_RDTSCP)
		reg_set(v, RCX, (u32)v->msr[MSR_SLOT_IA32_TSC_AUX]);
	advance_rip(v);
	return UXT_FATE_RESUME;
}

/* The time slice is over: back to the host's scheduler. */
unsigned handle_preemption_timer(struct hv_vcpu *v)
{
	(void)v;
	return UXT_FATE_YIELD;
}

/* VMX is hidden from guests (CPUID.1:ECX.VMX = 0): its instructions are
 * undefined for them. */
unsigned handle_vmx_insn(struct hv_vcpu *v)
{
	inject_ud(v);
	return UXT_FATE_RESUME;
}
