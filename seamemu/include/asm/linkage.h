/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/linkage.h: function alignment,
 * RET and the IBT landing pad ENDBR.
 *
 * CONFIG_FUNCTION_ALIGNMENT (default 16) sets the padding before each SYM_FUNC_START;
 * define CONFIG_X86_KERNEL_IBT to start functions with endbr64 as an IBT kernel does.
 */
#ifndef _ASM_X86_LINKAGE_H
#define _ASM_X86_LINKAGE_H

#ifndef CONFIG_FUNCTION_ALIGNMENT
#define CONFIG_FUNCTION_ALIGNMENT 16
#endif

#ifdef __ASSEMBLY__

#define __ALIGN		.balign CONFIG_FUNCTION_ALIGNMENT, 0x90
#define __ALIGN_STR	".balign 16, 0x90"

/* No return thunks and no straight-line-speculation int3 in seamemu's default build. */
#define RET		ret
#define ASM_RET		ret

#ifdef CONFIG_X86_KERNEL_IBT
#define ENDBR		endbr64
#else
#define ENDBR
#endif

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_LINKAGE_H */
