/* Helpers the boot scenarios share: loading the hypervisor as the config
 * asks, building guests, the host's run loop and device model, and
 * streaming the recorded trace over the serial port. */
#ifndef BOOT_DOMAINS_H
#define BOOT_DOMAINS_H

#include "scenario.h"
#include "hvhost.h"
#include "guest.h"

/* Load the embedded image with the config's test switches; prints the
 * refusal and returns its code, or 0. */
int boot_load_hv(char *why, u32 why_len);
/* With deprivilege=1 in the config (cpus=N: start N CPUs first), every
 * CPU runs de-privileged after boot_load_hv(); this is the TSC span from
 * before loading to the last CPU de-privileged. */
extern u64 boot_depriv_ticks;
extern bool boot_force_depriv; /* as if deprivilege=1 */

struct guest_spec {
	const u8 *image;
	u32 image_len;
	u64 ram_frames;      /* from gfn 0 */
	unsigned order;      /* populate with 4 KiB (0) or 2 MiB (9) blocks */
	bool long_mode;      /* build page tables and the 64-bit state */
	bool real_mode;      /* real-mode state at 0000:1000 instead */
	bool mmio;           /* map the test device at G_MMIO */
};

/* Create, populate, load and unpause a domain; its id, or < 0. */
s64 guest_create(const struct guest_spec *g);

struct run_stats {
	u64 exits, ioreqs, halts, yields, calls;
	u32 fate, crash_reason;
	u64 shutdown_code;
	u64 port_out_last, mmio_write_last;
};

/* Run vCPU 0 of domid from the host loop until it shuts down, crashes,
 * or max_calls run_vcpu calls pass. The device model answers IOREQs. */
int guest_run(u32 domid, u64 max_calls, struct run_stats *st);

/* Recording: begin into a host buffer, end and stream as UXT lines. */
void trace_start(void);
int trace_stream(const char *name);

extern const u8 guest_g64[], guest_g64_end[];


extern const u8 guest_g16[], guest_g16_end[];
extern const u8 guest_gtriple[], guest_gtriple_end[];
extern const u8 guest_ghostile[], guest_ghostile_end[];
#endif
