/* General-purpose register numbers, in x86 encoding order (the order of
 * ModRM, exit qualifications and the trace's REG items, from UXT_GPRS).
 * RSP lives in the VMCS, not in the register file. */
#ifndef HV_REGS_H
#define HV_REGS_H

#include "uxt.h"

enum gpr {
#define X(name, idx) name = idx,
	UXT_GPRS(X)
#undef X
	NR_GPRS
};

#endif
