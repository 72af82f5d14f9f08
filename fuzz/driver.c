/* The main() around a target's LLVMFuzzerTestOneInput for the two builds
 * that are not libFuzzer (which brings its own main):
 *
 *  -DFUZZ_AFL: AFL++ persistent mode with test cases in shared memory
 *   (__AFL_FUZZ_INIT / __AFL_LOOP), built with afl-clang-fast. Without
 *   afl-clang-fast's macros it reads one input from stdin, so the same
 *   binary also runs under plain afl-fuzz in stdin mode.
 *  default: the standalone reproducer:
 *     <target> [-o OUT.uxt] [-k] FILE|DIR...
 *   runs every file (a directory: each file in it). A finding aborts, as
 *   it would under a fuzzer, unless -k: then it goes on and exits 3.
 *   -o writes the trace that was run (hypervisor targets): truncated after
 *   the failing event, it is a trace uxen-replay reproduces (exit 3, same
 *   message). With several inputs it is the first failing one's: the run
 *   stops there (the last input's trace if none fails). The targets whose
 *   inputs are not traces (trace, decode) refuse -o (exit 2).
 *   -d checks determinism: every input runs in turn on the kept core, as
 *   under a fuzzer (each after the others, so that what one input leaves
 *   behind would show in the next), then each on a fresh core; the outputs
 *   of the two runs must hash the same. Exit 4 if any differ. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_INPUT (1u << 20)

#ifdef FUZZ_AFL

#ifndef __AFL_FUZZ_TESTCASE_LEN
/* Not built by afl-clang-fast: one input from stdin. */
static u8 afl_buf[FZ_MAX_INPUT];
static ssize_t afl_len;
#define __AFL_FUZZ_INIT() (void)0
#define __AFL_FUZZ_TESTCASE_BUF afl_buf
#define __AFL_FUZZ_TESTCASE_LEN afl_len
#define __AFL_LOOP(n) ((afl_len = read(0, afl_buf, sizeof(afl_buf))) >= 0 && !afl_once++)
#define __AFL_INIT() (void)0
static int afl_once;
#endif

__AFL_FUZZ_INIT();

int main(void)
{
	/* Warm up outside the loop: the first input pays for the core's start
	 * (with the target's own memory size), its set-up and the page faults
	 * of its memory; the second runs as every later input will, so that
	 * the first input AFL++ measures takes its usual path (stability). */
	/* A trace of no events (a program of a few ops for the targets that
	 * do not read traces): enough for exits to run its set-up. The empty
	 * input is not a trace, and left the first real input to do it. */
	static u8 warm[UXT_HEADER_SIZE];
	memcpy(warm, UXT_MAGIC, UXT_MAGIC_LEN);
	uxt_put16(warm + UXT_HDR_OFF_VERSION, UXT_VERSION);
	uxt_put16(warm + UXT_HDR_OFF_HEADER_SIZE, UXT_HEADER_SIZE);
	LLVMFuzzerTestOneInput(warm, sizeof(warm));
	LLVMFuzzerTestOneInput(warm, sizeof(warm));
	__AFL_INIT();
	unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(100000)) {
		size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
		LLVMFuzzerTestOneInput(buf, len > FZ_MAX_INPUT ? FZ_MAX_INPUT : len);
	}
	return 0;
}

#else

#include "engine.h" /* replay_kept_stats() */

static u8 *input;

/* The hypervisor targets write traces (-o); trace and decode say not.
 * A function: a weak constant's value may be folded into its readers. */
__attribute__((weak)) bool fz_writes_traces(void) { return true; }

/* -d: the digest of each input's first run, by position. */
static struct {
	bool on, second;
	u64 *digest;
	size_t n, cap;
	size_t pos;
	int differ;
} det;

static void det_record(const char *path)
{
	if (!det.on)
		return;
	if (!det.second) {
		if (det.n == det.cap) {
			det.cap = det.cap ? 2 * det.cap : 1024;
			det.digest = realloc(det.digest, det.cap * sizeof(u64));
			if (!det.digest) {
				fprintf(stderr, "out of memory\n");
				exit(2);
			}
		}
		det.digest[det.n++] = fz_last_digest;
		return;
	}
	if (det.pos < det.n && det.digest[det.pos] != fz_last_digest) {
		fprintf(stderr, "%s: NOT DETERMINISTIC: kept core and fresh core differ\n", path);
		det.differ++;
	}
	det.pos++;
}

static bool stop_early; /* -o: a finding's trace was written */

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 2;
	}
	size_t n = fread(input, 1, FZ_MAX_INPUT, f);
	fclose(f);
	/* A private copy of exactly n bytes, so ASan sees reads past the end. */
	u8 *copy = malloc(n ? n : 1);
	memcpy(copy, input, n);
	fz_last_digest = 0;
	int rc = LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	det_record(path);
	/* -o -k: the first finding's trace is the one to keep; a later
	 * input would write over it. */
	if (fz_wrote_trace && fz_last_status == 3)
		stop_early = true;
	return rc;
}

static int run_path(const char *path, int *files)
{
	if (stop_early)
		return 0;
	struct stat sb;
	if (stat(path, &sb)) {
		perror(path);
		return 2;
	}
	if (!S_ISDIR(sb.st_mode)) {
		if (!det.second)
			(*files)++;
		return run_file(path);
	}
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort), worst = 0;
	if (n < 0) {
		perror(path);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			int rc = run_path(sub, files);
			worst = rc > worst ? rc : worst;
		}
		free(names[i]);
	}
	free(names);
	return worst;
}



int main(int argc, char **argv)
{
	int opt, files = 0, worst = 0;
	const char *out = NULL;
	while ((opt = getopt(argc, argv, "o:kd")) != -1) {
		switch (opt) {
		case 'o': out = optarg; fz_set_output(optarg); break;
		case 'k': fz_set_no_abort(true); break;
		case 'd': det.on = true; break;
		default:
			fprintf(stderr, "usage: %s [-o OUT.uxt] [-k] [-d] FILE|DIR...\n", argv[0]);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: %s [-o OUT.uxt] [-k] [-d] FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (out && !fz_writes_traces()) {
		fprintf(stderr, "%s: -o: this target's inputs are not hypervisor traces "
			"(reproduce a finding with %s FILE)\n", argv[0], argv[0]);
		return 2;
	}
	if (det.on)
		fz_set_fresh(false);
	input = malloc(FZ_MAX_INPUT);
	if (!input) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	for (int i = optind; i < argc && !stop_early; i++) {
		int rc = run_path(argv[i], &files);
		worst = rc > worst ? rc : worst;
		if (fz_last_status > worst)
			worst = fz_last_status;
	}
	if (out && !fz_wrote_trace) {
		fprintf(stderr, "%s: -o: no trace written: no input was a trace\n", argv[0]);
		return worst > 2 ? worst : 2;
	}
	if (det.on) {
		det.second = true;
		fz_set_fresh(true);
		for (int i = optind; i < argc; i++)
			run_path(argv[i], &files);
		struct replay_kept_stats ks;
		replay_kept_stats(&ks);
		fprintf(stderr, "%s: %zu inputs, %d differ between the kept and a fresh core "
			"(kept core: %llu resumed after the set-up, %llu forks made again, "
			"%llu set-ups redone, %llu restarts)\n",
			argv[0], det.n, det.differ, (unsigned long long)ks.resumed,
			(unsigned long long)ks.tail_redone, (unsigned long long)ks.redone,
			(unsigned long long)ks.restarted);
		if (det.differ)
			return 4;
	}
	fprintf(stderr, "%s: %d inputs run\n", argv[0], files);
	return worst;
}

#endif
