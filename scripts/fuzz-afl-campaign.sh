#!/bin/sh
# An AFL++ campaign on one target: one -M main instance and JOBS-1 -S
# secondaries sharing the sync directory build/fuzz/afl-sync/<target>; it
# can be resumed (AFL_AUTORESUME) and more -S instances (other machines
# syncing the same directory) can join. Progress: a status line every 10 s.
#   scripts/fuzz-afl-campaign.sh TARGET SECONDS [JOBS]
# A new campaign starts from the seeds and the committed corpus
# (fuzz/corpus/<target>). At the end, crashes and hangs are copied to
# build/fuzz/findings/<target>/ and the queue to build/fuzz/corpus/<target>
# (what make fuzz's libFuzzer runs and make coverage start from). Exit 1 if
# an instance failed (its log is shown), 2 on bad arguments.
set -eu
cd "$(dirname "$0")/.."
usage() {
	echo "fuzz-afl-campaign: $*" >&2
	echo "usage: scripts/fuzz-afl-campaign.sh $(sh scripts/fuzz-targets.sh | paste -sd'|') SECONDS [JOBS]" >&2
	exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage "wrong number of arguments"
t=$1 secs=$2 jobs=${3:-1}
sh scripts/fuzz-targets.sh | grep -qx -- "$t" || usage "unknown target '$t'"
case $secs in ''|*[!0-9]*) usage "SECONDS must be a whole number, not '$secs'" ;; esac
case $jobs in ''|*[!0-9]*) usage "JOBS must be a whole number, not '$jobs'" ;; esac
[ "$secs" -gt 0 ] || usage "SECONDS must be at least 1"
[ "$jobs" -gt 0 ] || usage "JOBS must be at least 1"
bin=build/fuzz/afl/$t seeds=build/fuzz/seeds/$t
[ -x "$bin" ] || usage "$bin is not built (make build/fuzz/afl/$t, or make fuzz ENGINE=afl)"
[ -d "$seeds" ] || usage "$seeds is missing (make fuzz-seeds)"
command -v afl-fuzz >/dev/null || usage "afl-fuzz is not installed (sh scripts/deps.sh fuzz)"
sync=build/fuzz/afl-sync/$t findings=build/fuzz/findings/$t in=build/fuzz/afl-in/$t
mkdir -p "$sync" "$findings"
rm -rf "$in" && mkdir -p "$in"
cp "$seeds"/* "$in/"
[ -d fuzz/corpus/$t ] && cp fuzz/corpus/$t/* "$in/"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_AUTORESUME=1 AFL_NO_AFFINITY=1 AFL_QUIET=1
pids=""
for i in $(seq 1 "$jobs"); do
	role=-S name=s$i
	[ "$i" -eq 1 ] && role=-M name=main
	afl-fuzz -i "$in" -o "$sync" $role "$name" -m none -t 1000+ -V "$secs" \
		-x "$seeds.dict" -- "$bin" >"$sync/$name.log" 2>&1 &
	pids="$pids $!"
done
end=$(( $(date +%s) + secs + 60 ))
while [ "$(date +%s)" -lt "$end" ] && kill -0 $pids 2>/dev/null; do
	sleep 10
	for st in "$sync"/*/fuzzer_stats; do
		[ -f "$st" ] || continue
		printf '  %s: %s execs, %s/s, corpus %s, crashes %s, hangs %s, stability %s\n' \
			"$(basename "$(dirname "$st")")" "$(sed -n 's/^execs_done *: *//p' "$st")" \
			"$(sed -n 's/^execs_per_sec *: *//p' "$st")" "$(sed -n 's/^corpus_count *: *//p' "$st")" \
			"$(sed -n 's/^saved_crashes *: *//p' "$st")" "$(sed -n 's/^saved_hangs *: *//p' "$st")" \
			"$(sed -n 's/^stability *: *//p' "$st")"
	done
done
failed=0
for p in $pids; do
	wait "$p" || failed=1
done
if [ "$failed" = 1 ]; then
	for log in "$sync"/*.log; do
		echo "fuzz-afl-campaign: $(basename "$log" .log) failed; the end of $log:" >&2
		tail -n 8 "$log" | sed 's/^/    /' >&2
	done
fi
for c in "$sync"/*/crashes/id* "$sync"/*/hangs/id*; do
	[ -f "$c" ] || continue
	kind=$(basename "$(dirname "$c")") who=$(basename "$(dirname "$(dirname "$c")")")
	cp "$c" "$findings/afl-$who-$kind-$(basename "$c" | cut -c1-9)"
done
mkdir -p build/fuzz/corpus/$t
for q in "$sync"/*/queue/id*; do
	case $q in *,orig:*) continue ;; esac # the inputs it started from
	[ -f "$q" ] && cp "$q" "build/fuzz/corpus/$t/afl-$(basename "$(dirname "$(dirname "$q")")")-$(basename "$q" | cut -c1-9)"
done
exit $failed
