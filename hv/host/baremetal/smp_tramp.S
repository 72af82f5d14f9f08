/* The AP start-up trampoline: copied to AP_TRAMPOLINE (SIPI vector 0x01)
 * by smp.c. Real mode -> protected mode (the kernel's GDT) -> long mode
 * (the kernel's page tables) -> ap_entry64 in the kernel proper. */
#include "layout.h"
#define T(x) (AP_TRAMPOLINE + (x) - ap_tramp)

	.section .rodata
	.globl ap_tramp, ap_tramp_end
	.code16
ap_tramp:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lgdtl gdt_desc
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x18, $T(ap_pm32)
	.code32
ap_pm32:
	mov $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $PT_BASE, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	and $0x9fffffff, %eax
	or $0x80000021, %eax
	mov %eax, %cr0
	ljmp $0x08, $ap_entry64
ap_tramp_end:

	.text
	.code64
ap_entry64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %ax, %ax
	mov %ax, %fs
	mov %ax, %gs
	mov ap_boot_rsp(%rip), %rsp
	xor %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
