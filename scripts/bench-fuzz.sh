#!/bin/sh
# Fuzzing throughput (called by scripts/bench.sh): execs/s of every target
# under libFuzzer and AFL++ (persistent mode, shared-memory test cases),
# from the generated seeds, BENCH_FUZZ_SECONDS (default 10) each, printed
# beside AFL++'s rate on an empty target measured around it (the ceiling
# of this machine's process and signal costs); then the instructions each
# target spends per input, counted by callgrind (the same on any machine).
set -eu
cd "$(dirname "$0")/.."
S=${BENCH_FUZZ_SECONDS:-10}
make -s fuzz-seeds $(for t in $(sh scripts/fuzz-targets.sh); do echo build/fuzz/lf/$t build/fuzz/afl/$t build/fuzz/plain/$t; done)
# The fuzzers' working folders (libFuzzer's corpus, AFL++'s output) go on
# a memory file system where there is one: both write each new input as a
# file, and in a 10-second run from the seeds that is thousands of files.
# On the ext4 disk of the VM this was written on, creating them (inode
# allocation) was 8% of the exits target's libFuzzer run (perf), a cost
# of the disk, not of the target.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp=$(mktemp -d -p /dev/shm); else tmp=$(mktemp -d); fi
trap 'rm -rf "$tmp"' EXIT INT TERM
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
. scripts/aflbound.sh
# AFL++ binds itself to a free core, as it does in a campaign: unbound, the
# fuzzer and its target meet on different cores at every input, and on the
# 2-core VM this was written on that made every rate about three times
# lower and far noisier (the empty target between 2.2k and 23k execs/s
# unbound, 27k to 30k bound). Where no core is free (other fuzzers bound
# already), AFL_TRY_AFFINITY has it run unbound, and the row says so.
afl_rate() { # target binary, seeds, dict (run in $(...): the mark is a file)
	rm -rf "$tmp/afl"
	AFL_TRY_AFFINITY=1 timeout $((S + 60)) afl-fuzz -i "$2" -o "$tmp/afl" -m none -t 1000+ -V "$S" \
		${3:+-x "$3"} -- "$1" >"$tmp/afl.log" 2>&1 || true
	afl_bound "$tmp/afl.log" || : >"$tmp/unbound"
	sed -n 's/^execs_per_sec *: *\([0-9]*\).*/\1/p' "$tmp/afl/default/fuzzer_stats" 2>/dev/null || echo 0
}
# The empty target: the same AFL++ driver around a function that does nothing.
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/empty.c"
AFL_QUIET=1 afl-clang-fast -O2 -DFUZZ_AFL -Ihv/include -Itraces -Ifuzz "$tmp/empty.c" fuzz/driver.c -o "$tmp/empty" 2>/dev/null
mkdir -p "$tmp/eseed" && echo x >"$tmp/eseed/x"
# The persistent loop's SIGSTOP/SIGCONT round trip is most of an empty
# exec, and its cost moves with the machine's load; noise only ever slows
# a run down. So each target runs twice, each run after an empty-target
# run, and the faster of its two runs is compared with the faster of the
# two empty ones (as many samples on each side: the fastest of more runs
# would favour the side that had more).
empty_rate() { afl_rate "$tmp/empty" "$tmp/eseed" ""; }
max() { awk 'BEGIN { m = 0; for (i = 1; i < ARGC; i++) if (ARGV[i] + 0 > m) m = ARGV[i] + 0; printf "%.0f", m }' "$@"; }
echo "== fuzzing throughput, ${S}s per target and engine (execs/s; ASan + UBSan; invariants after every event)"
echo "  (libFuzzer: the faster of two runs, per second and per CPU second it was given; AFL++, bound to a"
echo "   free core where one is: the faster of two runs, against the faster of two empty-target runs,"
echo "   one before each; steal: the share of this machine's CPU time its host took during the row)"
echo "  (the fuzzers' working folders in $(df --output=fstype "$tmp" 2>/dev/null | tail -1) at $(dirname "$tmp"))"
printf "  %-11s %10s %10s %10s %10s %14s %6s\n" target libFuzzer "(per CPU s)" AFL++ "(empty)" "AFL++ / empty" steal
# A virtual machine's host may take CPU time from it (steal, in /proc/stat):
# on the VM this was written on, 3-21% from one second to the next, which
# moved the exits target's libFuzzer rate between 37k and 62k execs/s in
# the same hour. So each row says how much was taken during it, and
# libFuzzer's rate is also given per second of CPU time the process got
# (user + system, from the shell's `times`), which the host's share does
# not move.
cpu_stat() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
lf_rate() { # target: prints "execs/s execs-per-CPU-s"
	rm -rf "$tmp/c" && mkdir -p "$tmp/c" && cp build/fuzz/seeds/$1/* "$tmp/c/"
	(build/fuzz/lf/$1 -max_total_time="$S" -max_len=4096 -timeout=10 -print_final_stats=1 \
		-dict=build/fuzz/seeds/$1.dict "$tmp/c" >"$tmp/lf.log" 2>&1; times >"$tmp/times") || true
	# times: the shell's own line, then its children's ("0m1.500000s 0m0.250000s")
	awk -v times="$tmp/times" '
		/^stat::number_of_executed_units:/ { n = $2 }
		/^stat::average_exec_per_sec:/ { r = $2 }
		END {
			if ((getline line < times) > 0 && (getline line < times) > 0) {
				split(line, t, " "); split(t[1], u, "m"); split(t[2], s, "m")
				cpu = 60 * u[1] + u[2] + 60 * s[1] + s[2]
			}
			printf "%d %.0f\n", r, (cpu > 0 ? n / cpu : 0)
		}' "$tmp/lf.log"
}
row() { # name, target
	st0=$(cpu_stat)
	# As for AFL++, the faster of two: a busy machine only slows a run.
	l1=$(lf_rate "$2")
	l2=$(lf_rate "$2")
	lf=$(max "${l1% *}" "${l2% *}")
	lfcpu=$(max "${l1#* }" "${l2#* }")
	rm -f "$tmp/unbound"
	e1=$(empty_rate)
	a1=$(afl_rate build/fuzz/afl/$2 build/fuzz/seeds/$2 build/fuzz/seeds/$2.dict)
	e2=$(empty_rate)
	a2=$(afl_rate build/fuzz/afl/$2 build/fuzz/seeds/$2 build/fuzz/seeds/$2.dict)
	afl=$(max "$a1" "$a2")
	empty=$(max "$e1" "$e2")
	steal=$(printf '%s\n%s\n' "$st0" "$(cpu_stat)" | awk 'NR == 1 { s = $1; t = $2 }
		NR == 2 { printf "%.0f", ($2 > t ? 100 * ($1 - s) / ($2 - t) : 0) }')
	printf "  %-11s %10s %10s %10s %10s %13s%% %5s%%%s\n" "$1" "${lf:-0}" "${lfcpu:-0}" "$afl" "$empty" \
		"$(awk -v a="$afl" -v e="$empty" 'BEGIN { printf "%.0f", e ? 100 * a / e : 0 }')" "$steal" \
		"$( [ ! -f "$tmp/unbound" ] || echo "  (AFL++ unbound in some of these runs: no free core)")"
}
for t in $(sh scripts/fuzz-targets.sh); do
	row "$t" "$t"
done
# The issue's measure: inputs of up to 16 exits (the cap, 32 events by
# default, at 16: host calls count too).
export FUZZ_MAX_EVENTS=16
row "exits<=16" exits
unset FUZZ_MAX_EVENTS
echo "  target: exits >= 50,000/s under libFuzzer for inputs of up to 16 exits"

# Rates on a busy machine move; instruction counts do not. Each target's
# plain build (no sanitizers, no coverage) runs a fixed sample of its
# committed corpus, the inputs named in fuzz/bench/<t>.list, on the kept
# core, as a fuzzer would, under callgrind, counting inside
# LLVMFuzzerTestOneInput only: the figure to compare from one change to the
# next. The sample is a list rather than "the first N by name" so that new
# corpus inputs do not change it (a campaign's merge moved the exits figure
# by a fifth with no change to the code); a listed input the corpus no
# longer has is said. The checker's share is the invariant checks (after
# every event, and the full one after each input).
echo "== instructions per input (callgrind; plain -O2 build; the sample of each committed corpus in fuzz/bench/, kept core)"
printf "  %-11s %14s %10s  %s\n" target "insns/input" "checker" "sample"
for t in $(sh scripts/fuzz-targets.sh); do
	rm -rf "$tmp/ci" && mkdir -p "$tmp/ci"
	listed=0 missing=0 list="fuzz/bench/$t.list"
	# A target without a list yet: the first 300 by name (make one with
	# ls fuzz/corpus/<t> | sort | head -n 300 >fuzz/bench/<t>.list).
	[ -f "$list" ] || { list="$tmp/list"; ls "fuzz/corpus/$t" 2>/dev/null | sort | head -n 300 >"$list"; }
	while read -r f; do
		listed=$((listed + 1))
		if [ -f "fuzz/corpus/$t/$f" ]; then cp "fuzz/corpus/$t/$f" "$tmp/ci/"; else missing=$((missing + 1)); fi
	done <"$list"
	n=$(ls "$tmp/ci" | wc -l)
	if [ "$missing" -eq 0 ]; then sample="$n inputs"; else sample="$n of $listed inputs ($missing no longer in the corpus: not comparable)"; fi
	[ "$list" = "fuzz/bench/$t.list" ] || sample="$sample (no fuzz/bench/$t.list: the first by name)"
	[ "$n" -gt 0 ] || { echo "  $t: no corpus input to count (fuzz/corpus/$t, fuzz/bench/$t.list)"; continue; }
	valgrind --tool=callgrind --toggle-collect=LLVMFuzzerTestOneInput \
		--callgrind-out-file="$tmp/ci.out" build/fuzz/plain/$t "$tmp/ci" >/dev/null 2>"$tmp/ci.err" || {
		echo "  $t: callgrind failed:"; sed 's/^/    /' "$tmp/ci.err" | tail -5; continue; }
	total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/ci.err")
	checker=$(callgrind_annotate --inclusive=yes "$tmp/ci.out" 2>/dev/null |
		awk '/:hv_check_invariants(_fast)? \[/ { gsub(",", "", $1); c += $1 } END { print c + 0 }')
	awk -v t="$t" -v a="$total" -v c="$checker" -v n="$n" -v s="$sample" 'BEGIN {
		printf "  %-11s %14.0f %9.0f%%  %s\n", t, n ? a / n : 0, a ? 100 * c / a : 0, s }'
done
echo "  (memset counts each byte it stores: page zeroing weighs more here than in time)"
