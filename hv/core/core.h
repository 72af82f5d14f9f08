/* Internal state and helpers shared by the core's files. */
#ifndef HV_CORE_H
#define HV_CORE_H

#include "hv/types.h"
#include "hv/host.h"
#include "hv/hv.h"
#include "hv/exits.h"
#include "hv/fmt.h" /* fmt.c: hv_snprintf, hv_vsnprintf */
#include "uxt.h"
#include "hv/arch.h"
#include "hv/regs.h"

#define HV_MAX_VCPUS 8
#define HV_MAX_MMIO 8
#define HV_MAX_COUNT (1u << 20)   /* frames per populate/unmap call */
#define HV_MAX_LEN (1u << 20)     /* bytes per load/console call */
#define HV_P2M_GFN_LIMIT (1ull << 36) /* 48-bit guest-physical space */
#define HV_HOST_DOMID 0           /* the de-privileged host's container */


/* Frame table. */
/* FT_SHARED: guest RAM mapped read-only by one or more domains (after a
 * fork, a merge, or the zero page); owned by nobody, alive while mapped.
 * FT_LOG: a domain's dirty log (the gfns it made private since its fork). */
enum frame_type { FT_FREE, FT_HV, FT_P2M, FT_RAM, FT_VMCS, FT_SHARED, FT_LOG };
#define OWNER_NONE 0xffff
#define OWNER_HV 0xfffe
#define OWNER_SHARED 0xfffd
struct hv_frame {
	u16 owner; /* domid, OWNER_HV or OWNER_NONE */
	u8 type;   /* enum frame_type */
	u8 flags;
	u32 refs;  /* p2m leaf mappings of this frame */
	u32 check; /* scratch for the invariant checker */
	u32 used;  /* a p2m table: bit i set if any of its entries 16i .. 16i+15
		    * may be in use (every entry in use is covered), so that
		    * walks skip the empty parts without reading them */
};

/* EPT entry bits (SDM 28.3.2). */
#define EPT_R BIT(0)
#define EPT_W BIT(1)
#define EPT_X BIT(2)
#define EPT_RWX (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT 3
#define EPT_MT_MASK (7ull << EPT_MT_SHIFT)
#define EPT_IPAT BIT(6)
#define EPT_LARGE BIT(7)
#define EPT_ADDR_MASK 0x000ffffffffff000ull
#define EPT_TYPE_SHIFT 52 /* software bits 52-55: p2m type */
#define EPT_TYPE_MASK (0xfull << EPT_TYPE_SHIFT)
#define EPT_MT_UC 0
#define EPT_MT_WB 6

/* EPT entry fields and the rules for a well-formed leaf, shared by the p2m
 * (which builds entries) and the invariant checker (which audits them). */
static inline u64 ept_mfn(u64 e) { return (e & EPT_ADDR_MASK) >> PAGE_SHIFT; }
static inline u8 ept_type(u64 e) { return (u8)((e & EPT_TYPE_MASK) >> EPT_TYPE_SHIFT); }
static inline u8 ept_memtype(u64 e) { return (u8)((e & EPT_MT_MASK) >> EPT_MT_SHIFT); }
/* Software bit 11 of a leaf (ignored by the CPU, SDM table 28-6): the
 * guest may write here, but the frame is shared, so the EPT maps it
 * read-only and a write gets a private copy (fork.c, cow_break). Only on
 * read-only leaves of shared frames. A mapping without it that is not
 * writable stays so: sharing never widens the rights the host gave. */
#define EPT_COW BIT(11)
#define EPT_PERMS (EPT_RWX | EPT_COW) /* what struct p2m_entry.perms holds */
/* Write without read is an EPT misconfiguration (SDM 28.3.3.1); COW is a
 * write to come: readable, not writable yet. */
static inline bool ept_perms_valid(u32 perms)
{
	if ((perms & ~EPT_PERMS) || ((perms & EPT_W) && !(perms & EPT_R)))
		return false;
	return !(perms & EPT_COW) || ((perms & EPT_R) && !(perms & EPT_W));
}
/* The rights of a mapping whose frame becomes shared: write turns into
 * copy-on-write. */
static inline u32 ept_share_perms(u32 perms)
{
	return perms & EPT_W ? (perms & ~(u32)EPT_W) | EPT_COW : perms;
}
/* UC, WC, WT, WP, WB; 2, 3 and 7 are reserved (misconfiguration). */
static inline bool ept_memtype_valid(u8 mt)
{
	return mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6;
}

enum p2m_type { P2M_NONE, P2M_RAM, P2M_MMIO };

struct p2m {
	u64 root_mfn;     /* PML4 table */
	u64 nr_tables;    /* frames used for tables, root included */
	u64 max_gfn;      /* exclusive */
};

struct p2m_entry {    /* result of a lookup */
	u64 mfn;      /* of the 4 KiB frame holding gfn */
	u32 perms;    /* EPT_R/W/X and EPT_COW */
	u8 type;      /* enum p2m_type */
	u8 order;     /* 0 or 9 */
	u8 memtype;
};

/* DOM_ZOMBIE: destroyed by the host while forks still read its p2m; it
 * has no vCPUs and goes when its last child does. */
enum domain_state { DOM_FREE, DOM_RUNNING, DOM_PAUSED, DOM_CRASHED,
		    DOM_SHUTDOWN, DOM_DYING, DOM_ZOMBIE };

#define HV_NO_PARENT 0xffff
#define HV_LOG_FRAMES 64            /* dirty-log frames per domain */
#define HV_LOG_PER_FRAME (PAGE_SIZE / 8)
#define HV_FORK_DEPTH 16            /* forks of forks of ... */

/* Pending I/O emulation, completed by HC_IOREQ_COMPLETE. */
struct pending_io {
	struct uxt_ioreq req;
	u8 insn_len;    /* RIP advance on completion */
	u8 dest_reg;    /* MMIO read: destination GPR */
	u8 ext;         /* MMIO read: 0 plain, 1 zero-extend, 2 sign-extend */
	u8 dest_size;   /* MMIO read: destination operand size */
	u8 addr_size;   /* string I/O: address size in bytes */
};

struct hv_vcpu {
	struct hv_domain *dom;
	u16 id;
	bool io_pending;
	bool blocked;
	u64 gpr[NR_GPRS];
	u64 vmcs_mfn;
	void *vmcs_va;
	u64 msr[MSR_NR_SLOTS];
	u64 xcr0;
	u64 cr8;
	u32 pending_irq;  /* vector + 1, or 0 */
	struct pending_io io;
};

struct mmio_range { u64 gfn, count; };

struct hv_domain {
	u16 id;
	u64 serial;        /* creation number: tells a re-created id apart */
	u8 state;          /* enum domain_state */
	u32 crash_reason;  /* enum crash_reason */
	u64 shutdown_code;
	u32 nr_vcpus;
	u64 max_frames;    /* RAM frames the host allows */
	u64 nr_ram;        /* RAM frames mapped */
	struct p2m p2m;
	u32 nr_mmio;
	struct mmio_range mmio[HV_MAX_MMIO];
	u32 con_len;
	char con[128];     /* console line being assembled */
	/* vmfork (fork.c) */
	u16 parent;        /* forked from, or HV_NO_PARENT */
	u16 children;      /* live forks of this domain */
	bool is_template;  /* has been forked: frozen, never runs again */
	bool lazy;         /* fills its p2m from its ancestors on first touch */
	bool fork_lazy;    /* lazy when forked (a reset of the whole p2m) */
	u32 depth;         /* forks between this domain and its root */
	u64 nr_dirty;      /* gfns made private since the fork (the log) */
	bool log_full;     /* more than the log holds: reset walks the p2m */
	bool resetting;    /* undoing the log: changes are not logged */
	u64 log[HV_LOG_FRAMES]; /* mfns of FT_LOG frames */
	struct hv_vcpu vcpu[HV_MAX_VCPUS];
};

struct hv_rec {
	u8 *buf;
	u32 len, cap;
	bool on, inputs, overflow;
	u64 vmcs_seen[(VMCS_NR_FIELDS + 63) / 64];
	u32 gpr_seen;
};

struct hv_state {
	const struct hv_host_ops *ops;
	void *ctx;
	bool direct;               /* frames at direct_base + (mfn << PAGE_SHIFT) */
	u64 direct_base;
	u64 first_mfn, nr_frames;
	struct hv_frame *frames;   /* nr_frames entries */
	u64 *held;                 /* a bit per frame: not free (after them) */
	u64 frame_table_mfn;       /* first frame of the frame table */
	u64 frame_table_frames;
	u64 in_use;                /* frames held by the core */
	u64 generation;            /* see hv_generation() */
	u64 domains_created;       /* numbers hv_domain.serial */
	/* A bit per slot of dom[] in use, zombies too: not DOM_FREE (domain.c
	 * keeps it). The checker after every event, and the kept core after
	 * every fuzz input, visit the few domains there are rather than all
	 * 64 (a page each). The full check holds it against every slot. */
	u64 slots;
	struct hv_domain dom[HV_MAX_DOMAINS];
	struct hv_rec rec;
	u64 zero_mfn;              /* the shared zero frame, or INVALID_MFN */
	struct merge_state *merge; /* the re-merge scanner's state (merge.c) */
	bool started;
	bool check_dirty;          /* frames' .check scratch not all zero */
};

extern struct hv_state hv;
/* The host table the core calls from now on, with its direct map if it
 * has one (hv.c): hv_start()'s, then the VMX backend's own once the host
 * OS is de-privileged (depriv.c), and back if that fails. */
void hv_host_set(const struct hv_host_ops *ops, void *ctx);
_Static_assert(HV_MAX_DOMAINS <= 64, "hv.slots holds a bit per domain slot");
/* The first domain slot in use at or after id, or HV_MAX_DOMAINS. */
static inline u32 slot_next_used(u32 id)
{
	u64 rest = id < HV_MAX_DOMAINS ? hv.slots >> id << id : 0;
	return rest ? (u32)__builtin_ctzll(rest) : HV_MAX_DOMAINS;
}
/* id over the domain slots in use (hv.slots), in order. */
#define for_each_slot(id)                                                      \
	for (u32 id = slot_next_used(0); id < HV_MAX_DOMAINS; id = slot_next_used(id + 1))

/* lib.c: freestanding helpers. */
void *hv_memset(void *d, int c, size_t n);
void *hv_memcpy(void *d, const void *s, size_t n);
int hv_memcmp(const void *a, const void *b, size_t n);
size_t hv_strlen(const char *s);
void hv_log(enum hv_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hv_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#define HV_ASSERT(c)                                                           \
	do {                                                                   \
		if (unlikely(!(c)))                                            \
			hv_panic("assertion failed: %s at %s:%d", #c, __FILE__, \
				 __LINE__);                                    \
	} while (0)

/* frame.c: the frame table and frame allocation. */
int frame_table_init(u64 first_mfn, u64 nr_frames);
void frame_table_fini(void);
static inline struct hv_frame *frame_get(u64 mfn) /* NULL if outside */
{
	if (mfn < hv.first_mfn || mfn - hv.first_mfn >= hv.nr_frames)
		return NULL;
	return &hv.frames[mfn - hv.first_mfn];
}
u64 frame_alloc(unsigned order, u16 owner, u8 type); /* INVALID_MFN on failure */
void frame_free(u64 mfn); /* one frame back to the host */
/* Inline, always: called for every table and page the core touches, and a
 * call of their own would count as code of its own (a coverage edge hit
 * thousands of times per fuzz input, whatever the input). Plain inline was
 * not enough: the sanitized fuzz builds kept them out of line. */
static inline __attribute__((always_inline)) void *frame_map(u64 mfn)
{
	if (likely(hv.direct))
		return (void *)(uintptr_t)(hv.direct_base + (mfn << PAGE_SHIFT));
	return hv.ops->map_frame(hv.ctx, mfn);
}

static inline __attribute__((always_inline)) void frame_unmap(void *va)
{
	if (!hv.direct)
		hv.ops->unmap_frame(hv.ctx, va);
}

/* p2m.c: the guest-physical map, kept directly in EPT format. */
int p2m_init(struct hv_domain *d);
void p2m_destroy(struct hv_domain *d); /* unmaps everything, frees tables */
void p2m_clear(struct hv_domain *d);   /* unmaps everything but the root */
int p2m_map(struct hv_domain *d, u64 gfn, u64 mfn, unsigned order, u32 perms,
	    u8 type, u8 memtype);
int p2m_unmap(struct hv_domain *d, u64 gfn, unsigned order);
int p2m_set_perms(struct hv_domain *d, u64 gfn, u32 perms);
int p2m_split(struct hv_domain *d, u64 gfn);
int p2m_lookup(const struct hv_domain *d, u64 gfn, struct p2m_entry *e);
u64 p2m_eptp(const struct hv_domain *d);
/* p2m_walk()'s callback (the invariant checker, the domain image, a lazy
 * fork's materialize): one call per entry in use. */
typedef int (*p2m_visit_fn)(void *arg, unsigned level, u64 gfn, u64 entry,
			    u64 table_mfn);
int p2m_walk(const struct hv_domain *d, p2m_visit_fn fn, void *arg);

/* vcpu.c */
int vcpu_init(struct hv_domain *d, unsigned id);
/* A fork's vCPU back to what vcpu_init() gave it, in its own VMCS frame,
 * as far as the copy from its parent (fork_vcpus_copy()) does not cover:
 * a fresh VMCS with the vCPU's identity fields, no pending I/O. For a
 * reset, which copies next. Returns 0 or -HV_E*. */
int vcpu_clear(struct hv_vcpu *v);
void vcpu_fini(struct hv_vcpu *v);

/* domain.c */
struct hv_domain *domain_get(u32 domid);
s64 domain_create(u32 nr_vcpus, u64 max_frames);
int domain_destroy(struct hv_domain *d);
void domain_crash(struct hv_domain *d, u32 reason);
int domain_populate(struct hv_domain *d, u64 gfn, u64 count, unsigned order);
s64 domain_unmap(struct hv_domain *d, u64 gfn, u64 count);
int domain_add_mmio(struct hv_domain *d, u64 gfn, u64 count);
bool domain_is_mmio(const struct hv_domain *d, u64 gfn);

/* guestmem.c: guest memory access through the p2m (recorded). */
int guest_read(struct hv_domain *d, u64 gpa, void *buf, u32 len);
int guest_write(struct hv_domain *d, u64 gpa, const void *buf, u32 len);
int guest_update(struct hv_domain *d, u64 gpa, const void *buf, u32 len);
/* Translate a guest linear address with the guest's paging (recorded
 * reads of its page tables). Returns 0 and sets *gpa, or -HV_EFAULT. */
int guest_linear_to_phys(struct hv_vcpu *v, u64 gla, bool write, u64 *gpa);

/* VMCS and register access for handlers, recorded when recording
 * (record.c). Inline: a handler makes a dozen of these per exit. */
void rec_vmcs(u8 tag, u32 enc, u64 val);
void rec_u64(u8 tag, u8 aux, u64 val);
void rec_vmcs_read(u32 enc, u64 val);
void rec_vmcs_written(u32 enc, u64 val);
void rec_reg_read(struct hv_vcpu *v, unsigned r);

static inline u64 vmr(u32 enc)
{
	u64 val = arch_vmread(enc);
	if (unlikely(hv.rec.inputs))
		rec_vmcs_read(enc, val);
	return val;
}

static inline void vmw(u32 enc, u64 val)
{
	arch_vmwrite(enc, val);
	/* One test on the path of every write when nothing records (vmw is
	 * inlined at each of its many call sites). */
	if (unlikely(hv.rec.on | hv.rec.inputs))
		rec_vmcs_written(enc, val);
}

/* GPRs live in the register file, except RSP, which is in the VMCS. */
static inline u64 reg_get(struct hv_vcpu *v, unsigned r)
{
	HV_ASSERT(r < NR_GPRS);
	if (r == RSP)
		return vmr(VMCS_GUEST_RSP);
	if (unlikely(hv.rec.inputs))
		rec_reg_read(v, r);
	return v->gpr[r];
}

static inline void reg_set(struct hv_vcpu *v, unsigned r, u64 val)
{
	HV_ASSERT(r < NR_GPRS);
	if (r == RSP) {
		vmw(VMCS_GUEST_RSP, val);
		return;
	}
	v->gpr[r] = val;
	hv.rec.gpr_seen |= (u32)BIT(r);
	if (hv.rec.on)
		rec_u64(UXT_IT_REG_OUT, (u8)r, val);
}
u64 reg_get_edx_eax(struct hv_vcpu *v);
void advance_rip(struct hv_vcpu *v);
void inject_exception(struct hv_vcpu *v, u8 vector, bool has_err, u32 err);
#define inject_gp(v) inject_exception((v), 13, true, 0)
#define inject_ud(v) inject_exception((v), 6, false, 0)

/* record.c: append trace items while recording. */
void rec_item(u8 tag, u8 aux, const void *a, u32 alen, const void *b, u32 blen);
void rec_fate(unsigned fate, u32 reason, u64 arg);
void rec_exit_start(void);
u32 cpuid_input(u32 leaf, u32 sub, u32 out[4]); /* arch_cpuid + record */
u64 tsc_input(void);                            /* arch_rdtsc + record */

/* p2m_share.c: the p2m side of vmfork and sharing. */
void p2m_share_all(struct hv_domain *d);
int p2m_clone(struct hv_domain *c, const struct hv_domain *p);
int p2m_fill(struct hv_domain *d, u64 gfn);
int p2m_ancestor_lookup(const struct hv_domain *d, u64 gfn, struct p2m_entry *e);
int p2m_replace(struct hv_domain *d, u64 gfn, u64 mfn, u32 perms);
int p2m_next(const struct hv_domain *d, u64 *gfn, u64 end, struct p2m_entry *e);
int p2m_materialize(struct hv_domain *d);

/* merge.c: the zero frame, hints, the re-merge scanner. */
#define HV_HINT_FREE 0 /* contents may be discarded */
#define HV_HINT_ZERO 1 /* contents are zero (checked) */
u64 zero_frame(void);
s64 share_hint(struct hv_domain *d, u64 gfn, u64 count, u64 kind);
int populate_zero(struct hv_domain *d, u64 gfn, u64 count);
s64 merge_scan(u64 budget);
void merge_fini(void);

/* fork.c */
s64 domain_fork(struct hv_domain *p, bool lazy);
int domain_reset(struct hv_domain *c);
int cow_break(struct hv_domain *d, u64 gfn);
int share_fault(struct hv_domain *d, u64 gfn, bool write);
void fork_log(struct hv_domain *d, u64 gfn);
void fork_log_entry(struct hv_domain *d, u64 entry);
void fork_log_free(struct hv_domain *d);
/* fork.c: c's vCPUs take p's state. */
void fork_vcpus_copy(struct hv_domain *c, struct hv_domain *p);

/* hypercall.c */
s64 hypercall(struct hv_domain *caller, bool from_guest, u32 nr,
	      const u64 args[4], const void *data, u32 len, unsigned *fate);

/* invariants.c */
int check_invariants(char *msg, u32 msglen, bool full);
int check_free_frames(char *msg, u32 msglen);

#endif
