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

static const struct scenario scenarios[] = {
	{ "host", "the host OS alone: interrupts, memory, fault recovery", host_alive },
};

const struct scenario *scenario_find(const char *name)
{
	for (unsigned i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}
