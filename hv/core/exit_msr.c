/* RDMSR and WRMSR against the allow-list in tables/msrs.def. ECX names the
 * MSR, EDX:EAX holds the value (SDM Vol. 2, "RDMSR", "WRMSR"). Anything
 * not allowed raises #GP and leaves RIP on the instruction, as the CPU
 * does for an MSR it does not implement. */
#include "handlers.h"

struct msr_desc {
	u32 index;
	u8 kind; /* enum msr_kind */
	u64 arg;
};

static const struct msr_desc msr_table[MSR_NR_SLOTS] = {
#define X(name, idx, kind, arg) \
	[MSR_SLOT_##name] = { idx, MSR_KIND_##kind, arg },
#include "hv/tables/msrs.def"
#undef X
};

/* IA32_EFER bits a guest may set (SDM 2.2.1); the others are reserved. */
#define EFER_VALID (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

static int msr_slot(u32 index)
{
	switch (index) {
#define X(name, idx, kind, arg) case idx: return MSR_SLOT_##name;
#include "hv/tables/msrs.def"
#undef X
	}
	return -1;
}

/* A vCPU's MSRs after reset: RW and CANON slots start at their table value,
 * the others hold nothing per vCPU. Fixed at compile time, so that a reset
 * (every vCPU creation and fork reset) is one copy. */
#define MSR_RESET_VAL(kind, arg) \
	(MSR_KIND_##kind == MSR_KIND_RW || MSR_KIND_##kind == MSR_KIND_CANON ? (u64)(arg) : 0)
static const u64 msr_reset_val[MSR_NR_SLOTS] = {
#define X(name, idx, kind, arg) [MSR_SLOT_##name] = MSR_RESET_VAL(kind, arg),
#include "hv/tables/msrs.def"
#undef X
};
_Static_assert(sizeof(msr_reset_val) == sizeof(((struct hv_vcpu *)0)->msr), "one value per slot");

void msr_reset(struct hv_vcpu *v)
{
	hv_memcpy(v->msr, msr_reset_val, sizeof(v->msr));
}

/* 48-bit linear addresses (4-level paging): bits 63:47 all equal. */
static bool canonical(u64 a)
{
	return (u64)((s64)(a << 16) >> 16) == a;
}

/* Each PAT entry must be a defined memory type: 0 (UC), 1 (WC), 4 (WT),
 * 5 (WP), 6 (WB) or 7 (UC-); anything else is #GP (SDM 11.12.2). An
 * invalid PAT in the VMCS would fail VM entry instead. */
static bool pat_valid(u64 pat)
{
	for (unsigned i = 0; i < 8; i++) {
		u8 t = (u8)(pat >> (8 * i));
		if (t > 7 || t == 2 || t == 3)
			return false;
	}
	return true;
}

/* IA32_EFER: reserved bits are #GP, and LME cannot change while paging is
 * on (SDM 9.8.5). LMA is read-only: it follows LME && CR0.PG, so the
 * guest's LMA bit is ignored and the current one kept (exit_cr.c updates
 * it when CR0.PG changes). */
static bool efer_write(u64 val)
{
	u64 old = vmr(VMCS_GUEST_IA32_EFER);
	if (val & ~EFER_VALID)
		return false;
	if (((old ^ val) & EFER_LME) && (guest_cr0() & CR0_PG))
		return false;
	vmw(VMCS_GUEST_IA32_EFER, (val & ~EFER_LMA) | (old & EFER_LMA));
	return true;
}

/* MSRs that live in guest-state VMCS fields. The VM-entry checks (SDM
 * 26.3.1) would reject a bad value there, so check it here and #GP. */
static bool vmcs_msr_write(const struct msr_desc *m, u64 val)
{
	switch (m->index) {
	case MSR_IA32_EFER:
		return efer_write(val);
	case MSR_IA32_PAT:
		if (!pat_valid(val))
			return false;
		break;
	case MSR_IA32_FS_BASE:
	case MSR_IA32_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!canonical(val))
			return false;
		break;
	}
	vmw((u32)m->arg, val);
	return true;
}

static u64 msr_read(const struct hv_vcpu *v, int slot)
{
	const struct msr_desc *m = &msr_table[slot];
	switch (m->kind) {
	case MSR_KIND_RO:
		return m->arg;
	case MSR_KIND_VMCS:
		return vmr((u32)m->arg);
	default:
		return v->msr[slot];
	}
}

static bool msr_write(struct hv_vcpu *v, int slot, u64 val)
{
	const struct msr_desc *m = &msr_table[slot];
	switch (m->kind) {
	case MSR_KIND_RO:
		return false;
	case MSR_KIND_VMCS:
		return vmcs_msr_write(m, val);
	case MSR_KIND_CANON:
		if (!canonical(val))
			return false;
		break;
	}
	v->msr[slot] = val;
	return true;
}

unsigned handle_rdmsr(struct hv_vcpu *v)
{
	int slot = msr_slot((u32)reg_get(v, RCX));
	if (slot < 0) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	u64 val = msr_read(v, slot);
	reg_set(v, RAX, (u32)val); /* the upper halves are cleared */
	reg_set(v, RDX, val >> 32);
	advance_rip(v);
	return UXT_FATE_RESUME;
}

unsigned handle_wrmsr(struct hv_vcpu *v)
{
	int slot = msr_slot((u32)reg_get(v, RCX));
	u64 val = reg_get_edx_eax(v);
	if (slot < 0 || !msr_write(v, slot, val)) {
		inject_gp(v);
		return UXT_FATE_RESUME;
	}
	advance_rip(v);
	return UXT_FATE_RESUME;
}
