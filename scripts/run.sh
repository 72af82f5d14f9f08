#!/bin/sh
# `make run`: until the real VMX build lands, the main job replays every
# trace under traces/ through the hosted hypervisor and prints a summary.
set -u
cd "$(dirname "$0")/.."
R=build/rel/uxen-replay
total=0
same=0
for t in $(find traces -name '*.uxt' | sort); do
	total=$((total + 1))
	echo "== $t"
	if $R --stats "$t"; then same=$((same + 1)); fi
done
echo
echo "replayed $total traces: $same identical, $((total - same)) not"
[ "$same" -eq "$total" ]
