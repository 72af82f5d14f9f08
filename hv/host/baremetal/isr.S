/* Interrupt entry stubs: push a vector (and a dummy error code where the
 * CPU pushes none), save the GPRs, call isr_dispatch(frame). Also
 * try_call()/try_unwind(): recovery from a fault in a probe. */
	.text
	.macro STUB vec, err
	.globl isr\vec
isr\vec:
	.if \err == 0
	push $0
	.endif
	push $\vec
	jmp isr_common
	.endm

	.irp v, 0,1,2,3,4,5,6,7,9,16,18,19,20,32,39,240
	STUB \v, 0
	.endr
	.irp v, 8,10,11,12,13,14,17
	STUB \v, 1
	.endr

isr_common:
	push %rax
	push %rcx
	push %rdx
	push %rbx
	push %rbp
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	call isr_dispatch
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rbp
	pop %rbx
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp
	iretq

/* int try_call(void (*fn)(void *), void *arg) */
	.globl try_call
try_call:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, try_rsp(%rip)
	mov %rdi, %rax
	mov %rsi, %rdi
	sub $8, %rsp
	call *%rax
	add $8, %rsp
	movq $0, try_rsp(%rip)
	xor %eax, %eax
1:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
/* void try_unwind(int code): back out of try_call, returning code. */
	.globl try_unwind
try_unwind:
	mov try_rsp(%rip), %rsp
	movq $0, try_rsp(%rip)
	mov %edi, %eax
	jmp 1b

	.bss
	.balign 8
	.globl try_rsp
try_rsp: .quad 0
