/* The arch interface (hv/include/hv/arch.h) on real VMX hardware: VMX
 * operation per CPU, VMCS regions, VMREAD/VMWRITE with controls adjusted
 * to what the CPU allows, INVEPT/INVVPID, and the host state a VM exit
 * returns to. The hypervisor runs in the address space it was loaded into
 * (identity-mapped physical memory). */
#include "core.h"
#include "vmx.h"
#include "vmx_insn.h"

/* Per CPU: the VMXON region and the current-VMCS pointer. A CPU whose
 * host runs de-privileged also has its host container's VMCS, which is
 * never VMCLEARed (it stays launched): "clearing" it only forgets it. */
static u8 vmxon_region[HV_MAX_CPUS][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static u64 current_vmcs[HV_MAX_CPUS] = { [0 ... HV_MAX_CPUS - 1] = INVALID_MFN };
u64 vmx_pinned_vmcs[HV_MAX_CPUS] = { [0 ... HV_MAX_CPUS - 1] = INVALID_MFN };
static bool vmx_on[HV_MAX_CPUS];

static u64 va_to_pa(const void *va)
{
	return (u64)(uintptr_t)va; /* identity-mapped */
}

/* This CPU's index: its initial APIC ID (CPUID.1:EBX[31:24]). */
u32 vmx_this_cpu(void)
{
	u32 r[4];
	cpuid_raw(1, 0, r);
	return r[1] >> 24;
}

int vmx_cpu_on(char *why, u32 why_len)
{
	u32 cpu = vmx_this_cpu();
	u64 cr0 = read_cr0(), cr4 = read_cr4();
	if (cpu >= HV_MAX_CPUS) {
		hv_snprintf(why, why_len, "APIC ID %u: more CPUs than the hypervisor supports", cpu);
		return -HV_ENOSPC;
	}
	if ((cr0 & vmx_caps.cr0_fixed0) != vmx_caps.cr0_fixed0 ||
	    (cr0 & ~vmx_caps.cr0_fixed1)) {
		hv_snprintf(why, why_len, "CR0 0x%llx violates the VMX fixed bits",
			    (unsigned long long)cr0);
		return -HV_EINVAL;
	}
	if (cr4 & CR4_VMXE_BIT) {
		hv_snprintf(why, why_len, "CR4.VMXE already set: another hypervisor owns VMX");
		return -HV_EBUSY;
	}
	/* IA32_FEATURE_CONTROL is per CPU: an AP's may still be unlocked. */
	u64 fc = rdmsr(MSR_FEATURE_CONTROL);
	if ((fc & FC_LOCK) && !(fc & FC_VMX_OUTSIDE_SMX)) {
		hv_snprintf(why, why_len, "VMX disabled by firmware on CPU %u", cpu);
		return -HV_EPERM;
	}
	if (!(fc & FC_LOCK))
		wrmsr(MSR_FEATURE_CONTROL, fc | FC_LOCK | FC_VMX_OUTSIDE_SMX);
	write_cr4(cr4 | CR4_VMXE_BIT);
	*(u32 *)vmxon_region[cpu] = vmx_caps.revision;
	int rc = vmxon(va_to_pa(vmxon_region[cpu]));
	if (rc) {
		write_cr4(cr4);
		hv_snprintf(why, why_len, "VMXON failed (%s)",
			    rc == VMX_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid");
		return -HV_EPERM;
	}
	vmx_on[cpu] = true;
	current_vmcs[cpu] = INVALID_MFN;
	return 0;
}

bool vmx_cpu_is_on(void)
{
	u32 cpu = vmx_this_cpu();
	return cpu < HV_MAX_CPUS && vmx_on[cpu];
}

void vmx_cpu_off(void)
{
	u32 cpu = vmx_this_cpu();
	if (cpu >= HV_MAX_CPUS || !vmx_on[cpu])
		return;
	vmx_vmcs_clear_current();
	vmxoff();
	write_cr4(read_cr4() & ~CR4_VMXE_BIT);
	vmx_on[cpu] = false;
}

void vmx_vmcs_clear_current(void)
{
	u32 cpu = vmx_this_cpu();
	if (current_vmcs[cpu] != INVALID_MFN && current_vmcs[cpu] != vmx_pinned_vmcs[cpu])
		vmclear(current_vmcs[cpu]);
	current_vmcs[cpu] = INVALID_MFN;
}

/* Make pa (a launched VMCS of this CPU) current again. */
int vmx_vmcs_load_pa(u64 pa)
{
	u32 cpu = vmx_this_cpu();
	if (current_vmcs[cpu] == pa)
		return 0;
	if (vmptrld(pa))
		return -HV_EINVAL;
	current_vmcs[cpu] = pa;
	return 0;
}

u32 vmx_insn_error(void)
{
	u64 e = 0;
	vmread_safe(VMCS_VM_INSTRUCTION_ERROR, &e);
	return (u32)e;
}

static u64 seg_base(u64 gdt, u16 sel)
{
	const u8 *d = (const u8 *)(uintptr_t)(gdt + (sel & ~7u));
	u64 base = d[2] | (u64)d[3] << 8 | (u64)d[4] << 16 | (u64)d[7] << 24;
	if (!(d[5] & 0x10)) /* system descriptor: 16 bytes in long mode */
		base |= (u64)(d[8] | d[9] << 8 | d[10] << 16 | (u32)d[11] << 24) << 32;
	return base;
}

/* What a VM exit loads: the host context the hypervisor was called in. */
void vmx_host_state(void)
{
	struct desc_ptr gdt, idt;
	sgdt(&gdt);
	sidt(&idt);
	u16 tr = str();
	vmwrite_safe(VMCS_HOST_CR0, read_cr0());
	vmwrite_safe(VMCS_HOST_CR3, read_cr3());
	vmwrite_safe(VMCS_HOST_CR4, read_cr4());
	vmwrite_safe(VMCS_HOST_CS_SEL, READ_SEG(cs) & ~7u);
	vmwrite_safe(VMCS_HOST_SS_SEL, READ_SEG(ss) & ~7u);
	vmwrite_safe(VMCS_HOST_DS_SEL, READ_SEG(ds) & ~7u);
	vmwrite_safe(VMCS_HOST_ES_SEL, READ_SEG(es) & ~7u);
	vmwrite_safe(VMCS_HOST_FS_SEL, READ_SEG(fs) & ~7u);
	vmwrite_safe(VMCS_HOST_GS_SEL, READ_SEG(gs) & ~7u);
	vmwrite_safe(VMCS_HOST_TR_SEL, tr & ~7u);
	vmwrite_safe(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmwrite_safe(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmwrite_safe(VMCS_HOST_TR_BASE, seg_base(gdt.base, tr));
	vmwrite_safe(VMCS_HOST_GDTR_BASE, gdt.base);
	vmwrite_safe(VMCS_HOST_IDTR_BASE, idt.base);
	vmwrite_safe(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
	vmwrite_safe(VMCS_HOST_SYSENTER_CS, 0);
	vmwrite_safe(VMCS_HOST_SYSENTER_ESP, 0);
	vmwrite_safe(VMCS_HOST_SYSENTER_EIP, 0);
}

/* ---- the arch interface ---- */

/* Make pa inactive on this CPU: the CPU writes back what it cached of it
 * and forgets it, so that its memory may be rewritten or reused. */
static int vmcs_deactivate(u64 pa)
{
	u32 cpu = vmx_this_cpu();
	if (current_vmcs[cpu] == pa)
		current_vmcs[cpu] = INVALID_MFN;
	return vmclear(pa) ? -HV_EINVAL : 0;
}

int arch_vmcs_init(struct hv_vcpu *v, void *va, u64 vmcs_mfn)
{
	(void)v;
	u64 pa = vmcs_mfn << PAGE_SHIFT;
	/* A reset fork's vCPU starts over in the VMCS it had, which may
	 * still be active: a later VMCLEAR would write the CPU's copy back
	 * over the fresh region. */
	if (vmcs_deactivate(pa))
		return -HV_EINVAL;
	hv_memset(va, 0, PAGE_SIZE);
	*(u32 *)va = vmx_caps.revision;
	if (vmclear(pa) || vmptrld(pa))
		return -HV_EINVAL;
	current_vmcs[vmx_this_cpu()] = pa;
	/* Fields the core leaves to the backend: no MSR lists, no CR3 target,
	 * no exception exits, a clean activity state. */
	vmwrite_safe(VMCSX_EXIT_MSR_STORE_COUNT, 0);
	vmwrite_safe(VMCSX_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite_safe(VMCSX_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite_safe(VMCSX_PAGE_FAULT_ERRCODE_MASK, 0);
	vmwrite_safe(VMCSX_PAGE_FAULT_ERRCODE_MATCH, 0);
	vmwrite_safe(VMCSX_GUEST_DEBUGCTL, 0);
	vmwrite_safe(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite_safe(VMCS_CR3_TARGET_COUNT, 0);
	vmwrite_safe(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite_safe(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite_safe(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmwrite_safe(VMCS_GUEST_PENDING_DBG, 0);
	vmwrite_safe(VMCS_TSC_OFFSET, 0);
	vmx_host_state();
	return 0;
}

u32 arch_vmcs_state_bytes(void)
{
	return PAGE_SIZE;
}

void arch_vmcs_fini(struct hv_vcpu *v)
{
	vmcs_deactivate(v->vmcs_mfn << PAGE_SHIFT);
}

void arch_vmcs_load(struct hv_vcpu *v)
{
	if (vmx_vmcs_load_pa(v->vmcs_mfn << PAGE_SHIFT))
		hv_panic("VMPTRLD of d%u vcpu %u's VMCS failed", v->dom->id, v->id);
}

void arch_vmcs_copy_state(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	/* The VMCS layout is the CPU's own: field by field, through a buffer
	 * (one VMCS is current at a time). */
	u64 val[VMCS_NR_FIELDS];
	arch_vmcs_load(src);
	for (unsigned i = 0; i < VMCS_NR_FIELDS; i++)
		val[i] = arch_vmread(vmcs_index_enc[i]);
	arch_vmcs_load(dst);
	for (unsigned i = 0; i < VMCS_NR_FIELDS; i++)
		if (vmcs_field_is_vcpu_state(vmcs_index_enc[i]))
			arch_vmwrite(vmcs_index_enc[i], val[i]);
}

u64 arch_vmread(u32 enc)
{
	u64 val;
	if (vmread_safe(enc, &val))
		return 0; /* a field this CPU lacks reads as 0, like the sim */
	return val;
}

void arch_vmwrite(u32 enc, u64 val)
{
	vmwrite_safe(enc, vmx_adjust_control(enc, val));
}

void arch_invept(u64 eptp)
{
	if (vmx_caps.invept_single)
		invept(1, eptp);
	else
		invept(2, 0);
}

void arch_invvpid(u16 vpid)
{
	if (vmx_caps.vpid && vpid)
		invvpid(1, vpid);
}

void arch_cpuid(u32 leaf, u32 subleaf, u32 out[4])
{
	cpuid_raw(leaf, subleaf, out);
}

u64 arch_rdtsc(void)
{
	return rdtsc_raw();
}

void arch_wbinvd(void)
{
	wbinvd();
}

/* XCR0 is switched on VM entry/exit by the run loop (vmx_run_vcpu). */
void arch_set_xcr0(u64 xcr0)
{
	(void)xcr0;
}
