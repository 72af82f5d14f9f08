/* The boot scenarios: each a test with result SUCCESS, SKIP, ERROR or
 * FAILURE, run by the bare-metal host (hv/host/baremetal). */
#include "scenario.h"

/* The host itself: timer interrupts, memory allocation, a probe fault. */
static void probe_ud(void *arg)
{
	(void)arg;
	__asm__ volatile("ud2");
}

static enum result host_alive(void)
{
	timer_start(1000);
	u64 t0 = timer_ticks;
	while (timer_ticks < t0 + 5)
		__asm__ volatile("hlt");
	timer_stop();
	u64 a = pmm_alloc(1 << 20, 1 << 21);
	CHECK(a && !(a & ((1 << 21) - 1)), "allocation 0x%lx", a);
	memset((void *)(uintptr_t)a, 0x5a, 1 << 20);
	pmm_free(a, 1 << 20);
	int v = try_call(probe_ud, NULL);
	CHECK(v == 7, "probe returned %d", v);
	kprintf("host: %lu timer ticks, allocator and fault recovery work\n",
		timer_ticks - t0);
	return RES_SUCCESS;
}

bool host_selftest_ok(void);
bool host_selftest_ok(void)
{
	return host_alive() == RES_SUCCESS;
}

enum result sc_refuse(void);
enum result sc_load(void);
enum result sc_guest64(void);
enum result sc_realmode(void);
enum result sc_triple(void);
enum result sc_hostile(void);
enum result sc_multi(void);
enum result sc_depriv(void);
enum result sc_depriv_attack(void);
enum result sc_fork(void);

static const struct scenario scenarios[] = {
	{ "host", "the host OS alone: interrupts, memory, fault recovery", host_alive },
	{ "refuse", "the hypervisor must refuse to load (config: expect=...)", sc_refuse },
	{ "load", "load the hypervisor (VMXON), check it, unload it (VMXOFF)", sc_load },
	{ "guest64", "a 64-bit guest: CPUID, MSR, CR, port I/O, MMIO, hypercalls, memory, HLT", sc_guest64 },
	{ "realmode", "a real-mode guest (unrestricted guest)", sc_realmode },
	{ "triple", "a guest triple-faults: only its domain ends", sc_triple },
	{ "hostile", "a hostile guest: random hypercalls, CPUID, port I/O, then unowned memory", sc_hostile },
	{ "multi", "five domains at once: 64-bit, real mode, triple fault, hostile, 64-bit", sc_multi },
	{ "depriv", "de-privilege the host on every CPU; it carries on in the host container", sc_depriv },
	{ "depriv_attack", "the de-privileged host reads and writes hypervisor and guest memory, makes bad VMCALLs", sc_depriv_attack },
	{ "fork", "vmfork: a template, lazy and eager children diverge, hints, re-merge, every page checked", sc_fork },
};

const struct scenario *scenario_find(const char *name)
{
	for (unsigned i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}
