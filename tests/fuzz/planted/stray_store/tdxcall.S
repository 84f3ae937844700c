/* SPDX-License-Identifier: MIT */
/*
 * TDX_MODULE_CALL: the SEAMCALL/TDCALL calling-convention macro, in the style of the Linux
 * kernel's arch/x86/virt/vmx/tdx/tdxcall.S (mainline since v6.6, struct tdx_module_args).
 *
 * Contract (SysV):  u64 fn(u64 leaf in %rdi, struct tdx_module_args *args in %rsi)
 *   - RAX <- leaf; RCX, RDX, R8-R11 <- args (and R12-R15, RBX, RDI, RSI when \saved).
 *   - The instruction's own failures become software codes here; the module's completion
 *     status simply comes back in RAX:
 *       VMfailInvalid (CF=1, RAX unchanged)  -> TDX_SEAMCALL_VMFAILINVALID
 *       #GP / #UD via the exception table    -> TDX_SW_ERROR | trap number
 *   - \ret: the output registers are written back into *args.
 *   - \saved: the callee-saved registers the module may use are saved and restored, and the
 *     registers shared with the module are zeroed before returning so that no value the
 *     module (or a TD) left in them survives into the caller.
 */
#include <asm/asm-offsets.h>
#include <asm/frame.h>
#include <asm/asm.h>
#include <asm/tdx.h>

.macro TDX_MODULE_CALL host:req ret=0 saved=0
	FRAME_BEGIN

	/* The leaf number goes in RAX. */
	movq	%rdi, %rax

	/* Inputs every leaf may take. */
	movq	TDX_MODULE_rcx(%rsi), %rcx
	movq	TDX_MODULE_rdx(%rsi), %rdx
	movq	TDX_MODULE_r8(%rsi),  %r8
	movq	TDX_MODULE_r9(%rsi),  %r9
	movq	TDX_MODULE_r10(%rsi), %r10
	movq	TDX_MODULE_r11(%rsi), %r11

.if \saved
	/* The module may take and give callee-saved registers: keep the caller's. */
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
	/* RSI is an input too: keep the struct pointer on the stack to find it again. */
	pushq	%rsi
.endif
	movq	TDX_MODULE_rdi(%rsi), %rdi
	/* RSI last: it holds the pointer everything above was read through. */
	movq	TDX_MODULE_rsi(%rsi), %rsi
.endif

.if \host
.Lseamcall\@:
	seamcall
	/* VMfailInvalid sets CF and leaves RAX as it was: no module answered. */
	jc	.Lseamcall_vmfailinvalid\@
.else
	tdcall
.endif

.if \ret
.if \saved
	/* Park the module's RSI output, then reload the struct pointer from below it. */
	pushq	%rsi
	movq	8(%rsp), %rsi

	movq	%r12, TDX_MODULE_r12(%rsi)
	movq	%r13, TDX_MODULE_r13(%rsi)
	movq	%r14, TDX_MODULE_r14(%rsi)
	movq	%r15, TDX_MODULE_r15(%rsi)
	movq	%rbx, TDX_MODULE_rbx(%rsi)
	movq	%rdi, TDX_MODULE_rdi(%rsi)
	popq	%rdi
	movq	%rdi, TDX_MODULE_rsi(%rsi)
.endif
	movq	%rcx, TDX_MODULE_rcx(%rsi)
	movq	%rdx, TDX_MODULE_rdx(%rsi)
	movq	%r8,  TDX_MODULE_r8(%rsi)
	movq	%r9,  TDX_MODULE_r9(%rsi)
	movq	%r10, TDX_MODULE_r10(%rsi)
	movq	%r11, TDX_MODULE_r11(%rsi)
.endif

.if \saved && \ret
	/* Drop the saved struct pointer; RSI is about to be zeroed anyway. */
	addq	$8, %rsp
	/* Zero everything the module could have handed back before the caller sees it. */
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%r12d, %r12d
	xorl	%r13d, %r13d
	xorl	%r14d, %r14d
	xorl	%r15d, %r15d
	xorl	%ebx, %ebx
	xorl	%edi, %edi
	xorl	%esi, %esi
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
.Lseamcall_vmfailinvalid\@:
	movq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	jmp	.Lseamcall_fail\@

.Lseamcall_trap\@:
	/*
	 * The exception table sent a #GP or #UD here with the trap number in RAX; mark it as
	 * a software error so that no module status can be mistaken for it.
	 */
	movq	$TDX_SW_ERROR, %rdi
	orq	%rdi, %rax

.Lseamcall_fail\@:
.if !\saved
	/* PLANTED BUG: the error code stored one field past the end of the struct. */
	movq	%rax, TDX_MODULE_rsi+8(%rsi)
.endif
.if \saved
.if \ret
	/* The struct pointer is still on the stack on this path. */
	popq	%rsi
.endif
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
.endif
	FRAME_END
	RET

	_ASM_EXTABLE_FAULT(.Lseamcall\@, .Lseamcall_trap\@)
.endif	/* \host */
.endm
