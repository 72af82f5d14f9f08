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

/* The recorder appends items as handlers read and write; the format wants
 * every input first (they are applied before the event runs). A stable
 * partition: the order within each group is the order of the accesses. */
u32 hv_rec_inputs_first(const u8 *rec, u32 len, u8 *out)
{
	u32 n = 0;
	for (int pass = 0; pass < 2; pass++)
		for (u32 off = 0; off < len;) {
			u32 sz = UXT_ITEM_HDR_SIZE + uxt_get16(rec + off + 2);
			if (((rec[off] & UXT_IT_OUTPUT) != 0) == (pass == 1)) {
				hv_memcpy(out + n, rec + off, sz);
				n += sz;
			}
			off += sz;
		}
	return n;
}

/* Inputs are recorded once per exit: the first read is what the handler saw. */
/* The items of a recorded host call: its DATA input (if any), then its
 * STATUS output. Returns the length, or 0 if they do not fit in cap
 * (DATA is one item: at most 0xffff bytes). */
u32 hv_rec_hostcall_items(u8 *out, u32 cap, const void *data, u32 len, s64 rc)
{
	u32 n = 0;
	if (data) {
		if (len > 0xffff || (u64)len + 16 > cap)
			return 0;
		out[0] = UXT_IT_DATA;
		out[1] = 0;
		uxt_put16(out + 2, (u16)len);
		hv_memcpy(out + 4, data, len);
		n = 4 + len;
	} else if (cap < 12) {
		return 0;
	}
	out[n] = UXT_IT_STATUS_OUT;
	out[n + 1] = 0;
	uxt_put16(out + n + 2, 8);
	uxt_put64(out + n + 4, (u64)rc);
	return n + 12;
}

/* How many of a host call's four arguments a trace records: up to the
 * last non-zero one. */
u8 hv_rec_hostcall_nargs(const u64 args[4])
{
	return args[3] ? 4 : args[2] ? 3 : args[1] ? 2 : args[0] ? 1 : 0;
}

void rec_exit_start(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(hv.rec.vmcs_seen); i++)
		hv.rec.vmcs_seen[i] = 0;
	hv.rec.gpr_seen = 0;
}

/* Room for n more bytes, or NULL (and the overflow noted). */
static inline u8 *rec_reserve(u32 n)
{
	struct hv_rec *r = &hv.rec;
	if (unlikely(r->len + n > r->cap)) {
		r->overflow = true;
		return NULL;
	}
	u8 *p = r->buf + r->len;
	r->len += n;
	return p;
}

static inline void rec_header(u8 *p, u8 tag, u8 aux, u16 len)
{
	p[0] = tag;
	p[1] = aux;
	uxt_put16(p + 2, len);
}

void rec_item(u8 tag, u8 aux, const void *a, u32 alen, const void *b, u32 blen)
{
	if (alen + blen > 0xffff) {
		hv.rec.overflow = true;
		return;
	}
	u8 *p = rec_reserve(UXT_ITEM_HDR_SIZE + alen + blen);
	if (!p)
		return;
	rec_header(p, tag, aux, (u16)(alen + blen));
	hv_memcpy(p + 4, a, alen);
	hv_memcpy(p + 4 + alen, b, blen);
}

/* The two most frequent items, written in place (every exit has some). */
void rec_vmcs(u8 tag, u32 enc, u64 val)
{
	u8 *p = rec_reserve(UXT_ITEM_HDR_SIZE + 12);
	if (p) {
		rec_header(p, tag, 0, 12);
		uxt_put32(p + 4, enc);
		uxt_put64(p + 8, val);
	}
}

void rec_u64(u8 tag, u8 aux, u64 val)
{
	u8 *p = rec_reserve(UXT_ITEM_HDR_SIZE + 8);
	if (p) {
		rec_header(p, tag, aux, 8);
		uxt_put64(p + 4, val);
	}
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

/* The recording halves of vmr/vmw/reg_get (core.h): inputs are recorded
 * once per exit, at the first read; a value the handler wrote itself is
 * not an input. */
void rec_vmcs_read(u32 enc, u64 val)
{
	int i = vmcs_field_index(enc);
	HV_ASSERT(i >= 0);
	if (!(hv.rec.vmcs_seen[i / 64] & BIT(i % 64))) {
		hv.rec.vmcs_seen[i / 64] |= BIT(i % 64);
		rec_vmcs(UXT_IT_VMCS_IN, enc, val);
	}
}

void rec_vmcs_written(u32 enc, u64 val)
{
	if (hv.rec.on)
		rec_vmcs(UXT_IT_VMCS_OUT, enc, val);
	if (hv.rec.inputs) {
		int i = vmcs_field_index(enc);
		HV_ASSERT(i >= 0);
		hv.rec.vmcs_seen[i / 64] |= BIT(i % 64);
	}
}

void rec_reg_read(struct hv_vcpu *v, unsigned r)
{
	if (!(hv.rec.gpr_seen & BIT(r))) {
		hv.rec.gpr_seen |= (u32)BIT(r);
		rec_u64(UXT_IT_REG_IN, (u8)r, v->gpr[r]);
	}
}

/* EDX:EAX, read in a fixed order: the recorder logs reads as they happen,
 * so two reads in one expression would make the trace compiler-dependent
 * (C leaves their order unspecified). The same holds for any two recorded
 * accesses in one expression or argument list. */
u64 reg_get_edx_eax(struct hv_vcpu *v)
{
	u64 lo = (u32)reg_get(v, RAX);
	u64 hi = (u32)reg_get(v, RDX);
	return hi << 32 | lo;
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
