/* Boot scenarios (harness/boot): each runs inside the bare-metal host and
 * returns its result; the kernel prints the RESULT line and powers off. */
#ifndef BM_SCENARIO_H
#define BM_SCENARIO_H

#include "bm.h"

struct scenario {
	const char *name, *what;
	enum result (*run)(void);
};

const struct scenario *scenario_find(const char *name);

/* Checks inside scenarios: print a line; failures make the result. */
#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			kprintf("check failed: %s (%s:%d): ", #cond, __FILE__, \
				__LINE__);                                     \
			kprintf(__VA_ARGS__);                                  \
			kprintf("\n");                                         \
			return RES_FAILURE;                                    \
		}                                                              \
	} while (0)

#endif
