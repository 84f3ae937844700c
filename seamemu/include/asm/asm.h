/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/asm.h: the word-size helpers
 * and the exception-table macros.  An entry is struct exception_table_entry: the faulting
 * instruction and the fixup as offsets from the entry's own fields, then the type.
 */
#ifndef _ASM_X86_ASM_H
#define _ASM_X86_ASM_H

#include <asm/extable_fixup_types.h>
#include <asm/linkage.h>

#ifdef __ASSEMBLY__

/* 64-bit kernel: pointers are quads. */
#define _ASM_PTR	.quad
#define _ASM_ALIGN	.balign 8
#define _ASM_MOV	movq
#define _ASM_INC	incq
#define _ASM_DEC	decq
#define _ASM_ADD	addq
#define _ASM_SUB	subq

#define _ASM_AX		rax
#define _ASM_BX		rbx
#define _ASM_CX		rcx
#define _ASM_DX		rdx
#define _ASM_SP		rsp
#define _ASM_BP		rbp
#define _ASM_SI		rsi
#define _ASM_DI		rdi

# define _ASM_EXTABLE_TYPE(from, to, type)	\
	.pushsection "__ex_table","a" ;		\
	.balign 4 ;				\
	.long (from) - . ;			\
	.long (to) - . ;			\
	.long type ;				\
	.popsection

# define _ASM_EXTABLE(from, to)		_ASM_EXTABLE_TYPE(from, to, EX_TYPE_DEFAULT)
# define _ASM_EXTABLE_FAULT(from, to)	_ASM_EXTABLE_TYPE(from, to, EX_TYPE_FAULT)
# define _ASM_EXTABLE_UA(from, to)	_ASM_EXTABLE_TYPE(from, to, EX_TYPE_UACCESS)

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_ASM_H */
