/* A hostile guest: thousands of hypercalls with pseudo-random numbers and
 * arguments, CPUID of random leaves, port I/O to random ports, console
 * writes from memory it does not own; then it reads memory it does not
 * own, which must end its domain (and nothing else). */
#include "guest.h"
	.code64
	.text
	.globl _start
_start:
	mov $0x2545f4914f6cdd1d, %r12   /* LCG state */
	mov $300, %r13d
1:	call rand
	mov %rax, %rbx
	call rand
	mov %rax, %rdi
	call rand
	mov %rax, %rsi
	call rand
	mov %rax, %rdx
	call rand
	mov %rax, %r10
	/* Argument shapes: small numbers, gpas in and out of RAM, huge. */
	test $1, %bl
	jz 2f
	and $0xfffff, %rdi
	or $G_MEMTEST, %rdi
	and $0xff, %rsi
	xor %edx, %edx
	xor %r10d, %r10d
2:	mov %ebx, %eax
	shr $8, %eax
	and $0x3f, %eax
	cmp $HC_SHUTDOWN, %eax           /* stay alive to the end */
	je 3f
	cmp $HC_MEMORY_RELEASE, %eax     /* and keep our code */
	je 3f
	vmcall
3:	mov %ebx, %eax
	shr $16, %eax
	and $0xf, %eax
	cmp $1, %eax
	jne 4f
	mov %ebx, %eax                   /* CPUID of a random leaf */
	shr $20, %eax
	test $1, %bl
	jz 5f
	or $0x40000000, %eax
5:	cpuid
4:	mov %ebx, %eax
	shr $24, %eax
	and $0xf, %eax
	cmp $2, %eax
	jne 6f
	mov %ebx, %edx                   /* port I/O to a random port */
	shr $4, %edx
	and $0x3ff, %edx
	cmp $0xe9, %edx
	je 6f
	in %dx, %eax
	out %eax, %dx
6:	dec %r13d
	jnz 1b
	/* Console write from MMIO and unowned memory: -EFAULT. */
	mov $G_UNOWNED, %edi
	mov $16, %esi
	xor %edx, %edx
	xor %r10d, %r10d
	mov $HC_CONSOLE_WRITE, %eax
	vmcall
	cmp $-14, %rax
	jne bad
	/* Now touch memory we do not own. */
	mov $G_UNOWNED, %rbx
	mov (%rbx), %rax
bad:
	xor %edi, %edi
	dec %rdi
	xor %esi, %esi
	mov $HC_SHUTDOWN, %eax
	vmcall
	jmp .

rand:	/* r12 = r12 * 6364136223846793005 + 1442695040888963407 */
	mov $6364136223846793005, %rax
	imul %r12, %rax
	mov $1442695040888963407, %rcx
	add %rcx, %rax
	mov %rax, %r12
	ret
	.section .note.GNU-stack, "", @progbits
