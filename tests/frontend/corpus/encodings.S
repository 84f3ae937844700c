/* SPDX-License-Identifier: MIT */
/* A spread of instruction forms whose encodings both backends must agree on. */
#include <linux/linkage.h>

SYM_FUNC_START(forms)
	mov	$0, %rax
	mov	$0x7fffffff, %rcx
	mov	$0x80000000, %rdx
	mov	$-2147483648, %rsi
	mov	$0x123456789a, %rdi
	movabs	$0x8000ff00ffff0000, %r8
	movl	$-1, %r9d
	movw	$0x1234, %ax
	movb	$0x12, %al
	mov	%cr4, %rax
	mov	%rax, %cr4
	movq	%rax, %gs:0x10
	movl	%gs:0x20, %ecx
	mov	0x10(%rax,%rbx,8), %rcx
	mov	(%rsp), %r15
	mov	-0x80(%rbp), %r12
	mov	0x7f(%rbp), %r12
	mov	0x80(%rbp), %r12
	lea	(%rax,%rax,2), %rax
	lea	0x8(,%rdi,4), %rax
	movzbl	(%rsi), %eax
	movzwl	2(%rsi), %ecx
	movslq	%ecx, %rcx
	movsbq	%al, %rax
	xchg	%rax, %rbx
	lock cmpxchg %rcx, (%rdx)
	lock incl (%rax)
	bt	$3, %rax
	btsq	$63, (%rdi)
	sete	%al
	cmovne	%rbx, %rax
	shl	$3, %rax
	sar	%cl, %rdx
	shrq	%rdx
	imul	$24, %rax, %rax
	imul	%rbx, %rcx
	mul	%rcx
	div	%rbx
	neg	%rax
	not	%rdx
	and	$0xfff, %eax
	or	$0x80, %ecx
	orq	$-0x1000, %rdx
	test	$1, %al
	testq	$0x100, %rdi
	cmp	%rsi, %rdi
	cmpb	$0, (%rdi)
	sub	$0x1000, %rsp
	add	$127, %rsp
	add	$128, %rsp
	inc	%r8
	dec	%r9d
	adc	$0, %rax
	sbb	%rax, %rax
	cpuid
	rdtsc
	pause
	lfence
	mfence
	sfence
	hlt
	cli
	sti
	clac
	stac
	wbinvd
	int3
	ud2
	cltq
	cqto
	rep movsb
	rep stosq
	repe cmpsb
	nop
	nopl	(%rax)
	nopw	0x0(%rax,%rax,1)
	nopl	0x0(%rax)
	.nops	7
	.p2align 4
	rdmsr
	wrmsr
	vmxon	(%rdi)
	vmxoff
	vmcall
	RET
SYM_FUNC_END(forms)
