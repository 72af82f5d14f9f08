#!/bin/sh
# Regenerate the generated part of the regression corpus (traces/corpus/)
# after an intended change of behaviour; review the diff of --dump output.
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || { echo "usage: scripts/regen-corpus.sh (no arguments; it rewrites traces/corpus/)" >&2; exit 2; }
make -s VARIANT=rel tools
for s in boot hostile fork; do
	build/rel/uxen-gen "$s" "traces/corpus/$s.uxt"
done
build/rel/uxen-gen mix traces/corpus/mix-2000.uxt 2000
