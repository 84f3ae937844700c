/* SPDX-License-Identifier: MIT */
/*
 * A TDX_MODULE_CALL-style helper in the shape of the kernel's tdxcall.S (2023+): keyword
 * arguments host/ret/saved, \@ labels, an exception-table entry per expansion.
 */
#include <linux/linkage.h>
#include <asm/asm-offsets.h>
#include <asm/frame.h>
#include <asm/asm.h>
#include <asm/tdx.h>

#define tdcall		.byte 0x66,0x0f,0x01,0xcc
#define seamcall	.byte 0x66,0x0f,0x01,0xcf

.macro TDX_MODULE_CALL host:req ret=0 saved=0
	FRAME_BEGIN

	/* leaf number to RAX, inputs from the args structure */
	mov	%rdi, %rax
	movq	TDX_MODULE_rcx(%rsi), %rcx
	movq	TDX_MODULE_rdx(%rsi), %rdx
	movq	TDX_MODULE_r8(%rsi),  %r8
	movq	TDX_MODULE_r9(%rsi),  %r9
	movq	TDX_MODULE_r10(%rsi), %r10
	movq	TDX_MODULE_r11(%rsi), %r11

.if \saved
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	TDX_MODULE_r12(%rsi), %r12
	movq	TDX_MODULE_r13(%rsi), %r13
	movq	TDX_MODULE_r14(%rsi), %r14
	movq	TDX_MODULE_r15(%rsi), %r15
	movq	TDX_MODULE_rbx(%rsi), %rbx
.if \ret
	pushq	%rsi			# keep the structure pointer
.endif
	movq	TDX_MODULE_rdi(%rsi), %rdi
	movq	TDX_MODULE_rsi(%rsi), %rsi	/* last: it is the base */
.endif

.if \host
.Lcall\@:
	seamcall
	jc	.Lvmfail\@
.else
	tdcall
.endif

.if \ret
.if \saved
	pushq	%rax
	movq	8(%rsp), %rax
	movq	%rsi, TDX_MODULE_rsi(%rax)
	popq	%rax
	popq	%rsi
	movq	%r12, TDX_MODULE_r12(%rsi)
	movq	%r13, TDX_MODULE_r13(%rsi)
	movq	%r14, TDX_MODULE_r14(%rsi)
	movq	%r15, TDX_MODULE_r15(%rsi)
	movq	%rbx, TDX_MODULE_rbx(%rsi)
	movq	%rdi, TDX_MODULE_rdi(%rsi)
.endif
	movq	%rcx, TDX_MODULE_rcx(%rsi)
	movq	%rdx, TDX_MODULE_rdx(%rsi)
	movq	%r8,  TDX_MODULE_r8(%rsi)
	movq	%r9,  TDX_MODULE_r9(%rsi)
	movq	%r10, TDX_MODULE_r10(%rsi)
	movq	%r11, TDX_MODULE_r11(%rsi)
.endif

.if \saved && \ret
	xorl	%ecx,  %ecx
	xorl	%edx,  %edx
	xorl	%r8d,  %r8d
	xorl	%r9d,  %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%r12d, %r12d
	xorl	%r13d, %r13d
	xorl	%r14d, %r14d
	xorl	%r15d, %r15d
	xorl	%ebx,  %ebx
	xorl	%edi,  %edi
.endif

.if \host
.Ldone\@:
.endif

.if \saved
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
.endif

	FRAME_END
	RET

.if \host
.Lvmfail\@:
	mov	$TDX_SEAMCALL_VMFAILINVALID, %rax
	jmp	.Lfail\@

.Ltrap\@:
	/* RAX holds the trap number: make it a TDX_SW_ERROR code */
	movq	$TDX_SW_ERROR, %rdi
	orq	%rdi, %rax

.Lfail\@:
.if \ret && \saved
	popq	%rsi
.endif
	jmp	.Ldone\@

	_ASM_EXTABLE_FAULT(.Lcall\@, .Ltrap\@)
.endif	/* \host */
.endm

SYM_FUNC_START(my_seamcall)
	TDX_MODULE_CALL host=1
SYM_FUNC_END(my_seamcall)

SYM_FUNC_START(my_seamcall_ret)
	TDX_MODULE_CALL host=1 ret=1
SYM_FUNC_END(my_seamcall_ret)

.section .noinstr.text, "ax"

SYM_FUNC_START(my_seamcall_saved_ret)
	TDX_MODULE_CALL host=1 ret=1 saved=1
SYM_FUNC_END(my_seamcall_saved_ret)

SYM_FUNC_START(my_tdcall)
	TDX_MODULE_CALL host=0 ret=1
SYM_FUNC_END(my_tdcall)
