/* The bare-metal host OS: boots, sets up its console, interrupts and
 * memory, then runs the scenario the config sector names (harness/boot). */
#include "bm.h"
#include "scenario.h"

void kmain(void);

static const char *cpu_vendor(char buf[13])
{
	u32 r[4];
	cpuid(0, 0, r);
	memcpy(buf, &r[1], 4);
	memcpy(buf + 4, &r[3], 4);
	memcpy(buf + 8, &r[2], 4);
	buf[12] = 0;
	return buf;
}

void kmain(void)
{
	char vendor[13];
	serial_init();
	idt_init();
	tss_init(0);
	pmm_init();
	u32 r[4];
	cpuid(1, 0, r);
	kprintf("uxen-host: booted, cpu %s family/model 0x%x, %lu MiB free RAM\n",
		cpu_vendor(vendor), r[0], pmm_free_bytes() >> 20);
	const char *name = config_get("scenario");
	if (!name) {
		result(RES_ERROR, "no scenario in the config sector");
		poweroff();
	}
	const struct scenario *s = scenario_find(name);
	if (!s) {
		result(RES_ERROR, "unknown scenario '%s'", name);
		poweroff();
	}
	kprintf("uxen-host: scenario %s: %s\n", s->name, s->what);
	enum result res = s->run();
	result(res, "%s", s->name);
	poweroff();
}
