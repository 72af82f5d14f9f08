#!/bin/sh
# `make coverage`: run the fuzz corpora (seeds, fuzz/corpus/<t> (the
# committed, minimized corpus of earlier campaigns), build/fuzz/corpus/<t>, and
# any directories in FUZZ_CORPORA) through the gcov build of each target
# (build/fuzz/cov/) and print line coverage per file of hv/, then for the
# three areas the fuzzers are meant to cover (target: >= 85% each).
set -eu
cd "$(dirname "$0")/.."
C=build/fuzz/cov
for extra in ${FUZZ_CORPORA:-}; do
	[ -d "$extra" ] || { echo "coverage: FUZZ_CORPORA names $extra, which is not a folder" >&2; exit 2; }
done
tmp=$(mktemp -d)
# Ctrl-C stops it all (the target's run and the loop), and cleans up.
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
out=$tmp/run failed=0
find "$C" -name '*.gcda' -delete
for t in $(sh scripts/fuzz-targets.sh); do
	dirs=build/fuzz/seeds/$t
	[ -d fuzz/corpus/$t ] && dirs="$dirs fuzz/corpus/$t"
	[ -d build/fuzz/corpus/$t ] && dirs="$dirs build/fuzz/corpus/$t"
	for extra in ${FUZZ_CORPORA:-}; do [ -d "$extra/$t" ] && dirs="$dirs $extra/$t"; done
	# An input that fails here is a finding, and a run a signal ends
	# writes no coverage: either makes the figures below a lie.
	rc=0
	"$C/$t" -k $dirs >"$out" 2>&1 || rc=$?
	tail -n 1 "$out" | sed 's/^/  /'
	if [ "$rc" -ne 0 ]; then
		echo "coverage: $t exited $rc on its corpora (a failing input, or a crash):" >&2
		grep -v '^fuzz [a-z]*: status 0' "$out" | tail -n 5 | sed 's/^/    /' >&2
		failed=1
	fi
done
for src in $(find hv -name '*.c' | sort); do
	obj=$C/obj/$(dirname "$src")
	[ -f "$obj/$(basename "$src" .c).gcno" ] || continue
	gcov -n -o "$obj" "$src" 2>/dev/null |
		awk -v f="$src" '/^File/ { cur = $2; gsub("\x27", "", cur) }
			/^Lines executed/ && cur == f && !done++ { split($2, a, ":"); sub("%", "", a[2]);
				printf "%s %s %s\n", f, a[2], $4 }' >>"$tmp/cov"
done
echo "== line coverage by file (hv/)"
awk '{ printf "  %-28s %6.2f%% of %5d lines\n", $1, $2, $3 }' "$tmp/cov"
group() {
	name=$1
	shift
	pat=$(echo "$@" | tr ' ' '|')
	awk -v n="$name" -v p="^($pat)\$" '$1 ~ p { hit += $2 * $3 / 100; all += $3 }
		END { if (all) printf "  %-34s %6.2f%% of %5d lines%s\n", n, 100 * hit / all, all,
			(100 * hit / all >= 85 ? "" : "  (target 85%)") }' "$tmp/cov"
}
echo "== areas"
group "exit handlers (exit*.c, console.c)" $(ls hv/core/exit*.c) hv/core/console.c
group "p2m / EPT (p2m*.c, exit_ept.c)" $(ls hv/core/p2m*.c) hv/core/exit_ept.c
group "sharing / fork (fork, merge, share)" hv/core/fork.c hv/core/merge.c hv/core/p2m_share.c
group "all of hv/" $(awk '{print $1}' "$tmp/cov")
exit $failed
