# Sourced by the shell scripts that take numbers (fuzzing, boot runners,
# bench): the one check of a number argument.
# num_in_range VALUE MIN MAX: VALUE is digits only and MIN <= VALUE <= MAX.
# Its length is checked first, so that test never sees a number past its
# range (a 20-digit one is an "Illegal number" to dash, not a refusal).
num_in_range() {
	case $1 in ''|*[!0-9]*) return 1 ;; esac
	[ ${#1} -le ${#3} ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
