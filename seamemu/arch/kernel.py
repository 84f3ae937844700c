# SPDX-License-Identifier: MIT
"""The Linux kernel's own (software-defined) SEAMCALL codes and its exception-table types.

Spec: Linux arch/x86/include/asm/tdx.h: TDX_SW_ERROR and TDX_SEAMCALL_VMFAILINVALID (as in
v5.19), TDX_SEAMCALL_GP/UD (7b804135d4d1, v6.6), TDX_NON_RECOVERABLE (095b71a03f49);
arch/x86/include/asm/trapnr.h (X86_TRAP_*); arch/x86/include/asm/extable_fixup_types.h
(EX_TYPE_*); errno names; the SEAMCALL wrappers' errno mapping is seamemu.kernel.wrappers.
"""

from __future__ import annotations

import errno

TDX_ERROR = 1 << 63
TDX_NON_RECOVERABLE = 1 << 62
# Class 0xFF (bits 47:40) is reserved for the OS; the module never returns it.
TDX_SW_ERROR = TDX_ERROR | (0xFF << 40)
TDX_SEAMCALL_VMFAILINVALID = TDX_SW_ERROR | 0xFFFF0000

# Trap numbers, X86_TRAP_*.
X86_TRAP_DE = 0
X86_TRAP_DB = 1
X86_TRAP_BP = 3
X86_TRAP_UD = 6
X86_TRAP_DF = 8
X86_TRAP_SS = 12
X86_TRAP_GP = 13
X86_TRAP_PF = 14

TDX_SEAMCALL_GP = TDX_SW_ERROR | X86_TRAP_GP
TDX_SEAMCALL_UD = TDX_SW_ERROR | X86_TRAP_UD

# Mnemonics of the vectors the machine delivers.
TRAP_NAMES: dict[int, str] = {
    X86_TRAP_DE: "#DE",
    X86_TRAP_DB: "#DB",
    X86_TRAP_BP: "#BP",
    X86_TRAP_UD: "#UD",
    X86_TRAP_DF: "#DF",
    X86_TRAP_SS: "#SS",
    X86_TRAP_GP: "#GP",
    X86_TRAP_PF: "#PF",
}

# Exception-table entry types (the `data` word of struct exception_table_entry).
EX_TYPE_NONE = 0
EX_TYPE_DEFAULT = 1  # resume at the fixup
EX_TYPE_FAULT = 2    # resume at the fixup with RAX = trap number
EX_TYPE_NAMES: dict[int, str] = {
    EX_TYPE_NONE: "EX_TYPE_NONE",
    EX_TYPE_DEFAULT: "EX_TYPE_DEFAULT",
    EX_TYPE_FAULT: "EX_TYPE_FAULT",
}
# struct exception_table_entry { int insn, fixup, data; }: two self-relative offsets and a type.
EXTABLE_ENTRY_SIZE = 12

# The kernel's own codes by name, for rendering RAX after a call through a stub.
SW_ERROR_NAMES: dict[int, str] = {
    TDX_SEAMCALL_GP: "TDX_SEAMCALL_GP",
    TDX_SEAMCALL_UD: "TDX_SEAMCALL_UD",
    TDX_SEAMCALL_VMFAILINVALID: "TDX_SEAMCALL_VMFAILINVALID",
}


# The errnos SEAMCALL results and the bring-up end in, spelled as the kernel spells them
# (Python's errno module calls 95 ENOTSUP; the kernel's name is EOPNOTSUPP).
ERRNO_NAMES: dict[int, str] = {
    0: "0",
    -errno.E2BIG: "-E2BIG",
    -errno.EACCES: "-EACCES",
    -errno.EBUSY: "-EBUSY",
    -errno.EFAULT: "-EFAULT",
    -errno.EINVAL: "-EINVAL",
    -errno.EIO: "-EIO",
    -errno.ENODEV: "-ENODEV",
    -errno.ENOMEM: "-ENOMEM",
    -errno.ENOSPC: "-ENOSPC",
    -errno.EOPNOTSUPP: "-EOPNOTSUPP",
}


def errno_name(value: int) -> str:
    """"-ENODEV" for -19; the number itself for an errno outside the table."""
    return ERRNO_NAMES.get(value, str(value))


__all__ = [
    "ERRNO_NAMES",
    "EXTABLE_ENTRY_SIZE",
    "EX_TYPE_DEFAULT",
    "EX_TYPE_FAULT",
    "EX_TYPE_NAMES",
    "EX_TYPE_NONE",
    "SW_ERROR_NAMES",
    "TDX_ERROR",
    "TDX_NON_RECOVERABLE",
    "TDX_SEAMCALL_GP",
    "TDX_SEAMCALL_UD",
    "TDX_SEAMCALL_VMFAILINVALID",
    "TDX_SW_ERROR",
    "TRAP_NAMES",
    "X86_TRAP_BP",
    "X86_TRAP_DB",
    "X86_TRAP_DE",
    "X86_TRAP_DF",
    "X86_TRAP_GP",
    "X86_TRAP_PF",
    "X86_TRAP_SS",
    "X86_TRAP_UD",
    "errno_name",
]
