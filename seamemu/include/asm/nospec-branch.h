/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/nospec-branch.h.  seamemu models
 * no speculation, so the mitigations are plain branches or nothing at all.
 */
#ifndef _ASM_X86_NOSPEC_BRANCH_H
#define _ASM_X86_NOSPEC_BRANCH_H

#include <linux/objtool.h>
#include <asm/unwind_hints.h>

#ifdef __ASSEMBLY__

.macro ANNOTATE_RETPOLINE_SAFE
.endm
.macro ANNOTATE_UNRET_SAFE
.endm

/* An indirect jump or call through a register, named without its %: JMP_NOSPEC rax. */
.macro JMP_NOSPEC reg:req
	jmp	*%\reg
.endm
.macro CALL_NOSPEC reg:req
	call	*%\reg
.endm

.macro UNTRAIN_RET
.endm
.macro UNTRAIN_RET_VM
.endm
.macro UNTRAIN_RET_FROM_CALL
.endm
.macro CALL_DEPTH_ACCOUNT
.endm
.macro FILL_RETURN_BUFFER args:vararg
.endm
.macro ISSUE_UNBALANCED_RET_GUARD args:vararg
.endm
.macro CLEAR_CPU_BUFFERS
.endm
.macro CLEAR_BRANCH_HISTORY
.endm

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_NOSPEC_BRANCH_H */
