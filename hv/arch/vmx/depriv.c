/* De-privileging the running host (stage 5): the CPU that calls
 * deprivilege() goes on where it was, but in VMX non-root mode, inside the
 * host container (domain 0, HV_HOST_DOMID). The container's EPT maps all
 * host memory by identity except everything the host donated: the
 * hypervisor's image and the whole pool. That map is built once, before
 * the first CPU is de-privileged, and never changes: donated memory is the
 * hypervisor's for good (a frame the core frees is zeroed and stays in the
 * pool, even after HVOP_STOP), so no CPU can ever hold a translation of
 * the host's to a frame that belongs to a guest or the hypervisor, and no
 * cross-CPU EPT flush (shootdown) is needed.
 *
 * From the first de-privileged CPU on, nothing the host can still write
 * is trusted: the hypervisor has its own page tables, GDT, IDT, TSS and
 * stacks (all in its image, which the host cannot reach), the host-state
 * area of every VMCS points at them, and the host-OS callbacks the core
 * was started with (host code, host data) are replaced by ones inside the
 * image. The host talks to the hypervisor with VMCALL (hv_image.h, HVOP_*);
 * its addresses are checked against the memory it still owns. */
#include "core.h"
#include "vmx.h"
#include "vmx_insn.h"
#include "hv_image.h"
#include "depriv.h"

/* ---- the hypervisor's own root-mode environment ---- */

#define STACK_SIZE 16384
#define GDT_CODE 0x08
#define GDT_DATA 0x10
#define GDT_TSS(cpu) (0x18 + 16 * (cpu))

struct tss64 {
	u32 rsvd0;
	u64 rsp[3];
	u64 rsvd1;
	u64 ist[7];
	u64 rsvd2;
	u16 rsvd3, iomap;
} __attribute__((packed));

struct gate {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
} __attribute__((packed));

static u64 pt_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static u64 pt_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static u64 pt_pd[4][512] __attribute__((aligned(PAGE_SIZE)));
static u64 root_gdt[3 + 2 * HV_MAX_CPUS] __attribute__((aligned(16)));
static struct tss64 root_tss[HV_MAX_CPUS] __attribute__((aligned(16)));
static struct gate root_idt[32] __attribute__((aligned(16)));
static u8 stacks[HV_MAX_CPUS][STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
static u8 host_vmcs[HV_MAX_CPUS][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static u8 msr_bitmap[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
extern const u64 hv_root_isr_table[32] __attribute__((visibility("hidden")));
void vmx_host_exit(void) __attribute__((visibility("hidden")));

struct pcpu pcpu[HV_MAX_CPUS];

static u64 pa_of(const void *va)
{
	return (u64)(uintptr_t)va; /* the image runs identity-mapped */
}

static void *va_of(u64 pa)
{
	void *p;
	__asm__("" : "=r"(p) : "0"(pa));
	return p;
}

static void root_env_init(void)
{
	hv_memset(pt_pml4, 0, sizeof(pt_pml4));
	hv_memset(pt_pdpt, 0, sizeof(pt_pdpt));
	pt_pml4[0] = pa_of(pt_pdpt) | 3;
	for (u64 i = 0; i < 4; i++) {
		pt_pdpt[i] = pa_of(pt_pd[i]) | 3;
		for (u64 j = 0; j < 512; j++)
			pt_pd[i][j] = ((i << 30) + (j << 21)) | 0x83; /* P W PS */
	}
	root_gdt[0] = 0;
	root_gdt[1] = 0x00af9b000000ffffull; /* 64-bit code, accessed */
	root_gdt[2] = 0x00cf93000000ffffull; /* data, accessed */
	for (u32 c = 0; c < HV_MAX_CPUS; c++) {
		u64 base = pa_of(&root_tss[c]), limit = sizeof(struct tss64) - 1;
		hv_memset(&root_tss[c], 0, sizeof(root_tss[c]));
		root_tss[c].iomap = sizeof(struct tss64);
		u64 *d = &root_gdt[GDT_TSS(c) / 8];
		d[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x8bull << 40 |
		       ((base >> 24) & 0xff) << 56; /* busy: VM exit loads TR so */
		d[1] = base >> 32;
	}
	for (u32 v = 0; v < 32; v++) {
		u64 a = hv_root_isr_table[v];
		root_idt[v] = (struct gate){ .off0 = (u16)a, .sel = GDT_CODE, .type = 0x8e,
					     .off1 = (u16)(a >> 16), .off2 = (u32)(a >> 32) };
	}
	/* Intercept only the MSR writes that could reach the hypervisor:
	 * moving the local APIC over its memory, IA32_FEATURE_CONTROL. */
	hv_memset(msr_bitmap, 0, sizeof(msr_bitmap));
	msr_bitmap[2048 + MSR_APIC_BASE / 8] |= (u8)(1u << (MSR_APIC_BASE % 8));
	msr_bitmap[2048 + MSR_FEATURE_CONTROL / 8] |= (u8)(1u << (MSR_FEATURE_CONTROL % 8));
}

/* ---- serial output of last resort (panics) ---- */

static void com1_putc(char c)
{
	for (int i = 0; i < 100000; i++) {
		u8 lsr;
		__asm__ volatile("inb %1, %0" : "=a"(lsr) : "Nd"((u16)0x3fd));
		if (lsr & 0x20)
			break;
	}
	__asm__ volatile("outb %0, %1" ::"a"((u8)c), "Nd"((u16)0x3f8));
}

static void com1_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			com1_putc('\r');
		com1_putc(*s);
	}
}

__attribute__((noreturn)) static void machine_off(void)
{
	for (int i = 0; i < 1000000; i++) { /* let the UART drain */
		u8 lsr;
		__asm__ volatile("inb %1, %0" : "=a"(lsr) : "Nd"((u16)0x3fd));
		if (lsr & 0x40)
			break;
	}
	const char *s = "Shutdown";
	__asm__ volatile("outb %0, %1" ::"a"((u8)0x10), "Nd"((u16)0xf4));
	while (*s)
		__asm__ volatile("outb %0, %1" ::"a"((u8)*s++), "Nd"((u16)0x8900));
	__asm__ volatile("outw %0, %1" ::"a"((u16)0x2000), "Nd"((u16)0xb004));
	for (;;)
		__asm__ volatile("cli; hlt");
}

__attribute__((noreturn)) static void fatal(const char *msg)
{
	com1_puts("\nHYPERVISOR PANIC: ");
	com1_puts(msg);
	com1_puts("\nRESULT: FAILURE hypervisor panic\n");
	machine_off();
}

/* A fault in root mode: a hypervisor bug (NMIs return in the stub). */
void hv_root_fault(u64 vector, u64 error, u64 rip);
void hv_root_fault(u64 vector, u64 error, u64 rip)
{
	char msg[128];
	hv_snprintf(msg, sizeof(msg), "root-mode exception %llu, error 0x%llx, at rip 0x%llx",
		    (unsigned long long)vector, (unsigned long long)error,
		    (unsigned long long)rip);
	fatal(msg);
}

/* ---- the lock: one CPU in the core at a time ---- */

static volatile u32 big_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&big_lock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
}

static void unlock(void)
{
	__atomic_store_n(&big_lock, 0, __ATOMIC_RELEASE);
}

/* ---- the host container's EPT ---- */

#define EPT_PT_MAX 128 /* page tables for the donated memory: 256 MiB */
static u64 ept_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static u64 ept_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static u64 ept_pd[4][512] __attribute__((aligned(PAGE_SIZE)));
static u64 ept_pt[EPT_PT_MAX][512] __attribute__((aligned(PAGE_SIZE)));
static u64 don_pa, don_end;  /* the donated memory, 2 MiB aligned */
static u64 mem_first, mem_end;   /* the donated memory, exactly */
static u64 pool_first, pool_end; /* mfns */
static u64 host_eptp;
static const struct hv_host_ops *host_ops_saved;
static void *host_ctx_saved;
static bool env_ready;
struct depriv_stats dstats;

#define MMIO_HOLE 0xc0000000ull /* above: devices, uncached */

static u64 ept_leaf(u64 pa, bool large)
{
	u64 mt = pa >= MMIO_HOLE ? EPT_MT_UC : EPT_MT_WB;
	return pa | EPT_RWX | mt << EPT_MT_SHIFT | (large ? EPT_LARGE : 0);
}

/* Host memory in the 2 MiB blocks the donation touches: everything but
 * the donated bytes themselves. */
static bool host_owns(u64 pa)
{
	return pa < mem_first || pa >= mem_end;
}

/* Scrubbing and auditing the pool: a string store, and an OR over the
 * frame eight words at a time (the audit reads every free frame). */
static void frame_zero(u64 mfn)
{
	void *p = va_of(mfn << PAGE_SHIFT);
	u64 n = PAGE_SIZE / 8;
	__asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0ull) : "memory");
}

static bool frame_is_zero(u64 mfn)
{
	const u64 *p = va_of(mfn << PAGE_SHIFT);
	u64 acc = 0;
	for (u32 i = 0; i < PAGE_SIZE / 8; i += 8)
		acc |= p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] | p[i + 6] |
		       p[i + 7];
	return acc == 0;
}

static u64 *pte_of(u64 mfn)
{
	u64 pa = mfn << PAGE_SHIFT;
	if (pa < don_pa || pa >= don_end)
		return NULL;
	return &ept_pt[(pa - don_pa) >> 21][(pa >> PAGE_SHIFT) & 511];
}

static int host_ept_init(u64 mem_pa, u64 mem_bytes, u64 first_mfn, u64 nr)
{
	don_pa = mem_pa & ~((2ull << 20) - 1);
	don_end = (mem_pa + mem_bytes + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	mem_first = mem_pa;
	mem_end = mem_pa + mem_bytes;
	pool_first = first_mfn;
	pool_end = first_mfn + nr;
	if (don_end > 4ull << 30 || ((don_end - don_pa) >> 21) > EPT_PT_MAX)
		return -HV_ERANGE;
	hv_memset(ept_pml4, 0, sizeof(ept_pml4));
	hv_memset(ept_pdpt, 0, sizeof(ept_pdpt));
	ept_pml4[0] = pa_of(ept_pdpt) | EPT_RWX;
	for (u64 i = 0; i < 4; i++) {
		ept_pdpt[i] = pa_of(ept_pd[i]) | EPT_RWX;
		for (u64 j = 0; j < 512; j++) {
			u64 pa = (i << 30) + (j << 21);
			if (pa >= don_pa && pa < don_end) {
				u64 *pt = ept_pt[(pa - don_pa) >> 21];
				for (u64 k = 0; k < 512; k++) {
					u64 fpa = pa + (k << PAGE_SHIFT);
					pt[k] = host_owns(fpa) ? ept_leaf(fpa, false) : 0;
				}
				ept_pd[i][j] = pa_of(pt) | EPT_RWX;
			} else {
				ept_pd[i][j] = ept_leaf(pa, true);
			}
		}
	}
	host_eptp = pa_of(ept_pml4) | EPT_MT_WB | (3 << 3);
	/* Free pool frames hold nothing from now on (frames the core freed
	 * while the host was privileged went back unscrubbed). */
	for (u64 m = pool_first; m < pool_end; m++)
		if (frame_get(m)->type == FT_FREE)
			frame_zero(m);
	return 0;
}

static bool host_ept_present(u64 pa)
{
	if (pa >= 4ull << 30)
		return false;
	u64 *e = pte_of(pa >> PAGE_SHIFT);
	return e ? *e != 0 : true;
}

/* Memory the host may hand the hypervisor as a buffer: its own, outside
 * everything it donated (2 MiB aligned), below 4 GiB, without wrapping. */
bool host_range_ok(u64 pa, u64 len)
{
	if (len == 0)
		return true;
	if (pa + len < pa || pa + len > MMIO_HOLE)
		return false;
	return pa + len <= don_pa || pa >= don_end;
}

void *host_ptr(u64 pa)
{
	return va_of(pa);
}

static u64 host_protected_frames(void)
{
	u64 n = 0;
	for (u64 pa = don_pa; pa < don_end; pa += PAGE_SIZE)
		n += !host_ept_present(pa);
	return n;
}

/* The invariants of the host container: its EPT maps no byte of the
 * donated memory (image and pool, free frames included) and all the rest
 * by identity, as built; every free pool frame is zero. */
int host_ept_audit(char *msg, u32 len)
{
	if (!env_ready)
		return 0;
	for (u64 pa = don_pa; pa < don_end; pa += PAGE_SIZE) {
		u64 mfn = pa >> PAGE_SHIFT;
		bool want = host_owns(pa);
		u64 e = *pte_of(mfn);
		if ((e != 0) != want || (e && e != ept_leaf(pa, false))) {
			hv_snprintf(msg, len, "host EPT: mfn %llx is %s for the host, expected %s",
				    (unsigned long long)mfn, e ? "mapped" : "not mapped",
				    want ? "mapped" : "not mapped");
			return -1;
		}
	}
	for (u64 i = 0; i < 4; i++)
		for (u64 j = 0; j < 512; j++) {
			u64 pa = (i << 30) + (j << 21);
			if ((pa < don_pa || pa >= don_end) && ept_pd[i][j] != ept_leaf(pa, true)) {
				hv_snprintf(msg, len, "host EPT: 2 MiB block at %llx changed",
					    (unsigned long long)pa);
				return -1;
			}
		}
	if (ept_pml4[0] != (pa_of(ept_pdpt) | EPT_RWX)) {
		hv_snprintf(msg, len, "host EPT: PML4 changed");
		return -1;
	}
	for (u64 i = 0; i < 4; i++)
		if (ept_pdpt[i] != (pa_of(ept_pd[i]) | EPT_RWX)) {
			hv_snprintf(msg, len, "host EPT: PDPT entry %llu changed",
				    (unsigned long long)i);
			return -1;
		}
	for (u64 m = pool_first; hv.started && m < pool_end; m++)
		if (frame_get(m)->type == FT_FREE && !frame_is_zero(m)) {
			hv_snprintf(msg, len, "pool: free frame %llx is not zero",
				    (unsigned long long)m);
			return -1;
		}
	return 0;
}

/* ---- the host-OS callbacks once the host is de-privileged ---- */

static char logbuf[8192];
static u32 log_len;
static u64 log_dropped;

void depriv_log(const char *level, const char *msg, u32 len)
{
	u32 lv = (u32)hv_strlen(level);
	if (log_len + lv + 2 + len + 1 > sizeof(logbuf)) {
		log_dropped++;
		return;
	}
	hv_memcpy(logbuf + log_len, level, lv);
	log_len += lv;
	logbuf[log_len++] = ':';
	logbuf[log_len++] = ' ';
	hv_memcpy(logbuf + log_len, msg, len);
	log_len += len;
	logbuf[log_len++] = '\n';
}

u32 depriv_log_read(char *out, u32 cap)
{
	u32 n = log_len < cap ? log_len : cap;
	while (n && n < log_len && logbuf[n - 1] != '\n')
		n--; /* whole lines only */
	if (!n && log_len)
		n = log_len < cap ? log_len : cap;
	hv_memcpy(out, logbuf, n);
	for (u32 i = n; i < log_len; i++)
		logbuf[i - n] = logbuf[i];
	log_len -= n;
	return n;
}

/* Pool frames: the frame table says which are free (single frames from
 * the bottom, aligned blocks from the top, as the host did). None is in
 * the host's EPT: taking or freeing one changes no host mapping. */
static u64 d_alloc_frames(void *ctx, unsigned order)
{
	(void)ctx;
	u64 n = 1ull << order, found = INVALID_MFN;
	if (order > 16 || n > pool_end - pool_first)
		return INVALID_MFN;
	if (n == 1) {
		for (u64 m = pool_first; m < pool_end; m++)
			if (frame_get(m)->type == FT_FREE) {
				found = m;
				break;
			}
	} else {
		for (u64 m = (pool_end - n) & ~(n - 1); m >= pool_first; m -= n) {
			u64 k = 0;
			while (k < n && frame_get(m + k)->type == FT_FREE)
				k++;
			if (k == n) {
				found = m;
				break;
			}
			if (m < n)
				break;
		}
	}
	return found;
}

/* Back to the pool (never to the host), with nothing of its last owner
 * left in it. */
static void d_free_frame(void *ctx, u64 mfn)
{
	(void)ctx;
	if (mfn < pool_first || mfn >= pool_end)
		fatal("freeing a frame outside the pool");
	frame_zero(mfn);
}

static void *d_map_frame(void *ctx, u64 mfn)
{
	(void)ctx;
	return va_of(mfn << PAGE_SHIFT);
}

static void d_unmap_frame(void *ctx, void *va)
{
	(void)ctx;
	(void)va;
}

/* Identity-mapped: frame mfn is at mfn << PAGE_SHIFT. */
static bool d_direct_map(void *ctx, u64 *base)
{
	(void)ctx;
	*base = 0;
	return true;
}

static void d_log(void *ctx, enum hv_log_level lvl, const char *msg, u32 len)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	(void)ctx;
	if (lvl <= HV_LOG_INFO)
		depriv_log(names[lvl], msg, len);
}

static u64 d_counter_ns(void *ctx)
{
	(void)ctx;
	return rdtsc_raw();
}

static void d_kick_cpu(void *ctx, u32 cpu)
{
	(void)ctx;
	(void)cpu;
}

static u32 d_this_cpu(void *ctx)
{
	(void)ctx;
	return vmx_this_cpu();
}

static void d_notify(void *ctx, u16 domid, u16 vcpu, unsigned fate)
{
	(void)ctx;
	(void)domid;
	(void)vcpu;
	(void)fate;
}

__attribute__((noreturn)) static void d_panic(void *ctx, const char *msg)
{
	(void)ctx;
	fatal(msg);
}

static const struct hv_host_ops depriv_ops = {
	.alloc_frames = d_alloc_frames,
	.free_frame = d_free_frame,
	.map_frame = d_map_frame,
	.unmap_frame = d_unmap_frame,
	.direct_map = d_direct_map,
	.log = d_log,
	.counter_ns = d_counter_ns,
	.kick_cpu = d_kick_cpu,
	.this_cpu = d_this_cpu,
	.notify = d_notify,
	.panic = d_panic,
};

/* ---- entering the host container ---- */

#define PIN_NMI_EXITING BIT(3)
#define PROC_USE_MSR_BITMAP BIT(28)
#define PROC_SECONDARY BIT(31)
#define PROC2_EPT BIT(1)
#define PROC2_RDTSCP BIT(3)
#define PROC2_UG BIT(7)
#define PROC2_INVPCID BIT(12)
#define PROC2_XSAVES BIT(20)
#define EXIT_HOST64 BIT(9)
#define EXIT_SAVE_EFER BIT(20)
#define EXIT_LOAD_EFER BIT(21)
#define ENTRY_IA32E BIT(9)
#define ENTRY_LOAD_EFER BIT(15)

static void seg_from_gdt(u64 gdt, u16 limit, u16 sel, u64 *base, u32 *lim, u32 *ar)
{
	if ((sel & ~3u) == 0 || (sel | 7u) > limit) {
		*base = 0;
		*lim = 0;
		*ar = 0x10000; /* unusable */
		return;
	}
	const u8 *d = va_of(gdt + (sel & ~7u));
	u64 lo = 0, hi = 0;
	hv_memcpy(&lo, d, 8);
	*base = (lo >> 16 & 0xffffff) | (lo >> 56 & 0xff) << 24;
	if (!(lo & BIT(44))) { /* system descriptor: 16 bytes */
		hv_memcpy(&hi, d + 8, 8);
		*base |= (hi & 0xffffffff) << 32;
	}
	u32 l = (u32)(lo & 0xffff) | (u32)(lo >> 32 & 0xf0000);
	if (lo & BIT(55))
		l = l << 12 | 0xfff;
	*lim = l;
	*ar = (u32)(lo >> 40) & 0xf0ff;
	if (lo & BIT(44))
		*ar |= 1; /* accessed: the CPU sets it on any load */
}

static void guest_seg(unsigned i, u64 gdt, u16 glim, u16 sel)
{
	u64 base;
	u32 lim, ar;
	seg_from_gdt(gdt, glim, sel, &base, &lim, &ar);
	vmwrite_safe(VMCS_GUEST_ES_SEL + 2 * i, sel);
	vmwrite_safe(VMCS_GUEST_ES_BASE + 2 * i, base);
	vmwrite_safe(VMCS_GUEST_ES_LIMIT + 2 * i, lim);
	vmwrite_safe(VMCS_GUEST_ES_AR + 2 * i, ar);
}

static int setup_host_vmcs(u32 cpu, const u64 *ret_slot, u64 rflags)
{
	u64 pa = pa_of(host_vmcs[cpu]);
	hv_memset(host_vmcs[cpu], 0, PAGE_SIZE);
	*(u32 *)host_vmcs[cpu] = vmx_caps.revision;
	vmx_vmcs_clear_current();
	if (vmclear(pa) || vmx_vmcs_load_pa(pa))
		return -HV_EINVAL;
	vmx_pinned_vmcs[cpu] = pa;

	/* Controls: nothing exits but what must (CPUID, VMCALL, VMX
	 * instructions, XSETBV, INVD, GETSEC), EPT violations, CR4.VMXE and
	 * two MSR writes. Interrupts, I/O, HLT, CR3, exceptions go straight
	 * to the host. */
	arch_vmwrite(VMCS_PIN_BASED_CONTROLS, 0);
	arch_vmwrite(VMCS_PROC_BASED_CONTROLS, PROC_USE_MSR_BITMAP | PROC_SECONDARY);
	arch_vmwrite(VMCS_SECONDARY_CONTROLS, PROC2_EPT | PROC2_RDTSCP | PROC2_UG |
						  PROC2_INVPCID | PROC2_XSAVES);
	arch_vmwrite(VMCS_EXIT_CONTROLS, EXIT_HOST64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER);
	arch_vmwrite(VMCS_ENTRY_CONTROLS, ENTRY_IA32E | ENTRY_LOAD_EFER);
	vmwrite_safe(VMCS_MSR_BITMAP, pa_of(msr_bitmap));
	vmwrite_safe(VMCS_EPT_POINTER, host_eptp);
	vmwrite_safe(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite_safe(VMCSX_PAGE_FAULT_ERRCODE_MASK, 0);
	vmwrite_safe(VMCSX_PAGE_FAULT_ERRCODE_MATCH, 0);
	vmwrite_safe(VMCS_CR3_TARGET_COUNT, 0);
	vmwrite_safe(VMCSX_EXIT_MSR_STORE_COUNT, 0);
	vmwrite_safe(VMCSX_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite_safe(VMCSX_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite_safe(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite_safe(VMCS_TSC_OFFSET, 0);
	vmwrite_safe(VMCS_VMCS_LINK_POINTER, ~0ull);
	u64 cr4 = read_cr4();
	vmwrite_safe(VMCS_CR0_GUEST_HOST_MASK, 0);
	vmwrite_safe(VMCS_CR0_READ_SHADOW, read_cr0());
	vmwrite_safe(VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE_BIT);
	vmwrite_safe(VMCS_CR4_READ_SHADOW, cr4 & ~CR4_VMXE_BIT);

	/* Guest state: the host exactly as it is now, returning 0 from this
	 * call (the stub restored its callee-saved registers). */
	struct desc_ptr gdt, idt;
	sgdt(&gdt);
	sidt(&idt);
	guest_seg(0, gdt.base, gdt.limit, READ_SEG(es));
	guest_seg(1, gdt.base, gdt.limit, READ_SEG(cs));
	guest_seg(2, gdt.base, gdt.limit, READ_SEG(ss));
	guest_seg(3, gdt.base, gdt.limit, READ_SEG(ds));
	guest_seg(4, gdt.base, gdt.limit, READ_SEG(fs));
	guest_seg(5, gdt.base, gdt.limit, READ_SEG(gs));
	u16 ldtr;
	__asm__ volatile("sldt %0" : "=r"(ldtr));
	guest_seg(6, gdt.base, gdt.limit, ldtr);
	guest_seg(7, gdt.base, gdt.limit, str());
	vmwrite_safe(VMCS_GUEST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmwrite_safe(VMCS_GUEST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmwrite_safe(VMCS_GUEST_GDTR_BASE, gdt.base);
	vmwrite_safe(VMCS_GUEST_GDTR_LIMIT, gdt.limit);
	vmwrite_safe(VMCS_GUEST_IDTR_BASE, idt.base);
	vmwrite_safe(VMCS_GUEST_IDTR_LIMIT, idt.limit);
	vmwrite_safe(VMCS_GUEST_CR0, read_cr0());
	vmwrite_safe(VMCS_GUEST_CR3, read_cr3());
	vmwrite_safe(VMCS_GUEST_CR4, cr4);
	u64 dr7;
	__asm__ volatile("mov %%dr7, %0" : "=r"(dr7));
	vmwrite_safe(VMCS_GUEST_DR7, dr7);
	vmwrite_safe(VMCSX_GUEST_DEBUGCTL, 0);
	vmwrite_safe(VMCS_GUEST_IA32_EFER, rdmsr(MSR_EFER));
	vmwrite_safe(VMCS_GUEST_SYSENTER_CS, rdmsr(0x174));
	vmwrite_safe(VMCS_GUEST_SYSENTER_ESP, rdmsr(0x175));
	vmwrite_safe(VMCS_GUEST_SYSENTER_EIP, rdmsr(0x176));
	vmwrite_safe(VMCS_GUEST_RIP, *ret_slot);
	vmwrite_safe(VMCS_GUEST_RSP, pa_of(ret_slot) + 8);
	vmwrite_safe(VMCS_GUEST_RFLAGS, rflags);
	vmwrite_safe(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite_safe(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmwrite_safe(VMCS_GUEST_PENDING_DBG, 0);

	/* Host state: only the hypervisor's own memory. */
	vmwrite_safe(VMCS_HOST_CR0, read_cr0());
	vmwrite_safe(VMCS_HOST_CR3, pa_of(pt_pml4));
	vmwrite_safe(VMCS_HOST_CR4, cr4);
	vmwrite_safe(VMCS_HOST_CS_SEL, GDT_CODE);
	vmwrite_safe(VMCS_HOST_SS_SEL, GDT_DATA);
	vmwrite_safe(VMCS_HOST_DS_SEL, GDT_DATA);
	vmwrite_safe(VMCS_HOST_ES_SEL, GDT_DATA);
	vmwrite_safe(VMCS_HOST_FS_SEL, 0);
	vmwrite_safe(VMCS_HOST_GS_SEL, 0);
	vmwrite_safe(VMCS_HOST_TR_SEL, GDT_TSS(cpu));
	vmwrite_safe(VMCS_HOST_FS_BASE, 0);
	vmwrite_safe(VMCS_HOST_GS_BASE, 0);
	vmwrite_safe(VMCS_HOST_TR_BASE, pa_of(&root_tss[cpu]));
	vmwrite_safe(VMCS_HOST_GDTR_BASE, pa_of(root_gdt));
	vmwrite_safe(VMCS_HOST_IDTR_BASE, pa_of(root_idt));
	vmwrite_safe(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
	vmwrite_safe(VMCS_HOST_SYSENTER_CS, 0);
	vmwrite_safe(VMCS_HOST_SYSENTER_ESP, 0);
	vmwrite_safe(VMCS_HOST_SYSENTER_EIP, 0);
	u8 *top = stacks[cpu] + STACK_SIZE;
	*(struct pcpu **)(uintptr_t)(top - 8) = &pcpu[cpu];
	vmwrite_safe(VMCS_HOST_RSP, pa_of(top - 16));
	vmwrite_safe(VMCS_HOST_RIP, (u64)(uintptr_t)vmx_host_exit);
	return 0;
}

static char depriv_why[160];

/* Called by the entry stub (depriv_entry.S) with the caller's return-address
 * slot: 0 and the VMCS current and complete, so that VMLAUNCH "returns" 0
 * to the caller in non-root mode; or an error, nothing changed. */
int vmx_depriv_prepare(const u64 *ret_slot);
int vmx_depriv_prepare(const u64 *ret_slot)
{
	u64 rflags;
	__asm__ volatile("pushfq; pop %0; cli" : "=r"(rflags));
	u32 cpu = vmx_this_cpu();
	int rc = 0;
	if (cpu >= HV_MAX_CPUS)
		return -HV_ENOSPC;
	lock();
	if (pcpu[cpu].on || !hv.started) {
		rc = -HV_EBUSY;
		goto out;
	}
	if (!env_ready) {
		root_env_init();
		rc = host_ept_init(hv_image_base(), hv_image_donated(), hv.first_mfn, hv.nr_frames);
		if (rc)
			goto out;
		host_ops_saved = hv.ops;
		host_ctx_saved = hv.ctx;
		hv_host_set(&depriv_ops, NULL);
		env_ready = true;
	}
	if (!vmx_cpu_is_on() && (rc = vmx_cpu_on(depriv_why, sizeof(depriv_why))))
		goto out;
	rc = setup_host_vmcs(cpu, ret_slot, rflags);
	if (rc)
		goto out;
	/* Nothing this CPU cached under any EPTP before may outlive VMLAUNCH
	 * (the host's EPT changes no more from here on). */
	invept(2, 0);
	pcpu[cpu].on = true;
	pcpu[cpu].index = cpu;
	dstats.cpus++;
out:
	unlock();
	if (rc && (rflags & BIT(9)))
		__asm__ volatile("sti");
	return rc;
}

/* VMLAUNCH failed: back to where we were, privileged. */
int vmx_depriv_failed(void);
int vmx_depriv_failed(void)
{
	u32 cpu = vmx_this_cpu();
	u32 err = vmx_insn_error();
	lock();
	pcpu[cpu].on = false;
	dstats.cpus--;
	vmx_pinned_vmcs[cpu] = INVALID_MFN;
	vmx_vmcs_clear_current();
	if (dstats.cpus == 0 && env_ready) {
		/* No CPU left de-privileged: the host's callbacks are safe again. */
		hv_host_set(host_ops_saved, host_ctx_saved);
		env_ready = false;
	}
	unlock();
	hv_log(HV_LOG_ERR, "cpu %u: VMLAUNCH of the host container failed (error %u)", cpu, err);
	return -HV_EINVAL;
}

/* ---- exits of the host container ---- */

#define INTR_HW_EXCEPTION (3u << 8)
#define INTR_ERRCODE BIT(11)
#define INTR_VALID BIT(31)

static void inject(u8 vector, bool has_err)
{
	vmwrite_safe(VMCS_ENTRY_INTR_INFO, vector | INTR_HW_EXCEPTION |
				      (has_err ? INTR_ERRCODE : 0) | INTR_VALID);
	if (has_err)
		vmwrite_safe(VMCS_ENTRY_EXCEPTION_ERRCODE, 0);
}

static void skip_insn(void)
{
	vmwrite_safe(VMCS_GUEST_RIP, arch_vmread(VMCS_GUEST_RIP) +
				     arch_vmread(VMCS_EXIT_INSTRUCTION_LEN));
	u64 intr = arch_vmread(VMCS_GUEST_INTERRUPTIBILITY);
	if (intr & 3)
		vmwrite_safe(VMCS_GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

static const char *whose(u64 gpa, char *buf, u32 len)
{
	u64 mfn = gpa >> PAGE_SHIFT;
	if (gpa >= hv_image_base() && mfn < pool_first)
		return "the hypervisor's image";
	const struct hv_frame *f = hv.started ? frame_get(mfn) : NULL;
	if (!f)
		return mfn >= pool_first && mfn < pool_end ? "a pool frame"
							 : "memory the host does not own";
	if (f->type == FT_FREE)
		return "a free pool frame";
	if (f->owner == OWNER_HV)
		return "a hypervisor frame";
	if (f->owner == OWNER_SHARED)
		return "a shared guest frame";
	if (f->owner < HV_MAX_DOMAINS) {
		hv_snprintf(buf, len, "d%u's %s", f->owner,
			    f->type == FT_RAM ? "memory" : f->type == FT_P2M ? "EPT table" :
			    f->type == FT_VMCS ? "VMCS" : "frame");
		return buf;
	}
	return "a hypervisor frame";
}

static void ept_violation(struct pcpu *p)
{
	u64 gpa = arch_vmread(VMCS_GUEST_PHYSICAL_ADDRESS);
	u64 q = arch_vmread(VMCS_EXIT_QUALIFICATION);
	dstats.ept_blocked++;
	dstats.last_blocked_gpa = gpa;
	if (dstats.ept_blocked <= 16 || !(dstats.ept_blocked & 1023)) {
		char b[48];
		hv_log(HV_LOG_INFO, "host cpu %u: %s of gpa 0x%llx (%s) at rip 0x%llx blocked (#%llu)",
		      p->index, q & 2 ? "write" : q & 4 ? "fetch" : "read",
		      (unsigned long long)gpa, whose(gpa, b, sizeof(b)),
		      (unsigned long long)arch_vmread(VMCS_GUEST_RIP),
		      (unsigned long long)dstats.ept_blocked);
	}
	inject(13, true); /* the access faults: #GP(0) */
}

static u64 *gpr_slot(struct pcpu *p, unsigned r)
{
	return &p->gprs[r];
}

static void cr_access(struct pcpu *p)
{
	u64 q = arch_vmread(VMCS_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	if (type == 0 && cr == 4) {
		u64 v = reg == 4 ? arch_vmread(VMCS_GUEST_RSP) : *gpr_slot(p, reg);
		if (v & CR4_VMXE_BIT) { /* VMX is not there for it */
			inject(13, true);
			return;
		}
		vmwrite_safe(VMCS_GUEST_CR4, v | CR4_VMXE_BIT);
		vmwrite_safe(VMCS_CR4_READ_SHADOW, v);
		skip_insn();
		return;
	}
	if (cr == 3 && type < 2 && reg != 4) { /* CR3 exiting forced on */
		if (type == 0)
			vmwrite_safe(VMCS_GUEST_CR3, *gpr_slot(p, reg));
		else
			*gpr_slot(p, reg) = arch_vmread(VMCS_GUEST_CR3);
		skip_insn();
		return;
	}
	inject(13, true);
}

static void msr_write(struct pcpu *p)
{
	u32 msr = (u32)p->gprs[1];
	u64 v = (p->gprs[2] & 0xffffffff) << 32 | (p->gprs[0] & 0xffffffff);
	if (msr == MSR_APIC_BASE && ((v ^ rdmsr(MSR_APIC_BASE)) & ~0xfffull & 0xffffffffffull) == 0 &&
	    !(v & 0xfffffff0000002ffull)) {
		wrmsr(msr, v); /* same base: mode bits only */
		skip_insn();
		return;
	}
	hv_log(HV_LOG_INFO, "host cpu %u: WRMSR 0x%x <- 0x%llx refused", p->index, msr,
	      (unsigned long long)v);
	inject(13, true);
}

static void xsetbv_exit(struct pcpu *p)
{
	u32 r[4];
	u64 v = (p->gprs[2] & 0xffffffff) << 32 | (p->gprs[0] & 0xffffffff);
	cpuid_raw(0xd, 0, r);
	u64 ok = (u64)r[3] << 32 | r[0];
	if ((u32)p->gprs[1] != 0 || !(v & 1) || (v & ~ok) || ((v & 4) && !(v & 2))) {
		inject(13, true);
		return;
	}
	xsetbv(0, v);
	skip_insn();
}

static void cpuid_exit(struct pcpu *p)
{
	u32 r[4], leaf = (u32)p->gprs[0], sub = (u32)p->gprs[1];
	cpuid_raw(leaf, sub, r);
	if (leaf == 1) {
		r[2] &= ~(u32)BIT(5); /* no VMX for the host */
		r[2] |= (u32)BIT(31); /* a hypervisor is present */
	} else if (leaf == 0x40000000) {
		r[0] = 0x40000000;
		hv_memcpy(&r[1], "uXen", 4);
		hv_memcpy(&r[2], "Host", 4);
		hv_memcpy(&r[3], "Cntr", 4);
	}
	p->gprs[0] = r[0];
	p->gprs[3] = r[1];
	p->gprs[1] = r[2];
	p->gprs[2] = r[3];
	skip_insn();
}

/* The exit stub (depriv_entry.S) saved the host's registers in p->gprs. */
void vmx_host_exit_handler(struct pcpu *p);
void vmx_host_exit_handler(struct pcpu *p)
{
	lock();
	if (vmx_vmcs_load_pa(vmx_pinned_vmcs[p->index]))
		fatal("cannot reload the host container's VMCS");
	u32 reason = (u32)arch_vmread(VMCS_EXIT_REASON);
	dstats.host_exits++;
	p->exits++;
	if (reason & BIT(31)) {
		char msg[96];
		hv_snprintf(msg, sizeof(msg), "cpu %u: VM entry of the host container failed (reason %u)",
			    p->index, reason & 0xffff);
		fatal(msg);
	}
	switch (reason & 0xffff) {
	case EXIT_CPUID:
		cpuid_exit(p);
		break;
	case EXIT_VMCALL:
		p->gprs[0] = (u64)depriv_vmcall(p->gprs[0], p->gprs[7], p->gprs[6],
						p->gprs[2], p->gprs[1]);
		if (vmx_vmcs_load_pa(vmx_pinned_vmcs[p->index]))
			fatal("cannot reload the host container's VMCS");
		skip_insn();
		break;
	case EXIT_EPT_VIOLATION:
		ept_violation(p);
		break;
	case EXIT_CR_ACCESS:
		cr_access(p);
		break;
	case EXIT_WRMSR:
		msr_write(p);
		break;
	case EXIT_RDMSR: /* only MSRs outside the bitmap's ranges */
		inject(13, true);
		break;
	case EXIT_XSETBV:
		xsetbv_exit(p);
		break;
	case EXIT_INVD:
		wbinvd();
		skip_insn();
		break;
	case EXIT_TRIPLE_FAULT:
		fatal("the de-privileged host triple-faulted");
	case EXIT_INIT_SIGNAL:
		hv_log(HV_LOG_INFO, "host cpu %u: INIT signal ignored", p->index);
		break;
	case EXIT_EPT_MISCONFIG:
		fatal("EPT misconfiguration in the host container's EPT");
	default: /* VMX instructions, GETSEC, anything else: not for the host */
		if (dstats.bad_exits++ < 8)
			hv_log(HV_LOG_INFO, "host cpu %u: exit %u at rip 0x%llx: #UD", p->index, reason & 0xffff,
			      (unsigned long long)arch_vmread(VMCS_GUEST_RIP));
		inject(6, false);
		break;
	}
	unlock();
}

void vmx_host_resume_failed(void);
void vmx_host_resume_failed(void)
{
	char msg[80];
	hv_snprintf(msg, sizeof(msg), "VMRESUME of the host container failed (error %u)",
		    vmx_insn_error());
	fatal(msg);
}

bool depriv_active(void)
{
	return env_ready;
}

void depriv_stats_fill(struct hv_depriv_stats *s)
{
	s->cpus = dstats.cpus;
	s->host_exits = dstats.host_exits;
	s->ept_blocked = dstats.ept_blocked;
	s->bad_calls = dstats.bad_calls;
	s->protected_frames = host_protected_frames();
	s->frames_in_use = hv.in_use;
	s->last_blocked_gpa = dstats.last_blocked_gpa;
}
