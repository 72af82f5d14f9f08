#!/bin/sh
# `make bench`: figures measured in this run, each beside its reference.
#  1. Replay throughput (outputs checked) vs merely parsing the same trace,
#     for a generated trace of BENCH_EXITS (default 1,000,000) mixed exits.
#  2. Instructions of hypervisor code per exit, by exit kind, counted by
#     callgrind inside hv_vcpu_exit only (reproducible on a noisy machine).
set -eu
cd "$(dirname "$0")/.."
N=${BENCH_EXITS:-1000000}
. scripts/numarg.sh
num_in_range "$N" 1 100000000 ||
	{ echo "bench: BENCH_EXITS must be a number from 1 to 100000000, not '$N'" >&2; exit 2; }
B=build/rel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== replay throughput (one core, outputs checked)"
$B/uxen-gen mix "$tmp/mix.uxt" "$N" 2>&1 | sed 's/^/  /'
rate() { sed -n 's/.*time \([0-9.]*\) s, \([0-9]*\) exits\/s.*/\2/p'; }
best_replay=0
best_parse=0
for i in 1 2 3; do
	r=$($B/uxen-replay --stats --no-progress -q "$tmp/mix.uxt" | rate)
	p=$($B/uxen-replay --stats --no-progress -q --parse-only "$tmp/mix.uxt" | rate)
	[ "$r" -gt "$best_replay" ] && best_replay=$r
	[ "$p" -gt "$best_parse" ] && best_parse=$p
done
size=$(wc -c <"$tmp/mix.uxt")
echo "  trace: $N exits, $size bytes ($((size / N)) bytes/exit)"
echo "  replay with output checking: $best_replay exits/s (best of 3)"
echo "  parsing only, same trace:    $best_parse exits/s"
awk -v r="$best_replay" -v p="$best_parse" 'BEGIN {
	printf "  replay / parse: %.2f; replay / target 2,000,000: %.2fx; replay / IRIS (~30,000): %.0fx\n",
		r / p, r / 2000000, r / 30000 }'

echo "== instructions per exit in hv_vcpu_exit (callgrind), marginal cost over 1000 exits"
if ! command -v valgrind >/dev/null; then
	echo "  valgrind missing: run scripts/deps.sh bench"
	exit 1
fi
count() {
	valgrind --tool=callgrind --toggle-collect=hv_vcpu_exit \
		--callgrind-out-file="$tmp/cg.out" $B/uxen-replay -q "$1" >/dev/null 2>"$tmp/cg.err" || {
		cat "$tmp/cg.err" >&2
		return 1
	}
	sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg.out"
}
printf "  %-8s %10s\n" kind "instr/exit"
for k in cpuid rdmsr wrmsr cr3 cr0 console out in mmio rdtsc vmcall hlt extint timer; do
	$B/uxen-gen "repeat-$k" "$tmp/a.uxt" 1000 2>/dev/null
	$B/uxen-gen "repeat-$k" "$tmp/b.uxt" 2000 2>/dev/null
	a=$(count "$tmp/a.uxt")
	b=$(count "$tmp/b.uxt")
	per=$(( (b - a) / 1000 ))
	note=""
	[ "$k" = cpuid ] && note="  (target <= 500: $( [ "$per" -le 500 ] && echo met || echo MISSED ))"
	printf "  %-8s %10d%s\n" "$k" "$per" "$note"
done

# Fuzzing throughput (fuzz/README.md).
sh scripts/bench-fuzz.sh

# vmfork and page sharing (harness/bench/bench_share.c).
echo "== vmfork and page sharing"
$B/uxen-bench-share
