#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script. Honours $CC $CFLAGS
# $LIB_FUZZING_ENGINE $OUT (and $CXX, $WORK when set, as OSS-Fuzz does);
# writes to $OUT, per target: <target>, <target>.dict, <target>.options,
# <target>_seed_corpus.zip. It finds the sources from its own path, so
# OSS-Fuzz's $SRC is not needed. Run by hand:
#   CC=clang CFLAGS="-O1 -fsanitize=address,undefined,fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/build.sh
# (sh fuzz/build.sh too: it stops at the first failing step either way.)
set -eu
# A relative $OUT or $WORK is the caller's, not the repository's.
case ${OUT:-} in ''|/*) ;; *) OUT=$PWD/$OUT ;; esac
case ${WORK:-} in ''|/*) ;; *) WORK=$PWD/$WORK ;; esac
cd "$(dirname "$0")/.."
: "${CC:=clang}" "${CFLAGS:=-O1 -g -fsanitize=address,undefined,fuzzer-no-link}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}" "${OUT:=build/fuzz/oss}"
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-build/fuzz/oss-work}
mkdir -p "$OUT" "$WORK/obj"
OUT=$(cd "$OUT" && pwd) # absolute (OSS-Fuzz passes /out): the zip step changes directory
inc="-Ihv/include -Itraces -Ihv/arch/sim -Ihv/host/posix -Ireplay -Iharness -Ifuzz -Ihv/core"
objs=""
for src in hv/core/*.c hv/arch/sim/*.c hv/host/posix/*.c traces/*.c replay/*.c fuzz/fuzz.c fuzz/mem_libc.c; do
	case $src in
	replay/main.c) continue ;;  # uxen-replay's own main()
	hv/core/mem.c) continue ;;  # fuzz/mem_libc.c instead (see mk/fuzz.mk)
	esac
	o="$WORK/obj/$(echo "$src" | tr / _).o"
	extra=""
	case $src in hv/*) extra="-ffreestanding" ;; esac
	$CC -std=gnu11 $CFLAGS $extra $inc -c "$src" -o "$o"
	objs="$objs $o"
done
# Seeds and dictionaries need the generator and the Python constants.
make -s VARIANT=rel build/rel/uxen-gen pyconsts
rm -rf "$WORK/seeds"
"$PYTHON" scripts/fuzz-seeds.py --out "$WORK/seeds" --gen build/rel/uxen-gen >/dev/null
for t in $(sh scripts/fuzz-targets.sh); do
	libs=""
	[ "$t" = decode ] && libs="-lcapstone"
	$CC -std=gnu11 $CFLAGS $inc -c "fuzz/fuzz_$t.c" -o "$WORK/obj/fuzz_$t.o"
	# libFuzzer (or the engine's) main; CXX links C++ engines when given
	${CXX:-$CC} $CFLAGS $LIB_FUZZING_ENGINE "$WORK/obj/fuzz_$t.o" $objs $libs -lm -o "$OUT/$t"
	cp "$WORK/seeds/$t.dict" "$OUT/$t.dict"
	printf '[libfuzzer]\nmax_len = 4096\ntimeout = 10\ndict = %s.dict\n' "$t" >"$OUT/$t.options"
	rm -f "$OUT/${t}_seed_corpus.zip"
	(cd "$WORK/seeds/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" . 2>/dev/null ||
		"$PYTHON" -c "import sys, zipfile, os; z = zipfile.ZipFile(sys.argv[1], 'w'); [z.write(f) for f in sorted(os.listdir('.'))]" "$OUT/${t}_seed_corpus.zip")
done
echo "fuzz/build.sh: $(ls "$OUT" | wc -l) files in $OUT"
