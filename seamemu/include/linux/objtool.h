/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's include/linux/objtool.h: objtool annotations.  They
 * only guide the kernel's build-time checker, so in seamemu they emit nothing.
 */
#ifndef _LINUX_OBJTOOL_H
#define _LINUX_OBJTOOL_H

#ifdef __ASSEMBLY__

.macro STACK_FRAME_NON_STANDARD args:vararg
.endm
.macro STACK_FRAME_NON_STANDARD_FP args:vararg
.endm
.macro ANNOTATE args:vararg
.endm
.macro ANNOTATE_NOENDBR
.endm
.macro ANNOTATE_INTRA_FUNCTION_CALL
.endm
.macro ANNOTATE_NOINSTR_ALLOWED
.endm
.macro ANNOTATE_UNRET_BEGIN
.endm
.macro REACHABLE
.endm

#else /* !__ASSEMBLY__ */

#define STACK_FRAME_NON_STANDARD(func)
#define STACK_FRAME_NON_STANDARD_FP(func)

#endif /* __ASSEMBLY__ */

#endif /* _LINUX_OBJTOOL_H */
