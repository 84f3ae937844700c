# SPDX-License-Identifier: MIT
"""The host's VMM as a TD sees it through TDG.VP.VMCALL (KVM's tdx.c and its user space, in
Python); it is not the TDX module, which reaches it only through seamemu.traps.target.Vmm."""

from seamemu.vmm import ghci_calls, instructions  # noqa: F401  (register the handlers)
from seamemu.vmm.vmm import Answer, PrivateMemory, Vmm

__all__ = ["Answer", "PrivateMemory", "Vmm"]
