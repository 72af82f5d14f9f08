/* The boot sector (LBA 0, loaded by the BIOS at 0x7c00). Loads the config
 * sector (LBA 1) at 0x7e00 and the kernel (LBA 2 on) at 0x8000 with INT 13h
 * AH=42h, then jumps to the kernel's 16-bit entry at 0x8000. */
#include "layout.h"
	.code16
	.section .text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	ljmp $0, $1f
1:	mov %dl, boot_drive
	mov $BOOT_CHUNKS, %cx
2:	push %cx
	mov $dap, %si
	mov boot_drive, %dl
	mov $0x42, %ah
	int $0x13
	jc fail
	addw $0x800, dap_seg        /* 64 sectors = 32 KiB further */
	addl $64, dap_lba
	pop %cx
	loop 2b
	mov boot_drive, %dl
	ljmp $0, $0x8000
fail:
	mov $msg, %si
3:	lodsb
	test %al, %al
	jz 4f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 3b
4:	hlt
	jmp 4b

msg:	.asciz "boot: disk read failed\r\n"
boot_drive: .byte 0
	.balign 4
dap:	.byte 16, 0
	.word 64                    /* sectors per read */
	.word 0                     /* offset */
dap_seg: .word 0x07e0
dap_lba: .long 1, 0

	.org 510
	.byte 0x55, 0xaa
