/* SPDX-License-Identifier: MIT */
/* Included twice-removed: macros that use every GAS feature the kernel's TDX code uses. */

/* Store the six output registers; \base is the register holding the block. */
.macro STORE_OUTPUTS base:req
	.irp reg, rcx, rdx, r8, r9, r10, r11
	movq	%\reg, OFF_\reg(\base)
	.endr
.endm

.macro CALL_MODULE host:req ret=0 check=1
	movq	%rdi, %rax
	movq	ARG_RCX(%rsi), %rcx
	movq	ARG_RDX(%rsi), %rdx
	movq	16(%rsi), %r8		/* decimal on purpose: keystone would read 0x16 */
	movq	ARG_R9(%rsi), %r9
	movq	ARG_R10(%rsi), %r10
	movq	40(%rsi), %r11
.if \host
.Lcall\@:
	seamcall
.if \check
	jc	.Lfail\@
.endif
.else
	tdcall
.endif
.if \ret
	STORE_OUTPUTS %rsi
.endif
	jmp	.Ldone\@
.if \host
.Lfail\@:
	movabsq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	jmp	.Ldone\@
.Ltrap\@:
	orq	$0, %rax
	movabsq	$TDX_SW_ERROR, %rdx
	orq	%rdx, %rax
	xorl	%edx, %edx
	_ASM_EXTABLE_FAULT(.Lcall\@, .Ltrap\@)
.endif
.Ldone\@:
.endm
