/* Fuzz target "decode": the MMIO instruction decoder (hv/core/decode.c),
 * differential against Capstone as the oracle. Input: a mode byte (2, 4 or
 * 8 bytes of default operand size: 16-, 32-, 64-bit code; any other value
 * folds into one of them) and up to 15 instruction bytes.
 *  - Whatever the decoder accepts, Capstone must decode to the same
 *    instruction: length, memory operand size, direction, register (and
 *    high-byte register), immediate, and widening (MOV/MOVZX/MOVSX).
 *  - Whatever Capstone decodes as one of the moves the decoder handles
 *    (decode.h: opcodes 88-8B, C6/C7 /0, A0-A3, 0F B6/B7/BE/BF with a
 *    memory operand, no LOCK/REP prefix) the decoder must accept.
 * Known Capstone 4.0.2 disagreements with the SDM are listed where they
 * are excused. A finding aborts; fuzz/README.md says how to turn one into
 * an MMIO trace. */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

bool fz_writes_traces(void) { return false; } /* -o has no trace to write */

static csh cs[3];

static void finding(const u8 *b, u32 n, unsigned mode, const char *what,
		    const cs_insn *ci)
{
	fprintf(stderr, "fuzz decode: %u-bit code:", mode * 8);
	for (u32 i = 0; i < n; i++)
		fprintf(stderr, " %02x", b[i]);
	fprintf(stderr, ": %s (capstone: %s %s)\n", what, ci ? ci->mnemonic : "-",
		ci ? ci->op_str : "");
	if (!fz_no_abort())
		abort();
}

/* A Capstone register as (GPR number, size, high byte); -1 if not a GPR. */
static int gpr_of(unsigned reg, unsigned *size, bool *high)
{
	static const unsigned r8[] = { X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL,
		X86_REG_SPL, X86_REG_BPL, X86_REG_SIL, X86_REG_DIL, X86_REG_R8B,
		X86_REG_R9B, X86_REG_R10B, X86_REG_R11B, X86_REG_R12B, X86_REG_R13B,
		X86_REG_R14B, X86_REG_R15B };
	static const unsigned r16[] = { X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX,
		X86_REG_SP, X86_REG_BP, X86_REG_SI, X86_REG_DI, X86_REG_R8W,
		X86_REG_R9W, X86_REG_R10W, X86_REG_R11W, X86_REG_R12W, X86_REG_R13W,
		X86_REG_R14W, X86_REG_R15W };
	static const unsigned r32[] = { X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX,
		X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI, X86_REG_R8D,
		X86_REG_R9D, X86_REG_R10D, X86_REG_R11D, X86_REG_R12D, X86_REG_R13D,
		X86_REG_R14D, X86_REG_R15D };
	static const unsigned r64[] = { X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX,
		X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI, X86_REG_R8,
		X86_REG_R9, X86_REG_R10, X86_REG_R11, X86_REG_R12, X86_REG_R13,
		X86_REG_R14, X86_REG_R15 };
	static const unsigned hi[] = { X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH };
	*high = false;
	for (int i = 0; i < 16; i++) {
		if (reg == r8[i]) { *size = 1; return i; }
		if (reg == r16[i]) { *size = 2; return i; }
		if (reg == r32[i]) { *size = 4; return i; }
		if (reg == r64[i]) { *size = 8; return i; }
	}
	for (int i = 0; i < 4; i++)
		if (reg == hi[i]) { *size = 1; *high = true; return i; }
	return -1;
}

static bool is_move_opcode(const cs_x86 *x)
{
	const u8 *o = x->opcode;
	if (o[0] == 0x0f)
		return o[1] == 0xb6 || o[1] == 0xb7 || o[1] == 0xbe || o[1] == 0xbf;
	return (o[0] >= 0x88 && o[0] <= 0x8b) || o[0] == 0xc6 || o[0] == 0xc7 ||
	       (o[0] >= 0xa0 && o[0] <= 0xa3);
}

static const cs_x86_op *mem_op(const cs_x86 *x, int *idx)
{
	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM) {
			*idx = i;
			return &x->operands[i];
		}
	return NULL;
}

/* Does a LOCK or REP/REPNE prefix come before the opcode? The decoder
 * rejects those by design (decode.h); Capstone 4.0.2 drops a REP before
 * a MOV from its prefix list, so look at the bytes. */
static bool lock_or_rep(const u8 *b, u32 n, enum dec_mode mode)
{
	for (u32 i = 0; i < n; i++) {
		u8 c = b[i];
		if (c == 0xf0 || c == 0xf2 || c == 0xf3)
			return true;
		bool legacy = c == 0x66 || c == 0x67 || c == 0x26 || c == 0x2e ||
			      c == 0x36 || c == 0x3e || c == 0x64 || c == 0x65;
		bool rex = mode == DEC_MODE64 && (c & 0xf0) == 0x40;
		if (!legacy && !rex)
			return false;
	}
	return false;
}

static void compare(const u8 *b, u32 n, enum dec_mode mode, int rc,
		    const struct dec_insn *d, const cs_insn *ci)
{
	const cs_x86 *x = ci ? &ci->detail->x86 : NULL;
	int mi = -1;
	const cs_x86_op *m = x ? mem_op(x, &mi) : NULL;
	bool cs_move = x && m && is_move_opcode(x) && x->prefix[0] == 0 &&
		       !lock_or_rep(b, n, mode) &&
		       (!strcmp(ci->mnemonic, "mov") || !strcmp(ci->mnemonic, "movabs") ||
			!strcmp(ci->mnemonic, "movzx") || !strcmp(ci->mnemonic, "movsx"));
	if (rc < 0) {
		if (cs_move && ci->size <= n)
			finding(b, n, mode, rc == -DEC_ETRUNC ? "decoder says truncated"
				: "decoder rejects a move", ci);
		return;
	}
	if (!cs_move) {
		finding(b, n, mode, "decoder accepts what is not a move to/from memory", ci);
		return;
	}
	if (d->len != ci->size)
		return finding(b, n, mode, "length differs", ci);
	if (d->mem_size != m->size)
		return finding(b, n, mode, "memory operand size differs", ci);
	if ((d->dir == DEC_TO_MEM) != (mi == 0))
		return finding(b, n, mode, "direction differs", ci);
	u8 ext = !strcmp(ci->mnemonic, "movzx") ? DEC_EXT_ZERO
		 : !strcmp(ci->mnemonic, "movsx") ? DEC_EXT_SIGN : DEC_EXT_NONE;
	if (d->dir == DEC_FROM_MEM && d->ext != ext)
		return finding(b, n, mode, "zero/sign extension differs", ci);
	const cs_x86_op *o = &x->operands[1 - mi];
	if (o->type == X86_OP_IMM) {
		if (!d->has_imm || d->imm != ((u64)o->imm & (d->mem_size >= 8 ? ~0ull : (1ull << (8 * d->mem_size)) - 1)))
			return finding(b, n, mode, "immediate differs", ci);
		return;
	}
	unsigned size;
	bool high;
	int r = o->type == X86_OP_REG ? gpr_of(o->reg, &size, &high) : -1;
	if (d->has_imm || r < 0)
		return finding(b, n, mode, "register operand differs", ci);
	if (r != d->reg || high != d->reg_high)
		return finding(b, n, mode, "register differs", ci);
	if (size != (d->dir == DEC_FROM_MEM ? d->reg_size : d->mem_size))
		return finding(b, n, mode, "register size differs", ci);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const cs_mode modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
	if (!cs[0]) {
		for (int i = 0; i < 3; i++) {
			if (cs_open(CS_ARCH_X86, modes[i], &cs[i]) != CS_ERR_OK)
				abort();
			cs_option(cs[i], CS_OPT_DETAIL, CS_OPT_ON);
		}
	}
	if (size < 2)
		return 0;
	unsigned mi = data[0] == 2 ? 0 : data[0] == 4 ? 1 : data[0] == 8 ? 2 : data[0] % 3;
	enum dec_mode mode = mi == 0 ? DEC_MODE16 : mi == 1 ? DEC_MODE32 : DEC_MODE64;
	u32 n = (u32)(size - 1 > DEC_MAX_LEN ? DEC_MAX_LEN : size - 1);
	u8 b[DEC_MAX_LEN];
	memcpy(b, data + 1, n);
	struct dec_insn d;
	memset(&d, 0, sizeof(d));
	int rc = dec_insn(b, n, mode, &d);
	if (rc > 0 && (u32)rc != d.len)
		finding(b, n, mode, "return value is not the length", NULL);
	cs_insn *ci = NULL;
	size_t got = cs_disasm(cs[mi], b, n, 0x1000, 1, &ci);
	compare(b, n, mode, rc, &d, got ? ci : NULL);
	if (got)
		cs_free(ci, got);
	return 0;
}
