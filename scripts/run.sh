#!/bin/sh
# `make run`, the main job: boot the demo under Bochs (the host OS boots,
# late-loads the hypervisor, guests run), turn the trace the real build
# recorded into a .uxt file, replay it through the hosted build and print
# the fidelity; then replay the regression traces under traces/.
set -u
cd "$(dirname "$0")/.."
R=build/rel/uxen-replay
echo "== the demo under Bochs (scripts/boot-demo.sh)"
sh scripts/boot-demo.sh multi corei7_haswell_4770
demo=$?
echo
echo "== the regression traces"
total=0
same=0
for t in $(find traces -name '*.uxt' | sort); do
	total=$((total + 1))
	if $R -q "$t"; then same=$((same + 1)); else echo "  $t: not identical"; fi
done
echo "replayed $total traces: $same identical, $((total - same)) not"
echo
[ $demo -eq 0 ] && echo "demo: recorded on the real build, replayed with 100% fidelity" ||
	echo "demo: FAILED (see above)"
[ $demo -eq 0 ] && [ "$same" -eq "$total" ]
