#!/bin/sh
# `make run`, the main job: boot the demo under Bochs (the host OS boots,
# late-loads the hypervisor, guests run), turn the trace the real build
# recorded into a .uxt file, replay it through the hosted build and print
# the fidelity; then replay the regression traces under traces/.
set -u
cd "$(dirname "$0")/.."
R=build/rel/uxen-replay
[ $# -eq 0 ] || { echo "run.sh takes no arguments (make run)" >&2; exit 2; }
[ -x "$R" ] || { echo "run.sh: $R is not built (make all)" >&2; exit 2; }
echo "== the demo under Bochs (scripts/boot-demo.sh)"
sh scripts/boot-demo.sh multi corei7_haswell_4770
demo=$?
echo
echo "== the regression traces"
total=0
same=0
for t in $(find traces -name '*.uxt' | sort); do
	total=$((total + 1))
	$R -q "$t"
	rc=$?
	case $rc in
	0) same=$((same + 1)) ;;
	1) echo "  $t: not identical (outputs diverged)" ;;
	2) echo "  $t: UNUSABLE (uxen-replay exit 2)" ;;
	3) echo "  $t: HYPERVISOR FAILED (uxen-replay exit 3)" ;;
	*) echo "  $t: uxen-replay died (exit $rc)" ;;
	esac
done
echo "replayed $total traces: $same identical, $((total - same)) not"
echo
[ $demo -eq 0 ] && echo "demo: recorded on the real build, replayed with 100% fidelity" ||
	echo "demo: FAILED (see above)"
[ $demo -eq 0 ] && [ "$same" -eq "$total" ]
