/* The trace generator: drives the hosted hypervisor the way the real build
 * would (host calls, then VM exits with the exit-information fields and
 * registers the hardware would present) and writes every event, with the
 * inputs the handlers read and the outputs they produced, as a trace. */
#ifndef HARNESS_GEN_H
#define HARNESS_GEN_H

#include "uxt_io.h"
#include "posix.h"

struct hv_vcpu;

#define GEN_REC_CAP (256 * 1024)

struct gen {
	struct uxt_writer w;
	struct posix_host host;
	struct hv_vcpu *v;   /* selected vCPU */
	u16 domid, vcpu;
	u64 exits, calls;
	bool failed;
	char err[256];
	u8 rec[GEN_REC_CAP];
	u8 items[GEN_REC_CAP];
};

/* Start a hypervisor on nr_frames of machine memory, writing to path ("-"
 * for stdout) or, if path is NULL, to mem[0..cap). Returns 0 or -1. */
int gen_open(struct gen *g, const char *path, u8 *mem, size_t cap, u64 nr_frames);
/* Stop the hypervisor (checking invariants and leaks) and finish the
 * trace. Returns 0, or -1 with a message in g->err. */
int gen_close(struct gen *g);
/* Bytes written so far (the trace length for memory traces). */
u64 gen_len(const struct gen *g);

void gen_mark(struct gen *g, const char *text);
/* A host hypercall, run and recorded with its result. */
s64 gen_call(struct gen *g, u32 nr, u64 a0, u64 a1, u64 a2, u64 a3,
	     const void *data, u32 len);
/* Choose the vCPU the next exits happen on (loads its VMCS). */
int gen_select(struct gen *g, u16 domid, u16 vcpu);
/* What the hardware presents at the next exit. */
void gen_reg(struct gen *g, unsigned gpr, u64 val);
void gen_field(struct gen *g, u32 enc, u64 val);
/* Run one exit of the given reason on the selected vCPU and record it.
 * Returns its fate (enum uxt_fate), or -1 if it could not run. */
int gen_exit(struct gen *g, u32 reason, u64 qualification, u32 insn_len);
u64 gen_get_reg(struct gen *g, unsigned gpr);
u64 gen_get_field(struct gen *g, u32 enc);

/* Scenarios (scenarios.c). Each returns 0 or -1 (g->err says why). */
struct scenario {
	const char *name, *what;
	int (*run)(struct gen *g, u64 n);
	u64 frames; /* machine memory it needs */
};
extern const struct scenario scenarios[];
const struct scenario *scenario_find(const char *name);

#endif
