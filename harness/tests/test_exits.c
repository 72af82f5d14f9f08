/* The exit handlers (hv/core/exit_*.c): each handler's normal and error
 * paths, driven through hv_vcpu_exit() with exit information set in the
 * simulated VMCS, as the CPU would leave it. */
#include "testlib.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "sim.h"
#include "../../hv/core/handlers.h"

#define RIP0 0x1000ull  /* where every exit happens */
#define ILEN 3          /* VM-exit instruction length we report */
#define PT_BASE 0x8000ull /* PML4, PDPT, PD: an identity-mapped 2 MiB */
#define BUF 0x4000ull   /* a data page */
#define MMIO_GFN 0x100ull
#define MMIO_GPA (MMIO_GFN << PAGE_SHIFT)
#define RAM_FRAMES 16   /* gfns 0-15 */

/* Event injection encodings (SDM 24.8.3). */
#define GP_INFO 0x80000b0dull
#define UD_INFO 0x80000306ull

/* I/O exit qualification (SDM table 27-5). */
#define IOQ(size, in, port) ((u64)((size) - 1) | ((in) ? 8u : 0u) | (u64)(port) << 16)
#define IOQ_STR 0x10
#define IOQ_REP 0x20
/* Instruction-information address size field, bits 9:7. */
#define IOINFO_A16 (0u << 7)
#define IOINFO_A32 (1u << 7)
#define IOINFO_A64 (2u << 7)
/* CR-access qualification (SDM table 27-3). */
#define CRQ(cr, type, gpr) ((u64)(cr) | (u64)(type) << 4 | (u64)(gpr) << 8)

static s64 D;

static s64 call(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 a[4] = { a0, a1, a2, a3 };
	return hv_host_call(nr, a, NULL, 0);
}

static int load(u64 gpa, const void *bytes, u32 len)
{
	u64 a[4] = { (u64)D, gpa, 0, 0 };
	return (int)hv_host_call(HC_LOAD, a, bytes, len);
}

static int load_u64(u64 gpa, u64 val)
{
	return load(gpa, &val, sizeof(val));
}

/* A running domain with nr vCPUs, RAM at gfns 0-15 identity-mapped by
 * 4-level page tables (one 2 MiB user page, so that a test at CPL 3 meets
 * only the faults it sets up), an MMIO page at MMIO_GFN, in the reset
 * state: 64-bit mode. Returns its last vCPU, its VMCS current. */
static struct hv_vcpu *guest_up(u32 nr)
{
	test_hv_down(); /* a test may start over after a crash */
	if (test_hv_up(4096))
		return NULL;
	D = call(HC_DOMAIN_CREATE, nr, 64, 0, 0);
	if (D <= 0 || call(HC_POPULATE, (u64)D, 0, RAM_FRAMES, 0) ||
	    call(HC_MMIO_MAP, (u64)D, MMIO_GFN, 1, 0) ||
	    load_u64(PT_BASE, (PT_BASE + 0x1000) | 7) ||
	    load_u64(PT_BASE + 0x1000, (PT_BASE + 0x2000) | 7) ||
	    load_u64(PT_BASE + 0x2000, 0x87) ||
	    call(HC_DOMAIN_UNPAUSE, (u64)D, 0, 0, 0))
		return NULL;
	struct hv_vcpu *v = hv_vcpu_get(hv_domain_get((u32)D), nr - 1);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_CR3, PT_BASE);
	return v;
}

static unsigned exit_with(struct hv_vcpu *v, u32 reason, u64 qual)
{
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, reason);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, qual);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, ILEN);
	sim_vmcs_set(VMCS_ENTRY_INTR_INFO, 0); /* cleared by every exit */
	sim_vmcs_set(VMCS_GUEST_RIP, RIP0);
	return hv_vcpu_exit(v);
}

static bool rip_advanced(void)
{
	return sim_vmcs_get(VMCS_GUEST_RIP) == RIP0 + ILEN;
}

/* #GP injected, RIP left on the instruction. */
static bool gp_injected(void)
{
	return sim_vmcs_get(VMCS_ENTRY_INTR_INFO) == GP_INFO &&
	       sim_vmcs_get(VMCS_ENTRY_EXCEPTION_ERRCODE) == 0 &&
	       sim_vmcs_get(VMCS_GUEST_RIP) == RIP0;
}

static bool crashed(const struct hv_vcpu *v, u32 reason)
{
	return v->dom->state == DOM_CRASHED && v->dom->crash_reason == reason;
}

/* A 32-bit protected-mode guest without paging. */
static void mode32(void)
{
	sim_vmcs_set(VMCS_GUEST_CS_AR, 0xc09b);
	sim_vmcs_set(VMCS_GUEST_IA32_EFER, 0);
	sim_vmcs_set(VMCS_GUEST_CR0, 0x31);
	sim_vmcs_set(VMCS_CR0_READ_SHADOW, 0x31);
	sim_vmcs_set(VMCS_ENTRY_CONTROLS, sim_vmcs_get(VMCS_ENTRY_CONTROLS) &
					      ~ENTRY_CTL_IA32E);
}

/* The first recorded item with this tag: its payload and length. */
static const u8 *rec_find(const u8 *buf, long len, u8 tag, u16 *plen)
{
	for (long off = 0; off + UXT_ITEM_HDR_SIZE <= len;) {
		u16 l = uxt_get16(buf + off + 2);
		if (buf[off] == tag) {
			*plen = l;
			return buf + off + UXT_ITEM_HDR_SIZE;
		}
		off += UXT_ITEM_HDR_SIZE + l;
	}
	return NULL;
}

/* ---- CPUID ---- */

TEST(exit_cpuid_leaf1_policy)
{
	struct hv_vcpu *v = guest_up(2);
	CHECK(v);
	u32 model[4];
	sim_cpu_model(1, 0, model);
	v->gpr[RAX] = 0xffffffff00000001ull; /* only EAX selects the leaf */
	v->gpr[RCX] = 0;
	v->gpr[RBX] = ~0ull;
	CHECK_EQ(exit_with(v, EXIT_CPUID, 0), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RAX], model[0]);
	CHECK_EQ(v->gpr[RBX], (model[1] & 0xffffff) | 1u << 24); /* APIC id 1 */
	u32 ecx = (model[2] & ~(u32)(BIT(5) | BIT(6) | BIT(27))) | (u32)BIT(31);
	CHECK_EQ(v->gpr[RCX], ecx);
	CHECK_EQ(v->gpr[RDX], model[3]);
	/* OSXSAVE follows the guest's CR4.OSXSAVE. */
	sim_vmcs_set(VMCS_GUEST_CR4, sim_vmcs_get(VMCS_GUEST_CR4) | CR4_OSXSAVE);
	v->gpr[RAX] = 1;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RCX], ecx | (u32)BIT(27));
}

TEST(exit_cpuid_hypervisor_leaves)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	v->gpr[RAX] = HV_CPUID_BASE;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RAX], HV_CPUID_BASE + 1);
	char sig[13];
	for (int i = 0; i < 4; i++) {
		sig[i] = (char)(v->gpr[RBX] >> (8 * i));
		sig[4 + i] = (char)(v->gpr[RCX] >> (8 * i));
		sig[8 + i] = (char)(v->gpr[RDX] >> (8 * i));
	}
	sig[12] = 0;
	CHECK(strcmp(sig, HV_SIGNATURE) == 0);
	v->gpr[RAX] = HV_CPUID_BASE + 1;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RAX], HV_VERSION);
	v->gpr[RAX] = HV_CPUID_BASE + 2;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RAX] | v->gpr[RBX] | v->gpr[RCX] | v->gpr[RDX], 0);
	CHECK(rip_advanced());
}

TEST(exit_cpuid_ranges_and_passthrough)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u32 model[4];
	/* Above the basic maximum (0xd in the model): zeros. */
	v->gpr[RAX] = 0xe;
	v->gpr[RBX] = 5;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RAX] | v->gpr[RBX] | v->gpr[RCX] | v->gpr[RDX], 0);
	/* Above the extended maximum (0x80000008): zeros. */
	v->gpr[RAX] = 0x80000009;
	exit_with(v, EXIT_CPUID, 0);
	CHECK_EQ(v->gpr[RAX] | v->gpr[RBX] | v->gpr[RCX] | v->gpr[RDX], 0);
	v->gpr[RAX] = 0x80000008;
	exit_with(v, EXIT_CPUID, 0);
	sim_cpu_model(0x80000008, 0, model);
	CHECK_EQ(v->gpr[RAX], model[0]);
	/* Sub-leaves come from ECX (32 bits). */
	v->gpr[RAX] = 7;
	v->gpr[RCX] = 0xabcd00000000ull;
	exit_with(v, EXIT_CPUID, 0);
	sim_cpu_model(7, 0, model);
	CHECK_EQ(v->gpr[RBX], model[1]);
}

TEST(exit_cpuid_fed_values)
{
	struct hv_vcpu *v = guest_up(2);
	CHECK(v);
	const u32 max[4] = { 0x1f, 0, 0, 0 };
	const u32 all[4] = { ~0u, ~0u, ~0u, ~0u };
	CHECK(sim_feed_cpuid(0, 0, max) == 0);
	CHECK(sim_feed_cpuid(1, 0, all) == 0);
	CHECK(sim_feed_cpuid(0x1f, 0, all) == 0);
	u32 out[4];
	cpuid_policy(v, 1, 0, out);
	CHECK_EQ(out[2], ~(u32)(BIT(5) | BIT(6) | BIT(27)));
	CHECK_EQ(out[1], 0x01ffffffu);
	cpuid_policy(v, 0x1f, 0, out);
	CHECK_EQ(out[3], 1); /* x2APIC id */
	CHECK_EQ(out[0], ~0u);
}

/* ---- RDMSR / WRMSR ---- */

static unsigned rdmsr(struct hv_vcpu *v, u32 idx)
{
	v->gpr[RCX] = 0xffffffff00000000ull | idx; /* only ECX counts */
	v->gpr[RAX] = v->gpr[RDX] = ~0ull;
	return exit_with(v, EXIT_RDMSR, 0);
}

static unsigned wrmsr(struct hv_vcpu *v, u32 idx, u64 val)
{
	v->gpr[RCX] = idx;
	v->gpr[RAX] = 0xdead000000000000ull | (u32)val; /* upper halves ignored */
	v->gpr[RDX] = 0xbeef000000000000ull | val >> 32;
	return exit_with(v, EXIT_WRMSR, 0);
}

TEST(exit_msr_allow_list)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK_EQ(rdmsr(v, MSR_IA32_APIC_BASE), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RAX], 0xfee00900);
	CHECK_EQ(v->gpr[RDX], 0);
	/* Unlisted: #GP on both, registers untouched. */
	rdmsr(v, 0x12345);
	CHECK(gp_injected());
	CHECK_EQ(v->gpr[RAX], ~0ull);
	wrmsr(v, 0x12345, 1);
	CHECK(gp_injected());
	/* Read-only. */
	wrmsr(v, MSR_IA32_APIC_BASE, 0xfee00900);
	CHECK(gp_injected());
	/* Per-vCPU RW: reset value, then round trip. */
	rdmsr(v, MSR_IA32_MTRR_DEF_TYPE);
	CHECK_EQ(v->gpr[RAX], 0xc06);
	CHECK_EQ(wrmsr(v, MSR_IA32_STAR, 0x0023001000000000ull), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(v->msr[MSR_SLOT_IA32_STAR], 0x0023001000000000ull);
	rdmsr(v, MSR_IA32_STAR);
	CHECK_EQ(v->gpr[RDX], 0x00230010);
	CHECK_EQ(v->gpr[RAX], 0);
	/* msr_reset puts it back. */
	msr_reset(v);
	CHECK_EQ(v->msr[MSR_SLOT_IA32_STAR], 0);
	CHECK_EQ(v->msr[MSR_SLOT_IA32_MTRR_DEF_TYPE], 0xc06);
}

TEST(exit_msr_canonical)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	wrmsr(v, MSR_IA32_LSTAR, 0x0000800000000000ull);
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_LSTAR, 0xffff800000001000ull);
	CHECK(rip_advanced());
	CHECK_EQ(v->msr[MSR_SLOT_IA32_LSTAR], 0xffff800000001000ull);
	/* VMCS-backed bases are checked too: VM entry would reject them. */
	wrmsr(v, MSR_IA32_FS_BASE, 0x8000000000000000ull);
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_GS_BASE, 0x00007fffffff0000ull);
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_GS_BASE), 0x00007fffffff0000ull);
	rdmsr(v, MSR_IA32_GS_BASE);
	CHECK_EQ(v->gpr[RDX] << 32 | v->gpr[RAX], 0x00007fffffff0000ull);
	wrmsr(v, MSR_IA32_SYSENTER_EIP, 0x0001000000000000ull);
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_SYSENTER_CS, 0x10);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_SYSENTER_CS), 0x10);
}

TEST(exit_msr_pat)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	wrmsr(v, MSR_IA32_PAT, 0x0007040600070402ull); /* type 2 reserved */
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_PAT, 0x0007040600070408ull);
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_PAT, 0x0106040500070407ull);
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_PAT), 0x0106040500070407ull);
}

TEST(exit_msr_efer)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* Long mode with paging: LMA stays although the guest clears it. */
	wrmsr(v, MSR_IA32_EFER, EFER_LME | EFER_NXE | EFER_SCE);
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_EFER),
		 EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE);
	wrmsr(v, MSR_IA32_EFER, EFER_LME | EFER_LMA | BIT(9)); /* reserved */
	CHECK(gp_injected());
	wrmsr(v, MSR_IA32_EFER, EFER_LMA); /* LME off while paging */
	CHECK(gp_injected());
	/* Without paging LME may change, and a set LMA is still ignored. */
	mode32();
	wrmsr(v, MSR_IA32_EFER, EFER_LME | EFER_LMA);
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_EFER), EFER_LME);
}

/* ---- control registers ---- */

TEST(exit_cr_init_masks_and_shadows)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* The reset state: CR0 = PG|NE|ET|PE, CR4 = VMXE|PAE. */
	CHECK_EQ(sim_vmcs_get(VMCS_CR0_GUEST_HOST_MASK),
		 CR0_PE | CR0_NE | CR0_NW | CR0_CD | CR0_PG);
	CHECK_EQ(sim_vmcs_get(VMCS_CR4_GUEST_HOST_MASK), CR4_VMXE | CR4_SMXE);
	CHECK_EQ(sim_vmcs_get(VMCS_CR4_READ_SHADOW), CR4_PAE);
	CHECK_EQ(guest_cr4(), CR4_PAE);
	CHECK_EQ(guest_cr0(), 0x80000031);
	/* The host's initial values go through the same rules. */
	CHECK_EQ(cr_set_initial(v, VMCS_GUEST_CR0, CR0_PG), -HV_EINVAL);
	CHECK_EQ(cr_set_initial(v, VMCS_GUEST_CR4, CR4_SMXE), -HV_EINVAL);
	CHECK_EQ(cr_set_initial(v, VMCS_GUEST_RIP, 0), -HV_EINVAL);
	CHECK_EQ(cr_set_initial(v, VMCS_GUEST_CR0, CR0_PE | CR0_ET), 0);
	CHECK_EQ(sim_vmcs_get(VMCS_CR0_READ_SHADOW), CR0_PE | CR0_ET);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR0), CR0_PE | CR0_ET | CR0_NE);
	CHECK_EQ(cr_set_initial(v, VMCS_GUEST_CR4, CR4_VMXE | CR4_PAE), 0);
	CHECK_EQ(sim_vmcs_get(VMCS_CR4_READ_SHADOW), CR4_PAE);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR4), CR4_PAE | CR4_VMXE);
}

TEST(exit_cr_mov_from)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	exit_with(v, EXIT_CR_ACCESS, CRQ(4, 1, RBX));
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RBX], CR4_PAE); /* VMXE hidden */
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 1, R9));
	CHECK_EQ(v->gpr[R9], 0x80000031);
	sim_vmcs_set(VMCS_GUEST_CR3, 0x123000);
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 1, RSI));
	CHECK_EQ(v->gpr[RSI], 0x123000);
	v->cr8 = 7;
	exit_with(v, EXIT_CR_ACCESS, CRQ(8, 1, R15));
	CHECK_EQ(v->gpr[R15], 7);
	exit_with(v, EXIT_CR_ACCESS, CRQ(2, 1, RAX));
	CHECK(crashed(v, CRASH_BAD_CR_ACCESS));
}

TEST(exit_cr0_writes)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u64 bad[] = { 0x100000031ull,          /* bits 63:32 */
		      0x80000030,              /* PG without PE */
		      0xa0000031,              /* NW without CD */
		      0x00000031 };            /* PG off in 64-bit code */
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		v->gpr[RDX] = bad[i];
		exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RDX));
		CHECK(gp_injected());
		CHECK_EQ(sim_vmcs_get(VMCS_CR0_READ_SHADOW), 0x80000031);
	}
	/* Cache disable: shadow and register follow; undefined bits dropped,
	 * NE and ET always on in the register. */
	v->gpr[RDX] = 0xe0000011ull | BIT(7);
	CHECK_EQ(exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RDX)), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_CR0_READ_SHADOW), 0xe0000011);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR0), 0xe0000031);
	CHECK_EQ(guest_cr0(), 0xe0000011);
}

TEST(exit_cr0_long_mode_transitions)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u64 flushes = sim_effects.invvpid;
	/* Compatibility mode (CS.L = 0) may turn paging off: LMA follows. */
	sim_vmcs_set(VMCS_GUEST_CS_AR, 0xc09b);
	v->gpr[RAX] = 0x31;
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RAX));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_EFER), EFER_LME);
	CHECK(!(sim_vmcs_get(VMCS_ENTRY_CONTROLS) & ENTRY_CTL_IA32E));
	CHECK_EQ(sim_effects.invvpid, flushes + 1);
	/* Paging on with LME but without PAE: #GP. */
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE);
	v->gpr[RAX] = 0x80000031;
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RAX));
	CHECK(gp_injected());
	/* With PAE: IA-32e mode again. */
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE | CR4_PAE);
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RAX));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_EFER), EFER_LME | EFER_LMA);
	CHECK(sim_vmcs_get(VMCS_ENTRY_CONTROLS) & ENTRY_CTL_IA32E);
	/* PCIDE forbids turning paging off. */
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE | CR4_PAE | CR4_PCIDE);
	v->gpr[RAX] = 0x31;
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RAX));
	CHECK(gp_injected());
	/* Without LME, paging changes leave EFER alone. */
	sim_vmcs_set(VMCS_GUEST_IA32_EFER, 0);
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE);
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 0, RAX));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_IA32_EFER), 0);
}

TEST(exit_cr4_writes)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u64 bad[] = { CR4_PAE | CR4_VMXE, CR4_PAE | CR4_SMXE, CR4_PAE | BIT(15),
		      CR4_PAE | BIT(32) };
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		v->gpr[RCX] = bad[i];
		exit_with(v, EXIT_CR_ACCESS, CRQ(4, 0, RCX));
		CHECK(gp_injected());
	}
	u64 flushes = sim_effects.invvpid;
	v->gpr[RCX] = CR4_PAE | CR4_OSXSAVE;
	exit_with(v, EXIT_CR_ACCESS, CRQ(4, 0, RCX));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_CR4_READ_SHADOW), CR4_PAE | CR4_OSXSAVE);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR4), CR4_PAE | CR4_OSXSAVE | CR4_VMXE);
	CHECK_EQ(sim_effects.invvpid, flushes + 1);
}

TEST(exit_cr3_cr8_writes)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u64 flushes = sim_effects.invvpid;
	v->gpr[RBP] = 0x9000;
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 0, RBP));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR3), 0x9000);
	CHECK_EQ(sim_effects.invvpid, flushes + 1);
	v->gpr[RBP] = BIT(52) | 0x9000;
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 0, RBP));
	CHECK(gp_injected());
	/* With PCIDE, bit 63 asks not to flush and is not stored. */
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE | CR4_PAE | CR4_PCIDE);
	v->gpr[RBP] = BIT(63) | 0xa001;
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 0, RBP));
	CHECK(rip_advanced());
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR3), 0xa001);
	CHECK_EQ(sim_effects.invvpid, flushes + 1);
	/* CR8: the TPR, 4 bits. */
	v->gpr[R12] = 9;
	exit_with(v, EXIT_CR_ACCESS, CRQ(8, 0, R12));
	CHECK(rip_advanced());
	CHECK_EQ(v->cr8, 9);
	v->gpr[R12] = 0x10;
	exit_with(v, EXIT_CR_ACCESS, CRQ(8, 0, R12));
	CHECK(gp_injected());
	CHECK_EQ(v->cr8, 9);
	/* 32-bit code: the operand is 32 bits. */
	mode32();
	v->gpr[RBP] = 0xdead00000000b000ull;
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 0, RBP));
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR3), 0xb000);
	/* No other CR. */
	exit_with(v, EXIT_CR_ACCESS, CRQ(5, 0, RBP));
	CHECK(crashed(v, CRASH_BAD_CR_ACCESS));
}

TEST(exit_cr_clts_lmsw)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	sim_vmcs_set(VMCS_GUEST_CR0, 0x80000031 | CR0_TS);
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 2, 0));
	CHECK(rip_advanced());
	CHECK_EQ(guest_cr0(), 0x80000031);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR0), 0x80000031);
	/* LMSW sets MP/EM/TS from its source but cannot clear PE. */
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 3, 0) | 0xfffeull << 16);
	CHECK(rip_advanced());
	CHECK_EQ(guest_cr0(), 0x80000031 | CR0_MP | CR0_EM | CR0_TS);
	exit_with(v, EXIT_CR_ACCESS, CRQ(0, 3, 0));
	CHECK_EQ(guest_cr0(), 0x80000031);
	/* CLTS or LMSW naming another CR is not something the CPU reports. */
	exit_with(v, EXIT_CR_ACCESS, CRQ(3, 2, 0));
	CHECK(crashed(v, CRASH_BAD_CR_ACCESS));
}

/* A crash is an INFO message: kept where the host asks for INFO, and
 * neither formatted nor passed on where it keeps only warnings (the
 * posix host says so through log_wanted). */
static size_t crash_log(int level, char *text, size_t cap)
{
	struct hv_vcpu *v = guest_up(1);
	FILE *log = tmpfile();
	if (!v || !log)
		return (size_t)-1;
	test_host.log = log;
	test_host.log_level = level;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, 1ull << 40); /* nothing there */
	exit_with(v, EXIT_EPT_VIOLATION, 0);
	bool ok = crashed(v, CRASH_UNOWNED_MEMORY);
	test_host.log = NULL;
	rewind(log);
	size_t n = fread(text, 1, cap - 1, log);
	text[n] = 0;
	fclose(log);
	return ok ? n : (size_t)-1;
}

TEST(log_only_what_the_host_keeps)
{
	char text[512];
	CHECK(posix_host_ops.log_wanted);
	test_host.log = NULL;
	CHECK(!posix_host_ops.log_wanted(&test_host, HV_LOG_ERR));
	size_t n = crash_log(HV_LOG_INFO, text, sizeof(text));
	CHECK(n != (size_t)-1 && n > 0);
	CHECK(strstr(text, "crashed"));
	CHECK_EQ(crash_log(HV_LOG_WARN, text, sizeof(text)), 0);
	test_host.log = stderr;
	test_host.log_level = HV_LOG_WARN;
	CHECK(posix_host_ops.log_wanted(&test_host, HV_LOG_WARN));
	CHECK(!posix_host_ops.log_wanted(&test_host, HV_LOG_INFO));
	test_host.log = NULL;
}

/* ---- port I/O ---- */

TEST(exit_io_console_out_in)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	FILE *log = tmpfile();
	CHECK(log);
	test_host.log = log;
	test_host.log_level = HV_LOG_INFO;
	const char *msg = "hi\n";
	for (const char *p = msg; *p; p++) {
		v->gpr[RAX] = 0x1200 | (u8)*p;
		CHECK_EQ(exit_with(v, EXIT_IO_INSTRUCTION, IOQ(1, 0, HV_DEBUG_PORT)),
			 UXT_FATE_RESUME);
		CHECK(rip_advanced());
	}
	CHECK_EQ(v->dom->con_len, 0);
	v->gpr[RAX] = 0x6b6f; /* "ok", a 2-byte OUT */
	exit_with(v, EXIT_IO_INSTRUCTION, IOQ(2, 0, HV_DEBUG_PORT));
	CHECK_EQ(v->dom->con_len, 2);
	CHECK(memcmp(v->dom->con, "ok", 2) == 0);
	/* A full line is flushed without a newline. */
	for (int i = 0; i < 200; i++) {
		v->gpr[RAX] = 'x';
		exit_with(v, EXIT_IO_INSTRUCTION, IOQ(1, 0, HV_DEBUG_PORT));
	}
	CHECK(v->dom->con_len < sizeof(v->dom->con));
	test_host.log = NULL;
	char text[1024] = { 0 };
	rewind(log);
	size_t n = fread(text, 1, sizeof(text) - 1, log);
	fclose(log);
	CHECK(n > 0);
	CHECK(strstr(text, ": hi\n"));
	CHECK(strstr(text, ": okxxxx"));
	/* IN: AL = 0xe9, upper bits kept; a 32-bit IN zero-extends. */
	v->gpr[RAX] = 0x1122334455667788ull;
	exit_with(v, EXIT_IO_INSTRUCTION, IOQ(1, 1, HV_DEBUG_PORT));
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RAX], 0x11223344556677e9ull);
	exit_with(v, EXIT_IO_INSTRUCTION, IOQ(4, 1, HV_DEBUG_PORT));
	CHECK_EQ(v->gpr[RAX], 0xe9);
}

TEST(exit_io_forward_out)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u8 rec[512];
	v->gpr[RAX] = 0xaabbccdd11223344ull;
	hv_rec_begin(rec, sizeof(rec), false);
	CHECK_EQ(exit_with(v, EXIT_IO_INSTRUCTION, IOQ(2, 0, 0x3f8)),
		 UXT_FATE_IOREQ);
	long len = hv_rec_end();
	CHECK(len > 0);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	CHECK(v->io_pending && !hv_vcpu_runnable(v));
	CHECK_EQ(v->io.req.type, UXT_IOREQ_PIO);
	CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_OUT);
	CHECK_EQ(v->io.req.size, 2);
	CHECK_EQ(v->io.req.count, 1);
	CHECK_EQ(v->io.req.addr, 0x3f8);
	CHECK_EQ(v->io.req.data, 0x3344);
	u16 plen;
	const u8 *p = rec_find(rec, len, UXT_IT_IOREQ_OUT, &plen);
	CHECK(p);
	CHECK_EQ(plen, 24);
	CHECK_EQ(p[0], UXT_IOREQ_PIO);
	CHECK_EQ(p[1], UXT_IOREQ_DIR_OUT);
	CHECK_EQ(p[2], 2);
	CHECK_EQ(p[3], 0);
	CHECK_EQ(uxt_get32(p + 4), 1);
	CHECK_EQ(uxt_get64(p + 8), 0x3f8);
	CHECK_EQ(uxt_get64(p + 16), 0x3344);
	CHECK(rec_find(rec, len, UXT_IT_FATE_OUT, &plen));
	/* The host completes it: RIP moves, once. */
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK(rip_advanced());
	CHECK(!v->io_pending);
	CHECK_EQ(v->gpr[RAX], 0xaabbccdd11223344ull);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(io_complete(v, 0), -HV_EINVAL);
}

TEST(exit_io_forward_in)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	static const struct { unsigned size; u64 expect; } cases[] = {
		{ 1, 0x1111222233334455ull }, /* AL: upper bits kept */
		{ 2, 0x1111222233335555ull }, /* AX */
		{ 4, 0x0000000055555555ull }, /* EAX zero-extends */
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		v->gpr[RAX] = 0x1111222233334444ull;
		CHECK_EQ(exit_with(v, EXIT_IO_INSTRUCTION, IOQ(cases[i].size, 1, 0x60)),
			 UXT_FATE_IOREQ);
		CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_IN);
		CHECK_EQ(v->io.req.data, 0);
		CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0x5555555555555555ull, 0), 0);
		CHECK_EQ(v->gpr[RAX], cases[i].expect);
		CHECK(rip_advanced());
	}
	/* An access size the CPU never reports (qualification 2 = 3 bytes). */
	exit_with(v, EXIT_IO_INSTRUCTION, IOQ(3, 1, 0x60));
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
}

/* Set up a string I/O exit: linear address, RFLAGS.DF, address size. */
static unsigned string_exit(struct hv_vcpu *v, u64 qual, u64 gla, bool df,
			    u32 ioinfo)
{
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_LINEAR_ADDRESS, gla);
	sim_vmcs_set(VMCS_GUEST_RFLAGS, df ? 0x402 : 0x2);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_INFO, ioinfo);
	return exit_with(v, EXIT_IO_INSTRUCTION, qual | IOQ_STR);
}

TEST(exit_io_console_outs)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK(load(BUF, "hello", 5) == 0);
	v->gpr[RSI] = BUF;
	v->gpr[RCX] = 0xffffffff00000005ull; /* 32-bit address size: ECX */
	u8 rec[512];
	hv_rec_begin(rec, sizeof(rec), false);
	CHECK_EQ(string_exit(v, IOQ(1, 0, HV_DEBUG_PORT) | IOQ_REP, BUF, false,
			     IOINFO_A32), UXT_FATE_RESUME);
	long len = hv_rec_end();
	CHECK(rip_advanced());
	CHECK_EQ(v->dom->con_len, 5);
	CHECK(memcmp(v->dom->con, "hello", 5) == 0);
	CHECK_EQ(v->gpr[RSI], BUF + 5);
	CHECK_EQ(v->gpr[RCX], 0);
	u16 plen;
	const u8 *p = rec_find(rec, len, UXT_IT_CONSOLE_OUT, &plen);
	CHECK(p && plen == 5 && memcmp(p, "hello", 5) == 0);
	/* DF = 1: elements walk down from RSI. */
	v->dom->con_len = 0;
	CHECK(load(BUF, "abc", 3) == 0);
	v->gpr[RSI] = BUF + 2;
	v->gpr[RCX] = 3;
	string_exit(v, IOQ(1, 0, HV_DEBUG_PORT) | IOQ_REP, BUF + 2, true,
		    IOINFO_A64);
	CHECK(rip_advanced());
	CHECK(memcmp(v->dom->con, "cba", 3) == 0);
	CHECK_EQ(v->gpr[RSI], BUF - 1);
	CHECK_EQ(v->gpr[RCX], 0);
	/* A long REP goes in chunks: RIP stays until it is done. */
	v->dom->con_len = 0;
	v->gpr[RSI] = BUF;
	v->gpr[RCX] = 100;
	string_exit(v, IOQ(1, 0, HV_DEBUG_PORT) | IOQ_REP, BUF, false, IOINFO_A64);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	CHECK_EQ(v->gpr[RCX], 36);
	CHECK_EQ(v->gpr[RSI], BUF + 64);
	/* REP with a zero count does nothing but move on. */
	v->gpr[RCX] = 0xffff0000ull; /* CX = 0 at 16-bit address size */
	string_exit(v, IOQ(1, 0, HV_DEBUG_PORT) | IOQ_REP, BUF, false, IOINFO_A16);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RSI], BUF + 64);
	CHECK_EQ(v->gpr[RCX], 0xffff0000ull);
}

TEST(exit_io_forward_ins_rep)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* 2-byte elements from offset 0xffa: 3 fit in the page. */
	v->gpr[RDI] = BUF + 0xffa;
	v->gpr[RCX] = 10;
	CHECK_EQ(string_exit(v, IOQ(2, 1, 0x1f0) | IOQ_REP, BUF + 0xffa, false,
			     IOINFO_A64), UXT_FATE_IOREQ);
	CHECK_EQ(v->io.req.type, UXT_IOREQ_PIO);
	CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_IN);
	CHECK_EQ(v->io.req.flags, UXT_IOREQ_F_STRING | UXT_IOREQ_F_REP);
	CHECK_EQ(v->io.req.count, 3);
	CHECK_EQ(v->io.req.addr, 0x1f0);
	CHECK_EQ(v->io.req.data, BUF + 0xffa);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK_EQ(v->gpr[RDI], BUF + 0x1000);
	CHECK_EQ(v->gpr[RCX], 7);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0); /* re-executed */
	/* The rest fits: the last chunk moves RIP. */
	CHECK_EQ(string_exit(v, IOQ(2, 1, 0x1f0) | IOQ_REP, BUF + 0x1000, false,
			     IOINFO_A64), UXT_FATE_IOREQ);
	CHECK_EQ(v->io.req.count, 7);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RCX], 0);
	CHECK_EQ(v->gpr[RDI], BUF + 0x100e);
}

/* The emulated string write (INS) walks the guest's page tables as the CPU
 * would: a read-only entry at any level, a 2 MiB page's included, stops a
 * write under CR0.WP, or from CPL 3; the kernel writes through it when
 * WP is clear; reads go through. */
static unsigned ins_at(struct hv_vcpu *v, u64 cr0_or, u32 ss_dpl)
{
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_CR0, sim_vmcs_get(VMCS_GUEST_CR0) | cr0_or);
	sim_vmcs_set(VMCS_GUEST_SS_AR, (sim_vmcs_get(VMCS_GUEST_SS_AR) & ~0x60ull) | ss_dpl << 5);
	v->gpr[RDI] = BUF;
	v->gpr[RCX] = 1;
	return string_exit(v, IOQ(1, 1, 0x80), BUF, false, IOINFO_A64);
}

TEST(exit_io_ins_honours_read_only_pages)
{
	const u64 wp = 1ull << 16;
	for (int level = 0; level < 3; level++) {
		/* read-only: the 2 MiB page (PDE), the PDPTE, the PML4E */
		const u64 at[3] = { PT_BASE + 0x2000, PT_BASE + 0x1000, PT_BASE };
		const u64 ro[3] = { 0x85, (PT_BASE + 0x2000) | 5, (PT_BASE + 0x1000) | 5 };
		struct hv_vcpu *v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], ro[level]), 0);
		CHECK_EQ(ins_at(v, wp, 0), UXT_FATE_CRASHED);
		CHECK(crashed(v, CRASH_PAGE_WALK));
		v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], ro[level]), 0);
		CHECK_EQ(ins_at(v, 0, 3), UXT_FATE_CRASHED); /* CPL 3, WP clear */
		v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], ro[level]), 0);
		CHECK_EQ(ins_at(v, 0, 0), UXT_FATE_IOREQ); /* the kernel, WP clear */
		CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0x5a, 0), 0);
		v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], ro[level]), 0);
		arch_vmcs_load(v);
		sim_vmcs_set(VMCS_GUEST_CR0, sim_vmcs_get(VMCS_GUEST_CR0) | wp);
		v->gpr[RSI] = BUF;
		v->gpr[RCX] = 1;
		CHECK_EQ(string_exit(v, IOQ(1, 0, 0x80), BUF, false, IOINFO_A64), UXT_FATE_IOREQ);
	}
	CHECK_INVARIANTS();
}

/* A supervisor-only entry at any level keeps user code (CPL 3) out, for
 * reads as for writes, WP or not: INS must not write kernel memory for
 * it, nor OUTS read it. The kernel goes through. */
TEST(exit_io_string_user_mode_needs_user_pages)
{
	const u64 at[3] = { PT_BASE + 0x2000, PT_BASE + 0x1000, PT_BASE };
	const u64 sup[3] = { 0x83, (PT_BASE + 0x2000) | 3, (PT_BASE + 0x1000) | 3 };
	for (int level = 0; level < 3; level++) {
		struct hv_vcpu *v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], sup[level]), 0);
		CHECK_EQ(ins_at(v, 0, 3), UXT_FATE_CRASHED);
		CHECK(crashed(v, CRASH_PAGE_WALK));
		v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], sup[level]), 0);
		arch_vmcs_load(v);
		sim_vmcs_set(VMCS_GUEST_SS_AR, sim_vmcs_get(VMCS_GUEST_SS_AR) | 3 << 5);
		v->gpr[RSI] = BUF;
		v->gpr[RCX] = 1;
		CHECK_EQ(string_exit(v, IOQ(1, 0, 0x80), BUF, false, IOINFO_A64),
			 UXT_FATE_CRASHED);
		CHECK(crashed(v, CRASH_PAGE_WALK));
		v = guest_up(1);
		CHECK(v);
		CHECK_EQ(load_u64(at[level], sup[level]), 0);
		CHECK_EQ(ins_at(v, 1ull << 16, 0), UXT_FATE_IOREQ);
		CHECK_EQ(v->io.req.data, BUF);
	}
	CHECK_INVARIANTS();
}

/* A linear address the walk cannot take: 5-level paging, or not
 * canonical. */
TEST(exit_io_string_bad_linear_address)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_CR4, sim_vmcs_get(VMCS_GUEST_CR4) | (1ull << 12)); /* LA57 */
	v->gpr[RDI] = BUF;
	v->gpr[RCX] = 1;
	string_exit(v, IOQ(1, 1, 0x80), BUF, false, IOINFO_A64);
	CHECK(crashed(v, CRASH_PAGE_WALK));
	v = guest_up(1);
	CHECK(v);
	v->gpr[RDI] = 0x0000800000000000ull;
	v->gpr[RCX] = 1;
	string_exit(v, IOQ(1, 1, 0x80), 0x0000800000000000ull, false, IOINFO_A64);
	CHECK(crashed(v, CRASH_PAGE_WALK));
}

/* ---- Page walks outside long mode: 32-bit and PAE paging ---- */

/* The tables live in RAM pages the 4-level ones leave free. CR3 has PWT
 * and PCD set, which the walk must not take for address bits; the PAE
 * PDPT is only 32-byte aligned, so CR3 bits 11:5 are address bits there. */
#define DIR32 0xb000ull  /* 32-bit: the page directory */
#define PT32 0xc000ull   /* 32-bit: a page table */
#define PT32_LOW 0x0ull  /* 32-bit: one whose address has no PSE-36 bits */
#define CR3_32 (DIR32 | 0x18)
#define PDPT 0xb020ull   /* PAE: the PDPT, 32-byte aligned, not page aligned */
#define PD_PAE 0xc000ull /* PAE: the page directory of PDPTE 1 */
#define PT_PAE 0xd000ull /* PAE: a page table */
#define PD_EMPTY 0xe000ull /* PAE: the page directory of PDPTE 3, all empty */
#define CR3_PAE (PDPT | 0x18)
#define PG_P 1ull
#define PG_W 2ull
#define PG_U 4ull
#define PG_PS 0x80ull
#define PG_URW (PG_P | PG_W | PG_U)
#define PG_URO (PG_P | PG_U)
#define FAULT ~0ull

static int load_u32(u64 gpa, u32 val)
{
	return load(gpa, &val, sizeof(val));
}

/* Paging without long mode: PG on, EFER clear, CR4 as given (PAE, PSE). */
static void legacy_paging(struct hv_vcpu *v, u64 cr3, u64 cr4)
{
	arch_vmcs_load(v);
	mode32();
	sim_vmcs_set(VMCS_GUEST_CR0, CR0_PG | CR0_NE | CR0_ET | CR0_PE);
	sim_vmcs_set(VMCS_CR0_READ_SHADOW, CR0_PG | CR0_NE | CR0_ET | CR0_PE);
	sim_vmcs_set(VMCS_GUEST_CR4, CR4_VMXE | cr4);
	sim_vmcs_set(VMCS_GUEST_CR3, cr3);
}

/* One translation: the access, the CR0.WP and CPL it is made under, and
 * the guest physical address it must reach (FAULT: it must fault). */
struct walk_case {
	u64 gla;
	bool write, wp;
	u32 cpl;
	u64 gpa;
};

/* Translate as the string I/O emulation does, under the case's CR0.WP
 * and CPL (SS.DPL): the address reached, or FAULT. */
static u64 walk(struct hv_vcpu *v, const struct walk_case *c)
{
	u64 gpa = FAULT;
	arch_vmcs_load(v);
	u64 cr0 = sim_vmcs_get(VMCS_GUEST_CR0) & ~CR0_WP;
	sim_vmcs_set(VMCS_GUEST_CR0, cr0 | (c->wp ? CR0_WP : 0));
	sim_vmcs_set(VMCS_GUEST_SS_AR, (sim_vmcs_get(VMCS_GUEST_SS_AR) & ~0x60ull) | c->cpl << 5);
	int rc = guest_linear_to_phys(v, c->gla, c->write, &gpa);
	if (rc == -HV_EFAULT)
		return FAULT;
	return rc ? (u64)rc : gpa; /* any other error is a failure */
}

/* Every case as expected; records the first that is not. */
static bool walks_ok(struct hv_vcpu *v, const struct walk_case *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		u64 got = walk(v, &c[i]);
		if (got != c[i].gpa) {
			char m[200];
			snprintf(m, sizeof(m), "case %u: %s %llx (WP %d, CPL %u) -> %llx, expected %llx",
				 i, c[i].write ? "write" : "read", (unsigned long long)c[i].gla,
				 c[i].wp, c[i].cpl, (unsigned long long)got,
				 (unsigned long long)c[i].gpa);
			test_failed(__FILE__, __LINE__, m);
			return false;
		}
	}
	return true;
}

/* 32-bit paging: 4-byte entries, 10 index bits per level. Directory entry
 * 0x100 points at a page table with BUF writable at index 5, read-only at
 * 6, nothing at 7, supervisor-only at 8; 0x101 is not present; 0x102 has
 * PS set over a table at 0 that maps BUF at 5 too (a 4 MiB page at 0
 * with CR4.PSE, the table without); 0x103 and 0x104 are read-only and
 * supervisor-only entries over the table; 0x200, 0x201 and 0x202 are
 * 4 MiB pages: writable, read-only, supervisor-only; 0x203 one above
 * 4 GiB (PSE-36, which the guest's CPUID reports: PDE bits 20:13 are
 * address bits 39:32). Everything else is user and writable. */
static int tables_32(void)
{
	return load_u32(DIR32 + 0x100 * 4, PT32 | PG_URW) ||
	       load_u32(DIR32 + 0x102 * 4, PT32_LOW | PG_PS | PG_URW) ||
	       load_u32(DIR32 + 0x103 * 4, PT32 | PG_URO) ||
	       load_u32(DIR32 + 0x200 * 4, 0x00c00000 | PG_PS | PG_URW) ||
	       load_u32(DIR32 + 0x201 * 4, 0x01000000 | PG_PS | PG_URO) ||
	       load_u32(DIR32 + 0x104 * 4, PT32 | PG_P | PG_W) ||
	       load_u32(DIR32 + 0x202 * 4, 0x01400000 | PG_PS | PG_P | PG_W) ||
	       load_u32(DIR32 + 0x203 * 4, 0x00c00000 | 3u << 13 | PG_PS | PG_URW) ||
	       load_u32(PT32_LOW + 5 * 4, BUF | PG_URW) ||
	       load_u32(PT32 + 5 * 4, BUF | PG_URW) ||
	       load_u32(PT32 + 6 * 4, BUF | PG_URO) ||
	       load_u32(PT32 + 8 * 4, BUF | PG_P | PG_W);
}

TEST(walk_32bit_paging)
{
	static const struct walk_case with_pse[] = {
		{ 0x40005123, false, false, 0, BUF + 0x123 },
		{ 0x40005123, true, true, 3, BUF + 0x123 },
		{ 0x40007000, false, false, 0, FAULT },     /* PTE not present */
		{ 0x40400000, false, false, 0, FAULT },     /* PDE not present */
		{ 0x140005123ull, false, false, 0, FAULT }, /* past 4 GiB */
		/* A read-only PTE: reads pass; writes fault under WP or at
		 * CPL 3, and go through for the kernel with WP clear. */
		{ 0x40006123, false, true, 3, BUF + 0x123 },
		{ 0x40006123, true, true, 0, FAULT },
		{ 0x40006123, true, false, 3, FAULT },
		{ 0x40006123, true, false, 0, BUF + 0x123 },
		/* A read-only PDE makes its whole table read-only. */
		{ 0x40c05123, true, true, 0, FAULT },
		{ 0x40c05123, true, false, 0, BUF + 0x123 },
		/* 4 MiB pages: 22 offset bits, the PDE's bits 31:22. */
		{ 0x803a5a5a, true, true, 3, 0x00fa5a5a },
		{ 0x8043a5a5, false, true, 3, 0x0103a5a5 },
		{ 0x8043a5a5, true, true, 0, FAULT },
		{ 0x8043a5a5, true, false, 3, FAULT },
		{ 0x8043a5a5, true, false, 0, 0x0103a5a5 },
		{ 0x40805123, false, false, 0, 0x00005123 }, /* PS: 4 MiB at 0 */
		{ 0x80c12345, false, false, 0, 0x300c12345ull }, /* PSE-36 */
		/* Supervisor-only at either level, or a 4 MiB page: not for
		 * user code, read or write; the kernel goes through. */
		{ 0x40008123, false, false, 3, FAULT },
		{ 0x41005123, false, false, 3, FAULT },
		{ 0x80812345, false, false, 3, FAULT },
		{ 0x40008123, true, true, 0, BUF + 0x123 },
		{ 0x41005123, true, true, 0, BUF + 0x123 },
		{ 0x80812345, true, true, 0, 0x01412345 },
	};
	/* Without CR4.PSE the PS bit means nothing: every PDE points at a
	 * page table (0x200's at 12 MiB, outside the guest's RAM). */
	static const struct walk_case without_pse[] = {
		{ 0x40805123, false, false, 0, BUF + 0x123 },
		{ 0x803a5a5a, false, false, 0, FAULT },
		{ 0x40005123, true, true, 3, BUF + 0x123 },
	};
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK(tables_32() == 0);
	legacy_paging(v, CR3_32, CR4_PSE);
	CHECK(walks_ok(v, with_pse, ARRAY_SIZE(with_pse)));
	legacy_paging(v, CR3_32, 0);
	CHECK(walks_ok(v, without_pse, ARRAY_SIZE(without_pse)));
	CHECK_EQ(v->dom->state, DOM_RUNNING); /* a fault is the caller's to handle */
}

/* PAE paging: 8-byte entries, a 4-entry PDPT at CR3 bits 31:5, 2 MiB
 * pages whatever CR4.PSE says. PDPTE 0 and 2 are not present, 1 points at
 * a directory whose entry 3 points at a page table (BUF writable at 5,
 * read-only at 6, nothing at 7, supervisor-only at 8), 4 and 5 are
 * writable 2 MiB pages (5's above 4 GiB), 6 a read-only one, 7 and 8
 * read-only and supervisor-only entries over the table, 9 a
 * supervisor-only 2 MiB page; PDPTE 3's directory is empty. PDPTEs have
 * no R/W or U/S bit (bits 1 and 2 are reserved): what a write or user
 * code may do is for the lower levels. */
static int tables_pae(void)
{
	return load_u64(PDPT + 1 * 8, PD_PAE | PG_P) ||
	       load_u64(PDPT + 3 * 8, PD_EMPTY | PG_P) ||
	       load_u64(PD_PAE + 3 * 8, PT_PAE | PG_URW) ||
	       load_u64(PD_PAE + 4 * 8, 0x00e00000 | PG_PS | PG_URW) ||
	       load_u64(PD_PAE + 5 * 8, 0x100200000ull | PG_PS | PG_URW) ||
	       load_u64(PD_PAE + 6 * 8, 0x00e00000 | PG_PS | PG_URO) ||
	       load_u64(PD_PAE + 7 * 8, PT_PAE | PG_URO) ||
	       load_u64(PD_PAE + 8 * 8, PT_PAE | PG_P | PG_W) ||
	       load_u64(PD_PAE + 9 * 8, 0x01200000 | PG_PS | PG_P | PG_W) ||
	       load_u64(PT_PAE + 5 * 8, BUF | PG_URW) ||
	       load_u64(PT_PAE + 6 * 8, BUF | PG_URO) ||
	       load_u64(PT_PAE + 8 * 8, BUF | PG_P | PG_W);
}

TEST(walk_pae_paging)
{
	static const struct walk_case cases[] = {
		{ 0x40605123, false, false, 0, BUF + 0x123 },
		/* Through a PDPTE without bits 1 and 2, under WP, from CPL 3. */
		{ 0x40605123, true, true, 3, BUF + 0x123 },
		{ 0x00005123, false, false, 0, FAULT },     /* PDPTE 0 not present */
		{ 0x80005123, false, false, 0, FAULT },     /* PDPTE 2 not present */
		{ 0xc0005123, false, false, 0, FAULT },     /* PDE not present */
		{ 0x40005123, false, false, 0, FAULT },     /* PDE 0 not present */
		{ 0x40607123, false, false, 0, FAULT },     /* PTE not present */
		{ 0x140605123ull, false, false, 0, FAULT }, /* past 4 GiB */
		{ 0x40606123, false, true, 3, BUF + 0x123 },
		{ 0x40606123, true, true, 0, FAULT },
		{ 0x40606123, true, false, 3, FAULT },
		{ 0x40606123, true, false, 0, BUF + 0x123 },
		{ 0x40e05123, true, true, 0, FAULT },       /* read-only PDE */
		{ 0x40e05123, false, true, 3, BUF + 0x123 },
		/* 2 MiB pages: 21 offset bits, physical addresses past 4 GiB. */
		{ 0x40812345, true, true, 3, 0x00e12345 },
		{ 0x40a54321, false, false, 0, 0x100254321ull },
		{ 0x40c54321, false, true, 3, 0x00e54321 },
		{ 0x40c54321, true, true, 0, FAULT },
		{ 0x40c54321, true, false, 3, FAULT },
		{ 0x40c54321, true, false, 0, 0x00e54321 },
		/* Supervisor-only PTE, PDE, 2 MiB page. */
		{ 0x40608123, false, false, 3, FAULT },
		{ 0x41005123, false, false, 3, FAULT },
		{ 0x41254321, false, false, 3, FAULT },
		{ 0x40608123, true, true, 0, BUF + 0x123 },
		{ 0x41005123, true, true, 0, BUF + 0x123 },
		{ 0x41254321, true, true, 0, 0x01254321 },
	};
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK(tables_pae() == 0);
	legacy_paging(v, CR3_PAE, CR4_PAE);
	CHECK(walks_ok(v, cases, ARRAY_SIZE(cases)));
	legacy_paging(v, CR3_PAE, CR4_PAE | CR4_PSE);
	CHECK(walks_ok(v, cases, ARRAY_SIZE(cases)));
	/* CR4.LA57 means 5-level paging only in IA-32e mode: PAE ignores it. */
	legacy_paging(v, CR3_PAE, CR4_PAE | CR4_LA57);
	CHECK(walks_ok(v, cases, ARRAY_SIZE(cases)));
	CHECK_EQ(v->dom->state, DOM_RUNNING);
}

/* The string I/O emulation walks the guest's tables in either mode: OUTS
 * to the console reads what the linear address maps, INS hands the host
 * the translated address, a fault ends the domain. */
TEST(walk_legacy_paging_string_io)
{
	static const u64 cr3[2] = { CR3_32, CR3_PAE }, cr4[2] = { CR4_PSE, CR4_PAE };
	static const u64 gla[2] = { 0x40005010, 0x40605010 };
	static const u64 unmapped[2] = { 0x40007010, 0x40607010 };
	for (int pae = 0; pae < 2; pae++) {
		struct hv_vcpu *v = guest_up(1);
		CHECK(v);
		CHECK((pae ? tables_pae() : tables_32()) == 0);
		CHECK(load(BUF + 0x10, "hi", 2) == 0);
		legacy_paging(v, cr3[pae], cr4[pae]);
		v->gpr[RSI] = gla[pae];
		v->gpr[RCX] = 2;
		CHECK_EQ(string_exit(v, IOQ(1, 0, HV_DEBUG_PORT) | IOQ_REP, gla[pae],
				     false, IOINFO_A32), UXT_FATE_RESUME);
		CHECK_EQ(v->dom->con_len, 2);
		CHECK(memcmp(v->dom->con, "hi", 2) == 0);
		CHECK_EQ(v->gpr[RSI], gla[pae] + 2);
		v->gpr[RDI] = gla[pae];
		v->gpr[RCX] = 1;
		CHECK_EQ(string_exit(v, IOQ(1, 1, 0x80), gla[pae], false, IOINFO_A32),
			 UXT_FATE_IOREQ);
		CHECK_EQ(v->io.req.data, BUF + 0x10);
		CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
		CHECK_EQ(v->gpr[RDI], gla[pae] + 1);
		v->gpr[RDI] = unmapped[pae];
		CHECK_EQ(string_exit(v, IOQ(1, 1, 0x80), unmapped[pae], false, IOINFO_A32),
			 UXT_FATE_CRASHED);
		CHECK(crashed(v, CRASH_PAGE_WALK));
	}
}

/* Exit reasons no handler takes: a VM-entry failure (bit 31), one past the
 * table, a reserved number. Each ends the domain, never the hypervisor. */
TEST(exit_reason_unhandled)
{
	const u32 reasons[] = { (1u << 31) | 33, 0xffff, 35 };
	const u32 why[] = { CRASH_ENTRY_FAILURE, CRASH_UNHANDLED_EXIT, CRASH_UNHANDLED_EXIT };
	for (unsigned i = 0; i < 3; i++) {
		struct hv_vcpu *v = guest_up(1);
		CHECK(v);
		CHECK_EQ(exit_with(v, reasons[i], 0), UXT_FATE_CRASHED);
		CHECK(crashed(v, why[i]));
	}
	CHECK_INVARIANTS();
}

TEST(exit_io_forward_outs)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* DF = 1 from offset 8 with 4-byte elements: 3 fit (8, 4, 0). */
	v->gpr[RSI] = BUF + 8;
	v->gpr[RCX] = 50;
	string_exit(v, IOQ(4, 0, 0x80) | IOQ_REP, BUF + 8, true, IOINFO_A64);
	CHECK_EQ(v->io.req.count, 3);
	CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_OUT);
	CHECK_EQ(v->io.req.flags,
		 UXT_IOREQ_F_STRING | UXT_IOREQ_F_REP | UXT_IOREQ_F_DF);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK_EQ(v->gpr[RSI], BUF - 4);
	CHECK_EQ(v->gpr[RCX], 47);
	/* Not REP, 16-bit addresses: SI wraps, the rest of RSI stays. */
	v->gpr[RSI] = 0xaaaa00000000fffeull;
	v->gpr[RCX] = 5;
	string_exit(v, IOQ(2, 0, 0x80), BUF, false, IOINFO_A16);
	CHECK_EQ(v->io.req.count, 1);
	CHECK_EQ(v->io.req.flags, UXT_IOREQ_F_STRING);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RSI], 0xaaaa000000000000ull);
	CHECK_EQ(v->gpr[RCX], 5);
}

TEST(exit_io_string_errors)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* An element across a page boundary cannot be one buffer. */
	v->gpr[RCX] = 1;
	string_exit(v, IOQ(2, 0, 0x80), BUF + 0xfff, false, IOINFO_A64);
	CHECK(crashed(v, CRASH_BAD_IOREQ));
	v = guest_up(1);
	CHECK(v);
	string_exit(v, IOQ(1, 1, 0x80), 0x7f0000000000ull, false, IOINFO_A64);
	CHECK(crashed(v, CRASH_PAGE_WALK));
	v = guest_up(1);
	CHECK(v);
	string_exit(v, IOQ(1, 1, 0x80), BUF, false, 3u << 7);
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
	v = guest_up(1);
	CHECK(v);
	/* Console OUTS from memory the domain does not have. */
	CHECK(load_u64(PT_BASE + 0x2000 + 8, 0x200083) == 0); /* 2-4 MiB */
	string_exit(v, IOQ(1, 0, HV_DEBUG_PORT), 0x300000, false, IOINFO_A64);
	CHECK(crashed(v, CRASH_UNOWNED_MEMORY));
}

/* ---- EPT violations: MMIO ---- */

#define EPTQ_R 1
#define EPTQ_W 2
#define EPTQ_X 4

static unsigned mmio_exit(struct hv_vcpu *v, const char *code, u32 len,
			  u64 qual, u64 gpa)
{
	if (load(RIP0, code, len))
		return 99;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	return exit_with(v, EXIT_EPT_VIOLATION, qual);
}

TEST(exit_mmio_store)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	v->gpr[RCX] = 0x1122334455667788ull;
	CHECK_EQ(mmio_exit(v, "\x89\x08", 2, EPTQ_W, MMIO_GPA + 0x10),
		 UXT_FATE_IOREQ); /* mov [rax], ecx */
	CHECK_EQ(v->io.req.type, UXT_IOREQ_MMIO);
	CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_OUT);
	CHECK_EQ(v->io.req.size, 4);
	CHECK_EQ(v->io.req.count, 1);
	CHECK_EQ(v->io.req.addr, MMIO_GPA + 0x10);
	CHECK_EQ(v->io.req.data, 0x55667788);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0 + 2);
	CHECK_EQ(v->gpr[RCX], 0x1122334455667788ull);
	/* mov [rax], ah */
	v->gpr[RAX] = 0xbeef;
	mmio_exit(v, "\x88\x20", 2, EPTQ_W, MMIO_GPA);
	CHECK_EQ(v->io.req.size, 1);
	CHECK_EQ(v->io.req.data, 0xbe);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	/* Immediates: imm32 sign-extended for a 64-bit store. */
	mmio_exit(v, "\x48\xc7\x00\xff\xff\xff\xff", 7, EPTQ_W, MMIO_GPA);
	CHECK_EQ(v->io.req.size, 8);
	CHECK_EQ(v->io.req.data, ~0ull);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0 + 7);
	mmio_exit(v, "\x66\xc7\x40\x04\x34\x12", 6, EPTQ_W, MMIO_GPA + 4);
	CHECK_EQ(v->io.req.size, 2);
	CHECK_EQ(v->io.req.data, 0x1234);
	CHECK_EQ(v->io.insn_len, 6);
}

TEST(exit_mmio_loads)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	static const struct {
		const char *code;
		u32 len;
		unsigned reg;
		u64 before, value, after;
	} cases[] = {
		/* mov rbx, [rax] */
		{ "\x48\x8b\x18", 3, RBX, 1, 0x8877665544332211ull, 0x8877665544332211ull },
		/* mov ebx, [rax]: zero-extends */
		{ "\x8b\x18", 2, RBX, ~0ull, 0x44332211, 0x44332211 },
		/* mov bx, [rax]: keeps bits 63:16 */
		{ "\x66\x8b\x18", 3, RBX, ~0ull, 0x2211, 0xffffffffffff2211ull },
		/* mov ah, [rax] */
		{ "\x8a\x20", 2, RAX, 0x1111, 0x5a, 0x5a11 },
		/* mov r9b, [rax] */
		{ "\x44\x8a\x08", 3, R9, ~0ull, 0x5a, 0xffffffffffffff5aull },
		/* movsx rbx, byte [rax] */
		{ "\x48\x0f\xbe\x18", 4, RBX, 0, 0x80, 0xffffffffffffff80ull },
		/* movzx ebx, word [rax]: the value is cut to 16 bits */
		{ "\x0f\xb7\x18", 3, RBX, ~0ull, 0xffff8000ull, 0x8000 },
		/* movsx bx, byte [rax] */
		{ "\x66\x0f\xbe\x18", 4, RBX, ~0ull, 0x7f, 0xffffffffffff007full },
		/* mov eax, [rip + 0x100] */
		{ "\x8b\x05\x00\x01\x00\x00", 6, RAX, ~0ull, 0x12, 0x12 },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		v->gpr[cases[i].reg] = cases[i].before;
		CHECK_EQ(mmio_exit(v, cases[i].code, cases[i].len, EPTQ_R, MMIO_GPA),
			 UXT_FATE_IOREQ);
		CHECK_EQ(v->io.req.dir, UXT_IOREQ_DIR_IN);
		CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, cases[i].value, 0), 0);
		CHECK_EQ(v->gpr[cases[i].reg], cases[i].after);
		CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0 + cases[i].len);
	}
}

TEST(exit_mmio_32bit_code)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	mode32();
	/* CS base 0x800 + EIP 0x800 = linear 0x1000, no paging. */
	sim_vmcs_set(VMCS_GUEST_CS_BASE, 0x800);
	CHECK(load(RIP0, "\xa3\x10\x00\x10\x00", 5) == 0); /* mov [0x100010], eax */
	v->gpr[RAX] = 0xffffffff12345678ull;
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, MMIO_GPA + 0x10);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, EPTQ_W);
	sim_vmcs_set(VMCS_GUEST_RIP, 0x800);
	CHECK_EQ(hv_vcpu_exit(v), UXT_FATE_IOREQ);
	CHECK_EQ(v->io.req.size, 4);
	CHECK_EQ(v->io.req.data, 0x12345678);
	CHECK_EQ(v->io.insn_len, 5);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), 0x805);
}

TEST(exit_mmio_page_crossing_fetch)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* mov rbx, [rax] split over two RAM pages. */
	CHECK(load(0x1ffe, "\x48\x8b\x18", 3) == 0);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, MMIO_GPA);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, EPTQ_R);
	sim_vmcs_set(VMCS_GUEST_RIP, 0x1ffe);
	CHECK_EQ(hv_vcpu_exit(v), UXT_FATE_IOREQ);
	CHECK_EQ(v->io.insn_len, 3);
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), 0);
	/* The same at the end of RAM: the next page is not there. */
	CHECK(load(0xfffe, "\x48\x8b", 2) == 0);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_RIP, 0xfffe);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	CHECK_EQ(hv_vcpu_exit(v), UXT_FATE_CRASHED);
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
}

TEST(exit_mmio_errors)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	mmio_exit(v, "\x0f\x0b", 2, EPTQ_R, MMIO_GPA); /* ud2 */
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
	v = guest_up(1);
	CHECK(v);
	/* A store the CPU reported as a read: the bytes changed. */
	mmio_exit(v, "\x89\x08", 2, EPTQ_R, MMIO_GPA);
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
	v = guest_up(1);
	CHECK(v);
	mmio_exit(v, "\x89\x08", 2, EPTQ_X | EPTQ_R, MMIO_GPA);
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
	v = guest_up(1);
	CHECK(v);
	/* Delivering an event (its stack in MMIO) is not the insn at RIP. */
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0x80000b0e);
	mmio_exit(v, "\x89\x08", 2, EPTQ_W, MMIO_GPA);
	CHECK(crashed(v, CRASH_BAD_INSTRUCTION));
	v = guest_up(1);
	CHECK(v);
	/* RIP not mapped by the guest's page tables. */
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, MMIO_GPA);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, EPTQ_R);
	sim_vmcs_set(VMCS_GUEST_RIP, 0x7f0000000000ull);
	hv_vcpu_exit(v);
	CHECK(crashed(v, CRASH_PAGE_WALK));
}

/* ---- EPT violations: RAM ---- */

TEST(exit_ept_spurious_and_unowned)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	u64 flushes = sim_effects.invept;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, 0x5008);
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0x80000b0e); /* #PF, error code */
	sim_vmcs_set(VMCS_IDT_VECTORING_ERRCODE, 2);
	CHECK_EQ(exit_with(v, EXIT_EPT_VIOLATION, EPTQ_W), UXT_FATE_RESUME);
	CHECK_EQ(sim_effects.invept, flushes + 1);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INTR_INFO), 0x80000b0e);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_EXCEPTION_ERRCODE), 2);
	/* A software interrupt also needs its instruction length. */
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0x80000480); /* int 0x80 */
	exit_with(v, EXIT_EPT_VIOLATION, EPTQ_R);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INTR_INFO), 0x80000480);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INSTRUCTION_LEN), ILEN);
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0);
	/* Write to a read-only page. */
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 5, 1, EPT_R), 0);
	flushes = sim_effects.invept;
	exit_with(v, EXIT_EPT_VIOLATION, EPTQ_R);
	CHECK_EQ(sim_effects.invept, flushes + 1);
	CHECK_EQ(exit_with(v, EXIT_EPT_VIOLATION, EPTQ_W), UXT_FATE_CRASHED);
	CHECK(crashed(v, CRASH_UNOWNED_MEMORY));
	/* Memory it never had. */
	v = guest_up(1);
	CHECK(v);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, 0x50000);
	exit_with(v, EXIT_EPT_VIOLATION, EPTQ_R);
	CHECK(crashed(v, CRASH_UNOWNED_MEMORY));
	v = guest_up(1);
	CHECK(v);
	CHECK_EQ(exit_with(v, EXIT_EPT_MISCONFIG, 0), UXT_FATE_CRASHED);
	CHECK(crashed(v, CRASH_EPT_MISCONFIG));
}

/* ---- the rest ---- */

TEST(exit_misc_hlt_interrupts)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK_EQ(exit_with(v, EXIT_HLT, 0), UXT_FATE_BLOCKED);
	CHECK(rip_advanced());
	CHECK(v->blocked);
	CHECK_EQ(exit_with(v, EXIT_EXTERNAL_INTERRUPT, 0), UXT_FATE_YIELD);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	CHECK_EQ(exit_with(v, EXIT_PREEMPTION_TIMER, 0), UXT_FATE_YIELD);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	/* The host queues vector 0x30; the window exit delivers it. */
	CHECK_EQ(call(HC_INJECT_IRQ, (u64)D, 0, 0x30, 0), 0);
	arch_vmcs_load(v);
	CHECK(sim_vmcs_get(VMCS_PROC_BASED_CONTROLS) & BIT(2));
	CHECK_EQ(exit_with(v, EXIT_INTERRUPT_WINDOW, 0), UXT_FATE_RESUME);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INTR_INFO), 0x80000030);
	CHECK(!(sim_vmcs_get(VMCS_PROC_BASED_CONTROLS) & BIT(2)));
	CHECK_EQ(v->pending_irq, 0);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	/* Nothing queued: just stop asking. */
	sim_vmcs_set(VMCS_PROC_BASED_CONTROLS,
		     sim_vmcs_get(VMCS_PROC_BASED_CONTROLS) | BIT(2));
	exit_with(v, EXIT_INTERRUPT_WINDOW, 0);
	CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INTR_INFO), 0);
	CHECK(!(sim_vmcs_get(VMCS_PROC_BASED_CONTROLS) & BIT(2)));
	CHECK_EQ(exit_with(v, EXIT_TRIPLE_FAULT, 0), UXT_FATE_CRASHED);
	CHECK(crashed(v, CRASH_TRIPLE_FAULT));
}

static unsigned xsetbv(struct hv_vcpu *v, u32 xcr, u64 val)
{
	v->gpr[RCX] = xcr;
	v->gpr[RAX] = (u32)val;
	v->gpr[RDX] = val >> 32;
	return exit_with(v, EXIT_XSETBV, 0);
}

TEST(exit_misc_xsetbv)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	/* The model's CPUID.(0DH,0):EAX = 7: x87, SSE, AVX. */
	CHECK_EQ(xsetbv(v, 0, 7), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(v->xcr0, 7);
	CHECK_EQ(sim_effects.xcr0, 7);
	u64 bad[] = { 0, 2, 5, 0xf, BIT(32) | 7 };
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		xsetbv(v, 0, bad[i]);
		CHECK(gp_injected());
	}
	xsetbv(v, 1, 7);
	CHECK(gp_injected());
	CHECK_EQ(v->xcr0, 7);
	/* A CPU with MPX, AVX-512 and AMX: the pairing rules. */
	const u32 big[4] = { 0x600ff, 0, 0, 0 };
	CHECK(sim_feed_cpuid(0xd, 0, big) == 0);
	u64 bad2[] = { 0xf, 0x27, 0xe3, 0x20007 };
	for (unsigned i = 0; i < ARRAY_SIZE(bad2); i++) {
		xsetbv(v, 0, bad2[i]);
		CHECK(gp_injected());
	}
	xsetbv(v, 0, 0x600ff);
	CHECK(rip_advanced());
	CHECK_EQ(v->xcr0, 0x600ff);
}

TEST(exit_misc_tsc_cache_vmx)
{
	struct hv_vcpu *v = guest_up(1);
	CHECK(v);
	CHECK(sim_feed_tsc(0x100000000ull) == 0);
	CHECK(sim_feed_tsc(0x200000005ull) == 0);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_TSC_OFFSET, 0x10);
	v->gpr[RCX] = 0xabc;
	CHECK_EQ(exit_with(v, EXIT_RDTSC, 0), UXT_FATE_RESUME);
	CHECK(rip_advanced());
	CHECK_EQ(v->gpr[RAX], 0x10);
	CHECK_EQ(v->gpr[RDX], 1);
	CHECK_EQ(v->gpr[RCX], 0xabc);
	v->msr[MSR_SLOT_IA32_TSC_AUX] = 0x1234500000003ull;
	exit_with(v, EXIT_RDTSCP, 0);
	CHECK_EQ(v->gpr[RAX], 0x15);
	CHECK_EQ(v->gpr[RDX], 2);
	CHECK_EQ(v->gpr[RCX], 3);
	u64 wb = sim_effects.wbinvd;
	exit_with(v, EXIT_INVD, 0);
	CHECK(rip_advanced());
	exit_with(v, EXIT_WBINVD, 0);
	CHECK_EQ(sim_effects.wbinvd, wb + 2);
	static const u32 vmx[] = { EXIT_VMXON, EXIT_VMLAUNCH, EXIT_VMREAD,
				   EXIT_INVEPT, EXIT_INVVPID, EXIT_VMFUNC };
	for (unsigned i = 0; i < ARRAY_SIZE(vmx); i++) {
		CHECK_EQ(exit_with(v, vmx[i], 0), UXT_FATE_RESUME);
		CHECK_EQ(sim_vmcs_get(VMCS_ENTRY_INTR_INFO), UD_INFO);
		CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), RIP0);
	}
}
