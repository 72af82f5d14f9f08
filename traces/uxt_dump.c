/* Human-readable trace listings (uxen-replay --dump). Every name comes
 * from the one table of its kind (uxt.h, the .def tables), so the listing
 * cannot drift from what the core and the reader understand. */
#include <ctype.h>
#include "uxt_io.h"
#include "hv/exits.h"

#define DUMP_MAX_BYTES 32    /* of guest memory or host-call data */
#define DUMP_MAX_TEXT 200    /* of console output and MARK labels */

static const char *table_name(const char *const *names, size_t n, u32 i)
{
	return i < n && names[i] ? names[i] : "?";
}

const char *uxt_kind_name(u32 kind)
{
	static const char *const names[] = {
#define X(name, code) [code] = #name,
		UXT_EVENT_KINDS(X)
#undef X
	};
	return table_name(names, ARRAY_SIZE(names), kind);
}

const char *uxt_tag_name(u32 tag)
{
	static const char *const names[256] = {
#define X(name, tag, size, min) [tag] = #name,
		UXT_ITEM_TAGS(X)
#undef X
	};
	return table_name(names, ARRAY_SIZE(names), tag);
}

const char *uxt_fate_name(u32 fate)
{
	static const char *const names[] = {
#define X(name, code) [code] = #name,
		UXT_FATES(X)
#undef X
	};
	return table_name(names, ARRAY_SIZE(names), fate);
}

const char *uxt_gpr_name(u32 gpr)
{
	static const char *const names[] = {
#define X(name, idx) [idx] = #name,
		UXT_GPRS(X)
#undef X
	};
	return table_name(names, ARRAY_SIZE(names), gpr);
}

/* ---- Pieces ----------------------------------------------------------- */

static void put_lower(FILE *out, const char *s)
{
	while (*s)
		fputc(tolower((unsigned char)*s++), out);
}

static void put_hex(FILE *out, const u8 *p, size_t n)
{
	size_t shown = n < DUMP_MAX_BYTES ? n : DUMP_MAX_BYTES;
	for (size_t i = 0; i < shown; i++)
		fprintf(out, "%s%02x", i ? " " : "", p[i]);
	if (shown < n)
		fprintf(out, " ... (%zu bytes)", n);
}

/* The length of the UTF-8 sequence at p (n bytes left) if it encodes a
 * code point a terminal shows as text, else 0: invalid, cut short,
 * overlong, a surrogate, past U+10FFFF, or a control a terminal would act
 * on (C1: U+009B is CSI) or that would reorder or break the listing
 * (bidirectional marks, overrides and isolates; line and paragraph
 * separators). scripts/uxtrace.py's _printable_utf8() is the same rule. */
static size_t printable_utf8(const u8 *p, size_t n)
{
	static const u32 least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	if (!len || n < len)
		return 0;
	u32 cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f ||
	    cp == 0x061c || cp == 0x200e || cp == 0x200f || cp == 0x2028 || cp == 0x2029 ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

/* A C-style quoted string, truncated: console output (whatever bytes a
 * guest wrote) and labels may hold control characters and invalid UTF-8
 * that would garble the listing or drive the terminal: those are \xNN. */
static void put_quoted(FILE *out, const u8 *p, size_t n)
{
	size_t shown = n < DUMP_MAX_TEXT ? n : DUMP_MAX_TEXT;
	fputc('"', out);
	for (size_t i = 0; i < shown;) {
		u8 c = p[i];
		size_t len = c >= 0x80 ? printable_utf8(p + i, shown - i) : 1;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f || !len)
			fprintf(out, "\\x%02x", c);
		else
			fwrite(p + i, 1, len, out);
		i += len ? len : 1;
	}
	fputc('"', out);
	if (shown < n)
		fprintf(out, "... (%zu bytes)", n);
}

/* ---- Event injection (ENTRY_INTR_INFO, SDM 24.8.3) --------------------- */

static const char *const exception_names[32] = {
	"DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO", "TS",
	"NP", "SS", "GP", "PF", NULL, "MF", "AC", "MC", "XM", "VE", "CP",
};

/* The error code the same event writes for the injected exception. */
static bool find_errcode(const struct uxt_event *ev, u32 *err)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	uxt_items_begin(&it, ev);
	while (uxt_items_next(&it, &item) > 0) {
		if (item.tag == UXT_IT_VMCS_OUT &&
		    uxt_get32(item.data) == VMCS_ENTRY_EXCEPTION_ERRCODE) {
			*err = (u32)uxt_get64(item.data + 4);
			return true;
		}
	}
	return false;
}

static void put_exception(FILE *out, const struct uxt_event *ev, u32 info)
{
	u32 vec = info & 0xff, err;
	const char *name = vec < 32 ? exception_names[vec] : NULL;
	if (name)
		fprintf(out, "#%s", name);
	else
		fprintf(out, "exception %u", vec);
	if (!(info & BIT(11)))
		return;
	if (find_errcode(ev, &err))
		fprintf(out, "(%u)", err);
	else
		fputs("(?)", out);
}

static void put_injection(FILE *out, const struct uxt_event *ev, u32 info)
{
	static const char *const types[8] = {
		"external interrupt", "reserved type 1", "NMI", NULL,
		"software interrupt", "privileged software exception", NULL,
		"other event",
	};
	u32 type = (info >> 8) & 7;
	fputs("  inject ", out);
	if (!(info & BIT(31)))
		fputs("nothing (valid bit clear)", out);
	else if (type == 3 || type == 6)
		put_exception(out, ev, info);
	else
		fprintf(out, "%s 0x%x", types[type], info & 0xff);
}

/* ---- Items ------------------------------------------------------------ */

static void dump_vmcs(FILE *out, const struct uxt_event *ev,
		      const struct uxt_item *it)
{
	u32 enc = uxt_get32(it->data);
	u64 val = uxt_get64(it->data + 4);
	fprintf(out, "VMCS %s (0x%04x) = 0x%llx", vmcs_field_name(enc), enc,
		(unsigned long long)val);
	if (it->tag == UXT_IT_VMCS_OUT && enc == VMCS_ENTRY_INTR_INFO)
		put_injection(out, ev, (u32)val);
}

static void dump_reg(FILE *out, const struct uxt_event *ev,
		     const struct uxt_item *it)
{
	u64 val = uxt_get64(it->data);
	bool msr_exit = ev->kind == UXT_EV_EXIT &&
			(ev->arg == EXIT_RDMSR || ev->arg == EXIT_WRMSR);
	put_lower(out, uxt_gpr_name(it->aux));
	fprintf(out, " = 0x%llx", (unsigned long long)val);
	if (msr_exit && it->tag == UXT_IT_REG_IN && it->aux == UXT_GPR_RCX)
		fprintf(out, "  MSR %s", msr_name((u32)val));
}

static void dump_mem(FILE *out, const struct uxt_item *it)
{
	fprintf(out, "MEM gpa 0x%llx, %u bytes: ",
		(unsigned long long)uxt_get64(it->data), it->len - 8u);
	put_hex(out, it->data + 8, it->len - 8u);
}

static void dump_cpuid(FILE *out, const u8 *p)
{
	fprintf(out, "CPUID leaf 0x%x sub 0x%x: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x",
		uxt_get32(p), uxt_get32(p + 4), uxt_get32(p + 8),
		uxt_get32(p + 12), uxt_get32(p + 16), uxt_get32(p + 20));
}

static void dump_p2m(FILE *out, const u8 *p)
{
	u8 perms = p[9];
	fprintf(out, "P2M gfn 0x%llx order %u perms %c%c%c type %u",
		(unsigned long long)uxt_get64(p), p[8], perms & 1 ? 'r' : '-',
		perms & 2 ? 'w' : '-', perms & 4 ? 'x' : '-', p[10]);
}

static void dump_ioreq(FILE *out, const u8 *p)
{
	bool mmio = p[0] == UXT_IOREQ_MMIO, string = p[3] & UXT_IOREQ_F_STRING;
	fprintf(out, "IOREQ %s %s %s 0x%llx size %u count %u %s 0x%llx%s%s",
		mmio ? "MMIO" : p[0] == UXT_IOREQ_PIO ? "PIO" : "type?",
		p[1] == UXT_IOREQ_DIR_IN ? "in" : "out", mmio ? "gpa" : "port",
		(unsigned long long)uxt_get64(p + 8), p[2], uxt_get32(p + 4),
		string ? "buffer" : "data", (unsigned long long)uxt_get64(p + 16),
		p[3] & UXT_IOREQ_F_REP ? " rep" : "",
		p[3] & UXT_IOREQ_F_DF ? " df" : "");
}

static void dump_fate(FILE *out, const struct uxt_item *it)
{
	u32 reason = uxt_get32(it->data);
	u64 arg = uxt_get64(it->data + 4);
	fprintf(out, "FATE %s", uxt_fate_name(it->aux));
	if (it->aux == UXT_FATE_CRASHED)
		fprintf(out, ": %s (%s)", crash_reason_text(reason),
			crash_reason_name(reason));
	else if (it->aux == UXT_FATE_SHUTDOWN)
		fprintf(out, " code 0x%llx", (unsigned long long)arg);
}

static void dump_status(FILE *out, const u8 *p)
{
	s64 rc = (s64)uxt_get64(p);
	fprintf(out, "STATUS %lld", (long long)rc);
	if (rc < 0)
		fprintf(out, " (%s)", hv_strerror((long)rc));
}

static void dump_item(FILE *out, const struct uxt_event *ev,
		      const struct uxt_item *it)
{
	fputs(it->tag >= UXT_IT_OUTPUT ? "    out " : "    in  ", out);
	switch (it->tag) {
	case UXT_IT_VMCS_IN:
	case UXT_IT_VMCS_OUT:
		dump_vmcs(out, ev, it);
		break;
	case UXT_IT_REG_IN:
	case UXT_IT_REG_OUT:
		dump_reg(out, ev, it);
		break;
	case UXT_IT_MEM_IN:
	case UXT_IT_MEM_OUT:
		dump_mem(out, it);
		break;
	case UXT_IT_CPUID_IN:
		dump_cpuid(out, it->data);
		break;
	case UXT_IT_TSC_IN:
		fprintf(out, "TSC 0x%llx", (unsigned long long)uxt_get64(it->data));
		break;
	case UXT_IT_DATA:
		fprintf(out, "DATA %u bytes: ", it->len);
		put_hex(out, it->data, it->len);
		break;
	case UXT_IT_P2M_OUT:
		dump_p2m(out, it->data);
		break;
	case UXT_IT_IOREQ_OUT:
		dump_ioreq(out, it->data);
		break;
	case UXT_IT_FATE_OUT:
		dump_fate(out, it);
		break;
	case UXT_IT_STATUS_OUT:
		dump_status(out, it->data);
		break;
	case UXT_IT_CONSOLE_OUT:
		fputs("CONSOLE ", out);
		put_quoted(out, it->data, it->len);
		break;
	default: /* a tag added to uxt.h but not yet decoded here */
		fprintf(out, "tag 0x%02x aux %u, %u bytes", it->tag, it->aux, it->len);
		break;
	}
	fputc('\n', out);
}

/* ---- Events ----------------------------------------------------------- */

static void dump_event_line(FILE *out, const struct uxt_event *ev, u64 index)
{
	fprintf(out, "#%llu @%llu %s", (unsigned long long)index,
		(unsigned long long)ev->offset, uxt_kind_name(ev->kind));
	switch (ev->kind) {
	case UXT_EV_EXIT:
		fprintf(out, " %s (%u) d%u v%u", exit_reason_name(ev->arg),
			ev->arg, ev->domid, ev->vcpu);
		break;
	case UXT_EV_HOSTCALL:
		fprintf(out, " %s (0x%02x)", hypercall_name(ev->arg), ev->arg);
		for (unsigned i = 0; i < ev->nargs; i++)
			fprintf(out, "%s0x%llx", i ? ", " : " args ",
				(unsigned long long)ev->args[i]);
		break;
	case UXT_EV_MARK:
		fputc(' ', out);
		put_quoted(out, ev->body, ev->body_len);
		break;
	}
	if (ev->flags & UXT_EF_OUTPUTS)
		fputs(" [outputs]", out);
	fputc('\n', out);
}

int uxt_dump_event(FILE *out, const struct uxt_event *ev, u64 index)
{
	struct uxt_item_iter it;
	struct uxt_item item;
	int rc;
	dump_event_line(out, ev, index);
	uxt_items_begin(&it, ev);
	while ((rc = uxt_items_next(&it, &item)) > 0)
		dump_item(out, ev, &item);
	if (rc < 0)
		fprintf(out, "    error: %s\n", it.err);
	return rc;
}

void uxt_dump_header(FILE *out, const struct uxt_header *h)
{
	fprintf(out, "uXen trace v%u, flags 0x%x%s%s, %llu events%s, mem_frames %u%s\n",
		h->version, h->flags, h->flags & UXT_HF_OUTPUTS ? " outputs" : "",
		h->flags & UXT_HF_REAL ? " real" : "",
		(unsigned long long)h->event_count,
		h->event_count ? "" : " (count not recorded)", h->mem_frames,
		h->mem_frames ? "" : " (default)");
}
