# Sourced by scripts/run-tests.sh: the command-line tools against wrong
# input beyond a bad trace: odd files, numbers strtoull would misread,
# options the chosen mode would drop, output that cannot be written.
R=build/asan-gcc/uxen-replay
G=build/asan-gcc/uxen-gen
B=traces/corpus/boot.uxt

mkfifo "$tmp/fifo"
expect_msg "a FIFO is refused at once, not waited on" 2 "not a regular file" \
	timeout 20 "$R" "$tmp/fifo"
expect_msg "--check-every ' -1' is not taken as 2^64-1" 2 "check-every" "$R" --check-every " -1" "$B"
expect_msg "--mem-frames past what can be simulated is a usage error" 2 "mem-frames" \
	"$R" --mem-frames 4294967296 "$B"
expect_msg "... 2^27 + 1 too" 2 "512 to 2^27" "$R" --mem-frames 134217729 "$B"
cp "$B" "$tmp/frames.uxt" && printf '\377\377\377\377' | dd of="$tmp/frames.uxt" bs=1 seek=24 conv=notrunc 2>/dev/null
expect_msg "a header asking for too much memory exits 2, not 3" 2 "header asks for 4294967295 frames" \
	"$R" "$tmp/frames.uxt"
expect "... and replays with --mem-frames" 0 "$R" --mem-frames 262144 "$tmp/frames.uxt"
expect_msg "--dump to a full device exits 2" 2 "writing to standard output" \
	sh -c "'$R' --dump '$B' >/dev/full"
expect_msg "--stats to a full device exits 2" 2 "writing to standard output" \
	sh -c "'$R' --stats '$B' >/dev/full"
expect_msg "--parse-only --stats counts host calls and marks" 0 \
	"75 events: 51 exits, 21 host calls, 3 marks" "$R" --parse-only --stats "$B"
expect_msg "--dump refuses options it would ignore" 2 "dump runs nothing" "$R" --dump -k "$B"
expect_msg "--parse-only refuses options it would ignore" 2 "parse-only runs nothing" \
	"$R" --parse-only --check-every 1 "$B"
expect_msg "--no-check with --keep-going is refused" 2 "no-check" "$R" --no-check -k "$B"
# --keep-going's summary names the first divergence, once (it used to
# format the message into itself, and keep the last one).
"$PYTHON" scripts/tracetool.py flip-output "$B" "$tmp/flip.uxt" GUEST_RIP all >/dev/null 2>&1
"$R" -k "$tmp/flip.uxt" >"$tmp/k.out" 2>&1
first=$(sed -n 's/^.*: divergence: //p' "$tmp/k.out" | head -n 1)
if [ -n "$first" ] && grep -qF "divergences (first: $first)" "$tmp/k.out" &&
	[ "$(grep -o 'divergences (first:' "$tmp/k.out" | wc -l)" -eq 1 ]; then
	ok "--keep-going's summary names the first divergence, once"
else
	bad "--keep-going's summary names the first divergence, once"; sed 's/^/    /' "$tmp/k.out" | tail -n 5
fi

expect_msg "uxen-gen: N ' -1' is refused, not a runaway" 2 "N must be" timeout 20 "$G" mix "$tmp/g.uxt" " -1"
expect_msg "uxen-gen: N past the bound is refused" 2 "N must be" "$G" mix "$tmp/g.uxt" 100000001
expect_msg "uxen-gen: --list with more arguments is a usage error" 2 "unknown option" "$G" --list extra
expect_msg "uxen-bench-share: an unknown part is a usage error" 2 "usage" build/rel/uxen-bench-share bogus
expect_msg "uxen-tests: a filter that names no test fails" 2 "no test name" build/rel/uxen-tests no_such_test_xyz

# fuzz-seeds.py empties only a folder it made: pointed at a corpus by
# mistake it used to delete it.
mkdir -p "$tmp/corpus/exits" && echo keep >"$tmp/corpus/exits/input"
expect_msg "fuzz-seeds: a folder it did not make is refused" 2 "did not write" \
	"$PYTHON" scripts/fuzz-seeds.py --out "$tmp/corpus"
if [ "$(cat "$tmp/corpus/exits/input" 2>/dev/null)" = keep ]; then ok "... and its files are kept"; else
	bad "fuzz-seeds deleted a folder's files it did not write"; fi
expect_msg "fuzz-seeds: --out a file is refused" 2 "not a folder" "$PYTHON" scripts/fuzz-seeds.py --out "$B"
expect_msg "fuzz-seeds: a missing --gen is refused" 2 "not an executable" \
	"$PYTHON" scripts/fuzz-seeds.py --out "$tmp/tools-seeds1" --gen "$tmp/none"
expect_msg "fuzz-seeds: a failing --gen is one line, not a traceback" 2 "failed (exit 1)" \
	"$PYTHON" scripts/fuzz-seeds.py --out "$tmp/tools-seeds2" --gen /bin/false
mkdir -p "$tmp/bin" && ln -sf "$PWD/build/rel/uxen-gen" "$tmp/bin/uxen-gen"
expect_msg "fuzz-seeds: a bare --gen name is looked up in PATH" 0 "fuzz-seeds: decode" \
	env PATH="$tmp/bin:$PATH" "$PYTHON" scripts/fuzz-seeds.py --out "$tmp/tools-seeds4" --gen uxen-gen
expect_msg "fuzz-seeds: a missing --traces is refused" 2 "not a folder" \
	"$PYTHON" scripts/fuzz-seeds.py --out "$tmp/tools-seeds3" --traces "$tmp/none"

# The Python tools: one line and a non-zero exit, never a traceback.
notrace() { # NAME STATUS PATTERN CMD...: expect_msg, and no Python traceback
	n=$1; shift
	expect_msg "$n" "$@"
	if grep -q "Traceback" "$tmp/out"; then bad "$n: a Python traceback"; fi
}
printf 'UXT-BEGIN ../escape frames=512 events=0 bytes=0\nUXT-END ../escape\n' >"$tmp/s-path.log"
notrace "serial2uxt: a block name that is a path is refused" 2 "not a plain file name" \
	"$PYTHON" scripts/serial2uxt.py "$tmp/s-path.log" "$tmp/tools-s2u"
if [ -e "$tmp/escape.uxt" ]; then bad "serial2uxt wrote outside its folder"; else ok "... and nothing is written outside OUTDIR"; fi
printf 'UXT-BEGIN t frames=512 events=zz bytes=0\nUXT-END t\n' >"$tmp/s-num.log"
notrace "serial2uxt: a meta value that is not a number" 2 "KEY=NUMBER" "$PYTHON" scripts/serial2uxt.py "$tmp/s-num.log" "$tmp/tools-s2u"
printf 'UXT-BEGIN t frames=512 events=0\nUXT-END t\n' >"$tmp/s-key.log"
notrace "serial2uxt: a missing bytes=" 2 "no bytes=" "$PYTHON" scripts/serial2uxt.py "$tmp/s-key.log" "$tmp/tools-s2u"
printf 'UXT-BEGIN t frames=99999999999 events=0 bytes=0\nUXT-END t\n' >"$tmp/s-big.log"
notrace "serial2uxt: frames= out of range" 2 "out of range" "$PYTHON" scripts/serial2uxt.py "$tmp/s-big.log" "$tmp/tools-s2u"
printf 'UXT-BEGIN t frames=512 events=0 bytes=3\nUXT !!!\nUXT-END t\n' >"$tmp/s-b64.log"
notrace "serial2uxt: a line that is not base64" 2 "not base64" "$PYTHON" scripts/serial2uxt.py "$tmp/s-b64.log" "$tmp/tools-s2u"
printf 'UXT-BEGIN t frames=\302\262 events=0 bytes=0\nUXT-END t\n' >"$tmp/s-sup.log"
notrace "serial2uxt: a number that is not ASCII digits" 2 "KEY=NUMBER" "$PYTHON" scripts/serial2uxt.py "$tmp/s-sup.log" "$tmp/tools-s2u"
notrace "serial2uxt: a missing log" 2 "No such file" "$PYTHON" scripts/serial2uxt.py "$tmp/none.log" "$tmp/tools-s2u"
notrace "serial2uxt: OUTDIR that is a file" 2 "cannot make" "$PYTHON" scripts/serial2uxt.py "$tmp/s-key.log" "$B"
notrace "mkhvimage: a file shorter than the header" 2 "shorter than" "$PYTHON" scripts/mkhvimage.py /dev/null "$tmp/hv.img"
notrace "mkhvimage: a missing file" 2 "No such file" "$PYTHON" scripts/mkhvimage.py "$tmp/none" "$tmp/hv.img"
notrace "tracetool: an output that cannot be written" 2 "cannot write" \
	"$PYTHON" scripts/tracetool.py flip-output "$B" "$tmp/none/t.uxt" GUEST_RIP
notrace "tracetool: a misspelled 'all' is a usage error" 2 "flip-output IN OUT" \
	"$PYTHON" scripts/tracetool.py flip-output "$B" "$tmp/t.uxt" GUEST_RIP al
notrace "tracetool: extra arguments are a usage error" 2 "drop-event IN OUT" \
	"$PYTHON" scripts/tracetool.py drop-event "$B" "$tmp/t.uxt" HLT extra
expect "uxtrace.py --help exits 0" 0 "$PYTHON" scripts/uxtrace.py --help
notrace "uxtrace.py: a FIFO with no writer ends at once (no header)" 1 "offset 0" \
	timeout 20 "$PYTHON" scripts/uxtrace.py stats "$tmp/fifo"
expect_msg "uxtrace.py reads a pipe to its end" 0 "HOSTCALL" \
	sh -c "cat '$B' | '$PYTHON' scripts/uxtrace.py stats /dev/stdin"
cp "$B" "$tmp/finding.uxt"
notrace "fuzz-minimize: OUT the input itself is refused" 2 "input itself" \
	"$PYTHON" scripts/fuzz-minimize.py "$tmp/finding.uxt" "$tmp/finding.uxt"
if cmp -s "$B" "$tmp/finding.uxt"; then ok "... and the finding is kept"; else bad "fuzz-minimize changed its input"; fi
notrace "fuzz-minimize: an empty OUT is refused up front" 2 "cannot write" \
	"$PYTHON" scripts/fuzz-minimize.py "$tmp/finding.uxt" ""
notrace "fuzz-minimize: --replay as a bare name in the current folder" 2 "does not make uxen-replay exit 3" \
	sh -c "cd build/rel && '$PYTHON' ../../scripts/fuzz-minimize.py --replay uxen-replay ../../$B '$tmp/m.uxt'"
notrace "fuzz-trace: an output on a full device" 2 "cannot write" \
	"$PYTHON" scripts/fuzz-trace.py trace "$B" /dev/full

# Listings of what a hostile guest wrote: controls and invalid UTF-8 are
# \xNN (C1 controls drive terminals: 0x9b is CSI), the same in both tools.
"$PYTHON" - "$tmp/weird.uxt" <<'PY'
import sys
sys.path.insert(0, "scripts")
import uxtrace, uxen_consts as C
con = b"ok \x1b[31m|\xc2\x9b|\xe2\x80\xae|\xc2\xb5|\xff|\xed\xa0\x80|\xc0\xaf|\xe2\x80\x8e|\xe2\x80\xa8|" + b"x" * 160 + b"\xe2\x82\xac" * 10
evs = [uxtrace.Event.mark("mu \u00b5 rlo \u202e nel \u0085"),
       uxtrace.Event.exit(12, 1, 0, [uxtrace.Item(C.UXT_IT_CONSOLE_OUT, 0, con)])]
open(sys.argv[1], "wb").write(uxtrace.Trace(uxtrace.Header(C.UXT_HF_OUTPUTS, 0, 0), evs).pack())
PY
"$R" --dump "$tmp/weird.uxt" | grep -a 'CONSOLE\|MARK' >"$tmp/weird.c"
"$PYTHON" scripts/uxtrace.py dump "$tmp/weird.uxt" | grep -a 'CONSOLE\|MARK' >"$tmp/weird.py"
if [ -s "$tmp/weird.c" ] && cmp -s "$tmp/weird.c" "$tmp/weird.py"; then ok "uxen-replay and uxtrace.py list guest bytes the same way"; else
	bad "uxen-replay and uxtrace.py list guest bytes differently"; diff "$tmp/weird.c" "$tmp/weird.py" | head -n 6; fi
if grep -q '|\\xc2\\x9b|\\xe2\\x80\\xae|µ|\\xff|\\xed\\xa0\\x80|\\xc0\\xaf|\\xe2\\x80\\x8e|\\xe2\\x80\\xa8|' "$tmp/weird.c" &&
	grep -q 'nel \\xc2\\x85' "$tmp/weird.c" && ! LC_ALL=C grep -q "$(printf '\302\233')" "$tmp/weird.c"; then
	ok "... C1 and bidi controls and invalid UTF-8 escaped, valid UTF-8 shown"; else
	bad "guest bytes not escaped as expected"; cat "$tmp/weird.c"; fi

# The fuzzing commands' arguments (checked before anything is built or run).
expect_msg "make fuzz-trace: two targets is a usage error" 2 "usage: make fuzz-trace" \
	make -s --no-print-directory fuzz-trace TARGET='exits memory' INPUT=x OUT=y
cp "$B" "$tmp/it's.uxt"
expect_msg "make fuzz-trace: a TARGET pattern is a usage error" 2 "usage: make fuzz-trace" \
	make -s --no-print-directory fuzz-trace TARGET=% INPUT=x OUT=y
expect_msg "make fuzz-trace: paths with a quote in them" 0 "uxen-replay exits 0" \
	make -s --no-print-directory fuzz-trace TARGET=trace INPUT="$tmp/it's.uxt" OUT="$tmp/o'ut.uxt"
expect_msg "make fuzz: extra arguments are refused" 2 "extra arguments" sh scripts/fuzz-run.sh --check libfuzzer exits 10 1 x
expect_msg "make fuzz: an empty TARGET is refused, not 'all'" 2 "no target" sh scripts/fuzz-run.sh --check libfuzzer '' 10 1
expect_msg "make fuzz: FUZZ_MAX_EVENTS=0 is refused up front" 2 "FUZZ_MAX_EVENTS must be" \
	env FUZZ_MAX_EVENTS=0 sh scripts/fuzz-run.sh --check libfuzzer exits 10 1
expect_msg "make fuzz: FUZZ_MAX_EVENTS=' 5' is refused" 2 "FUZZ_MAX_EVENTS must be" \
	env FUZZ_MAX_EVENTS=" 5" sh scripts/fuzz-run.sh --check libfuzzer exits 10 1
expect_msg "fuzz-afl-campaign: a 20-digit SECONDS is refused in words" 2 "SECONDS must be 1 to" \
	sh scripts/fuzz-afl-campaign.sh exits 99999999999999999999
expect_msg "fuzz-afl-campaign: JOBS past 1024 is refused" 2 "JOBS must be 1 to 1024" \
	sh scripts/fuzz-afl-campaign.sh exits 10 5000
expect_msg "fuzz-targets.sh lists the targets from any folder" 0 "exits" sh -c "cd / && sh '$PWD/scripts/fuzz-targets.sh'"
if [ "$(CDPATH=.: sh scripts/fuzz-targets.sh | head -n 1)" = "$(sh scripts/fuzz-targets.sh | head -n 1)" ]; then
	ok "fuzz-targets.sh: CDPATH does not add a line"; else bad "fuzz-targets.sh: CDPATH adds a line"; fi
expect_msg "make coverage: FUZZ_CORPORA naming a missing folder" 2 "not a folder" \
	env FUZZ_CORPORA="$tmp/none" sh scripts/fuzz-coverage.sh

# The boot runners' arguments: refused before the emulator starts (exit 6),
# and an emulator that cannot start is "not run", not a guest crash.
if [ -f build/boot/disk.img ] && command -v bochs >/dev/null 2>&1 && command -v qemu-system-x86_64 >/dev/null 2>&1; then
	BB=scripts/boot-bochs.sh
	expect_msg "boot-bochs: -t 0 (no limit) is refused" 6 "SECONDS must be" sh $BB -t 0 host
	expect_msg "boot-bochs: a CPU count that is not a number" 6 "NCPUS must be" sh $BB -n abc host
	expect_msg "boot-bochs: an empty scenario" 6 "SCENARIO must be" sh $BB ''
	expect_msg "boot-bochs: a scenario that is a path" 6 "SCENARIO must be" sh $BB ../x
	expect_msg "boot-bochs: a config value past 63 characters" 6 "63 characters" \
		sh $BB -o "$tmp/boot-cfg" -s "x=$(head -c 600 /dev/zero | tr '\0' a)" host
	if [ ! -e "$tmp/boot-cfg" ]; then ok "... refused before the run folder is made"; else bad "boot-bochs made the run folder of a refused config"; fi
	expect_msg "boot-bochs: a config past its 512-byte sector" 6 "512-byte sector" \
		sh $BB -o "$tmp/boot-cfg" -s "$(printf 'k%d=v\n' $(seq 1 100))" host
	expect_msg "boot-bochs: a folder with a space" 6 "DIR must not" sh $BB -o "$tmp/a b" host
	expect_msg "boot-bochs: an unknown CPU model is not run, with Bochs's reason" 6 "cpu directive malformed" \
		sh $BB -c nosuchmodel -o "$tmp/boot-nomodel" host
	expect_msg "boot-qemu: an unknown accelerator" 6 "tcg or kvm" sh scripts/boot-qemu.sh -a bogus host
	expect_msg "boot-qemu: an unknown CPU is not run, with QEMU's reason" 6 "unable to find CPU model" \
		sh scripts/boot-qemu.sh -c nosuch -o "$tmp/boot-nocpu" host
else
	skip "boot runners' arguments (no disk image, Bochs or QEMU)"
fi
expect_msg "boot-demo: an unknown option" 2 "unknown option" sh scripts/boot-demo.sh -x
expect_msg "run.sh takes no arguments" 2 "no arguments" sh scripts/run.sh extra
expect_msg "regen-corpus.sh --help does not rewrite the corpus" 2 "no arguments" sh scripts/regen-corpus.sh --help
expect_msg "bench: a BENCH_EXITS that is not a number" 2 "BENCH_EXITS must be" env BENCH_EXITS=1e3 sh scripts/bench.sh
