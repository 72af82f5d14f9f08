/* EPT violations and misconfigurations.
 *
 * A violation on a registered MMIO range is an access to an emulated
 * device: the instruction at CS:RIP is fetched and decoded (decode.c) and
 * the access goes to the host as an I/O request; io_complete() (exit_io.c)
 * finishes it. A violation on memory the p2m already allows is spurious
 * (a stale translation after the host widened permissions): flush and
 * resume. Anything else is an access to memory the domain does not own. */
#include "handlers.h"
#include "decode.h"
#include "hv/arch.h"

/* Exit qualification for EPT violations (SDM 27.2.1, table 27-7): bits 2:0
 * are the access (read, write, fetch), in the order of the EPT_R/W/X
 * permission bits. */
#define EPTQ_ACCESS(q) ((u32)(q) & EPT_RWX)
#define EPTQ_WRITE BIT(1)
#define EPTQ_FETCH BIT(2)

/* IDT-vectoring information (SDM 24.9.3): an event whose delivery caused
 * the exit. Bits 11:0 and 31 match the VM-entry interruption field. */
#define VEC_INFO_VALID BIT(31)
#define VEC_INFO_HAS_ERR BIT(11)
#define VEC_INFO_TYPE(i) (((i) >> 8) & 7)
#define VEC_INFO_ENTRY_BITS (0xfffull | VEC_INFO_VALID)
#define VEC_TYPE_SOFT_INT 4   /* 4-6: software interrupt / exceptions,  */
#define VEC_TYPE_SOFT_EXC 6   /* which need the instruction length */

/* ---- spurious violations ---- */

static bool access_allowed(const struct hv_domain *d, u64 gfn, u64 q)
{
	struct p2m_entry e;
	u32 need = EPTQ_ACCESS(q);
	if (p2m_lookup(d, gfn, &e) || e.type == P2M_NONE)
		return false;
	return (e.perms & need) == need;
}

/* Resuming without emulation must not lose the event the guest was
 * delivering when the violation hit: inject it again (SDM 27.2.4). */
static void reinject_vectored_event(void)
{
	u64 info = vmr(VMCS_IDT_VECTORING_INFO);
	if (!(info & VEC_INFO_VALID))
		return;
	vmw(VMCS_ENTRY_INTR_INFO, info & VEC_INFO_ENTRY_BITS);
	if (info & VEC_INFO_HAS_ERR)
		vmw(VMCS_ENTRY_EXCEPTION_ERRCODE,
		    vmr(VMCS_IDT_VECTORING_ERRCODE));
	if (VEC_INFO_TYPE(info) >= VEC_TYPE_SOFT_INT &&
	    VEC_INFO_TYPE(info) <= VEC_TYPE_SOFT_EXC)
		vmw(VMCS_ENTRY_INSTRUCTION_LEN,
		    vmr(VMCS_EXIT_INSTRUCTION_LEN));
}

/* ---- MMIO emulation ---- */

/* Read len bytes at guest linear address lin; 0 or a crash reason. */
static u32 fetch_bytes(struct hv_vcpu *v, u64 lin, u8 *buf, u32 len)
{
	u64 gpa;
	if (guest_linear_to_phys(v, lin, false, &gpa))
		return CRASH_PAGE_WALK;
	if (guest_read(v->dom, gpa, buf, len))
		return CRASH_BAD_INSTRUCTION;
	return 0;
}

/* Fetch up to DEC_MAX_LEN instruction bytes at CS:RIP. The CS base is 0 in
 * 64-bit mode, and linear addresses wrap at 4 GiB outside it (SDM 3.3.7).
 * The bytes may run into the next page; if that page is not mapped the
 * fetch stops short and the decoder reports truncation if it needed more.
 * Returns the bytes fetched, or 0 and sets *reason. */
static u32 fetch_insn(struct hv_vcpu *v, unsigned code_size, u8 *buf,
		      u32 *reason)
{
	u64 rip = vmr(VMCS_GUEST_RIP);
	u64 wrap = code_size == 8 ? ~0ull : 0xffffffffull;
	u64 lin = code_size == 8 ? rip : (vmr(VMCS_GUEST_CS_BASE) + rip) & wrap;
	u32 first = (u32)(PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
	if (first >= DEC_MAX_LEN)
		first = DEC_MAX_LEN;
	*reason = fetch_bytes(v, lin, buf, first);
	if (*reason)
		return 0;
	if (first == DEC_MAX_LEN ||
	    fetch_bytes(v, (lin + first) & wrap, buf + first,
			DEC_MAX_LEN - first))
		return first;
	return DEC_MAX_LEN;
}

/* The value a store writes: its immediate or its source register. */
static u64 store_value(struct hv_vcpu *v, const struct dec_insn *d)
{
	if (d->has_imm)
		return d->imm;
	if (d->reg_high)
		return (reg_get(v, d->reg) >> 8) & 0xff;
	return reg_get(v, d->reg) & size_mask(d->mem_size);
}

static unsigned mmio_forward(struct hv_vcpu *v, u64 gpa,
			     const struct dec_insn *d)
{
	struct pending_io *io = &v->io;
	bool store = d->dir == DEC_TO_MEM;
	*io = (struct pending_io){ 0 };
	io->req.type = UXT_IOREQ_MMIO;
	io->req.dir = store ? UXT_IOREQ_DIR_OUT : UXT_IOREQ_DIR_IN;
	io->req.size = d->mem_size;
	io->req.count = 1;
	io->req.addr = gpa;
	io->insn_len = d->len;
	if (store) {
		io->req.data = store_value(v, d);
	} else {
		io->dest_reg = (u8)(d->reg | (d->reg_high ? IO_DEST_HIGH8 : 0));
		io->dest_size = d->reg_size;
		io->ext = d->ext;
	}
	return io_send(v);
}

static unsigned mmio_emulate(struct hv_vcpu *v, u64 q, u64 gpa)
{
	u8 buf[DEC_MAX_LEN];
	struct dec_insn d;
	u32 reason;
	/* Code cannot run from a device, and an access made while delivering
	 * an event (IDT, stack) is not the instruction at RIP. */
	if ((q & EPTQ_FETCH) || (vmr(VMCS_IDT_VECTORING_INFO) & VEC_INFO_VALID))
		return exit_crash(v, CRASH_BAD_INSTRUCTION);
	unsigned code_size = guest_code_size();
	u32 n = fetch_insn(v, code_size, buf, &reason);
	if (n == 0)
		return exit_crash(v, reason);
	if (dec_insn(buf, n, (enum dec_mode)code_size, &d) < 0)
		return exit_crash(v, CRASH_BAD_INSTRUCTION);
	/* The bytes may have changed since the CPU ran them (another vCPU,
	 * a DMA): only emulate what agrees with the access that faulted. */
	if ((d.dir == DEC_TO_MEM) != !!(q & EPTQ_WRITE))
		return exit_crash(v, CRASH_BAD_INSTRUCTION);
	return mmio_forward(v, gpa, &d);
}

unsigned handle_ept_violation(struct hv_vcpu *v)
{
	u64 q = vmr(VMCS_EXIT_QUALIFICATION);
	u64 gpa = vmr(VMCS_GUEST_PHYSICAL_ADDRESS);
	u64 gfn = gpa >> PAGE_SHIFT;
	if (domain_is_mmio(v->dom, gfn))
		return mmio_emulate(v, q, gpa);
	/* A lazy fork's first touch, or a write to a shared frame. */
	int shared = share_fault(v->dom, gfn, q & EPTQ_WRITE);
	if (shared < 0)
		return exit_crash(v, CRASH_NO_MEMORY);
	if (shared || access_allowed(v->dom, gfn, q)) {
		arch_invept(p2m_eptp(v->dom));
		reinject_vectored_event();
		return UXT_FATE_RESUME;
	}
	return exit_crash(v, CRASH_UNOWNED_MEMORY);
}

/* Our EPT entries are never misconfigured (the invariant checker verifies
 * it), so the guest's domain ends; the checker tells if we were wrong. */
unsigned handle_ept_misconfig(struct hv_vcpu *v)
{
	return exit_crash(v, CRASH_EPT_MISCONFIG);
}
