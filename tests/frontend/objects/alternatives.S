/* SPDX-License-Identifier: MIT */
/*
 * Kernel-style alternatives for the object loader's tests: a call re-aimed from the
 * replacement, an ALT_NOT, and (with -DALT_UNDECIDABLE) a Linux-defined feature.
 */
#include <linux/linkage.h>
#include <asm/alternative.h>
#include <asm/cpufeatures.h>
	.text
SYM_FUNC_START(alt_one)
	movl $1, %eax
	RET
SYM_FUNC_END(alt_one)
SYM_FUNC_START(alt_two)
	movl $2, %eax
	RET
SYM_FUNC_END(alt_two)
SYM_FUNC_START(alt_call)
	ALTERNATIVE "call alt_one", "call alt_two", X86_FEATURE_ERMS
	RET
SYM_FUNC_END(alt_call)
SYM_FUNC_START(alt_not)
	movl $7, %eax
	ALTERNATIVE "", "movl $8, %eax", ALT_NOT(X86_FEATURE_ERMS)
	RET
SYM_FUNC_END(alt_not)
#ifdef ALT_UNDECIDABLE
SYM_FUNC_START(alt_synthetic)
	movl $1, %eax
	ALTERNATIVE "", "movl $3, %eax", X86_FEATURE_RETPOLINE
	RET
SYM_FUNC_END(alt_synthetic)
#endif
