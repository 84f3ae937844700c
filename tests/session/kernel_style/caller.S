/* SPDX-License-Identifier: MIT */
/* A kernel-style SEAMCALL wrapper file written with no thought of seamemu. */
#include <linux/linkage.h>
#include <asm/frame.h>
#include <asm/asm.h>
#include <asm/tdx.h>
#include "regs.h"

/* GAS symbols, not cpp macros: STORE_OUTPUTS pastes OFF_\reg after cpp has run. */
	.set	OFF_rcx, ARG_RCX
	.set	OFF_rdx, ARG_RDX
	OFF_r8 = ARG_R8
	.equ	OFF_r9, ARG_R9
	.set	OFF_r10, ARG_R10
	.set	OFF_r11, ARG_R11

#include "copy.S"

#if NR_ARGS != 6
#error "argument block must hold six registers"
#endif

	.text
	.align 16
	.globl	ks_counter_bump
	.type	ks_counter_bump, @function
/* u64 ks_counter_bump(void): loops with numeric labels, reads and writes .data */
ks_counter_bump:
	xorl	%eax, %eax
	movl	$10, %ecx
1:	addq	$3, %rax
	decl	%ecx
	jnz	1b
	leaq	ks_counter(%rip), %rdx
	addq	%rax, (%rdx)
	movq	(%rdx), %rax
	jmp	2f
	ud2
2:	RET
	.size	ks_counter_bump, .-ks_counter_bump

.section .noinstr.text, "ax"

SYM_FUNC_START(ks_seamcall_ret)
	FRAME_BEGIN
	CALL_MODULE host=1 ret=1
	FRAME_END
	RET
SYM_FUNC_END(ks_seamcall_ret)

SYM_FUNC_START(ks_seamcall)
	FRAME_BEGIN
	CALL_MODULE 1
	FRAME_END
	RET
SYM_FUNC_END(ks_seamcall)

#ifdef WANT_TDCALL
SYM_FUNC_START(ks_tdcall)
	CALL_MODULE host=0
	RET
SYM_FUNC_END(ks_tdcall)
#endif

	.pushsection .rodata, "a"
ks_magic:
	.rept 2
	.quad 0x5EA3CA11
	.endr
	.popsection

	.data
	.balign 8
ks_counter:
	.quad 100
