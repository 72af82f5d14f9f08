#!/bin/sh
# Install the Debian packages a job needs, if any are missing.
#   scripts/deps.sh test|run|bench|fuzz
# As root it runs apt-get itself; otherwise it prints the exact command and
# stops with status 1, so `make` stops before a confusing build error.
set -eu

job=${1:-test}
# libc6-dev: gcc only recommends it, and --no-install-recommends leaves it out.
common="gcc libc6-dev make binutils python3"
# Bochs (with a headless display plugin) and QEMU boot the real VMX build;
# AFL++, libFuzzer (clang's runtime) and Capstone fuzz the hosted one.
emu="bochs bochsbios bochs-sdl seabios qemu-system-x86"
fuzz="clang libclang-rt-14-dev afl++ libcapstone-dev python3-capstone"
case "$job" in
test)  pkgs="$common $fuzz $emu" ;;
run)   pkgs="$common $emu" ;;
bench) pkgs="$common $fuzz valgrind" ;; # callgrind counts instructions
fuzz)  pkgs="$common $fuzz" ;;
*) echo "deps.sh: unknown job '$job' (test, run, bench or fuzz)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; make sure these are installed: $pkgs" >&2
	exit 0
fi

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -eq 0 ]; then
	echo "deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	$cmd
else
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run as root:  apt-get update && $cmd" >&2
	exit 1
fi
