/* Name tables, expanded from the one table of each kind of constant. */
#include "core.h"

const char *exit_reason_name(u32 reason)
{
	switch (reason) {
#define X(name, num, handler) case num: return #name;
#include "hv/tables/exit_reasons.def"
#undef X
	}
	return "UNKNOWN_EXIT";
}

/* A field whose index bits exceed the key, or with bits the key ignores,
 * would alias another: refuse it at compile time. Two fields with one key
 * are caught by -Woverride-init (in -Wextra) in the table below. */
#define X(name, e)                                                             \
	_Static_assert(((e) & 0x9001) == 0 && (((e) >> 1) & 0x1ff) < 32,       \
		       "VMCS_KEY cannot hold field " #name);
#include "hv/tables/vmcs_fields.def"
#undef X

const u8 vmcs_key_index[512] = {
#define X(name, e) [VMCS_KEY(e)] = VMCS_IDX_##name + 1,
#include "hv/tables/vmcs_fields.def"
#undef X
};

const u16 vmcs_index_enc[VMCS_NR_FIELDS] = {
#define X(name, e) [VMCS_IDX_##name] = e,
#include "hv/tables/vmcs_fields.def"
#undef X
};

const char *vmcs_field_name(u32 enc)
{
	switch (enc) {
#define X(name, e) case e: return #name;
#include "hv/tables/vmcs_fields.def"
#undef X
	}
	return "UNKNOWN_FIELD";
}

const char *msr_name(u32 idx)
{
	switch (idx) {
#define X(name, i, kind, arg) case i: return #name;
#include "hv/tables/msrs.def"
#undef X
	}
	return "UNKNOWN_MSR";
}

const char *hypercall_name(u32 nr)
{
	switch (nr) {
#define X(name, n, callers, nargs, a0, a1, a2, a3) case n: return #name;
#include "hv/tables/hypercalls.def"
#undef X
	}
	return "UNKNOWN_HYPERCALL";
}

const char *crash_reason_text(u32 code)
{
	switch (code) {
#define X(name, c, text) case c: return text;
#include "hv/tables/crash_reasons.def"
#undef X
	}
	return "unknown reason";
}

const char *crash_reason_name(u32 code)
{
	switch (code) {
#define X(name, c, text) case c: return #name;
#include "hv/tables/crash_reasons.def"
#undef X
	}
	return "UNKNOWN";
}

const char *hv_strerror(long err)
{
	/* Through unsigned: negating the most negative long is undefined. */
	switch (err < 0 ? 0 - (unsigned long)err : (unsigned long)err) {
#define X(name, val, text) case val: return text;
		HV_ERRORS(X)
#undef X
	}
	return "unknown error";
}
