/* Exit handlers. Each returns what the vCPU does next (enum uxt_fate):
 * UXT_FATE_RESUME to re-enter the guest, or another fate to return to the
 * host. A handler never fails the hypervisor on guest input: bad guest
 * behaviour becomes an injected exception or domain_crash(). */
#ifndef HV_HANDLERS_H
#define HV_HANDLERS_H

#include "core.h"

typedef unsigned (*exit_handler_fn)(struct hv_vcpu *v);

/* One prototype per distinct handler named in exit_reasons.def (duplicates
 * are harmless redeclarations). */
#define X(name, num, handler) unsigned handle_##handler(struct hv_vcpu *v);
#include "hv/tables/exit_reasons.def"
#undef X

/* Guest CPUID policy (exit_cpuid.c), also used by tests. */
void cpuid_policy(struct hv_vcpu *v, u32 leaf, u32 sub, u32 out[4]);

/* Finish an I/O request the host completed (exit_io.c / exit_ept.c). */
int io_complete(struct hv_vcpu *v, u64 value);

/* Reset state of a new vCPU: CR masks and shadows (exit_cr.c), MSR
 * values from the allow-list (exit_msr.c). */
void cr_init(struct hv_vcpu *v);
void msr_reset(struct hv_vcpu *v);

/* Set CR0/CR4 from the host's initial vCPU state: read shadow = val, the
 * real register = val plus the bits VMX requires (exit_cr.c). -HV_EINVAL
 * for another field or a value a guest MOV would get #GP for. */
int cr_set_initial(struct hv_vcpu *v, u32 enc, u64 val);
bool cr_initial_valid(u32 enc, u64 val); /* cr_set_initial() would take it */

/* Append guest console bytes (exit_io.c): recorded, flushed per line. */
void console_put(struct hv_domain *d, const u8 *buf, u32 len);

/* Architectural bits the handlers share (SDM Vol. 3A 2.5 for CR0/CR4,
 * 2.2.1 for IA32_EFER). */
#define CR0_PE BIT(0)
#define CR0_MP BIT(1)
#define CR0_EM BIT(2)
#define CR0_TS BIT(3)
#define CR0_ET BIT(4)
#define CR0_NE BIT(5)
#define CR0_WP BIT(16)
#define CR0_AM BIT(18)
#define CR0_NW BIT(29)
#define CR0_CD BIT(30)
#define CR0_PG BIT(31)
#define CR4_PSE BIT(4)
#define CR4_PAE BIT(5)
#define CR4_LA57 BIT(12)
#define CR4_VMXE BIT(13)
#define CR4_SMXE BIT(14)
#define CR4_PCIDE BIT(17)
#define CR4_OSXSAVE BIT(18)
#define EFER_SCE BIT(0)
#define EFER_LME BIT(8)
#define EFER_LMA BIT(10)
#define EFER_NXE BIT(11)
#define RFLAGS_DF BIT(10)
#define ENTRY_CTL_IA32E BIT(9) /* "IA-32e mode guest" (SDM 24.8.1) */

/* The guest's view of CR0/CR4: host-owned bits from the read shadow, the
 * rest from the register (SDM 25.3, "guest/host masks"), exit_cr.c. */
u64 guest_cr0(void);
u64 guest_cr4(void);
/* The guest's code size in bytes: 8 in 64-bit mode, else 4 or 2 by CS.D. */
unsigned guest_code_size(void);

/* Send v->io (filled by the caller) to the host: records IOREQ_OUT, marks
 * the vCPU pending, returns UXT_FATE_IOREQ (exit_io.c). */
unsigned io_send(struct hv_vcpu *v);
/* struct pending_io.dest_reg for AH/CH/DH/BH: this flag | register 0-3. */
#define IO_DEST_HIGH8 0x80

/* All-ones in the low `bytes` bytes. */
static inline u64 size_mask(unsigned bytes)
{
	return bytes >= 8 ? ~0ull : BIT(8 * bytes) - 1;
}

/* End the domain for a guest-caused reason; the handler's return value. */
static inline unsigned exit_crash(struct hv_vcpu *v, u32 reason)
{
	domain_crash(v->dom, reason);
	return UXT_FATE_CRASHED;
}

/* The hypervisor signature leaf (CPUID 0x40000000). */
#define HV_CPUID_BASE 0x40000000u
#define HV_SIGNATURE "uXenTestbed!" /* 12 bytes: EBX, ECX, EDX */
#define HV_VERSION 0x00010000u /* 1.0: CPUID 0x40000001 EAX, VERSION hypercall */
#define HV_DEBUG_PORT 0xe9

#endif
