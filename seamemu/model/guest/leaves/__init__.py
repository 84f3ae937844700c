# SPDX-License-Identifier: MIT
"""The TDCALL leaves of the module's guest side; importing this package registers each one."""

from seamemu.model.guest.leaves import mem_page_accept, vm_rd, vp_info, vp_veinfo_get, vp_vmcall

__all__ = ["mem_page_accept", "vm_rd", "vp_info", "vp_veinfo_get", "vp_vmcall"]
