/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for a few of the kernel's arch/x86/include/asm/cpufeatures.h numbers:
 * X86_FEATURE_* is word * 32 + bit.  The numbers are the kernel's (Linux v6.12,
 * adc218676eef25575469234709c2d87185ca223a); which words seamemu decides from CPUID is
 * seamemu/arch/cpufeatures.py.
 */
#ifndef _ASM_X86_CPUFEATURES_H
#define _ASM_X86_CPUFEATURES_H

/* word 3: Linux-defined */
#define X86_FEATURE_ALWAYS		( 3*32+21)	/* set on every CPU */
/* word 4: CPUID 0x00000001 ECX */
#define X86_FEATURE_XSAVE		( 4*32+26)
/* word 9: CPUID 0x00000007:0 EBX */
#define X86_FEATURE_ERMS		( 9*32+ 9)	/* enhanced REP MOVSB/STOSB */
#define X86_FEATURE_RTM			( 9*32+11)
/* word 11: Linux-defined */
#define X86_FEATURE_RETPOLINE		(11*32+12)
/* word 16: CPUID 0x00000007:0 ECX */
#define X86_FEATURE_LA57		(16*32+16)
/* word 18: CPUID 0x00000007:0 EDX */
#define X86_FEATURE_FSRM		(18*32+ 4)	/* fast short REP MOVSB */

#endif /* _ASM_X86_CPUFEATURES_H */
