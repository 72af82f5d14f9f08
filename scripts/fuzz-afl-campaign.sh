#!/bin/sh
# An AFL++ campaign on one target: one -M main instance and JOBS-1 -S
# secondaries sharing the sync directory build/fuzz/afl-sync/<target>; it
# can be resumed (AFL_AUTORESUME) and more -S instances (other machines
# syncing the same directory) can join. Progress: a status line every 10 s.
#   scripts/fuzz-afl-campaign.sh TARGET SECONDS [JOBS]
# A new campaign starts from the seeds and the committed corpus
# (fuzz/corpus/<target>); an existing sync directory is resumed (remove
# build/fuzz/afl-sync/<target> to start afresh). At the end, the crashes
# and hangs this run found are copied to
# build/fuzz/findings/<target>/ and the queue to build/fuzz/corpus/<target>
# (what make fuzz's libFuzzer runs and make coverage start from). Exit 1 if
# an instance failed (its log is shown), 2 on bad arguments.
# FUZZ_WORK=DIR puts the sync, input, findings and corpus folders under DIR
# (relative to the current folder) instead of build/fuzz (the tests'
# campaigns leave a user's alone).
set -eu
case ${FUZZ_WORK:-} in
"" | /*) ;;
*) FUZZ_WORK=$PWD/$FUZZ_WORK ;;
esac
cd "$(dirname "$0")/.."
. scripts/numarg.sh
. scripts/aflbound.sh
usage() {
	echo "fuzz-afl-campaign: $*" >&2
	echo "usage: scripts/fuzz-afl-campaign.sh $(sh scripts/fuzz-targets.sh | paste -sd'|') SECONDS [JOBS]" >&2
	exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage "wrong number of arguments"
t=$1 secs=$2 jobs=${3:-1}
sh scripts/fuzz-targets.sh | grep -qx -- "$t" || usage "unknown target '$t'"
# Bounds as make fuzz's (scripts/fuzz-run.sh).
num_in_range "$secs" 1 2592000 || usage "SECONDS must be 1 to 2592000 (30 days), not '$secs'"
num_in_range "$jobs" 1 1024 || usage "JOBS must be 1 to 1024, not '$jobs'"
bin=build/fuzz/afl/$t seeds=build/fuzz/seeds/$t
[ -x "$bin" ] || usage "$bin is not built (make build/fuzz/afl/$t, or make fuzz ENGINE=afl)"
[ -d "$seeds" ] || usage "$seeds is missing (make fuzz-seeds)"
command -v afl-fuzz >/dev/null || usage "afl-fuzz is not installed (sh scripts/deps.sh fuzz)"
work=${FUZZ_WORK:-build/fuzz}
sync=$work/afl-sync/$t findings=$work/findings/$t in=$work/afl-in/$t
mkdir -p "$sync" "$findings"
rm -rf "$in" && mkdir -p "$in"
cp "$seeds"/* "$in/"
[ -d fuzz/corpus/$t ] && cp fuzz/corpus/$t/* "$in/"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_AUTORESUME=1 AFL_QUIET=1
# A target that cannot run a seed at all is said in its own words here,
# before AFL++ makes it "Fork server handshake failed".
first=$(ls "$seeds" | head -n 1)
if [ -n "$first" ] && ! "$bin" "$seeds/$first" >/dev/null 2>"$sync/preflight.err"; then
	echo "fuzz-afl-campaign: $bin fails on the seed $seeds/$first:" >&2
	tail -n 5 "$sync/preflight.err" | sed 's/^/    /' >&2
	exit 1
fi
# What this run finds is what is newer than this mark: a resumed sync
# directory still holds the findings of earlier runs.
touch "$sync/.started"
run=$(date +%Y%m%d-%H%M%S) # in the names of its findings: a resumed AFL++ numbers them from 0 again
# Each instance is bound to a core of its own where one is free (AFL++'s
# default): an unbound instance and its target meet on different cores at
# every input, and on the 2-core VM this was written on that made a lone
# persistent-mode instance three times slower (exits: 4.7k execs/s unbound,
# 14.5k bound; with one instance per core, 4%). Where no core is free (more JOBS than cores, or other
# fuzzers bound already), AFL_TRY_AFFINITY has it run unbound rather than
# refuse to start; the end of the run says which did. A bound start takes
# the sync folder's lock, which an instance killed as it started leaves
# behind, and which would make every later start wait for good.
rm -f "$sync/.affinity_lock"
pids="" names=""
for i in $(seq 1 "$jobs"); do
	role=-S name=s$i
	[ "$i" -eq 1 ] && role=-M name=main
	AFL_TRY_AFFINITY=1 afl-fuzz -i "$in" -o "$sync" $role "$name" -m none -t 1000+ -V "$secs" \
		-x "$seeds.dict" -- "$bin" >"$sync/$name.log" 2>&1 &
	pids="$pids $!" names="$names $name"
done
# An instance's execs/s, but "-" for its first seconds, where AFL++ gives
# noise ("inf", millions a second).
rate() {
	awk -F' *: *' '{ v[$1] = $2 }
		END { print (v["last_update"] - v["start_time"] >= 5 ? v["execs_per_sec"] : "-") }' "$1"
}
end=$(( $(date +%s) + secs + 60 ))
while [ "$(date +%s)" -lt "$end" ] && kill -0 $pids 2>/dev/null; do
	sleep 10
	for st in "$sync"/*/fuzzer_stats; do
		# an instance that has not written its stats in this run yet
		# (a resumed directory holds the last run's)
		[ -f "$st" ] && [ "$st" -nt "$sync/.started" ] || continue
		printf '  %s: %s execs, %s/s, corpus %s, crashes %s, hangs %s, stability %s\n' \
			"$(basename "$(dirname "$st")")" "$(sed -n 's/^execs_done *: *//p' "$st")" \
			"$(rate "$st")" "$(sed -n 's/^corpus_count *: *//p' "$st")" \
			"$(sed -n 's/^saved_crashes *: *//p' "$st")" "$(sed -n 's/^saved_hangs *: *//p' "$st")" \
			"$(sed -n 's/^stability *: *//p' "$st")"
	done
done
failed=0
set -- $names
for p in $pids; do
	name=$1
	shift
	log=$sync/$name.log
	if wait "$p"; then
		# Said after the run: AFL++ writes its log in 8 KiB blocks.
		afl_bound "$log" || echo "fuzz-afl-campaign: $name ran unbound: no free core" >&2
		continue
	fi
	failed=1
	# AFL++ colours its messages: without them, its reason (the PROGRAM
	# ABORT line, what the target printed) and the end of the log.
	echo "fuzz-afl-campaign: $name failed; from $log:" >&2
	esc=$(printf '\033')
	sed -e "s/$esc\[[0-9;?]*[A-Za-z]//g" -e "s/$esc[()][A-Za-z0-9]//g" "$log" | grep -v '^ *$' >"$sync/$name.plain" || true
	if grep -q 'PROGRAM ABORT' "$sync/$name.plain"; then
		grep -B 8 -A 1 'PROGRAM ABORT' "$sync/$name.plain" | tail -n 10
	else
		tail -n 8 "$sync/$name.plain"
	fi | sed 's/^/    /' >&2
done
for c in "$sync"/*/crashes/id* "$sync"/*/hangs/id*; do
	[ -f "$c" ] && [ "$c" -nt "$sync/.started" ] || continue
	kind=$(basename "$(dirname "$c")") who=$(basename "$(dirname "$(dirname "$c")")")
	cp "$c" "$findings/afl-$run-$who-$kind-$(basename "$c" | cut -c1-9)"
done
mkdir -p "$work/corpus/$t"
for q in "$sync"/*/queue/id*; do
	case $q in *,orig:*) continue ;; esac # the inputs it started from
	[ -f "$q" ] && cp "$q" "$work/corpus/$t/afl-$(basename "$(dirname "$(dirname "$q")")")-$(basename "$q" | cut -c1-9)"
done
exit $failed
