# SPDX-License-Identifier: MIT
"""machine/regs.py: the register file reads and writes the same values through the fast
path (the library's batch calls, on a binding version it fits) and the public binding API."""

from __future__ import annotations

import pytest
import unicorn
from unicorn import UC_ARCH_X86, UC_MODE_64, Uc

from seamemu.errors import EngineError
from seamemu.machine import regs
from seamemu.machine.regs import NAMES, RegFile

VALUES = [(0x1111_0000_0000_0000 * (i + 1) + i) & ((1 << 64) - 1) for i in range(len(NAMES))]
VALUES[NAMES.index("rflags")] = 0x202   # a value RFLAGS keeps as written


def _roundtrip(rf: RegFile) -> list[int]:
    rf.write(VALUES)
    return rf.read()


def test_both_paths_see_the_same_registers():
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    fast, public = RegFile(uc), RegFile(uc, fast=False)
    assert fast.fast and not public.fast          # unicorn 2.1 here: the fast path fits
    assert _roundtrip(fast) == VALUES == public.read()
    public.write([0] * len(NAMES))
    assert fast.read()[NAMES.index("rax")] == 0


def test_an_unknown_binding_version_falls_back_to_the_public_api(monkeypatch):
    monkeypatch.setattr(unicorn, "__version__", "3.0.0")
    assert regs._fast_batch() is None
    monkeypatch.setattr(regs, "FAST", None)
    rf = RegFile(Uc(UC_ARCH_X86, UC_MODE_64))
    assert not rf.fast and _roundtrip(rf) == VALUES
    with pytest.raises(EngineError, match=r"does not fit unicorn 3\.0\.0"):
        RegFile(Uc(UC_ARCH_X86, UC_MODE_64), fast=True)


def test_a_machine_runs_on_the_public_path(monkeypatch):
    """The whole SEAMCALL path works without the binding's private parts."""
    from seamemu.session import Session
    from seamemu.stubs import DEFAULT_ENTRY

    monkeypatch.setattr(regs, "FAST", None)
    s = Session()
    assert not s.machine.lps[0].regfile.fast
    r = s.call(DEFAULT_ENTRY, leaf=0x21)          # TDH.SYS.INIT
    assert (r.outcome, r.rax) == ("returned", 0)
