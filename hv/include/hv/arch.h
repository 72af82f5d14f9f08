/* The arch interface: what the core needs from the virtualization hardware.
 * Implemented by the real VMX backend (hv/arch/vmx) and by the simulated
 * one (hv/arch/sim); the build links exactly one. Like the hardware, VMCS
 * accesses go to the *current* VMCS, made current by arch_vmcs_load(). */
#ifndef HV_ARCH_H
#define HV_ARCH_H

#include "hv/types.h"

struct hv_vcpu;

/* Initialise the VMCS region in frame vmcs (mapped at va) for a new vCPU. */
int arch_vmcs_init(struct hv_vcpu *v, void *va, u64 vmcs_mfn);
/* How many bytes at the start of a VMCS frame hold the vCPU's state, all
 * of it that tools comparing domains byte for byte need to compare
 * (hv_domain_image()): the whole frame for the CPU, whose layout is its
 * own; only its array of fields for the simulated one. */
u32 arch_vmcs_state_bytes(void);
void arch_vmcs_load(struct hv_vcpu *v);
/* The vCPU's VMCS frame is about to be freed: nothing of it may stay
 * active (cached by the CPU, or current). */
void arch_vmcs_fini(struct hv_vcpu *v);
/* Copy every vCPU-state field (vmcs_field_is_vcpu_state()) of src's VMCS
 * into dst's (a fork, a reset). Leaves dst's VMCS current. */
void arch_vmcs_copy_state(struct hv_vcpu *dst, struct hv_vcpu *src);
u64 arch_vmread(u32 enc);
void arch_vmwrite(u32 enc, u64 val);
void arch_invept(u64 eptp);
void arch_invvpid(u16 vpid);
/* The physical CPU's own CPUID / time-stamp counter / cache flush. */
void arch_cpuid(u32 leaf, u32 subleaf, u32 out[4]);
u64 arch_rdtsc(void);
void arch_wbinvd(void);
/* Load XCR0 for the guest (XSETBV already validated by the core). */
void arch_set_xcr0(u64 xcr0);

/* Provided by the core to the backends: the vCPU's mapped VMCS frame, and
 * the core's memset and memcpy (no libc in the real build). */
void *hv_vcpu_vmcs_va(struct hv_vcpu *v);
void *hv_memset(void *d, int c, size_t n);
void *hv_memcpy(void *d, const void *s, size_t n);

#endif
