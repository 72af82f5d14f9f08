/* Shared machinery of the fuzz targets (fuzz/README.md).
 *
 * The hypervisor targets (exits, memory, hypercalls) turn each input into a
 * strict trace in memory: a fresh domain set up by host calls, then the
 * events the input asks for (outputs never checked). That trace runs
 * through the replay engine, the very code behind uxen-replay, on one POSIX
 * host + hypervisor kept alive across inputs (replay_opts.reuse_core), with
 * the invariant checker after every event. A failure of the core (an
 * assertion, an invariant, a leak) aborts the process: the fuzzer's crash.
 * Because the trace is what ran, a crash converts to a trace uxen-replay
 * reproduces with one command: `<target> -o crash.uxt crash-input`. */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include "uxt_io.h"
#include "hv/exits.h"

/* Work cap per input: events taken from the input (setup excluded). */
#define FZ_MAX_EVENTS 32
/* Machine memory of the kept core, in frames: small, because the
 * invariant checker after every event is linear in it. */
#define FZ_MEM_FRAMES 512

/* Guest-physical layout of the template domain: that of the scenario
 * guests (harness/scenarios.c), so exits taken from their traces find
 * their page tables, code and device where they expect them. RAM is
 * 4 KiB frames at gfn 0 .. FZ_RAM_FRAMES-1 (cheap to populate per input). */
#define FZ_PML4 0x10000ull
#define FZ_PDPT 0x11000ull
#define FZ_PD_LOW 0x12000ull
#define FZ_PD_HIGH 0x13000ull
#define FZ_CODE 0x2000ull
#define FZ_TEXT 0x3000ull
#define FZ_INFO 0x4000ull
#define FZ_MMIO_GFN 0xfe000ull
#define FZ_MMIO_GPA (FZ_MMIO_GFN << 12)
#define FZ_RAM_FRAMES 0x14
#define FZ_MAX_FRAMES 64 /* the template's max_frames */

/* A trace under construction (one per input). */
struct fz {
	struct uxt_writer w;
	u32 events;     /* events taken from the input so far */
	u64 setup;      /* events of the fixed set-up (checked once, at its end) */
	u64 setup_base; /* of those, the events before the per-input fork */
};

/* Items of one exit, built in place. */
struct fz_items {
	u32 len;
	u8 buf[8192];
};

void fz_begin(struct fz *f);
/* The same, with machine memory of `frames` frames instead of FZ_MEM_FRAMES. */
void fz_begin_frames(struct fz *f, u32 frames);
/* Host call event (outputs not recorded). */
void fz_call(struct fz *f, u32 nr, u64 a0, u64 a1, u64 a2, u64 a3,
	     const void *data, u32 len);
void fz_exit(struct fz *f, u16 reason, u16 domid, u16 vcpu,
	     const struct fz_items *it);
/* The same with its items' bytes as they are (len bytes at items). */
void fz_exit_raw(struct fz *f, u16 reason, u16 domid, u16 vcpu,
		 const u8 *items, u32 len);
/* Room for another input event? (the cap, a full buffer) */
bool fz_more(const struct fz *f);

/* An exit's input items, up to its first output item, less DATA items
 * (host-call payloads only) and any the lenient reader skipped. Returns
 * their length, at *raw: the event's own bytes when they are one run of
 * them (no DATA item, none skipped), else copied into items. */
u32 fz_exit_inputs(const struct uxt_event *ev, struct fz_items *items, const u8 **raw);
/* A host call's first DATA item, its payload (NULL if none). */
const u8 *fz_call_payload(const struct uxt_event *ev, u32 *len);

void fz_items_reset(struct fz_items *it);
void fz_item_raw(struct fz_items *it, const u8 *raw, u32 len);
void fz_item_vmcs(struct fz_items *it, u32 enc, u64 val);
void fz_item_reg(struct fz_items *it, unsigned gpr, u64 val);
void fz_item_mem(struct fz_items *it, u64 gpa, const void *data, u32 len);

/* The template domain d1: 2 vCPUs in 64-bit mode at FZ_CODE, RAM,
 * identity page tables, one MMIO page; forked once, so frozen. That is the
 * fixed set-up (fz_setup_done()); then the input's domain: a lazy fork of
 * it (d2, FZ_CHILD), running. Returns its id. */
#define FZ_TEMPLATE 1
#define FZ_CHILD 2
u16 fz_template(struct fz *f, unsigned nr_vcpus);
/* The events so far are fixed set-up, the same for every input: the
 * invariant checker runs once after them, then after every event, and
 * the replay engine keeps their result for the next input. */
void fz_setup_done(struct fz *f);

/* Run the trace. Returns the replay status (0 or 2: fine); on status 3
 * (the core failed) it reports and aborts, after writing the trace that
 * reproduces it if fz_set_output() asked for one. */
int fz_run(struct fz *f, const char *target);

/* Reproducer mode (fuzz/driver.c): write each hypervisor target's trace
 * to path, truncated after the failing event if one failed. */
void fz_set_output(const char *path);
/* Determinism check (reproducer -d): hash every output of each run into
 * fz_last_digest; with on, run on a fresh core each time instead of the
 * kept one. The same input must give the same digest either way. */
void fz_set_fresh(bool on);
extern u64 fz_last_digest;
/* Reproducer mode: return status 3 instead of aborting. */
void fz_set_no_abort(bool on);
bool fz_no_abort(void);
extern int fz_last_status;
extern bool fz_wrote_trace; /* -o: a trace was written */
/* Whether the target's inputs run as hypervisor traces, so that -o can
 * write one: the driver's (weak) answer is yes; trace and decode define
 * their own, no. */
bool fz_writes_traces(void);

/* Little input reader: every byte string is a valid program. */
struct fz_in {
	const u8 *p;
	size_t n;
};
u8 fz_u8(struct fz_in *in);
u16 fz_u16(struct fz_in *in);
u32 fz_u32(struct fz_in *in);
u64 fz_u64(struct fz_in *in);
/* A value biased toward the interesting: small, boundaries, all-ones,
 * or any 64-bit value. */
u64 fz_val(struct fz_in *in);

/* The hypercall table, for targets that build calls from it. */
struct fz_hc {
	const char *name;
	u32 nr;
	u8 callers; /* 1 host, 2 guest, 3 both */
	u8 nargs;
	u8 kind[4]; /* FZ_ARG_* */
};
enum { FZ_ARG_NONE, FZ_ARG_DOM, FZ_ARG_VCPU, FZ_ARG_GFN, FZ_ARG_COUNT,
       FZ_ARG_ORDER, FZ_ARG_GPA, FZ_ARG_LEN, FZ_ARG_VAL };
extern const struct fz_hc fz_hcs[];
extern const unsigned fz_nr_hcs;
/* The entry of hypercall nr, or NULL. Here rather than in a target: this
 * file is built without comparison tracing, and a linear search traced
 * in the target cost a tenth of the exits target's traced comparisons. */
const struct fz_hc *fz_hc_find(u32 nr);
/* A plausible (mostly valid) value of an argument kind. */
u64 fz_arg(struct fz_in *in, u8 kind, u16 dom, u32 nr_doms);

#endif
