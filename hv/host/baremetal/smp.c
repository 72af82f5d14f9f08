/* The host's second CPU (and more): started with INIT-SIPI-SIPI through
 * the local APIC, then parked in `sti; hlt` until the BSP hands it a
 * function to run (a mailbox and a wake-up IPI). */
#include "bm.h"

#define LAPIC 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_PENDING BIT(12)

extern const u8 ap_tramp[], ap_tramp_end[];
u64 ap_boot_rsp;
void ap_main(void);

struct mbox {
	volatile u32 cmd, done;
	void (*volatile fn)(void *);
	void *volatile arg;
};
static struct mbox mbox[MAX_CPUS];
static u8 ap_stacks[MAX_CPUS][16384] __attribute__((aligned(16)));
static volatile u32 online = 1;
static volatile u32 booting;

static u32 lapic_read(u32 reg) { return *(volatile u32 *)phys(LAPIC + reg); }
static void lapic_write(u32 reg, u32 v) { *(volatile u32 *)phys(LAPIC + reg) = v; }

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void icr(u32 dest, u32 lo)
{
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & ICR_PENDING); i++)
		cpu_relax();
}

static void delay(u64 ticks)
{
	u64 t = rdtsc();
	while (rdtsc() - t < ticks)
		cpu_relax();
}

unsigned smp_cpus(void)
{
	return online;
}

unsigned this_cpu(void)
{
	u32 r[4];
	cpuid(1, 0, r);
	return r[1] >> 24;
}

void ap_main(void)
{
	unsigned cpu = this_cpu();
	idt_load();
	tss_init(cpu);
	lapic_write(LAPIC_SVR, 0x1ff);
	__atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
	booting = 0;
	struct mbox *m = &mbox[cpu < MAX_CPUS ? cpu : 0];
	for (;;) {
		__asm__ volatile("cli");
		if (m->cmd == m->done) {
			__asm__ volatile("sti; hlt");
			continue;
		}
		m->fn(m->arg);
		__atomic_store_n(&m->done, m->cmd, __ATOMIC_SEQ_CST);
	}
}

/* Start every AP (broadcast INIT, then SIPI) and wait for want CPUs in
 * all; returns how many are online. APIC IDs are taken as 0..n-1. */
unsigned smp_start(unsigned want)
{
	if (want <= online || want > MAX_CPUS)
		return online;
	lapic_write(LAPIC_SVR, 0x1ff);
	memcpy(phys(AP_TRAMPOLINE), ap_tramp, (size_t)(ap_tramp_end - ap_tramp));
	ap_boot_rsp = (u64)(uintptr_t)(ap_stacks[1] + sizeof(ap_stacks[1]));
	for (unsigned cpu = 1; cpu < want; cpu++) {
		ap_boot_rsp = (u64)(uintptr_t)(ap_stacks[cpu] + sizeof(ap_stacks[cpu]));
		booting = 1;
		icr(cpu, 0x4500);                          /* INIT */
		delay(100000);
		icr(cpu, 0x4600 | (AP_TRAMPOLINE >> 12));  /* SIPI */
		delay(20000);
		if (booting)
			icr(cpu, 0x4600 | (AP_TRAMPOLINE >> 12));
		for (u64 t = rdtsc(); booting && rdtsc() - t < 50000000;)
			cpu_relax();
		if (booting)
			break;
	}
	return online;
}

/* Run fn(arg) on cpu and wait for it to return. */
int smp_call(unsigned cpu, void (*fn)(void *), void *arg)
{
	if (cpu == 0 || cpu >= online || cpu >= MAX_CPUS)
		return -1;
	struct mbox *m = &mbox[cpu];
	m->fn = fn;
	m->arg = arg;
	u32 want = m->cmd + 1;
	__atomic_store_n(&m->cmd, want, __ATOMIC_SEQ_CST);
	icr(cpu, SMP_WAKE_VECTOR);
	while (m->done != want)
		cpu_relax();
	return 0;
}
