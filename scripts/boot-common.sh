# Sourced by scripts/boot-bochs.sh and scripts/boot-qemu.sh: what both
# runners do around their emulator. The caller sets $runner (its name) and
# $usage (its usage line). Exit status 6 is "the runner could not run".
. scripts/numarg.sh

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
	num_in_range "$2" 1 8 || boot_usage "NCPUS must be 1 to 8, not '$2'"
	num_in_range "$3" 1 86400 || boot_usage "SECONDS must be 1 to 86400, not '$3' (0 would mean no limit)"
	case $4 in *[\ ,\	]*) boot_usage "DIR must not hold spaces or commas, not '$4'" ;; esac
}

# The config sector the host reads (hv/host/baremetal/console.c): 512
# bytes of KEY=VALUE lines, values of at most 63 characters. Anything
# longer would overwrite the kernel in the sectors after it, or be cut
# without a word. Checked before the run folder is touched.
boot_config_check() { # CONFIG-TEXT
	printf '%s\n' "$1" | {
		while IFS= read -r line; do
			[ -n "$line" ] || continue # an empty -s: a blank line, as the host reads it
			case $line in [a-z]*=*) ;; *) boot_usage "config line '$line' is not KEY=VALUE" ;; esac
			key=${line%%=*} value=${line#*=}
			[ ${#value} -le 63 ] || boot_usage "config value of '$key' is longer than the host's 63 characters"
		done
	} || exit 6
	[ "$(printf '%s\n' "$1" | wc -c)" -le 512 ] || boot_usage "the config is over its 512-byte sector (fewer or shorter -s)"
}

# ... written into sector 1 of the run's own copy of the disk.
boot_config() { # DISK CONFIG-TEXT
	printf '%s\n' "$2" | dd of="$1" bs=512 seek=1 conv=notrunc 2>/dev/null
}

# Stop the emulator, then die of the same signal: a shell loop over the
# runners sees that and stops too (an exit status would not).
boot_stop() { # SIGNAL
	kill "$pid" 2>/dev/null
	wait "$pid"
	echo "$runner: interrupted" >&2
	trap - "$1"
	kill -s "$1" $$
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
	trap 'boot_stop INT' INT
	trap 'boot_stop TERM' TERM
	trap 'boot_stop HUP' HUP
	wait "$pid"
	rc=$?
	trap - INT TERM HUP
	t1=$(date +%s.%N)
	secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
}

# The result, and the runner's exit status. The emulator failing at start
# (a bad CPU model, an option it refused: FAILED-PATTERN found in its
# output, with nothing from the guest) is "not run", exit 6, with its own
# reason; a guest that stops with no RESULT line, however early, is a
# CRASH. Only timeout's 124 is a timeout (no -k: a 137 is a kill from
# elsewhere, the OOM killer say).
boot_result() { # NAME ACCEL SERIAL-LOG EMULATOR-OUTPUT FAILED-PATTERN LOGS
	res=$(sed -n 's/^RESULT: \([A-Z]*\) .*/\1/p' "$3" 2>/dev/null | tr -d '\r' | tail -n 1)
	[ "$rc" -eq 124 ] && res=TIMEOUT
	if [ -z "$res" ] && [ ! -s "$3" ] && grep -q -e "$5" "$4"; then
		echo "$runner: the emulator stopped at start (exit $rc); from $4:" >&2
		grep -e "$5" "$4" | grep -v 'notify called' | tail -n 4 | sed 's/^/    /' >&2
		echo "$1 $2 NOT RUN ${secs}s (logs: $4)"
		exit 6
	fi
	[ -n "$res" ] || res=CRASH
	echo "$1 $2 $res ${secs}s (logs: $6)"
	case $res in
	SUCCESS) exit 0 ;; FAILURE) exit 1 ;; ERROR) exit 2 ;; SKIP) exit 3 ;;
	CRASH) exit 4 ;; TIMEOUT) exit 5 ;; *) exit 6 ;;
	esac
}
