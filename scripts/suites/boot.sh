# The real VMX build under emulators (sourced by scripts/run-tests.sh, which
# provides ok/bad/expect/expect_msg and $tmp). Each boot is a scenario of
# harness/boot run by the bare-metal host; its RESULT line decides
# (scripts/boot-bochs.sh: 0 SUCCESS, 1 FAILURE, 2 ERROR, 3 SKIP, 4 CRASH,
# 5 TIMEOUT). Every run is under `timeout`; a timeout fails.
#   Bochs: corei7_haswell_4770 and tigerlake (VMX + EPT), core2_penryn_t9600
#          (VMX without EPT: refusal); QEMU TCG (no VMX: refusal);
#          QEMU + KVM only where /dev/kvm offers nested VMX (else skipped).
BOOT_LIMIT=${BOOT_LIMIT:-60}
boot_dir=$tmp/boot

# boot_case NAME WANT RUNNER-ARGS...: the runner must exit with WANT.
boot_case() {
	name=$1 want=$2
	shift 2
	BOOT_TIMEOUT=$BOOT_LIMIT sh "$@" >"$tmp/boot.out" 2>&1
	got=$?
	summary=$(tail -n 1 "$tmp/boot.out" | sed 's/ (logs:.*//')
	if [ "$got" -eq "$want" ]; then ok "boot $name: $summary"; else
		bad "boot $name (exit $got, expected $want): $summary"
		log=$(sed -n 's/.*(logs: \([^ ]*\) .*/\1/p' "$tmp/boot.out")
		[ -n "$log" ] && [ -f "$log" ] && grep -v '^UXT ' "$log" | tail -n 12 | sed 's/^/    /'
	fi
}

if [ ! -f build/boot/disk.img ]; then
	bad "boot: build/boot/disk.img missing (make boot)"
elif ! command -v bochs >/dev/null 2>&1; then
	bad "boot: bochs is not installed (scripts/deps.sh test installs it)"
else
	B="scripts/boot-bochs.sh -o $boot_dir"
	for m in corei7_haswell_4770 tigerlake; do
		boot_case "host ($m)" 0 $B -c $m host
		boot_case "load/unload ($m)" 0 $B -c $m load
		boot_case "guest64 ($m)" 0 scripts/boot-bochs.sh -o "$boot_dir/guest64-$m" -c $m guest64
		if [ -f "$boot_dir/guest64-$m/serial.log" ] &&
			$PYTHON scripts/serial2uxt.py "$boot_dir/guest64-$m/serial.log" "$tmp/rec-$m" >/dev/null 2>"$tmp/s2u"; then
			expect "replay guest64 recorded on $m: 100% fidelity" 0 \
				build/asan-gcc/uxen-replay --check-every 1 "$tmp/rec-$m/guest64.uxt"
		else
			bad "serial2uxt guest64 ($m): $(cat "$tmp/s2u")"
		fi
		boot_case "refuse: IA32_FEATURE_CONTROL locked, VMX off ($m)" 0 \
			$B -c $m -s fc_locked=1 -s "expect=VMX disabled by firmware" refuse
	done
	m=corei7_haswell_4770
	BOOT_TIMEOUT=$BOOT_LIMIT sh scripts/boot-bochs.sh -o "$boot_dir/again" -c $m guest64 >/dev/null 2>&1
	if [ -s "$boot_dir/again/serial.log" ] &&
		cmp -s "$boot_dir/guest64-$m/serial.log" "$boot_dir/again/serial.log"; then ok "boot deterministic: two guest64 runs, identical serial output";
	else bad "boot deterministic: guest64 serial output differs between runs"; fi
	# Stage 4 scenarios on both VMX + EPT models, each trace replayed.
	for m in corei7_haswell_4770 tigerlake; do
		for sc in realmode triple hostile multi; do
			[ $m = tigerlake ] && [ $sc != multi ] && continue
			boot_case "$sc ($m)" 0 scripts/boot-bochs.sh -o "$boot_dir/$sc-$m" -c $m $sc
			if $PYTHON scripts/serial2uxt.py "$boot_dir/$sc-$m/serial.log" "$tmp/rec-$sc-$m" \
				>/dev/null 2>"$tmp/s2u"; then
				expect "replay $sc recorded on $m: 100% fidelity" 0 \
					build/asan-gcc/uxen-replay --check-every 1 "$tmp/rec-$sc-$m/$sc.uxt"
			else
				bad "serial2uxt $sc ($m): $(cat "$tmp/s2u")"
			fi
		done
	done
	# Stage 5: the host de-privileged on both CPUs (cpu: count=2).
	for m in corei7_haswell_4770 tigerlake; do
		boot_case "depriv: both CPUs de-privileged, host carries on ($m)" 0 \
			scripts/boot-bochs.sh -o "$boot_dir/depriv-$m" -c $m -n 2 depriv
		fig=$(sed -n 's/^FIGURE \(.*\)/\1/p' "$boot_dir/depriv-$m/serial.log" 2>/dev/null | tr -d '\r')
		[ -n "$fig" ] && echo "    figure ($m): $fig (TSC ticks = emulated instructions per CPU, clock sync=none)"
		boot_case "depriv_attack: host reads/writes hypervisor and guest memory, bad VMCALLs ($m)" 0 \
			$B -c $m -n 2 depriv_attack
		boot_case "multi, host de-privileged: triple fault, hostile guest ($m)" 0 \
			scripts/boot-bochs.sh -o "$boot_dir/dpmulti-$m" -c $m -n 2 -s deprivilege=1 multi
		if $PYTHON scripts/serial2uxt.py "$boot_dir/dpmulti-$m/serial.log" "$tmp/rec-dpmulti-$m" \
			>/dev/null 2>"$tmp/s2u"; then
			expect "replay multi recorded de-privileged on $m: 100% fidelity" 0 \
				build/asan-gcc/uxen-replay --check-every 1 "$tmp/rec-dpmulti-$m/multi.uxt"
		else
			bad "serial2uxt dpmulti ($m): $(cat "$tmp/s2u")"
		fi
	done
	# vmfork on the real build: whole pages checked (trace not replayable:
	# guest stores are not in it), then the same with the data mirrored
	# into the trace (fork_sync), replayed.
	for m in corei7_haswell_4770 tigerlake; do
		boot_case "fork: template, 4 children (lazy, eager), hints, re-merge, every page checked, reset and run again ($m)" 0 \
			scripts/boot-bochs.sh -o "$boot_dir/fork-$m" -c $m fork
		boot_case "fork, data mirrored into the trace ($m)" 0 \
			scripts/boot-bochs.sh -o "$boot_dir/forks-$m" -c $m -s fork_words=8 -s fork_sync=1 fork
		if $PYTHON scripts/serial2uxt.py "$boot_dir/forks-$m/serial.log" "$tmp/rec-fork-$m" \
			>/dev/null 2>"$tmp/s2u"; then
			expect "replay fork recorded on $m: 100% fidelity" 0 \
				build/asan-gcc/uxen-replay --check-every 1 "$tmp/rec-fork-$m/fork.uxt"
		else
			bad "serial2uxt fork ($m): $(cat "$tmp/s2u")"
		fi
	done
	m=corei7_haswell_4770
	boot_case "refuse: no unrestricted guest" 0 $B -c $m -s no_ug=1 -s "expect=no unrestricted guest" refuse
	boot_case "refuse: corrupted image" 0 $B -c $m -s image=corrupt -s "expect=image corrupted" refuse
	boot_case "refuse: truncated image" 0 $B -c $m -s image=truncated -s "expect=image truncated" refuse
	boot_case "refuse: not an image" 0 $B -c $m -s image=garbage -s "expect=not a hypervisor image" refuse
	boot_case "refuse: image larger than donated memory" 0 $B -c $m -s donate_kib=512 -s "expect=more than the" refuse
	boot_case "a scenario that fails reports FAILURE" 1 $B -c $m refuse
	boot_case "penryn (VMX, no EPT): clean refusal" 0 $B -c core2_penryn_t9600 -s "expect=no EPT" refuse
	boot_case "penryn: host boots" 0 $B -c core2_penryn_t9600 host
	boot_case "penryn, 2 CPUs, de-privilege asked: refusal, both CPUs un-virtualized" 0 \
		$B -c core2_penryn_t9600 -n 2 -s deprivilege=1 -s "expect=no EPT" refuse
fi

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	bad "boot: qemu-system-x86_64 is not installed (scripts/deps.sh test installs it)"
elif [ -f build/boot/disk.img ]; then
	Q="scripts/boot-qemu.sh -o $boot_dir"
	boot_case "qemu tcg: host boots" 0 $Q host
	boot_case "qemu tcg (no VMX): clean refusal, host unharmed" 0 $Q -s "expect=no VMX" refuse
	boot_case "qemu tcg: guest64 skips without VMX" 3 $Q guest64
	boot_case "qemu tcg, 2 CPUs, de-privilege asked: refusal, both CPUs un-virtualized" 0 \
		$Q -n 2 -s deprivilege=1 -s "expect=no VMX" refuse
	boot_case "qemu tcg: depriv skips without VMX" 3 $Q -n 2 depriv
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qw vmx /proc/cpuinfo &&
		grep -qi '^[y1]' /sys/module/kvm_intel/parameters/nested 2>/dev/null; then
		boot_case "qemu kvm: guest64" 0 $Q -a kvm guest64
	else
		skip "boot: qemu kvm (needs /dev/kvm on an Intel host with nested VMX)"
	fi
fi
