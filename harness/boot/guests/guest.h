/* Shared by the test guests (assembly) and the boot scenarios (C): the
 * guest-physical layout the host builds and the test device's ports. */
#ifndef GUEST_H
#define GUEST_H

#define G_CODE 0x1000         /* where a guest image is loaded; reset RIP */
#define G_PT 0x10000          /* PML4, PDPT, PD: 1 GiB identity, 2 MiB pages */
#define G_DATA 0x20000        /* scratch data page */
#define G_STACK 0x80000       /* initial RSP */
#define G_MEMTEST 0x100000    /* memory test area, 256 KiB */
#define G_RAM_FRAMES 512      /* 2 MiB of RAM from gpa 0 */
#define G_MMIO 0x3fe00000     /* the host's test device (one page) */
#define G_UNOWNED 0x01000000  /* mapped by the guest's page tables, not RAM */
#define G_PORT_OUT 0x80       /* test device: OUT is logged by the host */
#define G_PORT_IN 0x81        /* test device: IN returns G_PORT_IN_VALUE */
#define G_PORT_IN_VALUE 0x5a
#define G_MMIO_READ(off) (0xcafe0000 + (off))
#define G_SHUTDOWN_OK 0x600d
#define G_SHUTDOWN_FAIL 0xbad000 /* + the failing step */

#ifdef __ASSEMBLER__
#define X(name, nr, callers, nargs, a0, a1, a2, a3) .equ HC_##name, nr
#include "hv/tables/hypercalls.def"
#undef X
/* RAX = number, RDI, RSI, RDX, R10 = arguments; result in RAX. */
#define HCALL(nr) mov $nr, %eax; vmcall
/* Unused arguments must be 0: HCn clears those after the first n. */
#define HC0(nr) xor %edi, %edi; HC1(nr)
#define HC1(nr) xor %esi, %esi; HC2(nr)
#define HC2(nr) xor %edx, %edx; xor %r10d, %r10d; HCALL(nr)
#endif

#endif
