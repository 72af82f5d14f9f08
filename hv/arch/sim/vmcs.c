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

/* Runs of consecutive state fields (by index), worked out on first use:
 * every fork and fork reset copies them, a run at a time. */
struct field_run {
	u16 first, n;
};

static unsigned state_runs(const struct field_run **out)
{
	static const bool state[VMCS_NR_FIELDS] = {
#define X(name, enc) VMCS_IS_VCPU_STATE(enc),
#include "hv/tables/vmcs_fields.def"
#undef X
	};
	static struct field_run runs[VMCS_NR_FIELDS];
	static unsigned nr_runs;
	if (!nr_runs) {
		for (unsigned i = 0; i < VMCS_NR_FIELDS; i++) {
			if (!state[i])
				continue;
			if (nr_runs && runs[nr_runs - 1].first + runs[nr_runs - 1].n == i)
				runs[nr_runs - 1].n++;
			else
				runs[nr_runs++] = (struct field_run){ (u16)i, 1 };
		}
	}
	*out = runs;
	return nr_runs;
}

void arch_vmcs_copy_state(struct hv_vcpu *dst, struct hv_vcpu *src)
{
	/* Both arrays hold values already cut to their field's width. */
	const u64 *from = hv_vcpu_vmcs_va(src);
	u64 *to = hv_vcpu_vmcs_va(dst);
	const struct field_run *runs;
	unsigned nr = state_runs(&runs);
	for (unsigned r = 0; r < nr; r++)
		hv_memcpy(to + runs[r].first, from + runs[r].first, runs[r].n * sizeof(*to));
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
