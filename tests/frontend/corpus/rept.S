/* SPDX-License-Identifier: MIT */
/* .rept, .irp, .irpc, .set counters, nested conditionals and macros calling macros. */
#include <linux/linkage.h>

.set	count, 0
.macro	SAVE_ALL
	.irp	reg, rbx, r12, r13, r14, r15
	push	%\reg
	.set	count, count + 1
	.endr
.endm
.macro	RESTORE_ALL
	.irp	reg, r15, r14, r13, r12, rbx
	pop	%\reg
	.endr
.endm
.macro	ZERO regs:vararg
	.irp	r, \regs
	xor	%\r, %\r
	.endr
.endm
.macro	REPEAT_NOP n
.if \n > 0
	nop
	REPEAT_NOP "(\n - 1)"
.endif
.endm
.macro	ONE_OF which
.ifc \which, a
	mov	$1, %eax
.elseif \which == 2
	mov	$2, %eax
.else
	mov	$3, %eax
.endif
.endm

SYM_FUNC_START(clobber)
	SAVE_ALL
	ZERO	rax, rcx, rdx
	.rept	3
	inc	%rax
	.endr
	REPEAT_NOP 3
	ONE_OF	2
	ONE_OF	5
	RESTORE_ALL
	mov	$count, %eax
	RET
SYM_FUNC_END(clobber)

	.data
	.irpc	c, 0123
	.byte	\c * 2
	.endr
.set	n, 8
.rept	4
	.byte	n
.set	n, n * 2
.endr
.ifdef count
	.byte	0x11
.endif
.ifndef nothing
	.byte	0x22
.endif
.ifb
	.byte	0x33
.endif
.ifnb x
	.byte	0x44
.endif
.ifeq 1 - 1
	.byte	0x55
.endif
