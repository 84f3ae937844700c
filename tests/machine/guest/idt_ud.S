/* SPDX-License-Identifier: MIT */
/*
 * A SEAMCALL whose #UD is delivered through a guest IDT (no exception-table entry):
 *
 *   u64 ud_via_idt(void);   installs a 64-bit interrupt gate for vector 6 (#UD), loads the
 *                           IDT, issues SEAMCALL; with VMX off the CPU delivers #UD to
 *                           ud_handler, which returns 0x600d to the caller.
 */
.text
.globl ud_via_idt
ud_via_idt:
	leaq	ud_handler(%rip), %rax
	leaq	idt + 6 * 16(%rip), %rdx
	movw	%ax, (%rdx)			/* offset 15:0 */
	movw	$0x10, 2(%rdx)			/* __KERNEL_CS */
	movb	$0, 4(%rdx)			/* no IST */
	movb	$0x8e, 5(%rdx)			/* present, DPL 0, 64-bit interrupt gate */
	shrq	$16, %rax
	movw	%ax, 6(%rdx)			/* offset 31:16 */
	shrq	$16, %rax
	movl	%eax, 8(%rdx)			/* offset 63:32 */
	movl	$0, 12(%rdx)
	lidt	idtr(%rip)
	movq	%rsp, %r11
.globl ud_site
ud_site:
	seamcall
	ret

ud_handler:
	/* The CPU pushed RIP, CS, RFLAGS, RSP, SS (#UD has no error code). */
	movq	$0x600d, %rax
	movq	%r11, %rsp			/* back on the caller's stack */
	ret

.data
.balign 16
idt:
	.skip	256 * 16
idtr:
	.word	256 * 16 - 1
	.quad	idt
