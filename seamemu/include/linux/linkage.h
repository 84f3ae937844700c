/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's include/linux/linkage.h (and the x86 parts of
 * arch/x86/include/asm/linkage.h): the SYM_* annotations that name and size symbols.
 * Written for seamemu; the macro names and their effect follow the kernel.
 */
#ifndef _LINUX_LINKAGE_H
#define _LINUX_LINKAGE_H

#include <linux/export.h>
#include <asm/linkage.h>

#ifndef ASM_NL
#define ASM_NL ;
#endif

#ifdef __ASSEMBLY__

#ifndef ALIGN
#define ALIGN __ALIGN
#endif

/* Symbol types and linkages, as the kernel spells them. */
#define SYM_T_FUNC		@function
#define SYM_T_OBJECT		@object
#define SYM_T_NONE		@notype

#define SYM_L_GLOBAL(name)	.globl name
#define SYM_L_WEAK(name)	.weak name
#define SYM_L_LOCAL(name)

#define SYM_A_ALIGN		ALIGN
#define SYM_A_NONE

/* The building blocks. */
#define SYM_ENTRY(name, linkage, align...)	linkage(name) ASM_NL align ASM_NL name:
#define SYM_START(name, linkage, align...)	SYM_ENTRY(name, linkage, align)
#define SYM_END(name, sym_type)			.type name, sym_type ASM_NL .size name, .-name

/* Functions that follow the C calling convention. */
#define SYM_FUNC_START(name)			SYM_START(name, SYM_L_GLOBAL, SYM_A_ALIGN) ENDBR
#define SYM_FUNC_START_NOALIGN(name)		SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE) ENDBR
#define SYM_FUNC_START_LOCAL(name)		SYM_START(name, SYM_L_LOCAL, SYM_A_ALIGN) ENDBR
#define SYM_FUNC_START_LOCAL_NOALIGN(name)	SYM_START(name, SYM_L_LOCAL, SYM_A_NONE) ENDBR
#define SYM_FUNC_START_WEAK(name)		SYM_START(name, SYM_L_WEAK, SYM_A_ALIGN) ENDBR
#define SYM_FUNC_START_WEAK_NOALIGN(name)	SYM_START(name, SYM_L_WEAK, SYM_A_NONE) ENDBR
#define SYM_TYPED_FUNC_START(name)		SYM_FUNC_START(name)
#define SYM_FUNC_END(name)			SYM_END(name, SYM_T_FUNC)
#define SYM_FUNC_ALIAS(alias, name)		.globl alias ASM_NL .set alias, name
#define SYM_FUNC_ALIAS_LOCAL(alias, name)	.set alias, name

/* Code with its own conventions (entry points, trampolines). */
#define SYM_CODE_START(name)			SYM_START(name, SYM_L_GLOBAL, SYM_A_ALIGN)
#define SYM_CODE_START_NOALIGN(name)		SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE)
#define SYM_CODE_START_LOCAL(name)		SYM_START(name, SYM_L_LOCAL, SYM_A_ALIGN)
#define SYM_CODE_START_LOCAL_NOALIGN(name)	SYM_START(name, SYM_L_LOCAL, SYM_A_NONE)
#define SYM_CODE_END(name)			SYM_END(name, SYM_T_NONE)

/* Labels inside a function or a code block. */
#define SYM_INNER_LABEL(name, linkage)		.type name, SYM_T_NONE ASM_NL SYM_ENTRY(name, linkage, SYM_A_NONE)
#define SYM_INNER_LABEL_ALIGN(name, linkage)	.type name, SYM_T_NONE ASM_NL SYM_ENTRY(name, linkage, SYM_A_ALIGN)

/* Data. */
#define SYM_DATA_START(name)			SYM_START(name, SYM_L_GLOBAL, SYM_A_NONE)
#define SYM_DATA_START_LOCAL(name)		SYM_START(name, SYM_L_LOCAL, SYM_A_NONE)
#define SYM_DATA_END(name)			SYM_END(name, SYM_T_OBJECT)
#define SYM_DATA_END_LABEL(name, linkage, label) linkage(label) ASM_NL .type label, SYM_T_OBJECT ASM_NL label: ASM_NL SYM_DATA_END(name)
#define SYM_DATA(name, data...)			SYM_DATA_START(name) ASM_NL data ASM_NL SYM_DATA_END(name)
#define SYM_DATA_LOCAL(name, data...)		SYM_DATA_START_LOCAL(name) ASM_NL data ASM_NL SYM_DATA_END(name)

/* The older spellings still found in out-of-tree code. */
#define ENTRY(name)		.globl name ASM_NL ALIGN ASM_NL name:
#define GLOBAL(name)		.globl name ASM_NL name:
#define WEAK(name)		.weak name ASM_NL name:
#define END(name)		.size name, .-name
#define ENDPROC(name)		.type name, @function ASM_NL END(name)

#endif /* __ASSEMBLY__ */

#endif /* _LINUX_LINKAGE_H */
