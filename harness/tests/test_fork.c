/* vmfork (hv/core/fork.c, p2m_share.c): eager and lazy forks, templates,
 * copy-on-write, zombies, fork reset and its dirty log, and a failed
 * allocation at every point fork, copy-on-write and reset allocate. The
 * invariant checker runs after every operation. */
#include <stdlib.h>
#include "testlib.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "sim.h"
#include "../../hv/core/core.h"

#define EPTQ_R 1
#define EPTQ_W 2
#define HV_STATE_GPR 0xf000 /* VCPU_SET_STATE key of a GPR (hypercall.c) */

/* The template every test forks: 4 KiB pages at gfns 0-31, a 2 MiB page
 * at gfns 0x200-0x3ff, each page filled with a pattern of (tag, gfn). */
#define SMALL_GFNS 32
#define LARGE_GFN 0x200ull
#define TAG_P 0x5050ull

static s64 call(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 a[4] = { a0, a1, a2, a3 };
	return hv_host_call(nr, a, NULL, 0);
}

static struct hv_domain *dom(s64 id)
{
	return &hv.dom[id]; /* also zombies, which domain_get hides */
}

static struct hv_vcpu *vcpu0(s64 id)
{
	return &dom(id)->vcpu[0];
}

static void pattern(u64 *w, u64 tag, u64 gfn)
{
	for (u32 i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = tag << 48 ^ gfn << 20 ^ i * 0x9e3779b1ull;
}

static s64 load_page(s64 d, u64 gfn, u64 tag)
{
	static u64 buf[PAGE_SIZE / 8];
	pattern(buf, tag, gfn);
	u64 a[4] = { (u64)d, gfn << PAGE_SHIFT, 0, 0 };
	return hv_host_call(HC_LOAD, a, buf, PAGE_SIZE);
}

/* Does d read the (tag, gfn) pattern at gfn? */
static bool page_is(s64 d, u64 gfn, u64 tag)
{
	static u64 want[PAGE_SIZE / 8], got[PAGE_SIZE / 8];
	pattern(want, tag, gfn);
	if (guest_read(dom(d), gfn << PAGE_SHIFT, got, PAGE_SIZE))
		return false;
	return memcmp(want, got, PAGE_SIZE) == 0;
}

static bool page_zero(s64 d, u64 gfn)
{
	static u64 got[PAGE_SIZE / 8];
	if (guest_read(dom(d), gfn << PAGE_SHIFT, got, PAGE_SIZE))
		return false;
	for (u32 i = 0; i < PAGE_SIZE / 8; i++)
		if (got[i])
			return false;
	return true;
}

/* The gfns the template has data in. */
static const u64 data_gfns[] = { 0, 1, 5, 17, 31, LARGE_GFN, LARGE_GFN + 1,
				 LARGE_GFN + 0x80, LARGE_GFN + 0x1ff };

static bool template_view(s64 d, u64 tag)
{
	for (u32 i = 0; i < ARRAY_SIZE(data_gfns); i++)
		if (!page_is(d, data_gfns[i], tag))
			return false;
	return true;
}

static s64 set_state(s64 d, u32 vcpu, u32 key, u64 val)
{
	u8 rec[16] = { 0 };
	memcpy(rec, &key, 4);
	memcpy(rec + 8, &val, 8);
	u64 a[4] = { (u64)d, vcpu, 0, 0 };
	return hv_host_call(HC_VCPU_SET_STATE, a, rec, sizeof(rec));
}

static u64 vmcs_of(struct hv_vcpu *v, u32 enc)
{
	arch_vmcs_load(v);
	return sim_vmcs_get(enc);
}

/* A paused domain with the template layout, its data and vCPU state. */
static s64 make_parent(u32 vcpus)
{
	s64 d = call(HC_DOMAIN_CREATE, vcpus, 4096, 0, 0);
	if (d <= 0 || call(HC_POPULATE, (u64)d, 0, SMALL_GFNS, 0) ||
	    call(HC_POPULATE, (u64)d, LARGE_GFN, 512, 9))
		return -1;
	for (u32 i = 0; i < ARRAY_SIZE(data_gfns); i++)
		if (load_page(d, data_gfns[i], TAG_P))
			return -1;
	for (u32 k = 0; k < vcpus; k++)
		if (set_state(d, k, VMCS_GUEST_RIP, 0x401000 + k) ||
		    set_state(d, k, VMCS_GUEST_CR3, 0x7000) ||
		    set_state(d, k, VMCS_GUEST_RSP, 0x8ff0 - k) ||
		    set_state(d, k, HV_STATE_GPR + RAX, 0xaaaa0000 + k) ||
		    set_state(d, k, HV_STATE_GPR + R15, 0xf15f15))
			return -1;
	return d;
}

/* An EPT violation on the domain's vCPU 0 (which must be running). */
static unsigned ept_exit(s64 d, u64 gpa, u64 qual)
{
	struct hv_vcpu *v = vcpu0(d);
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, qual);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0);
	sim_vmcs_set(VMCS_ENTRY_INTR_INFO, 0);
	return hv_vcpu_exit(v);
}

/* The guest of d stores the (tag, gfn) pattern into gfn: the write faults
 * (EPT violation), the hypervisor resolves it, the store completes. */
static bool guest_store(s64 d, u64 gfn, u64 tag)
{
	static u64 buf[PAGE_SIZE / 8];
	if (ept_exit(d, gfn << PAGE_SHIFT | 0x18, EPTQ_W) != UXT_FATE_RESUME)
		return false;
	struct p2m_entry e;
	if (p2m_lookup(dom(d), gfn, &e) || !(e.perms & EPT_W))
		return false;
	pattern(buf, tag, gfn);
	return guest_write(dom(d), gfn << PAGE_SHIFT, buf, PAGE_SIZE) == 0;
}

/* Frames the core holds for d alone (RAM, tables, VMCSs, log). */
static u64 owned_by(s64 d)
{
	u64 n = 0;
	for (u64 i = 0; i < hv.nr_frames; i++)
		n += hv.frames[i].type != FT_FREE && hv.frames[i].owner == d;
	return n;
}

static u64 mfn_of(s64 d, u64 gfn)
{
	struct p2m_entry e;
	return p2m_lookup(dom(d), gfn, &e) ? INVALID_MFN : e.mfn;
}

static u64 stats_shared(void)
{
	struct hv_share_stats st;
	hv_share_stats(&st);
	return st.shared_frames;
}

/* ---- fork ---- */

static void check_vcpus_copied(s64 c, s64 p, u32 n, bool *ok)
{
	*ok = false;
	for (u32 k = 0; k < n; k++) {
		struct hv_vcpu *vc = &dom(c)->vcpu[k], *vp = &dom(p)->vcpu[k];
		if (vmcs_of(vc, VMCS_GUEST_RIP) != 0x401000 + k ||
		    vmcs_of(vc, VMCS_GUEST_CR3) != 0x7000 ||
		    vmcs_of(vc, VMCS_GUEST_RSP) != 0x8ff0 - k ||
		    vmcs_of(vc, VMCS_GUEST_CR0) != vmcs_of(vp, VMCS_GUEST_CR0) ||
		    vmcs_of(vc, VMCS_CR0_READ_SHADOW) != vmcs_of(vp, VMCS_CR0_READ_SHADOW) ||
		    vmcs_of(vc, VMCS_PROC_BASED_CONTROLS) !=
			    vmcs_of(vp, VMCS_PROC_BASED_CONTROLS) ||
		    vc->gpr[RAX] != 0xaaaa0000 + k || vc->gpr[R15] != 0xf15f15 ||
		    memcmp(vc->msr, vp->msr, sizeof(vc->msr)) ||
		    vc->xcr0 != vp->xcr0)
			return;
		/* Not the fields that name the domain. */
		if (vmcs_of(vc, VMCS_EPT_POINTER) != p2m_eptp(dom(c)) ||
		    vmcs_of(vc, VMCS_VPID) == vmcs_of(vp, VMCS_VPID))
			return;
	}
	*ok = true;
}

TEST(fork_eager_and_lazy_copy_memory_and_vcpus)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(2);
	CHECK(p > 0);
	CHECK_INVARIANTS();
	u64 before = hv_frames_in_use();
	u64 ptables = dom(p)->p2m.nr_tables;
	s64 e = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(e > 0);
	CHECK_INVARIANTS();
	/* Eager: a copy of every table, a VMCS per vCPU; no RAM. */
	CHECK_EQ(hv_frames_in_use(), before + ptables + 2);
	CHECK_EQ(dom(e)->nr_ram, dom(p)->nr_ram);
	CHECK(!dom(e)->lazy && dom(e)->parent == p && dom(p)->children == 1);
	s64 l = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(l > 0);
	CHECK_INVARIANTS();
	/* Lazy: an empty root and the VMCSs. */
	CHECK_EQ(hv_frames_in_use(), before + ptables + 2 + 1 + 2);
	CHECK_EQ(dom(l)->nr_ram, 0);
	CHECK(dom(l)->lazy && dom(p)->children == 2);

	CHECK(template_view(p, TAG_P));
	CHECK(template_view(e, TAG_P));
	CHECK(template_view(l, TAG_P)); /* lazy: read through the template */
	CHECK(page_zero(e, 2) && page_zero(l, 2) && page_zero(l, LARGE_GFN + 2));
	CHECK_INVARIANTS();
	bool ok;
	check_vcpus_copied(e, p, 2, &ok);
	CHECK(ok);
	check_vcpus_copied(l, p, 2, &ok);
	CHECK(ok);
	CHECK_EQ(dom(e)->state, DOM_PAUSED);
	CHECK_EQ(dom(l)->state, DOM_PAUSED);

	/* All of the template's memory is shared and read-only now; the eager
	 * child maps the very same frames. */
	for (u64 g = 0; g < SMALL_GFNS; g++) {
		struct p2m_entry pe, ce;
		CHECK(p2m_lookup(dom(p), g, &pe) == 0 && p2m_lookup(dom(e), g, &ce) == 0);
		CHECK_EQ(pe.mfn, ce.mfn);
		CHECK(!(pe.perms & EPT_W) && !(ce.perms & EPT_W));
		CHECK_EQ(frame_get(pe.mfn)->type, FT_SHARED);
		CHECK_EQ(frame_get(pe.mfn)->refs, 2);
	}
	struct hv_share_stats st;
	hv_share_stats(&st);
	CHECK_EQ(st.shared_frames, SMALL_GFNS + 512);
	CHECK_EQ(st.saved_bytes, (SMALL_GFNS + 512) * PAGE_SIZE);

	/* The template is frozen. */
	CHECK(dom(p)->is_template);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), -HV_EPERM);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)p, 0, 0, 0), -HV_EPERM);
	CHECK_EQ(call(HC_POPULATE, (u64)p, 0x100, 1, 0), -HV_EPERM);
	CHECK_EQ(load_page(p, 0, 0x666), -HV_EPERM);
	CHECK_EQ(call(HC_UNMAP, (u64)p, 0, 1, 0), -HV_EPERM);
	CHECK_EQ(call(HC_SET_PERMS, (u64)p, 0, 1, EPT_RWX), -HV_EPERM);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)p, 0x100, 1, 0), -HV_EPERM);
	CHECK_EQ(call(HC_HINT, (u64)p, 0, 1, 0), -HV_EPERM);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)p, 0x100, 1, 0), -HV_EPERM);
	CHECK_EQ(call(HC_INJECT_IRQ, (u64)p, 0, 32, 0), -HV_EPERM);
	CHECK_EQ(set_state(p, 0, VMCS_GUEST_RIP, 0), -HV_EPERM);
	CHECK_EQ(call(HC_RESET, (u64)p, 0, 0, 0), -HV_EPERM);
	CHECK_EQ(domain_reset(dom(p)), -HV_EINVAL); /* not a fork either */
	CHECK(template_view(p, TAG_P));
	CHECK_INVARIANTS();
	/* Children run. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)e, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l, 0, 0, 0), 0);
	CHECK_INVARIANTS();
}

TEST(fork_lazy_read_fills_read_only)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	s64 l = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(l > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l, 0, 0, 0), 0);
	/* A read of a 4 KiB page maps the template's frame, read-only. */
	CHECK_EQ(ept_exit(l, 5 << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK_INVARIANTS();
	struct p2m_entry e;
	CHECK(p2m_lookup(dom(l), 5, &e) == 0);
	CHECK_EQ(e.mfn, mfn_of(p, 5));
	CHECK_EQ(e.order, 0);
	CHECK(!(e.perms & EPT_W) && (e.perms & EPT_R));
	CHECK_EQ(dom(l)->nr_ram, 1);
	CHECK(mfn_of(l, 4) == INVALID_MFN); /* only what was touched */
	/* A read in the 2 MiB page fills the whole 2 MiB, read-only. */
	CHECK_EQ(ept_exit(l, (LARGE_GFN + 0x80) << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK_INVARIANTS();
	CHECK(p2m_lookup(dom(l), LARGE_GFN + 7, &e) == 0);
	CHECK_EQ(e.order, LARGE_ORDER);
	CHECK_EQ(e.mfn, mfn_of(p, LARGE_GFN + 7));
	CHECK(!(e.perms & EPT_W));
	CHECK_EQ(dom(l)->nr_ram, 513);
	/* A second read of the same page is spurious: nothing changes. */
	u64 used = hv_frames_in_use();
	CHECK_EQ(ept_exit(l, 5 << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK_EQ(hv_frames_in_use(), used);
	CHECK(template_view(l, TAG_P));
	/* An instruction fetch fills too. */
	CHECK_EQ(ept_exit(l, 17 << PAGE_SHIFT, 4), UXT_FATE_RESUME);
	CHECK_EQ(mfn_of(l, 17), mfn_of(p, 17));
	CHECK_INVARIANTS();
}

/* Forks of forks: each generation sees its parent's memory as the parent
 * left it, not what the generations above had. */
TEST(fork_of_forks)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	s64 l = call(HC_FORK, (u64)p, 1, 0, 0); /* lazy child */
	s64 e = call(HC_FORK, (u64)p, 0, 0, 0); /* eager child */
	CHECK(l > 0 && e > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)e, 0, 0, 0), 0);
	CHECK(guest_store(l, 1, 0x1111));
	CHECK(guest_store(l, LARGE_GFN + 1, 0x1111));
	CHECK(guest_store(e, 5, 0xeeee));
	CHECK(guest_store(e, LARGE_GFN + 0x80, 0xeeee));
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)l, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)e, 0, 0, 0), 0);
	/* eager of lazy, lazy of eager */
	s64 el = call(HC_FORK, (u64)l, 0, 0, 0);
	s64 le = call(HC_FORK, (u64)e, 1, 0, 0);
	CHECK(el > 0 && le > 0);
	CHECK_INVARIANTS();
	CHECK(dom(el)->lazy); /* what its lazy parent lacks, the root has */
	CHECK_EQ(dom(el)->depth, 2);
	CHECK(dom(l)->is_template && dom(e)->is_template);
	for (u32 i = 0; i < ARRAY_SIZE(data_gfns); i++) {
		u64 g = data_gfns[i];
		bool by_l = g == 1 || g == LARGE_GFN + 1;
		bool by_e = g == 5 || g == LARGE_GFN + 0x80;
		CHECK(page_is(el, g, by_l ? 0x1111 : TAG_P));
		CHECK(page_is(le, g, by_e ? 0xeeee : TAG_P));
		CHECK(page_is(l, g, by_l ? 0x1111 : TAG_P));
		CHECK(page_is(e, g, by_e ? 0xeeee : TAG_P));
		CHECK(page_is(p, g, TAG_P));
	}
	/* The grandchildren write; nobody else sees it. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)el, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)le, 0, 0, 0), 0);
	CHECK(guest_store(el, 1, 0x2222));
	CHECK(guest_store(le, 1, 0x3333));
	CHECK(guest_store(le, LARGE_GFN + 0x80, 0x3333));
	CHECK_INVARIANTS();
	CHECK(page_is(el, 1, 0x2222) && page_is(le, 1, 0x3333));
	CHECK(page_is(l, 1, 0x1111) && page_is(e, 1, TAG_P) && page_is(p, 1, TAG_P));
	CHECK(page_is(e, LARGE_GFN + 0x80, 0xeeee));
	/* The chain ends at HV_FORK_DEPTH. */
	s64 last = le;
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)le, 0, 0, 0), 0);
	for (u32 depth = 3; depth < HV_FORK_DEPTH; depth++) {
		s64 c = call(HC_FORK, (u64)last, depth & 1, 0, 0);
		CHECK(c > 0);
		CHECK_EQ(dom(c)->depth, depth);
		last = c;
	}
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_FORK, (u64)last, 1, 0, 0), -HV_ERANGE);
	CHECK(!dom(last)->is_template);
	CHECK(page_is(last, 1, 0x3333) && page_is(last, 0, TAG_P));
	CHECK(page_is(last, LARGE_GFN + 0x1ff, TAG_P));
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)last, 0, 0, 0), 0);
	CHECK(guest_store(last, 0, 0x4444));
	CHECK(page_is(last, 0, 0x4444) && page_is(p, 0, TAG_P));
	CHECK_INVARIANTS();
}

TEST(fork_many_children_of_one_template)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	u64 base = hv_frames_in_use();
	s64 kids[HV_MAX_DOMAINS];
	u32 n = 0;
	for (;;) {
		s64 c = call(HC_FORK, (u64)p, n & 1, 0, 0);
		if (c == -HV_ENOSPC)
			break;
		CHECK(c > 0);
		kids[n++] = c;
	}
	CHECK_EQ(n, HV_MAX_DOMAINS - 2); /* slot 0 is the host's, one is p */
	CHECK_EQ(dom(p)->children, n);
	CHECK_INVARIANTS();
	for (u32 i = 0; i < n; i++) {
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)kids[i], 0, 0, 0), 0);
		CHECK(guest_store(kids[i], 3, 0x100 + i));
		CHECK(guest_store(kids[i], LARGE_GFN + 0x80, 0x100 + i));
	}
	CHECK_INVARIANTS();
	for (u32 i = 0; i < n; i++) {
		CHECK(page_is(kids[i], 3, 0x100 + i));
		CHECK(page_is(kids[i], LARGE_GFN + 0x80, 0x100 + i));
		CHECK(page_is(kids[i], 5, TAG_P));
	}
	CHECK(template_view(p, TAG_P) && page_zero(p, 3));
	for (u32 i = 0; i < n; i++) {
		CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)kids[i], 0, 0, 0), 0);
		CHECK_INVARIANTS();
	}
	CHECK_EQ(hv_frames_in_use(), base);
	CHECK_EQ(dom(p)->children, 0);
	CHECK(dom(p)->is_template); /* still frozen */
	CHECK(template_view(p, TAG_P));
}

/* ---- copy-on-write ---- */

static void cow_test(bool lazy)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	s64 a = call(HC_FORK, (u64)p, lazy, 0, 0);
	s64 b = call(HC_FORK, (u64)p, lazy, 0, 0);
	CHECK(a > 0 && b > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	u64 used = hv_frames_in_use();
	/* The write exit gives a private copy of the template's page. */
	CHECK_EQ(ept_exit(a, 5 << PAGE_SHIFT, EPTQ_W | EPTQ_R), UXT_FATE_RESUME);
	CHECK_INVARIANTS();
	struct p2m_entry e;
	CHECK(p2m_lookup(dom(a), 5, &e) == 0);
	CHECK(e.perms & EPT_W);
	CHECK(e.mfn != mfn_of(p, 5));
	CHECK_EQ(frame_get(e.mfn)->type, FT_RAM);
	CHECK_EQ(frame_get(e.mfn)->owner, a);
	CHECK(page_is(a, 5, TAG_P)); /* the copy holds the old contents */
	/* private frame + the dirty log's first frame (+ lazy: the PT) */
	CHECK_EQ(hv_frames_in_use(), used + 2 + (lazy ? 3 : 0));
	static u64 buf[PAGE_SIZE / 8];
	pattern(buf, 0xa, 5);
	CHECK_EQ(guest_write(dom(a), 5 << PAGE_SHIFT, buf, PAGE_SIZE), 0);
	CHECK(page_is(a, 5, 0xa));
	CHECK(page_is(p, 5, TAG_P) && page_is(b, 5, TAG_P));
	/* A second write exit on the same page is spurious. */
	used = hv_frames_in_use();
	CHECK_EQ(ept_exit(a, 5 << PAGE_SHIFT, EPTQ_W), UXT_FATE_RESUME);
	CHECK_EQ(hv_frames_in_use(), used);
	CHECK(page_is(a, 5, 0xa));

	/* A write into the 2 MiB page splits it: one private page, the other
	 * 511 still the template's. */
	u64 g = LARGE_GFN + 0x80;
	CHECK_EQ(ept_exit(a, g << PAGE_SHIFT, EPTQ_W), UXT_FATE_RESUME);
	CHECK_INVARIANTS();
	CHECK(p2m_lookup(dom(a), g, &e) == 0);
	CHECK_EQ(e.order, 0);
	CHECK(e.perms & EPT_W);
	CHECK(p2m_lookup(dom(a), g + 1, &e) == 0);
	CHECK_EQ(e.order, 0);
	CHECK(!(e.perms & EPT_W));
	CHECK_EQ(e.mfn, mfn_of(p, g + 1));
	CHECK(p2m_lookup(dom(p), g, &e) == 0);
	CHECK_EQ(e.order, LARGE_ORDER); /* the template's stays whole */
	CHECK(page_is(a, g, TAG_P));
	CHECK(guest_store(a, g, 0xa));
	CHECK(guest_store(b, g, 0xb));
	CHECK_INVARIANTS();
	CHECK(page_is(a, g, 0xa) && page_is(b, g, 0xb) && page_is(p, g, TAG_P));
	CHECK(page_zero(a, g + 1) && page_is(b, g - 0x7f, TAG_P));
	/* A zero page of the template too. */
	CHECK(guest_store(b, 9, 0xb));
	CHECK(page_is(b, 9, 0xb) && page_zero(a, 9) && page_zero(p, 9));
	/* Writes by the hypervisor on the guest's behalf break sharing too:
	 * GET_INFO writes 24 bytes at RDI. */
	struct hv_vcpu *v = vcpu0(b);
	v->gpr[RAX] = HC_GET_INFO;
	v->gpr[RDI] = 17 << PAGE_SHIFT | 0x100;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_VMCALL);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, 3);
	CHECK_EQ(hv_vcpu_exit(v), UXT_FATE_RESUME);
	CHECK_EQ(v->gpr[RAX], 0);
	CHECK_INVARIANTS();
	u32 id = 0;
	CHECK_EQ(guest_read(dom(b), 17 << PAGE_SHIFT | 0x100, &id, 4), 0);
	CHECK_EQ(id, b);
	CHECK(page_is(p, 17, TAG_P) && page_is(a, 17, TAG_P));
	CHECK(mfn_of(b, 17) != mfn_of(p, 17));
	/* So do host loads that change bytes; those that do not, share on. */
	u64 before = mfn_of(a, 31);
	CHECK_EQ(load_page(a, 31, TAG_P), 0);
	CHECK_EQ(mfn_of(a, 31), before);
	CHECK_EQ(load_page(a, 31, 0xa), 0);
	CHECK(mfn_of(a, 31) != before);
	CHECK(page_is(a, 31, 0xa) && page_is(b, 31, TAG_P) && page_is(p, 31, TAG_P));
	CHECK_INVARIANTS();
}

TEST(fork_cow_eager)
{
	cow_test(false);
}

TEST(fork_cow_lazy)
{
	cow_test(true);
}

/* A zombie's frames are still shared: writes copy them. */
TEST(fork_cow_from_a_zombie)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	s64 a = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(a > 0);
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)p, 0, 0, 0), 0); /* zombie */
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	u64 used = hv_frames_in_use();
	u64 old = mfn_of(a, 1);
	CHECK(guest_store(a, 1, 0xa)); /* the zombie still maps it: a copy */
	CHECK(mfn_of(a, 1) != old);
	CHECK_EQ(hv_frames_in_use(), used + 2); /* copy + log frame */
	CHECK(page_is(p, 1, TAG_P));
	CHECK_INVARIANTS();
}

TEST(fork_write_to_unowned_memory_crashes)
{
	for (int lazy = 0; lazy < 2; lazy++) {
		test_hv_down();
		CHECK(test_hv_up(8192) == 0);
		s64 p = make_parent(1);
		s64 c = call(HC_FORK, (u64)p, (u64)lazy, 0, 0);
		CHECK(c > 0);
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		u64 used = hv_frames_in_use();
		CHECK_EQ(ept_exit(c, 0x100 << PAGE_SHIFT, EPTQ_W), UXT_FATE_CRASHED);
		CHECK_EQ(dom(c)->state, DOM_CRASHED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_UNOWNED_MEMORY);
		CHECK_EQ(hv_frames_in_use(), used);
		CHECK_INVARIANTS();
		CHECK(template_view(p, TAG_P));
		/* A crashed child can be reset and run again. */
		CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
		CHECK_EQ(dom(c)->state, DOM_PAUSED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_NONE);
		CHECK_INVARIANTS();
		/* Reads of unowned memory from a lazy child crash as well. */
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		CHECK_EQ(ept_exit(c, 0x100 << PAGE_SHIFT, EPTQ_R), UXT_FATE_CRASHED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_UNOWNED_MEMORY);
		CHECK_INVARIANTS();
	}
}

/* Sharing never widens what the host allowed: a page the host made
 * read-only stays read-only in the forks. */
TEST(fork_read_only_pages_stay_read_only)
{
	for (int lazy = 0; lazy < 2; lazy++) {
		test_hv_down();
		CHECK(test_hv_up(8192) == 0);
		s64 p = make_parent(1);
		CHECK_EQ(call(HC_SET_PERMS, (u64)p, 1, 1, EPT_R | EPT_X), 0);
		CHECK_EQ(call(HC_SET_PERMS, (u64)p, LARGE_GFN + 1, 1, EPT_R), 0);
		s64 c = call(HC_FORK, (u64)p, (u64)lazy, 0, 0);
		CHECK(c > 0);
		CHECK_INVARIANTS();
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		/* The hypervisor may not write it for the guest either. */
		static u64 buf[4];
		CHECK_EQ(guest_write(dom(c), 1 << PAGE_SHIFT, buf, sizeof(buf)), -HV_EFAULT);
		CHECK_EQ(load_page(c, 1, 0x77), -HV_EFAULT);
		CHECK_INVARIANTS();
		CHECK(page_is(c, 1, TAG_P));
		/* A LOAD over several pages, one of them read-only, writes none. */
		static u8 big[3 * PAGE_SIZE];
		memset(big, 0x5a, sizeof(big));
		u64 a[4] = { (u64)c, 0, 0, 0 };
		CHECK_EQ(hv_host_call(HC_LOAD, a, big, sizeof(big)), -HV_EFAULT);
		CHECK(page_is(c, 0, TAG_P));
		CHECK_INVARIANTS();
		/* Other pages are writable, as they were. */
		CHECK(guest_store(c, 0, 0xc));
		CHECK_EQ(ept_exit(c, 1 << PAGE_SHIFT, EPTQ_W), UXT_FATE_CRASHED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_UNOWNED_MEMORY);
		CHECK(page_is(c, 1, TAG_P) && page_is(p, 1, TAG_P));
		CHECK_INVARIANTS();
		CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		CHECK_EQ(ept_exit(c, (LARGE_GFN + 1) << PAGE_SHIFT, EPTQ_W),
			 UXT_FATE_CRASHED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_UNOWNED_MEMORY);
		CHECK_INVARIANTS();
	}
}

/* A host LOAD writes only the pages whose bytes differ: across a lazy
 * fork's 2 MiB leaf, from the middle of one page to the middle of
 * another, the pages it would not change stay its template's frames, the
 * others become copies of its own with the new bytes. */
TEST(fork_load_writes_only_pages_that_differ)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	s64 c = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(c > 0);
	const u64 g0 = LARGE_GFN + 0x10; /* pages g0 .. g0 + 3: all zero */
	static u8 buf[3 * PAGE_SIZE + 0x100];
	memset(buf, 0, sizeof(buf));
	memset(buf + PAGE_SIZE / 2, 0x33, PAGE_SIZE);        /* g0 + 1 */
	buf[sizeof(buf) - 1] = 0x44;                          /* g0 + 3 */
	u64 tpl[4];
	for (u32 i = 0; i < 4; i++) {
		struct p2m_entry e;
		CHECK_EQ(p2m_lookup(dom(p), g0 + i, &e), 0);
		tpl[i] = e.mfn;
	}
	u64 a[4] = { (u64)c, (g0 << PAGE_SHIFT) + PAGE_SIZE / 2, 0, 0 };
	CHECK_EQ(hv_host_call(HC_LOAD, a, buf, sizeof(buf)), 0);
	CHECK_INVARIANTS();
	static const bool differs[4] = { false, true, false, true };
	for (u32 i = 0; i < 4; i++) {
		struct p2m_entry e;
		CHECK_EQ(p2m_lookup(dom(c), g0 + i, &e), 0);
		CHECK_EQ(e.mfn != tpl[i], differs[i]);
		CHECK_EQ(frame_get(e.mfn)->type, differs[i] ? FT_RAM : FT_SHARED);
	}
	static u8 got[sizeof(buf)];
	CHECK_EQ(guest_read(dom(c), a[1], got, sizeof(got)), 0);
	CHECK(!memcmp(got, buf, sizeof(buf)));
	CHECK_EQ(guest_read(dom(p), a[1], got, sizeof(got)), 0);
	for (u32 i = 0; i < sizeof(got); i++)
		CHECK_EQ(got[i], 0);
}

/* The host can make a shared page writable again: the write still goes to
 * a private copy, never to the template's frame. */
TEST(fork_set_perms_on_shared_pages)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK_EQ(call(HC_SET_PERMS, (u64)p, 1, 1, EPT_R), 0);
	s64 a = call(HC_FORK, (u64)p, 0, 0, 0);
	s64 b = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(a > 0 && b > 0);
	CHECK_EQ(call(HC_SET_PERMS, (u64)a, 0, 2, EPT_RWX), 0);
	CHECK_EQ(call(HC_SET_PERMS, (u64)a, LARGE_GFN, 1, EPT_RWX), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK(guest_store(a, 0, 0xa));
	CHECK(guest_store(a, 1, 0xa)); /* read-only in p, writable in a */
	CHECK(guest_store(a, LARGE_GFN, 0xa));
	CHECK_INVARIANTS();
	CHECK(page_is(p, 0, TAG_P) && page_is(b, 0, TAG_P));
	CHECK(page_is(p, 1, TAG_P) && page_is(b, 1, TAG_P));
	CHECK(page_is(p, LARGE_GFN, TAG_P) && page_is(b, LARGE_GFN, TAG_P));
	/* Taking write away from a shared page: writes crash. */
	CHECK_EQ(call(HC_SET_PERMS, (u64)b, 5, 1, EPT_R), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(b, 5 << PAGE_SHIFT, EPTQ_W), UXT_FATE_CRASHED);
	CHECK_EQ(dom(b)->crash_reason, CRASH_UNOWNED_MEMORY);
	CHECK_INVARIANTS();
}

/* ---- destruction ---- */

TEST(fork_destroy_frees_only_private_frames)
{
	CHECK(test_hv_up(8192) == 0);
	u64 empty = hv_frames_in_use();
	s64 p = make_parent(1);
	CHECK(p > 0);
	u64 parent_only = hv_frames_in_use();
	s64 a = call(HC_FORK, (u64)p, 0, 0, 0);
	s64 b = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(a > 0 && b > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	for (u64 g = 0; g < 8; g++) {
		CHECK(guest_store(a, g, 0xa));
		CHECK(guest_store(b, g, 0xb));
	}
	CHECK(guest_store(a, LARGE_GFN + 3, 0xa));
	CHECK_INVARIANTS();
	/* a's own: 9 copies, 1 + 3 tables, a split PT, a VMCS, a log frame */
	CHECK_EQ(owned_by(a), 9 + 4 + 1 + 1 + 1);
	u64 before = hv_frames_in_use();
	u64 shared = stats_shared();
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)a, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), before - (9 + 4 + 1 + 1 + 1));
	CHECK_EQ(stats_shared(), shared); /* no shared frame went */
	CHECK(page_is(b, 0, 0xb) && page_is(b, 1, 0xb));
	CHECK(page_is(b, 5, 0xb) && page_is(b, 17, TAG_P));
	CHECK(template_view(p, TAG_P));
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)b, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), parent_only);

	/* The template goes while forks live: a zombie keeps the frames. */
	a = call(HC_FORK, (u64)p, 0, 0, 0);
	b = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(a > 0 && b > 0);
	u64 with_kids = hv_frames_in_use();
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)p, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), with_kids);
	CHECK_EQ(dom(p)->state, DOM_ZOMBIE);
	CHECK(hv_domain_get((u32)p) == NULL);
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)p, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), -HV_ESRCH);
	/* Its slot is not handed out again. */
	s64 other = call(HC_DOMAIN_CREATE, 1, 16, 0, 0);
	CHECK(other > 0 && other != p);
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)other, 0, 0, 0), 0);
	CHECK(template_view(a, TAG_P));
	CHECK(template_view(b, TAG_P));
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	CHECK(guest_store(b, 5, 0xb)); /* copies from the zombie's frame */
	CHECK(page_is(b, 5, 0xb) && page_is(a, 5, TAG_P));
	/* Children of a zombie reset to it. */
	CHECK_EQ(call(HC_RESET, (u64)b, 0, 0, 0), 0);
	CHECK(template_view(b, TAG_P));
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(dom(p)->state, DOM_ZOMBIE);
	CHECK_INVARIANTS();
	CHECK(template_view(b, TAG_P));
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)b, 0, 0, 0), 0);
	CHECK_EQ(dom(p)->state, DOM_FREE);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), empty);
}

/* A chain of zombies goes when the last descendant does. */
TEST(fork_zombie_chain)
{
	CHECK(test_hv_up(8192) == 0);
	u64 empty = hv_frames_in_use();
	s64 p = make_parent(1);
	s64 c = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(c > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
	CHECK(guest_store(c, 1, 0xc));
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)c, 0, 0, 0), 0);
	s64 g = call(HC_FORK, (u64)c, 0, 0, 0);
	CHECK(g > 0);
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)p, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)c, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK(page_is(g, 1, 0xc) && page_is(g, 0, TAG_P));
	CHECK(page_is(g, LARGE_GFN + 0x1ff, TAG_P));
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)g, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(g, (LARGE_GFN + 4) << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK(guest_store(g, 0, 0x9));
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)g, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), empty);
	CHECK_EQ(dom(p)->state, DOM_FREE);
	CHECK_EQ(dom(c)->state, DOM_FREE);
}

/* ---- negative ---- */

TEST(fork_refuses_bad_parents_and_modes)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	CHECK_EQ(call(HC_FORK, (u64)p, 2, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_FORK, (u64)p, ~0ull, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 1, 0), -HV_EINVAL); /* NONE args */
	CHECK(!dom(p)->is_template);
	CHECK_EQ(call(HC_FORK, 0, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_FORK, 60, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_FORK, HV_MAX_DOMAINS, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_FORK, 1ull << 16 | (u64)p, 0, 0, 0), -HV_ESRCH);
	/* running */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), 0);
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_EBUSY);
	CHECK_EQ(call(HC_FORK, (u64)p, 1, 0, 0), -HV_EBUSY);
	CHECK(!dom(p)->is_template);
	CHECK_INVARIANTS();
	/* with an I/O request outstanding */
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)p, 0, 0, 0), 0);
	vcpu0(p)->io_pending = true;
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_EBUSY);
	vcpu0(p)->io_pending = false;
	CHECK(!dom(p)->is_template);
	/* crashed, shut down */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(p, 0x123456789ull << PAGE_SHIFT, EPTQ_R), UXT_FATE_CRASHED);
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_EBUSY);
	CHECK_EQ(call(HC_FORK, (u64)p, 1, 0, 0), -HV_EBUSY);
	CHECK(!dom(p)->is_template);
	dom(p)->state = DOM_SHUTDOWN;
	CHECK_EQ(call(HC_FORK, (u64)p, 1, 0, 0), -HV_EBUSY);
	/* dying (only seen during destruction) and destroyed */
	dom(p)->state = DOM_DYING;
	CHECK_EQ(call(HC_FORK, (u64)p, 1, 0, 0), -HV_ESRCH);
	dom(p)->state = DOM_CRASHED;
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)p, 0, 0, 0), 0);
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_ESRCH);
	CHECK_INVARIANTS();
	/* No domain slot left: the would-be parent is left as it was. */
	p = make_parent(1);
	while (call(HC_DOMAIN_CREATE, 1, 1, 0, 0) > 0)
		;
	CHECK_EQ(call(HC_FORK, (u64)p, 0, 0, 0), -HV_ENOSPC);
	CHECK_EQ(call(HC_FORK, (u64)p, 1, 0, 0), -HV_ENOSPC);
	CHECK(!dom(p)->is_template);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	/* Reset of a domain that is not a fork. */
	CHECK_EQ(call(HC_RESET, (u64)p, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_RESET, 0, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_RESET, (u64)p, 1, 0, 0), -HV_EINVAL);
}

/* ---- reset ---- */

/* d's view of [0, end) equals t's: the same frames where d is eager. */
static bool same_memory(s64 d, s64 t, u64 end)
{
	for (u64 g = 0; g < end; g++) {
		struct p2m_entry de, te;
		int dr = p2m_lookup(dom(d), g, &de), tr = p2m_lookup(dom(t), g, &te);
		if (dom(d)->lazy) {
			if (dr == 0 && (tr || de.mfn != te.mfn || de.perms != te.perms))
				return false;
			continue;
		}
		if (dr != tr || (dr == 0 && (de.mfn != te.mfn || de.perms != te.perms)))
			return false;
	}
	return true;
}

static void reset_test(bool lazy)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(2);
	CHECK(p > 0);
	s64 c = call(HC_FORK, (u64)p, lazy, 0, 0);
	s64 sib = call(HC_FORK, (u64)p, !lazy, 0, 0);
	CHECK(c > 0 && sib > 0);
	u64 forked = hv_frames_in_use();
	static u8 fresh[64 * 1024], now[64 * 1024];
	size_t fresh_len = hv_domain_image((u32)c, fresh, sizeof(fresh));
	CHECK(fresh_len > sizeof(struct hv_domain));
	CHECK_EQ(hv_domain_image((u32)c, fresh, 16), 0); /* too small */
	CHECK_EQ(hv_domain_image(HV_MAX_DOMAINS - 1, now, sizeof(now)), 0);
	CHECK(hv_domain_same((u32)c, fresh, fresh_len));
	CHECK(!hv_domain_same((u32)c, fresh, fresh_len - 1));      /* too short */
	CHECK(!hv_domain_same(HV_MAX_DOMAINS - 1, fresh, fresh_len));
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
	CHECK(!hv_domain_same((u32)c, fresh, fresh_len));          /* running */
	/* Dirty it every way there is. */
	for (u64 g = 0; g < 20; g++)
		CHECK(guest_store(c, g, 0xc));
	for (u64 g = LARGE_GFN; g < LARGE_GFN + 0x200; g += 0x40)
		CHECK(guest_store(c, g, 0xc));
	CHECK_EQ(ept_exit(c, (LARGE_GFN + 1) << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK_EQ(call(HC_UNMAP, (u64)c, 20, 4, 0), 4); /* a lazy fork settles */
	CHECK_EQ(call(HC_POPULATE, (u64)c, 0x400, 512, 9), 0);   /* new 2M */
	CHECK_EQ(call(HC_POPULATE, (u64)c, 0x1000, 16, 0), 0);   /* new 4K */
	CHECK_EQ(call(HC_SET_PERMS, (u64)c, 25, 1, EPT_R), 0);
	CHECK_EQ(call(HC_UNMAP, (u64)c, LARGE_GFN + 0x100, 2, 0), 2);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)c, 0x2000, 4, 0), 0);
	CHECK_EQ(call(HC_HINT, (u64)c, 26, 2, HV_HINT_FREE), 2);
	CHECK_EQ(set_state(c, 1, VMCS_GUEST_RIP, 0xdead), 0);
	vcpu0(c)->gpr[RBX] = 0xbbbb;
	arch_vmcs_load(vcpu0(c));
	sim_vmcs_set(VMCS_GUEST_CR3, 0x9000);
	CHECK_INVARIANTS();
	CHECK(page_is(c, 5, 0xc) && !page_is(c, 5, TAG_P));
	CHECK(dom(c)->nr_dirty > 0 && !dom(c)->log_full);

	u64 dirty = hv_frames_in_use();
	CHECK(dirty > forked + 20);
	/* The image sees it: its own RAM, its tables, its log. */
	size_t big = 8u << 20;
	u8 *img = malloc(big);
	CHECK(img != NULL);
	size_t dirty_len = hv_domain_image((u32)c, img, big);
	free(img);
	CHECK(dirty_len > fresh_len);
	CHECK(!hv_domain_same((u32)c, fresh, fresh_len));
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(dom(c)->state, DOM_PAUSED);
	CHECK_EQ(dom(c)->nr_dirty, 0);
	CHECK(template_view(c, TAG_P));
	CHECK(same_memory(c, p, 0x1100));
	CHECK(mfn_of(c, 0x1000) == INVALID_MFN && mfn_of(c, 0x400) == INVALID_MFN);
	CHECK(!domain_is_mmio(dom(c), 0x2000));
	bool ok;
	check_vcpus_copied(c, p, 2, &ok);
	CHECK(ok);
	CHECK_EQ(vcpu0(c)->gpr[RBX], 0);
	/* Everything private went, the log's frames too. A lazy fork is
	 * back to an empty p2m; an eager one keeps the tables splits made. */
	if (lazy) {
		/* Byte for byte the fork it was: the same record, the same
		 * frames holding the same bytes. */
		CHECK_EQ(hv_frames_in_use(), forked);
		CHECK_EQ(hv_domain_image((u32)c, now, sizeof(now)), fresh_len);
		CHECK(memcmp(now, fresh, fresh_len) == 0);
		CHECK(hv_domain_same((u32)c, fresh, fresh_len));
		now[fresh_len - 1] ^= 1;  /* the last byte of the last frame */
		CHECK(!hv_domain_same((u32)c, now, fresh_len));
	} else
		CHECK(hv_frames_in_use() <= forked + 8);
	CHECK(template_view(sib, TAG_P) && template_view(p, TAG_P));
	/* Runs and resets again. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
	CHECK(guest_store(c, 5, 0xd));
	CHECK(page_is(c, 5, 0xd));
	u64 again = hv_frames_in_use();
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
	/* The private copy and the log's frame go (and a lazy fork's
	 * tables). */
	u64 after = lazy ? forked : again - 2;
	CHECK_EQ(hv_frames_in_use(), after);
	CHECK(page_is(c, 5, TAG_P));
	CHECK_INVARIANTS();
	/* Nothing dirty: nothing to do but flush what the run cached. */
	u64 flushes = sim_effects.invept;
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
	CHECK_EQ(hv_frames_in_use(), after);
	CHECK(sim_effects.invept > flushes);
	/* A child that was forked is a template: it cannot go back. */
	s64 g = call(HC_FORK, (u64)c, 0, 0, 0);
	CHECK(g > 0);
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), -HV_EPERM); /* frozen */
	CHECK_EQ(domain_reset(dom(c)), -HV_EBUSY);
	CHECK_EQ(call(HC_RESET, (u64)g, 0, 0, 0), 0);
	CHECK(template_view(g, TAG_P));
	CHECK_INVARIANTS();
}

TEST(fork_reset_eager)
{
	reset_test(false);
}

TEST(fork_reset_lazy)
{
	reset_test(true);
}

/* A domain's image holds only the bytes of a VMCS frame that hold state
 * (arch_vmcs_state_bytes()), and a reset rewrites only those: so every
 * field must live there, and nothing may be kept past them. */
TEST(fork_vmcs_state_is_all_in_the_state_bytes)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	s64 c = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(c > 0);
	u32 bytes = arch_vmcs_state_bytes();
	CHECK(bytes >= VMCS_NR_FIELDS * sizeof(u64) && bytes <= PAGE_SIZE);
	u8 *va = hv_vcpu_vmcs_va(vcpu0(c));
	/* The rest of the frame: a mark no field write or reset touches,
	 * and no image sees. */
	memset(va + bytes, 0x5a, PAGE_SIZE - bytes);
	static u8 fresh[64 * 1024];
	size_t len = hv_domain_image((u32)c, fresh, sizeof(fresh));
	CHECK(len > 0);
	va[bytes] ^= 0xff; /* past the state: the image must not see it */
	CHECK(hv_domain_same((u32)c, fresh, len));
	va[PAGE_SIZE - 1] ^= 0xff;
	CHECK(hv_domain_same((u32)c, fresh, len));
	va[bytes] ^= 0xff;
	va[PAGE_SIZE - 1] ^= 0xff;
	for (u32 i = 0; i < VMCS_NR_FIELDS; i++) {
		u32 enc = vmcs_index_enc[i];
		arch_vmcs_load(vcpu0(c));
		u64 was = arch_vmread(enc);
		arch_vmwrite(enc, ~was);
		if (hv_domain_same((u32)c, fresh, len)) {
			test_failed(__FILE__, __LINE__, vmcs_field_name(enc)); /* not seen */
			return;
		}
		arch_vmwrite(enc, was);
		CHECK(hv_domain_same((u32)c, fresh, len));
	}
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
	CHECK(guest_store(c, 3, 0xc));
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
	CHECK(hv_domain_same((u32)c, fresh, len));
	for (u32 k = bytes; k < PAGE_SIZE; k++)
		CHECK_EQ(va[k], 0x5a); /* past the state: written */
	CHECK_INVARIANTS();
}

/* More dirtied gfns than the log holds: reset rebuilds from the template. */
TEST(fork_reset_after_log_overflow)
{
	const u64 big = 66 * 512; /* > HV_LOG_FRAMES * HV_LOG_PER_FRAME */
	CHECK(big > HV_LOG_FRAMES * HV_LOG_PER_FRAME);
	CHECK(test_hv_up(big + 4096) == 0);
	s64 p = call(HC_DOMAIN_CREATE, 1, big + 1024, 0, 0);
	CHECK(p > 0);
	CHECK_EQ(call(HC_POPULATE, (u64)p, 0, big, 9), 0);
	for (u64 g = 0; g < big; g += 997)
		CHECK_EQ(load_page(p, g, TAG_P), 0);
	CHECK_INVARIANTS();
	for (int lazy = 0; lazy < 2; lazy++) {
		s64 c = call(HC_FORK, (u64)p, (u64)lazy, 0, 0);
		CHECK(c > 0);
		u64 forked = hv_frames_in_use();
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		CHECK(guest_store(c, 0, 0xc));
		CHECK(guest_store(c, 997, 0xc));
		CHECK_EQ(call(HC_UNMAP, (u64)c, 1000, big - 1000, 0), big - 1000);
		CHECK(dom(c)->log_full);
		CHECK(guest_store(c, 500, 0xc));
		CHECK_EQ(call(HC_POPULATE, (u64)c, big, 512, 9), 0);
		CHECK_INVARIANTS();
		CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
		CHECK_INVARIANTS();
		CHECK(!dom(c)->log_full && dom(c)->nr_dirty == 0);
		for (u64 g = 0; g < big; g += 997)
			CHECK(page_is(c, g, TAG_P));
		CHECK(same_memory(c, p, big + 512));
		/* The log's frames go too: what a fresh fork holds. */
		CHECK_EQ(hv_frames_in_use(), forked);
		CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)c, 0, 0, 0), 0);
		CHECK_INVARIANTS();
	}
}

/* The log's frame could not be had: reset falls back to the whole p2m. */
TEST(fork_reset_without_log_frame)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	s64 c = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(c > 0);
	u64 forked = hv_frames_in_use();
	test_host.fail_at = test_host.allocs + 1;
	CHECK_EQ(call(HC_UNMAP, (u64)c, 3, 1, 0), 1); /* not an error */
	CHECK_EQ(test_host.failures, 1);
	CHECK(dom(c)->log_full);
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
	CHECK(guest_store(c, 4, 0xc));
	CHECK(guest_store(c, LARGE_GFN + 9, 0xc));
	CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK(template_view(c, TAG_P));
	CHECK(same_memory(c, p, 0x400));
	CHECK_EQ(hv_frames_in_use(), forked);
}

/* ---- lazy forks and holes ---- */

/* What a domain unmapped stays unmapped: for itself, however lazy, and
 * for its forks, which never see the memory underneath. */
TEST(fork_unmapped_memory_stays_gone)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	s64 l = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(l > 0);
	/* Never touched, then unmapped by the host. */
	CHECK_EQ(call(HC_UNMAP, (u64)l, 0, 2, 0), 2);
	CHECK_INVARIANTS();
	static u64 buf[PAGE_SIZE / 8];
	CHECK(guest_read(dom(l), 0, buf, 8) == -HV_EFAULT);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(l, 1 << PAGE_SHIFT, EPTQ_R), UXT_FATE_CRASHED);
	CHECK_EQ(dom(l)->crash_reason, CRASH_UNOWNED_MEMORY);
	CHECK_INVARIANTS();
	/* A reset brings them back. */
	CHECK_EQ(call(HC_RESET, (u64)l, 0, 0, 0), 0);
	CHECK(template_view(l, TAG_P));
	CHECK_INVARIANTS();
	/* Touched or not, then given back by the guest. */
	s64 l2 = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(l2 > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l2, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(l2, 5 << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	struct hv_vcpu *v = vcpu0(l2);
	v->gpr[RAX] = HC_MEMORY_RELEASE;
	v->gpr[RDI] = 4;
	v->gpr[RSI] = 2;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_VMCALL);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, 3);
	CHECK_EQ(hv_vcpu_exit(v), UXT_FATE_RESUME);
	CHECK_EQ(v->gpr[RAX], 2);
	CHECK_INVARIANTS();
	CHECK(guest_read(dom(l2), 4 << PAGE_SHIFT, buf, 8) == -HV_EFAULT);
	CHECK(guest_read(dom(l2), 5 << PAGE_SHIFT, buf, 8) == -HV_EFAULT);
	CHECK(page_is(l2, 1, TAG_P));
	CHECK_EQ(ept_exit(l2, 4 << PAGE_SHIFT, EPTQ_R), UXT_FATE_CRASHED);
	CHECK_INVARIANTS();
	/* An eager fork unmaps; its lazy fork sees the hole, not the
	 * template's page underneath. */
	s64 e = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(e > 0);
	CHECK_EQ(call(HC_UNMAP, (u64)e, 17, 1, 0), 1);
	s64 el = call(HC_FORK, (u64)e, 1, 0, 0);
	CHECK(el > 0);
	CHECK(guest_read(dom(el), 17 << PAGE_SHIFT, buf, 8) == -HV_EFAULT);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)el, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(el, 17 << PAGE_SHIFT, EPTQ_R), UXT_FATE_CRASHED);
	CHECK_EQ(dom(el)->crash_reason, CRASH_UNOWNED_MEMORY);
	CHECK_INVARIANTS();
	/* Memory a lazy fork populates where its template has some: refused,
	 * as for an eager fork. */
	s64 l3 = call(HC_FORK, (u64)p, 1, 0, 0);
	s64 e3 = call(HC_FORK, (u64)p, 0, 0, 0);
	CHECK(l3 > 0 && e3 > 0);
	CHECK_EQ(call(HC_POPULATE, (u64)e3, 5, 1, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_POPULATE, (u64)l3, 5, 1, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)l3, 5, 1, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_SET_PERMS, (u64)l3, 6, 1, EPT_R), 0);
	CHECK(page_is(l3, 5, TAG_P));
	CHECK_INVARIANTS();
}

/* A lazy fork of a lazy fork materializes (a host call that changes its
 * layout): afterwards it maps, itself, every frame it saw through its
 * ancestors (read-only), and nothing more. Some of what it saw was its
 * own already: a 2 MiB leaf filled whole by a touch, a 4 KiB one, a page
 * it copied on write (which splits its 2 MiB leaf). */
TEST(fork_lazy_materializes_what_it_saw)
{
	CHECK(test_hv_up(8192) == 0);
	s64 p = make_parent(1);
	CHECK(p > 0);
	s64 l1 = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(l1 > 0);
	CHECK_EQ(p2m_fill(dom(l1), 3), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l1, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(l1, (LARGE_GFN + 7) << PAGE_SHIFT, EPTQ_R), UXT_FATE_RESUME);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)l1, 0, 0, 0), 0);
	s64 l2 = call(HC_FORK, (u64)l1, 1, 0, 0); /* l1 is a template now */
	CHECK(l2 > 0 && dom(l2)->lazy);
	CHECK_EQ(p2m_fill(dom(l2), 4), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)l2, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(l2, (LARGE_GFN + 0x80) << PAGE_SHIFT, EPTQ_W), UXT_FATE_RESUME);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)l2, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK(dom(l2)->lazy);
	static struct p2m_entry before[2 * LARGE_GFN];
	static bool mapped[2 * LARGE_GFN], own[2 * LARGE_GFN];
	for (u64 g = 0; g < 2 * LARGE_GFN; g++) {
		own[g] = p2m_lookup(dom(l2), g, &before[g]) == 0;
		mapped[g] = own[g] || p2m_ancestor_lookup(dom(l2), g, &before[g]) == 0;
	}
	CHECK(own[4] && own[LARGE_GFN + 0x80] && !own[5]);
	CHECK(mapped[5] && mapped[LARGE_GFN + 0x1ff] && !mapped[SMALL_GFNS]);
	CHECK_EQ(call(HC_SET_PERMS, (u64)l2, 6, 1, EPT_R | EPT_X), 0);
	CHECK(!dom(l2)->lazy);
	CHECK_INVARIANTS();
	u64 filled = 0;
	for (u64 g = 0; g < 2 * LARGE_GFN; g++) {
		struct p2m_entry e;
		bool m = p2m_lookup(dom(l2), g, &e) == 0;
		CHECK_EQ(m, mapped[g]);
		if (!m)
			continue;
		CHECK_EQ(e.mfn, before[g].mfn);
		CHECK_EQ(e.type, before[g].type);
		if (!own[g]) {
			filled++;
			CHECK(!(e.perms & EPT_W));
		}
	}
	CHECK_EQ(filled, SMALL_GFNS - 1); /* all but gfn 4 */
}

/* ---- a CPU that refuses a VMCS ---- */

/* A child's vCPU refused (each in turn): the fork fails with the
 * backend's error and the parent is left as it was, every frame back. */
TEST(fork_vmcs_init_fails)
{
	for (int lazy = 0; lazy < 2; lazy++) {
		CHECK(test_hv_up(8192) == 0);
		s64 p = make_parent(2);
		CHECK(p > 0);
		u64 used = hv_frames_in_use();
		for (u32 n = 1; n <= 2; n++) {
			sim_fail_vmcs_init = n;
			CHECK_EQ(call(HC_FORK, (u64)p, (u64)lazy, 0, 0), -HV_EINVAL);
			CHECK_EQ(sim_fail_vmcs_init, 0);
			CHECK_INVARIANTS();
			CHECK_EQ(hv_frames_in_use(), used);
			CHECK(!dom(p)->is_template);
			CHECK_EQ(dom(p)->children, 0);
			CHECK_EQ(dom(p)->state, DOM_PAUSED);
		}
		s64 c = call(HC_FORK, (u64)p, (u64)lazy, 0, 0);
		CHECK(c > 0);
		CHECK(template_view(c, TAG_P));
		CHECK(test_hv_down() == 0);
	}
}

/* A vCPU refused at reset (each in turn), after the memory went back:
 * the child cannot be entered, so it crashes; nothing leaks, and a second
 * reset brings it back as the fork made it. */
TEST(fork_reset_vmcs_init_fails)
{
	for (u32 n = 1; n <= 2; n++) {
		CHECK(test_hv_up(8192) == 0);
		s64 p = make_parent(2);
		s64 c = call(HC_FORK, (u64)p, 0, 0, 0);
		CHECK(c > 0);
		u64 forked = hv_frames_in_use();
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
		CHECK(guest_store(c, 5, 0xc));
		CHECK_EQ(set_state(c, 1, VMCS_GUEST_RIP, 0xdead), 0);
		sim_fail_vmcs_init = n;
		CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), -HV_EINVAL);
		CHECK_EQ(sim_fail_vmcs_init, 0);
		CHECK_EQ(dom(c)->state, DOM_CRASHED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_ENTRY_FAILURE);
		CHECK(!hv_vcpu_runnable(hv_vcpu_get(hv_domain_get((u32)c), 0)));
		CHECK_INVARIANTS();
		CHECK_EQ(hv_frames_in_use(), forked); /* the copy and the log went */
		CHECK(page_is(c, 5, TAG_P));
		CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
		CHECK_EQ(dom(c)->state, DOM_PAUSED);
		CHECK_EQ(dom(c)->crash_reason, CRASH_NONE);
		bool ok;
		check_vcpus_copied(c, p, 2, &ok);
		CHECK(ok);
		CHECK_INVARIANTS();
		CHECK(test_hv_down() == 0);
	}
}

/* ---- failed allocations ---- */

/* Fork with each allocation failing in turn: an error changes nothing. */
TEST(fork_fault_injection_fork)
{
	for (int lazy = 0; lazy < 2; lazy++) {
		bool completed = false;
		u64 n;
		for (n = 1; n < 100 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 p = make_parent(2);
			CHECK(p > 0);
			u64 used = hv_frames_in_use();
			test_host.fail_at = test_host.allocs + n;
			s64 c = call(HC_FORK, (u64)p, (u64)lazy, 0, 0);
			CHECK(c > 0 || c == -HV_ENOMEM);
			CHECK_INVARIANTS();
			if (c < 0) {
				CHECK_EQ(hv_frames_in_use(), used);
				CHECK(!dom(p)->is_template);
				CHECK_EQ(dom(p)->children, 0);
				CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)p, 0, 0, 0), 0);
			} else {
				CHECK(template_view(c, TAG_P));
			}
			completed = test_host.failures == 0;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 3); /* failures were injected */
	}
}

/* The second fork of a template failing leaves the template and its
 * first child alone. */
TEST(fork_fault_injection_second_fork)
{
	bool completed = false;
	u64 n;
	for (n = 1; n < 100 && !completed; n++) {
		CHECK(test_hv_up(8192) == 0);
		s64 p = make_parent(1);
		s64 a = call(HC_FORK, (u64)p, 0, 0, 0);
		CHECK(a > 0);
		test_host.fail_at = test_host.allocs + n;
		s64 c = call(HC_FORK, (u64)p, 0, 0, 0);
		CHECK(c > 0 || c == -HV_ENOMEM);
		CHECK_INVARIANTS();
		CHECK(dom(p)->is_template);
		CHECK_EQ(dom(p)->children, c > 0 ? 2 : 1);
		CHECK(template_view(a, TAG_P));
		completed = test_host.failures == 0;
		CHECK(test_hv_down() == 0);
	}
	CHECK(completed);
	CHECK(n > 3);
}

/* Copy-on-write with each allocation failing: the exit crashes the domain
 * for want of memory, or succeeds; the template never changes. */
TEST(fork_fault_injection_cow)
{
	for (int mode = 0; mode < 4; mode++) {
		bool lazy = mode & 1, via_guest_write = mode & 2;
		bool completed = false;
		u64 n;
		for (n = 1; n < 100 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 p = make_parent(1);
			s64 c = call(HC_FORK, (u64)p, lazy, 0, 0);
			CHECK(c > 0);
			CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
			u64 g = LARGE_GFN + 0x80; /* split, copy, log */
			test_host.fail_at = test_host.allocs + n;
			if (via_guest_write) {
				static u64 buf[PAGE_SIZE / 8];
				pattern(buf, 0xc, g);
				int rc = guest_write(dom(c), g << PAGE_SHIFT, buf, PAGE_SIZE);
				CHECK(rc == 0 || rc == -HV_ENOMEM);
				CHECK_INVARIANTS();
				CHECK(page_is(c, g, rc ? TAG_P : 0xc));
			} else {
				unsigned fate = ept_exit(c, g << PAGE_SHIFT, EPTQ_W);
				CHECK_INVARIANTS();
				if (fate == UXT_FATE_CRASHED) {
					CHECK_EQ(dom(c)->crash_reason, CRASH_NO_MEMORY);
				} else {
					CHECK_EQ(fate, UXT_FATE_RESUME);
					CHECK(mfn_of(c, g) != mfn_of(p, g));
				}
				CHECK(page_is(c, g, TAG_P));
			}
			CHECK(template_view(p, TAG_P));
			CHECK(page_zero(c, g + 1) && page_is(c, g - 0x7f, TAG_P));
			completed = test_host.failures == 0;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 3);
	}
}

/* Reset with each allocation failing: an error crashes the child, a
 * second reset still restores everything. */
TEST(fork_fault_injection_reset)
{
	for (int mode = 0; mode < 4; mode++) {
		bool lazy = mode & 1, whole = mode & 2;
		bool completed = false;
		u64 n;
		for (n = 1; n < 100 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 p = make_parent(1);
			s64 c = call(HC_FORK, (u64)p, lazy, 0, 0);
			CHECK(c > 0);
			if (whole) /* as if the log had overflowed */
				dom(c)->log_full = true;
			CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)c, 0, 0, 0), 0);
			CHECK(guest_store(c, 5, 0xc));
			CHECK(guest_store(c, LARGE_GFN + 7, 0xc));
			CHECK_EQ(call(HC_HINT, (u64)c, 6, 1, HV_HINT_FREE), 1 - lazy);
			if (!lazy) { /* these make a lazy fork eager */
				CHECK_EQ(call(HC_UNMAP, (u64)c, LARGE_GFN + 0x40, 1, 0), 1);
				CHECK_EQ(call(HC_POPULATE, (u64)c, 0x400, 1024, 9), 0);
				CHECK_EQ(call(HC_POPULATE, (u64)c, 0x800, 2, 0), 0);
			}
			CHECK_INVARIANTS();
			u64 fails = test_host.failures;
			test_host.fail_at = test_host.allocs + n;
			s64 rc = call(HC_RESET, (u64)c, 0, 0, 0);
			CHECK(rc == 0 || rc == -HV_ENOMEM);
			CHECK_INVARIANTS();
			if (rc) {
				CHECK_EQ(dom(c)->state, DOM_CRASHED);
				CHECK_EQ(dom(c)->crash_reason, CRASH_NO_MEMORY);
				/* Host calls on it are safe. */
				CHECK(call(HC_HINT, (u64)c, 0, 0x1000, 0) >= 0);
				CHECK_INVARIANTS();
				CHECK_EQ(call(HC_RESET, (u64)c, 0, 0, 0), 0);
				CHECK_INVARIANTS();
			}
			CHECK_EQ(dom(c)->state, DOM_PAUSED);
			CHECK(template_view(c, TAG_P));
			CHECK(same_memory(c, p, 0xa00));
			CHECK(template_view(p, TAG_P));
			completed = test_host.failures == fails;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(lazy || n > 2); /* a lazy reset allocates nothing */
	}
}

/* Host calls that change a lazy fork's layout first fill in its p2m from
 * the template's (settle); each allocation failing in turn: -HV_ENOMEM,
 * a consistent state, and the same call without the failure then works
 * (SET_PERMS inside a 2 MiB leaf splits it too). */
TEST(fork_fault_injection_lazy_layout_calls)
{
	/* again: what the call gives when made again after -HV_ENOMEM (POPULATE
	 * keeps the gfns it mapped before the failure: documented) */
	const struct { u32 nr; u64 a1, a2, a3; s64 ok, again; } calls[] = {
		{ HC_POPULATE, 0x800, 2, 0, 0, -HV_EEXIST },
		{ HC_MMIO_MAP, 0xf00, 1, 0, 0, 0 },
		{ HC_UNMAP, 5, 1, 0, 1, 1 },
		{ HC_SET_PERMS, LARGE_GFN + 0x80, 2, EPT_R, 0, 0 }, /* splits the 2 MiB leaf */
	};
	for (unsigned k = 0; k < ARRAY_SIZE(calls); k++) {
		bool completed = false;
		u64 n;
		for (n = 1; n < 200 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 p = make_parent(1);
			s64 c = call(HC_FORK, (u64)p, 1, 0, 0);
			CHECK(c > 0);
			u64 fails = test_host.failures;
			test_host.fail_at = test_host.allocs + n;
			s64 rc = call(calls[k].nr, (u64)c, calls[k].a1, calls[k].a2, calls[k].a3);
			CHECK(rc == calls[k].ok || rc == -HV_ENOMEM);
			CHECK_INVARIANTS();
			CHECK(template_view(p, TAG_P));
			if (rc == -HV_ENOMEM) {
				test_host.fail_at = 0;
				s64 again = call(calls[k].nr, (u64)c, calls[k].a1, calls[k].a2, calls[k].a3);
				CHECK(again == calls[k].ok || again == calls[k].again);
				CHECK_INVARIANTS();
			}
			completed = test_host.failures == fails;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 2); /* failures were injected */
	}
}

/* ---- materialize against a reference ---- */

/* The reference: every mapped gfn of each ancestor looked up from the
 * root, then in the fork, then filled by p2m_fill() (which looks it up in
 * the ancestors again). Slow, and plainly what materializing means: the
 * loop p2m_materialize() was until it walked the tables instead. */
static int ref_materialize(struct hv_domain *d)
{
	const struct hv_domain *a = d;
	for (unsigned n = 0; d->lazy && a->parent != HV_NO_PARENT &&
			     n < HV_FORK_DEPTH; n++) {
		a = &hv.dom[a->parent];
		struct p2m_entry e;
		for (u64 g = 0; p2m_next(a, &g, a->p2m.max_gfn, &e) == 0; g++) {
			if (p2m_lookup(d, g, &e) == 0)
				continue;
			int rc = p2m_fill(d, g);
			if (rc)
				return rc;
		}
		if (!a->lazy)
			break;
	}
	d->lazy = false;
	return 0;
}

#define MAT_GFNS 0xa00
static const u64 mat_far[] = { 0x40000, 0x40400, 0x8000000, 0x8000200 };
static const u64 mat_far_n[] = { 3, 512, 1, 1024 };
static const unsigned mat_far_o[] = { 0, 9, 0, 9 };
#define MAT_FRAMES 8192
struct mat_snap {
	int rc;
	bool lazy;
	u64 nr_ram, nr_tables, in_use, host_used, failures, generation;
	struct p2m_entry e[MAT_GFNS];
	bool m[MAT_GFNS];
	struct hv_frame frames[MAT_FRAMES + 512];
	u64 far[4][1026];
	struct p2m_entry fe[4][1026];
};

/* A chain of lazy forks, touched in the ways that leave each one part of
 * its view: 4 KiB fills, whole 2 MiB fills, copies on write that split a
 * 2 MiB leaf. Returns the domain to materialize. */
static s64 mat_scenario(int which)
{
	s64 p = make_parent(1);
	if (p <= 0)
		return -1;
	/* far from the rest: filling these needs tables of their own */
	for (u32 i = 0; i < ARRAY_SIZE(mat_far); i++)
		if (call(HC_POPULATE, (u64)p, mat_far[i], mat_far_n[i], mat_far_o[i]))
			return -1;
	s64 l1 = call(HC_FORK, (u64)p, 1, 0, 0);
	if (l1 <= 0 || call(HC_DOMAIN_UNPAUSE, (u64)l1, 0, 0, 0))
		return -1;
	if (which == 0) {
		if (p2m_fill(dom(l1), 3) ||
		    ept_exit(l1, (LARGE_GFN + 7) << PAGE_SHIFT, EPTQ_R) != UXT_FATE_RESUME ||
		    !guest_store(l1, 9, 0x11))
			return -1;
	} else if (which == 1) {
		if (!guest_store(l1, LARGE_GFN + 0x20, 0x11)) /* l1: a PT in the large range */
			return -1;
	} /* which == 2: l1 touches nothing */
	if (call(HC_DOMAIN_PAUSE, (u64)l1, 0, 0, 0))
		return -1;
	s64 l2 = call(HC_FORK, (u64)l1, 1, 0, 0);
	if (l2 <= 0 || call(HC_DOMAIN_UNPAUSE, (u64)l2, 0, 0, 0))
		return -1;
	if (which == 0) {
		if (p2m_fill(dom(l2), 4) || !guest_store(l2, LARGE_GFN + 0x80, 0x22))
			return -1;
	} else if (which == 1) {
		/* a 4 KiB fill from l1's PT: l2 holds a PT with one leaf */
		if (ept_exit(l2, (LARGE_GFN + 0x21) << PAGE_SHIFT, EPTQ_R) != UXT_FATE_RESUME ||
		    !guest_store(l2, 17, 0x22))
			return -1;
	}
	if (which != 2)
		return l2;
	if (call(HC_DOMAIN_PAUSE, (u64)l2, 0, 0, 0))
		return -1;
	s64 l3 = call(HC_FORK, (u64)l2, 1, 0, 0);
	if (l3 <= 0 || call(HC_DOMAIN_UNPAUSE, (u64)l3, 0, 0, 0) ||
	    ept_exit(l3, 5 << PAGE_SHIFT, EPTQ_R) != UXT_FATE_RESUME)
		return -1;
	return l3;
}

static bool mat_run(int which, u64 n, bool ref, struct mat_snap *s)
{
	memset(s, 0, sizeof(*s));
	if (test_hv_up(MAT_FRAMES))
		return false;
	s64 d = mat_scenario(which);
	if (d <= 0 || call(HC_DOMAIN_PAUSE, (u64)d, 0, 0, 0))
		return false;
	if (!dom(d)->lazy)
		return false;
	u64 f0 = test_host.failures;
	test_host.fail_at = n ? test_host.allocs + n : 0;
	s->rc = ref ? ref_materialize(dom(d)) : p2m_materialize(dom(d));
	test_host.fail_at = 0;
	s->failures = test_host.failures - f0;
	s->lazy = dom(d)->lazy;
	s->nr_ram = dom(d)->nr_ram;
	s->nr_tables = dom(d)->p2m.nr_tables;
	s->in_use = hv_frames_in_use();
	s->host_used = test_host.used;
	s->generation = hv_generation();
	for (u64 g = 0; g < MAT_GFNS; g++)
		s->m[g] = p2m_lookup(dom(d), g, &s->e[g]) == 0;
	for (u32 i = 0; i < ARRAY_SIZE(mat_far); i++)
		for (u64 k = 0; k < mat_far_n[i] + 2; k++)
			s->far[i][k] = p2m_lookup(dom(d), mat_far[i] + k, &s->fe[i][k]) == 0 ?
					       s->fe[i][k].mfn : INVALID_MFN;
	if (hv.nr_frames > ARRAY_SIZE(s->frames))
		return false;
	memcpy(s->frames, hv.frames, hv.nr_frames * sizeof(*hv.frames));
	for (u64 i = 0; i < hv.nr_frames; i++)
		s->frames[i].check = 0;
	char msg[256];
	bool ok = hv_check_invariants(msg, sizeof(msg)) == 0;
	if (!ok)
		fprintf(stderr, "invariants (which %d n %llu ref %d): %s\n", which,
			(unsigned long long)n, ref, msg);
	/* and the domain still works: materialize again completes */
	if (s->rc && (ref ? ref_materialize(dom(d)) : p2m_materialize(dom(d))))
		ok = false;
	ok = ok && hv_check_invariants(msg, sizeof(msg)) == 0;
	return test_hv_down() == 0 && ok;
}

/* The walk leaves the very same state as the reference, from three
 * chains of lazy forks, with an allocation failing at each point in turn
 * (and the domain consistent, and able to materialize again, after). */
TEST(fork_materialize_matches_the_reference)
{
	static struct mat_snap a, b;
	for (int which = 0; which < 3; which++) {
		u64 n, injected = 0;
		for (n = 0; n < 400; n++) {
			CHECK(mat_run(which, n, false, &a));
			CHECK(mat_run(which, n, true, &b));
			CHECK_EQ(a.rc, b.rc);
			CHECK_EQ(a.failures, b.failures);
			CHECK_EQ(a.lazy, b.lazy);
			CHECK_EQ(a.nr_ram, b.nr_ram);
			CHECK_EQ(a.nr_tables, b.nr_tables);
			CHECK_EQ(a.in_use, b.in_use);
			CHECK_EQ(a.host_used, b.host_used);
			CHECK_EQ(a.generation, b.generation);
			for (u64 g = 0; g < MAT_GFNS; g++) {
				CHECK_EQ(a.m[g], b.m[g]);
				if (a.m[g])
					CHECK(!memcmp(&a.e[g], &b.e[g], sizeof(a.e[g])));
			}
			CHECK(!memcmp(a.frames, b.frames, sizeof(a.frames)));
			CHECK(!memcmp(a.far, b.far, sizeof(a.far)));
			CHECK(!memcmp(a.fe, b.fe, sizeof(a.fe)));
			injected += a.failures;
			if (n && !a.failures)
				break;
		}
		CHECK(injected > 1);
	}
}
