/* The test runner (see testlib.h). Usage: uxen-tests [NAME-SUBSTRING...] */
#include <setjmp.h>
#include <stdlib.h>
#include "testlib.h"
#include "hv/hv.h"
#include "sim.h"
#include "../../hv/core/p2m_impl.h"

#define MAX_TESTS 512

static struct {
	const char *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static int nr_tests;
static int failed_now;
static jmp_buf panic_jmp;
static bool hv_is_up;
static int static_i; /* survives the longjmp of a panic */

struct posix_host test_host;

void test_register(const char *name, void (*fn)(void))
{
	if (nr_tests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	tests[nr_tests].name = name;
	tests[nr_tests].fn = fn;
	nr_tests++;
}

void test_failed(const char *file, int line, const char *what)
{
	if (!failed_now)
		printf("    %s:%d: %s\n", file, line, what);
	failed_now = 1;
}

int test_hv_up(u64 nr_frames)
{
	if (posix_host_init(&test_host, nr_frames))
		return -1;
	test_host.panic_jmp = &panic_jmp;
	test_host.log = NULL;
	sim_reset();
	int rc = posix_hv_start(&test_host);
	if (rc) {
		posix_host_fini(&test_host);
		return rc;
	}
	hv_is_up = true;
	return 0;
}

/* Every p2m table's used bits cover its entries in use (the walks read
 * only the groups they name). A full scan: too slow for the checker that
 * fuzzers run after every event, cheap enough for the unit tests. */
static int check_used_bits(char *msg, size_t len)
{
	for (u64 i = 0; hv.frames && i < hv.nr_frames; i++) {
		const struct hv_frame *f = &hv.frames[i];
		if (f->type != FT_P2M)
			continue;
		const u64 *t = frame_map(hv.first_mfn + i);
		u32 missing = table_used_bits(t) & ~f->used;
		frame_unmap((void *)t);
		if (missing) {
			snprintf(msg, len, "table %llx has entries its used bits %x leave out (%x)",
				 (unsigned long long)(hv.first_mfn + i), f->used, missing);
			return -1;
		}
	}
	return 0;
}

int test_invariants(const char *file, int line)
{
	char msg[256];
	if (hv_check_invariants(msg, sizeof(msg)) || check_used_bits(msg, sizeof(msg))) {
		char m[320];
		snprintf(m, sizeof(m), "invariant broken: %s", msg);
		test_failed(file, line, m);
		return -1;
	}
	return 0;
}

int test_hv_down(void)
{
	int rc = 0;
	if (!hv_is_up)
		return 0;
	hv_is_up = false;
	rc |= test_invariants(__FILE__, __LINE__);
	u64 left = hv_stop();
	if (left || test_host.used) {
		char m[128];
		snprintf(m, sizeof(m), "leak: core holds %llu frames, host sees %llu",
			 (unsigned long long)left, (unsigned long long)test_host.used);
		test_failed(__FILE__, __LINE__, m);
		rc = -1;
	}
	posix_host_fini(&test_host);
	return rc;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

/* A filter that names no test is a typo, not a pass. */
static int check_filters(int argc, char **argv)
{
	int bad = 0;
	for (int a = 1; a < argc; a++) {
		bool hit = false;
		for (int i = 0; i < nr_tests && !hit; i++)
			hit = strstr(tests[i].name, argv[a]) != NULL;
		if (!hit) {
			fprintf(stderr, "uxen-tests: no test name contains '%s'\n", argv[a]);
			bad = 1;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	static int passed, failed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (check_filters(argc, argv))
		return 2;
	for (static_i = 0; static_i < nr_tests; static_i++) {
		int i = static_i;
		if (!selected(tests[i].name, argc, argv))
			continue;
		failed_now = 0;
		if (setjmp(panic_jmp) == 0) {
			tests[i].fn();
		} else {
			char m[300];
			snprintf(m, sizeof(m), "hypervisor panic: %s", test_host.panic_msg);
			test_failed(__FILE__, __LINE__, m);
			hv_is_up = false; /* core state is unusable after a panic */
			hv_abandon();
			posix_host_fini(&test_host);
		}
		if (hv_is_up && !failed_now)
			test_hv_down();
		else if (hv_is_up) {
			hv_is_up = false;
			hv_stop();
			posix_host_fini(&test_host);
		}
		printf("%s %s\n", failed_now ? "FAIL" : "ok  ", tests[i].name);
		failed_now ? failed++ : passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
