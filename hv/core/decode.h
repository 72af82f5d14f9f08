/* A small x86 instruction decoder for MMIO emulation: just the moves a
 * guest uses to touch device memory (Intel SDM Vol. 2, chapter 2 for the
 * encoding; MOV, MOVZX and MOVSX in chapter 4):
 *   88/89 MOV r/m, r         8A/8B MOV r, r/m
 *   C6/C7 /0 MOV r/m, imm    A0-A3 MOV AL/rAX <-> moffs
 *   0F B6/B7 MOVZX r, r/m    0F BE/BF MOVSX r, r/m
 * with the 66, 67, segment-override and REX prefixes, in 16-, 32- and
 * 64-bit code. Register forms (ModRM mod = 3) do not touch memory and are
 * rejected, as are LOCK and REP/REPNE prefixes and every other opcode.
 * Freestanding: no core state, so tests and fuzzers can call it directly. */
#ifndef HV_DECODE_H
#define HV_DECODE_H

#include "hv/types.h"

#define DEC_MAX_LEN 15 /* longer instructions raise #GP (SDM 2.3.11) */

/* The code segment's default operand and address size, in bytes. */
enum dec_mode { DEC_MODE16 = 2, DEC_MODE32 = 4, DEC_MODE64 = 8 };

enum dec_dir { DEC_TO_MEM, DEC_FROM_MEM };

/* How a load widens the memory value into the register. The values are
 * those of struct pending_io's ext field. */
enum dec_ext { DEC_EXT_NONE, DEC_EXT_ZERO, DEC_EXT_SIGN };

/* Errors, returned negated. */
enum dec_err {
	DEC_EINVAL = 1, /* not an instruction this decoder accepts */
	DEC_ETRUNC = 2, /* the buffer ends before the instruction does */
};

struct dec_insn {
	u8 len;        /* bytes, prefixes included */
	u8 mem_size;   /* bytes read or written in memory: 1, 2, 4 or 8 */
	u8 reg_size;   /* register operand size (MOVZX/MOVSX: destination) */
	u8 dir;        /* enum dec_dir */
	u8 ext;        /* enum dec_ext (loads only) */
	u8 reg;        /* GPR number, x86 order (0 = rAX ... 15 = R15) */
	bool reg_high; /* byte register AH, CH, DH or BH: bits 15:8 of reg */
	bool has_imm;  /* the source is imm, not reg */
	u64 imm;       /* the value stored, already sized to mem_size */
};

/* Decode the instruction at buf[0..n). Returns its length (> 0) and fills
 * *d, or -DEC_EINVAL / -DEC_ETRUNC. */
int dec_insn(const u8 *buf, u32 n, enum dec_mode mode, struct dec_insn *d);

#endif
