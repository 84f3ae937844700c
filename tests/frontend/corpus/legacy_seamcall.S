/* SPDX-License-Identifier: MIT */
/*
 * The 2022 register convention: u64 __seamcall(u64 fn, u64 rcx, u64 rdx, u64 r8, u64 r9,
 * struct tdx_module_output *out), output copied even when RAX != 0, VMfailInvalid by CF.
 */
#include <linux/linkage.h>
#include <asm/asm-offsets.h>
#include <asm/frame.h>
#include <asm/tdx.h>

.macro LEGACY_CALL host:req
	FRAME_BEGIN
	push	%r12		/* callee-saved scratch */
	push	%r9		/* the output pointer */

	mov	%rdi, %rax	/* leaf */
	mov	%r8,  %r9
	mov	%rcx, %r8
	mov	%rsi, %rcx

.if \host
	seamcall
	jc	.Lvmfail
.else
	tdcall
.endif

	pop	%r12
	test	%r12, %r12
	jz	.Lout

	movq	%rcx, TDX_MODULE_rcx(%r12)
	movq	%rdx, TDX_MODULE_rdx(%r12)
	movq	%r8,  TDX_MODULE_r8(%r12)
	movq	%r9,  TDX_MODULE_r9(%r12)
	movq	%r10, TDX_MODULE_r10(%r12)
	movq	%r11, TDX_MODULE_r11(%r12)

.Lout:
	pop	%r12
	FRAME_END
	RET

.if \host
.Lvmfail:
	mov	$TDX_SEAMCALL_VMFAILINVALID, %rax
	pop	%r9
	jmp	.Lout
.endif
.endm

SYM_FUNC_START(__seamcall)
	LEGACY_CALL host=1
SYM_FUNC_END(__seamcall)
