/* SPDX-License-Identifier: MIT */
/* Exception-table entries of every kind, from macros and written out by hand. */
#include <linux/linkage.h>
#include <asm/asm.h>

SYM_FUNC_START(read_msr_safe)
1:	rdmsr
	xor	%eax, %eax
2:	RET
	_ASM_EXTABLE_FAULT(1b, 2b)
SYM_FUNC_END(read_msr_safe)

SYM_FUNC_START(write_msr_safe)
.Lwrmsr:
	wrmsr
.Lafter:
	RET
	_ASM_EXTABLE(.Lwrmsr, .Lafter)
	_ASM_EXTABLE_TYPE(.Lwrmsr, .Lafter, EX_TYPE_WRMSR)
SYM_FUNC_END(write_msr_safe)

SYM_FUNC_START(vmxoff_safe)
	vmxoff
3:	ud2
4:	RET
	.pushsection "__ex_table", "a"
	.balign 4
	.long 3b - .
	.long 4b - .
	.long EX_TYPE_DEFAULT
	.popsection
SYM_FUNC_END(vmxoff_safe)
