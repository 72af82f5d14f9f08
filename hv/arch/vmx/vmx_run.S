/* VM entry and the VM-exit stub. The only VMX instructions outside
 * vmx_insn.h: they need the exact register state around them.
 *
 * int vmx_enter(u64 gprs[16], int resume)
 *   Loads the guest's GPRs from gprs (x86 order; gprs[4], RSP, is unused:
 *   it lives in the VMCS), points HOST_RSP/HOST_RIP at this frame and
 *   vmx_exit, and runs VMLAUNCH (resume = 0) or VMRESUME. Returns 0 after a
 *   VM exit, with the guest's GPRs saved back into gprs; 1 (VMfailInvalid)
 *   or 2 (VMfailValid) if the instruction failed. */
#define HOST_RSP 0x6c14
#define HOST_RIP 0x6c16

	.text
	.globl vmx_enter
	.type vmx_enter, @function
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi                   /* gprs, found again by vmx_exit */
	mov $HOST_RSP, %eax
	vmwrite %rsp, %rax
	lea vmx_exit(%rip), %rdx
	mov $HOST_RIP, %eax
	vmwrite %rdx, %rax
	test %esi, %esi             /* flags survive the MOVs below */
	mov 0*8(%rdi), %rax
	mov 1*8(%rdi), %rcx
	mov 2*8(%rdi), %rdx
	mov 3*8(%rdi), %rbx
	mov 5*8(%rdi), %rbp
	mov 6*8(%rdi), %rsi
	mov 8*8(%rdi), %r8
	mov 9*8(%rdi), %r9
	mov 10*8(%rdi), %r10
	mov 11*8(%rdi), %r11
	mov 12*8(%rdi), %r12
	mov 13*8(%rdi), %r13
	mov 14*8(%rdi), %r14
	mov 15*8(%rdi), %r15
	mov 7*8(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* VM entry failed: CF (invalid) or ZF (valid) says how. */
	mov $1, %eax
	jc 3f
	mov $2, %eax
3:	pop %rdi
	jmp vmx_return

	.globl vmx_exit
	.type vmx_exit, @function
vmx_exit:
	push %rdi                   /* guest RDI */
	mov 8(%rsp), %rdi           /* gprs */
	mov %rax, 0*8(%rdi)
	mov %rcx, 1*8(%rdi)
	mov %rdx, 2*8(%rdi)
	mov %rbx, 3*8(%rdi)
	mov %rbp, 5*8(%rdi)
	mov %rsi, 6*8(%rdi)
	mov %r8, 8*8(%rdi)
	mov %r9, 9*8(%rdi)
	mov %r10, 10*8(%rdi)
	mov %r11, 11*8(%rdi)
	mov %r12, 12*8(%rdi)
	mov %r13, 13*8(%rdi)
	mov %r14, 14*8(%rdi)
	mov %r15, 15*8(%rdi)
	pop %rax
	mov %rax, 7*8(%rdi)
	pop %rdi
	xor %eax, %eax
vmx_return:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.section .note.GNU-stack, "", @progbits
