/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/unwind_hints.h: ORC unwinder
 * hints, which describe the stack to objtool.  seamemu has no unwinder; they emit nothing.
 */
#ifndef _ASM_X86_UNWIND_HINTS_H
#define _ASM_X86_UNWIND_HINTS_H

#include <linux/objtool.h>

#ifdef __ASSEMBLY__

.macro UNWIND_HINT args:vararg
.endm
.macro UNWIND_HINT_EMPTY
.endm
.macro UNWIND_HINT_UNDEFINED
.endm
.macro UNWIND_HINT_END_OF_STACK
.endm
.macro UNWIND_HINT_ENTRY
.endm
.macro UNWIND_HINT_REGS args:vararg
.endm
.macro UNWIND_HINT_IRET_REGS args:vararg
.endm
.macro UNWIND_HINT_IRET_ENTRY args:vararg
.endm
.macro UNWIND_HINT_FUNC
.endm
.macro UNWIND_HINT_SAVE
.endm
.macro UNWIND_HINT_RESTORE
.endm

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_UNWIND_HINTS_H */
