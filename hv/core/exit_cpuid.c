/* CPUID: the host CPU's answers (recorded through cpuid_input()) filtered
 * by the guest policy:
 *   leaf 1      VMX and SMX hidden; "hypervisor present" set; the APIC id
 *               is the vCPU id; OSXSAVE mirrors the guest's CR4.OSXSAVE;
 *   leaf 0xB/0x1F  the x2APIC id (EDX) is the vCPU id too;
 *   0x40000000  max hypervisor leaf 0x40000001 and HV_SIGNATURE;
 *   0x40000001  EAX = HV_VERSION;
 *   other leaves in 0x40000000-0x4fffffff: zeros.
 * A leaf above the CPU's basic maximum (CPUID.0:EAX), or above its extended
 * maximum (CPUID.80000000H:EAX) in the extended range, returns zeros.
 * Intel CPUs instead return the data of the highest basic leaf (SDM Vol. 2,
 * "CPUID"); no guest should rely on that, and zeros keep the policy from
 * depending on which leaf that happens to be. Everything else passes
 * through unchanged. */
#include "handlers.h"

/* CPUID.1 (SDM Vol. 2, "CPUID", tables 3-10 and 3-11). */
#define CPUID1_EBX_APIC_ID_SHIFT 24
#define CPUID1_ECX_VMX BIT(5)
#define CPUID1_ECX_SMX BIT(6)
#define CPUID1_ECX_OSXSAVE BIT(27)
#define CPUID1_ECX_HYPERVISOR BIT(31)
#define CPUID_EXT_BASE 0x80000000u
#define HV_CPUID_RANGE_MASK 0xf0000000u

enum { EAX, EBX, ECX, EDX };

static void hv_leaf(u32 leaf, u32 out[4])
{
	out[EAX] = out[EBX] = out[ECX] = out[EDX] = 0;
	if (leaf == HV_CPUID_BASE) {
		const u8 *sig = (const u8 *)HV_SIGNATURE;
		out[EAX] = HV_CPUID_BASE + 1;
		out[EBX] = uxt_get32(sig);
		out[ECX] = uxt_get32(sig + 4);
		out[EDX] = uxt_get32(sig + 8);
	} else if (leaf == HV_CPUID_BASE + 1) {
		out[EAX] = HV_VERSION;
	}
}

/* Is leaf above the maximum of its range (basic or extended)? */
static bool leaf_beyond_max(u32 leaf)
{
	u32 r[4];
	return leaf > cpuid_input(leaf & CPUID_EXT_BASE, 0, r);
}

static void leaf1_policy(const struct hv_vcpu *v, u32 out[4])
{
	out[EBX] = (out[EBX] & ((1u << CPUID1_EBX_APIC_ID_SHIFT) - 1)) |
		   (u32)v->id << CPUID1_EBX_APIC_ID_SHIFT;
	out[ECX] &= ~(u32)(CPUID1_ECX_VMX | CPUID1_ECX_SMX | CPUID1_ECX_OSXSAVE);
	out[ECX] |= (u32)CPUID1_ECX_HYPERVISOR;
	if (guest_cr4() & CR4_OSXSAVE)
		out[ECX] |= (u32)CPUID1_ECX_OSXSAVE;
}

void cpuid_policy(struct hv_vcpu *v, u32 leaf, u32 sub, u32 out[4])
{
	if ((leaf & HV_CPUID_RANGE_MASK) == HV_CPUID_BASE) {
		hv_leaf(leaf, out);
		return;
	}
	if (leaf_beyond_max(leaf)) {
		out[EAX] = out[EBX] = out[ECX] = out[EDX] = 0;
		return;
	}
	cpuid_input(leaf, sub, out);
	switch (leaf) {
	case 1:
		leaf1_policy(v, out);
		break;
	case 0xb:
	case 0x1f:
		out[EDX] = v->id;
		break;
	}
}

unsigned handle_cpuid(struct hv_vcpu *v)
{
	u32 out[4];
	u32 leaf = (u32)reg_get(v, RAX);
	u32 sub = (u32)reg_get(v, RCX);
	cpuid_policy(v, leaf, sub, out);
	/* 32-bit results: the upper halves of the registers are cleared. */
	reg_set(v, RAX, out[EAX]);
	reg_set(v, RBX, out[EBX]);
	reg_set(v, RCX, out[ECX]);
	reg_set(v, RDX, out[EDX]);
	advance_rip(v);
	return UXT_FATE_RESUME;
}
