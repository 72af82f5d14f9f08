/* The IDT: every exception reports and stops the machine (unless a probe
 * in try_call() expected it); the PIT drives a tick counter on IRQ 0. */
#include "bm.h"

struct frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
	u64 vector, error, rip, cs, rflags, rsp, ss;
};

struct gate {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
} __attribute__((packed));

static struct gate idt[256] __attribute__((aligned(16)));
volatile u64 timer_ticks;
extern u64 try_rsp;
void try_unwind(int code) __attribute__((noreturn));
void isr_dispatch(struct frame *f);

#define STUBS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) \
	X(11) X(12) X(13) X(14) X(16) X(17) X(18) X(19) X(20) X(32) X(39) X(240)
#define X(n) extern char isr##n[];
STUBS(X)
#undef X

static void set_gate(unsigned vec, void *fn)
{
	u64 a = (u64)(uintptr_t)fn;
	idt[vec] = (struct gate){ .off0 = (u16)a, .sel = 0x08, .type = 0x8e,
				  .off1 = (u16)(a >> 16), .off2 = (u32)(a >> 32) };
}

void idt_load(void)
{
	struct __attribute__((packed)) { u16 limit; u64 base; } d = {
		sizeof(idt) - 1, (u64)(uintptr_t)idt };
	__asm__ volatile("lidt %0" ::"m"(d));
}

void idt_init(void)
{
#define X(n) set_gate(n, isr##n);
	STUBS(X)
#undef X
	idt_load();
	/* Remap the PICs to 32-47, all lines masked. */
	outb(0x20, 0x11); outb(0xa0, 0x11);
	outb(0x21, 32);   outb(0xa1, 40);
	outb(0x21, 4);    outb(0xa1, 2);
	outb(0x21, 1);    outb(0xa1, 1);
	outb(0x21, 0xff); outb(0xa1, 0xff);
}

void timer_start(unsigned hz)
{
	unsigned div = 1193182 / hz;
	outb(0x43, 0x34);
	outb(0x40, (u8)div);
	outb(0x40, (u8)(div >> 8));
	outb(0x21, 0xfe);
	__asm__ volatile("sti");
}

void timer_stop(void)
{
	__asm__ volatile("cli");
	outb(0x21, 0xff);
}

void isr_dispatch(struct frame *f)
{
	if (f->vector == 32) {
		timer_ticks++;
		outb(0x20, 0x20);
		return;
	}
	if (f->vector == 39) /* spurious IRQ 7 */
		return;
	if (f->vector == SMP_WAKE_VECTOR) { /* an AP woken for its mailbox */
		lapic_eoi();
		return;
	}
	if (try_rsp)
		try_unwind((int)f->vector + 1);
	u64 cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	panic("host exception %lu error 0x%lx at rip 0x%lx (cr2 0x%lx, rsp 0x%lx)",
	      f->vector, f->error, f->rip, cr2, f->rsp);
}
