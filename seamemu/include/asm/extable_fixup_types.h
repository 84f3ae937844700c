/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/extable_fixup_types.h: the
 * `type` word of an exception-table entry.  Values as in the kernel (and in
 * seamemu/arch/kernel.py, which the machine uses to apply the fixups).
 */
#ifndef _ASM_X86_EXTABLE_FIXUP_TYPES_H
#define _ASM_X86_EXTABLE_FIXUP_TYPES_H

/* The low byte is the type; the kernel packs a register and an immediate above it. */
#define EX_DATA_TYPE_MASK	0x000000FF
#define EX_DATA_REG_SHIFT	8
#define EX_DATA_FLAG_SHIFT	12
#define EX_DATA_IMM_SHIFT	16

#define EX_TYPE_NONE		0
#define EX_TYPE_DEFAULT		1	/* resume at the fixup */
#define EX_TYPE_FAULT		2	/* resume at the fixup, trap number in %rax */
#define EX_TYPE_UACCESS		3
#define EX_TYPE_COPY		4
#define EX_TYPE_CLEAR_FS	5
#define EX_TYPE_FPU_RESTORE	6
#define EX_TYPE_BPF		7
#define EX_TYPE_WRMSR		8
#define EX_TYPE_RDMSR		9

#endif /* _ASM_X86_EXTABLE_FIXUP_TYPES_H */
