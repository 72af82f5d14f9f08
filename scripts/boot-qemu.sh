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
runner=boot-qemu
usage="usage: $0 [-a tcg|kvm] [-c CPU] [-n NCPUS] [-t SECONDS] [-o DIR] [-s K=V]... SCENARIO"
. scripts/boot-common.sh
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
	*) boot_usage "unknown option" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || boot_usage "one SCENARIO, after the options"
scenario=$1
case $accel in tcg|kvm) ;; *) boot_usage "-a must be tcg or kvm, not '$accel'" ;; esac
boot_check "$scenario" "$ncpu" "$limit" "$out"
# KVM runs the hypervisor only where it can nest VMX: an Intel host that
# offers it. Elsewhere QEMU would fail, or abort, with no word of why.
if [ "$accel" = kvm ] && { [ ! -w /dev/kvm ] || ! grep -qw vmx /proc/cpuinfo ||
	! grep -qi '^[y1]' /sys/module/kvm_intel/parameters/nested 2>/dev/null; }; then
	boot_usage "-a kvm needs /dev/kvm on an Intel host with nested VMX (none here)"
fi
disk=build/boot/disk.img
[ -f "$disk" ] || { echo "$disk missing: run 'make boot'" >&2; exit 6; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed" >&2; exit 6; }
[ -n "$cpu" ] || { [ "$accel" = kvm ] && cpu=host,+vmx || cpu=qemu64,vendor=GenuineIntel; }
config=$(printf 'scenario=%s\nemulator=qemu-%s\ncpus=%s\n%s' "$scenario" "$accel" "$ncpu" "$extra")
boot_config_check "$config"
[ -n "$out" ] || out=build/boot/runs/$scenario-qemu-$accel
mkdir -p "$out" && rm -f "$out/serial.log" "$out/qemu.out" && cp "$disk" "$out/disk.img" ||
	boot_usage "cannot use $out for the run's files"
boot_config "$out/disk.img" "$config"

boot_run "$limit" "$out/qemu.out" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$ncpu" -m 128 \
	-drive file="$out/disk.img",format=raw,if=ide -display none -no-reboot \
	-serial file:"$out/serial.log" -monitor none \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
boot_result "$scenario" "qemu-$accel" "$out/serial.log" "$out/qemu.out" '^qemu-system-x86_64: ' "$out/serial.log $out/qemu.out"
