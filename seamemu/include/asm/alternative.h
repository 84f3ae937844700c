/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the assembly side of the kernel's arch/x86/include/asm/alternative.h:
 * ALTERNATIVE emits struct alt_instr entries as Linux v6.3 on lays them out
 * (s32 instr_offset, s32 repl_offset, u32 ft_flags = flags << 16 | feature, u8 instrlen,
 * u8 replacementlen: 14 bytes) into .altinstructions and the replacements into
 * .altinstr_replacement; the original is padded with NOPs to the longest replacement.
 * seamemu applies them when it links an object (docs/kbuild-and-gdb.md).
 */
#ifndef _ASM_X86_ALTERNATIVE_H
#define _ASM_X86_ALTERNATIVE_H

#define ALT_FLAGS_SHIFT		16
#define ALT_FLAG_NOT		1
#define ALT_NOT(feature)	((ALT_FLAG_NOT << ALT_FLAGS_SHIFT) | (feature))

#ifdef __ASSEMBLY__

.macro altinstr_entry orig, alt, ft_flags, orig_len, alt_len
	.long \orig - .
	.long \alt - .
	.4byte \ft_flags
	.byte \orig_len
	.byte \alt_len
.endm

/* If the CPU has @ft_flags' feature (lacks it, with ALT_NOT), @newinstr runs instead. */
.macro ALTERNATIVE oldinstr, newinstr, ft_flags
.Lalt_old_\@:
	\oldinstr
.Lalt_old_end_\@:
	.skip -(((.Lalt_new_end_\@ - .Lalt_new_\@) - (.Lalt_old_end_\@ - .Lalt_old_\@)) > 0) * ((.Lalt_new_end_\@ - .Lalt_new_\@) - (.Lalt_old_end_\@ - .Lalt_old_\@)), 0x90
.Lalt_pad_end_\@:
	.pushsection .altinstructions, "a"
	altinstr_entry .Lalt_old_\@, .Lalt_new_\@, \ft_flags, (.Lalt_pad_end_\@-.Lalt_old_\@), (.Lalt_new_end_\@-.Lalt_new_\@)
	.popsection
	.pushsection .altinstr_replacement, "ax"
.Lalt_new_\@:
	\newinstr
.Lalt_new_end_\@:
	.popsection
.endm

#endif /* __ASSEMBLY__ */

#endif /* _ASM_X86_ALTERNATIVE_H */
