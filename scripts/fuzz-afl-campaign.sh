#!/bin/sh
# An AFL++ campaign on one target: one -M main instance and JOBS-1 -S
# secondaries sharing the sync directory build/fuzz/afl-sync/<target>; it
# can be resumed (AFL_AUTORESUME) and more -S instances (other machines
# syncing the same directory) can join. Progress: a status line every 10 s.
#   scripts/fuzz-afl-campaign.sh TARGET SECONDS [JOBS]
set -eu
cd "$(dirname "$0")/.."
t=$1 secs=$2 jobs=${3:-1}
sync=build/fuzz/afl-sync/$t findings=build/fuzz/findings/$t
mkdir -p "$sync" "$findings"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_AUTORESUME=1 AFL_NO_AFFINITY=1 AFL_QUIET=1
pids=""
for i in $(seq 1 "$jobs"); do
	role=-S name=s$i
	[ "$i" -eq 1 ] && role=-M name=main
	afl-fuzz -i build/fuzz/seeds/$t -o "$sync" $role "$name" -m none -t 1000+ -V "$secs" \
		-x build/fuzz/seeds/$t.dict -- build/fuzz/afl/$t >"$sync/$name.log" 2>&1 &
	pids="$pids $!"
done
end=$(( $(date +%s) + secs + 30 ))
while [ "$(date +%s)" -lt "$end" ] && kill -0 $pids 2>/dev/null; do
	sleep 10
	for st in "$sync"/*/fuzzer_stats; do
		[ -f "$st" ] || continue
		printf '  %s: %s execs, %s/s, corpus %s, crashes %s, stability %s\n' \
			"$(basename "$(dirname "$st")")" "$(sed -n 's/^execs_done *: *//p' "$st")" \
			"$(sed -n 's/^execs_per_sec *: *//p' "$st")" "$(sed -n 's/^corpus_count *: *//p' "$st")" \
			"$(sed -n 's/^saved_crashes *: *//p' "$st")" "$(sed -n 's/^stability *: *//p' "$st")"
	done
done
wait $pids || true
for c in "$sync"/*/crashes/id*; do
	[ -f "$c" ] && cp "$c" "$findings/afl-$(basename "$(dirname "$(dirname "$c")")")-$(basename "$c" | cut -c1-9)"
done
exit 0
