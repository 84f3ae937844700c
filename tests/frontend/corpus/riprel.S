/* SPDX-License-Identifier: MIT */
/* RIP-relative data access, with offsets, immediates after the displacement, and `.`. */
#include <linux/linkage.h>

	.data
	.balign 8
flag:	.quad 0
pair:	.quad 1, 2
bytes:	.byte 1, 2, 3, 4

	.text
SYM_FUNC_START(touch)
	movq	flag(%rip), %rax
	movq	pair+8(%rip), %rdx
	leaq	bytes+2(%rip), %rsi
	movl	$1, flag(%rip)
	movq	$-1, pair(%rip)
	cmpq	$0, flag(%rip)
	movb	$0x7f, bytes+3(%rip)
	addl	$1000, pair+4(%rip)
	lea	.(%rip), %rcx
	lea	touch(%rip), %rdi
	call	*.Lptr(%rip)
	jmp	*.Lptr(%rip)
	RET
SYM_FUNC_END(touch)

	.section .rodata
	.balign 8
.Lptr:	.quad touch
