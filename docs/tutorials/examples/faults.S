/* SPDX-License-Identifier: MIT */
/*
 * Small SEAMCALL wrappers, each with one mistake a real CPU running a kernel would catch
 * (tutorial 07).  Called like __seamcall_ret: RDI = leaf, RSI = struct tdx_module_args.
 */
#define seamcall .byte 0x66,0x0f,0x01,0xcf

.text

/* Loads the arguments and returns: the SEAMCALL line was lost in a merge. */
.globl forgot_seamcall
forgot_seamcall:
	movq	%rdi, %rax
	movq	0x00(%rsi), %rcx
	movq	0x08(%rsi), %rdx
	xorl	%eax, %eax
	ret

/* Uses RBX for an argument without saving it: the caller's RBX is gone. */
.globl scratch_rbx
scratch_rbx:
	movq	%rdi, %rax
	movq	0x00(%rsi), %rcx
	movq	0x50(%rsi), %rbx
	seamcall
	ret

/* Reloads SS right before SEAMCALL, so SEAMCALL runs in the MOV SS shadow. */
.globl reload_ss
reload_ss:
	movq	%rdi, %rax
	movw	%ss, %cx
	movw	%cx, %ss
	seamcall
	ret

/* Calls itself until the stack runs out. */
.globl runaway
runaway:
	call	runaway
	ret
