/* ASan's defaults for the fuzzing builds, libFuzzer and AFL++ (mk/fuzz.mk
 * links this file into them alone: the reproducer keeps ASan's own).
 * ASAN_OPTIONS still overrides them.
 * Nothing these targets test uses the heap: the core has no allocator but
 * the host's frames, and the harness and Capstone are not instrumented
 * for it. The heap's one regular user is libFuzzer, which allocates a copy
 * of every input. So:
 *  - no quarantine: freed blocks are reused at once. With 256 MiB held
 *    back, each copy landed on memory the process had not touched yet,
 *    and the page faults were 5-9% of the exits target's time (perf);
 *  - no stack trace taken at each malloc and free (malloc_context_size):
 *    a report on a heap block then lacks where it was allocated, which is
 *    always libFuzzer's copy of the input here; taking it was 2-7% of the
 *    exits target's CPU time (24 fixed-seed runs of 60,000 inputs). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0:malloc_context_size=0";
}
