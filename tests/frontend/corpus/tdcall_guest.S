/* SPDX-License-Identifier: MIT */
/* Guest side: TDCALL, and the SEAM mnemonics written out rather than as .byte. */
#include <linux/linkage.h>
#include <asm/tdx.h>

SYM_FUNC_START(guest_tdcall)
	mov	%rdi, %rax
	tdcall
	RET
SYM_FUNC_END(guest_tdcall)

SYM_FUNC_START(host_seamcall)
	mov	$TDH_SYS_INIT, %rax
	seamcall
	jc	1f
	RET
1:	movq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	RET
SYM_FUNC_END(host_seamcall)

SYM_FUNC_START(module_side)
	seamret
	seamops
	RET
SYM_FUNC_END(module_side)

SYM_FUNC_START(loader_info)
	movabs	$P_SEAMLDR_INFO, %rax
	seamcall
	RET
SYM_FUNC_END(loader_info)
