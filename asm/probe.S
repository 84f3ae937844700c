/* SPDX-License-Identifier: MIT */
/*
 * Memory probes for seamemu's hotplug emulation: a plain kernel load or store at a physical
 * address (seamemu runs without paging, so the address is used as is).  Deliberately with
 * no exception-table entry: touching memory that was hot-removed is a bug the kernel would
 * oops on, and the emulator reports it the same way.
 *
 *   u64 probe_read(u64 pa);
 *   void probe_write(u64 pa, u64 val);
 */
#include <linux/linkage.h>

.text

SYM_FUNC_START(probe_read)
	movq	(%rdi), %rax
	RET
SYM_FUNC_END(probe_read)

SYM_FUNC_START(probe_write)
	movq	%rsi, (%rdi)
	RET
SYM_FUNC_END(probe_write)
