#!/bin/sh
# The real VMX build end to end: boot a scenario (default: multi, five
# domains) under Bochs, turn the trace the hypervisor recorded on the
# "hardware" into a .uxt file, replay it in the hosted build and print the
# fidelity (the share of recorded outputs reproduced).
#   scripts/boot-demo.sh [SCENARIO [CPU_MODEL]]
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
R=build/rel/uxen-replay
usage="usage: scripts/boot-demo.sh [SCENARIO [CPU_MODEL]]"
case ${1:-} in -h|--help) echo "$usage"; exit 0 ;; -*) echo "boot-demo: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;; esac
[ $# -le 2 ] || { echo "boot-demo: too many arguments" >&2; echo "$usage" >&2; exit 2; }
[ -x "$R" ] || { echo "boot-demo: $R is not built (make all)" >&2; exit 2; }
sc=${1:-multi}
model=${2:-corei7_haswell_4770}
out=build/boot/runs/demo-$sc-$model
sh scripts/boot-bochs.sh -o "$out" -c "$model" "$sc" || exit 1
# What the guests printed, as plain text: bytes a hostile guest might send
# to drive the terminal (escapes, C1 controls) show as '?'.
grep -v '^UXT' "$out/serial.log" | LC_ALL=C tr -d '\r' | LC_ALL=C tr -c '\n\040-\176' '?'
$PYTHON scripts/serial2uxt.py "$out/serial.log" "$out" >/dev/null || exit 1
echo "recorded trace: $out/$sc.uxt"
$R --stats "$out/$sc.uxt"
rc=$?
case $rc in
0) echo "fidelity: 100% (every recorded output reproduced)" ;;
1) $R -q --keep-going "$out/$sc.uxt" 2>&1 | tail -n 1
   echo "fidelity: below 100% (uxen-replay exit 1: outputs diverged)" ;;
2) echo "fidelity: none: the recorded trace is unusable (uxen-replay exit 2)" ;;
*) echo "fidelity: none: the hypervisor failed replaying it (uxen-replay exit $rc)" ;;
esac
exit $rc
