/* De-privileging a CPU and the host container's VM exits (depriv.c).
 *
 * int vmx_depriv_entry(void)
 *   The API entry the host calls on each CPU. depriv.c builds a VMCS whose
 *   guest state is the caller right after this call returns (RIP = the
 *   return address, RSP above it); then the callee-saved registers are put
 *   back, RAX = 0, and VMLAUNCH: the caller goes on in non-root mode, and
 *   sees 0. If anything fails it gets the error, still privileged.
 *
 * vmx_host_exit
 *   HOST_RIP of every host container VMCS. HOST_RSP is the top of this
 *   CPU's own stack (in the image), with its struct pcpu * just above. */
	.text
	.globl vmx_depriv_entry
	.hidden vmx_depriv_entry
	.type vmx_depriv_entry, @function
vmx_depriv_entry:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	lea 48(%rsp), %rdi          /* the return-address slot */
	sub $8, %rsp
	call vmx_depriv_prepare
	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	test %eax, %eax
	jnz 1f
	vmlaunch
	/* VMLAUNCH failed: still privileged, on the caller's stack. */
	sub $8, %rsp
	call vmx_depriv_failed
	add $8, %rsp
1:	ret

	.globl vmx_host_exit
	.hidden vmx_host_exit
	.type vmx_host_exit, @function
vmx_host_exit:
	push %rax
	mov 16(%rsp), %rax          /* struct pcpu * */
	mov %rcx, 1*8(%rax)
	mov %rdx, 2*8(%rax)
	mov %rbx, 3*8(%rax)
	mov %rbp, 5*8(%rax)
	mov %rsi, 6*8(%rax)
	mov %rdi, 7*8(%rax)
	mov %r8, 8*8(%rax)
	mov %r9, 9*8(%rax)
	mov %r10, 10*8(%rax)
	mov %r11, 11*8(%rax)
	mov %r12, 12*8(%rax)
	mov %r13, 13*8(%rax)
	mov %r14, 14*8(%rax)
	mov %r15, 15*8(%rax)
	pop %rcx
	mov %rcx, 0*8(%rax)
	mov %rax, %rdi
	call vmx_host_exit_handler   /* rsp is 16-aligned here */
	mov 8(%rsp), %rax
	mov 1*8(%rax), %rcx
	mov 2*8(%rax), %rdx
	mov 3*8(%rax), %rbx
	mov 5*8(%rax), %rbp
	mov 6*8(%rax), %rsi
	mov 7*8(%rax), %rdi
	mov 8*8(%rax), %r8
	mov 9*8(%rax), %r9
	mov 10*8(%rax), %r10
	mov 11*8(%rax), %r11
	mov 12*8(%rax), %r12
	mov 13*8(%rax), %r13
	mov 14*8(%rax), %r14
	mov 15*8(%rax), %r15
	mov 0*8(%rax), %rax
	vmresume
	call vmx_host_resume_failed

/* Root-mode exceptions: NMIs return; anything else is a hypervisor bug. */
	.macro RSTUB vec
	.balign 16
hv_root_isr\vec:
	.if \vec == 2
	iretq
	.else
	.if \vec == 8 || (\vec >= 10 && \vec <= 14) || \vec == 17 || \vec == 21
	pop %rsi                    /* error code */
	.else
	xor %esi, %esi
	.endif
	mov $\vec, %edi
	mov (%rsp), %rdx            /* rip */
	and $-16, %rsp
	call hv_root_fault
	.endif
	.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	RSTUB \v
	.endr

	.section .data.rel.ro, "aw"
	.balign 8
	.globl hv_root_isr_table
	.hidden hv_root_isr_table
hv_root_isr_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad hv_root_isr\v
	.endr

	.section .note.GNU-stack, "", @progbits
