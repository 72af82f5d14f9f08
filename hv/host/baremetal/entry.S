/* The kernel's first instructions (at 0x8000, in real mode): E820 memory
 * map, A20, protected mode, 4 GiB identity map with 2 MiB pages, long mode,
 * then kmain(). Also the AP start-up trampoline (copied below 1 MiB). */
#include "layout.h"

	.section .boot, "awx", @progbits
	.code16
	.globl _kstart
_kstart:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	/* E820: entries of 24 bytes at E820_BUF, count at E820_COUNT. */
	xor %ebx, %ebx
	mov $E820_BUF, %di
	movw $0, E820_COUNT
1:	mov $0xe820, %eax
	mov $24, %ecx
	mov $0x534d4150, %edx
	movl $1, 20(%di)
	int $0x15
	jc 2f
	cmp $0x534d4150, %eax
	jne 2f
	add $24, %di
	incw E820_COUNT
	cmpw $E820_MAX, E820_COUNT
	jae 2f
	test %ebx, %ebx
	jnz 1b
2:	/* fast A20 */
	in $0x92, %al
	or $2, %al
	and $0xfe, %al
	out %al, $0x92
	lgdtl gdt_desc
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x18, $pm32

	.code32
pm32:
	mov $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	/* Page tables: PML4 at PT_BASE, PDPT +0x1000, 4 PDs +0x2000. */
	mov $PT_BASE, %edi
	xor %eax, %eax
	mov $(6 * 1024), %ecx
	rep stosl
	movl $(PT_BASE + 0x1000 + 3), PT_BASE
	mov $(PT_BASE + 0x1000), %edi
	mov $(PT_BASE + 0x2000 + 3), %eax
	mov $4, %ecx
3:	mov %eax, (%edi)
	add $0x1000, %eax
	add $8, %edi
	loop 3b
	mov $(PT_BASE + 0x2000), %edi
	mov $0x83, %eax                 /* present, writable, 2 MiB */
	xor %edx, %edx
	mov $2048, %ecx
4:	mov %eax, (%edi)
	mov %edx, 4(%edi)
	add $0x200000, %eax
	adc $0, %edx
	add $8, %edi
	loop 4b
enter_long:
	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $PT_BASE, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax                 /* LME */
	wrmsr
	mov %cr0, %eax
	and $0x9fffffff, %eax           /* caches on: CD = NW = 0 */
	or $0x80000021, %eax            /* PG, NE (x87 errors as exceptions), PE */
	mov %eax, %cr0
	ljmp $0x08, $lm64

	.code64
lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %ax, %ax
	mov %ax, %fs
	mov %ax, %gs
	/* zero .bss */
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp
	call kmain
5:	cli
	hlt
	jmp 5b

	/* Below 64 KiB: real-mode LGDT reaches it. Written by tss.c. */
	.section .boot, "awx", @progbits
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10 data */
	.quad 0x00cf9a000000ffff        /* 0x18 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x20 32-bit data */
	.fill 2 * MAX_CPUS, 8, 0        /* 0x28: a TSS per CPU (tss.c) */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 16
	.globl boot_stack_top
boot_stack:
	.skip 32768
boot_stack_top:
