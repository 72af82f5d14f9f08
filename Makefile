# µ-Xen research testbed: hosted build, tests, benchmarks.
#   make all      release build of the tools into build/rel/
#   make test     unit, scenario, trace and negative tests, under ASan+UBSan,
#                 built with gcc and with clang
#   make bench    replay throughput and instructions per exit
#   make run      boot the demo under Bochs, replay its recorded traces and
#                 print their fidelity (README.md)
#   make clean
# V=1 shows the commands.

PYTHON ?= /usr/bin/python3
VARIANT ?= rel
B := build/$(VARIANT)

ifeq ($(V),1)
Q :=
else
Q := @
endif

ifeq ($(VARIANT),rel)
CC := gcc
OPT := -O2 -g
else ifeq ($(VARIANT),asan-gcc)
CC := gcc
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(VARIANT),asan-clang)
CC := clang
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(VARIANT),cov)
CC := gcc
OPT := -O0 -g --coverage
else
$(error unknown VARIANT $(VARIANT): rel, asan-gcc, asan-clang or cov)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wvla
INC := -Ihv/include -Itraces -Ihv/arch/sim -Ihv/host/posix -Ireplay -Iharness
CFLAGS := -std=gnu11 $(OPT) $(WARN) $(INC) -MMD -MP $(EXTRA_CFLAGS)
# The core is freestanding: no libc headers, no implicit builtins it cannot
# count on in the real build.
CORE_CFLAGS := $(CFLAGS) -ffreestanding
LDFLAGS := $(OPT)

CORE_SRCS := $(wildcard hv/core/*.c) $(wildcard hv/arch/sim/*.c)
HOST_SRCS := $(wildcard hv/host/posix/*.c) $(wildcard traces/*.c) \
	$(filter-out replay/main.c,$(wildcard replay/*.c))
GEN_SRCS := $(filter-out harness/gen_main.c,$(wildcard harness/*.c))
TEST_SRCS := $(wildcard harness/tests/*.c)

CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o)
HOST_OBJS := $(HOST_SRCS:%.c=$(B)/%.o)
GEN_OBJS := $(GEN_SRCS:%.c=$(B)/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(B)/%.o)
LIB := $(B)/libuxen.a

TOOLS := $(B)/uxen-replay $(B)/uxen-gen $(B)/uxen-tests $(B)/uxen-bench-share

.PHONY: all tools test bench run clean deps deps-run deps-bench pyconsts
all: tools pyconsts
tools: $(TOOLS)

$(B)/hv/core/%.o $(B)/hv/arch/sim/%.o: CFLAGS := $(CORE_CFLAGS)
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [$(VARIANT)] $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJS) $(HOST_OBJS) $(GEN_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/uxen-replay: $(B)/replay/main.o $(LIB)
	@$(if $(Q),echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

$(B)/uxen-gen: $(B)/harness/gen_main.o $(LIB)
	@$(if $(Q),echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

$(B)/uxen-bench-share: $(B)/harness/bench/bench_share.o $(LIB)
	@$(if $(Q),echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

$(B)/uxen-tests: $(TEST_OBJS) $(LIB)
	@$(if $(Q),echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

# Python constants, generated from the C tables through the preprocessor.
pyconsts: scripts/uxen_consts.py
scripts/uxen_consts.py: scripts/gen_consts.sh hv/include/hv/tables/*.def traces/uxt.h hv/include/hv/types.h
	$(Q)sh scripts/gen_consts.sh $(CC) > $@.tmp && mv $@.tmp $@

deps:
	$(Q)sh scripts/deps.sh test
deps-run:
	$(Q)sh scripts/deps.sh run
deps-bench:
	$(Q)sh scripts/deps.sh bench

# Other parts of the project (the real VMX build, fuzzing ...) add their own
# rules in mk/*.mk and append what `make test` must build to TEST_DEPS;
# their test suites live in scripts/suites/*.sh (see scripts/run-tests.sh).
TEST_DEPS :=
TEST_DEPS_ASAN := # built with VARIANT=asan-clang
-include mk/*.mk

test: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=asan-gcc tools pyconsts
	$(Q)$(MAKE) --no-print-directory VARIANT=asan-clang tools $(TEST_DEPS_ASAN)
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools
	$(Q)$(if $(strip $(TEST_DEPS)),$(MAKE) --no-print-directory $(TEST_DEPS))
	$(Q)PYTHON=$(PYTHON) sh scripts/run-tests.sh

bench: deps-bench
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools
	$(Q)PYTHON=$(PYTHON) sh scripts/bench.sh

run: deps-run
	$(Q)$(MAKE) --no-print-directory VARIANT=rel tools pyconsts
	$(Q)$(MAKE) --no-print-directory boot
	$(Q)sh scripts/run.sh

clean:
	rm -rf build scripts/__pycache__ scripts/uxen_consts.py

-include $(shell find build -name '*.d' 2>/dev/null)
