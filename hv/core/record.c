/* The exit recorder: appends trace items (traces/uxt.h) describing what a
 * handler read (inputs) and what it did (outputs). The same code records in
 * the real VMX build (streamed to the host) and in the hosted build (the
 * trace generator, and replay, which compares outputs byte for byte). */
#include "core.h"
#include "hv/arch.h"

struct hv_state hv;

void hv_rec_begin(u8 *buf, u32 cap, bool inputs)
{
	hv.rec.buf = buf;
	hv.rec.cap = cap;
	hv.rec.len = 0;
	hv.rec.on = true;
	hv.rec.inputs = inputs;
	hv.rec.overflow = false;
}

long hv_rec_end(void)
{
	hv.rec.on = false;
	hv.rec.inputs = false;
	return hv.rec.overflow ? -1 : (long)hv.rec.len;
}

/* Inputs are recorded once per exit: the first read is what the handler saw. */
void rec_exit_start(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(hv.rec.vmcs_seen); i++)
		hv.rec.vmcs_seen[i] = 0;
	hv.rec.gpr_seen = 0;
}

void rec_item(u8 tag, u8 aux, const void *a, u32 alen, const void *b, u32 blen)
{
	struct hv_rec *r = &hv.rec;
	u32 n = UXT_ITEM_HDR_SIZE + alen + blen;
	if (alen + blen > 0xffff || r->len + n > r->cap) {
		r->overflow = true;
		return;
	}
	u8 *p = r->buf + r->len;
	p[0] = tag;
	p[1] = aux;
	uxt_put16(p + 2, (u16)(alen + blen));
	hv_memcpy(p + 4, a, alen);
	hv_memcpy(p + 4 + alen, b, blen);
	r->len += n;
}

void rec_vmcs(u8 tag, u32 enc, u64 val)
{
	u8 p[12];
	uxt_put32(p, enc);
	uxt_put64(p + 4, val);
	rec_item(tag, 0, p, 12, NULL, 0);
}

void rec_u64(u8 tag, u8 aux, u64 val)
{
	u8 p[8];
	uxt_put64(p, val);
	rec_item(tag, aux, p, 8, NULL, 0);
}

void rec_fate(unsigned fate, u32 reason, u64 arg)
{
	if (!hv.rec.on)
		return;
	u8 p[12];
	uxt_put32(p, reason);
	uxt_put64(p + 4, arg);
	rec_item(UXT_IT_FATE_OUT, (u8)fate, p, 12, NULL, 0);
}

u64 vmr(u32 enc)
{
	u64 val = arch_vmread(enc);
	if (unlikely(hv.rec.inputs)) {
		int i = vmcs_field_index(enc);
		HV_ASSERT(i >= 0);
		if (!(hv.rec.vmcs_seen[i / 64] & BIT(i % 64))) {
			hv.rec.vmcs_seen[i / 64] |= BIT(i % 64);
			rec_vmcs(UXT_IT_VMCS_IN, enc, val);
		}
	}
	return val;
}

void vmw(u32 enc, u64 val)
{
	arch_vmwrite(enc, val);
	if (hv.rec.on)
		rec_vmcs(UXT_IT_VMCS_OUT, enc, val);
	/* A later read in the same exit sees our write, not a recorded input. */
	if (unlikely(hv.rec.inputs)) {
		int i = vmcs_field_index(enc);
		hv.rec.vmcs_seen[i / 64] |= BIT(i % 64);
	}
}

u64 reg_get(struct hv_vcpu *v, unsigned r)
{
	HV_ASSERT(r < NR_GPRS);
	if (r == RSP)
		return vmr(VMCS_GUEST_RSP);
	if (unlikely(hv.rec.inputs) && !(hv.rec.gpr_seen & BIT(r))) {
		hv.rec.gpr_seen |= (u32)BIT(r);
		rec_u64(UXT_IT_REG_IN, (u8)r, v->gpr[r]);
	}
	return v->gpr[r];
}

void reg_set(struct hv_vcpu *v, unsigned r, u64 val)
{
	HV_ASSERT(r < NR_GPRS);
	if (r == RSP) {
		vmw(VMCS_GUEST_RSP, val);
		return;
	}
	v->gpr[r] = val;
	hv.rec.gpr_seen |= (u32)BIT(r);
	if (hv.rec.on)
		rec_u64(UXT_IT_REG_OUT, (u8)r, val);
}

u32 cpuid_input(u32 leaf, u32 sub, u32 out[4])
{
	arch_cpuid(leaf, sub, out);
	if (unlikely(hv.rec.inputs)) {
		u8 p[24];
		uxt_put32(p, leaf);
		uxt_put32(p + 4, sub);
		for (int i = 0; i < 4; i++)
			uxt_put32(p + 8 + 4 * i, out[i]);
		rec_item(UXT_IT_CPUID_IN, 0, p, 24, NULL, 0);
	}
	return out[0];
}

u64 tsc_input(void)
{
	u64 t = arch_rdtsc();
	if (unlikely(hv.rec.inputs))
		rec_u64(UXT_IT_TSC_IN, 0, t);
	return t;
}

void advance_rip(struct hv_vcpu *v)
{
	(void)v;
	u64 len = vmr(VMCS_EXIT_INSTRUCTION_LEN);
	vmw(VMCS_GUEST_RIP, vmr(VMCS_GUEST_RIP) + len);
}

/* Event injection on the next VM entry (SDM 24.8.3): type 3 = hardware
 * exception, bit 11 = deliver error code, bit 31 = valid. */
void inject_exception(struct hv_vcpu *v, u8 vector, bool has_err, u32 err)
{
	(void)v;
	u32 info = vector | (3u << 8) | (1u << 31) | (has_err ? 1u << 11 : 0);
	vmw(VMCS_ENTRY_INTR_INFO, info);
	if (has_err)
		vmw(VMCS_ENTRY_EXCEPTION_ERRCODE, err);
}
