/* The host-OS interface: every service the hypervisor needs from the OS it
 * is loaded into. The core calls the world only through this table (and
 * the arch interface in arch.h). Bromium's µ-Xen needed ~23 callbacks; we
 * need 10, and two optional. The POSIX platform (hv/host/posix) implements it in userspace. */
#ifndef HV_HOST_H
#define HV_HOST_H

#include "hv/types.h"

enum hv_log_level { HV_LOG_ERR, HV_LOG_WARN, HV_LOG_INFO, HV_LOG_DEBUG };

struct hv_host_ops {
	/* Frames donated by the host. alloc returns the first machine frame
	 * of 2^order naturally aligned contiguous frames, or INVALID_MFN.
	 * Frames are given back one at a time (a 2 MiB block may be split). */
	u64 (*alloc_frames)(void *ctx, unsigned order);
	void (*free_frame)(void *ctx, u64 mfn);
	/* A pointer through which the hypervisor reads/writes a frame. For the
	 * first frame of a block from alloc_frames(), the whole block is mapped
	 * contiguously (the frame table relies on it). */
	void *(*map_frame)(void *ctx, u64 mfn);
	void (*unmap_frame)(void *ctx, void *va);
	void (*log)(void *ctx, enum hv_log_level lvl, const char *msg, u32 len);
	u64 (*counter_ns)(void *ctx); /* monotonic; never used for decisions */
	void (*kick_cpu)(void *ctx, u32 cpu);
	u32 (*this_cpu)(void *ctx);
	/* A vCPU needs the host: an I/O request, a shutdown, a crash ... */
	void (*notify)(void *ctx, u16 domid, u16 vcpu, unsigned fate);
	/* The hypervisor itself is broken (an assertion or an invariant).
	 * Must not return. */
	void (*panic)(void *ctx, const char *msg) __attribute__((noreturn));
	/* Optional (NULL: every level): does the host keep messages of this
	 * level? If not, the core does not format them. A guest can make the
	 * core log at will (each crash it causes is a message): formatting
	 * what is then dropped was 8% of a fuzz input that crashed its guest.
	 * Optional members go at the end: the bare-metal kernel hands this
	 * table to the VMX image, so a member added in the middle would move
	 * the others (and any new one bumps HV_IMAGE_VERSION). */
	bool (*log_wanted)(void *ctx, enum hv_log_level lvl);
	/* Optional (NULL: no): does the host map every frame it gives, for as
	 * long as the core runs, at *base + (mfn << PAGE_SHIFT) (a direct
	 * map)? Then the core reads and writes frames there without calling
	 * map_frame and unmap_frame. A p2m walk reads one entry per level,
	 * and the two calls around each read cost more than the read. Asked
	 * when the core takes the table (hv_start(), hv_host_set()). */
	bool (*direct_map)(void *ctx, u64 *base);
};

#endif
