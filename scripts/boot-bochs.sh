#!/bin/sh
# Boot one scenario of the real VMX build under Bochs, headless and
# deterministic, and report its result.
#   scripts/boot-bochs.sh [-c CPU_MODEL] [-n NCPUS] [-t SECONDS] [-o DIR]
#                         [-s KEY=VALUE]... SCENARIO
# CPU_MODEL: a Bochs model (default corei7_haswell_4770); -s adds a line to
# the config sector the host reads (e.g. -s fc_locked=1). Logs go to DIR
# (default build/boot/runs/SCENARIO-CPU_MODEL): serial.log (the host's
# console), bochs.log, bochs.out. Prints "SCENARIO MODEL RESULT SECONDS".
# Exit status: 0 SUCCESS, 1 FAILURE, 2 ERROR, 3 SKIP, 4 CRASH (no result
# line), 5 TIMEOUT, 6 the runner could not run.
set -u
cd "$(dirname "$0")/.."
model=corei7_haswell_4770
ncpu=1
limit=${BOOT_TIMEOUT:-60}
out=""
extra=""
while getopts c:n:t:o:s: opt; do
	case $opt in
	c) model=$OPTARG ;;
	n) ncpu=$OPTARG ;;
	t) limit=$OPTARG ;;
	o) out=$OPTARG ;;
	s) extra="$extra$OPTARG
" ;;
	*) exit 6 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-c MODEL] [-n NCPUS] [-t SECONDS] [-o DIR] [-s K=V]... SCENARIO" >&2; exit 6; }
scenario=$1
disk=build/boot/disk.img
[ -f "$disk" ] || { echo "$disk missing: run 'make boot'" >&2; exit 6; }
command -v bochs >/dev/null || { echo "bochs is not installed (scripts/deps.sh test)" >&2; exit 6; }
[ -n "$out" ] || out=build/boot/runs/$scenario-$model
mkdir -p "$out"
rm -f "$out/serial.log" "$out/bochs.log" "$out/bochs.out"

cp "$disk" "$out/disk.img"
printf 'scenario=%s\nemulator=bochs\ncpus=%s\n%s' "$scenario" "$ncpu" "$extra" |
	dd of="$out/disk.img" bs=512 seek=1 conv=notrunc 2>/dev/null

printf 'continue\nquit\n' >"$out/bochs.rc"
cat >"$out/bochsrc" <<EOC
megs: 128
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/seabios/vgabios-isavga.bin
cpu: count=$ncpu, model=$model, reset_on_triple_fault=0, ips=2000000
clock: sync=none, time0=946681200
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=$out/disk.img, mode=flat, cylinders=2, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev=$out/serial.log
display_library: sdl2
log: $out/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
speaker: enabled=0
sound: driver=dummy
magic_break: enabled=1
EOC

t0=$(date +%s.%N)
SDL_VIDEODRIVER=dummy timeout "$limit" bochs -q -unlock -f "$out/bochsrc" -rc "$out/bochs.rc" \
	</dev/null >"$out/bochs.out" 2>&1
rc=$?
t1=$(date +%s.%N)
secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
res=$(sed -n 's/^RESULT: \([A-Z]*\) .*/\1/p' "$out/serial.log" 2>/dev/null | tr -d '\r' | tail -n 1)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then res=TIMEOUT; fi
[ -n "$res" ] || res=CRASH
echo "$scenario $model $res ${secs}s (logs: $out/serial.log $out/bochs.log)"
case $res in
SUCCESS) exit 0 ;; FAILURE) exit 1 ;; ERROR) exit 2 ;; SKIP) exit 3 ;;
CRASH) exit 4 ;; TIMEOUT) exit 5 ;; *) exit 6 ;;
esac
