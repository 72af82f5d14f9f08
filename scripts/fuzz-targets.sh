#!/bin/sh
# The fuzz targets, a name a line: one per fuzz/fuzz_<target>.c, the one
# list every script and make rule takes them from (from any folder).
# (CDPATH unset: cd would print where it went, a line of this list.)
CDPATH= cd "$(dirname "$0")/.."
for f in fuzz/fuzz_*.c; do
	f=${f#fuzz/fuzz_}
	echo "${f%.c}"
done
