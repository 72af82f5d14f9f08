/* Exit dispatch: one table indexed by the basic exit reason, expanded from
 * tables/exit_reasons.def. */
#include "handlers.h"
#include "hv/arch.h"

static const exit_handler_fn exit_table[EXIT_REASON_MAX] = {
#define X(name, num, handler) [num] = handle_##handler,
#include "hv/tables/exit_reasons.def"
#undef X
};

/* The 32-bit exit-reason field: bits 15:0 basic reason, bit 31 "VM-entry
 * failure" (SDM 24.9.1). */
#define EXIT_REASON_ENTRY_FAIL BIT(31)

unsigned handle_unhandled(struct hv_vcpu *v)
{
	hv_log(HV_LOG_WARN, "d%u: unhandled exit %s", v->dom->id,
	       exit_reason_name((u32)vmr(VMCS_EXIT_REASON) & 0xffff));
	domain_crash(v->dom, CRASH_UNHANDLED_EXIT);
	return UXT_FATE_CRASHED;
}

unsigned handle_entry_fail(struct hv_vcpu *v)
{
	domain_crash(v->dom, CRASH_ENTRY_FAILURE);
	return UXT_FATE_CRASHED;
}

unsigned hv_vcpu_exit(struct hv_vcpu *v)
{
	HV_ASSERT(hv_vcpu_runnable(v));
	arch_vmcs_load(v);
	if (unlikely(hv.rec.inputs))
		rec_exit_start();
	v->blocked = false; /* any exit means the vCPU ran again */

	u32 reason = (u32)vmr(VMCS_EXIT_REASON);
	u32 basic = reason & 0xffff;
	exit_handler_fn fn;
	if (reason & EXIT_REASON_ENTRY_FAIL)
		fn = handle_entry_fail;
	else if (basic < EXIT_REASON_MAX && exit_table[basic])
		fn = exit_table[basic];
	else
		fn = handle_unhandled;

	unsigned fate = fn(v);
	HV_ASSERT(fate < UXT_FATE_MAX);
	/* A handler may have crashed the domain on the way (e.g. no memory). */
	if (v->dom->state == DOM_CRASHED)
		fate = UXT_FATE_CRASHED;
	switch (fate) {
	case UXT_FATE_RESUME:
		break;
	case UXT_FATE_CRASHED:
		rec_fate(fate, v->dom->crash_reason, 0);
		break;
	case UXT_FATE_SHUTDOWN:
		rec_fate(fate, 0, v->dom->shutdown_code);
		break;
	case UXT_FATE_BLOCKED:
		v->blocked = true;
		rec_fate(fate, 0, 0);
		break;
	default:
		rec_fate(fate, 0, 0);
		break;
	}
	if (fate != UXT_FATE_RESUME)
		hv.ops->notify(hv.ctx, v->dom->id, v->id, fate);
	return fate;
}
