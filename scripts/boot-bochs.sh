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
# line), 5 TIMEOUT, 6 the runner could not run (bad arguments, or the
# emulator stopped before the guest wrote anything: its reason is shown).
set -u
cd "$(dirname "$0")/.."
runner=boot-bochs
usage="usage: $0 [-c MODEL] [-n NCPUS] [-t SECONDS] [-o DIR] [-s K=V]... SCENARIO"
. scripts/boot-common.sh
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
	*) boot_usage "unknown option" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || boot_usage "one SCENARIO, after the options"
scenario=$1
case $model in ''|*[!a-z0-9_]*) boot_usage "MODEL must be a Bochs CPU model name, not '$model'" ;; esac
boot_check "$scenario" "$ncpu" "$limit" "$out"
disk=build/boot/disk.img
[ -f "$disk" ] || { echo "$disk missing: run 'make boot'" >&2; exit 6; }
command -v bochs >/dev/null || { echo "bochs is not installed (scripts/deps.sh test)" >&2; exit 6; }
config=$(printf 'scenario=%s\nemulator=bochs\ncpus=%s\n%s' "$scenario" "$ncpu" "$extra")
boot_config_check "$config"
[ -n "$out" ] || out=build/boot/runs/$scenario-$model
mkdir -p "$out" && rm -f "$out/serial.log" "$out/bochs.log" "$out/bochs.out" &&
	cp "$disk" "$out/disk.img" || boot_usage "cannot use $out for the run's files"
boot_config "$out/disk.img" "$config"

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

export SDL_VIDEODRIVER=dummy
boot_run "$limit" "$out/bochs.out" bochs -q -unlock -f "$out/bochsrc" -rc "$out/bochs.rc"
boot_result "$scenario" "$model" "$out/serial.log" "$out/bochs.out" '^00000000000[ep]\[' "$out/serial.log $out/bochs.log"
