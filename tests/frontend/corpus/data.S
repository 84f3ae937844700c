/* SPDX-License-Identifier: MIT */
/* Data sections: every width, strings, alignment, fills, symbol arithmetic. */
#include <linux/linkage.h>

#define ENTRIES 4
	.data
	.globl	table
table:
	.byte	1, 2, 0x7f, -1, 'A, 'z'
	.short	1000, -2, 0xbeef
	.value	7
	.word	0x1234
	.long	100000, -100000, table_end - table
	.int	ENTRIES * 8
	.quad	0x8000ff0000000000, table, .Lstr + 3
	.8byte	-1
	.balign	16
	.2byte	1
	.4byte	2
table_end:
	.p2align 3
	.ascii	"abc", "d\n"
	.asciz	"with nul"
	.string	"tab\there \"quoted\" \x41\101"
	.fill	3, 2, 0x1234
	.fill	2, 8, 0x55
	.skip	5, 0xaa
	.space	3
	.zero	2

	.section .rodata
.Lstr:
	.asciz	"read only"
	.balign	8, 0xee
ptrs:
	.quad	fn1, fn2
	.long	fn2 - fn1
	.long	(ENTRIES << 2) | 1, ENTRIES == 4, 7 / 2, -7 % 3, 1 << 3 + 1

	.bss
	.balign	64
buffer:
	.skip	256
counter:
	.zero	8

	.text
SYM_FUNC_START(fn1)
	lea	table(%rip), %rax
	RET
SYM_FUNC_END(fn1)
SYM_FUNC_START(fn2)
	mov	counter(%rip), %rax
	addq	$1, counter(%rip)
	RET
SYM_FUNC_END(fn2)

/* A constant used before its definition, as GNU as allows. */
SYM_FUNC_START(uses_later)
	mov	$LATE_CONST, %eax
	RET
SYM_FUNC_END(uses_later)
	.data
	.byte	LATE_CONST
.set LATE_CONST, 0x42
