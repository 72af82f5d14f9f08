/* Fixed physical addresses of the bare-metal host OS (all below 1 MiB
 * except the kernel's .bss and what the allocator hands out). */
#ifndef BM_LAYOUT_H
#define BM_LAYOUT_H

#define E820_COUNT 0x500   /* u16 number of entries */
#define E820_BUF 0x510     /* 24-byte entries */
#define E820_MAX 100
#define PT_BASE 0x90000    /* PML4, PDPT, 4 PDs: 4 GiB identity map */
#define CONFIG_ADDR 0x7e00 /* the config sector (LBA 1) */
#define KERNEL_ADDR 0x8000
#define AP_TRAMPOLINE 0x1000 /* AP start-up code (SIPI vector 0x01) */
#define BSS_ADDR 0x200000  /* the kernel's .bss (2 MiB) */
#define MAX_CPUS 8
#define TSS_SEL(cpu) (0x28 + 16 * (cpu))
#define BOOT_CHUNKS 15     /* 15 x 32 KiB: kernel + config up to 0x80000 */
#define KERNEL_MAX (BOOT_CHUNKS * 0x8000 - 0x200)

#endif
