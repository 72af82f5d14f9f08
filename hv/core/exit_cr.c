/* Control-register accesses: MOV to/from CR0, CR3, CR4, CR8, CLTS, LMSW.
 *
 * Ownership (SDM 25.3, 25.1.3): a bit set in a CR guest/host mask is owned
 * by the hypervisor. The guest reads it from the read shadow, and a MOV
 * that would change it exits. Everything else the guest reads and writes
 * directly, with the CPU's own checks.
 *   CR0: PE, PG  paging-mode changes must update IA32_EFER.LMA and the
 *                "IA-32e mode guest" entry control, which the CPU does not
 *                do in VMX non-root operation;
 *        NE      VMX requires CR0.NE = 1 (IA32_VMX_CR0_FIXED0); the guest
 *                may clear it in its view, but legacy FPU error reporting
 *                (IRQ 13) is not emulated;
 *        CD, NW  to validate their combination (NW without CD is #GP).
 *   CR4: VMXE    VMX requires it set; VMX is hidden from the guest, which
 *                always reads 0 and gets #GP setting it;
 *        SMXE    SMX is hidden too.
 * With these masks a MOV to CR4 exits only when the guest tries to set
 * VMXE or SMXE, so its other consistency checks stay with the CPU.
 *
 * Assumes unrestricted guest: PE and PG may be 0 in the real CR0. PAE
 * paging outside long mode (PDPTEs loaded on MOV to CR3) is not emulated.
 * Guest physical addresses are limited to 52 bits; a guest setting CR3 bits
 * its CPU lacks fails VM entry (CRASH_ENTRY_FAILURE), not #GP. */
#include "handlers.h"
#include "hv/arch.h"

#define CR0_HOST_OWNED (CR0_PE | CR0_NE | CR0_NW | CR0_CD | CR0_PG)
#define CR0_ALWAYS_ON (CR0_NE | CR0_ET) /* ET is hardwired to 1 */
/* Defined CR0 bits; writes to the other bits of 31:0 are ignored, as the
 * CPU does; bits 63:32 must be 0 (#GP). */
#define CR0_DEFINED (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | \
		     CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)
#define CR4_HOST_OWNED (CR4_VMXE | CR4_SMXE)
#define CR4_ALWAYS_ON CR4_VMXE
/* Architecturally defined CR4 bits: 12:0 and 24:16. The CPU's fixed-1
 * MSR is the real limit; this keeps obvious junk out of the VMCS. */
#define CR4_DEFINED (0x1fffull | 0x1ff0000ull)
#define CR3_RESERVED (~0ull << 52)
#define CR3_PCID_NOFLUSH BIT(63) /* with CR4.PCIDE (SDM 4.10.4.1) */
#define CR8_RESERVED (~0xfull)

/* Exit qualification for control-register accesses (SDM 27.2.1,
 * table 27-3). */
#define CRQ_CR(q) ((unsigned)(q) & 0xf)
#define CRQ_TYPE(q) ((unsigned)((q) >> 4) & 3)
#define CRQ_GPR(q) ((unsigned)((q) >> 8) & 0xf)
#define CRQ_LMSW_SRC(q) ((u16)((q) >> 16))
enum { CR_MOV_TO, CR_MOV_FROM, CR_CLTS, CR_LMSW };

/* CS access rights (SDM 24.4.1, table 24-2). */
#define AR_L BIT(13)
#define AR_DB BIT(14)

u64 guest_cr0(void)
{
	return (vmr(VMCS_GUEST_CR0) & ~CR0_HOST_OWNED) |
	       (vmr(VMCS_CR0_READ_SHADOW) & CR0_HOST_OWNED);
}

u64 guest_cr4(void)
{
	return (vmr(VMCS_GUEST_CR4) & ~CR4_HOST_OWNED) |
	       (vmr(VMCS_CR4_READ_SHADOW) & CR4_HOST_OWNED);
}

/* 64-bit mode is IA-32e mode with CS.L set; otherwise CS.D picks 32- or
 * 16-bit code (SDM 5.2.1). */
unsigned guest_code_size(void)
{
	u64 ar = vmr(VMCS_GUEST_CS_AR);
	if ((vmr(VMCS_GUEST_IA32_EFER) & EFER_LMA) && (ar & AR_L))
		return 8;
	return (ar & AR_DB) ? 4 : 2;
}

/* The guest's value of a CR, as a MOV from it returns it. */
static bool cr_read(struct hv_vcpu *v, unsigned cr, u64 *val)
{
	switch (cr) {
	case 0:
		*val = guest_cr0();
		return true;
	case 3:
		*val = vmr(VMCS_GUEST_CR3);
		return true;
	case 4:
		*val = guest_cr4();
		return true;
	case 8:
		*val = v->cr8;
		return true;
	}
	return false;
}

/* The rules of MOV to CR0 that hold whatever the old value (SDM Vol. 2,
 * "MOV - Move to/from Control Registers", protected-mode exceptions). */
static bool cr0_valid(u64 val)
{
	if (val >> 32)
		return false;
	if ((val & CR0_PG) && !(val & CR0_PE))
		return false;
	return !((val & CR0_NW) && !(val & CR0_CD));
}

static bool cr4_valid(u64 val)
{
	return !(val & (~CR4_DEFINED | CR4_HOST_OWNED));
}

/* Install a CR0/CR4 value the checks accepted. */
static void cr0_load(u64 val)
{
	vmw(VMCS_CR0_READ_SHADOW, val);
	vmw(VMCS_GUEST_CR0, val | CR0_ALWAYS_ON);
}

static void cr4_load(u64 val)
{
	vmw(VMCS_CR4_READ_SHADOW, val);
	vmw(VMCS_GUEST_CR4, val | CR4_ALWAYS_ON);
}

/* Paging changes the CPU would follow with TLB invalidation (SDM 4.10.4.1);
 * the hypervisor emulated them, so it flushes the guest's VPID. */
static void flush_guest_tlb(void)
{
	arch_invvpid((u16)vmr(VMCS_VPID));
}

/* Entering or leaving IA-32e mode: LMA = LME && PG (SDM 9.8.5), and VM
 * entry must be told through the "IA-32e mode guest" control. */
static void set_lma(bool lma)
{
	u64 efer = vmr(VMCS_GUEST_IA32_EFER), ctl = vmr(VMCS_ENTRY_CONTROLS);
	vmw(VMCS_GUEST_IA32_EFER, lma ? efer | EFER_LMA : efer & ~EFER_LMA);
	vmw(VMCS_ENTRY_CONTROLS, lma ? ctl | ENTRY_CTL_IA32E
				     : ctl & ~ENTRY_CTL_IA32E);
}

/* Checks that depend on the current state: enabling paging with LME needs
 * PAE; paging cannot be turned off in 64-bit code or with PCIDE. */
static bool cr0_transition_valid(u64 old, u64 val)
{
	bool pg_on = !(old & CR0_PG) && (val & CR0_PG);
	bool pg_off = (old & CR0_PG) && !(val & CR0_PG);
	if (pg_on && (vmr(VMCS_GUEST_IA32_EFER) & EFER_LME) &&
	    !(guest_cr4() & CR4_PAE))
		return false;
	if (pg_off && (guest_code_size() == 8 || (guest_cr4() & CR4_PCIDE)))
		return false;
	return true;
}

static unsigned cr0_write(struct hv_vcpu *v, u64 val)
{
	u64 old = guest_cr0();
	if (!cr0_valid(val) || !cr0_transition_valid(old, val)) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	val &= CR0_DEFINED;
	cr0_load(val);
	if ((old ^ val) & CR0_PG) {
		bool lme = vmr(VMCS_GUEST_IA32_EFER) & EFER_LME;
		if (lme)
			set_lma(val & CR0_PG);
		flush_guest_tlb();
	}
	advance_rip(v);
	return UXT_FATE_RESUME;
}

static unsigned cr3_write(struct hv_vcpu *v, u64 val)
{
	bool flush = true;
	if (guest_cr4() & CR4_PCIDE) {
		flush = !(val & CR3_PCID_NOFLUSH);
		val &= ~CR3_PCID_NOFLUSH;
	}
	if (val & CR3_RESERVED) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	vmw(VMCS_GUEST_CR3, val);
	if (flush)
		flush_guest_tlb();
	advance_rip(v);
	return UXT_FATE_RESUME;
}

static unsigned cr4_write(struct hv_vcpu *v, u64 val)
{
	if (!cr4_valid(val)) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	cr4_load(val);
	flush_guest_tlb(); /* PGE, PAE, PSE, PCIDE, SMEP ... may have changed */
	advance_rip(v);
	return UXT_FATE_RESUME;
}

static unsigned cr8_write(struct hv_vcpu *v, u64 val)
{
	if (val & CR8_RESERVED) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	v->cr8 = val;
	advance_rip(v);
	return UXT_FATE_RESUME;
}

/* MOV to CR takes a 64-bit operand in 64-bit mode and a 32-bit one
 * elsewhere, whatever the prefixes. */
static u64 cr_operand_mask(void)
{
	return guest_code_size() == 8 ? ~0ull : 0xffffffffull;
}

static unsigned mov_to_cr(struct hv_vcpu *v, unsigned cr, u64 val)
{
	switch (cr) {
	case 0:
		return cr0_write(v, val);
	case 3:
		return cr3_write(v, val);
	case 4:
		return cr4_write(v, val);
	case 8:
		return cr8_write(v, val);
	}
	return exit_crash(v, CRASH_BAD_CR_ACCESS);
}

static unsigned mov_from_cr(struct hv_vcpu *v, unsigned cr, unsigned gpr)
{
	u64 val;
	if (!cr_read(v, cr, &val))
		return exit_crash(v, CRASH_BAD_CR_ACCESS);
	reg_set(v, gpr, val & cr_operand_mask());
	advance_rip(v);
	return UXT_FATE_RESUME;
}

/* LMSW loads CR0 bits 3:0 (PE, MP, EM, TS) but cannot clear PE (SDM Vol. 2,
 * "LMSW"). */
static u64 lmsw_value(u64 cr0, u16 src)
{
	return (cr0 & ~(u64)(CR0_MP | CR0_EM | CR0_TS)) | (src & 0xf);
}

unsigned handle_cr_access(struct hv_vcpu *v)
{
	u64 q = vmr(VMCS_EXIT_QUALIFICATION);
	unsigned cr = CRQ_CR(q);
	switch (CRQ_TYPE(q)) {
	case CR_MOV_TO:
		return mov_to_cr(v, cr,
				 reg_get(v, CRQ_GPR(q)) & cr_operand_mask());
	case CR_MOV_FROM:
		return mov_from_cr(v, cr, CRQ_GPR(q));
	case CR_CLTS:
		if (cr != 0)
			break;
		return cr0_write(v, guest_cr0() & ~CR0_TS);
	default: /* CR_LMSW */
		if (cr != 0)
			break;
		return cr0_write(v, lmsw_value(guest_cr0(), CRQ_LMSW_SRC(q)));
	}
	return exit_crash(v, CRASH_BAD_CR_ACCESS);
}

/* The masks, and shadows taken from the guest's initial CR0/CR4 already in
 * the VMCS (VMXE there is ours, not the guest's). */
void cr_init(struct hv_vcpu *v)
{
	(void)v;
	vmw(VMCS_CR0_GUEST_HOST_MASK, CR0_HOST_OWNED);
	vmw(VMCS_CR4_GUEST_HOST_MASK, CR4_HOST_OWNED);
	cr0_load(vmr(VMCS_GUEST_CR0) & CR0_DEFINED);
	cr4_load(vmr(VMCS_GUEST_CR4) & ~CR4_VMXE);
}

/* The host sets the guest's view; the same rules as a guest MOV apply,
 * except that a VMXE the host passes along is dropped, not refused. */
bool cr_initial_valid(u32 enc, u64 val)
{
	return enc == VMCS_GUEST_CR0 ? cr0_valid(val)
	       : enc == VMCS_GUEST_CR4 && cr4_valid(val & ~CR4_VMXE);
}

int cr_set_initial(struct hv_vcpu *v, u32 enc, u64 val)
{
	(void)v;
	if (!cr_initial_valid(enc, val))
		return -HV_EINVAL;
	if (enc == VMCS_GUEST_CR0)
		cr0_load(val & CR0_DEFINED);
	else
		cr4_load(val & ~CR4_VMXE);
	return 0;
}
