/* SPDX-License-Identifier: MIT */
/*
 * Boot-time TDX detection on one logical processor, in the style of the 2022 Linux series
 * "x86/virt/tdx: Detect TDX during kernel boot" (arch/x86/virt/vmx/tdx/tdx.c:
 * detect_seam_bsp/_ap and detect_tdx_keyids_bsp/_ap), written for seamemu.
 *
 *   u32 tdx_detect_lp(struct tdx_detect_out *out, const struct tdx_detect_out *bsp);
 *
 * Run it on the boot CPU with bsp == NULL, then on every other CPU with the boot CPU's
 * result: an AP reports whether its SEAMRR and KeyID partitioning match the boot CPU's
 * (the BIOS must program every core the same way; SEAMRR is core-scoped).
 *
 * It reads IA32_MTRRCAP; only when MTRRCAP.SEAMRR (bit 15) says the SEAMRR MSRs exist does
 * it read IA32_SEAMRR_PHYS_BASE and IA32_SEAMRR_PHYS_MASK; then IA32_MKTME_KEYID_PARTITIONING.
 * Every RDMSR sits under an exception-table entry like the kernel's rdmsrl_safe(): an MSR
 * the CPU does not implement raises #GP(0), the fixup records which read faulted and the
 * detection goes on, so an old CPU gets a report instead of an oops.
 *
 * Returns the status word it also stores in out->status (TDX_DETECT_* bits below).
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/frame.h>

/* MSRs.  Spec: Linux arch/x86/include/asm/msr-index.h; intel/tdx-module msr_defs.h. */
#define MSR_MTRRcap				0x000000fe
#define MSR_IA32_MKTME_KEYID_PARTITIONING	0x00000087
#define MSR_IA32_SEAMRR_PHYS_BASE		0x00001400
#define MSR_IA32_SEAMRR_PHYS_MASK		0x00001401

#define MTRR_CAP_SEAMRR				0x8000	/* bit 15 */
#define SEAMRR_PHYS_BASE_CONFIGURED		0x0008	/* bit 3 */
#define SEAMRR_PHYS_MASK_LOCKED			0x0400	/* bit 10 */
#define SEAMRR_PHYS_MASK_ENABLED		0x0800	/* bit 11: the SDM's VALID */
#define SEAMRR_ENABLED_BITS	(SEAMRR_PHYS_MASK_ENABLED | SEAMRR_PHYS_MASK_LOCKED)

/*
 * struct tdx_detect_out {
 *	u64 mtrrcap;		IA32_MTRRCAP
 *	u64 seamrr_base;	IA32_SEAMRR_PHYS_BASE (0 when not read)
 *	u64 seamrr_mask;	IA32_SEAMRR_PHYS_MASK (0 when not read)
 *	u64 keyid_part;		IA32_MKTME_KEYID_PARTITIONING
 *	u64 status;		TDX_DETECT_* bits
 *	u32 keyid_start;	first TDX private KeyID: MKTME KeyIDs + 1 (0: none)
 *	u32 nr_keyids;		TDX private KeyIDs
 * };
 */
#define TDX_DETECT_mtrrcap		0
#define TDX_DETECT_seamrr_base		8
#define TDX_DETECT_seamrr_mask		16
#define TDX_DETECT_keyid_part		24
#define TDX_DETECT_status		32
#define TDX_DETECT_keyid_start		40
#define TDX_DETECT_nr_keyids		44
#define TDX_DETECT_SIZE			48

/* out->status */
#define TDX_DETECT_SEAMRR_SUPPORTED	0x0001	/* MTRRCAP.SEAMRR */
#define TDX_DETECT_SEAMRR_CONFIGURED	0x0002	/* PHYS_BASE.CONFIGURED */
#define TDX_DETECT_SEAMRR_ENABLED	0x0004	/* PHYS_MASK VALID and LOCK both set */
#define TDX_DETECT_KEYIDS		0x0008	/* at least one TDX private KeyID */
#define TDX_DETECT_SEAMRR_MISMATCH	0x0010	/* AP: SEAMRR differs from the boot CPU's */
#define TDX_DETECT_KEYID_MISMATCH	0x0020	/* AP: KeyID split differs from the boot CPU's */
#define TDX_DETECT_FAULT_MTRRCAP	0x0100	/* RDMSR raised #GP: */
#define TDX_DETECT_FAULT_SEAMRR_BASE	0x0200
#define TDX_DETECT_FAULT_SEAMRR_MASK	0x0400
#define TDX_DETECT_FAULT_KEYID		0x0800

/*
 * RDMSR_SAFE msr, field, fault: read \msr into \field(%rdi).  If RDMSR raises #GP, the
 * exception table (EX_TYPE_FAULT) resumes at 2:, which stores 0 and sets \fault in %r8.
 */
.macro RDMSR_SAFE msr:req, field:req, fault:req
	movl	$\msr, %ecx
1:	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax
	jmp	3f
2:	xorl	%eax, %eax
	orq	$\fault, %r8
3:	movq	%rax, \field(%rdi)
	_ASM_EXTABLE_FAULT(1b, 2b)
.endm

.text

SYM_FUNC_START(tdx_detect_lp)
	FRAME_BEGIN
	xorl	%r8d, %r8d			/* status */
	movq	$0, TDX_DETECT_seamrr_base(%rdi)
	movq	$0, TDX_DETECT_seamrr_mask(%rdi)

	/* SEAMRR is reported via MTRRcap. */
	RDMSR_SAFE MSR_MTRRcap, TDX_DETECT_mtrrcap, TDX_DETECT_FAULT_MTRRCAP
	testq	$MTRR_CAP_SEAMRR, %rax
	jz	.Lkeyids

	orq	$TDX_DETECT_SEAMRR_SUPPORTED, %r8
	RDMSR_SAFE MSR_IA32_SEAMRR_PHYS_BASE, TDX_DETECT_seamrr_base, TDX_DETECT_FAULT_SEAMRR_BASE
	testq	$SEAMRR_PHYS_BASE_CONFIGURED, %rax
	jz	.Lread_mask
	orq	$TDX_DETECT_SEAMRR_CONFIGURED, %r8
.Lread_mask:
	RDMSR_SAFE MSR_IA32_SEAMRR_PHYS_MASK, TDX_DETECT_seamrr_mask, TDX_DETECT_FAULT_SEAMRR_MASK
	andq	$SEAMRR_ENABLED_BITS, %rax
	cmpq	$SEAMRR_ENABLED_BITS, %rax
	jne	.Lseamrr_ap
	orq	$TDX_DETECT_SEAMRR_ENABLED, %r8

.Lseamrr_ap:
	/* An AP: the BIOS must have programmed SEAMRR exactly as on the boot CPU. */
	testq	%rsi, %rsi
	jz	.Lkeyids
	movq	TDX_DETECT_seamrr_base(%rdi), %rax
	cmpq	TDX_DETECT_seamrr_base(%rsi), %rax
	jne	.Lseamrr_mismatch
	movq	TDX_DETECT_seamrr_mask(%rdi), %rax
	cmpq	TDX_DETECT_seamrr_mask(%rsi), %rax
	je	.Lkeyids
.Lseamrr_mismatch:
	orq	$TDX_DETECT_SEAMRR_MISMATCH, %r8

.Lkeyids:
	/* IA32_MKTME_KEYID_PARTITIONING: MKTME KeyIDs in 31:0, TDX private KeyIDs in 63:32. */
	movl	$0, TDX_DETECT_keyid_start(%rdi)
	movl	$0, TDX_DETECT_nr_keyids(%rdi)
	RDMSR_SAFE MSR_IA32_MKTME_KEYID_PARTITIONING, TDX_DETECT_keyid_part, TDX_DETECT_FAULT_KEYID
	testq	$TDX_DETECT_FAULT_KEYID, %r8
	jnz	.Ldone

	/* An AP: the KeyID split must be the boot CPU's (the MSR is package-scoped). */
	testq	%rsi, %rsi
	jz	.Lkeyid_count
	cmpq	TDX_DETECT_keyid_part(%rsi), %rax
	je	.Lkeyid_count
	orq	$TDX_DETECT_KEYID_MISMATCH, %r8

.Lkeyid_count:
	movq	%rax, %rdx
	shrq	$32, %rdx
	movl	%edx, TDX_DETECT_nr_keyids(%rdi)
	testl	%edx, %edx
	jz	.Ldone
	orq	$TDX_DETECT_KEYIDS, %r8
	/* TDX private KeyIDs start right after the last MKTME KeyID. */
	incl	%eax
	movl	%eax, TDX_DETECT_keyid_start(%rdi)

.Ldone:
	movq	%r8, TDX_DETECT_status(%rdi)
	movl	%r8d, %eax
	FRAME_END
	RET
SYM_FUNC_END(tdx_detect_lp)
