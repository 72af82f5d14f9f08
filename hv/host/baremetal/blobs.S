/* The hypervisor image, embedded in the kernel as a driver would carry it. */
	.section .rodata
	.balign 4096
	.globl hv_image_blob, hv_image_blob_end
hv_image_blob:
	.incbin "build/boot/hv.img"
hv_image_blob_end:
	.section .note.GNU-stack, "", @progbits
