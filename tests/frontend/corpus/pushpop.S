/* SPDX-License-Identifier: MIT */
/* Prologues, epilogues, stack alignment and calls between local functions. */
#include <linux/linkage.h>
#include <asm/frame.h>

SYM_FUNC_START_LOCAL(helper)
	FRAME_BEGIN
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	sub	$8, %rsp
	and	$-16, %rsp
	lea	-48(%rbp), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	FRAME_END
	RET
SYM_FUNC_END(helper)

SYM_FUNC_START(outer)
	push	%rbp
	mov	%rsp, %rbp
	sub	$0x20, %rsp
	movq	%rdi, -8(%rbp)
	movq	%rsi, -0x10(%rbp)
	call	helper
	pushq	$0
	pushq	$0x12345
	popq	%rax
	popq	%rax
	pushfq
	popfq
	leave
	RET
SYM_FUNC_END(outer)
