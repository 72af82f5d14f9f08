#!/bin/sh
# `make fuzz`: run fuzz targets for a while, with progress.
#   scripts/fuzz-run.sh ENGINE TARGET SECONDS [JOBS]
# ENGINE libfuzzer or afl; TARGET one of exits memory hypercalls trace
# decode, or all (each in turn, SECONDS each). The corpus lives in
# build/fuzz/corpus/<target> (seeded from build/fuzz/seeds), findings in
# build/fuzz/findings/<target>/. Turn a finding into a trace with
#   build/fuzz/repro/<target> -o crash.uxt FINDING
# and shrink it with scripts/fuzz-minimize.py crash.uxt min.uxt.
set -eu
cd "$(dirname "$0")/.."
engine=${1:-libfuzzer} target=${2:-all} secs=${3:-60} jobs=${4:-1}
[ "$target" = all ] && target="exits memory hypercalls trace decode"
found=0
for t in $target; do
	corpus=build/fuzz/corpus/$t findings=build/fuzz/findings/$t
	mkdir -p "$corpus" "$findings"
	# A new corpus starts from the seeds and the committed corpus of
	# earlier campaigns (fuzz/corpus/<t>, refresh it with -merge=1).
	if [ -z "$(ls "$corpus")" ]; then
		cp build/fuzz/seeds/$t/* "$corpus/"
		[ -d fuzz/corpus/$t ] && cp fuzz/corpus/$t/* "$corpus/"
	fi
	before=$(ls "$findings" | wc -l)
	echo "== fuzz $t with $engine for ${secs}s (corpus $corpus, findings $findings)"
	case $engine in
	libfuzzer|lf)
		# progress: libFuzzer's own lines (pulse, NEW, REDUCE), one per event
		build/fuzz/lf/$t -max_total_time="$secs" -max_len=4096 -timeout=10 \
			-dict=build/fuzz/seeds/$t.dict -artifact_prefix="$findings/" \
			-print_final_stats=1 $( [ "$jobs" -gt 1 ] && echo "-fork=$jobs -ignore_crashes=1" ) \
			"$corpus" 2>&1 | grep --line-buffered -E "pulse|INITED|DONE|ERROR|SUMMARY|fuzz |stat::number_of_executed_units|stat::average_exec_per_sec" || true
		;;
	afl)
		sh scripts/fuzz-afl-campaign.sh "$t" "$secs" "$jobs"
		;;
	*) echo "fuzz-run: unknown engine $engine (libfuzzer or afl)" >&2; exit 2 ;;
	esac
	after=$(ls "$findings" | wc -l)
	[ "$after" -gt "$before" ] && { echo "fuzz $t: $((after - before)) new findings in $findings"; found=1; }
done
exit $found
