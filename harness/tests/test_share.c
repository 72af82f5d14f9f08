/* Page sharing beyond forks (hv/core/merge.c): the zero page, free and
 * zero hints from the host and the guest, the re-merge scanner, and a
 * failed allocation at every point they allocate. The invariant checker
 * runs after every operation (it refuses writable mappings of shared
 * frames, so merged pages are never writable). */
#include "testlib.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "sim.h"
#include "../../hv/core/core.h"

#define EPTQ_R 1
#define EPTQ_W 2
#define WORDS (PAGE_SIZE / 8)

static s64 call(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 a[4] = { a0, a1, a2, a3 };
	return hv_host_call(nr, a, NULL, 0);
}

static struct hv_domain *dom(s64 id)
{
	return &hv.dom[id];
}

static void pattern(u64 *w, u64 tag, u64 gfn)
{
	for (u32 i = 0; i < WORDS; i++)
		w[i] = tag << 48 ^ gfn << 20 ^ i * 0x9e3779b1ull;
}

static s64 load(s64 d, u64 gfn, const void *page)
{
	u64 a[4] = { (u64)d, gfn << PAGE_SHIFT, 0, 0 };
	return hv_host_call(HC_LOAD, a, page, PAGE_SIZE);
}

/* The (tag, key) pattern at gfn: the same key gives the same page at
 * different gfns and in different domains. */
static s64 load_pattern(s64 d, u64 gfn, u64 tag, u64 key)
{
	static u64 buf[WORDS];
	pattern(buf, tag, key);
	return load(d, gfn, buf);
}

static bool reads_pattern(s64 d, u64 gfn, u64 tag, u64 key)
{
	static u64 want[WORDS], got[WORDS];
	pattern(want, tag, key);
	if (guest_read(dom(d), gfn << PAGE_SHIFT, got, PAGE_SIZE))
		return false;
	return memcmp(want, got, PAGE_SIZE) == 0;
}

static bool reads_zero(s64 d, u64 gfn)
{
	static u64 got[WORDS];
	if (guest_read(dom(d), gfn << PAGE_SHIFT, got, PAGE_SIZE))
		return false;
	for (u32 i = 0; i < WORDS; i++)
		if (got[i])
			return false;
	return true;
}

static bool lookup(s64 d, u64 gfn, struct p2m_entry *e)
{
	return p2m_lookup(dom(d), gfn, e) == 0;
}

static u64 mfn_of(s64 d, u64 gfn)
{
	struct p2m_entry e;
	return lookup(d, gfn, &e) ? e.mfn : INVALID_MFN;
}

static unsigned ept_exit(s64 d, u64 gpa, u64 qual)
{
	struct hv_vcpu *v = &dom(d)->vcpu[0];
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_EPT_VIOLATION);
	sim_vmcs_set(VMCS_EXIT_QUALIFICATION, qual);
	sim_vmcs_set(VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	sim_vmcs_set(VMCS_IDT_VECTORING_INFO, 0);
	return hv_vcpu_exit(v);
}

/* The guest stores the (tag, key) pattern at gfn through a write fault. */
static bool guest_store(s64 d, u64 gfn, u64 tag, u64 key)
{
	static u64 buf[WORDS];
	if (ept_exit(d, gfn << PAGE_SHIFT, EPTQ_W) != UXT_FATE_RESUME)
		return false;
	pattern(buf, tag, key);
	return guest_write(dom(d), gfn << PAGE_SHIFT, buf, PAGE_SIZE) == 0;
}

static s64 vmcall(s64 d, u64 nr, u64 a0, u64 a1, u64 a2)
{
	struct hv_vcpu *v = &dom(d)->vcpu[0];
	v->gpr[RAX] = nr;
	v->gpr[RDI] = a0;
	v->gpr[RSI] = a1;
	v->gpr[RDX] = a2;
	v->gpr[R10] = 0;
	arch_vmcs_load(v);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_VMCALL);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, 3);
	if (hv_vcpu_exit(v) != UXT_FATE_RESUME)
		return 0x7fff;
	return (s64)v->gpr[RAX];
}

static struct hv_share_stats stats(void)
{
	struct hv_share_stats st;
	hv_share_stats(&st);
	return st;
}

/* A domain with 4 KiB pages at gfns 0-63 and a 2 MiB page at 0x200. */
static s64 make_domain(void)
{
	s64 d = call(HC_DOMAIN_CREATE, 1, 2048, 0, 0);
	if (d <= 0 || call(HC_POPULATE, (u64)d, 0, 64, 0) ||
	    call(HC_POPULATE, (u64)d, 0x200, 512, 9))
		return -1;
	return d;
}

/* ---- the zero page ---- */

TEST(share_populate_zero)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = call(HC_DOMAIN_CREATE, 1, 64, 0, 0);
	CHECK(d > 0);
	u64 used = hv_frames_in_use();
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0x10, 8, 0), 0);
	CHECK_INVARIANTS();
	/* One zero frame and the tables down to the PT. */
	CHECK_EQ(hv_frames_in_use(), used + 1 + 3);
	CHECK(hv.zero_mfn != INVALID_MFN);
	for (u64 g = 0x10; g < 0x18; g++) {
		struct p2m_entry e;
		CHECK(lookup(d, g, &e));
		CHECK_EQ(e.mfn, hv.zero_mfn);
		CHECK(!(e.perms & EPT_W) && (e.perms & EPT_R));
		CHECK(reads_zero(d, g));
	}
	CHECK_EQ(frame_get(hv.zero_mfn)->refs, 8);
	CHECK_EQ(dom(d)->nr_ram, 8);
	struct hv_share_stats st = stats();
	CHECK_EQ(st.shared_frames, 1);
	CHECK_EQ(st.shared_maps, 8);
	CHECK_EQ(st.saved_bytes, 7 * PAGE_SIZE);
	/* A write gets a zeroed private frame. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
	used = hv_frames_in_use();
	CHECK_EQ(ept_exit(d, 0x12 << PAGE_SHIFT, EPTQ_W | EPTQ_R), UXT_FATE_RESUME);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), used + 1);
	struct p2m_entry e;
	CHECK(lookup(d, 0x12, &e));
	CHECK(e.mfn != hv.zero_mfn && (e.perms & EPT_W));
	CHECK_EQ(frame_get(e.mfn)->type, FT_RAM);
	CHECK(reads_zero(d, 0x12));
	CHECK(guest_store(d, 0x13, 1, 1));
	CHECK(reads_pattern(d, 0x13, 1, 1) && reads_zero(d, 0x14));
	CHECK_EQ(frame_get(hv.zero_mfn)->refs, 6);
	CHECK_INVARIANTS();
	/* The host's writes too (only where the bytes change). */
	static u64 zero[WORDS];
	CHECK_EQ(load(d, 0x15, zero), 0);
	CHECK_EQ(mfn_of(d, 0x15), hv.zero_mfn);
	CHECK_EQ(load_pattern(d, 0x15, 2, 2), 0);
	CHECK(reads_pattern(d, 0x15, 2, 2));
	CHECK_INVARIANTS();
	/* Limits. */
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0x100, 57, 0), -HV_ENOSPC);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0x10, 1, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, HV_P2M_GFN_LIMIT - 1, 2, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, HV_P2M_GFN_LIMIT, 1, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0, HV_MAX_COUNT + 1, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)d, 0x30, 2, 0), 0);
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0x31, 1, 0), -HV_EEXIST);
	CHECK_INVARIANTS();
	/* The zero frame goes with its last mapping. */
	CHECK_EQ(call(HC_UNMAP, (u64)d, 0, 0x100, 0), 8);
	CHECK_INVARIANTS();
	CHECK_EQ(hv.zero_mfn, INVALID_MFN);
	CHECK_EQ(stats().shared_frames, 0);
}

/* A failed mapping leaves no zero frame without mappings behind. */
TEST(share_populate_zero_failure_keeps_no_orphan)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = call(HC_DOMAIN_CREATE, 1, 64, 0, 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0x10, 1, 0), 0);
	u64 used = hv_frames_in_use();
	CHECK_EQ(call(HC_POPULATE_ZERO, (u64)d, 0x10, 2, 0), -HV_EEXIST);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), used);
	CHECK_EQ(hv.zero_mfn, INVALID_MFN);
	struct hv_share_stats st = stats();
	CHECK_EQ(st.saved_bytes, 0);
}

/* ---- hints ---- */

TEST(share_hint_free_and_zero)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = make_domain();
	CHECK(d > 0);
	for (u64 g = 0; g < 8; g++)
		CHECK_EQ(load_pattern(d, g, 1, g), 0);
	CHECK_EQ(load_pattern(d, 0x280, 1, 0x280), 0);
	u64 used = hv_frames_in_use();
	/* free: the contents go, whatever they were */
	CHECK_EQ(call(HC_HINT, (u64)d, 2, 3, HV_HINT_FREE), 3);
	CHECK_INVARIANTS();
	CHECK(reads_zero(d, 2) && reads_zero(d, 3) && reads_zero(d, 4));
	CHECK(reads_pattern(d, 1, 1, 1) && reads_pattern(d, 5, 1, 5));
	CHECK_EQ(mfn_of(d, 3), hv.zero_mfn);
	CHECK_EQ(hv_frames_in_use(), used - 3 + 1); /* + the zero frame */
	/* again: nothing to do */
	CHECK_EQ(call(HC_HINT, (u64)d, 2, 3, HV_HINT_FREE), 0);
	/* zero: checked */
	used = hv_frames_in_use();
	CHECK_EQ(call(HC_HINT, (u64)d, 5, 1, HV_HINT_ZERO), 0);
	CHECK(reads_pattern(d, 5, 1, 5));
	CHECK_EQ(call(HC_HINT, (u64)d, 0, 16, HV_HINT_ZERO), 8); /* 8..15 */
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), used - 8);
	for (u64 g = 0; g < 8; g++)
		CHECK(g >= 2 && g <= 4 ? reads_zero(d, g) : reads_pattern(d, g, 1, g));
	/* in the 2 MiB page: split around the page */
	CHECK_EQ(call(HC_HINT, (u64)d, 0x27f, 3, HV_HINT_ZERO), 2);
	CHECK(reads_pattern(d, 0x280, 1, 0x280));
	CHECK_EQ(call(HC_HINT, (u64)d, 0x280, 1, HV_HINT_FREE), 1);
	CHECK(reads_zero(d, 0x280));
	CHECK_INVARIANTS();
	/* A write after a hint gets a zeroed frame, not the old contents. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
	CHECK_EQ(ept_exit(d, 3 << PAGE_SHIFT, EPTQ_W), UXT_FATE_RESUME);
	CHECK(mfn_of(d, 3) != hv.zero_mfn);
	CHECK(reads_zero(d, 3));
	CHECK(guest_store(d, 0x280, 3, 3));
	CHECK(reads_pattern(d, 0x280, 3, 3) && reads_zero(d, 0x281));
	CHECK_INVARIANTS();
}

TEST(share_hint_refuses_bad_arguments)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = make_domain();
	CHECK(d > 0);
	CHECK_EQ(load_pattern(d, 1, 1, 1), 0);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)d, 0x100, 2, 0), 0);
	u64 used = hv_frames_in_use();
	CHECK_EQ(call(HC_HINT, (u64)d, 0, 1, 2), -HV_EINVAL);
	CHECK_EQ(call(HC_HINT, (u64)d, 0, 1, ~0ull), -HV_EINVAL);
	CHECK_EQ(call(HC_HINT, (u64)d, 0, 1, 1ull << 32), -HV_EINVAL);
	CHECK_EQ(call(HC_HINT, (u64)d, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_HINT, (u64)d, 0, HV_MAX_COUNT + 1, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_HINT, (u64)d, HV_P2M_GFN_LIMIT, 1, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_HINT, (u64)d, HV_P2M_GFN_LIMIT - 1, 2, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_HINT, (u64)d, ~0ull, 1, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_HINT, 0, 0, 1, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_HINT, 33, 0, 1, 0), -HV_ESRCH);
	/* What it does not own: nothing happens. */
	CHECK_EQ(call(HC_HINT, (u64)d, 0x1000, HV_MAX_COUNT, 0), 0);
	CHECK_EQ(call(HC_HINT, (u64)d, 0x100, 2, 0), 0); /* MMIO */
	CHECK_EQ(call(HC_HINT, (u64)d, HV_P2M_GFN_LIMIT - 1, 1, 0), 0);
	CHECK_EQ(hv_frames_in_use(), used);
	CHECK(reads_pattern(d, 1, 1, 1));
	CHECK_INVARIANTS();
	/* Another domain's hints never reach d's memory. */
	s64 o = make_domain();
	CHECK(o > 0);
	CHECK_EQ(call(HC_HINT, (u64)o, 0, 0x400, HV_HINT_FREE), 64 + 512);
	CHECK(reads_pattern(d, 1, 1, 1));
	CHECK_INVARIANTS();
}

TEST(share_guest_hint)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = make_domain();
	s64 o = make_domain();
	CHECK(d > 0 && o > 0);
	for (u64 g = 0; g < 4; g++) {
		CHECK_EQ(load_pattern(d, g, 1, g), 0);
		CHECK_EQ(load_pattern(o, g, 2, g), 0);
	}
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 1, 2, HV_HINT_FREE), 2);
	CHECK_INVARIANTS();
	CHECK(reads_zero(d, 1) && reads_zero(d, 2) && reads_pattern(d, 3, 1, 3));
	CHECK(reads_pattern(o, 1, 2, 1) && reads_pattern(o, 2, 2, 2));
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0, 1, HV_HINT_ZERO), 0);
	CHECK(reads_pattern(d, 0, 1, 0));
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 4, 60, HV_HINT_ZERO), 60);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0, 1, 2), -HV_EINVAL);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, HV_P2M_GFN_LIMIT, 1, 0), -HV_ERANGE);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, HV_P2M_GFN_LIMIT - 4, 8, 0), -HV_ERANGE);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0, 1, 0) , 1);
	/* unowned gfns: nothing */
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0x10000, 1000, 0), 0);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 0, 1, 0) , 0);
	CHECK_INVARIANTS();
	/* Host-only calls and user mode are refused. */
	CHECK_EQ(vmcall(d, HC_HINT, (u64)o, 0, 1), -HV_EPERM);
	arch_vmcs_load(&dom(d)->vcpu[0]);
	u64 ss = sim_vmcs_get(VMCS_GUEST_SS_AR);
	sim_vmcs_set(VMCS_GUEST_SS_AR, ss | 3 << 5);
	CHECK_EQ(vmcall(d, HC_GUEST_HINT, 3, 1, 0), -HV_EPERM);
	arch_vmcs_load(&dom(d)->vcpu[0]);
	sim_vmcs_set(VMCS_GUEST_SS_AR, ss);
	CHECK(reads_pattern(d, 3, 1, 3) && reads_pattern(o, 0, 2, 0));
	CHECK_INVARIANTS();
}

/* A page the host made read-only stays so after a hint or a merge: the
 * zero page behind it is not copy-on-write. */
TEST(share_read_only_pages_stay_read_only)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = make_domain();
	s64 o = make_domain();
	CHECK(d > 0 && o > 0);
	CHECK_EQ(load_pattern(d, 5, 1, 5), 0);
	CHECK_EQ(load_pattern(o, 6, 1, 5), 0);
	CHECK_EQ(call(HC_SET_PERMS, (u64)d, 3, 3, EPT_R), 0);
	CHECK_EQ(call(HC_HINT, (u64)d, 3, 1, HV_HINT_FREE), 1);
	CHECK(call(HC_MERGE, 4096, 0, 0, 0) > 0);
	CHECK_INVARIANTS();
	CHECK_EQ(mfn_of(d, 3), hv.zero_mfn);
	CHECK_EQ(mfn_of(d, 4), hv.zero_mfn);
	CHECK_EQ(mfn_of(d, 5), mfn_of(o, 6));
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)o, 0, 0, 0), 0);
	for (u64 g = 3; g < 6; g++) {
		static u64 w;
		CHECK_EQ(guest_write(dom(d), g << PAGE_SHIFT, &w, 8), -HV_EFAULT);
		CHECK_EQ(load_pattern(d, g, 7, 7), -HV_EFAULT);
	}
	CHECK(guest_store(o, 6, 2, 2)); /* o's stays writable */
	CHECK(reads_pattern(d, 5, 1, 5));
	CHECK_EQ(ept_exit(d, 5 << PAGE_SHIFT, EPTQ_W), UXT_FATE_CRASHED);
	CHECK_EQ(dom(d)->crash_reason, CRASH_UNOWNED_MEMORY);
	CHECK_INVARIANTS();
	/* Write back allowed by the host: copy-on-write again. */
	CHECK_EQ(call(HC_SET_PERMS, (u64)d, 3, 3, EPT_RWX), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(mfn_of(d, 3), hv.zero_mfn);
	CHECK_EQ(load_pattern(d, 3, 7, 7), 0);
	CHECK(reads_pattern(d, 3, 7, 7) && reads_zero(d, 4));
	CHECK_INVARIANTS();
}

/* ---- the re-merge scanner ---- */

TEST(share_merge_identical_pages)
{
	CHECK(test_hv_up(4096) == 0);
	s64 a = make_domain();
	s64 b = make_domain();
	CHECK(a > 0 && b > 0);
	/* The same pages at different gfns, plus pages of their own. */
	for (u64 k = 0; k < 6; k++) {
		CHECK_EQ(load_pattern(a, 10 + k, 7, k), 0);
		CHECK_EQ(load_pattern(b, 40 - k, 7, k), 0);
		CHECK_EQ(load_pattern(a, 20 + k, 8, k), 0);
		CHECK_EQ(load_pattern(b, 20 + k, 9, k), 0);
	}
	CHECK_EQ(load_pattern(a, 0x2a0, 7, 100), 0); /* in the 2 MiB pages */
	CHECK_EQ(load_pattern(b, 0x301, 7, 100), 0);
	CHECK_EQ(load_pattern(b, 50, 7, 100), 0);    /* three copies */
	CHECK_INVARIANTS();
	u64 used = hv_frames_in_use();
	/* pages in all: 2 * (64 + 512); data pages: 12 + 12 + 3 */
	u64 pages = 2 * (64 + 512), data = 27, zero = pages - data;
	s64 merged = call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0);
	CHECK_INVARIANTS();
	struct hv_share_stats st = stats();
	CHECK_EQ(st.merged, 6 + 2);
	CHECK_EQ(st.zeroed, zero);
	CHECK_EQ(merged, 6 + 2 + zero);
	CHECK(st.visited >= pages && st.scanned == pages);
	CHECK_EQ(st.shared_frames, 6 + 1 + 1); /* the zero frame too */
	CHECK_EQ(st.shared_maps, 12 + 3 + zero);
	CHECK_EQ(st.saved_bytes, (6 + 2 + zero - 1) * PAGE_SIZE);
	/* + the scanner's 2 MiB, + the zero frame, + 2 split 2 MiB pages */
	CHECK_EQ(hv_frames_in_use(), used - (6 + 2 + zero) + 512 + 1 + 2);
	/* Contents intact, frames shared. */
	for (u64 k = 0; k < 6; k++) {
		CHECK(reads_pattern(a, 10 + k, 7, k) && reads_pattern(b, 40 - k, 7, k));
		CHECK(reads_pattern(a, 20 + k, 8, k) && reads_pattern(b, 20 + k, 9, k));
		CHECK_EQ(mfn_of(a, 10 + k), mfn_of(b, 40 - k));
		CHECK(mfn_of(a, 20 + k) != mfn_of(b, 20 + k));
		struct p2m_entry e;
		CHECK(lookup(a, 10 + k, &e) && !(e.perms & EPT_W));
	}
	CHECK(reads_pattern(a, 0x2a0, 7, 100) && reads_pattern(b, 0x301, 7, 100));
	CHECK_EQ(mfn_of(a, 0x2a0), mfn_of(b, 50));
	CHECK_EQ(mfn_of(b, 0x301), mfn_of(b, 50));
	CHECK(reads_zero(a, 0) && reads_zero(b, 0x3ff));
	/* A write by either goes to its own copy. */
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	u64 shared = mfn_of(a, 10);
	CHECK(guest_store(a, 10, 1, 1));
	CHECK(reads_pattern(a, 10, 1, 1) && reads_pattern(b, 40, 7, 0));
	CHECK_INVARIANTS();
	/* The last mapping of a merged frame takes it back, no copy. */
	used = hv_frames_in_use();
	CHECK_EQ(ept_exit(b, 40 << PAGE_SHIFT, EPTQ_W), UXT_FATE_RESUME);
	CHECK_EQ(hv_frames_in_use(), used);
	CHECK_EQ(mfn_of(b, 40), shared);
	CHECK_EQ(frame_get(shared)->type, FT_RAM);
	CHECK_EQ(frame_get(shared)->owner, b);
	CHECK(guest_store(b, 40, 2, 2));
	CHECK(reads_pattern(b, 40, 2, 2) && reads_pattern(a, 10, 1, 1));
	CHECK(guest_store(b, 39, 2, 3));
	CHECK(reads_pattern(a, 11, 7, 1));
	CHECK_INVARIANTS();
	/* Scanning again finds nothing new. */
	CHECK_EQ(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	/* Destroying one keeps the other's pages. */
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)b, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK(reads_pattern(a, 11, 7, 1) && reads_pattern(a, 0x2a0, 7, 100));
	CHECK(reads_zero(a, 30));
}

/* Pages that differ never merge, even when their hashes are equal. */
static u64 hash_step(u64 h, u64 w) /* merge.c's page_hash, one word */
{
	h ^= w;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return h;
}

static u64 hash_page(const u64 *w)
{
	u64 h = 0x9e3779b97f4a7c15ull;
	for (u32 i = 0; i < WORDS; i++)
		h = hash_step(h, w[i]);
	return h;
}

TEST(share_merge_never_merges_different_pages)
{
	CHECK(test_hv_up(4096) == 0);
	s64 a = make_domain();
	s64 b = make_domain();
	CHECK(a > 0 && b > 0);
	/* Two pages that differ in words 0 and 1 only, with the same hash:
	 * after word 1 the hash states agree, and so do all the rest. */
	static u64 p1[WORDS], p2[WORDS];
	pattern(p1, 5, 5);
	memcpy(p2, p1, PAGE_SIZE);
	p2[0] ^= 0x1234;
	u64 h1 = hash_step(0x9e3779b97f4a7c15ull, p1[0]);
	u64 h2 = hash_step(0x9e3779b97f4a7c15ull, p2[0]);
	p2[1] = h1 ^ p1[1] ^ h2;
	CHECK(memcmp(p1, p2, PAGE_SIZE) != 0);
	CHECK_EQ(hash_page(p1), hash_page(p2));
	CHECK_EQ(load(a, 3, p1), 0);
	CHECK_EQ(load(b, 4, p2), 0);
	/* And pages one bit apart, one byte apart, the last word apart. */
	static u64 q[WORDS];
	for (u32 k = 0; k < 3; k++) {
		pattern(q, 6, 6 + k);
		CHECK_EQ(load(a, 5 + k, q), 0);
		if (k == 0)
			q[100] ^= 1;
		else if (k == 1)
			((u8 *)q)[4095] ^= 0x80;
		else
			q[WORDS - 1]++;
		CHECK_EQ(load(b, 5 + k, q), 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		CHECK(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 0);
		CHECK_INVARIANTS();
	}
	CHECK_EQ(stats().merged, 0);
	CHECK(mfn_of(a, 3) != mfn_of(b, 4));
	static u64 got[WORDS];
	CHECK_EQ(guest_read(dom(a), 3 << PAGE_SHIFT, got, PAGE_SIZE), 0);
	CHECK(memcmp(got, p1, PAGE_SIZE) == 0);
	CHECK_EQ(guest_read(dom(b), 4 << PAGE_SHIFT, got, PAGE_SIZE), 0);
	CHECK(memcmp(got, p2, PAGE_SIZE) == 0);
	for (u32 k = 0; k < 3; k++)
		CHECK(mfn_of(a, 5 + k) != mfn_of(b, 5 + k));
	for (u32 k = 0; k < 3; k++)
		CHECK(reads_pattern(a, 5 + k, 6, 6 + k));
}

/* Every merged page held exactly what its owner had: contents are kept
 * per gfn across a merge of many lookalike pages. */
TEST(share_merge_keeps_every_page)
{
	CHECK(test_hv_up(8192) == 0);
	s64 d[4];
	for (int i = 0; i < 4; i++) {
		d[i] = make_domain();
		CHECK(d[i] > 0);
	}
	/* Keys from a small set: many equal pages, many different. */
	u64 seed = 12345;
	static u64 key[4][576];
	for (int i = 0; i < 4; i++)
		for (u64 g = 0; g < 576; g++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			key[i][g] = (seed >> 33) % 40;
			u64 gfn = g < 64 ? g : 0x200 + g - 64;
			if (key[i][g])
				CHECK_EQ(load_pattern(d[i], gfn, 3, key[i][g]), 0);
		}
	u64 total = 0;
	for (int n = 0; n < 50; n++) {
		s64 r = call(HC_MERGE, 97, 0, 0, 0);
		CHECK(r >= 0 && r <= 97);
		total += (u64)r;
		CHECK_INVARIANTS();
	}
	CHECK(total > 4 * 576 - 40 - 10);
	for (int i = 0; i < 4; i++)
		for (u64 g = 0; g < 576; g++) {
			u64 gfn = g < 64 ? g : 0x200 + g - 64;
			CHECK(key[i][g] ? reads_pattern(d[i], gfn, 3, key[i][g])
					: reads_zero(d[i], gfn));
		}
	/* One frame per key (and the zero frame). */
	CHECK_EQ(stats().shared_frames, 40);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)d[i], 0, 0, 0), 0);
	CHECK_INVARIANTS();
	CHECK_EQ(stats().shared_frames, 0);
}

TEST(share_merge_budget)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = call(HC_DOMAIN_CREATE, 1, 512, 0, 0);
	CHECK(d > 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 300, 0), 0); /* all zero */
	CHECK_EQ(call(HC_MERGE, 0, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_MERGE, HV_MAX_COUNT + 1, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_MERGE, 1ull << 63, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_MERGE, 1, 1, 0, 0), -HV_EINVAL);
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_MERGE, 1, 0, 0, 0), 1);
	CHECK_EQ(stats().visited, 1);
	CHECK_EQ(call(HC_MERGE, 100, 0, 0, 0), 100);
	CHECK_EQ(stats().visited, 101);
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_MERGE, 100, 0, 0, 0), 100);
	CHECK_EQ(call(HC_MERGE, 100, 0, 0, 0), 99); /* the last, then a wrap */
	CHECK_INVARIANTS();
	struct hv_share_stats st = stats();
	CHECK_EQ(st.zeroed, 300);
	CHECK_EQ(st.visited, 301);
	CHECK(st.passes >= 1);
	CHECK_EQ(st.shared_frames, 1);
	CHECK_EQ(st.shared_maps, 300);
	CHECK_EQ(call(HC_MERGE, 1000, 0, 0, 0), 0);
	CHECK(stats().visited >= 301 + 300 && stats().visited <= 1301);
	/* No pages at all: a call still returns. */
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0), 0);
	CHECK_EQ(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0), 0);
	CHECK_INVARIANTS();
}

/* Merging in forks: children that wrote the same pages share them again;
 * a reset still goes back to the template. */
TEST(share_merge_forks)
{
	CHECK(test_hv_up(4096) == 0);
	s64 p = make_domain();
	CHECK(p > 0);
	for (u64 g = 0; g < 8; g++)
		CHECK_EQ(load_pattern(p, g, 1, g), 0);
	s64 a = call(HC_FORK, (u64)p, 0, 0, 0);
	s64 b = call(HC_FORK, (u64)p, 1, 0, 0);
	CHECK(a > 0 && b > 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	for (u64 g = 0; g < 4; g++) {
		CHECK(guest_store(a, g, 2, g));
		CHECK(guest_store(b, g, 2, g));
	}
	CHECK(guest_store(a, 0x250, 2, 0x250));
	CHECK(guest_store(b, 0x250, 2, 0x250));
	u64 used = hv_frames_in_use();
	CHECK(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 5);
	CHECK_INVARIANTS();
	CHECK_EQ(hv_frames_in_use(), used - 5 + 512);
	for (u64 g = 0; g < 4; g++) {
		CHECK(reads_pattern(a, g, 2, g) && reads_pattern(b, g, 2, g));
		CHECK(reads_pattern(p, g, 1, g));
		CHECK_EQ(mfn_of(a, g), mfn_of(b, g));
	}
	CHECK(reads_pattern(a, 5, 1, 5) && reads_pattern(b, 5, 1, 5));
	/* a writes again: b keeps the merged page. */
	CHECK(guest_store(a, 1, 3, 1));
	CHECK(reads_pattern(b, 1, 2, 1) && reads_pattern(p, 1, 1, 1));
	CHECK_INVARIANTS();
	/* Resets go back to the template. */
	CHECK_EQ(call(HC_RESET, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_RESET, (u64)b, 0, 0, 0), 0);
	CHECK_INVARIANTS();
	for (u64 g = 0; g < 8; g++)
		CHECK(reads_pattern(a, g, 1, g) && reads_pattern(b, g, 1, g));
	CHECK(reads_zero(a, 0x250) && reads_zero(b, 0x250));
	/* The template itself is never changed by a merge. */
	CHECK(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 0);
	CHECK_INVARIANTS();
	for (u64 g = 0; g < 8; g++)
		CHECK(reads_pattern(p, g, 1, g));
}

/* ---- failed allocations ---- */

static bool merge_setup(s64 *a, s64 *b)
{
	*a = make_domain();
	*b = make_domain();
	if (*a <= 0 || *b <= 0)
		return false;
	for (u64 k = 0; k < 4; k++)
		if (load_pattern(*a, 10 + k, 7, k) || load_pattern(*b, 20 + k, 7, k) ||
		    load_pattern(*a, 0x280 + k, 8, k) || load_pattern(*b, 0x300 + k, 8, k))
			return false;
	return true;
}

static bool merge_intact(s64 a, s64 b)
{
	for (u64 k = 0; k < 4; k++)
		if (!reads_pattern(a, 10 + k, 7, k) || !reads_pattern(b, 20 + k, 7, k) ||
		    !reads_pattern(a, 0x280 + k, 8, k) || !reads_pattern(b, 0x300 + k, 8, k))
			return false;
	return reads_zero(a, 0) && reads_zero(b, 0x3ff) && reads_zero(a, 0x2ff);
}

TEST(share_fault_injection_merge)
{
	bool completed = false;
	u64 n;
	for (n = 1; n < 100 && !completed; n++) {
		CHECK(test_hv_up(4096) == 0);
		s64 a, b;
		CHECK(merge_setup(&a, &b));
		test_host.fail_at = test_host.allocs + n;
		s64 r = call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0);
		CHECK(r >= 0 || r == -HV_ENOMEM);
		CHECK_INVARIANTS();
		CHECK(merge_intact(a, b));
		/* It goes on where it stopped. */
		r = call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0);
		CHECK(r >= 0);
		CHECK_INVARIANTS();
		CHECK(merge_intact(a, b));
		CHECK_EQ(mfn_of(a, 10), mfn_of(b, 20));
		CHECK_EQ(mfn_of(a, 0x283), mfn_of(b, 0x303));
		completed = test_host.failures == 0;
		CHECK(test_hv_down() == 0);
	}
	CHECK(completed);
	CHECK(n > 3);
}

TEST(share_fault_injection_hint_and_populate_zero)
{
	for (int op = 0; op < 3; op++) {
		bool completed = false;
		u64 n;
		for (n = 1; n < 100 && !completed; n++) {
			CHECK(test_hv_up(4096) == 0);
			s64 d = make_domain();
			CHECK(d > 0);
			CHECK_EQ(load_pattern(d, 0x281, 1, 1), 0);
			u64 used = hv_frames_in_use();
			test_host.fail_at = test_host.allocs + n;
			s64 r;
			if (op == 0) {
				r = call(HC_HINT, (u64)d, 0x27e, 4, HV_HINT_FREE);
				CHECK(r == 4 || r == -HV_ENOMEM);
			} else if (op == 1) {
				r = call(HC_HINT, (u64)d, 0x27e, 4, HV_HINT_ZERO);
				CHECK(r == 3 || r == -HV_ENOMEM);
				CHECK(reads_pattern(d, 0x281, 1, 1));
			} else {
				r = call(HC_POPULATE_ZERO, (u64)d, 0x80000, 16, 0);
				CHECK(r == 0 || r == -HV_ENOMEM);
				if (r)
					CHECK_EQ(hv_frames_in_use(), used);
			}
			CHECK_INVARIANTS();
			CHECK(reads_zero(d, 0x27e) && reads_zero(d, 0x282));
			if (r < 0 && op == 0)
				CHECK(reads_pattern(d, 0x281, 1, 1) || reads_zero(d, 0x281));
			/* Writes after it work. */
			CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
			u64 g = op == 2 ? 0x80003 : 0x27f;
			if (mfn_of(d, g) != INVALID_MFN) {
				test_host.fail_at = 0;
				CHECK(guest_store(d, g, 9, 9));
				CHECK(reads_pattern(d, g, 9, 9));
				CHECK_INVARIANTS();
			}
			completed = test_host.failures == 0;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 2);
	}
}

/* A write to the zero page with each allocation failing. */
TEST(share_fault_injection_zero_page_write)
{
	bool completed = false;
	u64 n;
	for (n = 1; n < 100 && !completed; n++) {
		CHECK(test_hv_up(4096) == 0);
		s64 d = make_domain();
		CHECK(d > 0);
		CHECK_EQ(call(HC_HINT, (u64)d, 0x2a0, 2, HV_HINT_FREE), 2);
		CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0), 0);
		test_host.fail_at = test_host.allocs + n;
		unsigned fate = ept_exit(d, 0x2a0 << PAGE_SHIFT, EPTQ_W);
		CHECK_INVARIANTS();
		if (fate == UXT_FATE_CRASHED)
			CHECK_EQ(dom(d)->crash_reason, CRASH_NO_MEMORY);
		else
			CHECK(mfn_of(d, 0x2a0) != hv.zero_mfn);
		CHECK(reads_zero(d, 0x2a0) && reads_zero(d, 0x2a1));
		completed = test_host.failures == 0;
		CHECK(test_hv_down() == 0);
	}
	CHECK(completed);
	CHECK(n > 2);
}

/* The scanner remembers a page as the copy later pages may merge into.
 * When that page has gone (unmapped, remapped to another frame, or its
 * domain destroyed) before a later pass finds its twin, the twin must not
 * be merged into whatever the stale slot points at now. */
TEST(share_merge_forgets_a_stale_candidate)
{
	for (int how = 0; how < 3; how++) {
		CHECK(test_hv_up(8192) == 0);
		s64 a = make_domain();
		CHECK(a > 0);
		CHECK_EQ(load_pattern(a, 5, 0x51, 5), 0);
		CHECK(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 0); /* remembers a's gfn 5 */
		if (how == 0) {
			CHECK_EQ(call(HC_UNMAP, (u64)a, 5, 1, 0), 1);
		} else if (how == 1) { /* the gfn again, another frame, other bytes */
			CHECK_EQ(call(HC_UNMAP, (u64)a, 5, 1, 0), 1);
			CHECK_EQ(call(HC_POPULATE, (u64)a, 5, 1, 0), 0);
			CHECK_EQ(load_pattern(a, 5, 0x52, 5), 0);
		} else {
			CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)a, 0, 0, 0), 0);
		}
		CHECK_INVARIANTS();
		s64 b = make_domain();
		CHECK(b > 0);
		CHECK_EQ(load_pattern(b, 7, 0x51, 5), 0);
		u64 before = mfn_of(b, 7);
		CHECK(call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 0);
		CHECK_INVARIANTS();
		CHECK_EQ(mfn_of(b, 7), before); /* not merged into the stale slot */
		CHECK_EQ(frame_get(before)->type, FT_RAM);
		CHECK(reads_pattern(b, 7, 0x51, 5));
		if (how == 1)
			CHECK(reads_pattern(a, 5, 0x52, 5));
		CHECK(test_hv_down() == 0);
	}
}

/* ---- failed allocations ---- */

/* MERGE and HINT with each allocation failing in turn (the scanner's own
 * memory, the zero frame, splitting 2 MiB leaves around the pages they
 * share): -HV_ENOMEM or success, every page still reads what was written,
 * the state consistent, and the same call without the failure finishes
 * the job; nothing leaks. */
TEST(share_fault_injection_merge_and_hint)
{
	for (int op = 0; op < 2; op++) {
		bool completed = false;
		u64 n;
		for (n = 1; n < 200 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 a = make_domain(), b = make_domain();
			CHECK(a > 0 && b > 0);
			/* twins in 4 KiB and in 2 MiB mappings, and a unique page */
			CHECK_EQ(load_pattern(a, 3, 0x61, 1), 0);
			CHECK_EQ(load_pattern(b, 0x240, 0x61, 1), 0);
			CHECK_EQ(load_pattern(a, 0x250, 0x62, 2), 0);
			CHECK_EQ(load_pattern(b, 0x251, 0x62, 2), 0);
			CHECK_EQ(load_pattern(b, 9, 0x63, 3), 0);
			u64 fails = test_host.failures;
			test_host.fail_at = test_host.allocs + n;
			s64 rc = op == 0 ? call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0)
					 : call(HC_HINT, (u64)a, 0x240, 0x20, HV_HINT_ZERO);
			CHECK(rc >= 0 || rc == -HV_ENOMEM);
			CHECK_INVARIANTS();
			test_host.fail_at = 0;
			CHECK(reads_pattern(a, 3, 0x61, 1) && reads_pattern(b, 0x240, 0x61, 1));
			CHECK(reads_pattern(a, 0x250, 0x62, 2) && reads_pattern(b, 0x251, 0x62, 2));
			CHECK(reads_pattern(b, 9, 0x63, 3) && reads_zero(a, 0x241) && reads_zero(b, 0));
			if (rc == -HV_ENOMEM) {
				CHECK(op == 0 ? call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0) >= 0
					      : call(HC_HINT, (u64)a, 0x240, 0x20, HV_HINT_ZERO) >= 0);
				CHECK_INVARIANTS();
				CHECK(reads_pattern(a, 0x250, 0x62, 2) && reads_zero(a, 0x241));
			}
			completed = test_host.failures == fails;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 2); /* failures were injected */
	}
}

/* Sharing a page inside a whole 2 MiB leaf splits the leaf: the
 * remembered copy's (made read-only) or the twin's (remapped). With each
 * allocation failing in turn, the merge stops with -HV_ENOMEM and both
 * pages keep their contents, the leaves consistent. The leaves hold only
 * distinct pages, so that nothing else (a zero page) splits them first. */
static s64 whole_leaf_domain(u64 tag)
{
	s64 d = call(HC_DOMAIN_CREATE, 1, 1024, 0, 0);
	if (d <= 0 || call(HC_POPULATE, (u64)d, 0x200, 512, 9))
		return -1;
	for (u64 g = 0x200; g < 0x400; g++)
		if (load_pattern(d, g, tag, g))
			return -1;
	return d;
}

TEST(share_fault_injection_split_on_merge)
{
	for (int twin_in_leaf = 0; twin_in_leaf < 2; twin_in_leaf++) {
		bool completed = false;
		u64 n;
		for (n = 1; n < 50 && !completed; n++) {
			CHECK(test_hv_up(8192) == 0);
			s64 a = whole_leaf_domain(0x71), b;
			CHECK(a > 0);
			if (twin_in_leaf) { /* b's twin of a's 0x200 in b's own whole leaf */
				b = whole_leaf_domain(0x72);
				CHECK(b > 0);
				CHECK_EQ(load_pattern(b, 0x300, 0x71, 0x200), 0);
			} else { /* a 4 KiB twin: a's leaf splits */
				b = call(HC_DOMAIN_CREATE, 1, 64, 0, 0);
				CHECK(b > 0);
				CHECK_EQ(call(HC_POPULATE, (u64)b, 0, 1, 0), 0);
				CHECK_EQ(load_pattern(b, 0, 0x71, 0x200), 0);
			}
			u64 fails = test_host.failures;
			test_host.fail_at = test_host.allocs + n;
			s64 rc = call(HC_MERGE, HV_MAX_COUNT, 0, 0, 0);
			CHECK(rc >= 0 || rc == -HV_ENOMEM);
			CHECK_INVARIANTS();
			test_host.fail_at = 0;
			u64 bg = twin_in_leaf ? 0x300 : 0;
			CHECK(reads_pattern(a, 0x200, 0x71, 0x200) && reads_pattern(b, bg, 0x71, 0x200));
			CHECK(reads_pattern(a, 0x3ff, 0x71, 0x3ff));
			if (rc >= 0)
				CHECK_EQ(mfn_of(a, 0x200), mfn_of(b, bg));
			completed = test_host.failures == fails;
			CHECK(test_hv_down() == 0);
		}
		CHECK(completed);
		CHECK(n > 2);
	}
}
