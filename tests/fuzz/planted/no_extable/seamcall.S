/* SPDX-License-Identifier: MIT */
/*
 * The host-side SEAMCALL wrappers, in the style of the Linux kernel's
 * arch/x86/virt/vmx/tdx/seamcall.S:
 *
 *   u64 __seamcall(u64 fn, struct tdx_module_args *args);            inputs only
 *   u64 __seamcall_ret(u64 fn, struct tdx_module_args *args);        RCX..R11 written back
 *   u64 __seamcall_saved_ret(u64 fn, struct tdx_module_args *args);  all 13 registers in and
 *                                                                    out (TDH.VP.ENTER)
 */
#include <linux/linkage.h>
#include <asm/frame.h>

#include "tdxcall.S"

.section .noinstr.text, "ax"

SYM_FUNC_START(__seamcall)
	TDX_MODULE_CALL host=1
SYM_FUNC_END(__seamcall)

SYM_FUNC_START(__seamcall_ret)
	TDX_MODULE_CALL host=1 ret=1
SYM_FUNC_END(__seamcall_ret)

SYM_FUNC_START(__seamcall_saved_ret)
	TDX_MODULE_CALL host=1 ret=1 saved=1
SYM_FUNC_END(__seamcall_saved_ret)
