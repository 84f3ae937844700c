/* SPDX-License-Identifier: MIT */
/* GNU as's own .include (no C preprocessing of the included file). */
	.include "gas_macros.inc"

	.text
	.globl	use_included
use_included:
	CLEAR_REGS eax, edx
	ADD_CONST rax, LIMIT
	ret
