/* The hypercall ABI (tables/hypercalls.def): generic argument validation
 * from the table, then one small handler per call. The same path serves the
 * host (hv_host_call) and guests (VMCALL). */
#include "handlers.h"
#include "hv/arch.h"

enum hc_callers { HOST = 1, GUEST = 2, BOTH = 3 };
enum hc_arg { NONE, DOM, VCPU, GFN, COUNT, ORDER, GPA, LEN, VAL };

struct hc_call {
	struct hv_domain *caller; /* the calling guest, NULL for the host */
	struct hv_domain *d;      /* the DOM argument, if any */
	struct hv_vcpu *v;        /* the VCPU argument, if any */
	const u64 *a;
	const void *data;
	u32 len;
	unsigned fate;            /* what the calling vCPU does next */
};

typedef s64 (*hc_fn)(struct hc_call *c);

struct hc_desc {
	const char *name;
	u8 callers, nargs;
	u8 kind[4];
	hc_fn fn;
};

#define X(name, nr, callers, nargs, a0, a1, a2, a3) static s64 hc_##name(struct hc_call *c);
#include "hv/tables/hypercalls.def"
#undef X

static const struct hc_desc hc_table[HC_MAX] = {
#define X(name, nr, callers, nargs, a0, a1, a2, a3)                            \
	[nr] = { #name, callers, nargs, { a0, a1, a2, a3 }, hc_##name },
#include "hv/tables/hypercalls.def"
#undef X
};

/* Validate one argument by its kind; resolves DOM and VCPU. */
static int check_arg(struct hc_call *c, u8 kind, u64 val)
{
	switch (kind) {
	case NONE:
		return val ? -HV_EINVAL : 0;
	case DOM:
		c->d = val == HV_HOST_DOMID ? NULL : domain_get((u32)(val & 0xffff));
		if (val > 0xffff || !c->d || c->d->state == DOM_DYING)
			return -HV_ESRCH;
		return 0;
	case VCPU:
		if (!c->d || val >= c->d->nr_vcpus)
			return -HV_EINVAL;
		c->v = &c->d->vcpu[val];
		return 0;
	case GFN:
		return val < HV_P2M_GFN_LIMIT ? 0 : -HV_ERANGE;
	case COUNT:
		return val >= 1 && val <= HV_MAX_COUNT ? 0 : -HV_EINVAL;
	case ORDER:
		return val == 0 || val == LARGE_ORDER ? 0 : -HV_EINVAL;
	case GPA:
		return val < (HV_P2M_GFN_LIMIT << PAGE_SHIFT) ? 0 : -HV_ERANGE;
	case LEN:
		return val >= 1 && val <= HV_MAX_LEN ? 0 : -HV_EINVAL;
	case VAL:
		return 0;
	}
	return -HV_EINVAL;
}

s64 hypercall(struct hv_domain *caller, bool from_guest, u32 nr,
	      const u64 args[4], const void *data, u32 len, unsigned *fate)
{
	const struct hc_desc *h = nr < HC_MAX ? &hc_table[nr] : NULL;
	*fate = UXT_FATE_RESUME;
	if (!h || !h->fn)
		return -HV_ENOSYS;
	if (!(h->callers & (from_guest ? GUEST : HOST)))
		return -HV_EPERM;
	struct hc_call c = { .caller = caller, .a = args, .data = data,
			     .len = len, .fate = UXT_FATE_RESUME };
	for (unsigned i = 0; i < 4; i++) {
		int rc = check_arg(&c, h->kind[i], args[i]);
		if (rc)
			return rc;
	}
	/* A template is frozen: its forks read its memory and reset to it. */
	if (c.d && c.d->is_template && nr != HC_FORK && nr != HC_DOMAIN_DESTROY)
		return -HV_EPERM;
	s64 r = h->fn(&c);
	*fate = c.fate;
	return r;
}

s64 hv_host_call(u32 nr, const u64 args[4], const void *data, u32 len)
{
	unsigned fate;
	if (!hv.started)
		return -HV_EINVAL;
	return hypercall(NULL, false, nr, args, data, len, &fate);
}

/* ---- calls for both ---- */


static s64 hc_VERSION(struct hc_call *c)
{
	(void)c;
	return HV_VERSION;
}

/* ---- host calls ---- */

static s64 hc_DOMAIN_CREATE(struct hc_call *c)
{
	return domain_create((u32)c->a[0], c->a[1]);
}

static s64 hc_DOMAIN_DESTROY(struct hc_call *c)
{
	return domain_destroy(c->d);
}

static s64 hc_DOMAIN_PAUSE(struct hc_call *c)
{
	if (c->d->state != DOM_RUNNING)
		return -HV_EINVAL;
	c->d->state = DOM_PAUSED;
	return 0;
}

static s64 hc_DOMAIN_UNPAUSE(struct hc_call *c)
{
	if (c->d->is_template)
		return -HV_EPERM; /* its forks depend on it never changing */
	if (c->d->state != DOM_PAUSED)
		return -HV_EINVAL;
	c->d->state = DOM_RUNNING;
	return 0;
}

/* Before a change of the layout of a lazy fork: it takes all it would
 * fill from its ancestors first, so that a hole it makes stays one and a
 * new mapping cannot hide its template's memory (p2m_materialize). */
static int settle(struct hv_domain *d)
{
	return d->lazy ? p2m_materialize(d) : 0;
}

static s64 hc_POPULATE(struct hc_call *c)
{
	int rc = settle(c->d);
	if (rc)
		return rc;
	return domain_populate(c->d, c->a[1], c->a[2], (unsigned)c->a[3]);
}

/* Copy host bytes into the domain's RAM (loading a guest image). Bytes
 * already there are not written, so loading what a shared page holds
 * leaves it shared (replay loads every memory input this way). */
static s64 hc_LOAD(struct hc_call *c)
{
	if (!c->data || c->len == 0 || c->len > HV_MAX_LEN)
		return -HV_EINVAL;
	return guest_update(c->d, c->a[1], c->data, c->len);
}

/* VCPU_SET_STATE payload: 16-byte records { u32 key, u32 0, u64 value }.
 * key is a guest-state VMCS field (SDM B: bits 11:10 == 2) or
 * HV_STATE_GPR + register number. */
#define HV_STATE_GPR 0xf000
#define HV_STATE_REC 16

static int set_state_one(struct hv_vcpu *v, u32 key, u64 val)
{
	if ((key & ~0xfu) == HV_STATE_GPR) {
		v->gpr[key & 0xf] = val;
		if ((key & 0xf) == RSP)
			vmw(VMCS_GUEST_RSP, val);
		return 0;
	}
	if (vmcs_field_index(key) < 0 || ((key >> 10) & 3) != 2)
		return -HV_EINVAL;
	if (key == VMCS_GUEST_CR0 || key == VMCS_GUEST_CR4)
		return cr_set_initial(v, key, val);
	vmw(key, val);
	return 0;
}

static s64 hc_VCPU_SET_STATE(struct hc_call *c)
{
	const u8 *p = c->data;
	if (!p || c->len == 0 || c->len % HV_STATE_REC || c->len > 64 * 1024)
		return -HV_EINVAL;
	if (c->v->io_pending || c->d->state == DOM_CRASHED)
		return -HV_EBUSY;
	/* Validate everything before changing anything. */
	for (u32 off = 0; off < c->len; off += HV_STATE_REC) {
		u32 key = uxt_get32(p + off);
		if (uxt_get32(p + off + 4) ||
		    ((key & ~0xfu) != HV_STATE_GPR &&
		     (vmcs_field_index(key) < 0 || ((key >> 10) & 3) != 2)))
			return -HV_EINVAL;
		/* CR0 and CR4 values too: a bad one after good records would
		 * leave those applied and the call failed. */
		if ((key == VMCS_GUEST_CR0 || key == VMCS_GUEST_CR4) &&
		    !cr_initial_valid(key, uxt_get64(p + off + 8)))
			return -HV_EINVAL;
	}
	arch_vmcs_load(c->v);
	for (u32 off = 0; off < c->len; off += HV_STATE_REC) {
		int rc = set_state_one(c->v, uxt_get32(p + off), uxt_get64(p + off + 8));
		if (rc)
			return rc;
	}
	return 0;
}

static s64 hc_MMIO_MAP(struct hc_call *c)
{
	int rc = settle(c->d);
	if (rc)
		return rc;
	return domain_add_mmio(c->d, c->a[1], c->a[2]);
}

static s64 hc_IOREQ_COMPLETE(struct hc_call *c)
{
	if (!c->v->io_pending || c->d->state == DOM_CRASHED)
		return -HV_EINVAL;
	arch_vmcs_load(c->v);
	return io_complete(c->v, c->a[2]);
}

#define PROC_INTR_WINDOW_EXITING BIT(2)

static s64 hc_INJECT_IRQ(struct hc_call *c)
{
	if (c->a[2] < 32 || c->a[2] > 255)
		return -HV_EINVAL;
	c->v->pending_irq = (u32)c->a[2] + 1;
	/* Deliver when the guest can take it: exit on the interrupt window. */
	arch_vmcs_load(c->v);
	vmw(VMCS_PROC_BASED_CONTROLS,
	    vmr(VMCS_PROC_BASED_CONTROLS) | PROC_INTR_WINDOW_EXITING);
	return 0;
}

static s64 hc_UNMAP(struct hc_call *c)
{
	int rc = settle(c->d);
	if (rc)
		return rc;
	return domain_unmap(c->d, c->a[1], c->a[2]);
}

static s64 hc_SET_PERMS(struct hc_call *c)
{
	u64 perms = c->a[3];
	/* Write without read is an EPT misconfiguration: never build one. */
	if (perms & ~EPT_RWX || ((perms & EPT_W) && !(perms & EPT_R)))
		return -HV_EINVAL;
	if (c->a[1] + c->a[2] > c->d->p2m.max_gfn)
		return -HV_ERANGE;
	int rc = settle(c->d);
	if (rc)
		return rc;
	for (u64 g = c->a[1]; g < c->a[1] + c->a[2]; g++) {
		struct p2m_entry e;
		if (p2m_lookup(c->d, g, &e))
			return -HV_ENOENT;
	}
	/* Write on a shared frame becomes copy-on-write (p2m_set_perms).
	 * Splitting a large leaf may run out of frames: then, as POPULATE
	 * keeps what it mapped, the gfns before the failing one keep their
	 * new permissions (a consistent state; the host may call again). */
	for (u64 g = c->a[1]; g < c->a[1] + c->a[2]; g++) {
		rc = p2m_set_perms(c->d, g, (u32)perms);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- vmfork and page sharing ---- */

static s64 hc_FORK(struct hc_call *c)
{
	if (c->a[1] > 1)
		return -HV_EINVAL;
	return domain_fork(c->d, c->a[1] == 1);
}

static s64 hc_RESET(struct hc_call *c)
{
	return domain_reset(c->d);
}

static s64 hc_MERGE(struct hc_call *c)
{
	return merge_scan(c->a[0]);
}

static s64 hc_HINT(struct hc_call *c)
{
	if (c->d->is_template)
		return -HV_EPERM;
	return share_hint(c->d, c->a[1], c->a[2], c->a[3]); /* all 64 bits */
}

static s64 hc_POPULATE_ZERO(struct hc_call *c)
{
	int rc = settle(c->d);
	if (rc)
		return rc;
	return populate_zero(c->d, c->a[1], c->a[2]);
}

/* ---- guest calls ---- */

static s64 hc_GUEST_HINT(struct hc_call *c)
{
	return share_hint(c->caller, c->a[0], c->a[1], c->a[2]);
}

#define CONSOLE_CHUNK 256

static s64 hc_CONSOLE_WRITE(struct hc_call *c)
{
	u8 buf[CONSOLE_CHUNK];
	u64 gpa = c->a[0], left = c->a[1];
	if (left > 4096)
		return -HV_EINVAL;
	while (left) {
		u32 n = left < CONSOLE_CHUNK ? (u32)left : CONSOLE_CHUNK;
		if (guest_read(c->caller, gpa, buf, n))
			return -HV_EFAULT;
		console_put(c->caller, buf, n);
		gpa += n;
		left -= n;
	}
	return (s64)c->a[1];
}

static s64 hc_SHUTDOWN(struct hc_call *c)
{
	c->caller->state = DOM_SHUTDOWN;
	c->caller->shutdown_code = c->a[0];
	c->fate = UXT_FATE_SHUTDOWN;
	return 0;
}

static s64 hc_YIELD(struct hc_call *c)
{
	c->fate = UXT_FATE_YIELD;
	return 0;
}

/* Balloon: the guest gives frames back. All or nothing. */
static s64 hc_MEMORY_RELEASE(struct hc_call *c)
{
	struct hv_domain *d = c->caller;
	if (c->a[0] + c->a[1] > d->p2m.max_gfn)
		return -HV_ERANGE;
	int rc = settle(d);
	if (rc)
		return rc;
	for (u64 g = c->a[0]; g < c->a[0] + c->a[1]; g++) {
		struct p2m_entry e;
		if (p2m_lookup(d, g, &e) || e.type != P2M_RAM)
			return -HV_EINVAL;
	}
	return domain_unmap(d, c->a[0], c->a[1]);
}

struct hv_guest_info {
	u32 domid, nr_vcpus;
	u64 nr_ram, max_frames;
};

static s64 hc_GET_INFO(struct hc_call *c)
{
	struct hv_domain *d = c->caller;
	u8 buf[24];
	uxt_put32(buf, d->id);
	uxt_put32(buf + 4, d->nr_vcpus);
	uxt_put64(buf + 8, d->nr_ram);
	uxt_put64(buf + 16, d->max_frames);
	return guest_write(d, c->a[0], buf, sizeof(buf));
}

/* ---- the VMCALL exit ---- */

/* Guest ABI: RAX = number, RDI, RSI, RDX, R10 = arguments; result in RAX.
 * Only the guest kernel (CPL 0, from SS.DPL) may call. */
unsigned handle_vmcall(struct hv_vcpu *v)
{
	unsigned fate = UXT_FATE_RESUME;
	s64 r;
	if ((vmr(VMCS_GUEST_SS_AR) >> 5) & 3) {
		r = -HV_EPERM;
	} else {
		static const u8 arg_regs[4] = { RDI, RSI, RDX, R10 };
		u64 args[4];
		for (unsigned i = 0; i < 4; i++)
			args[i] = reg_get(v, arg_regs[i]);
		u32 nr = (u32)reg_get(v, RAX);
		r = hypercall(v->dom, true, nr, args, NULL, 0, &fate);
	}
	reg_set(v, RAX, (u64)r);
	advance_rip(v);
	return fate;
}
