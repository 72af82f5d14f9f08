/* The test guests, embedded in the kernel (built from harness/boot/guests). */
	.section .rodata
	.macro GUEST name
	.balign 16
	.globl guest_\name, guest_\name\()_end
guest_\name:
	.incbin "build/boot/guests/\name\().bin"
guest_\name\()_end:
	.endm

	GUEST g64
	GUEST g16
	GUEST gtriple
	GUEST ghostile
	GUEST gfork
	.section .note.GNU-stack, "", @progbits
