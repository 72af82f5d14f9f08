/* The 64-bit test guest: one exit of each kind the hypervisor handles,
 * each result checked; on any mismatch SHUTDOWN(G_SHUTDOWN_FAIL + step),
 * else SHUTDOWN(G_SHUTDOWN_OK). r15 holds the step. */
#include "guest.h"
	.code64
	.text
	.globl _start
_start:
	mov $1, %r15d
	lea hello(%rip), %rsi
	call puts

	/* CPUID: the hypervisor's leaf and the policy on leaf 1. */
	mov $2, %r15d
	mov $0x40000000, %eax
	cpuid
	cmp $0x6e655875, %ebx           /* "uXen" */
	jne fail
	mov $1, %eax
	cpuid
	bt $31, %ecx                    /* hypervisor present */
	jnc fail
	bt $5, %ecx                     /* VMX hidden */
	jc fail

	/* MSRs: a read-only one, a read-write one. */
	mov $3, %r15d
	mov $0x3a, %ecx                 /* IA32_FEATURE_CONTROL: locked, VMX off */
	rdmsr
	cmp $1, %eax
	jne fail
	mov $0xc0000081, %ecx           /* IA32_STAR */
	mov $0x12345678, %eax
	mov $0x9abc, %edx
	wrmsr
	xor %eax, %eax
	xor %edx, %edx
	rdmsr
	cmp $0x12345678, %eax
	jne fail
	cmp $0x9abc, %edx
	jne fail

	/* CR0.CD is the hypervisor's: setting and clearing it exits. */
	mov $4, %r15d
	mov %cr0, %rax
	bts $30, %rax
	mov %rax, %cr0
	mov %cr0, %rbx
	bt $30, %rbx
	jnc fail
	btr $30, %rax
	mov %rax, %cr0

	/* Port I/O to the host's device model. */
	mov $5, %r15d
	mov $0x42, %al
	out %al, $G_PORT_OUT
	xor %eax, %eax
	in $G_PORT_IN, %al
	cmp $G_PORT_IN_VALUE, %al
	jne fail

	/* MMIO to the host's device model. */
	mov $6, %r15d
	mov $G_MMIO, %rbx
	mov 8(%rbx), %eax
	cmp $G_MMIO_READ(8), %eax
	jne fail
	movl $0x1234abcd, 4(%rbx)

	/* Hypercalls, good and bad. */
	mov $7, %r15d
	HC0(HC_VERSION)
	cmp $0x10000, %rax
	jne fail
	mov $G_DATA, %edi
	HC1(HC_GET_INFO)
	test %rax, %rax
	jnz fail
	cmpl $0, G_DATA                 /* our domid: not the host's */
	je fail
	lea msg(%rip), %rdi
	mov $msg_end - msg, %esi
	HC2(HC_CONSOLE_WRITE)
	cmp $msg_end - msg, %rax
	jne fail
	mov $8, %r15d
	xor %esi, %esi                  /* length 0: -EINVAL */
	HC2(HC_CONSOLE_WRITE)
	cmp $-22, %rax
	jne fail
	HC0(0x3f)                       /* no such call: -ENOSYS */
	cmp $-38, %rax
	jne fail
	mov $1, %edi
	mov $1, %esi
	HC2(HC_DOMAIN_CREATE)           /* host only: -EPERM */
	cmp $-1, %rax
	jne fail
	mov $1, %edi
	mov $1, %esi
	mov $1, %edx
	HCALL(HC_YIELD)                 /* stray arguments: -EINVAL */
	cmp $-22, %rax
	jne fail
	mov $0x1000000000000, %rdi      /* gpa beyond the p2m: -ERANGE */
	mov $4, %esi
	HC2(HC_CONSOLE_WRITE)
	cmp $-34, %rax
	jne fail

	/* Memory: fill 256 KiB with a pattern, then check it. */
	mov $9, %r15d
	mov $G_MEMTEST, %rdi
	mov $(256 * 1024 / 8), %ecx
	mov $0x0123456789abcdef, %rax
1:	mov %rax, (%rdi)
	add $8, %rdi
	rol $1, %rax
	loop 1b
	mov $G_MEMTEST, %rdi
	mov $(256 * 1024 / 8), %ecx
	mov $0x0123456789abcdef, %rax
2:	cmp %rax, (%rdi)
	jne fail
	add $8, %rdi
	rol $1, %rax
	loop 2b

	/* RDTSC exits; HLT returns to the host, which resumes us. */
	mov $10, %r15d
	rdtsc
	hlt

	lea bye(%rip), %rsi
	call puts
	mov $G_SHUTDOWN_OK, %edi
	HC1(HC_SHUTDOWN)
	jmp .

fail:
	lea failed(%rip), %rsi
	call puts
	mov $G_SHUTDOWN_FAIL, %edi
	add %r15, %rdi
	HC1(HC_SHUTDOWN)
	jmp .

/* puts(rsi): the debug console, one OUT per byte. */
puts:
	lodsb
	test %al, %al
	jz 1f
	out %al, $0xe9
	jmp puts
1:	ret

hello:	.asciz "g64: hello from a 64-bit guest\n"
bye:	.asciz "g64: all checks passed\n"
failed:	.asciz "g64: check failed\n"
msg:	.ascii "g64: console hypercall\n"
msg_end:
	.section .note.GNU-stack, "", @progbits
