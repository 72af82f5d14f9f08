/* The VMX backend's internal interface. */
#ifndef VMX_H
#define VMX_H

#include "hv/types.h"

enum vmx_field {
#define X(name, enc) VMCSX_##name = enc,
#include "vmx_fields.def"
#undef X
};

#define HV_MAX_CPUS 8

/* Architectural MSRs (SDM Vol. 4) the backend reads. */
#define MSR_APIC_BASE 0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT 0x48f
#define MSR_VMX_TRUE_ENTRY 0x490
#define MSR_EFER 0xc0000080
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101

#define FC_LOCK BIT(0)
#define FC_VMX_OUTSIDE_SMX BIT(2)
#define CR4_VMXE_BIT BIT(13)

/* What the CPU allows, from the capability MSRs (SDM Appendix A). */
struct vmx_caps {
	u32 revision;
	u32 pin0, pin1, proc0, proc1, exit0, exit1, entry0, entry1, proc2_1;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	u64 ept_vpid;
	bool vpid, invept_single, invvpid_single;
};
extern struct vmx_caps vmx_caps;

/* caps.c: 0 if this CPU can run the hypervisor, else -HV_EPERM/-HV_ENOSYS
 * and a reason in why. */
int vmx_caps_probe(u32 test_flags, char *why, u32 why_len);
/* vmx.c: VMX operation on this CPU, and the run loop's entry. */
int vmx_cpu_on(char *why, u32 why_len);
void vmx_cpu_off(void);
void vmx_host_state(void);
void vmx_vmcs_clear_current(void);
u32 vmx_this_cpu(void);
bool vmx_cpu_is_on(void);
int vmx_vmcs_load_pa(u64 pa);
extern u64 vmx_pinned_vmcs[HV_MAX_CPUS];
/* Adjust a control field to what the CPU allows (allowed-0 / allowed-1). */
u64 vmx_adjust_control(u32 enc, u64 val);
int vmx_enter(u64 *gprs, int resume);
u32 vmx_insn_error(void);

#endif
