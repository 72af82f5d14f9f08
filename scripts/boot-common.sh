# Sourced by scripts/boot-bochs.sh and scripts/boot-qemu.sh: what both
# runners do around their emulator. The caller sets $runner (its name) and
# $usage (its usage line). Exit status 6 is "the runner could not run".

boot_usage() {
	echo "$runner: $*" >&2
	echo "$usage" >&2
	exit 6
}

# The options both take. A limit of 0 would be timeout's "no limit", and a
# scenario name becomes a folder name: both are refused, as are a folder
# with a space or a comma (the emulators' option syntax splits there).
boot_check() { # SCENARIO NCPUS SECONDS DIR
	case $1 in ''|*[!a-z0-9_-]*) boot_usage "SCENARIO must be a name (a-z, 0-9, _ and -), not '$1'" ;; esac
	case $2 in ''|*[!0-9]*) boot_usage "NCPUS must be 1 to 8, not '$2'" ;; esac
	[ ${#2} -le 2 ] && [ "$2" -ge 1 ] && [ "$2" -le 8 ] || boot_usage "NCPUS must be 1 to 8, not $2"
	case $3 in ''|*[!0-9]*) boot_usage "SECONDS must be 1 to 86400, not '$3'" ;; esac
	[ ${#3} -le 5 ] && [ "$3" -ge 1 ] && [ "$3" -le 86400 ] ||
		boot_usage "SECONDS must be 1 to 86400, not $3 (0 would mean no limit)"
	case $4 in *[\ ,\	]*) boot_usage "DIR must not hold spaces or commas, not '$4'" ;; esac
}

# The config sector the host reads (hv/host/baremetal/console.c): 512
# bytes of KEY=VALUE lines, values of at most 63 characters. Written into
# sector 1 of the run's own copy of the disk; anything longer would
# overwrite the kernel after it, or be cut without a word.
boot_config() { # DISK CONFIG-TEXT
	printf '%s\n' "$2" >"$1.config"
	while IFS= read -r line; do
		case $line in [a-z]*=*) ;; *) boot_usage "config line '$line' is not KEY=VALUE" ;; esac
		key=${line%%=*} value=${line#*=}
		[ ${#value} -le 63 ] || boot_usage "config value of '$key' is longer than the host's 63 characters"
	done <"$1.config"
	[ "$(wc -c <"$1.config")" -le 512 ] || boot_usage "the config is over its 512-byte sector (fewer or shorter -s)"
	dd if="$1.config" of="$1" bs=512 seek=1 conv=notrunc 2>/dev/null
}

# Run the emulator under the limit; Ctrl-C or a kill of the runner stops
# it too (timeout runs it in a process group of its own, which the
# terminal's signal does not reach). Its output goes to OUTPUT-FILE.
# Sets $rc and $secs.
boot_run() { # SECONDS OUTPUT-FILE COMMAND...
	limit=$1 output=$2
	shift 2
	t0=$(date +%s.%N)
	timeout "$limit" "$@" </dev/null >"$output" 2>&1 &
	pid=$!
	trap 'kill "$pid" 2>/dev/null; wait "$pid"; echo "$runner: interrupted" >&2; exit 6' INT TERM HUP
	wait "$pid"
	rc=$?
	trap - INT TERM HUP
	t1=$(date +%s.%N)
	secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
}

# The result, and the runner's exit status. No RESULT line and no output
# at all from the guest means the emulator itself failed (a bad CPU model,
# an option it refused): said from its own output, as "could not run".
boot_result() { # NAME ACCEL SERIAL-LOG EMULATOR-OUTPUT
	res=$(sed -n 's/^RESULT: \([A-Z]*\) .*/\1/p' "$3" 2>/dev/null | tr -d '\r' | tail -n 1)
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then res=TIMEOUT; fi
	if [ -z "$res" ] && [ ! -s "$3" ]; then
		echo "$1 $2 NOT RUN ${secs}s: the emulator exited $rc before the guest wrote anything; from $4:" >&2
		# its errors (Bochs: e[ and PANIC lines; QEMU: its name), else its end
		why=$(grep -e '>>PANIC<<' -e '^[0-9]*e\[' -e '^qemu-system' -e 'rror' "$4" | grep -v 'notify called' | tail -n 4)
		[ -n "$why" ] || why=$(grep -v '^ *$' "$4" | tail -n 5)
		printf '%s\n' "$why" | sed 's/^/    /' >&2
		exit 6
	fi
	[ -n "$res" ] || res=CRASH
	echo "$1 $2 $res ${secs}s (logs: $3 $4)"
	case $res in
	SUCCESS) exit 0 ;; FAILURE) exit 1 ;; ERROR) exit 2 ;; SKIP) exit 3 ;;
	CRASH) exit 4 ;; TIMEOUT) exit 5 ;; *) exit 6 ;;
	esac
}
