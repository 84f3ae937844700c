/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/export.h (which includes linux/export.h): symbol exports mean nothing
 * outside a kernel build, so they expand to nothing.
 */
#ifndef _ASM_X86_EXPORT_H
#define _ASM_X86_EXPORT_H

#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define EXPORT_SYMBOL_NS(sym, ns)
#define EXPORT_SYMBOL_NS_GPL(sym, ns)

#endif /* _ASM_X86_EXPORT_H */
