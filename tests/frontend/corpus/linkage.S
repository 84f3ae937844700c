/* SPDX-License-Identifier: MIT */
/* The SYM_* annotations: local and global functions, code blocks, inner labels, data. */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

SYM_CODE_START(entry_point)
	UNWIND_HINT_END_OF_STACK
	ANNOTATE_NOENDBR
	call	local_fn
SYM_INNER_LABEL(entry_inner, SYM_L_GLOBAL)
	mov	%rdi, %rax
	JMP_NOSPEC rax
SYM_CODE_END(entry_point)

SYM_FUNC_START_LOCAL(local_fn)
	UNWIND_HINT_FUNC
	CALL_NOSPEC rsi
	RET
SYM_FUNC_END(local_fn)

SYM_FUNC_START_NOALIGN(unaligned_fn)
	RET
SYM_FUNC_END(unaligned_fn)
SYM_FUNC_ALIAS(alias_fn, unaligned_fn)

SYM_FUNC_START_WEAK(weak_fn)
	jmp	weak_fn
	RET
SYM_FUNC_END(weak_fn)

	.data
SYM_DATA_START(some_data)
	.quad	1, 2
SYM_DATA_END(some_data)
SYM_DATA(one_word, .long 42)
SYM_DATA_LOCAL(local_word, .long 7)
