#!/bin/sh
# Boot one scenario of the real VMX build under QEMU.
#   scripts/boot-qemu.sh [-a tcg|kvm] [-c CPU] [-n NCPUS] [-t SECONDS] [-o DIR] [-s KEY=VALUE]... SCENARIO
# -a tcg (default): QEMU's emulator, which has no VMX: the hypervisor must
# refuse cleanly and the host keep running. -a kvm: needs /dev/kvm on an
# Intel host with nested VMX (scripts/boot-qemu.sh -a kvm -c host ...).
# Logs go to DIR (default build/boot/runs/SCENARIO-qemu-ACCEL): serial.log,
# qemu.out. Prints "SCENARIO qemu-ACCEL RESULT SECONDS"; exit status as
# scripts/boot-bochs.sh (0 SUCCESS, 1 FAILURE, 2 ERROR, 3 SKIP, 4 CRASH,
# 5 TIMEOUT, 6 cannot run).
set -u
cd "$(dirname "$0")/.."
accel=tcg
cpu=""
ncpu=1
limit=${BOOT_TIMEOUT:-60}
out=""
extra=""
while getopts a:c:n:t:o:s: opt; do
	case $opt in
	a) accel=$OPTARG ;;
	c) cpu=$OPTARG ;;
	n) ncpu=$OPTARG ;;
	t) limit=$OPTARG ;;
	o) out=$OPTARG ;;
	s) extra="$extra$OPTARG
" ;;
	*) exit 6 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-a tcg|kvm] [-c CPU] [-n NCPUS] [-t SECONDS] [-o DIR] [-s K=V]... SCENARIO" >&2; exit 6; }
scenario=$1
disk=build/boot/disk.img
[ -f "$disk" ] || { echo "$disk missing: run 'make boot'" >&2; exit 6; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed" >&2; exit 6; }
[ -n "$cpu" ] || { [ "$accel" = kvm ] && cpu=host,+vmx || cpu=qemu64,vendor=GenuineIntel; }
[ -n "$out" ] || out=build/boot/runs/$scenario-qemu-$accel
mkdir -p "$out"
rm -f "$out/serial.log" "$out/qemu.out"
cp "$disk" "$out/disk.img"
printf 'scenario=%s\nemulator=qemu-%s\ncpus=%s\n%s' "$scenario" "$accel" "$ncpu" "$extra" |
	dd of="$out/disk.img" bs=512 seek=1 conv=notrunc 2>/dev/null

t0=$(date +%s.%N)
timeout "$limit" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$ncpu" -m 128 \
	-drive file="$out/disk.img",format=raw,if=ide -display none -no-reboot \
	-serial file:"$out/serial.log" -monitor none \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$out/qemu.out" 2>&1
rc=$?
t1=$(date +%s.%N)
secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
res=$(sed -n 's/^RESULT: \([A-Z]*\) .*/\1/p' "$out/serial.log" 2>/dev/null | tr -d '\r' | tail -n 1)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then res=TIMEOUT; fi
[ -n "$res" ] || res=CRASH
echo "$scenario qemu-$accel $res ${secs}s (logs: $out/serial.log $out/qemu.out)"
case $res in
SUCCESS) exit 0 ;; FAILURE) exit 1 ;; ERROR) exit 2 ;; SKIP) exit 3 ;;
CRASH) exit 4 ;; TIMEOUT) exit 5 ;; *) exit 6 ;;
esac
