# Fuzzing (fuzz/README.md): the targets built five ways, and the drivers.
#   make fuzz [ENGINE=libfuzzer|afl] [TARGET=exits|memory|hypercalls|trace|decode|all] [SECONDS=60] [JOBS=1]
#   make fuzz-build      every target for every engine
#   make coverage        the corpora through a gcov build; line coverage of hv/
# Builds (build/fuzz/<build>/<target>):
#   lf    libFuzzer + ASan + UBSan (clang -fsanitize=fuzzer)
#   afl   AFL++ persistent mode, shared-memory test cases, ASan + UBSan
#   repro standalone reproducer (ASan + UBSan): <target> [-o crash.uxt] FILES
#   cov   standalone, gcc --coverage, for `make coverage`
#   plain standalone, no sanitizers: instructions per input (make bench)

FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
ENGINE ?= libfuzzer
TARGET ?= all
SECONDS ?= 60
JOBS ?= 1
FZ := build/fuzz
FZ_LIB_SRCS := $(filter-out hv/core/mem.c,$(CORE_SRCS)) fuzz/mem_libc.c $(HOST_SRCS) fuzz/fuzz.c
FZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FZ_INC := $(INC) -Ifuzz -Ihv/core

FZ_CC_lf := clang
# Indirect calls (the core's host interface) are not traced: libFuzzer uses
# caller/callee pairs only with -use_value_profile=1, and the trace costs a
# call on every frame map and unmap.
FZ_OPT_lf := -O2 -g $(FZ_SAN) -fsanitize=fuzzer-no-link -fno-sanitize-coverage=indirect-calls
FZ_LD_lf := -fsanitize=fuzzer $(FZ_SAN)
FZ_DRV_lf :=
FZ_CC_afl := afl-clang-fast
FZ_OPT_afl := -O2 -g $(FZ_SAN)
FZ_LD_afl := $(FZ_SAN)
FZ_DRV_afl := -DFUZZ_AFL
FZ_CC_repro := clang
FZ_OPT_repro := -O1 -g $(FZ_SAN)
FZ_LD_repro := $(FZ_SAN)
FZ_DRV_repro :=
FZ_CC_cov := gcc
FZ_OPT_cov := -O0 -g --coverage
FZ_LD_cov := --coverage
FZ_DRV_cov :=
# plain: the reproducer without sanitizers or coverage, for make bench's
# instruction counts under callgrind (DWARF 4: valgrind's reader).
FZ_CC_plain := clang
FZ_OPT_plain := -O2 -gdwarf-4
FZ_LD_plain :=
FZ_DRV_plain :=
FZ_BUILDS := lf afl repro cov plain
# ASan's defaults for fuzzing (fuzz/asan_options.c): the two fuzzing builds.
FZ_EXTRA_lf := $(FZ)/lf/obj/fuzz/asan_options.o
FZ_EXTRA_afl := $(FZ)/afl/obj/fuzz/asan_options.o

FZ_LIBS_decode := -lcapstone

# The core's byte-at-a-time memset/memcpy (freestanding: no builtins) and
# the invariant checker's linear scans dominate an input's cost when
# instrumented for coverage and compared byte by byte. They carry no
# decisions worth feedback: build them without coverage instrumentation,
# and the memory helpers come from libc (fuzz/mem_libc.c for hv/core/mem.c:
# ASan checks each call's range at once). ASan and UBSan stay on.
# The same goes for the harness around the core: the replay engine and the
# kept core, the trace writer and (but for the trace target, which links
# its own instrumented copy) the reader, the POSIX host. Every input runs
# them the same way; each edge they add is one more feature libFuzzer
# handles per run, for nothing. The p2m walk belongs with them: the
# checker and the domain image use it, and materialize (the same loop
# over a template for any input).
FZ_PLAIN := hv/core/lib.c hv/core/image.c fuzz/mem_libc.c hv/core/invariants.c hv/core/p2m_walk.c \
	replay/engine.c replay/kept.c \
	fuzz/fuzz.c traces/uxt_writer.c traces/uxt_reader.c hv/host/posix/host_posix.c
FZ_PLAIN_lf := -fno-sanitize=fuzzer-no-link
# AFL++ instruments whatever afl-clang-fast compiles: AFL_NOOPT=1 makes it
# the plain clang it wraps (the same LLVM, the same flags) for these.
# Instrumented, the checker's and the
# reader's loops filled a third of the map (2,363 of the exits target's
# 6,570 edges), and their hit counts, which follow the size of the state
# rather than new behaviour, made queue entries of inputs that found
# nothing new.
FZ_PLAIN_ENV_afl := AFL_NOOPT=1
# Code walked entry by entry on every invariant check (the p2m walk, VMCS
# and frame-table scans), and the loops over whole tables and pages (fork
# and share of a p2m, the merge scanner's hash and compare): coverage
# counters, but no comparison tracing, which would call into libFuzzer at
# every entry or word (512 calls to hash one page). Likewise the console's
# loop over each byte written, and vCPU creation and reset, which write
# some 50 VMCS fields, each write testing whether it is being recorded.
# The same for the bookkeeping every host call and exit goes through: the
# host-call dispatcher and its argument checks, domains, forks and their
# dirty log, the vCPU accessors (hv.c), the recording of VMCS writes.
# Their comparisons are loop bounds, states and small ranges, which
# mutation finds without help: 80% of the comparisons an exits input
# made were theirs (of 1,855 per input; 5% were the exit handlers'), and
# not tracing them took 11-15% off the target's CPU time (fixed-seed
# libFuzzer runs of 60,000 inputs of up to 16 events, 4-5 of each).
# The exit handlers and the decoder, where an input's bytes meet MSR
# numbers, CPUID leaves, ports and VMCS encodings, keep it.
FZ_NOCMP := hv/core/p2m.c hv/core/frame.c hv/arch/sim/vmcs.c hv/core/p2m_share.c hv/core/merge.c \
	hv/core/console.c hv/core/vcpu.c hv/core/hypercall.c hv/core/domain.c hv/core/fork.c \
	hv/core/hv.c hv/core/record.c
FZ_NOCMP_lf := -fno-sanitize-coverage=trace-cmp

# The oracle itself, the invariant checker (with the p2m walk it and the
# kept core's domain image use), and that image: without ASan in the two
# fuzzing builds. They read the hypervisor's state through the frame table
# and bound every index themselves; ASan there would find bugs of the
# checker, not of the code under test. (The walk is the core's too now: a
# lazy fork materializes with it. It only reads tables, frames of the
# pool, where ASan has nothing to say.) ASan made the checker, which
# runs after every event and visits every frame held, the largest cost of
# the memory target (a third of its time, with 2 MiB leaves: 512 frames
# each). UBSan stays on, and the reproducer (repro) keeps ASan everywhere.
#
# The harness around the core likewise (the replay engine and kept core,
# the trace reader and writer, the POSIX host, fuzz.c): its ASan checks
# found no bug of the code under test, and cost a quarter of a 16-exit
# input's time in the exits target. The unit tests (make test) run it
# with ASan, and so does the reproducer. Both sets also take their
# memcpy, memset and memcmp from libc past ASan's interceptors
# (fuzz/unchecked_mem.h).
#
# And the simulated CPU (hv/arch/sim), the harness's stand-in for the
# hardware: its VMCS is an array in a frame of the pool, indexed through
# tables the encodings are masked into, and every VMREAD and VMWRITE of
# the handlers goes through it (a few percent of an exits input under
# ASan, for checks that cannot fail); its CPUID and TSC queues are fixed
# arrays behind bounded counters.
FZ_HARNESS := replay/engine.c replay/kept.c fuzz/fuzz.c traces/uxt_writer.c traces/uxt_reader.c \
	hv/host/posix/host_posix.c hv/arch/sim/vmcs.c hv/arch/sim/inputs.c
FZ_NOASAN := hv/core/invariants.c hv/core/p2m_walk.c hv/core/image.c $(FZ_HARNESS)
FZ_NOASAN_lf := -fno-sanitize=address -include fuzz/unchecked_mem.h
FZ_NOASAN_afl := -fno-sanitize=address -include fuzz/unchecked_mem.h
# unchecked_mem.h reaches the calls these files write; the compiler's own
# (a struct copied or set by assignment or initializer: the replay
# result zeroed per input, the kept core's reader and counts copied back,
# the checker's scratch) still named libc's memcpy and memset, that is
# ASan's interceptors: 3% of the exits target's callback. Renamed in the
# object, they go where the header sends the others.
# (An object objcopy could not rename is deleted: it must not look built.)
OBJCOPY ?= objcopy
FZ_UNCHECKED := $(foreach s,memcpy memset memcmp,--redefine-sym $(s)=fz_unchecked_$(s))
FZ_NOASAN_POST_lf = && { $(OBJCOPY) $(FZ_UNCHECKED) $@ || { rm -f $@; exit 1; }; }
FZ_NOASAN_POST_afl = $(FZ_NOASAN_POST_lf)
# The harness is without UBSan too, for the same reason: it checks the
# harness, not the code under test, whose every file keeps UBSan (the
# checker too). Its checks on the harness's pointer arithmetic and
# shifts (the replay loop, the trace reader and writer, the simulated
# VMCS) were 6-7% of the exits target's callback (hot loop over an AFL++
# queue). The trace target fuzzes the reader with both sanitizers (its own
# instrumented copy), and the unit tests and the reproducer keep both
# everywhere.
FZ_NOUBSAN_lf := -fno-sanitize=undefined
FZ_NOUBSAN_afl := -fno-sanitize=undefined

# $(1): build name. Objects under build/fuzz/$(1)/obj, one archive, one
# binary per target (+ the driver for builds other than libFuzzer).
# Objects depend on this file: it holds their flags.
define fz_build
$(FZ)/$(1)/obj/%.o: %.c mk/fuzz.mk
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CC [fuzz-$(1)] $$<")
	$$(Q)AFL_QUIET=1 $$(if $$(filter $$(FZ_PLAIN),$$<),$$(FZ_PLAIN_ENV_$(1))) $$(FZ_CC_$(1)) \
		-std=gnu11 $$(FZ_OPT_$(1)) $$(WARN) $$(FZ_INC) -MMD -MP \
		$$(if $$(filter hv/%,$$<),-ffreestanding) $$(FZ_DRV_$(1)) \
		$$(if $$(filter $$(FZ_PLAIN),$$<),$$(FZ_PLAIN_$(1))) \
		$$(if $$(filter $$(FZ_NOCMP),$$<),$$(FZ_NOCMP_$(1))) \
		$$(if $$(filter $$(FZ_NOASAN),$$<),$$(FZ_NOASAN_$(1))) \
		$$(if $$(filter $$(FZ_HARNESS),$$<),$$(FZ_NOUBSAN_$(1))) -c $$< -o $$@ \
		$$(if $$(filter $$(FZ_NOASAN),$$<),$$(FZ_NOASAN_POST_$(1)))
# The trace target's reader, instrumented (the archive's is plain).
$(FZ)/$(1)/obj/trace-reader.o: traces/uxt_reader.c mk/fuzz.mk
	@mkdir -p $$(dir $$@)
	$$(Q)AFL_QUIET=1 $$(FZ_CC_$(1)) -std=gnu11 $$(FZ_OPT_$(1)) $$(WARN) $$(FZ_INC) $$(FZ_DRV_$(1)) -c $$< -o $$@
$(FZ)/$(1)/libfz.a: $$(FZ_LIB_SRCS:%.c=$(FZ)/$(1)/obj/%.o)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
$(FZ)/$(1)/%: $(FZ)/$(1)/obj/fuzz/fuzz_%.o $$(if $$(filter lf,$(1)),,$(FZ)/$(1)/obj/fuzz/driver.o) $(FZ_EXTRA_$(1)) $(FZ)/$(1)/libfz.a $(FZ)/$(1)/obj/trace-reader.o
	@$$(if $$(Q),echo "  LD [fuzz-$(1)] $$@")
	$$(Q)AFL_QUIET=1 $$(FZ_CC_$(1)) $$(FZ_LD_$(1)) -o $$@ $$(filter-out %/trace-reader.o %.a,$$(filter %.o,$$^)) \
		$$(if $$(filter trace,$$*),$(FZ)/$(1)/obj/trace-reader.o) $$(filter %.a,$$^) $$(FZ_LIBS_$$*) -lm
endef
$(foreach b,$(FZ_BUILDS),$(eval $(call fz_build,$(b))))

FZ_ALL_lf := $(FUZZ_TARGETS:%=$(FZ)/lf/%)
FZ_ALL_afl := $(FUZZ_TARGETS:%=$(FZ)/afl/%)
FZ_ALL_repro := $(FUZZ_TARGETS:%=$(FZ)/repro/%)
FZ_ALL_cov := $(FUZZ_TARGETS:%=$(FZ)/cov/%)
FZ_ALL_plain := $(FUZZ_TARGETS:%=$(FZ)/plain/%)

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-trace coverage
.PRECIOUS: $(FZ)/%.o $(FZ)/%/libfz.a

fuzz-build: $(FZ_ALL_lf) $(FZ_ALL_afl) $(FZ_ALL_repro)

# Seeds and dictionaries (generated by scripts/fuzz-seeds.py).
fuzz-seeds: $(FZ)/seeds/.stamp
$(FZ)/seeds/.stamp: $(wildcard traces/*/*.uxt traces/*/*/*.uxt) scripts/fuzz-seeds.py scripts/uxen_consts.py build/rel/uxen-gen
	$(Q)rm -rf $(FZ)/seeds && $(PYTHON) scripts/fuzz-seeds.py --out $(FZ)/seeds --gen build/rel/uxen-gen
	$(Q)touch $@

fuzz:
	$(Q)sh scripts/fuzz-run.sh --check '$(ENGINE)' '$(TARGET)' '$(SECONDS)' '$(JOBS)'
	$(Q)sh scripts/deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools pyconsts
	$(Q)$(MAKE) --no-print-directory fuzz-seeds $(if $(filter afl,$(ENGINE)),$(FZ_ALL_afl),$(FZ_ALL_lf))
	$(Q)PYTHON=$(PYTHON) sh scripts/fuzz-run.sh '$(ENGINE)' '$(TARGET)' '$(SECONDS)' '$(JOBS)'

# A finding as a trace uxen-replay runs (scripts/fuzz-trace.py):
#   make fuzz-trace TARGET=exits|memory|hypercalls|decode|trace INPUT=FILE OUT=FILE.uxt
# It prints uxen-replay's status on the trace (3: the hypervisor failed;
# a finding a sanitizer reported replays on the asan-clang build), and make
# fails unless that is 0 (the script exits with it).
# $(1) quoted for the shell, whatever it holds (a path with a ' too).
fz_shq = '$(subst ','"'"',$(1))'
fuzz-trace:
	$(Q)if [ -z $(call fz_shq,$(INPUT)) ] || [ -z $(call fz_shq,$(OUT)) ] || [ "$(words $(TARGET))" != 1 ] || [ -n "$(findstring %,$(TARGET))" ] || \
		[ -z "$(filter $(TARGET),$(FUZZ_TARGETS))" ]; then \
		echo "usage: make fuzz-trace TARGET=exits|memory|hypercalls|decode|trace INPUT=FILE OUT=FILE.uxt" >&2; exit 2; fi
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools pyconsts
	$(Q)$(MAKE) --no-print-directory VARIANT=asan-clang build/asan-clang/uxen-replay
	$(Q)$(if $(filter trace,$(TARGET)),true,$(MAKE) --no-print-directory $(FZ)/repro/$(if $(filter decode,$(TARGET)),exits,$(TARGET)))
	$(Q)$(PYTHON) scripts/fuzz-trace.py $(TARGET) $(call fz_shq,$(INPUT)) $(call fz_shq,$(OUT))

deps-fuzz:
	$(Q)sh scripts/deps.sh fuzz

coverage: deps-fuzz
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools pyconsts
	$(Q)$(MAKE) --no-print-directory fuzz-seeds $(FZ_ALL_cov)
	$(Q)PYTHON=$(PYTHON) sh scripts/fuzz-coverage.sh

# make test's crash-to-trace check (scripts/suites/fuzz.sh) needs a real
# failure: the exits reproducer and uxen-replay again, with bugs planted in
# a copy of the CPUID handler (an assertion on hypervisor leaf 0x4fff5e1f,
# a write past the caller's 4-word array on leaf 0x4fff5e20, for ASan)
# linked ahead of the archives, whose own copy it replaces.
FZ_PLANT := $(FZ)/plant
$(FZ_PLANT)/exit_cpuid.c: hv/core/exit_cpuid.c mk/fuzz.mk
	@mkdir -p $(dir $@)
	$(Q)sed '/^static void hv_leaf(/{n;s/^{$$/{ HV_ASSERT(leaf != 0x4fff5e1fu); if (leaf == 0x4fff5e20u) { volatile u32 at = 4; out[at] = 1; }/;}' $< >$@
	$(Q)if cmp -s $< $@; then echo "mk/fuzz.mk: no hv_leaf() in $< to plant a bug in" >&2; rm -f $@; exit 1; fi
$(FZ_PLANT)/exits: $(FZ_PLANT)/exit_cpuid.c $(FZ)/repro/obj/fuzz/fuzz_exits.o $(FZ)/repro/obj/fuzz/driver.o $(FZ)/repro/libfz.a
	$(Q)$(FZ_CC_repro) -std=gnu11 $(FZ_OPT_repro) $(WARN) $(FZ_INC) -MMD -MP -ffreestanding -c $< -o $@-cpuid.o
	$(Q)$(FZ_CC_repro) $(FZ_LD_repro) -o $@ $@-cpuid.o $(filter-out %.c,$^) -lm
# uxen-replay of the variant being built (make test's: rel), from its objects.
$(FZ_PLANT)/$(VARIANT)/uxen-replay: $(FZ_PLANT)/exit_cpuid.c $(B)/replay/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CORE_CFLAGS) -Ihv/core -c $< -o $@-cpuid.o
	$(Q)$(CC) $(LDFLAGS) -o $@ $@-cpuid.o $(filter-out %.c,$^) -lm
-include $(wildcard $(FZ_PLANT)/*.d $(FZ_PLANT)/*/*.d)

TEST_DEPS += fuzz-seeds $(FZ_ALL_lf) $(FZ_ALL_afl) $(FZ_ALL_repro) $(FZ_PLANT)/exits $(FZ_PLANT)/rel/uxen-replay
TEST_DEPS_ASAN += $(FZ_PLANT)/asan-clang/uxen-replay

# Keep the targets' objects (make would delete them as intermediates).
.SECONDARY: $(foreach b,$(FZ_BUILDS),$(FUZZ_TARGETS:%=$(FZ)/$(b)/obj/fuzz/fuzz_%.o) $(FZ)/$(b)/obj/fuzz/driver.o)
