/* Hardware inputs of the simulated CPU: CPUID and the TSC. Replay feeds the
 * values recorded in a trace; otherwise a fixed CPU model answers, so every
 * hosted run is deterministic. */
#include "hv/arch.h"
#include "sim.h"

#define SIM_MAX_QUEUED 16

static struct {
	u32 leaf, sub, regs[4];
} cpuid_q[SIM_MAX_QUEUED];
static unsigned cpuid_n;
static u64 tsc_q[SIM_MAX_QUEUED];
static unsigned tsc_n, tsc_next;
static u64 model_tsc;

void sim_reset(void)
{
	sim_inputs_reset();
	model_tsc = 0;
	sim_effects = (struct sim_effects){ 0 };
	sim_fail_vmcs_init = 0;
}

void sim_inputs_reset(void)
{
	cpuid_n = 0;
	tsc_n = tsc_next = 0;
}

int sim_feed_cpuid(u32 leaf, u32 subleaf, const u32 regs[4])
{
	if (cpuid_n == SIM_MAX_QUEUED)
		return -1;
	cpuid_q[cpuid_n].leaf = leaf;
	cpuid_q[cpuid_n].sub = subleaf;
	for (int i = 0; i < 4; i++)
		cpuid_q[cpuid_n].regs[i] = regs[i];
	cpuid_n++;
	return 0;
}

int sim_feed_tsc(u64 tsc)
{
	if (tsc_n == SIM_MAX_QUEUED)
		return -1;
	tsc_q[tsc_n++] = tsc;
	return 0;
}

/* A Haswell-like CPU with VMX, XSAVE and AVX: enough for the policy code
 * to have something to hide and something to pass through. */
void sim_cpu_model(u32 leaf, u32 sub, u32 out[4])
{
	out[0] = out[1] = out[2] = out[3] = 0;
	switch (leaf) {
	case 0:
		out[0] = 0xd;
		out[1] = 0x756e6547; /* "Genu" */
		out[3] = 0x49656e69; /* "ineI" */
		out[2] = 0x6c65746e; /* "ntel" */
		break;
	case 1:
		out[0] = 0x000306c3;
		out[1] = 0x00010800;
		out[2] = 0x7ffafbff; /* VMX (bit 5), XSAVE, OSXSAVE, AVX ... */
		out[3] = 0xbfebfbff;
		break;
	case 7:
		if (sub == 0)
			out[1] = 0x000027ab;
		break;
	case 0xd:
		if (sub == 0) {
			out[0] = 0x7;
			out[1] = 0x340;
			out[2] = 0x340;
		} else if (sub == 1) {
			out[0] = 0x1;
		}
		break;
	case 0x80000000:
		out[0] = 0x80000008;
		break;
	case 0x80000001:
		out[2] = 0x21;
		out[3] = 0x2c100800;
		break;
	case 0x80000008:
		out[0] = 0x3027;
		break;
	}
}

void arch_cpuid(u32 leaf, u32 subleaf, u32 out[4])
{
	for (unsigned i = 0; i < cpuid_n; i++) {
		if (cpuid_q[i].leaf == leaf && cpuid_q[i].sub == subleaf) {
			for (int r = 0; r < 4; r++)
				out[r] = cpuid_q[i].regs[r];
			return;
		}
	}
	sim_cpu_model(leaf, subleaf, out);
}

u64 arch_rdtsc(void)
{
	if (tsc_next < tsc_n)
		return tsc_q[tsc_next++];
	model_tsc += 1000;
	return model_tsc;
}
