/* Scripted guest scenarios for the trace generator: what a booting guest,
 * a hostile guest and a long benchmark mix look like as VM exits. */
#include <string.h>
#include "gen.h"
#include "hv/exits.h"
#include "hv/regs.h"


/* Guest-physical layout of the scenario guests. */
#define PML4 0x10000ull
#define PDPT 0x11000ull
#define PD_LOW 0x12000ull
#define PD_HIGH 0x13000ull
#define CODE 0x2000ull
#define TEXT 0x3000ull
#define INFO 0x4000ull
#define MMIO_GFN 0xfe000ull
#define MMIO_GPA (MMIO_GFN << 12)

/* ---- building blocks: one VM exit each ---- */

static int cpuid(struct gen *g, u32 leaf, u32 sub)
{
	gen_reg(g, RAX, leaf);
	gen_reg(g, RCX, sub);
	return gen_exit(g, EXIT_CPUID, 0, 2);
}

static int rdmsr(struct gen *g, u32 msr)
{
	gen_reg(g, RCX, msr);
	return gen_exit(g, EXIT_RDMSR, 0, 2);
}

static int wrmsr(struct gen *g, u32 msr, u64 val)
{
	gen_reg(g, RCX, msr);
	gen_reg(g, RAX, val & 0xffffffff);
	gen_reg(g, RDX, val >> 32);
	return gen_exit(g, EXIT_WRMSR, 0, 2);
}

/* Exit qualification for control-register accesses (SDM Table 28-3). */
static int mov_to_cr(struct gen *g, unsigned cr, unsigned gpr, u64 val)
{
	gen_reg(g, gpr, val);
	return gen_exit(g, EXIT_CR_ACCESS, cr | gpr << 8, 3);
}

static int mov_from_cr(struct gen *g, unsigned cr, unsigned gpr)
{
	return gen_exit(g, EXIT_CR_ACCESS, cr | 1u << 4 | gpr << 8, 3);
}

/* Exit qualification for I/O instructions (SDM Table 28-5). */
static u64 io_qual(u16 port, unsigned size, bool in)
{
	return (size - 1) | (in ? 1u << 3 : 0) | (u64)port << 16;
}

static int out(struct gen *g, u16 port, unsigned size, u64 val)
{
	gen_reg(g, RAX, val);
	return gen_exit(g, EXIT_IO_INSTRUCTION, io_qual(port, size, false), 1);
}

static int in(struct gen *g, u16 port, unsigned size)
{
	return gen_exit(g, EXIT_IO_INSTRUCTION, io_qual(port, size, true), 1);
}

/* REP OUTSB from linear address gla (64-bit address size). */
static int rep_outsb(struct gen *g, u16 port, u64 gla, u64 count)
{
	gen_reg(g, RSI, gla);
	gen_reg(g, RCX, count);
	gen_field(g, VMCS_GUEST_LINEAR_ADDRESS, gla);
	gen_field(g, VMCS_EXIT_INSTRUCTION_INFO, 2u << 7);
	return gen_exit(g, EXIT_IO_INSTRUCTION,
			io_qual(port, 1, false) | 1u << 4 | 1u << 5, 2);
}

/* An EPT violation at gpa caused by the instruction at rip (qualification
 * bits: 0 read, 1 write, 7 linear address valid, 8 translated access). */
static int ept_violation(struct gen *g, u64 rip, u64 gpa, bool write)
{
	gen_field(g, VMCS_GUEST_RIP, rip);
	gen_field(g, VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	gen_field(g, VMCS_GUEST_LINEAR_ADDRESS, gpa);
	return gen_exit(g, EXIT_EPT_VIOLATION, (write ? 2u : 1u) | 1u << 7 | 1u << 8, 0);
}

static int vmcall(struct gen *g, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	gen_reg(g, RAX, nr);
	gen_reg(g, RDI, a0);
	gen_reg(g, RSI, a1);
	gen_reg(g, RDX, a2);
	gen_reg(g, R10, a3);
	return gen_exit(g, EXIT_VMCALL, 0, 3);
}

static s64 complete(struct gen *g, u64 value)
{
	return gen_call(g, HC_IOREQ_COMPLETE, g->domid, g->vcpu, value, 0, NULL, 0);
}

/* ---- guest set-up ---- */

static void put64(u8 *p, u64 v)
{
	uxt_put64(p, v);
}

/* Identity-mapped page tables: 0-2 MiB and the MMIO page's 2 MiB region. */
static void load_page_tables(struct gen *g, u16 d)
{
	static u8 page[4096];
	memset(page, 0, sizeof(page));
	put64(page, PDPT | 3);
	gen_call(g, HC_LOAD, d, PML4, 0, 0, page, sizeof(page));
	memset(page, 0, sizeof(page));
	put64(page, PD_LOW | 3);
	put64(page + 3 * 8, PD_HIGH | 3);
	gen_call(g, HC_LOAD, d, PDPT, 0, 0, page, sizeof(page));
	memset(page, 0, sizeof(page));
	put64(page, 0x0 | 0x83); /* 2 MiB, present, writable */
	gen_call(g, HC_LOAD, d, PD_LOW, 0, 0, page, sizeof(page));
	memset(page, 0, sizeof(page));
	put64(page + ((MMIO_GPA >> 21) & 511) * 8, (MMIO_GPA & ~0x1fffffull) | 0x83);
	gen_call(g, HC_LOAD, d, PD_HIGH, 0, 0, page, sizeof(page));
}

/* Code the MMIO exits point at: mov [rax], ebx; mov eax, [rbx+4];
 * mov byte [rdi], 0x41; movzx ecx, word [rsi]. */
static const u8 mmio_code[] = { 0x89, 0x18, 0x8b, 0x43, 0x04, 0xc6, 0x07, 0x41,
				0x0f, 0xb7, 0x0e };

static void set_state(struct gen *g, u16 d, const u64 (*kv)[2], unsigned n)
{
	u8 buf[16 * 32];
	for (unsigned i = 0; i < n && i < 32; i++) {
		uxt_put32(buf + 16 * i, (u32)kv[i][0]);
		uxt_put32(buf + 16 * i + 4, 0);
		uxt_put64(buf + 16 * i + 8, kv[i][1]);
	}
	gen_call(g, HC_VCPU_SET_STATE, d, 0, 0, 0, buf, 16 * n);
}

/* A 32-bit protected-mode guest without paging, as a boot loader leaves
 * it; the scenario then turns on long mode through CR and MSR exits. */
static s64 boot_domain(struct gen *g, u64 frames)
{
	static const u64 state[][2] = {
		{ VMCS_GUEST_CR0, 0x11 }, { VMCS_GUEST_CR4, 0 },
		{ VMCS_GUEST_IA32_EFER, 0 }, { VMCS_GUEST_CS_AR, 0xc09b },
		{ VMCS_GUEST_RIP, 0x1000 }, { VMCS_GUEST_RSP, 0x8000 },
		{ 0xf000 | RBX, 0x2badb002 },
	};
	s64 d = gen_call(g, HC_DOMAIN_CREATE, 1, frames, 0, 0, NULL, 0);
	if (d < 0)
		return d;
	gen_call(g, HC_POPULATE, (u64)d, 0, 512, 9, NULL, 0);
	gen_call(g, HC_POPULATE, (u64)d, 0x200, 16, 0, NULL, 0);
	gen_call(g, HC_MMIO_MAP, (u64)d, MMIO_GFN, 1, 0, NULL, 0);
	load_page_tables(g, (u16)d);
	gen_call(g, HC_LOAD, (u64)d, CODE, 0, 0, mmio_code, sizeof(mmio_code));
	static const char text[] = "hello from a uXen guest\n";
	gen_call(g, HC_LOAD, (u64)d, TEXT, 0, 0, text, sizeof(text) - 1);
	set_state(g, (u16)d, state, sizeof(state) / sizeof(state[0]));
	gen_call(g, HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0, NULL, 0);
	gen_select(g, (u16)d, 0);
	return d;
}

static void console(struct gen *g, const char *s)
{
	for (; *s; s++)
		out(g, 0xe9, 1, (u8)*s);
}

/* Long mode on: PAE, CR3, EFER.LME, then CR0.PG (SDM 10.8.5). */
static void enter_long_mode(struct gen *g)
{
	mov_to_cr(g, 4, RCX, 0x20);
	mov_to_cr(g, 3, RAX, PML4);
	mov_from_cr(g, 3, RDX);
	rdmsr(g, MSR_IA32_EFER);
	wrmsr(g, MSR_IA32_EFER, 0x100);
	mov_to_cr(g, 0, RAX, 0x80000031);
	gen_field(g, VMCS_GUEST_CS_AR, 0xa09b);
}

static void mmio_exits(struct gen *g)
{
	gen_reg(g, RAX, MMIO_GPA + 0x10);
	gen_reg(g, RBX, 0xdeadbeef);
	ept_violation(g, CODE, MMIO_GPA + 0x10, true);
	complete(g, 0);
	gen_reg(g, RBX, MMIO_GPA + 0x0c);
	ept_violation(g, CODE + 2, MMIO_GPA + 0x10, false);
	complete(g, 0x12345678);
	gen_reg(g, RDI, MMIO_GPA + 0x20);
	ept_violation(g, CODE + 5, MMIO_GPA + 0x20, true);
	complete(g, 0);
	gen_reg(g, RSI, MMIO_GPA + 0x30);
	ept_violation(g, CODE + 8, MMIO_GPA + 0x30, false);
	complete(g, 0xbeef);
}

static int scenario_boot(struct gen *g, u64 n)
{
	(void)n;
	gen_mark(g, "boot: a guest boots, switches to long mode and uses its devices");
	s64 d = boot_domain(g, 1024);
	if (d < 0)
		return -1;
	static const u32 leaves[][2] = { { 0, 0 }, { 1, 0 }, { 7, 0 }, { 0xd, 0 },
					 { 0xd, 1 }, { 0x40000000, 0 }, { 0x40000001, 0 },
					 { 0x80000000, 0 }, { 0x80000001, 0 } };
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		cpuid(g, leaves[i][0], leaves[i][1]);
	console(g, "boot\n");
	enter_long_mode(g);
	wrmsr(g, MSR_IA32_LSTAR, 0xffffffff81000000ull);
	rdmsr(g, MSR_IA32_LSTAR);
	rdmsr(g, MSR_IA32_APIC_BASE);
	wrmsr(g, MSR_IA32_KERNEL_GS_BASE, 0xffff888000000000ull);
	rep_outsb(g, 0xe9, TEXT, 24);
	gen_mark(g, "boot: devices in the host (port I/O and MMIO)");
	out(g, 0x3f8, 1, 'x');
	complete(g, 0);
	in(g, 0x64, 1);
	complete(g, 0x1c);
	in(g, 0xe9, 1);
	out(g, 0x80, 2, 0x1234);
	complete(g, 0);
	mmio_exits(g);
	gen_mark(g, "boot: time, caches, XCR0, hypercalls, interrupts");
	gen_exit(g, EXIT_RDTSC, 0, 2);
	gen_exit(g, EXIT_RDTSCP, 0, 3);
	gen_reg(g, RCX, 0);
	gen_reg(g, RAX, 7);
	gen_reg(g, RDX, 0);
	gen_exit(g, EXIT_XSETBV, 0, 3);
	gen_exit(g, EXIT_WBINVD, 0, 2);
	vmcall(g, HC_VERSION, 0, 0, 0, 0);
	vmcall(g, HC_CONSOLE_WRITE, TEXT, 24, 0, 0);
	vmcall(g, HC_GET_INFO, INFO, 0, 0, 0);
	gen_call(g, HC_INJECT_IRQ, (u64)d, 0, 0x30, 0, NULL, 0);
	gen_exit(g, EXIT_INTERRUPT_WINDOW, 0, 0);
	gen_exit(g, EXIT_EXTERNAL_INTERRUPT, 0, 0);
	gen_exit(g, EXIT_PREEMPTION_TIMER, 0, 0);
	gen_exit(g, EXIT_HLT, 0, 1);
	cpuid(g, 1, 0);
	vmcall(g, HC_YIELD, 0, 0, 0, 0);
	console(g, "bye\n");
	vmcall(g, HC_SHUTDOWN, 0, 0, 0, 0);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0);
	return g->failed ? -1 : 0;
}

/* ---- a hostile guest and a hostile host ---- */

static void hostile_hypercalls(struct gen *g, u16 victim)
{
	vmcall(g, 0x3f, 0, 0, 0, 0);                      /* no such call */
	vmcall(g, 0xffffffffffffffffull, 0, 0, 0, 0);
	vmcall(g, HC_DOMAIN_DESTROY, victim, 0, 0, 0);    /* host only */
	vmcall(g, HC_POPULATE, victim, 0, 1, 0);
	vmcall(g, HC_CONSOLE_WRITE, 0x7fffffffffffull, 16, 0, 0); /* not its RAM */
	vmcall(g, HC_CONSOLE_WRITE, TEXT, 1ull << 40, 0, 0);      /* absurd length */
	vmcall(g, HC_CONSOLE_WRITE, TEXT, 0, 0, 0);
	vmcall(g, HC_GET_INFO, 0x100000000ull, 0, 0, 0); /* unmapped */
	vmcall(g, HC_GET_INFO, ~0ull, 0, 0, 0);          /* out of range */
	vmcall(g, HC_MEMORY_RELEASE, 0x5000, 1, 0, 0);   /* not owned */
	vmcall(g, HC_MEMORY_RELEASE, 0x200, 1ull << 30, 0, 0);
	vmcall(g, HC_VERSION, 1, 2, 3, 4);               /* stray arguments */
	vmcall(g, HC_YIELD, 0, 0, 0, 1);
	gen_field(g, VMCS_GUEST_SS_AR, 0xc0f3);          /* user mode (DPL 3) */
	vmcall(g, HC_SHUTDOWN, 0, 0, 0, 0);
	gen_field(g, VMCS_GUEST_SS_AR, 0xc093);
	vmcall(g, HC_MEMORY_RELEASE, 0x20f, 1, 0, 0);    /* its own: fine */
}

static void hostile_instructions(struct gen *g)
{
	static const u32 vmx[] = { EXIT_VMXON, EXIT_VMLAUNCH, EXIT_VMREAD,
				   EXIT_VMWRITE, EXIT_INVEPT, EXIT_VMFUNC };
	for (unsigned i = 0; i < sizeof(vmx) / sizeof(vmx[0]); i++)
		gen_exit(g, vmx[i], 0, 3);
	wrmsr(g, MSR_IA32_FEATURE_CONTROL, 0x5);     /* read-only */
	rdmsr(g, 0xc0010000);                        /* not on the list */
	wrmsr(g, 0x1234, 1);
	wrmsr(g, MSR_IA32_LSTAR, 0x0000800000000000ull); /* non-canonical */
	mov_to_cr(g, 4, RAX, 0x2020);                /* CR4.VMXE */
	mov_to_cr(g, 0, RAX, 0x80000001ull | 1ull << 40);
	mov_to_cr(g, 0, RAX, 0x80000000);            /* PG without PE */
	mov_to_cr(g, 8, RAX, 0x1f);
	gen_reg(g, RCX, 1);
	gen_exit(g, EXIT_XSETBV, 0, 3);              /* XCR1 */
	gen_reg(g, RCX, 0);
	gen_reg(g, RAX, 4);
	gen_exit(g, EXIT_XSETBV, 0, 3);              /* AVX without SSE */
	gen_reg(g, RAX, 0);
	gen_exit(g, EXIT_XSETBV, 0, 3);              /* x87 off */
	out(g, 0x3f8, 4, 0xffffffff);                /* forwarded even when odd */
	complete(g, 0);
	gen_reg(g, RCX, 1ull << 40);
	rep_outsb(g, 0xe9, TEXT + 0xff0, 1ull << 40); /* capped at the page end */
}

static void hostile_host(struct gen *g, u16 d)
{
	static const u8 bad_state[16] = { 0x16, 0x6c }; /* HOST_RIP: not guest state */
	gen_call(g, HC_DOMAIN_DESTROY, 63, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_DESTROY, 0, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_PAUSE, 1ull << 20, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_CREATE, 0, 16, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_CREATE, 9, 16, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_CREATE, 1, 1ull << 40, 0, 0, NULL, 0);
	gen_call(g, HC_POPULATE, d, 0, 1, 0, NULL, 0);           /* already mapped */
	gen_call(g, HC_POPULATE, d, 0x1001, 512, 9, NULL, 0);    /* misaligned */
	gen_call(g, HC_POPULATE, d, 0x1000, 1, 5, NULL, 0);      /* bad order */
	gen_call(g, HC_POPULATE, d, 1ull << 40, 1, 0, NULL, 0);  /* beyond the p2m */
	gen_call(g, HC_POPULATE, d, 0x8000, 1u << 20, 0, NULL, 0); /* over its limit */
	gen_call(g, HC_POPULATE, d, MMIO_GFN, 1, 0, NULL, 0);    /* over MMIO */
	gen_call(g, HC_LOAD, d, 0x7000000, 0, 0, "x", 1);        /* unpopulated */
	gen_call(g, HC_LOAD, d, 0x1000, 0, 0, NULL, 0);
	gen_call(g, HC_VCPU_SET_STATE, d, 0, 0, 0, bad_state, 16);
	gen_call(g, HC_VCPU_SET_STATE, d, 7, 0, 0, bad_state, 16);
	gen_call(g, HC_VCPU_SET_STATE, d, 0, 0, 0, bad_state, 15);
	gen_call(g, HC_IOREQ_COMPLETE, d, 0, 0, 0, NULL, 0);     /* nothing pending */
	gen_call(g, HC_INJECT_IRQ, d, 0, 3, 0, NULL, 0);         /* not an IRQ vector */
	gen_call(g, HC_SET_PERMS, d, 0x200, 1, 2, NULL, 0);      /* W without R */
	gen_call(g, HC_SET_PERMS, d, 0x5000, 1, 1, NULL, 0);     /* not mapped */
	gen_call(g, HC_MMIO_MAP, d, 0, 1, 0, NULL, 0);           /* over RAM */
	gen_call(g, HC_UNMAP, d, 1ull << 36, 1, 0, NULL, 0);
	gen_call(g, HC_CONSOLE_WRITE, 0, 1, 0, 0, NULL, 0);      /* guest only */
	gen_call(g, 0x3f, 0, 0, 0, 0, NULL, 0);
}

/* A domain that ends itself by exit; returns nothing, the others go on. */
static void doomed_domain(struct gen *g, const char *what, u32 reason, u64 qual,
			  u64 gpa)
{
	gen_mark(g, what);
	s64 d = boot_domain(g, 1024);
	if (d < 0)
		return;
	if (reason == EXIT_EPT_VIOLATION)
		ept_violation(g, CODE, gpa, qual & 2);
	else
		gen_exit(g, reason, qual, 2);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0);
}

static int scenario_hostile(struct gen *g, u64 n)
{
	(void)n;
	gen_mark(g, "hostile: a victim domain holds a secret");
	s64 victim = boot_domain(g, 1024);
	if (victim < 0)
		return -1;
	gen_call(g, HC_LOAD, (u64)victim, 0x5000, 0, 0, "SECRET", 6);
	gen_mark(g, "hostile: an attacker domain probes hypercalls and instructions");
	s64 att = boot_domain(g, 1024);
	if (att < 0)
		return -1;
	enter_long_mode(g);
	hostile_hypercalls(g, (u16)victim);
	hostile_instructions(g);
	gen_mark(g, "hostile: the host itself misbehaves");
	hostile_host(g, (u16)att);
	gen_mark(g, "hostile: the attacker reaches for memory it does not own");
	gen_select(g, (u16)att, 0);
	/* Each domain has its own guest-physical space: the victim's frames
	 * are simply not reachable. Unpopulated space is all it can aim at. */
	ept_violation(g, CODE, 0x80005000ull, false);
	doomed_domain(g, "hostile: a guest writes beyond its RAM", EXIT_EPT_VIOLATION,
		      2, 0x40000000);
	doomed_domain(g, "hostile: a guest triple faults", EXIT_TRIPLE_FAULT, 0, 0);
	doomed_domain(g, "hostile: an exit the hypervisor does not handle", EXIT_RDPMC, 0, 0);
	doomed_domain(g, "hostile: a failed VM entry", EXIT_ENTRY_FAIL_GUEST, 0, 0);
	doomed_domain(g, "hostile: an EPT misconfiguration exit", EXIT_EPT_MISCONFIG, 0,
		      0x1000);
	gen_mark(g, "hostile: the victim runs on, unharmed");
	gen_select(g, (u16)victim, 0);
	cpuid(g, 0x40000000, 0);
	vmcall(g, HC_CONSOLE_WRITE, 0x5000, 6, 0, 0);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)att, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)victim, 0, 0, 0, NULL, 0);
	return g->failed ? -1 : 0;
}

/* ---- vmfork and page sharing ---- */

/* Touch a page of the selected vCPU's domain as the guest would: a read
 * (a lazy fork fills its entry) or a write (a shared frame is copied). */
static void touch(struct gen *g, u64 gfn, bool write)
{
	ept_violation(g, CODE, gfn << 12, write);
}

static s64 fork_child(struct gen *g, s64 parent, bool lazy)
{
	s64 c = gen_call(g, HC_FORK, (u64)parent, lazy, 0, 0, NULL, 0);
	if (c > 0) {
		gen_call(g, HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0, NULL, 0);
		gen_select(g, (u16)c, 0);
	}
	return c;
}

static int scenario_fork(struct gen *g, u64 n)
{
	(void)n;
	gen_mark(g, "fork: a template boots, then is forked lazily and eagerly");
	s64 t = boot_domain(g, 1024);
	if (t < 0)
		return -1;
	enter_long_mode(g);
	console(g, "template\n");
	gen_call(g, HC_POPULATE_ZERO, (u64)t, 0x300, 16, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_PAUSE, (u64)t, 0, 0, 0, NULL, 0);
	s64 lazy = fork_child(g, t, true);
	if (lazy < 0)
		return -1;
	gen_mark(g, "fork: the lazy child fills on first touch and copies on write");
	cpuid(g, 0x40000000, 0);
	touch(g, 0x201, false);
	touch(g, 0x201, true);
	touch(g, 0x10, true); /* inside a 2 MiB mapping: split, then copy */
	touch(g, 0x300, true); /* the zero page: a fresh zeroed frame */
	vmcall(g, HC_GET_INFO, INFO, 0, 0, 0); /* a hypervisor write: copies too */
	vmcall(g, HC_GUEST_HINT, 0x202, 2, 0, 0);
	touch(g, 0x5000, false); /* the template has nothing there: crashes */
	gen_mark(g, "fork: an eager child, a fork of it, and a reset");
	s64 eager = fork_child(g, t, false);
	if (eager < 0)
		return -1;
	touch(g, 0x203, true);
	touch(g, 0x204, true);
	out(g, 0xe9, 1, 'e');
	gen_call(g, HC_DOMAIN_PAUSE, (u64)eager, 0, 0, 0, NULL, 0);
	gen_call(g, HC_RESET, (u64)eager, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_UNPAUSE, (u64)eager, 0, 0, 0, NULL, 0);
	gen_select(g, (u16)eager, 0);
	touch(g, 0x203, true);
	gen_call(g, HC_DOMAIN_PAUSE, (u64)eager, 0, 0, 0, NULL, 0);
	s64 grandchild = fork_child(g, eager, true);
	if (grandchild < 0)
		return -1;
	touch(g, 0x203, false);
	touch(g, 0x205, true);
	gen_mark(g, "fork: re-merge, hints, the host's bad requests");
	gen_call(g, HC_MERGE, 64, 0, 0, 0, NULL, 0);
	gen_call(g, HC_MERGE, 4096, 0, 0, 0, NULL, 0);
	gen_call(g, HC_HINT, (u64)grandchild, 0x206, 4, 1, NULL, 0);
	gen_call(g, HC_HINT, (u64)grandchild, 0x206, 4, 0, NULL, 0);
	gen_call(g, HC_FORK, (u64)grandchild, 0, 0, 0, NULL, 0);  /* running */
	gen_call(g, HC_FORK, (u64)t, 2, 0, 0, NULL, 0);           /* bad mode */
	gen_call(g, HC_RESET, (u64)t, 0, 0, 0, NULL, 0);          /* not a fork */
	gen_call(g, HC_RESET, (u64)eager, 0, 0, 0, NULL, 0);      /* a template */
	gen_call(g, HC_DOMAIN_UNPAUSE, (u64)t, 0, 0, 0, NULL, 0); /* frozen */
	gen_call(g, HC_LOAD, (u64)t, 0x1000, 0, 0, "x", 1);
	gen_call(g, HC_MERGE, 0, 0, 0, 0, NULL, 0);
	gen_call(g, HC_HINT, (u64)grandchild, 0, 1, 7, NULL, 0);
	gen_mark(g, "fork: the template goes first; its forks keep it alive");
	gen_call(g, HC_DOMAIN_DESTROY, (u64)t, 0, 0, 0, NULL, 0);
	gen_select(g, (u16)grandchild, 0);
	touch(g, 0x207, false);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)eager, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)grandchild, 0, 0, 0, NULL, 0);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)lazy, 0, 0, 0, NULL, 0);
	return g->failed ? -1 : 0;
}

/* ---- a long, deterministic mix of every kind of exit (benchmarks) ---- */

static u64 rng_next(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One exit of each kind the benchmarks mix; r varies the operands. */
static void k_cpuid(struct gen *g, u64 r) { cpuid(g, (r >> 8) % 2 ? 1 : 0x40000000, 0); }
static void k_rdmsr(struct gen *g, u64 r)
{
	static const u32 msrs[] = { MSR_IA32_EFER, MSR_IA32_LSTAR, MSR_IA32_STAR,
				    MSR_IA32_APIC_BASE, MSR_IA32_TSC_AUX };
	rdmsr(g, msrs[(r >> 8) % 5]);
}
static void k_wrmsr(struct gen *g, u64 r) { wrmsr(g, MSR_IA32_TSC_AUX, r >> 32); }
static void k_cr3(struct gen *g, u64 r) { (void)r; mov_to_cr(g, 3, RAX, PML4); }
static void k_cr0(struct gen *g, u64 r) { (void)r; mov_to_cr(g, 0, RAX, 0x80000031); }
static void k_console(struct gen *g, u64 r) { out(g, 0xe9, 1, (u8)"uXen\n"[(r >> 8) % 5]); }
static void k_out(struct gen *g, u64 r)
{
	out(g, 0x80, 1, r & 0xff);
	complete(g, 0);
}
static void k_in(struct gen *g, u64 r)
{
	in(g, 0x60, 1);
	complete(g, r & 0xff);
}
static void k_mmio(struct gen *g, u64 r)
{
	gen_reg(g, RAX, MMIO_GPA + 0x10);
	gen_reg(g, RBX, r & 0xffffffff);
	ept_violation(g, CODE, MMIO_GPA + 0x10, true);
	complete(g, 0);
}
static void k_rdtsc(struct gen *g, u64 r) { (void)r; gen_exit(g, EXIT_RDTSC, 0, 2); }
static void k_vmcall(struct gen *g, u64 r) { (void)r; vmcall(g, HC_VERSION, 0, 0, 0, 0); }
static void k_hlt(struct gen *g, u64 r) { (void)r; gen_exit(g, EXIT_HLT, 0, 1); }
static void k_extint(struct gen *g, u64 r) { (void)r; gen_exit(g, EXIT_EXTERNAL_INTERRUPT, 0, 0); }
static void k_timer(struct gen *g, u64 r) { (void)r; gen_exit(g, EXIT_PREEMPTION_TIMER, 0, 0); }

static const struct exit_kind {
	const char *name;
	void (*fn)(struct gen *g, u64 r);
	unsigned weight; /* share in the mix */
} exit_kinds[] = {
	{ "cpuid", k_cpuid, 3 },   { "rdmsr", k_rdmsr, 1 }, { "wrmsr", k_wrmsr, 1 },
	{ "cr3", k_cr3, 1 },       { "cr0", k_cr0, 1 },     { "console", k_console, 2 },
	{ "out", k_out, 1 },       { "in", k_in, 1 },       { "mmio", k_mmio, 1 },
	{ "rdtsc", k_rdtsc, 1 },   { "vmcall", k_vmcall, 1 }, { "hlt", k_hlt, 1 },
	{ "extint", k_extint, 1 }, { "timer", k_timer, 1 },
};
#define NR_KINDS (sizeof(exit_kinds) / sizeof(exit_kinds[0]))

static void mix_one(struct gen *g, u64 *seed)
{
	unsigned total = 0;
	for (unsigned i = 0; i < NR_KINDS; i++)
		total += exit_kinds[i].weight;
	u64 r = rng_next(seed);
	unsigned pick = (unsigned)(r % total);
	for (unsigned i = 0; i < NR_KINDS; i++) {
		if (pick < exit_kinds[i].weight) {
			exit_kinds[i].fn(g, r);
			return;
		}
		pick -= exit_kinds[i].weight;
	}
}

static int scenario_mix(struct gen *g, u64 n)
{
	gen_mark(g, "mix: a long deterministic mix of exits");
	s64 d = boot_domain(g, 1024);
	if (d < 0)
		return -1;
	enter_long_mode(g);
	u64 seed = 0x9e3779b97f4a7c15ull;
	while (g->exits < n && !g->failed)
		mix_one(g, &seed);
	gen_call(g, HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0);
	return g->failed ? -1 : 0;
}

/* "repeat-KIND": N exits of one kind after the boot prologue, so that the
 * cost of one exit is the difference between two values of N. */
static const struct exit_kind *repeat_kind;

static int scenario_repeat(struct gen *g, u64 n)
{
	s64 d = boot_domain(g, 1024);
	if (d < 0)
		return -1;
	enter_long_mode(g);
	u64 seed = 0x9e3779b97f4a7c15ull;
	for (u64 i = 0; i < n && !g->failed; i++)
		repeat_kind->fn(g, rng_next(&seed));
	gen_call(g, HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0);
	return g->failed ? -1 : 0;
}

const struct scenario scenarios[] = {
	{ "boot", "a guest boots into long mode and uses every kind of exit", scenario_boot, 4096 },
	{ "hostile", "hostile guests and a hostile host; only they suffer", scenario_hostile, 8192 },
	{ "fork", "vmfork (lazy, eager, of a fork), copy-on-write, reset, merge, hints", scenario_fork, 8192 },
	{ "mix", "N exits of a deterministic mix (default 1000)", scenario_mix, 4096 },
	{ "repeat-KIND", "N exits of one KIND: cpuid rdmsr wrmsr cr3 cr0 console out in mmio rdtsc vmcall hlt extint timer", NULL, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct scenario *scenario_find(const char *name)
{
	static struct scenario rep = { "repeat", "N exits of one kind", scenario_repeat, 4096 };
	if (!strncmp(name, "repeat-", 7)) {
		for (unsigned i = 0; i < NR_KINDS; i++)
			if (!strcmp(name + 7, exit_kinds[i].name)) {
				repeat_kind = &exit_kinds[i];
				return &rep;
			}
		return NULL;
	}
	for (const struct scenario *s = scenarios; s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}
