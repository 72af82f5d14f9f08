/* The simulated VMCS: an array of 64-bit values in the VMCS frame, indexed
 * by the field's position in tables/vmcs_fields.def. Reads and writes are
 * truncated to the field's width, as the hardware does. */
#include "hv/arch.h"
#include "hv/exits.h"
#include "sim.h"

_Static_assert(VMCS_NR_FIELDS * 8 <= PAGE_SIZE, "VMCS fields fit a frame");

static u64 *current_vmcs;

struct sim_effects sim_effects;

static u64 width_mask(u32 enc)
{
	unsigned w = vmcs_field_width(enc);
	return w == 8 ? ~0ull : (1ull << (8 * w)) - 1;
}

int arch_vmcs_init(struct hv_vcpu *v, void *va, u64 vmcs_mfn)
{
	(void)v;
	(void)vmcs_mfn;
	hv_memset(va, 0, PAGE_SIZE);
	return 0;
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

/* Which fields a fork copies, by index. */
static const bool state_field[VMCS_NR_FIELDS] = {
#define X(name, enc) VMCS_IS_VCPU_STATE(enc),
#include "hv/tables/vmcs_fields.def"
#undef X
};

void arch_vmcs_copy_state(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	/* Both arrays hold values already cut to their field's width. Every
	 * fork and fork reset runs this: a copy per run of consecutive state
	 * fields (the table has 7), found as it goes (a list made on first
	 * use would make the first fork of a process run other code than the
	 * later ones, which AFL++ counts as instability). */
	const u64 *from = hv_vcpu_vmcs_va(src);
	u64 *to = hv_vcpu_vmcs_va(dst);
	for (unsigned i = 0; i < VMCS_NR_FIELDS;) {
		if (!state_field[i]) {
			i++;
			continue;
		}
		unsigned end = i + 1;
		while (end < VMCS_NR_FIELDS && state_field[end])
			end++;
		hv_memcpy(to + i, from + i, (end - i) * sizeof(*to));
		i = end;
	}
	current_vmcs = to;
}

u64 arch_vmread(u32 enc)
{
	int i = vmcs_field_index(enc);
	if (i < 0 || !current_vmcs)
		return 0; /* VMfailValid on hardware; the core never asks */
	return current_vmcs[i];
}

void arch_vmwrite(u32 enc, u64 val)
{
	int i = vmcs_field_index(enc);
	if (i < 0 || !current_vmcs)
		return;
	current_vmcs[i] = val & width_mask(enc);
}

int sim_vmcs_set(u32 enc, u64 val)
{
	int i = vmcs_field_index(enc);
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
