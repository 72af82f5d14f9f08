/* The vmfork guest (gfork.S) and its host side (harness/boot/fork_scenario.c):
 * the test region, the page plan and the ports of the host's device model. */
#ifndef GFORK_H
#define GFORK_H

#define F_BASE 0x100000      /* the test region: gfn 256 on */
#define F_GFN 256
#define F_PAGES 128          /* 512 KiB */
#define F_CHILDREN 4         /* children 1..4: lazy, eager, lazy, eager */
#define F_PORT_ROLE 0x84     /* IN: this child's number k (1..F_CHILDREN) */
#define F_PORT_COUNTS 0x85   /* OUT: k<<24 | template<<16 | own<<8 | common */
#define F_PORT_ZEROS 0x86    /* OUT: template zero pages << 8 | zeroed pages */
#define F_PORT_BAD 0x87      /* OUT: a mismatch: 1<<31 | page<<9 | qword */
#define F_PORT_WORDS 0x88    /* IN: qwords of data a page, the rest zero */

/* Values: page p, qword i (p < 128, i < 512).
 *   template: T_TAG | p<<32 | i, except pages p % 8 == 7, left zero
 *   own:      C_TAG | k<<48 | p<<32 | i   (child k)
 *   common:   M_TAG | p<<32 | i           (several children, identical)
 * for qwords i < W (F_PORT_WORDS, 512 = whole pages); the rest zero.
 * Page plan of child k (phase A writes, phase B verifies everything):
 *   own pages [16k, 16k+8); common [96, 104) for k = 1..3; zeros written
 *   into [104, 108) for k = 1, 2 (the host hints child 1's, the scanner
 *   finds child 2's); k = 3 writes [112, 116) then GUEST_HINTs them free;
 *   everything else must read as the template's contents. After phase B's
 *   check, child 1 rewrites page 96 (copy-on-write from the merged frame)
 *   and child 3 page 112 (from the zero frame), each checked again. */
#define T_TAG 0x5400000000000000
#define C_TAG 0x4300000000000000
#define M_TAG 0x4d00000000000000

#define K_TEMPLATE 0
#define K_OWN 1
#define K_COMMON 2
#define K_ZERO 3

#endif
