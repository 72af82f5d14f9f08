/* A 64-bit TSS per CPU: the CPU needs a valid TR, and so does VM entry
 * (the host-state TR selector must not be 0). */
#include "bm.h"

struct tss {
	u32 rsvd0;
	u64 rsp[3];
	u64 rsvd1;
	u64 ist[7];
	u64 rsvd2;
	u16 rsvd3, iomap;
} __attribute__((packed));

static struct tss tss[MAX_CPUS] __attribute__((aligned(16)));
extern u64 gdt[];

void tss_init(unsigned cpu)
{
	u64 base = (u64)(uintptr_t)&tss[cpu], limit = sizeof(struct tss) - 1;
	tss[cpu].iomap = sizeof(struct tss);
	u64 *d = &gdt[TSS_SEL(cpu) / 8];
	d[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
	       ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	d[1] = base >> 32;
	__asm__ volatile("ltr %w0" ::"r"((u16)TSS_SEL(cpu)));
}
