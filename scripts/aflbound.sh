# Sourced by the scripts that run AFL++ with AFL_TRY_AFFINITY (the campaign,
# the bench): whether an instance was bound to a core, from its log.
# afl_bound LOG: AFL++ said it was binding, and not that every core was
# taken (after which it runs unbound).
afl_bound() {
	grep -q 'try binding to #' "$1" && ! grep -q 'Uh-oh, looks like all' "$1"
}
