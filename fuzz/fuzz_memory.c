/* Fuzz target "memory": sequences of memory operations across several
 * domains: create, populate (4 KiB and 2 MiB), host writes, guest writes
 * (EPT-violation exits: spurious, unowned, and copy-on-write once pages
 * are shared), unmap, permission changes, balloon release, MMIO ranges,
 * pause/unpause, destroy, and every host call of the vmfork / page-sharing
 * group (numbers 0x10-0x1f of hypercalls.def: FORK, RESET, MERGE, HINT,
 * POPULATE_ZERO):
 * those are taken from the core's table, so they are fuzzed as soon as they
 * land, with arguments by kind (DOM: one of the live domains).
 *
 * Input: a program of ops, each an op byte then its operands. Domain ids
 * are predicted as the core hands them out (lowest free slot from 1); a
 * create that fails makes later ops name a missing domain: harmless. */
#include "fuzz.h"
#include "hv/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DOMS 4
#define MEM_FRAMES 2048 /* room for a few 2 MiB blocks */

enum op { OP_CREATE, OP_POPULATE, OP_HOST_WRITE, OP_GUEST_WRITE, OP_UNMAP,
	  OP_PERMS, OP_RUN, OP_DESTROY, OP_RELEASE, OP_MMIO, OP_SHARING,
	  OP_GUEST_READ, OP_NR };

static bool alive[MAX_DOMS + 1];

static u16 pick_dom(struct fz_in *in)
{
	u8 s = fz_u8(in);
	if (s >= 0xf8)
		return (u16)(s & 7) ? (u16)(s & 7) + MAX_DOMS : 0; /* missing */
	for (unsigned k = 0; k < MAX_DOMS; k++) {
		u16 d = (u16)(1 + (s + k) % MAX_DOMS);
		if (alive[d])
			return d;
	}
	return 1;
}

static u64 pick_gfn(struct fz_in *in, bool large)
{
	u8 s = fz_u8(in);
	if (large)
		return (u64)(s & 3) << 9;
	switch (s >> 6) {
	case 0: return s & 0x3f;                      /* low RAM */
	case 1: return 0x200 + (s & 0x3f);            /* second 2 MiB */
	case 2: return FZ_MMIO_GFN + (s & 1);
	default: return fz_val(in);
	}
}

/* The vmfork group: host calls numbered 0x10-0x1f in the table. */
static const struct fz_hc *sharing_call(u8 sel)
{
	const struct fz_hc *found[16];
	unsigned n = 0;
	for (unsigned i = 0; i < fz_nr_hcs; i++)
		if (fz_hcs[i].nr >= 0x10 && fz_hcs[i].nr <= 0x1f)
			found[n++] = &fz_hcs[i];
	return n ? found[sel % n] : NULL;
}

static void guest_access(struct fz *f, struct fz_items *it, u16 d, u8 vcpu,
			 u64 gfn, u8 off, bool write)
{
	fz_items_reset(it);
	u64 gpa = gfn << 12 | (u64)off << 4;
	fz_item_vmcs(it, VMCS_EXIT_QUALIFICATION, (write ? 2u : 1u) | 1u << 7 | 1u << 8);
	fz_item_vmcs(it, VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	fz_item_vmcs(it, VMCS_GUEST_LINEAR_ADDRESS, gpa);
	fz_exit(f, EXIT_EPT_VIOLATION, d, vcpu, it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static struct fz_items items;
	static u8 buf[256];
	struct fz_in in = { data, size };
	for (unsigned i = 0; i <= MAX_DOMS; i++)
		alive[i] = false;
	fz_begin_frames(&f, MEM_FRAMES);
	fz_setup_done(&f);
	while (in.n && fz_more(&f)) {
		u8 op = fz_u8(&in) % OP_NR;
		u16 d = pick_dom(&in);
		f.events++;
		switch ((enum op)op) {
		case OP_CREATE: {
			static const u64 frames[] = { 8, 64, 600, 2048 };
			u8 s = fz_u8(&in);
			fz_call(&f, HC_DOMAIN_CREATE, 1 + (s & 1), frames[(s >> 1) & 3], 0, 0, NULL, 0);
			for (u16 k = 1; k <= MAX_DOMS; k++)
				if (!alive[k]) {
					alive[k] = true;
					break;
				}
			break;
		}
		case OP_POPULATE: {
			u8 s = fz_u8(&in);
			bool large = s & 1;
			u64 count = large ? 512 : 1 + (s >> 1) % 16;
			fz_call(&f, HC_POPULATE, d, pick_gfn(&in, large), count,
				large ? 9 : 0, NULL, 0);
			break;
		}
		case OP_HOST_WRITE: {
			u64 gpa = pick_gfn(&in, false) << 12; /* then its offset */
			gpa |= fz_u16(&in) % 4096;
			u32 len = 1 + fz_u8(&in) % sizeof(buf);
			for (u32 i = 0; i < len; i++)
				buf[i] = fz_u8(&in);
			fz_call(&f, HC_LOAD, d, gpa, 0, 0, buf, len);
			break;
		}
		case OP_GUEST_WRITE:
		case OP_GUEST_READ: {
			u64 gfn = pick_gfn(&in, false);
			u8 vcpu = fz_u8(&in) & 1;
			guest_access(&f, &items, d, vcpu, gfn, fz_u8(&in), op == OP_GUEST_WRITE);
			break;
		}
		/* Operands are read in their order in the input, one statement
		 * each (a call's arguments are evaluated in no fixed order). */
		case OP_UNMAP: {
			u64 gfn = pick_gfn(&in, false);
			fz_call(&f, HC_UNMAP, d, gfn, 1 + fz_u8(&in) % 600, 0, NULL, 0);
			break;
		}
		case OP_PERMS: {
			u64 gfn = pick_gfn(&in, false);
			u64 count = 1 + fz_u8(&in) % 4;
			fz_call(&f, HC_SET_PERMS, d, gfn, count, fz_u8(&in) & 7, NULL, 0);
			break;
		}
		case OP_RUN:
			fz_call(&f, (fz_u8(&in) & 1) ? HC_DOMAIN_PAUSE : HC_DOMAIN_UNPAUSE, d,
				0, 0, 0, NULL, 0);
			break;
		case OP_DESTROY:
			fz_call(&f, HC_DOMAIN_DESTROY, d, 0, 0, 0, NULL, 0);
			if (d <= MAX_DOMS)
				alive[d] = false;
			break;
		case OP_RELEASE:
			fz_items_reset(&items);
			fz_item_vmcs(&items, VMCS_GUEST_SS_AR, 0xc093);
			fz_item_vmcs(&items, VMCS_EXIT_INSTRUCTION_LEN, 3);
			fz_item_reg(&items, RAX, HC_MEMORY_RELEASE);
			fz_item_reg(&items, RDI, pick_gfn(&in, false));
			fz_item_reg(&items, RSI, 1 + fz_u8(&in) % 8);
			fz_exit(&f, EXIT_VMCALL, d, 0, &items);
			break;
		case OP_MMIO: {
			u64 gfn = pick_gfn(&in, false);
			fz_call(&f, HC_MMIO_MAP, d, gfn, 1 + fz_u8(&in) % 4, 0, NULL, 0);
			break;
		}
		case OP_SHARING: {
			/* FORK, RESET, MERGE, HINT and POPULATE_ZERO today:
			 * whatever the table numbers 0x10-0x1f, with arguments
			 * by kind. */
			const struct fz_hc *h = sharing_call(fz_u8(&in));
			if (!h)
				break;
			u64 a[4];
			for (unsigned i = 0; i < 4; i++)
				a[i] = h->kind[i] == FZ_ARG_DOM ? pick_dom(&in)
				       : h->kind[i] == FZ_ARG_GFN ? pick_gfn(&in, false)
				       : fz_arg(&in, h->kind[i], d, MAX_DOMS);
			fz_call(&f, h->nr, a[0], a[1], a[2], a[3], NULL, 0);
			/* A fork makes a domain: the lowest free slot. */
			for (u16 k = 1; k <= MAX_DOMS && h->kind[0] == FZ_ARG_DOM &&
					h->nargs && h->name[0] == 'F'; k++)
				if (!alive[k]) {
					alive[k] = true;
					break;
				}
			break;
		}
		case OP_NR:
			break;
		}
	}
	fz_run(&f, "memory");
	return 0;
}
