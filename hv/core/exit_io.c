/* Port I/O (IN, OUT, INS, OUTS, with or without REP) and the completion of
 * every I/O request the host emulates (port I/O here, MMIO from
 * exit_ept.c).
 *
 * The debug console port HV_DEBUG_PORT is served here: OUT and OUTS append
 * the bytes written (every byte of the access) to the domain's console,
 * IN reads 0xe9 (the Bochs convention that tells a guest the port exists).
 * INS from it goes to the host like any other port. Everything else is
 * forwarded: the vCPU waits (UXT_FATE_IOREQ) until the host calls
 * io_complete(); RIP moves only then.
 *
 * String I/O moves at most what fits in the guest page holding the current
 * element, so the host sees one guest-physical buffer. A REP that is not
 * finished by then leaves RIP on the instruction: the guest re-executes it
 * and exits again for the rest, with RCX and RSI/RDI already updated. An
 * element that straddles a page cannot be described that way and ends the
 * domain (CRASH_BAD_IOREQ). */
#include "handlers.h"
#include "hv/arch.h"

/* Exit qualification for I/O instructions (SDM 27.2.1, table 27-5). */
#define IOQ_SIZE(q) ((unsigned)((q) & 7) + 1)
#define IOQ_IN BIT(3)
#define IOQ_STRING BIT(4)
#define IOQ_REP BIT(5)
#define IOQ_PORT(q) ((u16)((q) >> 16))

/* VM-exit instruction information for INS/OUTS (SDM 27.2.5, table 27-8):
 * bits 9:7 address size, 0 = 16-bit, 1 = 32-bit, 2 = 64-bit. */
#define IOINFO_ADDR_SIZE(i) ((unsigned)((i) >> 7) & 7)

#define CONSOLE_IN_VALUE 0xe9
/* Bytes of console OUTS handled per exit: a REP continues by re-executing. */
#define CONSOLE_CHUNK 64

/* ---- registers ---- */

/* Write val to r as an instruction with a size-byte destination would:
 * 4- and 8-byte writes replace the register (a 32-bit write zero-extends
 * in 64-bit mode, SDM 3.4.1.1), 1- and 2-byte writes keep the bits above. */
static void gpr_write_sized(struct hv_vcpu *v, unsigned r, unsigned size,
			    u64 val)
{
	u64 m = size_mask(size);
	if (size >= 4)
		reg_set(v, r, val & m);
	else
		reg_set(v, r, (reg_get(v, r) & ~m) | (val & m));
}

/* AH, CH, DH, BH: bits 15:8 of register r (0-3). */
static void gpr_write_high8(struct hv_vcpu *v, unsigned r, u64 val)
{
	reg_set(v, r, (reg_get(v, r) & ~0xff00ull) | (val & 0xff) << 8);
}

static u64 sign_extend(u64 val, unsigned size)
{
	unsigned shift = 64 - 8 * size;
	return (u64)((s64)(val << shift) >> shift);
}

static void skip_insn(unsigned len)
{
	if (len)
		vmw(VMCS_GUEST_RIP, vmr(VMCS_GUEST_RIP) + len);
}

/* ---- requests to the host ---- */

unsigned io_send(struct hv_vcpu *v)
{
	const struct uxt_ioreq *r = &v->io.req;
	if (hv.rec.on) {
		u8 p[24];
		p[0] = r->type;
		p[1] = r->dir;
		p[2] = r->size;
		p[3] = r->flags;
		uxt_put32(p + 4, r->count);
		uxt_put64(p + 8, r->addr);
		uxt_put64(p + 16, r->data);
		rec_item(UXT_IT_IOREQ_OUT, 0, p, sizeof(p), NULL, 0);
	}
	v->io_pending = true;
	return UXT_FATE_IOREQ;
}

/* A load completed: the value, sized and extended, into its register. */
static void load_finish(struct hv_vcpu *v, u64 val)
{
	const struct pending_io *io = &v->io;
	val &= size_mask(io->req.size);
	if (io->ext == 2)
		val = sign_extend(val, io->req.size);
	if (io->dest_reg & IO_DEST_HIGH8)
		gpr_write_high8(v, io->dest_reg & 3, val);
	else
		gpr_write_sized(v, io->dest_reg, io->dest_size, val);
}

/* A string chunk completed: rSI (OUTS) or rDI (INS) moves by the bytes
 * transferred, down when DF = 1, and a REP's rCX counts the elements, all
 * at the address size (SDM Vol. 2, "INS", "OUTS", "REP"). */
static void string_finish(struct hv_vcpu *v)
{
	const struct pending_io *io = &v->io;
	unsigned idx = io->req.dir == UXT_IOREQ_DIR_IN ? RDI : RSI;
	u64 delta = (u64)io->req.count * io->req.size;
	u64 cur = reg_get(v, idx);
	bool down = io->req.flags & UXT_IOREQ_F_DF;
	gpr_write_sized(v, idx, io->addr_size, down ? cur - delta : cur + delta);
	if (io->req.flags & UXT_IOREQ_F_REP)
		gpr_write_sized(v, RCX, io->addr_size,
				reg_get(v, RCX) - io->req.count);
}

int io_complete(struct hv_vcpu *v, u64 value)
{
	if (!v->io_pending)
		return -HV_EINVAL;
	if (v->io.req.flags & UXT_IOREQ_F_STRING)
		string_finish(v);
	else if (v->io.req.dir == UXT_IOREQ_DIR_IN)
		load_finish(v, value);
	skip_insn(v->io.insn_len);
	v->io_pending = false;
	return 0;
}

/* ---- IN and OUT ---- */

static unsigned console_pio(struct hv_vcpu *v, bool in, unsigned size)
{
	if (in) {
		gpr_write_sized(v, RAX, size, CONSOLE_IN_VALUE);
	} else {
		u8 b[4];
		uxt_put32(b, (u32)reg_get(v, RAX));
		console_put(v->dom, b, size);
	}
	advance_rip(v);
	return UXT_FATE_RESUME;
}

static unsigned forward_pio(struct hv_vcpu *v, u16 port, bool in,
			    unsigned size)
{
	struct pending_io *io = &v->io;
	*io = (struct pending_io){ 0 };
	io->req.type = UXT_IOREQ_PIO;
	io->req.dir = in ? UXT_IOREQ_DIR_IN : UXT_IOREQ_DIR_OUT;
	io->req.size = (u8)size;
	io->req.count = 1;
	io->req.addr = port;
	io->req.data = in ? 0 : reg_get(v, RAX) & size_mask(size);
	io->dest_reg = RAX;
	io->dest_size = (u8)size;
	io->insn_len = (u8)vmr(VMCS_EXIT_INSTRUCTION_LEN);
	return io_send(v);
}

/* ---- INS and OUTS ---- */

/* Elements of size bytes from page offset off to the page's end (upwards)
 * or start (downwards, DF = 1), the first one included; 0 if the first
 * element straddles the page boundary. */
static u64 elements_in_page(u64 off, unsigned size, bool down)
{
	if (off + size > PAGE_SIZE)
		return 0;
	return down ? off / size + 1 : (PAGE_SIZE - off) / size;
}

/* Reverse the order of n elements of size bytes (DF = 1 buffers are read
 * upwards from the last element). */
static void reverse_elements(u8 *buf, u32 n, unsigned size)
{
	for (u32 i = 0, j = n - 1; i < j; i++, j--)
		for (unsigned k = 0; k < size; k++) {
			u8 t = buf[i * size + k];
			buf[i * size + k] = buf[j * size + k];
			buf[j * size + k] = t;
		}
}

/* OUTS to the console: read the chunk, print it, update the registers. */
static unsigned console_outs(struct hv_vcpu *v, bool done)
{
	struct pending_io *io = &v->io;
	u8 buf[CONSOLE_CHUNK];
	unsigned size = io->req.size;
	if (io->req.count > CONSOLE_CHUNK / size) {
		io->req.count = CONSOLE_CHUNK / size;
		done = false;
	}
	u32 len = io->req.count * size;
	bool down = io->req.flags & UXT_IOREQ_F_DF;
	u64 start = down ? io->req.data + size - len : io->req.data;
	if (guest_read(v->dom, start, buf, len))
		return exit_crash(v, CRASH_UNOWNED_MEMORY);
	if (down)
		reverse_elements(buf, io->req.count, size);
	console_put(v->dom, buf, len);
	string_finish(v);
	if (done)
		advance_rip(v);
	return UXT_FATE_RESUME;
}

/* INS/OUTS, REP or not. The VMCS gives the linear address of the current
 * element (SDM 27.2.2), which is translated through the guest's paging. */
static unsigned string_io(struct hv_vcpu *v, u64 q, unsigned size)
{
	struct pending_io *io = &v->io;
	bool in = q & IOQ_IN, rep = q & IOQ_REP;
	bool down = vmr(VMCS_GUEST_RFLAGS) & RFLAGS_DF;
	unsigned asz_code = IOINFO_ADDR_SIZE(vmr(VMCS_EXIT_INSTRUCTION_INFO));
	if (asz_code > 2)
		return exit_crash(v, CRASH_BAD_INSTRUCTION);
	unsigned asz = 2u << asz_code;
	u64 want = rep ? reg_get(v, RCX) & size_mask(asz) : 1;
	if (want == 0) { /* REP with rCX = 0 does nothing */
		advance_rip(v);
		return UXT_FATE_RESUME;
	}
	u64 gla = vmr(VMCS_GUEST_LINEAR_ADDRESS), gpa;
	if (guest_linear_to_phys(v, gla, in, &gpa))
		return exit_crash(v, CRASH_PAGE_WALK);
	u64 fit = elements_in_page(gla & (PAGE_SIZE - 1), size, down);
	if (fit == 0)
		return exit_crash(v, CRASH_BAD_IOREQ);
	u64 count = want < fit ? want : fit;

	*io = (struct pending_io){ 0 };
	io->req.type = UXT_IOREQ_PIO;
	io->req.dir = in ? UXT_IOREQ_DIR_IN : UXT_IOREQ_DIR_OUT;
	io->req.size = (u8)size;
	io->req.flags = UXT_IOREQ_F_STRING | (down ? UXT_IOREQ_F_DF : 0) |
			(rep ? UXT_IOREQ_F_REP : 0);
	io->req.count = (u32)count;
	io->req.addr = IOQ_PORT(q);
	io->req.data = gpa;
	io->addr_size = (u8)asz;
	if (!in && IOQ_PORT(q) == HV_DEBUG_PORT)
		return console_outs(v, count == want);
	io->insn_len = count == want ? (u8)vmr(VMCS_EXIT_INSTRUCTION_LEN) : 0;
	return io_send(v);
}

unsigned handle_io(struct hv_vcpu *v)
{
	u64 q = vmr(VMCS_EXIT_QUALIFICATION);
	unsigned size = IOQ_SIZE(q);
	bool in = q & IOQ_IN;
	if (size != 1 && size != 2 && size != 4)
		return exit_crash(v, CRASH_BAD_INSTRUCTION);
	if (q & IOQ_STRING)
		return string_io(v, q, size);
	if (IOQ_PORT(q) == HV_DEBUG_PORT)
		return console_pio(v, in, size);
	return forward_pio(v, IOQ_PORT(q), in, size);
}
