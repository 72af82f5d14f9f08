/* The vmfork guest (plan in gfork.h). As the template it fills its test
 * region and halts; the host pauses it and forks children from it. Each
 * child resumes after that HLT, asks the host for its number, writes its
 * own pages (phase A) and halts; the host merges and hints; each child then
 * checks every page of the region (phase B), rewrites one shared page and
 * checks it again, reports its counts and shuts down. On a mismatch:
 * OUT F_PORT_BAD, then SHUTDOWN(G_SHUTDOWN_FAIL + step). r12 = k (0 for
 * the template), r13 = stage (2 after the rewrites), r15 = step. */
#include "guest.h"
#include "gfork.h"
/* No stack: a stack page's contents would differ between the run and its
 * replay (stores cause no exits) and change what MERGE finds. Calls link
 * through r10 (outer: fill_page, verify_all) and rsp (leaves). */
#define CALL1(f) lea 99f(%rip), %r10; jmp f; 99:
#define RET1 jmp *%r10
#define CALL2(f) lea 98f(%rip), %rsp; jmp f; 98:
#define RET2 jmp *%rsp
	.code64
	.text
	.globl _start
_start:
	xor %r12d, %r12d
	mov $1, %r15d
	in $F_PORT_WORDS, %eax          /* qwords of data a page (<= 512) */
	cmp $512, %eax
	ja fail
	mov %rax, %r13
	shl $32, %r13                   /* r13: words << 32 | stage */
	lea hello(%rip), %rdi
	mov $hello_end - hello, %esi
	CALL2(say)
	/* The template's contents; zero pages are left unwritten. */
	xor %ebx, %ebx
1:	CALL2(kind_of)
	CALL1(fill_page)
	inc %ebx
	cmp $F_PAGES, %ebx
	jb 1b
	mov $2, %r15d
	CALL1(verify_all)
	hlt                             /* the host pauses us and forks */

	/* ---- a child from here on (a template never runs again) ---- */
	mov $3, %r15d
	in $F_PORT_ROLE, %eax
	test %eax, %eax
	jz fail
	cmp $F_CHILDREN, %eax
	ja fail
	mov %eax, %r12d
	/* Phase A: everything that is not the template's, written. */
	mov $4, %r15d
	xor %ebx, %ebx
2:	CALL2(kind_of)
	cmp $K_TEMPLATE, %eax
	je 3f
	CALL1(fill_page)
3:	inc %ebx
	cmp $F_PAGES, %ebx
	jb 2b
	cmp $3, %r12d
	jne 5f
	/* Child 3: its own data into [112, 116), then given back as free. */
	mov $5, %r15d
	mov $112, %ebx
4:	mov $K_OWN, %eax
	CALL1(fill_page)
	inc %ebx
	cmp $116, %ebx
	jb 4b
	mov $F_GFN + 112, %edi
	mov $4, %esi
	mov $0, %edx                    /* free */
	xor %r10d, %r10d
	HCALL(HC_GUEST_HINT)
	cmp $4, %rax
	jne fail
5:	hlt                             /* the host merges and hints */

	/* Phase B: every page checked. */
	mov $6, %r15d
	CALL1(verify_all)
	/* Rewrites: child 1 page 96 (merged), child 3 page 112 (zero frame). */
	mov $7, %r15d
	or $2, %r13
	mov $96, %ebx
	cmp $1, %r12d
	je 6f
	mov $112, %ebx
	cmp $3, %r12d
	jne 7f
6:	CALL2(kind_of)
	CALL1(fill_page)
	mov $8, %r15d
	CALL1(verify_all)
7:	/* Report: the counts of the last check. */
	mov %r12d, %eax
	shl $8, %eax
	or %r8d, %eax
	shl $8, %eax
	or %r9d, %eax
	shl $8, %eax
	or %r11d, %eax
	out %eax, $F_PORT_COUNTS
	mov %ebp, %eax
	shl $8, %eax
	or %r14d, %eax
	out %eax, $F_PORT_ZEROS
	lea ok(%rip), %rdi
	mov $ok_end - ok, %esi
	CALL2(say)
	mov $G_SHUTDOWN_OK, %edi
	HC1(HC_SHUTDOWN)
	jmp .

/* A mismatch at page ebx, qword ecx. */
bad:
	mov %ebx, %eax
	shl $9, %eax
	or %ecx, %eax
	bts $31, %eax
	out %eax, $F_PORT_BAD
fail:
	lea failed(%rip), %rdi
	mov $failed_end - failed, %esi
	CALL2(say)
	mov $G_SHUTDOWN_FAIL, %edi
	add %r15, %rdi
	HC1(HC_SHUTDOWN)
	jmp .

/* say(rdi, esi): CONSOLE_WRITE. */
say:
	HC2(HC_CONSOLE_WRITE)
	RET2

/* kind_of(ebx = page) -> eax: K_* for child r12 at stage r13. */
kind_of:
	mov $K_TEMPLATE, %eax
	test %r12d, %r12d
	jz 9f
	mov %r12d, %edx
	shl $4, %edx                    /* own: [16k, 16k + 8) */
	cmp %edx, %ebx
	jb 1f
	add $8, %edx
	cmp %edx, %ebx
	jb 8f
1:	cmp $2, %r13d
	jne 2f
	cmp $1, %r12d                   /* rewritten in phase B */
	jne 11f
	cmp $96, %ebx
	je 8f
11:	cmp $3, %r12d
	jne 2f
	cmp $112, %ebx
	je 8f
2:	cmp $3, %r12d                   /* common: k = 1..3, [96, 104) */
	ja 9f
	cmp $96, %ebx
	jb 9f
	cmp $104, %ebx
	jb 7f
	cmp $108, %ebx                  /* zeros: k = 1, 2, [104, 108) */
	jae 3f
	cmp $2, %r12d
	jbe 6f
	jmp 9f
3:	cmp $3, %r12d                   /* hinted free: k = 3, [112, 116) */
	jne 9f
	cmp $112, %ebx
	jb 9f
	cmp $116, %ebx
	jae 9f
6:	mov $K_ZERO, %eax
	RET2
7:	mov $K_COMMON, %eax
	RET2
8:	mov $K_OWN, %eax
9:	RET2

/* value(ebx = page, ecx = qword, eax = kind) -> rax; clobbers rdx.
 * Qwords from the page's word count on are zero. */
value:
	cmp $K_ZERO, %eax
	je 3f
	mov %r13, %rdx
	shr $32, %rdx
	cmp %edx, %ecx
	jae 3f
	mov %ebx, %edx
	shl $32, %rdx
	or %rcx, %rdx
	cmp $K_OWN, %eax
	je 1f
	cmp $K_COMMON, %eax
	je 2f
	mov %ebx, %eax                  /* template: p % 8 == 7 stays zero */
	and $7, %eax
	cmp $7, %eax
	je 3f
	movabs $T_TAG, %rax
	or %rdx, %rax
	RET2
1:	mov %r12, %rax
	shl $48, %rax
	or %rax, %rdx
	movabs $C_TAG, %rax
	or %rdx, %rax
	RET2
2:	movabs $M_TAG, %rax
	or %rdx, %rax
	RET2
3:	xor %eax, %eax
	RET2

/* page_va(ebx) -> rdi */
page_va:
	mov %ebx, %edi
	shl $12, %rdi
	add $F_BASE, %rdi
	RET2

/* fill_page(ebx = page, eax = kind): a template zero page stays unwritten. */
fill_page:
	cmp $K_TEMPLATE, %eax
	jne 1f
	mov %ebx, %edx
	and $7, %edx
	cmp $7, %edx
	je 3f
1:	mov %eax, %esi
	CALL2(page_va)
	xor %ecx, %ecx
2:	mov %esi, %eax
	CALL2(value)
	mov %rax, (%rdi, %rcx, 8)
	inc %ecx
	cmp $512, %ecx
	jb 2b
3:	RET1

/* verify_all: every page as kind_of says, or bad. Counts pages: r8
 * template (rbp of them zero), r9 own, r11 common, r14 zeroed. */
verify_all:
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r11d, %r11d
	xor %r14d, %r14d
	xor %ebp, %ebp
	xor %ebx, %ebx
1:	CALL2(kind_of)
	mov %eax, %esi
	CALL2(page_va)
	xor %ecx, %ecx
2:	mov %esi, %eax
	CALL2(value)
	cmp %rax, (%rdi, %rcx, 8)
	jne bad
	inc %ecx
	cmp $512, %ecx
	jb 2b
	cmp $K_OWN, %esi
	je 4f
	cmp $K_COMMON, %esi
	je 5f
	cmp $K_ZERO, %esi
	je 6f
	inc %r8d
	mov %ebx, %eax
	and $7, %eax
	cmp $7, %eax
	jne 7f
	inc %ebp
	jmp 7f
4:	inc %r9d
	jmp 7f
5:	inc %r11d
	jmp 7f
6:	inc %r14d
7:	inc %ebx
	cmp $F_PAGES, %ebx
	jb 1b
	RET1

hello:	.ascii "gfork: template filling its memory\n"
hello_end:
ok:	.ascii "gfork: every page checked\n"
ok_end:
failed:	.ascii "gfork: check failed\n"
failed_end:
	.section .note.GNU-stack, "", @progbits
