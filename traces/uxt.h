/* The µ-Xen trace format: constants and on-disk layout. See FORMAT.md.
 * Freestanding (no libc): the core's recorder emits these items directly,
 * in both the hosted and the real VMX build. All fields little-endian. */
#ifndef UXT_H
#define UXT_H

#include "hv/types.h"

/* The one place the format version lives. Bump it with every change to the
 * layout or meaning of anything in this file. */
#define UXT_VERSION 1

#define UXT_MAGIC "UXENTRC\0"
#define UXT_MAGIC_LEN 8
#define UXT_HEADER_SIZE 32
#define UXT_EVENT_HDR_SIZE 8
#define UXT_ITEM_HDR_SIZE 4

/* File header layout: byte offsets of its fields (see FORMAT.md). */
#define UXT_HDR_OFF_MAGIC 0        /* u8[8] UXT_MAGIC */
#define UXT_HDR_OFF_VERSION 8      /* u16 UXT_VERSION */
#define UXT_HDR_OFF_HEADER_SIZE 10 /* u16 UXT_HEADER_SIZE */
#define UXT_HDR_OFF_FLAGS 12       /* u32 UXT_HF_* */
#define UXT_HDR_OFF_EVENT_COUNT 16 /* u64 events in the file, 0: unknown */
#define UXT_HDR_OFF_MEM_FRAMES 24  /* u32 machine frames for replay, 0: default */
#define UXT_HDR_OFF_RESERVED 28    /* u32 0 */

/* Fixed part at the start of an event body, before its items. */
#define UXT_EXIT_PREFIX 4     /* u16 domid, u16 vcpu */
#define UXT_HOSTCALL_PREFIX 8 /* u8 nargs, 7 zero bytes; then nargs u64 */

/* Sanity limits a reader enforces before trusting any length. */
#define UXT_MAX_EVENT_BODY (1u << 20)   /* 1 MiB */
#define UXT_MAX_HOSTCALL_ARGS 4

/* Header flags. */
#define UXT_HF_OUTPUTS 0x1 /* events carry recorded outputs */
#define UXT_HF_REAL    0x2 /* recorded on the real VMX build */
#define UXT_HF_ALL     0x3

/* Event flags. */
#define UXT_EF_OUTPUTS 0x1 /* this event's outputs were recorded: check them */
#define UXT_EF_ALL     0x1

/* Event kinds: X(NAME, code). */
#define UXT_EVENT_KINDS(X)                                                     \
	X(EXIT, 1)     /* arg: basic exit reason; body: u16 dom, u16 vcpu, items */ \
	X(HOSTCALL, 2) /* arg: hypercall nr; body: u8 nargs, 7 pad, u64 args[], items */ \
	X(MARK, 3)     /* arg: 0; body: UTF-8 label for humans */

enum uxt_event_kind {
#define X(name, code) UXT_EV_##name = code,
	UXT_EVENT_KINDS(X)
#undef X
	UXT_EV_MAX
};

/* Item tags: X(NAME, tag, fixed payload size or -1 if variable, min size).
 * Tags below 0x80 are inputs (applied before the event runs), tags from 0x80
 * are outputs (compared after it ran). */
#define UXT_ITEM_TAGS(X)                                                       \
	X(VMCS_IN,    0x01, 12, 12) /* u32 enc, u64 value */                    \
	X(REG_IN,     0x02,  8,  8) /* aux: GPR index; u64 value */             \
	X(MEM_IN,     0x03, -1,  9) /* u64 gpa, bytes read */                   \
	X(CPUID_IN,   0x04, 24, 24) /* u32 leaf, subleaf, eax, ebx, ecx, edx */ \
	X(TSC_IN,     0x05,  8,  8) /* u64 raw counter */                       \
	X(DATA,       0x06, -1,  0) /* host-call payload bytes */               \
	X(VMCS_OUT,   0x81, 12, 12) /* u32 enc, u64 value written */            \
	X(REG_OUT,    0x82,  8,  8) /* aux: GPR index; u64 value written */     \
	X(P2M_OUT,    0x83, 12, 12) /* u64 gfn, u8 order, u8 perms, u8 type, u8 0 */ \
	X(IOREQ_OUT,  0x84, 24, 24) /* see struct uxt_ioreq */                  \
	X(FATE_OUT,   0x85, 12, 12) /* aux: action; u32 reason, u64 arg */      \
	X(STATUS_OUT, 0x86,  8,  8) /* s64 host-call result */                  \
	X(MEM_OUT,    0x87, -1,  9) /* u64 gpa, bytes written */                \
	X(CONSOLE_OUT,0x88, -1,  1) /* bytes the guest wrote to its console */

enum uxt_item_tag {
#define X(name, tag, size, min) UXT_IT_##name = tag,
	UXT_ITEM_TAGS(X)
#undef X
};

#define UXT_IT_OUTPUT 0x80

/* What the vCPU does after an exit (FATE_OUT's aux). RESUME is not
 * recorded: it is the absence of a FATE_OUT item. */
#define UXT_FATES(X)                                                           \
	X(RESUME, 0)   /* back into the guest */                               \
	X(BLOCKED, 1)  /* HLT: waits for an interrupt */                       \
	X(IOREQ, 2)    /* waits for the host to complete an I/O request */     \
	X(YIELD, 3)    /* back to the host: interrupt, time slice, yield */    \
	X(CRASHED, 4)  /* domain ended by the hypervisor; u32 reason */        \
	X(SHUTDOWN, 5) /* guest asked to shut down; u64 arg = its code */      \
	X(PAUSED, 6)   /* domain paused by the host */

enum uxt_fate {
#define X(name, code) UXT_FATE_##name = code,
	UXT_FATES(X)
#undef X
	UXT_FATE_MAX
};

/* General-purpose registers as numbered in REG_IN / REG_OUT's aux: the x86
 * encoding order. RSP never appears there: it lives in the VMCS. */
#define UXT_GPRS(X)                                                            \
	X(RAX, 0) X(RCX, 1) X(RDX, 2) X(RBX, 3) X(RSP, 4) X(RBP, 5) X(RSI, 6)  \
	X(RDI, 7) X(R8, 8) X(R9, 9) X(R10, 10) X(R11, 11) X(R12, 12)          \
	X(R13, 13) X(R14, 14) X(R15, 15)
enum uxt_gpr {
#define X(name, idx) UXT_GPR_##name = idx,
	UXT_GPRS(X)
#undef X
	UXT_NR_GPRS
};

/* IOREQ_OUT payload. */
#define UXT_IOREQ_PIO 0
#define UXT_IOREQ_MMIO 1
#define UXT_IOREQ_DIR_OUT 0 /* guest writes */
#define UXT_IOREQ_DIR_IN 1  /* guest reads */
#define UXT_IOREQ_F_STRING 0x1 /* addr/data: port and gpa of the guest buffer */
#define UXT_IOREQ_F_DF 0x2     /* string op walks downwards */
#define UXT_IOREQ_F_REP 0x4
struct uxt_ioreq {
	u8 type, dir, size, flags;
	u32 count;
	u64 addr; /* port or gpa */
	u64 data; /* value (out), or buffer gpa for string ops */
};

/* Little-endian accessors. One load or store each (__builtin_memcpy of a
 * constant size compiles to a single move, with no alignment to assume):
 * byte by byte, the sanitized builds checked and shifted each byte, and
 * the compiler left the helpers out of line, a call per field. The byte
 * swap folds away on a little-endian host (every x86 one). */
#define UXT_BE (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
static inline u16 uxt_get16(const u8 *p)
{
	u16 v;
	__builtin_memcpy(&v, p, sizeof(v));
	return UXT_BE ? __builtin_bswap16(v) : v;
}
static inline u32 uxt_get32(const u8 *p)
{
	u32 v;
	__builtin_memcpy(&v, p, sizeof(v));
	return UXT_BE ? __builtin_bswap32(v) : v;
}
static inline u64 uxt_get64(const u8 *p)
{
	u64 v;
	__builtin_memcpy(&v, p, sizeof(v));
	return UXT_BE ? __builtin_bswap64(v) : v;
}
static inline void uxt_put16(u8 *p, u16 v)
{
	v = UXT_BE ? __builtin_bswap16(v) : v;
	__builtin_memcpy(p, &v, sizeof(v));
}
static inline void uxt_put32(u8 *p, u32 v)
{
	v = UXT_BE ? __builtin_bswap32(v) : v;
	__builtin_memcpy(p, &v, sizeof(v));
}
static inline void uxt_put64(u8 *p, u64 v)
{
	v = UXT_BE ? __builtin_bswap64(v) : v;
	__builtin_memcpy(p, &v, sizeof(v));
}

#endif
