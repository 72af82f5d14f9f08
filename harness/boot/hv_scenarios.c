/* Scenarios with the hypervisor: refusals, load/unload, guests. */
#include "domains.h"
#include "hv/exits.h"

bool host_selftest_ok(void);

static bool vmxe_clear(void)
{
	u64 cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	return !(cr4 & BIT(13));
}

struct ap_probe {
	int alive, vmxe;
};

static void ap_probe_fn(void *arg)
{
	struct ap_probe *p = arg;
	p->vmxe = !vmxe_clear();
	p->alive = 1;
}

/* The hypervisor must refuse, naming the reason the config expects, and
 * leave the host as it was. */
enum result sc_refuse(void)
{
	char why[200];
	const char *expect = config_get("expect");
	int rc = boot_load_hv(why, sizeof(why));
	if (rc == 0) {
		kprintf("host: the hypervisor loaded, but should have refused (%s)\n",
			expect ? expect : "?");
		hv_unload();
		return RES_FAILURE;
	}
	if (expect) {
		size_t n = strlen(expect);
		bool found = false;
		for (const char *p = why; *p && !found; p++)
			found = !strncmp(p, expect, n);
		CHECK(found, "refusal '%s' does not mention '%s'", why, expect);
	}
	CHECK(vmxe_clear(), "CR4.VMXE left set after a refusal");
	CHECK(host_selftest_ok(), "the host is damaged after the refusal");
	for (unsigned c = 1; c < smp_cpus(); c++) {
		struct ap_probe p = { 0, 0 };
		smp_call(c, ap_probe_fn, &p);
		CHECK(p.alive && !p.vmxe, "CPU %u after the refusal: alive %d, CR4.VMXE %d", c,
		      p.alive, p.vmxe);
		kprintf("host: CPU %u runs un-virtualized too\n", c);
	}
	kprintf("host: refusal was clean; the host runs un-virtualized\n");
	return RES_SUCCESS;
}

static enum result skip_or_fail_load(const char *why)
{
	/* No VMX here at all (e.g. QEMU TCG): this scenario cannot run. */
	if (!strncmp(why, "no VMX", 6))
		return RES_SKIP;
	return RES_FAILURE;
}

/* Load, check, unload: VMXON/VMXOFF and the core on donated memory. */
enum result sc_load(void)
{
	char why[200];
	if (boot_load_hv(why, sizeof(why)))
		return skip_or_fail_load(why);
	char msg[200];
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	CHECK(hcall(HC_VERSION, 0, 0, 0, 0, NULL, 0) == 0x10000, "VERSION");
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	CHECK(vmxe_clear(), "CR4.VMXE still set after unload");
	CHECK(host_selftest_ok(), "the host is damaged after unload");
	return RES_SUCCESS;
}

static void print_exits(const char *name, const u64 *before)
{
	static const char *const names[EXIT_REASON_MAX] = {
#define X(n, num, handler) [num] = #n,
#include "hv/tables/exit_reasons.def"
#undef X
	};
	kprintf("EXITS %s:", name);
	for (u32 i = 0; i < EXIT_REASON_MAX; i++)
		if (hv.exits_by_reason[i] != before[i])
			kprintf(" %s=%lu", names[i] ? names[i] : "?",
				hv.exits_by_reason[i] - before[i]);
	kprintf("\n");
}

/* The 64-bit guest: every kind of exit, the device model, hypercalls;
 * recorded and streamed for replay. */
enum result sc_guest64(void)
{
	char why[200];
	if (boot_load_hv(why, sizeof(why)))
		return skip_or_fail_load(why);
	u64 before[EXIT_REASON_MAX];
	memcpy(before, hv.exits_by_reason, sizeof(before));
	trace_start();
	struct guest_spec g = {
		.image = guest_g64, .image_len = (u32)(guest_g64_end - guest_g64),
		.ram_frames = G_RAM_FRAMES, .order = 9, .long_mode = true, .mmio = true,
	};
	s64 d = guest_create(&g);
	CHECK(d > 0, "guest_create: %ld", d);
	struct run_stats st;
	int rc = guest_run((u32)d, 1000, &st);
	CHECK(rc == 0, "guest_run: %d", rc);
	kprintf("host: d%ld ended: fate %u, code 0x%lx, crash %u; %lu exits, %lu I/O requests, %lu HLTs, %lu run calls\n",
		d, st.fate, st.shutdown_code, st.crash_reason, st.exits, st.ioreqs,
		st.halts, st.calls);
	CHECK(st.fate == UXT_FATE_SHUTDOWN && st.shutdown_code == G_SHUTDOWN_OK,
	      "guest did not pass its checks (code 0x%lx)", st.shutdown_code);
	CHECK(st.port_out_last == 0x42, "device saw OUT 0x%lx", st.port_out_last);
	CHECK(st.mmio_write_last == 0x1234abcd, "device saw MMIO write 0x%lx", st.mmio_write_last);
	CHECK(st.halts == 1, "HLTs %lu", st.halts);
	CHECK(hcall(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0, NULL, 0) == 0, "destroy");
	char msg[200];
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	print_exits("guest64", before);
	CHECK(trace_stream("guest64") == 0, "trace");
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	return RES_SUCCESS;
}

/* ---- several domains at once ---- */

struct dom_case {
	const char *what;
	const u8 *img, *img_end;
	bool real_mode;
	u32 want_fate, want_crash; /* SHUTDOWN with G_SHUTDOWN_OK, or CRASHED */
	s64 id;
	struct run_stats st;
	bool done;
};

/* Run every domain round-robin, one run_vcpu call each turn, until all
 * have ended; the device model serves them all. */
static enum result run_domains(const char *name, struct dom_case *c, unsigned n)
{
	char why[200];
	if (boot_load_hv(why, sizeof(why)))
		return skip_or_fail_load(why);
	u64 before[EXIT_REASON_MAX];
	memcpy(before, hv.exits_by_reason, sizeof(before));
	trace_start();
	for (unsigned i = 0; i < n; i++) {
		struct guest_spec g = {
			.image = c[i].img, .image_len = (u32)(c[i].img_end - c[i].img),
			.ram_frames = G_RAM_FRAMES, .order = i % 2 ? 0 : 9,
			.long_mode = !c[i].real_mode, .real_mode = c[i].real_mode, .mmio = true,
		};
		c[i].id = guest_create(&g);
		CHECK(c[i].id > 0, "creating %s: %ld", c[i].what, c[i].id);
	}
	for (unsigned left = n, turn = 0; left && turn < 3000; turn++) {
		struct dom_case *k = &c[turn % n];
		if (k->done)
			continue;
		struct run_stats st;
		CHECK(guest_run((u32)k->id, 1, &st) == 0, "running %s", k->what);
		k->st.exits += st.exits;
		k->st.ioreqs += st.ioreqs;
		k->st.halts += st.halts;
		k->st.calls++;
		if (st.fate == UXT_FATE_SHUTDOWN || st.fate == UXT_FATE_CRASHED) {
			k->st.fate = st.fate;
			k->st.shutdown_code = st.shutdown_code;
			k->st.crash_reason = st.crash_reason;
			k->done = true;
			left--;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct dom_case *k = &c[i];
		kprintf("host: d%ld (%s): fate %u, code 0x%lx, crash reason %u; %lu exits, %lu I/O requests, %lu HLTs\n",
			k->id, k->what, k->st.fate, k->st.shutdown_code, k->st.crash_reason,
			k->st.exits, k->st.ioreqs, k->st.halts);
		CHECK(k->done, "%s never ended", k->what);
		CHECK(k->st.fate == k->want_fate, "%s: fate %u, wanted %u", k->what,
		      k->st.fate, k->want_fate);
		if (k->want_fate == UXT_FATE_SHUTDOWN)
			CHECK(k->st.shutdown_code == G_SHUTDOWN_OK, "%s: code 0x%lx", k->what,
			      k->st.shutdown_code);
		else
			CHECK(k->st.crash_reason == k->want_crash, "%s: crash reason %u, wanted %u",
			      k->what, k->st.crash_reason, k->want_crash);
	}
	char msg[200];
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	for (unsigned i = 0; i < n; i++)
		CHECK(hcall(HC_DOMAIN_DESTROY, (u64)c[i].id, 0, 0, 0, NULL, 0) == 0, "destroy");
	CHECK(hv.check(msg, sizeof(msg)) == 0, "invariants: %s", msg);
	print_exits(name, before);
	CHECK(trace_stream(name) == 0, "trace");
	u64 left = hv_unload();
	CHECK(left == 0, "%lu frames leaked", left);
	CHECK(host_selftest_ok(), "the host is damaged");
	return RES_SUCCESS;
}

#define CASE(what, g, rm, fate, crash) { what, guest_##g, guest_##g##_end, rm, fate, crash, 0, { 0 }, false }

enum result sc_realmode(void)
{
	struct dom_case c[] = { CASE("real mode", g16, true, UXT_FATE_SHUTDOWN, 0) };
	return run_domains("realmode", c, ARRAY_SIZE(c));
}

enum result sc_triple(void)
{
	struct dom_case c[] = {
		CASE("64-bit", g64, false, UXT_FATE_SHUTDOWN, 0),
		CASE("triple fault", gtriple, false, UXT_FATE_CRASHED, CRASH_TRIPLE_FAULT),
	};
	return run_domains("triple", c, ARRAY_SIZE(c));
}

enum result sc_hostile(void)
{
	struct dom_case c[] = {
		CASE("hostile", ghostile, false, UXT_FATE_CRASHED, CRASH_UNOWNED_MEMORY),
		CASE("64-bit", g64, false, UXT_FATE_SHUTDOWN, 0),
	};
	return run_domains("hostile", c, ARRAY_SIZE(c));
}

enum result sc_multi(void)
{
	struct dom_case c[] = {
		CASE("64-bit", g64, false, UXT_FATE_SHUTDOWN, 0),
		CASE("real mode", g16, true, UXT_FATE_SHUTDOWN, 0),
		CASE("triple fault", gtriple, false, UXT_FATE_CRASHED, CRASH_TRIPLE_FAULT),
		CASE("hostile", ghostile, false, UXT_FATE_CRASHED, CRASH_UNOWNED_MEMORY),
		CASE("64-bit again", g64, false, UXT_FATE_SHUTDOWN, 0),
	};
	return run_domains("multi", c, ARRAY_SIZE(c));
}
