/* SPDX-License-Identifier: MIT */
/* Loops with numeric local labels, branches that must grow from short to near. */
#include <linux/linkage.h>

	.text
SYM_FUNC_START(count_down)
	mov	$10, %ecx
1:	dec	%ecx
	jnz	1b
	xor	%eax, %eax
2:	inc	%eax
	cmp	$100, %eax
	jb	2b
	jmp	3f
	.rept 40
	addq	$1, %rax
	.endr
3:	test	%rax, %rax
	je	1f
	jne	2f
1:	RET
2:	mov	$-1, %rax
	RET
SYM_FUNC_END(count_down)

SYM_FUNC_START(far_loop)
1:	.skip 130, 0x90
	loop	2f
2:	dec	%rdi
	jnz	1b
	jrcxz	3f
3:	call	count_down
	jmp	count_down
	RET
SYM_FUNC_END(far_loop)

SYM_FUNC_START(jump_table)
	cmp	$3, %rdi
	ja	9f
	lea	.Ltable(%rip), %rax
	movslq	(%rax,%rdi,4), %rdx
	add	%rdx, %rax
	jmp	*%rax
9:	xor	%eax, %eax
	RET
SYM_FUNC_END(jump_table)

	.section .rodata
	.balign 4
.Ltable:
	.long 1f - .Ltable, 2f - .Ltable, 3f - .Ltable, 9b - .Ltable
	.text
1:	mov	$1, %eax
	RET
2:	mov	$2, %eax
	RET
3:	mov	$3, %eax
	RET
