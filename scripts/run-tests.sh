#!/bin/sh
# The test runner behind `make test`: unit and scenario tests (gcc and
# clang, ASan + UBSan), replay of every trace under traces/, negative tests
# of the command-line tools, and the Python tests. Ends with the summary
# line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0
failed=0
skipped=0
failures=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

ok() { passed=$((passed + 1)); echo "ok   $1"; }
skip() { skipped=$((skipped + 1)); echo "skip $1"; }
bad() { failed=$((failed + 1)); failures="$failures
  $1"; echo "FAIL $1"; }

# expect NAME STATUS CMD...: CMD must exit with STATUS.
expect() {
	name=$1 want=$2
	shift 2
	"$@" >"$tmp/out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else
		bad "$name (exit $got, expected $want)"
		sed 's/^/    /' "$tmp/out" | tail -n 15
	fi
}

# expect_msg NAME STATUS PATTERN CMD...: also the output must match PATTERN.
expect_msg() {
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$pat" "$tmp/out"; then ok "$name"; else
		bad "$name (exit $got, expected $want and /$pat/)"
		sed 's/^/    /' "$tmp/out" | tail -n 15
	fi
}

# Unit and scenario tests: each binary prints "N passed, N failed".
for v in asan-gcc asan-clang; do
	echo "== unit tests ($v)"
	"build/$v/uxen-tests" >"$tmp/unit" 2>&1
	rc=$?
	grep -v '^ok ' "$tmp/unit"
	line=$(tail -n 1 "$tmp/unit")
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		bad "uxen-tests ($v) crashed (exit $rc)"
	else
		passed=$((passed + p))
		failed=$((failed + f))
		# A non-zero exit after a clean summary (a crash or a sanitizer's
		# report as it ends) is a failure too.
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
		[ "$f" -eq 0 ] && [ "$rc" -eq 0 ] || failures="$failures
  uxen-tests ($v): $f failed, exit $rc"
	fi
done

echo "== trace corpus"
R=build/asan-gcc/uxen-replay
for t in $(find traces -name '*.uxt' | sort); do
	expect "replay $t" 0 "$R" --check-every 1 "$t"
done

echo "== generator determinism and corpus freshness"
for s in boot hostile fork; do
	build/asan-gcc/uxen-gen "$s" "$tmp/$s.1.uxt" 2>/dev/null &&
		build/asan-clang/uxen-gen "$s" "$tmp/$s.2.uxt" 2>/dev/null
	if cmp -s "$tmp/$s.1.uxt" "$tmp/$s.2.uxt"; then ok "gen $s deterministic (gcc = clang)"; else bad "gen $s deterministic"; fi
	if cmp -s "$tmp/$s.1.uxt" "traces/corpus/$s.uxt"; then ok "traces/corpus/$s.uxt is what uxen-gen writes now"; else
		bad "traces/corpus/$s.uxt differs from uxen-gen $s (regenerate with scripts/regen-corpus.sh if intended)"; fi
done
expect "replay generated mix (10000 exits)" 0 sh -c \
	"build/rel/uxen-gen mix '$tmp/mix.uxt' 10000 2>/dev/null && $R -q '$tmp/mix.uxt'"

echo "== uxen-replay command line"
B=traces/corpus/boot.uxt
expect "--help exits 0" 0 "$R" --help
expect_msg "no arguments is a usage error" 2 "usage\|no trace" "$R"
expect_msg "unknown flag is a usage error" 2 "unknown" "$R" --frobnicate "$B"
expect_msg "bad --check-every is a usage error" 2 "check-every" "$R" --check-every x "$B"
expect_msg "missing file exits 2" 2 "No such file" "$R" "$tmp/none.uxt"
expect_msg "directory exits 2" 2 "regular file" "$R" traces
: >"$tmp/empty.uxt"
expect_msg "empty file exits 2 naming offset 0" 2 "offset 0" "$R" "$tmp/empty.uxt"
cp "$B" "$tmp/magic.uxt" && printf 'X' | dd of="$tmp/magic.uxt" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_msg "bad magic exits 2 naming offset 0" 2 "offset 0" "$R" "$tmp/magic.uxt"
cp "$B" "$tmp/ver.uxt" && printf '\007' | dd of="$tmp/ver.uxt" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_msg "wrong version exits 2 naming offset 8" 2 "offset 8" "$R" "$tmp/ver.uxt"
size=$(wc -c <"$B")
head -c $((size - 5)) "$B" >"$tmp/trunc.uxt"
expect_msg "truncated trace exits 2 naming an offset" 2 "offset [0-9]" "$R" "$tmp/trunc.uxt"
cp "$B" "$tmp/len.uxt" && printf '\377\377\377\177' | dd of="$tmp/len.uxt" bs=1 seek=36 conv=notrunc 2>/dev/null
expect_msg "absurd event length exits 2 naming offset 32" 2 "offset 32" "$R" "$tmp/len.uxt"
cp "$B" "$tmp/kind.uxt" && printf '\011' | dd of="$tmp/kind.uxt" bs=1 seek=32 conv=notrunc 2>/dev/null
expect_msg "unknown event kind exits 2 naming offset 32" 2 "offset 32" "$R" "$tmp/kind.uxt"
expect_msg "a diverging trace exits 1 naming event, field, expected and actual" 1 \
	"divergence: event [0-9]* .*expected .*got" sh -c \
	"$PYTHON scripts/tracetool.py flip-output '$B' '$tmp/div.uxt' GUEST_RIP && $R '$tmp/div.uxt'"
expect_msg "--keep-going counts every divergence" 1 "divergences" sh -c \
	"$PYTHON scripts/tracetool.py flip-output '$B' '$tmp/div2.uxt' GUEST_RIP all && $R -k '$tmp/div2.uxt'"
expect_msg "events out of order exit 2" 2 "out of order\|does not exist" sh -c \
	"$PYTHON scripts/tracetool.py drop-event '$B' '$tmp/ooo.uxt' DOMAIN_UNPAUSE && $R '$tmp/ooo.uxt'"
expect_msg "--stats prints exits by reason and exits/s" 0 "exits/s" "$R" --stats "$B"
expect_msg "--dump lists the trace" 0 "CPUID" "$R" --dump "$B"
expect_msg "uxen-gen rejects an unknown scenario" 2 "no scenario" build/rel/uxen-gen nope "$tmp/x.uxt"

# Suites of the other parts of the project: each is sourced here and uses
# ok / bad / expect / expect_msg and $tmp.
for suite in scripts/suites/*.sh; do
	[ -f "$suite" ] || continue
	echo "== $(basename "$suite" .sh)"
	. "$suite"
done

echo "== python"
"$PYTHON" scripts/test_uxtrace.py >"$tmp/py" 2>&1
rc=$?
pyp=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$tmp/py")
if [ "$rc" -eq 0 ] && [ -n "$pyp" ]; then passed=$((passed + pyp)); echo "ok   python: $pyp tests"; else
	bad "python tests"; tail -n 30 "$tmp/py"; fi

if [ -n "$failures" ]; then echo "failures:$failures"; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
