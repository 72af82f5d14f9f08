/* A tiny test framework: TEST() registers a function; CHECK*() record a
 * failure and return from the test. The runner (testlib.c) prints one line
 * per test and a final "N passed, N failed". */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdio.h>
#include <string.h>
#include "hv/types.h"
#include "posix.h"

void test_register(const char *name, void (*fn)(void));
void test_failed(const char *file, int line, const char *what);

#define TEST(name)                                                             \
	static void name(void);                                                \
	__attribute__((constructor)) static void reg_##name(void)              \
	{                                                                      \
		test_register(#name, name);                                    \
	}                                                                      \
	static void name(void)

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			test_failed(__FILE__, __LINE__, #c);                   \
			return;                                                \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		unsigned long long _a = (unsigned long long)(a),               \
				   _b = (unsigned long long)(b);               \
		if (_a != _b) {                                                \
			char _m[256];                                          \
			snprintf(_m, sizeof(_m), "%s == %s (0x%llx != 0x%llx)", \
				 #a, #b, _a, _b);                              \
			test_failed(__FILE__, __LINE__, _m);                   \
			return;                                                \
		}                                                              \
	} while (0)

/* Start the hypervisor on a fresh POSIX host of nr_frames frames; panics
 * are caught and fail the test. */
extern struct posix_host test_host;
int test_hv_up(u64 nr_frames);
/* Check invariants, stop the hypervisor, and check that no frame leaked.
 * Returns 0 on success (and records a failure otherwise). */
int test_hv_down(void);
/* Check invariants now; records a failure and returns -1 if broken. */
int test_invariants(const char *file, int line);
#define CHECK_INVARIANTS() CHECK(test_invariants(__FILE__, __LINE__) == 0)

#endif
