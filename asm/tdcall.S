/* SPDX-License-Identifier: MIT */
/*
 * The TD guest's TDCALL wrappers, in the style of the Linux kernel's arch/x86/coco/tdx/tdcall.S
 * (since v6.6): the host's TDX_MODULE_CALL macro, instantiated with host=0, so the one macro
 * emits TDCALL here and SEAMCALL in seamcall.S.
 *
 *   u64 __tdcall(u64 fn, struct tdx_module_args *args);            inputs only
 *   u64 __tdcall_ret(u64 fn, struct tdx_module_args *args);        RCX..R11 written back
 *   u64 __tdcall_saved_ret(u64 fn, struct tdx_module_args *args);  all 13 registers in and out
 *   u64 __tdx_hypercall(struct tdx_module_args *args);             TDG.VP.VMCALL to the VMM
 *
 * Nothing catches a fault here: a TDCALL outside a TD (#UD) or at CPL > 0 (#GP) reaches the
 * caller's fault handler, as in the kernel, whose guest never runs these outside a TD.
 *
 * __tdx_hypercall() is C in the kernel (arch/x86/coco/tdx/tdx.c); here it is the same steps in
 * assembly: RCX names the registers the VMM may see (TDVMCALL_EXPOSE_REGS_MASK), the call
 * goes through __tdcall_saved_ret() with leaf TDG.VP.VMCALL, every register comes back in
 * *args, and the VMM's status (R10) is the return value.  A TDCALL that fails in itself (RAX
 * not 0) means a broken TDX module: the kernel panics (__tdx_hypercall_failed()), and this
 * stops on a ud2.
 */
#include <linux/linkage.h>
#include <asm/frame.h>
#include <asm/shared/tdx.h>

#include "tdxcall.S"

.section .noinstr.text, "ax"

SYM_FUNC_START(__tdcall)
	TDX_MODULE_CALL host=0
SYM_FUNC_END(__tdcall)

SYM_FUNC_START(__tdcall_ret)
	TDX_MODULE_CALL host=0 ret=1
SYM_FUNC_END(__tdcall_ret)

SYM_FUNC_START(__tdcall_saved_ret)
	TDX_MODULE_CALL host=0 ret=1 saved=1
SYM_FUNC_END(__tdcall_saved_ret)

SYM_FUNC_START(__tdx_hypercall)
	FRAME_BEGIN
	/* RBX is ours to keep across the call, and holds the struct pointer meanwhile. */
	pushq	%rbx
	movq	%rdi, %rbx

	/* The VMM gets exactly the registers the kernel exposes to it. */
	movq	$TDVMCALL_EXPOSE_REGS_MASK, TDX_MODULE_rcx(%rbx)
	movq	%rbx, %rsi
	movl	$TDG_VP_VMCALL, %edi
	call	__tdcall_saved_ret

	/* RAX is the TDCALL's own status, not the VMM's: anything but success is fatal. */
	testq	%rax, %rax
	jnz	.Lhypercall_failed

	/* The VMM's answer to the request travels in R10. */
	movq	TDX_MODULE_r10(%rbx), %rax
	popq	%rbx
	FRAME_END
	RET

.Lhypercall_failed:
	ud2
SYM_FUNC_END(__tdx_hypercall)
