/* The host side of the hypervisor: the loader of the image and the
 * host-OS interface (hv/include/hv/host.h) it is given. */
#ifndef BM_HVHOST_H
#define BM_HVHOST_H

#include "bm.h"
#include "hv_image.h"

extern const u8 hv_image_blob[], hv_image_blob_end[];

struct hv_load_opts {
	const u8 *image;
	u64 len;
	u64 donate_bytes;
	u32 test_flags; /* HV_TEST_* */
};

/* Check and load the image, and start the hypervisor in it. 0, or a
 * negative code with the reason in why (the host keeps running). */
int hv_load(const struct hv_load_opts *o, char *why, u32 why_len);
/* The loaded hypervisor's calls (valid after hv_load() returned 0). */
extern struct hv_api hv;
extern u64 hv_mem_pa, hv_mem_bytes;    /* the donated memory */
extern u64 hv_pool_first_mfn, hv_pool_frames;
/* Stop it, leave VMX and take the donated memory back; frames leaked. */
u64 hv_unload(void);
/* Host hypercall shorthand. */
s64 hcall(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3, const void *data, u32 len);
extern u64 hv_log_lines; /* messages the hypervisor logged */
/* De-privilege every online CPU (the BSP first); from then on hv.* go
 * through VMCALL. *cpus: how many CPUs run de-privileged. */
int hv_deprivilege_all(unsigned *cpus);
extern bool hv_deprivileged;
/* A raw VMCALL of the de-privileged host (HVOP_*), then the log drained. */
s64 hv_vmcall(u64 op, u64 a0, u64 a1, u64 a2, u64 a3);

#endif
