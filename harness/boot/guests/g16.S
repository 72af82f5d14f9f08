/* The real-mode test guest (unrestricted guest, 0000:1000): console, CPUID,
 * port I/O to the host's device, a hypercall, HLT, then SHUTDOWN. */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	mov $1, %bp
	mov $hello, %si
	call puts
	mov $2, %bp
	mov $0x40000000, %eax
	cpuid
	cmp $0x6e655875, %ebx
	jne fail
	mov $3, %bp
	mov $0x42, %al
	out %al, $G_PORT_OUT
	in $G_PORT_IN, %al
	cmp $G_PORT_IN_VALUE, %al
	jne fail
	mov $4, %bp
	xor %edi, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $HC_VERSION, %eax
	vmcall
	cmp $0x10000, %eax
	jne fail
	mov $5, %bp
	hlt
	mov $bye, %si
	call puts
	mov $G_SHUTDOWN_OK, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $HC_SHUTDOWN, %eax
	vmcall
	jmp .
fail:
	mov $G_SHUTDOWN_FAIL, %edi
	movzwl %bp, %ebp
	add %ebp, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $HC_SHUTDOWN, %eax
	vmcall
	jmp .
puts:
	lodsb
	test %al, %al
	jz 1f
	out %al, $0xe9
	jmp puts
1:	ret
hello:	.asciz "g16: hello from real mode\n"
bye:	.asciz "g16: all checks passed\n"
	.section .note.GNU-stack, "", @progbits
