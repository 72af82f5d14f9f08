#!/bin/sh
# The fuzz targets, a name a line: one per fuzz/fuzz_<target>.c, the one
# list every script and make rule takes them from. Run from the repository
# root (the scripts that call it cd there first).
for f in fuzz/fuzz_*.c; do
	f=${f#fuzz/fuzz_}
	echo "${f%.c}"
done
