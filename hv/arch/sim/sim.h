/* The simulated VMX backend's own API, used by hosted tools (replay, the
 * trace generator, tests, fuzzers) to feed the inputs that hardware would
 * provide: VMCS exit-information fields, CPUID results, the TSC. */
#ifndef HV_SIM_H
#define HV_SIM_H

#include "hv/types.h"

/* Set a field in the current VMCS. Returns -1 if enc is not a known field. */
int sim_vmcs_set(u32 enc, u64 val);
u64 sim_vmcs_get(u32 enc);
/* Host CPUID results and TSC reads for the next exit; when none is queued
 * the backend answers from a fixed, deterministic CPU model. */
void sim_inputs_reset(void);
void sim_reset(void); /* all of the above, the model TSC, sim_effects and
		       * sim_fail_vmcs_init */
int sim_feed_cpuid(u32 leaf, u32 subleaf, const u32 regs[4]);
int sim_feed_tsc(u64 tsc);
/* The deterministic CPU model, for generators that want to record it. */
void sim_cpu_model(u32 leaf, u32 subleaf, u32 out[4]);
/* Effects the core asked of the hardware, for tests. */
struct sim_effects {
	u64 invept, invvpid, wbinvd, xcr0;
};
extern struct sim_effects sim_effects;
/* A CPU that refuses a VMCS (VMCLEAR or VMPTRLD failing): the Nth call of
 * arch_vmcs_init() from now fails (1: the next one); 0: none. Counts down
 * to 0 as calls are made, so a test sees whether its failure happened. */
extern u32 sim_fail_vmcs_init;

#endif
