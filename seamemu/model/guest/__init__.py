# SPDX-License-Identifier: MIT
"""The TDX module's guest side: a TD's TDCALL leaves, behind seamemu.traps.target.TdcallTarget."""

from seamemu.model.guest.dispatcher import TdGuest
from seamemu.model.guest.td import TdConfig, TdState, VeInfo

__all__ = ["TdConfig", "TdGuest", "TdState", "VeInfo"]
