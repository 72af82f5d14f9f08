/* The core's public entry points: what a host platform (or the replay tool,
 * or a fuzzer) calls. Everything else in hv/core is internal. */
#ifndef HV_HV_H
#define HV_HV_H

#include "hv/types.h"
#include "hv/host.h"

struct hv_domain;
struct hv_vcpu;

/* Domain ids are 0 .. HV_MAX_DOMAINS - 1 (0: the de-privileged host). */
#define HV_MAX_DOMAINS 64

/* Start the hypervisor. Frames handed out by ops->alloc_frames() must lie
 * in [first_mfn, first_mfn + nr_frames): the core keeps a frame table for
 * exactly that range. Returns 0 or a negative HV_E* code. */
int hv_start(const struct hv_host_ops *ops, void *ctx, u64 first_mfn,
	     u64 nr_frames);
/* Destroy every domain and give back every frame. Returns the number of
 * frames that were still held afterwards (0 unless the core leaked). */
u64 hv_stop(void);
/* Forget all state without touching any frame: after a panic, when the
 * host is about to reclaim all donated memory itself. */
void hv_abandon(void);

/* The host's hypercall entry point (see tables/hypercalls.def). data is
 * the payload of LOAD and VCPU_SET_STATE. Returns >= 0 or -HV_E*. */
s64 hv_host_call(u32 nr, const u64 args[4], const void *data, u32 len);

/* A VM exit happened on v (its VMCS current, registers saved): handle it.
 * Returns what the vCPU does next (enum uxt_fate). */
unsigned hv_vcpu_exit(struct hv_vcpu *v);

/* Lookups for host platforms and tools; NULL if absent. */
struct hv_domain *hv_domain_get(u32 domid);
struct hv_vcpu *hv_vcpu_get(struct hv_domain *d, u32 vcpu);
/* The creation number of a live domain (0: none), unique for the core's
 * lifetime: an id that was freed and handed out again gets a new one. */
u64 hv_domain_serial(u32 domid);
/* Domain domid's state as bytes: its record in the core (less its creation
 * number) and every frame it holds (VMCS, dirty log, p2m tables, the RAM
 * of its own that it maps) with its frame-table record, in that order.
 * Two images compare equal exactly when the domain is in the same state in
 * the same frames. (A frame it owns but no longer reaches is a leak: the
 * invariant checker's business, not the image's.) Returns the length, or 0 if
 * there is no such domain or it does not fit in cap bytes. */
size_t hv_domain_image(u32 domid, void *buf, size_t cap);
/* Would hv_domain_image() give exactly these len bytes? Compared in place,
 * stopping at the first difference: no copy made. */
bool hv_domain_same(u32 domid, const void *image, size_t len);
/* What a domain is, for tools that keep domains across runs: a template
 * (frozen: nothing but FORK and DESTROY reaches it) and/or a fork (HC_RESET
 * takes it back to its template's state); 0 if no such domain. */
#define HV_DOM_TEMPLATE 1u
#define HV_DOM_FORK 2u
unsigned hv_domain_flags(u32 domid);
/* hv_domain_serial() of every domain id at once (for a tool that compares
 * the set of domains after each run). */
void hv_domain_serials(u64 out[HV_MAX_DOMAINS]);
/* Can this vCPU take a VM exit now (domain running, no pending I/O)? */
bool hv_vcpu_runnable(const struct hv_vcpu *v);
u16 hv_vcpu_domid(const struct hv_vcpu *v);
/* The register file the arch exit stub saves the guest's general-purpose
 * registers into (16 entries, x86 encoding order; RSP lives in the VMCS). */
u64 *hv_vcpu_gprs(struct hv_vcpu *v);

/* Check every invariant (EPT well formed, frame ownership and reference
 * counts, no leaks). Returns 0, or -1 with a description in msg. */
int hv_check_invariants(char *msg, u32 msglen);
/* The same, except that the frames the core does not hold are taken to be
 * free without looking: O(frames held), for a check after every event,
 * with a full check at the end of the run. */
int hv_check_invariants_fast(char *msg, u32 msglen);
/* What the fast check leaves out: the frames the core does not hold are
 * free. After a fast check passed on the same state (hv_generation() has
 * not moved), this makes it a full check, without going over the frames
 * held again. */
int hv_check_free_frames(char *msg, u32 msglen);

/* A counter that moves whenever something the invariant checker audits
 * may have changed: a frame allocated or freed, a p2m entry or reference
 * changed, a domain made a template (fork). Tools
 * that check after every event skip the check when it has not moved: an
 * unchanged state cannot have broken an invariant. */
u64 hv_generation(void);

/* Frames the core holds now (for leak checks and statistics). */
u64 hv_frames_in_use(void);

/* Page sharing statistics (vmfork, zero page, re-merging). */
struct hv_share_stats {
	u64 frames_in_use;  /* all frames the core holds */
	u64 shared_frames;  /* read-only frames mapped by one or more domains */
	u64 shared_maps;    /* mappings of those frames */
	u64 saved_bytes;    /* (shared_maps - shared_frames) pages */
	u64 visited;        /* pages the scanner looked at */
	u64 scanned;        /* private pages it hashed */
	u64 merged;         /* pages merged into another domain's copy */
	u64 zeroed;         /* pages found zero and mapped to the zero frame */
	u64 passes;         /* complete passes over all domains */
	u64 scan_ns;        /* host time spent scanning */
};
void hv_share_stats(struct hv_share_stats *out);
/* Forget the re-merge scanner's state (its candidate table and where it
 * stopped), giving its frames back: a later MERGE starts afresh. */
void hv_share_reset(void);

/* Recording: while active, every exit appends trace items (uxt.h) to buf:
 * the inputs the handlers read (if inputs is set) and the outputs they
 * produced. hv_rec_end() returns the bytes written, or -1 on overflow. */
void hv_rec_begin(u8 *buf, u32 cap, bool inputs);
long hv_rec_end(void);
/* Reorder recorded items into the trace's order (inputs, then outputs)
 * into out (as large as rec); returns the length. */
u32 hv_rec_inputs_first(const u8 *rec, u32 len, u8 *out);
/* A host call as trace items (DATA, STATUS) and its recorded arg count. */
u32 hv_rec_hostcall_items(u8 *out, u32 cap, const void *data, u32 len, s64 rc);
u8 hv_rec_hostcall_nargs(const u64 args[4]);

#endif
