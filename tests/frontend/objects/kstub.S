/* SPDX-License-Identifier: MIT */
/*
 * A kernel-style SEAMCALL wrapper written to exercise the object loader: built by
 * `gcc -c -x assembler-with-cpp -D__ASSEMBLY__` as kbuild builds arch/x86 .S files, it has
 * code in .noinstr.text and in a .text..* section, a local helper function, data, the
 * exception table, objtool-style sections, and one relocation of each type the kernel uses.
 *
 *   u64 kstub_seamcall(u64 fn, struct tdx_module_args *args);   RCX, RDX, R8-R11 in and out
 *   u64 *kstub_counter_addr(void);                               the call counter (R_X86_64_32S)
 *   u64 kstub_counter_low(void);                                 its address as a u32 (R_X86_64_32)
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/asm-offsets.h>
#include <asm/frame.h>
#include <asm/tdx.h>

#ifdef CONFIG_MITIGATION_RETHUNK
/* What the kernel's RET becomes with return thunks: a jump to a symbol defined elsewhere. */
#undef RET
#define RET	jmp __x86_return_thunk
#endif

.section .text..tdx_args, "ax"
/* Loads the argument block at %rsi into the registers SEAMCALL takes. */
SYM_FUNC_START_LOCAL(kstub_load)
	movq	TDX_MODULE_rcx(%rsi), %rcx
	movq	TDX_MODULE_rdx(%rsi), %rdx
	movq	TDX_MODULE_r8(%rsi),  %r8
	movq	TDX_MODULE_r9(%rsi),  %r9
	movq	TDX_MODULE_r10(%rsi), %r10
	movq	TDX_MODULE_r11(%rsi), %r11
	RET
SYM_FUNC_END(kstub_load)

.section .noinstr.text, "ax"
SYM_FUNC_START(kstub_seamcall)
	FRAME_BEGIN
	incq	kstub_calls(%rip)			/* R_X86_64_PC32 into .data */
	call	kstub_load				/* R_X86_64_PLT32 across sections */
	movq	%rdi, %rax
.Lseamcall:
	seamcall
	jc	.Lvmfail
.Lstore:
	movq	%rcx, TDX_MODULE_rcx(%rsi)
	movq	%rdx, TDX_MODULE_rdx(%rsi)
	movq	%r8,  TDX_MODULE_r8(%rsi)
	movq	%r9,  TDX_MODULE_r9(%rsi)
	movq	%r10, TDX_MODULE_r10(%rsi)
	movq	%r11, TDX_MODULE_r11(%rsi)
.Lout:
	FRAME_END
	RET
.Lvmfail:
	movabsq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	jmp	.Lout
.Lfault:
	/* The exception-table fixup: RAX holds the trap number. */
	orq	kstub_sw_error(%rip), %rax
	jmp	.Lout
	_ASM_EXTABLE_FAULT(.Lseamcall, .Lfault)
SYM_FUNC_END(kstub_seamcall)

SYM_FUNC_START(kstub_counter_addr)
	movq	$kstub_calls, %rax			/* R_X86_64_32S */
	RET
SYM_FUNC_END(kstub_counter_addr)

SYM_FUNC_START(kstub_counter_low)
	movl	$kstub_calls, %eax			/* R_X86_64_32 */
	RET
SYM_FUNC_END(kstub_counter_low)

.data
SYM_DATA(kstub_calls, .quad 0)
SYM_DATA(kstub_entry, .quad kstub_seamcall)		/* R_X86_64_64 */
SYM_DATA_LOCAL(kstub_sw_error, .quad TDX_SW_ERROR)

/* What objtool and the ORC unwinder leave in a kernel object: never loaded. */
.pushsection .discard.instr_begin
	.long	.Lseamcall - .
.popsection
.pushsection .orc_unwind_ip, "a"
	.long	kstub_seamcall - .
.popsection
