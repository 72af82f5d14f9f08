/* Exit reasons, VMCS fields, MSRs, hypercalls and crash reasons as C enums,
 * all expanded from the tables in tables/. */
#ifndef HV_EXITS_H
#define HV_EXITS_H

#include "hv/types.h"

enum exit_reason {
#define X(name, num, handler) EXIT_##name = num,
#include "hv/tables/exit_reasons.def"
#undef X
	EXIT_REASON_MAX = 65
};

enum vmcs_field {
#define X(name, enc) VMCS_##name = enc,
#include "hv/tables/vmcs_fields.def"
#undef X
};

/* Dense index of each VMCS field, in table order (for the simulated VMCS
 * and per-exit read bitmaps). */
enum vmcs_index {
#define X(name, enc) VMCS_IDX_##name,
#include "hv/tables/vmcs_fields.def"
#undef X
	VMCS_NR_FIELDS
};

enum msr_kind { MSR_KIND_RO, MSR_KIND_RW, MSR_KIND_CANON, MSR_KIND_VMCS };

enum msr_index {
#define X(name, idx, kind, arg) MSR_##name = idx,
#include "hv/tables/msrs.def"
#undef X
};

enum msr_slot {
#define X(name, idx, kind, arg) MSR_SLOT_##name,
#include "hv/tables/msrs.def"
#undef X
	MSR_NR_SLOTS
};

enum hypercall_nr {
#define X(name, nr, callers, nargs, a0, a1, a2, a3) HC_##name = nr,
#include "hv/tables/hypercalls.def"
#undef X
	HC_MAX = 0x40
};

enum crash_reason {
#define X(name, code, text) CRASH_##name = code,
#include "hv/tables/crash_reasons.def"
#undef X
	CRASH_MAX
};

/* Width of a VMCS field in bytes, from bits 14:13 of its encoding. */
static inline unsigned vmcs_field_width(u32 enc)
{
	static const u8 w[4] = { 2, 8, 4, 8 };
	return w[(enc >> 13) & 3];
}

/* Dense index of a field, or -1 if enc is not in the table. On the path of
 * every VMREAD/VMWRITE of the simulated VMCS, so a table lookup: the key
 * packs width, type and index bits of the encoding (SDM 24.11.2), which
 * names.c checks at compile time to be unique for every field. */
#define VMCS_KEY(e) ((((e) >> 13) & 3) << 7 | (((e) >> 10) & 3) << 5 | (((e) >> 1) & 0x1f))
extern const u8 vmcs_key_index[512];   /* key -> index + 1, 0: none */
extern const u16 vmcs_index_enc[VMCS_NR_FIELDS];
static inline int vmcs_field_index(u32 enc)
{
	unsigned i = vmcs_key_index[VMCS_KEY(enc)];
	return i && vmcs_index_enc[i - 1] == enc ? (int)i - 1 : -1;
}
/* Is a VMCS field part of a vCPU's state, what a fork copies from its
 * parent (and a reset copies again)? Guest state and the controls that go
 * with it; not the fields that name the domain itself (VPID, EPT pointer,
 * link pointer, a guest-state field), nor those the CPU writes on exit,
 * nor host state. The type is bits 11:10 of the encoding: 0 control,
 * 1 exit info, 2 guest, 3 host. A macro too, for tables built at compile
 * time. */
#define VMCS_IS_VCPU_STATE(enc)                                                \
	((enc) != VMCS_VPID && (enc) != VMCS_EPT_POINTER &&                    \
	 (enc) != VMCS_VMCS_LINK_POINTER &&                                    \
	 ((((enc) >> 10) & 3) == 0 || (((enc) >> 10) & 3) == 2))
static inline bool vmcs_field_is_vcpu_state(u32 enc)
{
	return VMCS_IS_VCPU_STATE(enc);
}
const char *exit_reason_name(u32 reason);
const char *vmcs_field_name(u32 enc);
const char *msr_name(u32 idx);
const char *hypercall_name(u32 nr);
const char *crash_reason_text(u32 code);
const char *crash_reason_name(u32 code);

#endif
