/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/frame.h: FRAME_BEGIN and
 * FRAME_END build and drop a frame-pointer frame (push %rbp; mov %rsp, %rbp / pop %rbp).
 *
 * As in a CONFIG_FRAME_POINTER kernel by default; -DCONFIG_FRAME_POINTER=0 makes them empty.
 */
#ifndef _ASM_X86_FRAME_H
#define _ASM_X86_FRAME_H

#include <asm/asm.h>

#ifndef CONFIG_FRAME_POINTER
#define CONFIG_FRAME_POINTER 1
#endif

#ifdef __ASSEMBLY__

#if CONFIG_FRAME_POINTER
.macro FRAME_BEGIN
	push %_ASM_BP
	_ASM_MOV %_ASM_SP, %_ASM_BP
.endm

.macro FRAME_END
	pop %_ASM_BP
.endm
#else
.macro FRAME_BEGIN
.endm

.macro FRAME_END
.endm
#endif

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_FRAME_H */
