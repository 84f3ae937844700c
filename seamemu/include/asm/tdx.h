/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's arch/x86/include/asm/tdx.h (software status codes)
 * together with the SEAMCALL leaf numbers of arch/x86/virt/vmx/tdx/tdx.h and the P-SEAMLDR
 * leaves of arch/x86/virt/vmx/tdx/seamldr.c.  The same numbers live in seamemu/arch/ for the
 * Python side; a test checks that both agree.
 */
#ifndef _ASM_X86_TDX_H
#define _ASM_X86_TDX_H

#include <linux/bits.h>
#include <asm/trapnr.h>
#include <asm/shared/tdx.h>

/*
 * SW-defined error codes.  Bits 47:40 == 0xFF indicate the Reserved status code class,
 * which the TDX module never returns, so the kernel uses it for its own codes.
 * Spec: Linux arch/x86/include/asm/tdx.h (commit 095b71a).
 */
#define TDX_ERROR			_BITULL(63)
#define TDX_NON_RECOVERABLE		_BITULL(62)
#define TDX_SW_ERROR			(TDX_ERROR | GENMASK_ULL(47, 40))
#define TDX_SEAMCALL_VMFAILINVALID	(TDX_SW_ERROR | _ULL(0xFFFF0000))
#define TDX_SEAMCALL_GP			(TDX_SW_ERROR | X86_TRAP_GP)
#define TDX_SEAMCALL_UD			(TDX_SW_ERROR | X86_TRAP_UD)

/* RAX bits 23:16 of a SEAMCALL hold the leaf version. Spec: tdx.h (43db111). */
#define TDX_VERSION_SHIFT		16

/*
 * SEAMCALL leaf numbers.  Spec: Linux arch/x86/virt/vmx/tdx/tdx.h (43db111); TDH_VP_ENTER,
 * TDH_SYS_RDALL and TDH_SYS_SHUTDOWN from intel/tdx-module tdx_1.5 include/tdx_api_defs.h;
 * TDH_SYS_INFO and TDH_SYS_LP_SHUTDOWN from the 2022 kernel series (TDX module 1.0 ABI).
 */
#define TDH_VP_ENTER			0
#define TDH_MNG_ADDCX			1
#define TDH_MEM_PAGE_ADD		2
#define TDH_MEM_SEPT_ADD		3
#define TDH_VP_ADDCX			4
#define TDH_MEM_PAGE_AUG		6
#define TDH_MEM_RANGE_BLOCK		7
#define TDH_MNG_KEY_CONFIG		8
#define TDH_MNG_CREATE			9
#define TDH_VP_CREATE			10
#define TDH_MNG_RD			11
#define TDH_MR_EXTEND			16
#define TDH_MR_FINALIZE			17
#define TDH_VP_FLUSH			18
#define TDH_MNG_VPFLUSHDONE		19
#define TDH_MNG_KEY_FREEID		20
#define TDH_MNG_INIT			21
#define TDH_VP_INIT			22
#define TDH_PHYMEM_PAGE_RDMD		24
#define TDH_VP_RD			26
#define TDH_PHYMEM_PAGE_RECLAIM		28
#define TDH_MEM_PAGE_REMOVE		29
#define TDH_SYS_KEY_CONFIG		31
#define TDH_SYS_INFO			32
#define TDH_SYS_INIT			33
#define TDH_SYS_RD			34
#define TDH_SYS_LP_INIT			35
#define TDH_SYS_TDMR_INIT		36
#define TDH_SYS_RDALL			37
#define TDH_MEM_TRACK			38
#define TDH_PHYMEM_CACHE_WB		40
#define TDH_PHYMEM_PAGE_WBINVD		41
#define TDH_VP_WR			43
#define TDH_SYS_LP_SHUTDOWN		44
#define TDH_SYS_CONFIG			45
#define TDH_SYS_SHUTDOWN		52

/* P-SEAMLDR leaves: RAX bit 63 selects the loader.  Spec: seamldr.c. */
#define P_SEAMLDR_INFO			0x8000000000000000
#define P_SEAMLDR_INSTALL		0x8000000000000001

#ifndef __ASSEMBLY__

/* The C side of the kernel's header: the SEAMCALL entry points the stubs provide. */
unsigned long long __seamcall(unsigned long long fn, struct tdx_module_args *args);
unsigned long long __seamcall_ret(unsigned long long fn, struct tdx_module_args *args);
unsigned long long __seamcall_saved_ret(unsigned long long fn, struct tdx_module_args *args);

#endif /* !__ASSEMBLY__ */

#endif /* _ASM_X86_TDX_H */
