/* Fuzz target "hypercalls": the guest (VMCALL) and host hypercall ABI with
 * hostile arguments, on a fork of the template domain (and on the frozen
 * template itself). The input is a program of
 * calls, each:
 *   u8 how   bit 0: from the guest (a VMCALL exit) or the host;
 *            bit 1: guest vCPU; bit 2: guest in user mode (must get EPERM);
 *            bit 3: a raw number (next byte) instead of a table entry
 *   u8 which table entry (mod the number of calls) or raw number
 *   then per argument: a selector byte and its value (fz_arg): mostly
 *   well-typed for the argument's kind from hypercalls.def, sometimes
 *   anything; LOAD and VCPU_SET_STATE take a payload from the input.
 * The table is the core's own (hv/include/hv/tables/hypercalls.def): a new
 * hypercall is fuzzed as soon as it is listed. */
#include "fuzz.h"
#include "hv/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const u32 guest_fields[] = {
#define X(name, enc) enc,
#include "hv/tables/vmcs_fields.def"
#undef X
};

/* VCPU_SET_STATE records { u32 key, u32 0, u64 value }: a VMCS field of
 * the table, a GPR key (0xf000 + n) or anything. */
static u32 state_payload(struct fz_in *in, u8 *buf, u32 cap)
{
	u32 n = 1 + fz_u8(in) % 4, len = 0;
	for (u32 i = 0; i < n && len + 16 <= cap; i++, len += 16) {
		u8 k = fz_u8(in);
		u32 key = k < 160 ? guest_fields[k % ARRAY_SIZE(guest_fields)]
			  : k < 224 ? 0xf000u + (k & 0xf) : fz_u32(in);
		uxt_put32(buf + len, key);
		uxt_put32(buf + len + 4, k == 255 ? fz_u32(in) : 0);
		uxt_put64(buf + len + 8, fz_val(in));
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static struct fz_items items;
	static u8 payload[4096];
	struct fz_in in = { data, size };
	fz_begin(&f);
	u16 d = fz_template(&f, 2); /* DOM arguments: it, or the template */
	while (in.n && fz_more(&f)) {
		u8 how = fz_u8(&in), which = fz_u8(&in);
		const struct fz_hc *h = &fz_hcs[which % fz_nr_hcs];
		u64 nr = (how & 8) ? which : h->nr;
		if ((how & 9) == 9)
			nr = fz_val(&in); /* RAX: any 64-bit value */
		u64 a[4];
		for (unsigned i = 0; i < 4; i++)
			a[i] = fz_arg(&in, (how & 8) ? FZ_ARG_VAL : h->kind[i], d, 2);
		f.events++;
		if (how & 1) {
			fz_items_reset(&items);
			fz_item_vmcs(&items, VMCS_GUEST_SS_AR, (how & 4) ? 0xc0f3 : 0xc093);
			fz_item_vmcs(&items, VMCS_EXIT_INSTRUCTION_LEN, 3);
			fz_item_reg(&items, RAX, nr);
			fz_item_reg(&items, RDI, a[0]);
			fz_item_reg(&items, RSI, a[1]);
			fz_item_reg(&items, RDX, a[2]);
			fz_item_reg(&items, R10, a[3]);
			fz_exit(&f, EXIT_VMCALL, d, (how >> 1) & 1, &items);
			continue;
		}
		u32 len = 0;
		if (nr == HC_LOAD) {
			len = fz_u8(&in) % 64;
			for (u32 i = 0; i < len; i++)
				payload[i] = fz_u8(&in);
		} else if (nr == HC_VCPU_SET_STATE) {
			len = state_payload(&in, payload, sizeof(payload));
		}
		fz_call(&f, (u32)nr, a[0], a[1], a[2], a[3], len ? payload : NULL, len);
	}
	fz_run(&f, "hypercalls");
	return 0;
}
