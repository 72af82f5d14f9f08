# Fuzzing smoke test (sourced by scripts/run-tests.sh: ok/bad/expect/$tmp).
# Every target under libFuzzer and under AFL++ for a few seconds from the
# generated seeds: any finding fails the test. Then crash-to-trace: a
# target's -o trace replays with uxen-replay as the target ran it. Budget:
# about 5 + 8 seconds per target (FUZZ_SMOKE_SECONDS to change).
FZB=build/fuzz
FZS=${FUZZ_SMOKE_SECONDS:-5}
# AFL++'s stability from its fuzzer_stats; true if at least 99%, what the
# issue asks (an input takes the same path each time it runs).
afl_stability() { sed -n 's/^stability *: *\([0-9.]*\)%.*/\1/p' "$1" 2>/dev/null; }
afl_stable() { awk -v s="$(afl_stability "$1")" 'BEGIN { exit !(s != "" && s + 0 >= 99) }'; }
for t in $(sh scripts/fuzz-targets.sh); do
	if [ ! -x "$FZB/lf/$t" ] || [ ! -x "$FZB/afl/$t" ] || [ ! -d "$FZB/seeds/$t" ]; then
		bad "fuzz $t: not built (make fuzz-build fuzz-seeds)"
		continue
	fi
	rm -rf "$tmp/fz" && mkdir -p "$tmp/fz/corpus" "$tmp/fz/art" && cp "$FZB/seeds/$t/"* "$tmp/fz/corpus/"
	"$FZB/lf/$t" -max_total_time="$FZS" -max_len=4096 -timeout=10 -dict="$FZB/seeds/$t.dict" \
		-artifact_prefix="$tmp/fz/art/" "$tmp/fz/corpus" >"$tmp/fz/log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$(ls "$tmp/fz/art")" ]; then
		ok "fuzz $t: libFuzzer ${FZS}s, no finding ($(sed -n 's/.*DONE .*exec\/s: \([0-9]*\).*/\1/p' "$tmp/fz/log") execs/s)"
	else
		bad "fuzz $t: libFuzzer finding (exit $rc): reproduce with $FZB/repro/$t FILE"
		grep -E "fuzz |ERROR|SUMMARY|runtime error" "$tmp/fz/log" | head -n 5 | sed 's/^/    /'
		for a in "$tmp/fz/art/"*; do [ -f "$a" ] && mkdir -p build/fuzz/findings && cp "$a" build/fuzz/findings/ && echo "    saved build/fuzz/findings/$(basename "$a")"; done
	fi
	AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
	AFL_QUIET=1 timeout $((FZS + 40)) afl-fuzz -i "$FZB/seeds/$t" -o "$tmp/fz/afl" -m none -t 1000+ \
		-V "$FZS" -x "$FZB/seeds/$t.dict" -- "$FZB/afl/$t" >"$tmp/fz/afl.log" 2>&1
	rc=$?
	st="$tmp/fz/afl/default/fuzzer_stats"
	crashes=$(sed -n 's/^saved_crashes *: *//p' "$st" 2>/dev/null)
	hangs=$(sed -n 's/^saved_hangs *: *//p' "$st" 2>/dev/null)
	# A hang (an input over AFL++'s 1 s limit; inputs take microseconds)
	# is a finding too.
	[ "$hangs" = 0 ] || crashes="${crashes:-?}, hangs ${hangs:-?}"
	if [ "$rc" -eq 0 ] && [ "$crashes" = 0 ] && afl_stable "$st"; then
		ok "fuzz $t: AFL++ ${FZS}s, no finding ($(sed -n 's/^execs_per_sec *: *//p' "$st") execs/s, stability $(afl_stability "$st")%)"
	elif [ "$rc" -eq 0 ] && [ "$crashes" = 0 ]; then
		bad "fuzz $t: AFL++ stability $(afl_stability "$st")% is below 99%: an input does not take the same path each time"
	else
		bad "fuzz $t: AFL++ finding or failure (exit $rc, crashes ${crashes:-?})"
		tail -n 5 "$tmp/fz/afl.log" | sed 's/^/    /'
		for a in "$tmp/fz/afl/default/crashes/id"* "$tmp/fz/afl/default/hangs/id"*; do
			[ -f "$a" ] || continue
			n="afl-$t-$(basename "$(dirname "$a")")-$(basename "$a" | cut -c1-9)"
			mkdir -p build/fuzz/findings && cp "$a" "build/fuzz/findings/$n" && echo "    saved build/fuzz/findings/$n"
		done
	fi
done

# Crash to trace: what a hypervisor target ran, written with -o, is a trace
# that uxen-replay runs the same way (here: to the end, status 0).
s=$(ls "$FZB/seeds/exits" | head -n 1)
expect "fuzz: exits -o writes a trace uxen-replay runs" 0 sh -c \
	"$FZB/repro/exits -o '$tmp/fz.uxt' '$FZB/seeds/exits/$s' && build/asan-gcc/uxen-replay --check-every 1 '$tmp/fz.uxt'"
same=0 diff=0
for s in "$FZB/seeds/memory/"* "$FZB/seeds/hypercalls/"*; do
	case $s in */memory/*) t=memory ;; *) t=hypercalls ;; esac
	FUZZ_VERBOSE=1 "$FZB/repro/$t" -o "$tmp/fzm.uxt" "$s" >"$tmp/fzm.log" 2>&1
	st=$(sed -n 's/.*: status \([0-9]\) after.*/\1/p' "$tmp/fzm.log")
	build/asan-gcc/uxen-replay -q --check-every 1 "$tmp/fzm.uxt" >/dev/null 2>&1
	if [ "$?" = "$st" ] && ! grep -q "NOT DETERMINISTIC" "$tmp/fzm.log"; then same=$((same + 1)); else
		diff=$((diff + 1)); echo "    $s: target status ${st:-none}, uxen-replay differs"; fi
done
if [ "$diff" -eq 0 ] && [ "$same" -gt 0 ]; then ok "fuzz: $same memory/hypercalls -o traces replay with the target's status"; else
	bad "fuzz: $diff -o traces replay differently from the target"; fi
# Determinism: the kept core (the template's set-up kept, each input's
# changes undone) must behave as a fresh core on every committed corpus
# input, with inputs run back to back (what one leaves, the next sees).
for t in exits memory hypercalls; do
	n=$(ls fuzz/corpus/$t 2>/dev/null | wc -l)
	out=$("$FZB/repro/$t" -d fuzz/corpus/$t 2>&1 | grep -v '^fuzz ')
	if [ "$n" -gt 0 ] && echo "$out" | grep -q ": $n inputs, 0 differ between"; then
		ok "fuzz $t: kept core = fresh core on $(echo "$out" | sed -n 's/.*: \([0-9]*\) inputs, 0 differ.*(kept core: \(.*\))/\1 corpus inputs (\2)/p')"
	else
		bad "fuzz $t: the kept core and a fresh core differ, or not all $n corpus inputs ran"
		echo "$out" | grep "NOT DETERMINISTIC" | head -n 5 | sed 's/^/    /'
	fi
done
# The OSS-Fuzz / ClusterFuzzLite build, as those services run it: their
# variables, an absolute $OUT; every target, dictionary, options file and
# seed corpus, and a target that runs.
if CC=clang CFLAGS="-O1 -fsanitize=address,fuzzer-no-link" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
	OUT="$tmp/oss" WORK="$tmp/oss-work" sh fuzz/build.sh >"$tmp/oss.log" 2>&1; then
	miss=""
	for t in $(sh scripts/fuzz-targets.sh); do
		for f in $t $t.dict $t.options ${t}_seed_corpus.zip; do [ -s "$tmp/oss/$f" ] || miss="$miss $f"; done
	done
	if [ -z "$miss" ] && "$tmp/oss/exits" -runs=200 -dict="$tmp/oss/exits.dict" >/dev/null 2>&1; then
		ok "fuzz: fuzz/build.sh (OSS-Fuzz conventions) builds every target, dictionary, options and seed corpus"
	else
		bad "fuzz: fuzz/build.sh output incomplete or its exits target fails (missing:${miss:- none})"
	fi
else
	bad "fuzz: fuzz/build.sh failed"
	tail -n 5 "$tmp/oss.log" | sed 's/^/    /'
fi
expect_msg "fuzz: the determinism check fails when runs differ (FUZZ_DET_SELFTEST)" 4 "NOT DETERMINISTIC" \
	env FUZZ_DET_SELFTEST=1 "$FZB/repro/exits" -d "$FZB/seeds/exits"
printf 'stability         : 98.75%%\n' >"$tmp/st-low"
printf 'stability         : 99.44%%\n' >"$tmp/st-ok"
printf 'execs_done        : 1\n' >"$tmp/st-none"
if afl_stable "$tmp/st-ok" && ! afl_stable "$tmp/st-low" && ! afl_stable "$tmp/st-none"; then
	ok "fuzz: AFL++ stability under 99% (or none reported) fails the smoke run"
else
	bad "fuzz: the AFL++ stability check passes 98.75% or no figure, or fails 99.44%"
fi
expect_msg "fuzz: a bad FUZZ_MAX_EVENTS is refused" 2 "FUZZ_MAX_EVENTS must be" \
	env FUZZ_MAX_EVENTS=0 "$FZB/repro/exits" "$FZB/seeds/exits"
expect "fuzz: FUZZ_MAX_EVENTS=2 caps every input at 2 events" 0 sh -c \
	"FUZZ_MAX_EVENTS=2 FUZZ_VERBOSE=1 $FZB/repro/exits $FZB/seeds/exits 2>&1 | sed -n 's/.* events (\\([0-9]*\\) exits, \\([0-9]*\\) skipped.*/\\1 \\2/p' | awk '\$1 + \$2 > 2 { bad = 1 } END { exit bad || NR < 100 }'"
expect_msg "fuzz: fuzz-minimize refuses a trace that does not fail" 2 "does not make" \
	"$PYTHON" scripts/fuzz-minimize.py --replay build/rel/uxen-replay traces/corpus/boot.uxt "$tmp/min.uxt"
expect "fuzz: dictionaries are generated from the tables (every exit reason)" 0 sh -c \
	"[ \$(grep -c '^exit_' $FZB/seeds/exits.dict) -eq \$($PYTHON -c 'import sys; sys.path.insert(0, \"scripts\"); import uxen_consts as C; print(len(C.EXIT_REASONS))') ]"

# Crash to trace, end to end, on a real failure: the exits reproducer and
# uxen-replay with a bug planted in the CPUID handler (mk/fuzz.mk,
# build/fuzz/plant/), and an input that reaches it in the middle of a seed's
# exits. -k -o keeps the first failing input's trace though a passing one
# follows; uxen-replay exits 3 with the target's message; fuzz-minimize
# shrinks it, and the minimal trace still fails the same way on the planted
# build and passes on the real one (a regression trace once fixed).
P=$FZB/plant
if [ -x "$P/exits" ] && [ -x "$P/rel/uxen-replay" ] && [ -x "$P/asan-clang/uxen-replay" ]; then
	cat >"$tmp/plant.py" <<'PY'
import struct, sys
sys.path.insert(0, "scripts")
import uxtrace, uxen_consts as C
tr = uxtrace.read_trace(sys.argv[1], lenient=True)
ev = list(tr.events)
leaf = uxtrace.Item(C.UXT_IT_REG_IN, 0, struct.pack("<Q", int(sys.argv[3], 16)))  # RAX
ev.insert(len(ev) // 2, uxtrace.Event.exit(C.EXIT_CPUID, 1, 0, [leaf]))
with open(sys.argv[2], "wb") as f:
    uxtrace.Trace(tr.header, ev).write(f)
PY
	# The first seed (in name order) whose exits reach the inserted one:
	# in some, the vCPU has stopped running by then (and it is skipped).
	s=""
	for c in $(ls "$FZB/seeds/exits"); do
		"$PYTHON" "$tmp/plant.py" "$FZB/seeds/exits/$c" "$tmp/plant-in" 4fff5e1f &&
			"$P/exits" -k "$tmp/plant-in" >/dev/null 2>&1
		[ $? -eq 3 ] && { s=$c; break; }
	done
	[ -n "$s" ] || bad "fuzz: a planted bug: no seed reaches it (the CPUID exit inserted in each)"
	bug="assertion failed: leaf != 0x4fff5e1fu"
	expect_msg "fuzz: a planted bug: the reproducer finds it and -k -o writes its trace" 3 "$bug" \
		"$P/exits" -k -o "$tmp/plant.uxt" "$tmp/plant-in" "$FZB/seeds/exits/$s"
	expect_msg "fuzz: a planted bug: uxen-replay on the -o trace exits 3 with its message" 3 "$bug" \
		"$P/rel/uxen-replay" -q --check-every 1 "$tmp/plant.uxt"
	expect_msg "fuzz: a planted bug: fuzz-minimize shrinks its trace" 0 "-> [1-9] events.*$bug" \
		"$PYTHON" scripts/fuzz-minimize.py --replay "$P/rel/uxen-replay" "$tmp/plant.uxt" "$tmp/plant-min.uxt"
	expect_msg "fuzz: a planted bug: the minimal trace fails the same way" 3 "$bug" \
		"$P/rel/uxen-replay" -q --check-every 1 "$tmp/plant-min.uxt"
	expect "fuzz: a planted bug: the minimal trace passes without the bug" 0 \
		build/rel/uxen-replay -q --check-every 1 "$tmp/plant-min.uxt"
	expect_msg "fuzz: a planted bug: fuzz-trace makes the finding a trace that fails the same way" 3 \
		"uxen-replay exits 3: .*$bug" "$PYTHON" scripts/fuzz-trace.py --repro "$P" \
		--replay "$P/rel/uxen-replay" exits "$tmp/plant-in" "$tmp/ft.uxt"
	# A bug ASan reports (a write past a 4-word stack array, on another
	# leaf at the same place): the reproducer dies mid-run, its hook
	# writes the trace that ran, and an ASan uxen-replay with the same
	# bug reports the same overflow; the real build passes it.
	[ -n "$s" ] && "$PYTHON" "$tmp/plant.py" "$FZB/seeds/exits/$s" "$tmp/asan-in" 4fff5e20
	abug="stack-buffer-overflow .*exit_cpuid.c:[0-9:]* in hv_leaf"
	expect_msg "fuzz: a planted ASan bug: the reproducer's -o writes the trace that ran before it dies" 1 \
		"wrote $tmp/asan.uxt, the run up to the sanitizer" "$P/exits" -k -o "$tmp/asan.uxt" "$tmp/asan-in"
	expect_msg "fuzz: a planted ASan bug: an ASan uxen-replay reports the same overflow on that trace" 1 \
		"SUMMARY: AddressSanitizer: $abug" "$P/asan-clang/uxen-replay" -q --check-every 1 "$tmp/asan.uxt"
	expect "fuzz: a planted ASan bug: the trace passes without the bug" 0 \
		build/rel/uxen-replay -q --check-every 1 "$tmp/asan.uxt"
	expect_msg "fuzz: a planted ASan bug: fuzz-minimize shrinks its trace on the ASan build" 0 \
		"-> [1-9] events.*$abug" "$PYTHON" scripts/fuzz-minimize.py --replay "$P/asan-clang/uxen-replay" \
		"$tmp/asan.uxt" "$tmp/asan-min.uxt"
	expect_msg "fuzz: a planted ASan bug: the minimal trace gives the same report" 1 \
		"SUMMARY: AddressSanitizer: $abug" "$P/asan-clang/uxen-replay" -q --check-every 1 "$tmp/asan-min.uxt"
	expect_msg "fuzz: a planted ASan bug: fuzz-trace replays it on the ASan build, to the same report" 1 \
		"uxen-replay exits 1: SUMMARY: AddressSanitizer: $abug" "$PYTHON" scripts/fuzz-trace.py \
		--repro "$P" --asan-replay "$P/asan-clang/uxen-replay" exits "$tmp/asan-in" "$tmp/ft-asan.uxt"
else
	bad "fuzz: the planted-bug builds are missing (make build/fuzz/plant/exits build/fuzz/plant/rel/uxen-replay; make VARIANT=asan-clang build/fuzz/plant/asan-clang/uxen-replay)"
fi

# fuzz-trace on decode findings: the bytes (a move in each mode) become an
# MMIO exit that reads and one that writes, on the exits target's template;
# the one in the instruction's direction is emulated (an I/O request),
# the other stops the domain; the trace holds the bytes the handler fetched.
cat >"$tmp/ft-check.py" <<'PY'
import struct, sys
sys.path.insert(0, "scripts")
import uxtrace, uxen_consts as C
code = open(sys.argv[2], "rb").read()[1:]
fetched = [i.data[8:] for e in uxtrace.read_trace(sys.argv[1]).events
           if e.kind == C.UXT_EV_EXIT and e.arg == C.EXIT_EPT_VIOLATION
           for i in e.items if i.tag == C.UXT_IT_MEM_IN]
sys.exit(0 if len(fetched) == 2 and all(f[:len(code)] == code for f in fetched) else 1)
PY
for m in '\010\211\030' '\004\213\103\004' '\002\211\030'; do
	printf "$m" >"$tmp/dec-in"
	expect_msg "fuzz: fuzz-trace makes a decode input ($(od -An -tx1 "$tmp/dec-in" | tr -d ' ')) an MMIO trace" 0 \
		"uxen-replay exits 0" "$PYTHON" scripts/fuzz-trace.py decode "$tmp/dec-in" "$tmp/dec.uxt"
	expect "fuzz: ... which emulates one of its two accesses and holds its bytes" 0 sh -c \
		"build/rel/uxen-replay -s '$tmp/dec.uxt' 2>&1 | grep -q 'fate IOREQ  *1\$' &&
		 build/rel/uxen-replay -s '$tmp/dec.uxt' 2>&1 | grep -q 'fate CRASHED  *1\$' &&
		 $PYTHON '$tmp/ft-check.py' '$tmp/dec.uxt' '$tmp/dec-in'"
done
for t in memory hypercalls; do
	s=$(ls "$FZB/seeds/$t" | head -n 1)
	expect_msg "fuzz: fuzz-trace makes a $t input a trace that runs clean" 0 "uxen-replay exits 0" \
		"$PYTHON" scripts/fuzz-trace.py "$t" "$FZB/seeds/$t/$s" "$tmp/ft-$t.uxt"
done
s=$(ls "$FZB/seeds/trace" | head -n 1)
expect_msg "fuzz: fuzz-trace takes a trace input as it is" 0 "uxen-replay exits 0" \
	"$PYTHON" scripts/fuzz-trace.py trace "$FZB/seeds/trace/$s" "$tmp/tr.uxt"
if grep -q "replaying with .*asan" "$tmp/out"; then ok "fuzz: ... and replays it on the ASan uxen-replay"; else
	bad "fuzz: fuzz-trace replays a trace finding on the ASan uxen-replay"; fi
expect "fuzz: ... byte for byte" 0 cmp "$FZB/seeds/trace/$s" "$tmp/tr.uxt"
# fuzz-trace's refusals: what | the message | target finding output.
printf '\010' >"$tmp/dec-short"
cp "$tmp/dec-in" "$tmp/dec-same"
while IFS='|' read -r what msg args; do
	# shellcheck disable=SC2086 # $args is the three arguments
	expect_msg "fuzz: fuzz-trace refuses $what" 2 "$msg" "$PYTHON" scripts/fuzz-trace.py $args
done <<EOF_REFUSALS
an unknown target|unknown target|nope $tmp/dec-in $tmp/x.uxt
a missing finding|cannot read|exits $tmp/none $tmp/x.uxt
a decode input without instruction bytes|at least one instruction byte|decode $tmp/dec-short $tmp/x.uxt
to write over the finding|the finding itself|exits $tmp/dec-same $tmp/dec-same
a folder as the finding|cannot read|exits $tmp $tmp/x.uxt
an output it cannot write|cannot write|exits $tmp/dec-in $tmp/no/such/dir/x.uxt
EOF_REFUSALS
expect "fuzz: ... and leaves the finding it was told to write over as it was" 0 cmp "$tmp/dec-in" "$tmp/dec-same"
expect_msg "fuzz: make fuzz-trace refuses an unknown target" 2 "usage: make fuzz-trace" \
	make --no-print-directory fuzz-trace TARGET=nope INPUT="$tmp/dec-in" OUT="$tmp/x.uxt"

# Bad arguments: a clear message and exit 2, before anything runs.
for a in "bogus all 60 1" "libfuzzer nope 60 1" "libfuzzer exits abc 1" "libfuzzer exits 0 1" \
	"afl exits 10 0"; do
	# shellcheck disable=SC2086 # $a is the four arguments
	expect_msg "fuzz: make fuzz refuses ENGINE TARGET SECONDS JOBS = $a" 2 "usage: make fuzz" \
		sh scripts/fuzz-run.sh --check $a
done
expect_msg "fuzz: the AFL++ campaign script refuses an unknown target" 2 "unknown target 'nope'" \
	sh scripts/fuzz-afl-campaign.sh nope 5
expect_msg "fuzz: the AFL++ campaign script refuses SECONDS=abc" 2 "SECONDS must be" \
	sh scripts/fuzz-afl-campaign.sh exits abc
# With every core taken by a process bound to it (AFL++ counts the cpuN
# lines of /proc/stat), AFL++ cannot bind: the campaign's instance runs
# unbound, and the campaign says so. The sleeps go at the end, or on an
# interrupt: left running, they would keep every fuzzer on this machine
# from binding.
busy=""
trap 'kill $busy 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM # and the runner's own
for c in $(sed -n 's/^cpu\([0-9][0-9]*\) .*/\1/p' /proc/stat); do
	taskset -c "$c" sleep 60 &
	busy="$busy $!"
done
expect_msg "fuzz: a campaign with no free core runs unbound" 0 "main ran unbound: no free core" \
	env FUZZ_WORK="$tmp/camp" sh scripts/fuzz-afl-campaign.sh decode 2 1
# shellcheck disable=SC2086 # the pids
kill $busy 2>/dev/null
busy=""
trap 'rm -rf "$tmp"' EXIT INT TERM # the runner's (scripts/run-tests.sh)
expect "fuzz: ... and its instance ran" 0 \
	grep -q '^execs_done *: *[1-9]' "$tmp/camp/afl-sync/decode/main/fuzzer_stats"
expect_msg "fuzz: -o is refused where inputs are not traces (decode)" 2 "not hypervisor traces" \
	"$FZB/repro/decode" -o "$tmp/dec.uxt" "$FZB/seeds/decode"
expect_msg "fuzz: the reproducer refuses a missing input" 2 "No such file" \
	"$FZB/repro/memory" "$tmp/no-such-input"
expect_msg "fuzz: -d counts each input once" 0 ": 2 inputs run" \
	sh -c "mkdir -p '$tmp/two' && cp '$FZB/seeds/exits/$(ls "$FZB/seeds/exits" | head -n 1)' '$tmp/two/a' && cp '$tmp/two/a' '$tmp/two/b' && '$FZB/repro/exits' -d '$tmp/two'"
expect "fuzz: fuzz/build.sh stops at a failing compile (run with sh)" 1 \
	env CC=false OUT="$tmp/oss-bad" WORK="$tmp/oss-bad-work" sh fuzz/build.sh
for a in "$tmp/no-such.uxt" Makefile scripts; do
	expect_msg "fuzz: fuzz-minimize refuses $(basename "$a") with a message" 2 "^fuzz-minimize: " \
		"$PYTHON" scripts/fuzz-minimize.py "$a" "$tmp/min2.uxt"
done
expect_msg "fuzz: fuzz-minimize refuses an output it cannot write" 2 "cannot write" \
	"$PYTHON" scripts/fuzz-minimize.py traces/corpus/boot.uxt "$tmp/no/such/dir/min.uxt"
