/* A guest that triple-faults: an exception with no IDT (limit 0). */
#include "guest.h"
	.code64
	.text
	.globl _start
_start:
	mov $0xe9, %dx
	mov $'T', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	ud2
	jmp .
	.section .note.GNU-stack, "", @progbits
