/* The hypervisor image: one self-contained, position-independent binary
 * with a single entry point, as a host OS driver late-loads it. The host
 * copies the file to the start of the memory it donates, zeroes the rest
 * up to mem_size, and calls entry_off with a struct hv_boot. The image
 * relocates itself, checks the CPU, enters VMX operation and fills in
 * struct hv_api, the calls the host makes from then on. */
#ifndef HV_IMAGE_H
#define HV_IMAGE_H

#include "hv/types.h"
#include "hv/host.h"
#include "hv/hv.h" /* struct hv_share_stats */
#include "uxt.h"

#define HV_IMAGE_MAGIC "uXenHVI" /* 8 bytes with the NUL */
#define HV_IMAGE_VERSION 3 /* 2: struct hv_host_ops gained log_wanted; 3: direct_map */
#define HV_IMAGE_HDR_SIZE 64

/* The first 64 bytes of the file (filled by the linker script; the
 * checksum by scripts/mkhvimage.py). */
struct hv_image_hdr {
	char magic[8];
	u32 version, hdr_size;
	u64 file_size;   /* bytes in the file */
	u64 mem_size;    /* bytes it occupies once loaded (file + bss) */
	u64 entry_off;   /* offset of hv_image_entry() */
	u32 checksum;    /* FNV-1a over file bytes [hdr_size, file_size) */
	u32 reserved;
	u64 pad[2];
};
_Static_assert(sizeof(struct hv_image_hdr) == HV_IMAGE_HDR_SIZE, "header size");

static inline u32 hv_image_checksum(const u8 *p, u64 n)
{
	u32 h = 2166136261u;
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* Test switches a host may pass to exercise refusal paths the emulated
 * CPU cannot present. */
#define HV_TEST_FC_LOCKED_OFF BIT(0) /* IA32_FEATURE_CONTROL locked, VMX off */
#define HV_TEST_NO_UG BIT(1)         /* no unrestricted guest */
#define HV_TEST_NO_EPT BIT(2)        /* no EPT */

struct hv_run;

/* The hypervisor's calls, for the host. */
struct hv_api {
	u32 version;
	/* Hypercalls of the host (hypercalls.def); recorded when tracing. */
	s64 (*host_call)(u32 nr, const u64 args[4], const void *data, u32 len);
	/* Run a vCPU until an exit needs the host; 0 or -HV_E*. */
	int (*run_vcpu)(u32 domid, u32 vcpu, struct hv_run *out);
	/* Record every exit and host call as trace events (traces/FORMAT.md)
	 * into buf; trace_end returns the bytes written (-1: overflow). */
	void (*trace_begin)(u8 *buf, u32 cap);
	long (*trace_end)(u32 *events);
	/* Check the core's invariants: 0, or -1 and a message. */
	int (*check)(char *msg, u32 len);
	/* Destroy everything, leave VMX operation; frames still held (0). */
	u64 (*unload)(void);
	/* Exits handled so far, by basic reason (65 entries). */
	const u64 *exits_by_reason;
	u32 vmcs_revision;
	/* De-privilege the calling CPU (call it on every CPU, the BSP
	 * first): it returns 0 in VMX non-root mode, inside the host
	 * container, or -HV_E* if it could not (the CPU stays as it was).
	 * From the first success on, the functions above must not be called
	 * any more (their code is no longer mapped for the host): the host
	 * uses VMCALL with the HVOP_* ABI below. */
	int (*deprivilege)(void);
	/* Page-sharing statistics (hv/include/hv/hv.h). */
	void (*share_stats)(struct hv_share_stats *out);
};

/* The de-privileged host's ABI: VMCALL with RAX = HVOP_MAGIC | op and the
 * arguments in RDI, RSI, RDX, RCX; the result comes back in RAX (>= 0 or
 * -HV_E*). Addresses are guest-physical addresses of the host container
 * (its physical memory: the container's EPT is the identity) and must lie
 * in memory the host still owns, outside the memory it donated. */
#define HVOP_MAGIC 0x7558000000000000ull
enum hv_op {
	HVOP_HOST_CALL = 1,   /* nr, args_pa (u64[4]), data_pa, len */
	HVOP_RUN_VCPU = 2,    /* domid, vcpu, run_pa (struct hv_run) */
	HVOP_TRACE_BEGIN = 3, /* buf_pa, cap */
	HVOP_TRACE_END = 4,   /* events_pa (u32) -> bytes or -1 */
	HVOP_CHECK = 5,       /* msg_pa, len -> 0 or -1 (and the message) */
	HVOP_EXITS = 6,       /* out_pa (u64[EXIT_REASON_MAX + 1]) */
	HVOP_LOG_READ = 7,    /* buf_pa, cap -> bytes of log text */
	HVOP_STOP = 8,        /* destroy every domain: frames still held */
	HVOP_STATS = 9,       /* out_pa (struct hv_depriv_stats) */
	HVOP_SHARE_STATS = 10, /* out_pa (struct hv_share_stats) */
};

struct hv_depriv_stats {
	u64 cpus;            /* CPUs in the host container */
	u64 host_exits;      /* exits of the host container, all CPUs */
	u64 ept_blocked;     /* host accesses to protected memory blocked */
	u64 bad_calls;       /* VMCALLs refused for bad arguments */
	u64 protected_frames;/* frames the host's EPT leaves out now */
	u64 frames_in_use;   /* frames the core holds */
	u64 last_blocked_gpa;
};

/* Why run_vcpu returned. */
struct hv_run {
	u32 fate;          /* enum uxt_fate */
	u32 crash_reason;  /* CRASHED: crash_reasons.def */
	u64 shutdown_code; /* SHUTDOWN */
	struct uxt_ioreq io; /* IOREQ: the request to emulate */
	u64 exits;         /* exits during this call */
	u32 vm_insn_error; /* VM entry failed with VMfailValid: the error */
};

struct hv_boot {
	u32 version;          /* HV_IMAGE_VERSION */
	u32 test_flags;       /* HV_TEST_* */
	const struct hv_host_ops *ops;
	void *ctx;
	u64 mem_pa, mem_bytes;        /* donated: the image lies at mem_pa */
	u64 pool_first_mfn, pool_frames; /* the part of it for the core */
	struct hv_api *api;           /* out */
	char *why;                    /* out: the reason for a refusal */
	u32 why_len;
};

typedef int (*hv_image_entry_fn)(struct hv_boot *b);

#endif
