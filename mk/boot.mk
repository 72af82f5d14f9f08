# The real VMX build: the bare-metal host OS (hv/host/baremetal), the
# hypervisor image (the core + hv/arch/vmx) and the boot scenarios
# (harness/boot), put together as a bootable disk image for Bochs / QEMU.
#   make boot       build/boot/disk.img and the hypervisor image
# Boot a scenario by hand: scripts/boot-bochs.sh SCENARIO, scripts/boot-qemu.sh.

BB := build/boot
BOOT_CC := gcc
BOOT_WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wvla
# Freestanding, no red zone (interrupts and VM exits use the same stack),
# no SSE/x87 (general registers only).
BOOT_BASE := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdlib \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fcf-protection=none $(BOOT_WARN) -MMD -MP
KERN_CFLAGS := $(BOOT_BASE) -fno-pic -mcmodel=small \
	-Ihv/include -Itraces -Ihv/host/baremetal -Ihv/arch/vmx -Iharness/boot/guests

# The hypervisor image: the same core sources, position-independent, with
# the VMX backend; it relocates itself (R_X86_64_RELATIVE only).
HV_CFLAGS := $(BOOT_BASE) -fpie -fvisibility=hidden \
	-Ihv/include -Itraces -Ihv/core -Ihv/arch/vmx
HV_SRCS := $(wildcard hv/core/*.c) $(wildcard hv/arch/vmx/*.c)
HV_ASM := $(wildcard hv/arch/vmx/*.S)
HV_OBJS := $(HV_SRCS:%.c=$(BB)/hv/%.o) $(HV_ASM:%.S=$(BB)/hv/%.o)

$(BB)/hv/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [hv] $<")
	$(Q)$(BOOT_CC) $(HV_CFLAGS) -c $< -o $@

$(BB)/hv/%.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS [hv] $<")
	$(Q)$(BOOT_CC) $(HV_CFLAGS) -c $< -o $@

$(BB)/hv.elf: $(HV_OBJS) hv/arch/vmx/image.ld
	@$(if $(Q),echo "  LD [hv] $@")
	$(Q)ld -m elf_x86_64 -pie --no-dynamic-linker -z noexecstack -z norelro --no-warn-rwx-segments \
		--hash-style=sysv -T hv/arch/vmx/image.ld -o $@ $(HV_OBJS)
	$(Q)if readelf -rW $@ | awk '/^0/ && $$3 != "R_X86_64_RELATIVE"' | grep -q .; then \
		echo "$@: relocations other than R_X86_64_RELATIVE:" >&2; \
		readelf -rW $@ | awk '/^0/ && $$3 != "R_X86_64_RELATIVE"' >&2; rm -f $@; exit 1; fi

$(BB)/hv.img: $(BB)/hv.elf scripts/mkhvimage.py
	$(Q)objcopy -O binary $< $@.raw
	$(Q)$(PYTHON) scripts/mkhvimage.py $@.raw $@

# Test guests: flat binaries, embedded in the kernel.
GUEST_SRCS := $(wildcard harness/boot/guests/*.S)
GUEST_BINS := $(GUEST_SRCS:harness/boot/guests/%.S=$(BB)/guests/%.bin)

$(BB)/guests/%.bin: harness/boot/guests/%.S harness/boot/guests/guest.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS [guest] $<")
	$(Q)$(BOOT_CC) -Iharness/boot/guests -Ihv/include -c $< -o $(BB)/guests/$*.o
	$(Q)ld -m elf_x86_64 -z noexecstack -Ttext=0x1000 --oformat binary -o $@ $(BB)/guests/$*.o

$(BB)/k/hv/host/baremetal/blobs.o: $(BB)/hv.img
$(BB)/k/harness/boot/guests.o: $(GUEST_BINS)

# The host OS formats with the core's freestanding formatter (hv/core/fmt.c).
KERN_SRCS := $(wildcard hv/host/baremetal/*.c) $(wildcard harness/boot/*.c) hv/core/fmt.c
KERN_ASM := $(filter-out hv/host/baremetal/boot.S,$(wildcard hv/host/baremetal/*.S)) \
	$(wildcard harness/boot/*.S)
KERN_OBJS := $(KERN_SRCS:%.c=$(BB)/k/%.o) $(KERN_ASM:%.S=$(BB)/k/%.o)

# The boot disk: boot sector, config sector (the runner fills it), kernel;
# padded to the geometry the Bochs runner declares (2 x 16 x 63 sectors).
BOOT_DISK_BYTES := 1032192

.PHONY: boot
boot: $(BB)/disk.img

$(BB)/k/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [boot] $<")
	$(Q)$(BOOT_CC) $(KERN_CFLAGS) -c $< -o $@

$(BB)/k/%.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS [boot] $<")
	$(Q)$(BOOT_CC) $(KERN_CFLAGS) -c $< -o $@

$(BB)/bootsect.bin: hv/host/baremetal/boot.S hv/host/baremetal/layout.h
	@mkdir -p $(dir $@)
	$(Q)$(BOOT_CC) -Ihv/host/baremetal -c $< -o $(BB)/bootsect.o
	$(Q)ld -m elf_x86_64 -Ttext=0x7c00 --oformat binary -o $@ $(BB)/bootsect.o

$(BB)/kernel.elf: $(KERN_OBJS) hv/host/baremetal/kernel.ld
	@$(if $(Q),echo "  LD [boot] $@")
	$(Q)ld -m elf_x86_64 -nostdlib -static -z noexecstack -T hv/host/baremetal/kernel.ld -o $@ $(KERN_OBJS)

$(BB)/kernel.bin: $(BB)/kernel.elf
	$(Q)objcopy -O binary $< $@
	$(Q)max=$$(( 15 * 32768 - 512 )); size=$$(wc -c < $@); \
	if [ $$size -gt $$max ]; then echo "kernel.bin: $$size bytes, the boot sector loads $$max" >&2; rm -f $@; exit 1; fi

$(BB)/disk.img: $(BB)/bootsect.bin $(BB)/kernel.bin
	$(Q)cat $(BB)/bootsect.bin > $@.tmp
	$(Q)dd if=/dev/zero bs=512 count=1 2>/dev/null >> $@.tmp
	$(Q)cat $(BB)/kernel.bin >> $@.tmp
	$(Q)truncate -s $(BOOT_DISK_BYTES) $@.tmp && mv $@.tmp $@

TEST_DEPS += boot
