/* The de-privileged host (depriv.c, depriv_entry.S) and its VMCALL ABI (image.c). */
#ifndef VMX_DEPRIV_H
#define VMX_DEPRIV_H

#include "hv/types.h"
#include "vmx.h"

struct hv_depriv_stats;

/* Per CPU; the exit stub relies on gprs being first. */
struct pcpu {
	u64 gprs[16];     /* the host's GPRs at its last exit (RSP: VMCS) */
	u32 index;
	bool on;          /* this CPU's host runs de-privileged */
	u64 exits;
};
extern struct pcpu pcpu[HV_MAX_CPUS];

struct depriv_stats {
	u64 cpus, host_exits, ept_blocked, bad_calls, bad_exits, last_blocked_gpa;
};
extern struct depriv_stats dstats;

/* image.c: where the image lies and what was donated with it. */
u64 hv_image_base(void);
u64 hv_image_donated(void);
/* image.c: a VMCALL of the de-privileged host (RAX, RDI, RSI, RDX, RCX). */
s64 depriv_vmcall(u64 op, u64 a0, u64 a1, u64 a2, u64 a3);

/* depriv.c */
bool depriv_active(void);
bool host_range_ok(u64 pa, u64 len);
void *host_ptr(u64 pa);
/* The host container's invariants (its EPT, the free pool zeroed). */
int host_ept_audit(char *msg, u32 len);
u32 depriv_log_read(char *out, u32 cap);
void depriv_stats_fill(struct hv_depriv_stats *s);
/* depriv_entry.S: the API entry; returns 0 in non-root mode. */
int vmx_depriv_entry(void);

#endif
