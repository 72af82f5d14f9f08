/* The trace generator's recording loop (see gen.h). */
#include <stdarg.h>
#include <string.h>
#include "gen.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "hv/exits.h"
#include "sim.h"

static int gen_fail(struct gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int gen_fail(struct gen *g, const char *fmt, ...)
{
	if (g->failed)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	g->failed = true;
	return -1;
}

int gen_open(struct gen *g, const char *path, u8 *mem, size_t cap, u64 nr_frames)
{
	memset(g, 0, offsetof(struct gen, rec));
	int rc = path ? uxt_writer_create(&g->w, path, UXT_HF_OUTPUTS, (u32)nr_frames)
		      : uxt_writer_mem(&g->w, mem, cap, UXT_HF_OUTPUTS, (u32)nr_frames);
	if (rc)
		return gen_fail(g, "%s", g->w.err);
	if (posix_host_init(&g->host, nr_frames)) {
		uxt_writer_close(&g->w);
		return gen_fail(g, "cannot set up %llu frames", (unsigned long long)nr_frames);
	}
	sim_reset();
	rc = posix_hv_start(&g->host);
	if (rc) {
		posix_host_fini(&g->host);
		uxt_writer_close(&g->w);
		return gen_fail(g, "hypervisor failed to start: %s", hv_strerror(rc));
	}
	return 0;
}

int gen_close(struct gen *g)
{
	char msg[256];
	if (hv_check_invariants(msg, sizeof(msg)))
		gen_fail(g, "invariant broken at the end: %s", msg);
	u64 left = hv_stop();
	if (left || g->host.used)
		gen_fail(g, "%llu frames leaked", (unsigned long long)left);
	posix_host_fini(&g->host);
	if (uxt_writer_close(&g->w))
		gen_fail(g, "%s", g->w.err);
	return g->failed ? -1 : 0;
}

u64 gen_len(const struct gen *g)
{
	return g->w.len;
}

static void check_writer(struct gen *g, int rc)
{
	if (rc)
		gen_fail(g, "writing the trace: %s", g->w.err);
}

void gen_mark(struct gen *g, const char *text)
{
	check_writer(g, uxt_write_mark(&g->w, text));
}

s64 gen_call(struct gen *g, u32 nr, u64 a0, u64 a1, u64 a2, u64 a3,
	     const void *data, u32 len)
{
	u64 args[4] = { a0, a1, a2, a3 };
	s64 rc = hv_host_call(nr, args, data, len);
	u32 n = hv_rec_hostcall_items(g->items, sizeof(g->items), data, len, rc);
	if (n == 0) {
		gen_fail(g, "host call %s: %u bytes of data do not fit one trace item",
			 hypercall_name(nr), len);
		return rc;
	}
	check_writer(g, uxt_write_hostcall(&g->w, UXT_EF_OUTPUTS, (u16)nr,
					   hv_rec_hostcall_nargs(args), args, g->items, n));
	g->calls++;
	return rc;
}

int gen_select(struct gen *g, u16 domid, u16 vcpu)
{
	struct hv_vcpu *v = hv_vcpu_get(hv_domain_get(domid), vcpu);
	if (!v)
		return gen_fail(g, "no d%u vcpu %u", domid, vcpu);
	g->v = v;
	g->domid = domid;
	g->vcpu = vcpu;
	arch_vmcs_load(v);
	return 0;
}

void gen_reg(struct gen *g, unsigned gpr, u64 val)
{
	if (gpr == 4)
		sim_vmcs_set(VMCS_GUEST_RSP, val);
	else
		hv_vcpu_gprs(g->v)[gpr & 15] = val;
}

u64 gen_get_reg(struct gen *g, unsigned gpr)
{
	return gpr == 4 ? sim_vmcs_get(VMCS_GUEST_RSP) : hv_vcpu_gprs(g->v)[gpr & 15];
}

void gen_field(struct gen *g, u32 enc, u64 val)
{
	if (sim_vmcs_set(enc, val))
		gen_fail(g, "unknown VMCS field 0x%x", enc);
}

u64 gen_get_field(struct gen *g, u32 enc)
{
	(void)g;
	return sim_vmcs_get(enc);
}

int gen_exit(struct gen *g, u32 reason, u64 qualification, u32 insn_len)
{
	if (!g->v || g->failed)
		return gen_fail(g, "no vCPU selected");
	if (!hv_vcpu_runnable(g->v))
		return gen_fail(g, "exit %s on d%u, which cannot run", exit_reason_name(reason),
				g->domid);
	arch_vmcs_load(g->v);
	sim_inputs_reset();
	sim_vmcs_set(VMCS_EXIT_REASON, reason);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, qualification);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, insn_len);
	hv_rec_begin(g->rec, sizeof(g->rec), true);
	unsigned fate = hv_vcpu_exit(g->v);
	long n = hv_rec_end();
	if (n < 0)
		return gen_fail(g, "recording overflowed at exit %llu",
				(unsigned long long)g->exits);
	u32 items = hv_rec_inputs_first(g->rec, (u32)n, g->items);
	check_writer(g, uxt_write_exit(&g->w, UXT_EF_OUTPUTS, (u16)reason, g->domid,
				       g->vcpu, g->items, items));
	g->exits++;
	return g->failed ? -1 : (int)fate;
}
