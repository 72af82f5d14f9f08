/* The hypervisor image's single entry point and the calls it hands the
 * host (hv_image.h): self-relocation, capability checks, VMX on, the core
 * started on the donated memory; then host calls, the vCPU run loop and
 * the recorder, which turns every exit and host call into trace events
 * (traces/FORMAT.md) in a buffer the host streams out. */
#include "core.h"
#include "vmx.h"
#include "vmx_insn.h"
#include "hv_image.h"
#include "depriv.h"

/* ---- self-relocation (R_X86_64_RELATIVE only; the build checks) ---- */

struct rela {
	u64 off, info;
	s64 addend;
};
extern const struct rela __rela_start[] __attribute__((visibility("hidden")));
extern const struct rela __rela_end[] __attribute__((visibility("hidden")));
extern const u8 __image_start[] __attribute__((visibility("hidden")));
extern const u8 __image_end[] __attribute__((visibility("hidden")));
#define R_X86_64_RELATIVE 8

static int relocate(void)
{
	u64 base = (u64)(uintptr_t)__image_start;
	for (const struct rela *r = __rela_start; r < __rela_end; r++) {
		if ((u32)r->info != R_X86_64_RELATIVE)
			return -1;
		*(u64 *)(uintptr_t)(base + r->off) = base + (u64)r->addend;
	}
	return 0;
}

/* ---- the trace stream ---- */

#define REC_CAP (64 * 1024)
static u8 rec_buf[REC_CAP], rec_sorted[REC_CAP];
static struct {
	u8 *buf;
	u32 len, cap, events;
	bool on, overflow;
} ts;
static u64 exits_by_reason[EXIT_REASON_MAX + 1];

static void ts_put(const void *p, u32 n)
{
	if (ts.overflow || n > ts.cap - ts.len) {
		ts.overflow = true;
		return;
	}
	hv_memcpy(ts.buf + ts.len, p, n);
	ts.len += n;
}

static void ts_event(u8 kind, u16 arg, const u8 *prefix, u32 plen,
		     const u8 *items, u32 ilen)
{
	u8 h[UXT_EVENT_HDR_SIZE];
	h[0] = kind;
	h[1] = UXT_EF_OUTPUTS;
	uxt_put16(h + 2, arg);
	uxt_put32(h + 4, plen + ilen);
	ts_put(h, sizeof(h));
	ts_put(prefix, plen);
	ts_put(items, ilen);
	ts.events++;
}

static void api_trace_begin(u8 *buf, u32 cap)
{
	ts.buf = buf;
	ts.cap = cap;
	ts.len = ts.events = 0;
	ts.overflow = false;
	ts.on = buf != NULL;
}

static long api_trace_end(u32 *events)
{
	ts.on = false;
	if (events)
		*events = ts.events;
	return ts.overflow ? -1 : (long)ts.len;
}

/* ---- host calls ---- */

static s64 api_host_call(u32 nr, const u64 args[4], const void *data, u32 len)
{
	s64 rc = hv_host_call(nr, args, data, len);
	/* Host calls may have loaded any VMCS: none stays current between
	 * calls, so a destroyed vCPU's VMCS is never left cached. */
	vmx_vmcs_clear_current();
	if (ts.on) {
		u8 prefix[UXT_HOSTCALL_PREFIX + 32] = { 0 };
		u8 nargs = hv_rec_hostcall_nargs(args);
		prefix[0] = nargs;
		for (unsigned i = 0; i < nargs; i++)
			uxt_put64(prefix + UXT_HOSTCALL_PREFIX + 8 * i, args[i]);
		u32 n = hv_rec_hostcall_items(rec_sorted, REC_CAP, data, len, rc);
		if (n == 0) {
			ts.overflow = true;
			return rc;
		}
		ts_event(UXT_EV_HOSTCALL, (u16)nr, prefix,
			 UXT_HOSTCALL_PREFIX + 8u * nargs, rec_sorted, n);
	}
	return rc;
}

/* ---- running a vCPU ---- */

#define HV_SLICE_TICKS 200000 /* preemption-timer ticks per run call */
#define ENTRY_IA32E BIT(9)
#define EFER_LMA_BIT BIT(10)
#define EXIT_REASON_ENTRY_FAIL BIT(31)

/* Keep the "IA-32e mode guest" entry control equal to the guest's
 * EFER.LMA, which VM entry requires: the host may have set up a guest in
 * another mode with VCPU_SET_STATE, which cannot write controls. */
static void sync_entry_mode(void)
{
	u64 efer = arch_vmread(VMCS_GUEST_IA32_EFER);
	u64 ctl = arch_vmread(VMCS_ENTRY_CONTROLS);
	bool lma = efer & EFER_LMA_BIT;
	if (lma != !!(ctl & ENTRY_IA32E))
		arch_vmwrite(VMCS_ENTRY_CONTROLS, lma ? ctl | ENTRY_IA32E : ctl & ~ENTRY_IA32E);
}

static int api_run_vcpu(u32 domid, u32 vcpu, struct hv_run *out)
{
	struct hv_domain *d = hv_domain_get(domid);
	struct hv_vcpu *v = hv_vcpu_get(d, vcpu);
	hv_memset(out, 0, sizeof(*out));
	if (!v || domid == HV_HOST_DOMID)
		return -HV_ESRCH;
	if (!hv_vcpu_runnable(v))
		return -HV_EBUSY;
	arch_vmcs_load(v);
	vmx_host_state();
	arch_vmwrite(VMCS_PREEMPTION_TIMER_VALUE, HV_SLICE_TICKS);
	struct desc_ptr gdt, idt;
	sgdt(&gdt);
	sidt(&idt);
	bool launched = false;
	unsigned fate;
	for (;;) {
		sync_entry_mode();
		int rc = vmx_enter(v->gpr, launched);
		/* A VM exit sets the GDTR and IDTR limits to 0xffff. */
		lgdt(&gdt);
		lidt(&idt);
		if (rc) {
			out->vm_insn_error = rc == VMX_FAIL_VALID ? vmx_insn_error() : 0;
			hv_log(HV_LOG_ERR, "d%u vcpu %u: VM entry failed (%s, error %u)",
			       domid, vcpu, rc == VMX_FAIL_VALID ? "VMfailValid" : "VMfailInvalid",
			       out->vm_insn_error);
			domain_crash(d, CRASH_ENTRY_FAILURE);
			fate = UXT_FATE_CRASHED;
			break;
		}
		launched = true;
		out->exits++;
		u32 reason = (u32)arch_vmread(VMCS_EXIT_REASON);
		u32 basic = reason & 0xffff;
		exits_by_reason[basic < EXIT_REASON_MAX ? basic : EXIT_REASON_MAX]++;
		if (ts.on) {
			hv_rec_begin(rec_buf, REC_CAP, true);
			fate = hv_vcpu_exit(v);
			long n = hv_rec_end();
			if (n < 0) {
				ts.overflow = true;
			} else {
				u32 items = hv_rec_inputs_first(rec_buf, (u32)n, rec_sorted);
				u8 prefix[UXT_EXIT_PREFIX];
				uxt_put16(prefix, (u16)domid);
				uxt_put16(prefix + 2, (u16)vcpu);
				ts_event(UXT_EV_EXIT, (u16)basic, prefix, sizeof(prefix),
					 rec_sorted, items);
			}
		} else {
			fate = hv_vcpu_exit(v);
		}
		if (fate != UXT_FATE_RESUME)
			break;
	}
	out->fate = fate;
	if (fate == UXT_FATE_CRASHED)
		out->crash_reason = d->crash_reason;
	if (fate == UXT_FATE_SHUTDOWN)
		out->shutdown_code = d->shutdown_code;
	if (fate == UXT_FATE_IOREQ)
		out->io = v->io.req;
	vmx_vmcs_clear_current();
	return 0;
}

/* ---- start and stop ---- */

static int api_check(char *msg, u32 len)
{
	int rc = hv_check_invariants(msg, len);
	return rc ? rc : host_ept_audit(msg, len);
}

static u64 api_unload(void)
{
	u64 left = hv_stop();
	vmx_cpu_off();
	return left;
}

static struct hv_api api = {
	.version = HV_IMAGE_VERSION,
	.host_call = api_host_call,
	.run_vcpu = api_run_vcpu,
	.trace_begin = api_trace_begin,
	.trace_end = api_trace_end,
	.check = api_check,
	.unload = api_unload,
	.deprivilege = vmx_depriv_entry,
	.share_stats = hv_share_stats,
};

/* ---- the de-privileged host's VMCALLs (hv_image.h, HVOP_*) ---- */

static u64 image_base, image_donated;
u64 hv_image_base(void) { return image_base; }
u64 hv_image_donated(void) { return image_donated; }

/* Data the host passes is copied in once (no second fetch it could race
 * with from another CPU); results are copied out once, after the work. */
#define BOUNCE_CAP (128u * 1024)
static u8 bounce[BOUNCE_CAP];

static s64 bad_call(s64 err)
{
	dstats.bad_calls++;
	return err;
}

static bool copy_out(u64 pa, const void *src, u64 len)
{
	if (!host_range_ok(pa, len))
		return false;
	hv_memcpy(host_ptr(pa), src, len);
	return true;
}

s64 depriv_vmcall(u64 op, u64 a0, u64 a1, u64 a2, u64 a3)
{
	if ((op & ~0xffffull) != HVOP_MAGIC)
		return bad_call(-HV_ENOSYS);
	switch (op & 0xffff) {
	case HVOP_HOST_CALL: {
		u64 args[4];
		if (!host_range_ok(a1, sizeof(args)) || a3 > BOUNCE_CAP || !host_range_ok(a2, a3))
			return bad_call(-HV_EFAULT);
		hv_memcpy(args, host_ptr(a1), sizeof(args));
		if (a3)
			hv_memcpy(bounce, host_ptr(a2), a3);
		if (!hv.started)
			return bad_call(-HV_EINVAL);
		return api_host_call((u32)a0, args, a3 ? bounce : NULL, (u32)a3);
	}
	case HVOP_RUN_VCPU: {
		struct hv_run r;
		if (!host_range_ok(a2, sizeof(r)))
			return bad_call(-HV_EFAULT);
		if (!hv.started)
			return bad_call(-HV_EINVAL);
		int rc = api_run_vcpu((u32)a0, (u32)a1, &r);
		copy_out(a2, &r, sizeof(r));
		return rc;
	}
	case HVOP_TRACE_BEGIN:
		if (a1 > (16u << 20) || !host_range_ok(a0, a1))
			return bad_call(-HV_EFAULT);
		api_trace_begin(a1 ? host_ptr(a0) : NULL, (u32)a1);
		return 0;
	case HVOP_TRACE_END: {
		u32 events = 0;
		if (!host_range_ok(a0, sizeof(events)))
			return bad_call(-HV_EFAULT);
		long n = api_trace_end(&events);
		copy_out(a0, &events, sizeof(events));
		return n;
	}
	case HVOP_CHECK: {
		char msg[256];
		u64 n = a1 < sizeof(msg) ? a1 : sizeof(msg);
		if (!n || !host_range_ok(a0, n))
			return bad_call(-HV_EFAULT);
		msg[0] = 0;
		int rc = api_check(msg, (u32)n);
		copy_out(a0, msg, n);
		return rc;
	}
	case HVOP_EXITS:
		if (!copy_out(a0, exits_by_reason, sizeof(exits_by_reason)))
			return bad_call(-HV_EFAULT);
		return 0;
	case HVOP_LOG_READ: {
		char buf[1024];
		u64 n = a1 < sizeof(buf) ? a1 : sizeof(buf);
		if (!host_range_ok(a0, n))
			return bad_call(-HV_EFAULT);
		u32 got = depriv_log_read(buf, (u32)n);
		copy_out(a0, buf, got);
		return got;
	}
	case HVOP_STOP: {
		const struct hv_host_ops *ops = hv.ops;
		u64 left = hv_stop(); /* freed frames stay in the pool, zeroed */
		hv.ops = ops;         /* for log lines from later exits */
		return (s64)left;
	}
	case HVOP_STATS: {
		struct hv_depriv_stats st;
		depriv_stats_fill(&st);
		if (!copy_out(a0, &st, sizeof(st)))
			return bad_call(-HV_EFAULT);
		return 0;
	}
	case HVOP_SHARE_STATS: {
		struct hv_share_stats st;
		hv_share_stats(&st);
		if (!copy_out(a0, &st, sizeof(st)))
			return bad_call(-HV_EFAULT);
		return 0;
	}
	}
	return bad_call(-HV_ENOSYS);
}

int hv_image_entry(struct hv_boot *b);
__attribute__((used)) int hv_image_entry(struct hv_boot *b)
{
	static char fallback[8];
	char *why = b && b->why && b->why_len ? b->why : fallback;
	u32 why_len = b && b->why && b->why_len ? b->why_len : sizeof(fallback);
	if (relocate()) {
		why[0] = 0;
		return -HV_EINVAL;
	}
	if (!b || b->version != HV_IMAGE_VERSION || !b->ops || !b->api) {
		hv_snprintf(why, why_len, "bad boot structure");
		return -HV_EINVAL;
	}
	u64 self = (u64)(uintptr_t)__image_start, end = (u64)(uintptr_t)__image_end;
	u64 pool = b->pool_first_mfn << PAGE_SHIFT, pool_end = pool + (b->pool_frames << PAGE_SHIFT);
	if (self != b->mem_pa || end > b->mem_pa + b->mem_bytes || pool < end ||
	    pool_end > b->mem_pa + b->mem_bytes || b->pool_frames < 512) {
		hv_snprintf(why, why_len,
			    "donated memory [0x%llx, +0x%llx) does not hold the image (0x%llx bytes) and a pool of at least 2 MiB",
			    (unsigned long long)b->mem_pa, (unsigned long long)b->mem_bytes,
			    (unsigned long long)(end - self));
		return -HV_ENOMEM;
	}
	int rc = vmx_caps_probe(b->test_flags, why, why_len);
	if (rc)
		return rc;
	rc = vmx_cpu_on(why, why_len);
	if (rc)
		return rc;
	rc = hv_start(b->ops, b->ctx, b->pool_first_mfn, b->pool_frames);
	if (rc) {
		vmx_cpu_off();
		hv_snprintf(why, why_len, "the core failed to start: %s", hv_strerror(rc));
		return rc;
	}
	image_base = b->mem_pa;
	image_donated = b->mem_bytes;
	api.exits_by_reason = exits_by_reason;
	api.vmcs_revision = vmx_caps.revision;
	*b->api = api;
	return 0;
}
