/* Can this CPU run the hypervisor? CPUID, IA32_FEATURE_CONTROL and the VMX
 * capability MSRs (SDM Appendix A). Every refusal says why, in one line. */
#include "core.h"
#include "vmx.h"
#include "vmx_insn.h"
#include "hv_image.h"

struct vmx_caps vmx_caps;

#define CPUID1_ECX_VMX BIT(5)
#define BASIC_VMCS_SIZE(b) ((u32)((b) >> 32) & 0x1fff)
#define BASIC_MEMTYPE(b) ((u32)((b) >> 50) & 0xf)
#define BASIC_TRUE_CTLS BIT(55)
#define BASIC_PA32 BIT(48)
#define PROC_SECONDARY BIT(31)
#define PROC2_EPT BIT(1)
#define PROC2_VPID BIT(5)
#define PROC2_UG BIT(7)
#define PIN_PREEMPT BIT(6)
#define EXIT_HOST64 BIT(9)
#define EXIT_LOAD_EFER BIT(21)
#define ENTRY_LOAD_EFER BIT(15)
#define EPT_CAP_WALK4 BIT(6)
#define EPT_CAP_WB BIT(14)
#define EPT_CAP_2M BIT(16)
#define EPT_CAP_INVEPT BIT(20)
#define EPT_CAP_INVEPT_SINGLE BIT(25)
#define EPT_CAP_INVEPT_ALL BIT(26)
#define VPID_CAP_INVVPID BIT(32)
#define VPID_CAP_SINGLE BIT(41)

#define REFUSE(...)                                                            \
	do {                                                                   \
		hv_snprintf(why, why_len, __VA_ARGS__);                        \
		return -HV_ENOSYS;                                             \
	} while (0)

static void split(u64 msr, u32 *allowed0, u32 *allowed1)
{
	*allowed0 = (u32)msr;
	*allowed1 = (u32)(msr >> 32);
}

int vmx_caps_probe(u32 test_flags, char *why, u32 why_len)
{
	u32 r[4];
	struct vmx_caps *c = &vmx_caps;
	cpuid_raw(0, 0, r);
	if (r[1] != 0x756e6547 || r[3] != 0x49656e69 || r[2] != 0x6c65746e) {
		char v[13];
		hv_memcpy(v, &r[1], 4);
		hv_memcpy(v + 4, &r[3], 4);
		hv_memcpy(v + 8, &r[2], 4);
		v[12] = 0;
		REFUSE("no VMX: not an Intel CPU (vendor %s)", v);
	}
	cpuid_raw(1, 0, r);
	if (!(r[2] & CPUID1_ECX_VMX))
		REFUSE("no VMX: CPUID.1:ECX.VMX[bit 5] = 0");

	u64 fc = rdmsr(MSR_FEATURE_CONTROL);
	if (test_flags & HV_TEST_FC_LOCKED_OFF)
		fc = FC_LOCK;
	if ((fc & FC_LOCK) && !(fc & FC_VMX_OUTSIDE_SMX)) {
		hv_snprintf(why, why_len,
			    "VMX disabled by firmware: IA32_FEATURE_CONTROL = 0x%llx (locked, VMX outside SMX off)",
			    (unsigned long long)fc);
		return -HV_EPERM;
	}
	if (!(fc & FC_LOCK))
		wrmsr(MSR_FEATURE_CONTROL, fc | FC_LOCK | FC_VMX_OUTSIDE_SMX);

	u64 basic = rdmsr(MSR_VMX_BASIC);
	c->revision = (u32)basic & 0x7fffffff;
	if (BASIC_VMCS_SIZE(basic) > PAGE_SIZE || BASIC_MEMTYPE(basic) != 6 ||
	    (basic & BASIC_PA32))
		REFUSE("unsupported IA32_VMX_BASIC 0x%llx", (unsigned long long)basic);
	bool true_ctls = basic & BASIC_TRUE_CTLS;
	split(rdmsr(true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED), &c->pin0, &c->pin1);
	split(rdmsr(true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED), &c->proc0, &c->proc1);
	split(rdmsr(true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT), &c->exit0, &c->exit1);
	split(rdmsr(true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY), &c->entry0, &c->entry1);
	c->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);

	if (!(c->proc1 & PROC_SECONDARY))
		REFUSE("no EPT: the CPU has no secondary processor-based controls");
	c->proc2_1 = (u32)(rdmsr(MSR_VMX_PROCBASED2) >> 32);
	if (test_flags & HV_TEST_NO_EPT)
		c->proc2_1 &= ~(u32)(PROC2_EPT | PROC2_UG);
	if (test_flags & HV_TEST_NO_UG)
		c->proc2_1 &= ~(u32)PROC2_UG;
	if (!(c->proc2_1 & PROC2_EPT))
		REFUSE("no EPT: IA32_VMX_PROCBASED_CTLS2 does not allow \"enable EPT\"");
	if (!(c->proc2_1 & PROC2_UG))
		REFUSE("no unrestricted guest: IA32_VMX_PROCBASED_CTLS2 does not allow it");
	c->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
	u64 need = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
	if ((c->ept_vpid & need) != need ||
	    !(c->ept_vpid & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL)))
		REFUSE("EPT lacks 4-level walks, WB, 2 MiB pages or INVEPT: IA32_VMX_EPT_VPID_CAP = 0x%llx",
		       (unsigned long long)c->ept_vpid);
	c->invept_single = c->ept_vpid & EPT_CAP_INVEPT_SINGLE;
	c->vpid = (c->proc2_1 & PROC2_VPID) && (c->ept_vpid & VPID_CAP_INVVPID) &&
		  (c->ept_vpid & VPID_CAP_SINGLE);
	if (!(c->pin1 & PIN_PREEMPT))
		REFUSE("no VMX-preemption timer");
	if (!(c->exit1 & EXIT_HOST64) || !(c->exit1 & EXIT_LOAD_EFER) ||
	    !(c->entry1 & ENTRY_LOAD_EFER))
		REFUSE("VM exit/entry controls lack 64-bit host or EFER loading");
	return 0;
}

u64 vmx_adjust_control(u32 enc, u64 val)
{
	const struct vmx_caps *c = &vmx_caps;
	u32 v = (u32)val;
	switch (enc) {
	case VMCS_PIN_BASED_CONTROLS:
		return (v | c->pin0) & c->pin1;
	case VMCS_PROC_BASED_CONTROLS:
		return (v | c->proc0) & c->proc1;
	case VMCS_EXIT_CONTROLS:
		return (v | c->exit0) & c->exit1;
	case VMCS_ENTRY_CONTROLS:
		return (v | c->entry0) & c->entry1;
	case VMCS_SECONDARY_CONTROLS:
		return v & c->proc2_1;
	}
	return val;
}
