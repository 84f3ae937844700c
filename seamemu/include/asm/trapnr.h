/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/trapnr.h: exception vector
 * numbers (Intel SDM Vol. 3A, Table 6-1).
 */
#ifndef _ASM_X86_TRAPNR_H
#define _ASM_X86_TRAPNR_H

#define X86_TRAP_DE		0	/* divide error */
#define X86_TRAP_DB		1	/* debug */
#define X86_TRAP_NMI		2	/* non-maskable interrupt */
#define X86_TRAP_BP		3	/* breakpoint */
#define X86_TRAP_OF		4	/* overflow */
#define X86_TRAP_BR		5	/* bound range exceeded */
#define X86_TRAP_UD		6	/* invalid opcode */
#define X86_TRAP_NM		7	/* device not available */
#define X86_TRAP_DF		8	/* double fault */
#define X86_TRAP_TS		10	/* invalid TSS */
#define X86_TRAP_NP		11	/* segment not present */
#define X86_TRAP_SS		12	/* stack-segment fault */
#define X86_TRAP_GP		13	/* general protection */
#define X86_TRAP_PF		14	/* page fault */
#define X86_TRAP_MF		16	/* x87 floating-point error */
#define X86_TRAP_AC		17	/* alignment check */
#define X86_TRAP_MC		18	/* machine check */
#define X86_TRAP_XF		19	/* SIMD floating-point exception */
#define X86_TRAP_VE		20	/* virtualization exception */
#define X86_TRAP_CP		21	/* control protection */

#endif /* _ASM_X86_TRAPNR_H */
