/* The MMIO instruction decoder (see decode.h). Encoding references are to
 * Intel SDM Vol. 2, chapter 2. */
#include "decode.h"

/* REX prefix bits (SDM 2.2.1.2). */
#define REX_B 0x1
#define REX_X 0x2
#define REX_R 0x4
#define REX_W 0x8

struct cursor {
	const u8 *buf;
	u32 n, pos;
};

struct prefixes {
	bool opsize;   /* 66 */
	bool addrsize; /* 67 */
	u8 rex;        /* 0 when absent */
};

/* Consume k bytes as a little-endian value. The 15-byte limit comes first:
 * an over-long instruction is invalid however much of it was fetched. */
static int take(struct cursor *c, u32 k, u64 *val)
{
	if (c->pos + k > DEC_MAX_LEN)
		return -DEC_EINVAL;
	if (c->pos + k > c->n)
		return -DEC_ETRUNC;
	u64 v = 0;
	for (u32 i = 0; i < k; i++)
		v |= (u64)c->buf[c->pos + i] << (8 * i);
	c->pos += k;
	*val = v;
	return 0;
}

/* Legacy prefixes and REX (SDM 2.1.1, 2.2.1); leaves *op at the first
 * opcode byte. A REX prefix counts only directly before the opcode: one
 * followed by a legacy prefix is ignored, as the hardware ignores it. */
static int read_prefixes(struct cursor *c, enum dec_mode mode,
			 struct prefixes *p, u8 *op)
{
	for (;;) {
		u64 b;
		int rc = take(c, 1, &b);
		if (rc)
			return rc;
		switch (b) {
		case 0x66:
			p->opsize = true;
			break;
		case 0x67:
			p->addrsize = true;
			break;
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
			break; /* the VMCS gives the GPA: the segment is moot */
		case 0xf0: case 0xf2: case 0xf3:
			return -DEC_EINVAL; /* LOCK MOV is #UD; REP MOV reserved */
		default:
			if (mode == DEC_MODE64 && (b & 0xf0) == 0x40) {
				p->rex = (u8)b;
				continue;
			}
			*op = (u8)b;
			return 0;
		}
		p->rex = 0;
	}
}

/* Operand size (SDM 2.2.1.2, table 2-4): REX.W beats 66; 66 swaps the
 * default 16 <-> 32; 64-bit code defaults to 32-bit operands. */
static unsigned operand_size(enum dec_mode mode, const struct prefixes *p)
{
	if (p->rex & REX_W)
		return 8;
	if (mode == DEC_MODE16)
		return p->opsize ? 4 : 2;
	return p->opsize ? 2 : 4;
}

/* Address size: the mode's default, or with 67 the alternative
 * (64 -> 32, 32 -> 16, 16 -> 32). */
static unsigned address_size(enum dec_mode mode, const struct prefixes *p)
{
	if (!p->addrsize)
		return mode;
	return mode == DEC_MODE32 ? 2 : 4;
}

/* What the opcode moves, before its operands are read. */
static int opcode_form(struct cursor *c, u8 op, unsigned osz,
		       struct dec_insn *d)
{
	u64 op2;
	int rc;
	switch (op) {
	case 0x88: case 0x8a:
		d->mem_size = d->reg_size = 1;
		break;
	case 0x89: case 0x8b:
		d->mem_size = d->reg_size = (u8)osz;
		break;
	case 0xc6:
		d->mem_size = 1;
		d->has_imm = true;
		break;
	case 0xc7:
		d->mem_size = (u8)osz;
		d->has_imm = true;
		break;
	case 0x0f:
		rc = take(c, 1, &op2);
		if (rc)
			return rc;
		/* 0F B6/B7 MOVZX, 0F BE/BF MOVSX: bit 0 picks a 16-bit source,
		 * bit 3 sign extension. */
		if (op2 != 0xb6 && op2 != 0xb7 && op2 != 0xbe && op2 != 0xbf)
			return -DEC_EINVAL;
		d->mem_size = (op2 & 1) ? 2 : 1;
		d->reg_size = (u8)osz;
		d->ext = (op2 & 8) ? DEC_EXT_SIGN : DEC_EXT_ZERO;
		d->dir = DEC_FROM_MEM;
		return 0;
	default:
		return -DEC_EINVAL;
	}
	d->dir = (op == 0x8a || op == 0x8b) ? DEC_FROM_MEM : DEC_TO_MEM;
	return 0;
}

/* Skip the SIB byte and displacement of a memory operand (SDM 2.1.5,
 * tables 2-1 to 2-3). */
static int skip_mem_operand(struct cursor *c, u8 modrm, unsigned asz)
{
	unsigned mod = modrm >> 6, rm = modrm & 7, dlen;
	u64 sib, disp;
	if (mod == 3)
		return -DEC_EINVAL; /* a register operand: no memory access */
	if (asz == 2) {
		/* 16-bit forms have no SIB; mod 0 rm 6 is [disp16], not [bp]. */
		dlen = mod == 1 ? 1 : (mod == 2 || rm == 6) ? 2 : 0;
		return take(c, dlen, &disp);
	}
	dlen = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (rm == 4) {
		int rc = take(c, 1, &sib);
		if (rc)
			return rc;
		if (mod == 0 && (sib & 7) == 5)
			dlen = 4; /* no base: [index*scale + disp32] */
	} else if (mod == 0 && rm == 5) {
		dlen = 4; /* [disp32]; RIP-relative in 64-bit mode */
	}
	return take(c, dlen, &disp);
}

/* The ModRM reg field. Without any REX prefix, byte registers 4-7 are AH,
 * CH, DH and BH; with one they are SPL, BPL, SIL and DIL (SDM 3.4.1.1). */
static void set_reg(struct dec_insn *d, unsigned reg, u8 rex)
{
	if (d->reg_size == 1 && !rex && reg >= 4) {
		d->reg = (u8)(reg - 4);
		d->reg_high = true;
		return;
	}
	d->reg = (u8)(reg | ((rex & REX_R) ? 8 : 0));
}

/* imm8, imm16 or imm32 by operand size; a 64-bit store sign-extends its
 * imm32 (SDM: MOV r/m64, imm32). */
static int read_imm(struct cursor *c, struct dec_insn *d)
{
	u64 v;
	int rc = take(c, d->mem_size == 8 ? 4 : d->mem_size, &v);
	if (rc)
		return rc;
	d->imm = d->mem_size == 8 ? (u64)(s64)(s32)(u32)v : v;
	return 0;
}

/* C6/C7 (only /0 is MOV), 88-8B and 0F xx: ModRM forms. */
static int decode_modrm_form(struct cursor *c, u8 op, unsigned osz,
			     unsigned asz, u8 rex, struct dec_insn *d)
{
	u64 modrm;
	int rc = opcode_form(c, op, osz, d);
	if (rc)
		return rc;
	rc = take(c, 1, &modrm);
	if (rc)
		return rc;
	unsigned reg = (modrm >> 3) & 7;
	if (d->has_imm && reg != 0)
		return -DEC_EINVAL;
	rc = skip_mem_operand(c, (u8)modrm, asz);
	if (rc)
		return rc;
	if (d->has_imm)
		return read_imm(c, d);
	set_reg(d, reg, rex);
	return 0;
}

/* A0-A3: MOV AL/rAX to or from an absolute offset of address size. */
static int decode_moffs(struct cursor *c, u8 op, unsigned osz, unsigned asz,
			struct dec_insn *d)
{
	u64 off;
	d->mem_size = d->reg_size = (op & 1) ? (u8)osz : 1;
	d->dir = (op & 2) ? DEC_TO_MEM : DEC_FROM_MEM;
	d->reg = 0;
	return take(c, asz, &off);
}

int dec_insn(const u8 *buf, u32 n, enum dec_mode mode, struct dec_insn *d)
{
	struct cursor c = { buf, n, 0 };
	struct prefixes p = { false, false, 0 };
	u8 op = 0;
	*d = (struct dec_insn){ 0 };
	int rc = read_prefixes(&c, mode, &p, &op);
	if (rc)
		return rc;
	unsigned osz = operand_size(mode, &p), asz = address_size(mode, &p);
	if (op >= 0xa0 && op <= 0xa3)
		rc = decode_moffs(&c, op, osz, asz, d);
	else
		rc = decode_modrm_form(&c, op, osz, asz, p.rex, d);
	if (rc)
		return rc;
	d->len = (u8)c.pos;
	return (int)c.pos;
}
