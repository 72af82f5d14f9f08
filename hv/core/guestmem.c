/* Guest memory as the hypervisor sees it: reads and writes through the
 * domain's p2m (recorded, so replay can reproduce them), and translation of
 * guest linear addresses through the guest's own page tables. */
#include "core.h"
#include "handlers.h" /* the CR0, CR4 and EFER bits */

/* The mapping of the guest RAM page at gpa: a lazy fork reads what it
 * has not filled yet through its ancestors (as its first touch would). */
static int guest_entry(struct hv_domain *d, u64 gpa, struct p2m_entry *e)
{
	u64 gfn = gpa >> PAGE_SHIFT;
	if (gfn >= d->p2m.max_gfn ||
	    (p2m_lookup(d, gfn, e) && (!d->lazy || p2m_ancestor_lookup(d, gfn, e))) ||
	    e->type != P2M_RAM)
		return -HV_EFAULT;
	return 0;
}

/* The frame behind gpa if the domain may access it that way. */
static int guest_frame(struct hv_domain *d, u64 gpa, bool write, u64 *mfn)
{
	struct p2m_entry e;
	if (guest_entry(d, gpa, &e) || !(e.perms & (write ? EPT_W : EPT_R)))
		return -HV_EFAULT;
	*mfn = e.mfn;
	return 0;
}

/* Copy between buf and guest memory, one page at a time. Only RAM the
 * domain owns is reachable; a write needs a writable mapping. A copy that
 * crosses pages is checked whole first, so it never half happens. */
static int guest_copy(struct hv_domain *d, u64 gpa, u8 *buf, u32 len, bool write)
{
	u64 mfn;
	if (len == 0)
		return 0;
	u64 last = gpa + len - 1;
	if (last < gpa)
		return -HV_EFAULT;
	for (u64 p = (gpa & PAGE_MASK) + PAGE_SIZE; p <= last && p > gpa; p += PAGE_SIZE)
		if (guest_frame(d, p, write, &mfn))
			return -HV_EFAULT;
	while (len) {
		u32 off = (u32)(gpa & (PAGE_SIZE - 1));
		u32 n = (u32)PAGE_SIZE - off < len ? (u32)PAGE_SIZE - off : len;
		if (guest_frame(d, gpa, write, &mfn))
			return -HV_EFAULT;
		u8 *va = frame_map(mfn);
		if (write)
			hv_memcpy(va + off, buf, n);
		else
			hv_memcpy(buf, va + off, n);
		frame_unmap(va);
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int guest_read(struct hv_domain *d, u64 gpa, void *buf, u32 len)
{
	int rc = guest_copy(d, gpa, buf, len, false);
	if (rc == 0 && unlikely(hv.rec.inputs)) {
		u8 a[8];
		uxt_put64(a, gpa);
		rec_item(UXT_IT_MEM_IN, 0, a, 8, buf, len);
	}
	return rc;
}

/* Writes on the guest's behalf break copy-on-write sharing like the
 * guest's own writes would. */
static int unshare_range(struct hv_domain *d, u64 gpa, u32 len)
{
	for (u64 p = gpa & PAGE_MASK; len && p <= gpa + len - 1; p += PAGE_SIZE) {
		int rc = share_fault(d, p >> PAGE_SHIFT, true);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int guest_write(struct hv_domain *d, u64 gpa, const void *buf, u32 len)
{
	if (len && gpa + len - 1 < gpa)
		return -HV_EFAULT;
	int rc = unshare_range(d, gpa, len);
	if (rc == 0)
		rc = guest_copy(d, gpa, (u8 *)buf, len, true);
	if (rc == 0 && hv.rec.on) {
		u8 a[8];
		uxt_put64(a, gpa);
		rec_item(UXT_IT_MEM_OUT, 0, a, 8, buf, len);
	}
	return rc;
}

/* Write only the pages whose bytes differ (host loads): a page that
 * already holds them stays as it is, shared or not. */
int guest_update(struct hv_domain *d, u64 gpa, const void *buf, u32 len)
{
	const u8 *src = buf;
	u64 mfn = 0;
	if (len && gpa + len - 1 < gpa)
		return -HV_EFAULT;
	/* Checked whole, never half loaded: every page readable, and
	 * writable or copy-on-write. */
	for (u64 p = gpa & PAGE_MASK; len && p <= gpa + len - 1; p += PAGE_SIZE) {
		struct p2m_entry e;
		if (guest_entry(d, p, &e) || !(e.perms & EPT_R) ||
		    !(e.perms & (EPT_W | EPT_COW)))
			return -HV_EFAULT;
	}
	while (len) {
		u32 off = (u32)(gpa & (PAGE_SIZE - 1));
		u32 n = (u32)PAGE_SIZE - off < len ? (u32)PAGE_SIZE - off : len;
		guest_frame(d, gpa, false, &mfn);
		const u8 *va = frame_map(mfn);
		bool same = hv_memcmp(va + off, src, n) == 0;
		frame_unmap((void *)va);
		int rc = same ? 0 : guest_write(d, gpa, src, n);
		if (rc)
			return rc;
		gpa += n;
		src += n;
		len -= n;
	}
	return 0;
}

#define PTE_P BIT(0)
#define PTE_W BIT(1)
#define PTE_U BIT(2)
#define PTE_PS BIT(7)

/* Paging-structure shapes (SDM 4.3-4.5). */
struct walk_mode {
	unsigned levels, entry_size, idx_bits;
	u64 addr_mask;
};

static const struct walk_mode mode_32 = { 2, 4, 10, 0xfffff000ull };
static const struct walk_mode mode_pae = { 3, 8, 9, 0x000ffffffffff000ull };
static const struct walk_mode mode_long = { 4, 8, 9, 0x000ffffffffff000ull };

static bool canonical(u64 a)
{
	return (u64)((s64)(a << 16) >> 16) == a;
}

int guest_linear_to_phys(struct hv_vcpu *v, u64 gla, bool write, u64 *gpa)
{
	u64 cr0 = vmr(VMCS_GUEST_CR0);
	if (!(cr0 & CR0_PG)) {
		*gpa = gla & 0xffffffffull;
		return 0;
	}
	u64 cr4 = vmr(VMCS_GUEST_CR4), efer = vmr(VMCS_GUEST_IA32_EFER);
	const struct walk_mode *m = !(cr4 & CR4_PAE) ? &mode_32
				    : (efer & EFER_LMA) ? &mode_long : &mode_pae;
	/* 5-level paging is not supported. LA57 selects it only in IA-32e
	 * mode; 32-bit and PAE paging ignore the bit (SDM vol. 3A, 4.1.1). */
	if (m == &mode_long && (cr4 & CR4_LA57))
		return -HV_EFAULT;
	if (m == &mode_long ? !canonical(gla) : gla >> 32)
		return -HV_EFAULT;
	u64 cr3 = vmr(VMCS_GUEST_CR3);
	u64 table = m == &mode_pae ? cr3 & 0xffffffe0ull : cr3 & m->addr_mask;
	unsigned shift = PAGE_SHIFT + m->idx_bits * (m->levels - 1);
	if (m == &mode_pae)
		shift = 30; /* the PDPT has 4 entries indexed by bits 31:30 */
	/* A write faults if any entry on the way is read-only: for user code
	 * (CPL 3) always, for the kernel only with CR0.WP. User code faults
	 * on any access if any entry is supervisor-only (SDM vol. 3A, 4.6.1);
	 * the emulation must not read or write kernel memory for it. PAE's
	 * PDPTEs have neither bit. A large page's entry is its last. */
	bool user = ((vmr(VMCS_GUEST_SS_AR) >> 5) & 3) == 3;
	bool ro_faults = write && ((cr0 & CR0_WP) || user);
	bool writable = true, user_ok = true;
	for (unsigned level = m->levels; level >= 1; level--) {
		u64 idx = (gla >> shift) & ((1ull << m->idx_bits) - 1);
		u64 pte = 0;
		if (m == &mode_pae && level == 3)
			idx = (gla >> 30) & 3;
		if (guest_read(v->dom, table + idx * m->entry_size, &pte,
			       m->entry_size))
			return -HV_EFAULT;
		if (!(pte & PTE_P))
			return -HV_EFAULT;
		if (!(m == &mode_pae && level == 3)) {
			writable = writable && (pte & PTE_W);
			user_ok = user_ok && (pte & PTE_U);
		}
		bool large = level > 1 && (pte & PTE_PS) &&
			     (level == 2 || m == &mode_long) &&
			     (m != &mode_32 || (cr4 & CR4_PSE));
		if (large || level == 1) {
			if ((ro_faults && !writable) || (user && !user_ok))
				return -HV_EFAULT;
			u64 page_mask = (1ull << shift) - 1;
			u64 base = pte & m->addr_mask & ~page_mask;
			if (m == &mode_32 && large) /* PSE-36: bits 20:13 are 39:32 */
				base = (pte & 0xffc00000ull) | ((pte >> 13) & 0xff) << 32;
			*gpa = base | (gla & page_mask);
			return 0;
		}
		table = pte & m->addr_mask;
		shift -= m->idx_bits;
	}
	return -HV_EFAULT;
}
