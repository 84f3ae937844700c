/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/shared/tdx.h.  The structure
 * exists only on the C side; assembly reaches its fields through asm/asm-offsets.h.
 */
#ifndef _ASM_X86_SHARED_TDX_H
#define _ASM_X86_SHARED_TDX_H

#include <linux/bits.h>

#ifndef __ASSEMBLY__

/* Used to pass arguments to and from __seamcall*(): every field is a u64, 104 bytes. */
struct tdx_module_args {
	unsigned long long rcx, rdx, r8, r9, r10, r11;
	unsigned long long r12, r13, r14, r15, rbx, rdi, rsi;
};

#endif /* !__ASSEMBLY__ */

#endif /* _ASM_X86_SHARED_TDX_H */
