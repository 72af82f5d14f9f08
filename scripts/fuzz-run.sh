#!/bin/sh
# `make fuzz`: run fuzz targets for a while, with progress.
#   scripts/fuzz-run.sh [--check] ENGINE TARGET SECONDS [JOBS]
# ENGINE libfuzzer or afl; TARGET one of scripts/fuzz-targets.sh's, or all (each in turn, SECONDS each); JOBS parallel instances.
# --check only checks the arguments (make fuzz does, before it builds).
# The corpus lives in build/fuzz/corpus/<target> (each run also reads
# build/fuzz/seeds and the committed fuzz/corpus/<target>), findings in
# build/fuzz/findings/<target>/. Turn a finding into a trace with
#   build/fuzz/repro/<target> -o crash.uxt FINDING
# and shrink it with scripts/fuzz-minimize.py crash.uxt min.uxt.
set -eu
cd "$(dirname "$0")/.."
. scripts/numarg.sh
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
# Given but empty (make fuzz TARGET=) is not the default: it is refused.
engine=${1-libfuzzer} target=${2-all} secs=${3-60} jobs=${4-1}
TARGETS=$(sh scripts/fuzz-targets.sh | tr "\n" " ")
usage() {
	echo "fuzz: $*" >&2
	echo "usage: make fuzz [ENGINE=libfuzzer|afl] [TARGET=$(echo $TARGETS | tr ' ' '|')|all] [SECONDS=N] [JOBS=N]" >&2
	exit 2
}
[ $# -le 4 ] || { shift 4; usage "extra arguments after JOBS: $*"; }
case $engine in libfuzzer|lf|afl) ;; *) usage "unknown engine '$engine'" ;; esac
[ "$target" = all ] && target=$TARGETS
# Names only: no pattern for the shell to expand, nothing but spaces.
case $target in *[!a-z\ ]*) usage "unknown target '$target'" ;; esac
[ -n "$(echo $target)" ] || usage "no target"
for t in $target; do
	case " $TARGETS " in *" $t "*) ;; *) usage "unknown target '$t'" ;; esac
done
# libFuzzer reads -max_total_time=0 as "no limit": a bad SECONDS would
# fuzz forever (and one past its int, too).
num_in_range "$secs" 1 2592000 || usage "SECONDS must be 1 to 2592000 (30 days), not '$secs'"
num_in_range "$jobs" 1 1024 || usage "JOBS must be 1 to 1024, not '$jobs'"
# The targets' lower cap on events per input (fuzz/fuzz.c reads it): a bad
# one is said here, not found by the fuzzer as a crash of every input.
if [ -n "${FUZZ_MAX_EVENTS+x}" ]; then
	cap=$(sed -n 's/^#define FZ_MAX_EVENTS \([0-9]*\).*/\1/p' fuzz/fuzz.h)
	num_in_range "$FUZZ_MAX_EVENTS" 1 "$cap" || usage "FUZZ_MAX_EVENTS must be 1 to $cap, not '$FUZZ_MAX_EVENTS'"
fi
[ "$check" = 1 ] && exit 0
PYTHON=${PYTHON:-/usr/bin/python3}
found=0
for t in $target; do
	corpus=build/fuzz/corpus/$t findings=build/fuzz/findings/$t
	mkdir -p "$corpus" "$findings"
	# Every run also reads the seeds (regenerated when traces/ changes)
	# and the committed corpus of earlier campaigns (fuzz/corpus/<t>,
	# refresh it with -merge=1); libFuzzer writes only to the first folder.
	more="build/fuzz/seeds/$t"
	[ -d fuzz/corpus/$t ] && more="$more fuzz/corpus/$t"
	before=$(ls "$findings" | wc -l)
	case $engine in
	libfuzzer|lf)
		echo "== fuzz $t with $engine for ${secs}s (corpus $corpus, findings $findings)"
		# progress: the newest status line every 10 s, and every line
		# about a finding (scripts/fuzz-progress.py)
		build/fuzz/lf/$t -max_total_time="$secs" -max_len=4096 -timeout=10 \
			-dict=build/fuzz/seeds/$t.dict -artifact_prefix="$findings/" \
			-print_final_stats=1 $( [ "$jobs" -gt 1 ] && echo "-fork=$jobs -ignore_crashes=1" ) \
			"$corpus" $more 2>&1 | "$PYTHON" scripts/fuzz-progress.py || true
		;;
	afl)
		# AFL++ starts from build/fuzz/afl-in/<t> (the seeds and the
		# committed corpus) and keeps its queue in the sync folder; new
		# queue entries are copied to the corpus folder at the end.
		echo "== fuzz $t with $engine for ${secs}s (input build/fuzz/afl-in/$t, sync build/fuzz/afl-sync/$t, new inputs to $corpus, findings $findings)"
		# A failed instance fails the run, after the other targets.
		sh scripts/fuzz-afl-campaign.sh "$t" "$secs" "$jobs" ||
			{ echo "fuzz $t: the AFL++ campaign failed (see above)"; found=1; }
		;;
	esac
	after=$(ls "$findings" | wc -l)
	[ "$after" -gt "$before" ] && { echo "fuzz $t: $((after - before)) new findings in $findings"; found=1; }
done
exit $found
