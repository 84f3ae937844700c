/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/shared/tdx.h: what the TD guest's
 * code and the host's share.  The structure exists only on the C side; assembly reaches its
 * fields through asm/asm-offsets.h.  The numbers live in seamemu/arch/ (leaves.py, ghci.py)
 * for the Python side too; a test checks that both agree.
 */
#ifndef _ASM_X86_SHARED_TDX_H
#define _ASM_X86_SHARED_TDX_H

#include <linux/bits.h>

/* R10 of a TDG.VP.VMCALL: 0 = a GHCI sub-function in R11. */
#define TDX_HYPERCALL_STANDARD		0

/* TDCALL leaves a guest kernel makes.  Spec: intel/tdx-module include/tdx_api_defs.h. */
#define TDG_VP_VMCALL			0
#define TDG_VP_INFO			1
#define TDG_VP_VEINFO_GET		3
#define TDG_MR_REPORT			4
#define TDG_MEM_PAGE_ACCEPT		6
#define TDG_VM_RD			7
#define TDG_VM_WR			8

/* TDG.VP.VMCALL sub-functions (R11) beyond the instruction exits.  Spec: the GHCI. */
#define TDVMCALL_GET_TD_VM_CALL_INFO	0x10000
#define TDVMCALL_MAP_GPA		0x10001
#define TDVMCALL_GET_QUOTE		0x10002
#define TDVMCALL_REPORT_FATAL_ERROR	0x10003

/* The VMM's status in R10. */
#define TDVMCALL_STATUS_SUCCESS		0x0000000000000000
#define TDVMCALL_STATUS_RETRY		0x0000000000000001
#define TDVMCALL_STATUS_INVALID_OPERAND	0x8000000000000000

/*
 * The registers a TDG.VP.VMCALL lets the VMM read and write, one bit per register number:
 * RDX (2), RBX (3), RSI (6), RDI (7), R8-R15 (8-15).  Never RAX, RCX, RSP, RBP.
 */
#define TDVMCALL_EXPOSE_REGS_MASK	0xffcc

#ifndef __ASSEMBLY__

/* Used to pass arguments to and from __seamcall*() and __tdcall*(): 13 u64s, 104 bytes. */
struct tdx_module_args {
	unsigned long long rcx, rdx, r8, r9, r10, r11;
	unsigned long long r12, r13, r14, r15, rbx, rdi, rsi;
};

/* The TD guest's side: TDCALL to the TDX module, and TDG.VP.VMCALL to the VMM. */
unsigned long long __tdcall(unsigned long long fn, struct tdx_module_args *args);
unsigned long long __tdcall_ret(unsigned long long fn, struct tdx_module_args *args);
unsigned long long __tdcall_saved_ret(unsigned long long fn, struct tdx_module_args *args);
unsigned long long __tdx_hypercall(struct tdx_module_args *args);

#endif /* !__ASSEMBLY__ */

#endif /* _ASM_X86_SHARED_TDX_H */
