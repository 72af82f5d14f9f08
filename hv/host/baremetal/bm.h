/* The bare-metal host OS: its small internal interfaces. */
#ifndef BM_H
#define BM_H

#include <stdarg.h>
#include "hv/types.h"
#include "hv/fmt.h"
#include "layout.h"

/* console.c: COM1, polled; kprintf formats as hv_snprintf does (hv/fmt.h:
 * %s %c %d %u %x %p, l/ll, width, 0 flag), with the core's formatter. */
void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
void serial_drain(void);
#define kvsnprintf hv_vsnprintf
#define ksnprintf hv_snprintf
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* The end of a run: results (Xen Test Framework style) and power-off. */
enum result { RES_SUCCESS, RES_SKIP, RES_ERROR, RES_FAILURE };
void result(enum result r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void poweroff(void) __attribute__((noreturn));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* idt.c, isr.S: exceptions and the timer. */
void idt_init(void);
void timer_start(unsigned hz);
void timer_stop(void);
extern volatile u64 timer_ticks;
/* Exception recovery for probes: run fn(arg); if it faults, returns the
 * vector + 1, else 0. */
int try_call(void (*fn)(void *), void *arg);

/* idt.c: load the (shared) IDT on an AP. */
void idt_load(void);

/* smp.c: the other CPUs. smp_start() starts APs until want CPUs are
 * online (returns the number online); smp_call() runs fn(arg) on an AP
 * and waits for it. */
#define SMP_WAKE_VECTOR 0xf0
unsigned smp_start(unsigned want);
unsigned smp_cpus(void);
unsigned this_cpu(void);
int smp_call(unsigned cpu, void (*fn)(void *), void *arg);
void lapic_eoi(void);

/* tss.c: this CPU's TSS, loaded into TR. */
void tss_init(unsigned cpu);

/* pmm.c: physical memory from the E820 map, in 4 KiB frames. */
void pmm_init(void);
u64 pmm_alloc(u64 bytes, u64 align); /* physical address, 0 on failure */
void pmm_free(u64 pa, u64 bytes);
u64 pmm_free_bytes(void);
u64 pmm_top(void); /* end of the highest usable RAM */

/* The config sector written by the runner: "key=value" lines. */
const char *config_get(const char *key); /* NULL if absent */
bool config_flag(const char *key);

/* A pointer to physical memory (identity-mapped). Laundered through asm so
 * the compiler does not treat low addresses as null-pointer arithmetic. */
static inline void *phys(u64 pa)
{
	void *p;
	__asm__("" : "=r"(p) : "0"(pa));
	return p;
}

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}
static inline void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

#endif
