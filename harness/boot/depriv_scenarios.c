/* Stage 5: the host runs de-privileged, in the host container, on every
 * CPU; the hypervisor keeps itself and its guests from it. Everything the
 * host donated (image and pool) leaves its EPT before any CPU runs in the
 * container and never comes back while the hypervisor is loaded. */
#include "domains.h"
#include "hv/exits.h"

bool host_selftest_ok(void);

struct depriv_stats_host {
	u64 cpus, host_exits, ept_blocked, bad_calls, protected_frames,
		frames_in_use, last_blocked_gpa;
};
_Static_assert(sizeof(struct depriv_stats_host) == sizeof(struct hv_depriv_stats), "stats");

static struct hv_depriv_stats stats(void)
{
	static struct hv_depriv_stats st;
	hv_vmcall(HVOP_STATS, (u64)(uintptr_t)&st, 0, 0, 0);
	return st;
}

/* ---- probes: each returns through try_call(): 0, or the vector + 1 ---- */

static volatile u64 probe_val;

static void probe_read(void *p)
{
	probe_val = *(volatile u64 *)p;
}

static void probe_write(void *p)
{
	*(volatile u64 *)p = 0xdeadbeefcafef00dull;
}

static void probe_vmxon(void *p)
{
	u64 pa = (u64)(uintptr_t)p;
	__asm__ volatile("vmxon %0" ::"m"(pa) : "memory", "cc");
}

static void probe_cr4_vmxe(void *p)
{
	(void)p;
	u64 cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= BIT(13);
	__asm__ volatile("mov %0, %%cr4" ::"r"(cr4) : "memory");
}

#define FAULT_GP 14 /* try_call's code for #GP */
#define FAULT_UD 7

/* What each CPU sees of the hypervisor (run on the BSP and the APs). */
struct cpu_view {
	unsigned cpu;
	bool hv_bit, vmx_bit;
	char sig[13];
	u64 cr4;
	int rd_img, wr_img, rd_bss, rd_pool, vmxon, vmxe;
};

static void look(void *arg)
{
	struct cpu_view *v = arg;
	u32 r[4];
	v->cpu = this_cpu();
	cpuid(1, 0, r);
	v->hv_bit = r[2] >> 31 & 1;
	v->vmx_bit = r[2] >> 5 & 1;
	cpuid(0x40000000, 0, r);
	memcpy(v->sig, &r[1], 4);
	memcpy(v->sig + 4, &r[2], 4);
	memcpy(v->sig + 8, &r[3], 4);
	v->sig[12] = 0;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v->cr4));
	v->rd_img = try_call(probe_read, phys(hv_mem_pa));
	v->wr_img = try_call(probe_write, phys(hv_mem_pa + 0x100));
	v->rd_bss = try_call(probe_read, phys(hv_mem_pa + (1u << 20)));
	/* A pool frame the core has not taken: the host's no more either. */
	v->rd_pool = try_call(probe_read, phys((hv_pool_first_mfn + hv_pool_frames / 2) << PAGE_SHIFT));
	v->vmxon = try_call(probe_vmxon, phys(0x7000));
	v->vmxe = try_call(probe_cr4_vmxe, NULL);
}

static enum result check_view(const struct cpu_view *v)
{
	kprintf("host cpu %u: CPUID hypervisor bit %d, VMX bit %d, signature '%s', CR4 0x%lx; "
		"read/write/read hypervisor memory -> %d/%d/%d, read free pool frame -> %d, "
		"VMXON -> %d, CR4.VMXE -> %d\n",
		v->cpu, v->hv_bit, v->vmx_bit, v->sig, v->cr4, v->rd_img, v->wr_img, v->rd_bss,
		v->rd_pool, v->vmxon, v->vmxe);
	CHECK(v->hv_bit && !v->vmx_bit, "CPUID on cpu %u", v->cpu);
	CHECK(!strcmp(v->sig, "uXenHostCntr"), "signature '%s'", v->sig);
	CHECK(!(v->cr4 & BIT(13)), "CR4.VMXE visible to the host");
	CHECK(v->rd_img == FAULT_GP && v->wr_img == FAULT_GP && v->rd_bss == FAULT_GP,
	      "hypervisor memory reachable from cpu %u", v->cpu);
	CHECK(v->rd_pool == FAULT_GP, "a free pool frame readable from cpu %u", v->cpu);
	CHECK(v->vmxon == FAULT_UD, "VMXON on cpu %u: %d", v->cpu, v->vmxon);
	CHECK(v->vmxe == FAULT_GP, "CR4.VMXE on cpu %u: %d", v->cpu, v->vmxe);
	return RES_SUCCESS;
}

static enum result skip_or_fail(const char *why)
{
	return !strncmp(why, "no VMX", 6) ? RES_SKIP : RES_FAILURE;
}

/* Instructions per TSC tick: a loop of a known number of instructions. */
static void calibrate(void)
{
	u64 n = 1000000, t0 = rdtsc();
	__asm__ volatile("1: dec %0; jnz 1b" : "+r"(n)::"cc");
	u64 t1 = rdtsc();
	kprintf("host: calibration: 2000000 instructions took %lu TSC ticks\n", t1 - t0);
}

/* Bring-up: every CPU de-privileged, the host still itself, a guest runs,
 * the core and the host's EPT stay consistent, stopping frees it all; the
 * host's EPT leaves out all donated memory, the same all along. */
enum result sc_depriv(void)
{
	char why[200], msg[200];
	calibrate();
	boot_force_depriv = true;
	if (boot_load_hv(why, sizeof(why)))
		return skip_or_fail(why);
	struct hv_depriv_stats st = stats();
	kprintf("FIGURE depriv_ticks=%lu cpus=%lu protected_frames=%lu host_exits=%lu\n",
		boot_depriv_ticks, st.cpus, st.protected_frames, st.host_exits);
	CHECK(st.cpus == smp_cpus(), "%lu of %u CPUs de-privileged", st.cpus, smp_cpus());
	u64 donated = (hv_mem_bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	CHECK(st.protected_frames == donated, "the host's EPT leaves out %lu frames, not the %lu donated",
	      st.protected_frames, donated);
	struct cpu_view v[MAX_CPUS];
	memset(v, 0, sizeof(v));
	look(&v[0]);
	for (unsigned c = 1; c < smp_cpus(); c++)
		smp_call(c, look, &v[c]);
	for (unsigned c = 0; c < smp_cpus(); c++) {
		enum result r = check_view(&v[c]);
		if (r != RES_SUCCESS)
			return r;
	}
	CHECK(host_selftest_ok(), "the host does not work de-privileged");
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	u64 before = stats().frames_in_use;
	struct guest_spec g = {
		.image = guest_g64, .image_len = (u32)(guest_g64_end - guest_g64),
		.ram_frames = G_RAM_FRAMES, .order = 9, .long_mode = true, .mmio = true,
	};
	s64 d = guest_create(&g);
	CHECK(d > 0, "guest_create: %ld", d);
	st = stats();
	CHECK(st.frames_in_use >= before + G_RAM_FRAMES, "the guest holds too few frames (%lu -> %lu)",
	      before, st.frames_in_use);
	CHECK(st.protected_frames == donated, "the host's EPT changed with a guest: %lu frames left out",
	      st.protected_frames);
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	struct run_stats rs;
	CHECK(guest_run((u32)d, 1000, &rs) == 0, "guest_run");
	kprintf("host: d%ld ended: fate %u, code 0x%lx; %lu exits, %lu I/O requests\n", d,
		rs.fate, rs.shutdown_code, rs.exits, rs.ioreqs);
	CHECK(rs.fate == UXT_FATE_SHUTDOWN && rs.shutdown_code == G_SHUTDOWN_OK,
	      "guest failed (code 0x%lx)", rs.shutdown_code);
	CHECK(hcall(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0) == 0, "destroy");
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	st = stats();
	CHECK(st.frames_in_use == before, "frames not given back: %lu held, was %lu",
	      st.frames_in_use, before);
	CHECK(st.protected_frames == donated, "the host's EPT changed after the guest: %lu frames left out",
	      st.protected_frames);
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	st = stats();
	kprintf("host: core stopped; the host's EPT leaves out %lu frames (all donated memory: image and pool); "
		"%lu host exits in all\n", st.protected_frames, st.host_exits);
	CHECK(st.protected_frames == donated, "donated memory back in the host's EPT after stopping");
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	CHECK(host_selftest_ok(), "the host is damaged");
	return RES_SUCCESS;
}

/* ---- the de-privileged host attacks ---- */

struct scan {
	u64 first_mfn, frames;
	const u8 *secret;   /* bytes of the guest's memory the host must not see */
	u32 secret_len;
	bool read_only;     /* no write attempts */
	u64 readable, blocked, leaked, written, attempts;
};

/* Read, then try to overwrite, every frame of the donated pool (free or
 * not, the host's EPT maps none of it). */
static void scan_pool(void *arg)
{
	struct scan *s = arg;
	for (u64 i = 0; i < s->frames; i++) {
		u8 *p = phys((s->first_mfn + i) << PAGE_SHIFT);
		s->attempts++;
		if (try_call(probe_read, p) == 0) {
			s->readable++;
			if (!memcmp(p, s->secret, s->secret_len))
				s->leaked++;
			continue;
		}
		s->blocked++;
		if (s->read_only)
			continue;
		s->attempts++;
		if (try_call(probe_write, p) == 0)
			s->written++;
	}
}

static enum result scan_check(const char *who, const struct scan *s)
{
	kprintf("host %s: pool of %lu frames: %lu readable, %lu blocked, %lu with the guest's data, "
		"%lu written\n", who, s->frames, s->readable, s->blocked, s->leaked, s->written);
	CHECK(s->leaked == 0, "%s read a guest's memory", who);
	CHECK(s->written == 0, "%s wrote protected memory", who);
	CHECK(s->readable == 0 && s->blocked == s->frames, "%s: %lu of %lu pool frames readable", who,
	      s->readable, s->frames);
	return RES_SUCCESS;
}

/* Every CPU scans the pool; each blocked access is counted, exactly. */
static enum result scan_all(struct scan *s, bool read_only)
{
	struct hv_depriv_stats st0 = stats();
	u64 attempts = 0;
	for (unsigned c = 0; c < smp_cpus(); c++) {
		s[c] = (struct scan){ .first_mfn = hv_pool_first_mfn, .frames = hv_pool_frames,
				      .secret = guest_g64, .secret_len = 64, .read_only = read_only };
		if (c == 0)
			scan_pool(&s[0]);
		else
			smp_call(c, scan_pool, &s[c]);
		char who[16];
		ksnprintf(who, sizeof(who), "cpu %u", c);
		enum result r = scan_check(who, &s[c]);
		if (r != RES_SUCCESS)
			return r;
		attempts += s[c].attempts;
	}
	struct hv_depriv_stats st1 = stats();
	kprintf("host: the hypervisor blocked %lu accesses (%lu attempted)\n",
		st1.ept_blocked - st0.ept_blocked, attempts);
	CHECK(st1.ept_blocked - st0.ept_blocked == attempts, "blocked-access count");
	return RES_SUCCESS;
}

struct bad_call {
	const char *what;
	u64 op, a0, a1, a2, a3;
	s64 want; /* the error, or 1: any negative value */
};

static s64 raw_vmcall(u64 rax, u64 a0, u64 a1, u64 a2, u64 a3)
{
	__asm__ volatile("vmcall"
			 : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+c"(a3)
			 :
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	hv_vmcall(HVOP_LOG_READ, 0, 0, 0, 0); /* drains the log */
	return (s64)rax;
}

enum result sc_depriv_attack(void)
{
	char why[200], msg[200];
	boot_force_depriv = true;
	if (boot_load_hv(why, sizeof(why)))
		return skip_or_fail(why);
	/* A guest with a known secret at G_CODE: its own image. */
	struct guest_spec g = {
		.image = guest_g64, .image_len = (u32)(guest_g64_end - guest_g64),
		.ram_frames = G_RAM_FRAMES, .order = 0, .long_mode = true, .mmio = true,
	};
	s64 d = guest_create(&g);
	CHECK(d > 0, "guest_create: %ld", d);
	u64 in_use = stats().frames_in_use;

	/* Every CPU reads and writes the whole pool: the guest's frames, the
	 * hypervisor's and the free ones alike. */
	static struct scan s[MAX_CPUS];
	enum result r = scan_all(s, false);
	if (r != RES_SUCCESS)
		return r;

	/* Bad VMCALLs: every one refused, nothing changed. */
	u64 img = hv_mem_pa, pool_pa = (hv_pool_first_mfn + hv_pool_frames - 1) << PAGE_SHIFT;
	static u64 args[4];
	static struct hv_run run;
	static u8 buf[64];
	u64 pa_args = (u64)(uintptr_t)args, pa_run = (u64)(uintptr_t)&run;
	u64 pa_buf = (u64)(uintptr_t)buf;
	const struct bad_call calls[] = {
		{ "no magic", 1, 0, 0, 0, 0, -HV_ENOSYS },
		{ "unknown op", HVOP_MAGIC | 0x77, 0, 0, 0, 0, -HV_ENOSYS },
		{ "host call: args in the image", HVOP_MAGIC | HVOP_HOST_CALL, HC_VERSION, img, 0, 0, -HV_EFAULT },
		{ "host call: data in the pool", HVOP_MAGIC | HVOP_HOST_CALL, HC_LOAD, pa_args, pool_pa, 64, -HV_EFAULT },
		{ "host call: data too long", HVOP_MAGIC | HVOP_HOST_CALL, HC_LOAD, pa_args, pa_buf, 1ull << 30, -HV_EFAULT },
		{ "host call: data wraps", HVOP_MAGIC | HVOP_HOST_CALL, HC_LOAD, pa_args, ~0ull - 8, 64, -HV_EFAULT },
		{ "host call: bad number", HVOP_MAGIC | HVOP_HOST_CALL, 0x7f, pa_args, 0, 0, 1 },
		{ "run: result into the image", HVOP_MAGIC | HVOP_RUN_VCPU, (u64)d, 0, img + 0x2000, 0, -HV_EFAULT },
		{ "run: the host container", HVOP_MAGIC | HVOP_RUN_VCPU, 0, 0, pa_run, 0, -HV_ESRCH },
		{ "run: no such domain", HVOP_MAGIC | HVOP_RUN_VCPU, 63, 0, pa_run, 0, -HV_ESRCH },
		{ "run: no such vCPU", HVOP_MAGIC | HVOP_RUN_VCPU, (u64)d, 5, pa_run, 0, -HV_ESRCH },
		{ "trace into the pool's end", HVOP_MAGIC | HVOP_TRACE_BEGIN, pool_pa, 4096, 0, 0, -HV_EFAULT },
		{ "trace into the pool", HVOP_MAGIC | HVOP_TRACE_BEGIN, hv_pool_first_mfn << PAGE_SHIFT, 4096, 0, 0, -HV_EFAULT },
		{ "log into the image", HVOP_MAGIC | HVOP_LOG_READ, img, 64, 0, 0, -HV_EFAULT },
		{ "check into the image", HVOP_MAGIC | HVOP_CHECK, img + 64, 64, 0, 0, -HV_EFAULT },
		{ "exits above 4 GiB", HVOP_MAGIC | HVOP_EXITS, 1ull << 40, 0, 0, 0, -HV_EFAULT },
		{ "stats into the MMIO hole", HVOP_MAGIC | HVOP_STATS, 0xfee00000, 0, 0, 0, -HV_EFAULT },
	};
	u64 bad0 = stats().bad_calls;
	hv_vmcall(HVOP_LOG_READ, 0, 0, 0, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(calls); i++) {
		const struct bad_call *c = &calls[i];
		memset(args, 0, sizeof(args));
		args[0] = (u64)d;
		s64 rc = raw_vmcall(c->op, c->a0, c->a1, c->a2, c->a3);
		kprintf("host: bad VMCALL (%s) -> %ld\n", c->what, rc);
		CHECK(c->want == 1 ? rc < 0 : rc == c->want, "%s: %ld, want %ld", c->what, rc, c->want);
	}
	/* Bad hypercalls through a good VMCALL: the core's argument checks. */
	CHECK(hcall(HC_DOMAIN_DESTROY, 0, 0, 0, 0, NULL, 0) < 0, "destroying the host container");
	CHECK(hcall(HC_DOMAIN_CREATE, 0, 1, 0, 0, NULL, 0) < 0, "a domain without vCPUs");
	CHECK(hcall(HC_POPULATE, (u64)d, 0, 1ull << 40, 0, NULL, 0) < 0, "populate 2^40 frames");
	CHECK(hcall(HC_LOAD, (u64)d, 1ull << 50, 0, 0, buf, 8) < 0, "load beyond the guest");
	CHECK(hcall(HC_VERSION, 0, 0, 0, 0, NULL, 0) == 0x10000, "VERSION after the bad calls");
	u64 bad = stats().bad_calls - bad0;
	kprintf("host: %lu bad VMCALLs refused and counted\n", bad);
	/* The VMCALL layer refuses the bad addresses and ops; bad hypercall
	 * numbers, domains and vCPUs are the core's errors (not counted). */
	u64 layer = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(calls); i++)
		layer += calls[i].want == -HV_EFAULT || i < 2;
	CHECK(bad == layer, "bad calls counted: %lu, want %lu", bad, layer);
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);

	/* The guest, whose memory the host tried to overwrite, is intact. */
	struct run_stats rs;
	CHECK(guest_run((u32)d, 1000, &rs) == 0, "guest_run");
	kprintf("host: d%ld ended: fate %u, code 0x%lx\n", d, rs.fate, rs.shutdown_code);
	CHECK(rs.fate == UXT_FATE_SHUTDOWN && rs.shutdown_code == G_SHUTDOWN_OK,
	      "the guest was damaged (code 0x%lx)", rs.shutdown_code);
	CHECK(hcall(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0) == 0, "destroy");
	/* Its frames stay in the pool, out of the host's reach on every CPU
	 * (no stale translation anywhere), and zeroed: check audits that
	 * every free pool frame is zero. */
	u64 freed = in_use - stats().frames_in_use;
	kprintf("host: d%ld destroyed, %lu frames back in the pool\n", d, freed);
	CHECK(freed >= G_RAM_FRAMES, "only %lu frames freed", freed);
	r = scan_all(s, true);
	if (r != RES_SUCCESS)
		return r;
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	CHECK(host_selftest_ok(), "the host is damaged");
	return RES_SUCCESS;
}
