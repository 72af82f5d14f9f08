/* The simulated VMCS: an array of 64-bit values in the VMCS frame, one per
 * field of tables/vmcs_fields.def (placed as slot_of says). Reads and writes are
 * truncated to the field's width, as the hardware does. */
#include "hv/arch.h"
#include "hv/exits.h"
#include "sim.h"

_Static_assert(VMCS_NR_FIELDS * 8 <= PAGE_SIZE, "VMCS fields fit a frame");

static u64 *current_vmcs;

struct sim_effects sim_effects;
u32 sim_fail_vmcs_init;

static inline __attribute__((always_inline)) u64 width_mask(u32 enc)
{
	unsigned w = vmcs_field_width(enc);
	return w == 8 ? ~0ull : (1ull << (8 * w)) - 1;
}

int arch_vmcs_init(struct hv_vcpu *v, void *va, u64 vmcs_mfn)
{
	(void)v;
	(void)vmcs_mfn;
	/* The fields only: nothing reads the rest of the frame (every fork
	 * reset runs this for each vCPU, and 4 KiB each was a tenth of
	 * what a reset wrote). As on hardware, the region is written
	 * before VMCLEAR or VMPTRLD refuses it: a vCPU reset that fails has
	 * lost its old VMCS. */
	hv_memset(va, 0, arch_vmcs_state_bytes());
	if (sim_fail_vmcs_init && --sim_fail_vmcs_init == 0)
		return -HV_EINVAL;
	return 0;
}

u32 arch_vmcs_state_bytes(void)
{
	return VMCS_NR_FIELDS * sizeof(u64);
}

void arch_vmcs_fini(struct hv_vcpu *v)
{
	if (current_vmcs == hv_vcpu_vmcs_va(v))
		current_vmcs = NULL;
}

void arch_vmcs_load(struct hv_vcpu *v)
{
	current_vmcs = hv_vcpu_vmcs_va(v);
}

/* Where each field lives in the simulated VMCS: the vCPU state fields
 * (what a fork copies from its parent, and a reset copies again) first,
 * in the table's order, then the others. A fork and every fork reset then
 * copy one block, in one call, instead of a run of state fields at a time
 * (the table has 7), which cost 3% of the exits fuzz target's time.
 * Each field's place is counted at compile time: in these enums a state
 * field's pad entry adds one to the count of those before it (so the next
 * field's value is one higher), another field's pad adds nothing. */
enum vmcs_state_slot {
#define X(name, enc) SLOT_S_##name, SLOT_S_PAD_##name = SLOT_S_##name + (VMCS_IS_VCPU_STATE(enc) ? 1 : 0) - 1,
#include "hv/tables/vmcs_fields.def"
#undef X
	VMCS_NR_STATE
};
enum vmcs_other_slot {
#define X(name, enc) SLOT_O_##name, SLOT_O_PAD_##name = SLOT_O_##name + (VMCS_IS_VCPU_STATE(enc) ? 0 : 1) - 1,
#include "hv/tables/vmcs_fields.def"
#undef X
	VMCS_NR_OTHER
};
_Static_assert(VMCS_NR_STATE + VMCS_NR_OTHER == VMCS_NR_FIELDS, "every field has a place");

static const u16 slot_of[VMCS_NR_FIELDS] = {
#define X(name, enc) VMCS_IS_VCPU_STATE(enc) ? SLOT_S_##name : VMCS_NR_STATE + SLOT_O_##name,
#include "hv/tables/vmcs_fields.def"
#undef X
};

/* The field's place in the simulated VMCS, or -1 if the table lacks it. */
static inline __attribute__((always_inline)) int slot(u32 enc)
{
	int i = vmcs_field_index(enc);
	return i < 0 ? -1 : slot_of[i];
}

void arch_vmcs_copy_state(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	/* Both hold values already cut to their field's width. */
	hv_memcpy(hv_vcpu_vmcs_va(dst), hv_vcpu_vmcs_va(src), VMCS_NR_STATE * sizeof(u64));
	current_vmcs = hv_vcpu_vmcs_va(dst);
}

u64 arch_vmread(u32 enc)
{
	int i = slot(enc);
	if (i < 0 || !current_vmcs)
		return 0; /* VMfailValid on hardware; the core never asks */
	return current_vmcs[i];
}

void arch_vmwrite(u32 enc, u64 val)
{
	int i = slot(enc);
	if (i < 0 || !current_vmcs)
		return;
	current_vmcs[i] = val & width_mask(enc);
}

int sim_vmcs_set(u32 enc, u64 val)
{
	int i = slot(enc);
	if (i < 0 || !current_vmcs)
		return -1;
	current_vmcs[i] = val & width_mask(enc);
	return 0;
}

u64 sim_vmcs_get(u32 enc)
{
	return arch_vmread(enc);
}

void arch_invept(u64 eptp)
{
	(void)eptp;
	sim_effects.invept++;
}

void arch_invvpid(u16 vpid)
{
	(void)vpid;
	sim_effects.invvpid++;
}

void arch_wbinvd(void)
{
	sim_effects.wbinvd++;
}

void arch_set_xcr0(u64 xcr0)
{
	sim_effects.xcr0 = xcr0;
}
