# SPDX-License-Identifier: MIT
"""How seamemu writes values for people and for JSON: the one place a 64-bit value is spelt.

64-bit values (registers, addresses, statuses) are hex strings `0x%016x` everywhere, in text
and in JSON, and registers are listed in ABI order (docs/design.md, "Outcome vocabulary").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def hex64(value: int) -> str:
    """A 64-bit value as `0x` and sixteen hex digits."""
    return f"0x{value:016x}"


def hex64_or_none(value: int | None) -> str | None:
    return None if value is None else hex64(value)


def hex_regs(regs: Mapping[str, int], order: Iterable[str] | None = None) -> dict[str, str]:
    """Registers as {name: hex64}, in `order` (those of it present) or as given."""
    names = [n for n in order if n in regs] if order is not None else list(regs)
    return {n: hex64(regs[n]) for n in names}


__all__ = ["hex64", "hex64_or_none", "hex_regs"]
