#!/bin/sh
# The real VMX build end to end: boot a scenario (default: multi, five
# domains) under Bochs, turn the trace the hypervisor recorded on the
# "hardware" into a .uxt file, replay it in the hosted build and print the
# fidelity (the share of recorded outputs reproduced).
#   scripts/boot-demo.sh [SCENARIO [CPU_MODEL]]
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
sc=${1:-multi}
model=${2:-corei7_haswell_4770}
out=build/boot/runs/demo-$sc-$model
sh scripts/boot-bochs.sh -o "$out" -c "$model" "$sc" || exit 1
grep -v '^UXT' "$out/serial.log" | tr -d '\r'
$PYTHON scripts/serial2uxt.py "$out/serial.log" "$out" >/dev/null || exit 1
echo "recorded trace: $out/$sc.uxt"
build/rel/uxen-replay --stats "$out/$sc.uxt"
rc=$?
if [ $rc -eq 0 ]; then echo "fidelity: 100% (every recorded output reproduced)"; else
	build/rel/uxen-replay -q --keep-going "$out/$sc.uxt" 2>&1 | tail -n 1
	echo "fidelity: below 100% (uxen-replay exit $rc)"; fi
exit $rc
