/* SPDX-License-Identifier: MIT */
/*
 * The v5-2022 kernel's SEAMCALL (the June 2022 "TDX host kernel support" v5 series, whose
 * __seamcall() expands Linux v5.19's TDX_MODULE_CALL host=1): the leaf and four inputs arrive
 * in argument registers, and the six output registers are copied into struct
 * tdx_module_output when the pointer is not NULL.
 *
 *   u64 __seamcall(u64 fn, u64 rcx, u64 rdx, u64 r8, u64 r9, struct tdx_module_output *out);
 *
 * VMfailInvalid comes back as TDX_SEAMCALL_VMFAILINVALID, and the copy into *out still
 * happens, as in v5.19 (only a 2023 change skipped it): the registers then hold what the call
 * was made with.  There is no exception-table entry on the SEAMCALL: a #GP or #UD is not
 * caught here and reaches the caller's fault handler (an oops in that kernel; the emulator
 * reports an unhandled fault at the SEAMCALL).
 */
#include <linux/linkage.h>
#include <asm/frame.h>
#include <asm/asm.h>
#include <asm/tdx.h>

/* struct tdx_module_output: six u64s, rcx first. */
#define TDX_MODULE_OUT_rcx	0
#define TDX_MODULE_OUT_rdx	8
#define TDX_MODULE_OUT_r8	16
#define TDX_MODULE_OUT_r9	24
#define TDX_MODULE_OUT_r10	32
#define TDX_MODULE_OUT_r11	40

.section .noinstr.text, "ax"

SYM_FUNC_START(__seamcall)
	FRAME_BEGIN

	/* R12 carries the output pointer across SEAMCALL; it is callee-saved. */
	pushq	%r12
	/* The output pointer arrives in R9, which is an input register of SEAMCALL. */
	pushq	%r9

	/* Arguments to their SEAMCALL registers: RDI->RAX, R8->R9, RCX->R8, RSI->RCX. */
	movq	%rdi, %rax
	movq	%r8, %r9
	movq	%rcx, %r8
	movq	%rsi, %rcx
	/* RDX is already where SEAMCALL wants it. */

	seamcall
	/* VMfailInvalid (CF=1) leaves RAX as it was: say so, then copy out as for any status. */
	jnc	3f
	movq	$TDX_SEAMCALL_VMFAILINVALID, %rax
3:
	popq	%r12

	/* No output struct: done. */
	testq	%r12, %r12
	jz	1f

	/* Copied whatever the status: callers read the outputs of failed calls too. */
	movq	%rcx, TDX_MODULE_OUT_rcx(%r12)
	movq	%rdx, TDX_MODULE_OUT_rdx(%r12)
	movq	%r8,  TDX_MODULE_OUT_r8(%r12)
	movq	%r9,  TDX_MODULE_OUT_r9(%r12)
	movq	%r10, TDX_MODULE_OUT_r10(%r12)
	movq	%r11, TDX_MODULE_OUT_r11(%r12)
1:
	popq	%r12
	FRAME_END
	RET

SYM_FUNC_END(__seamcall)
