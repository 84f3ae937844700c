# SPDX-License-Identifier: MIT
"""seamemu.machine.reference: the bare-Unicorn loops `seamemu bench` measures against."""

from __future__ import annotations

import pytest

from seamemu.errors import EngineError
from seamemu.frontend import assemble, assemble_text
from seamemu.machine.reference import BareCall, bare_seamcall_ret
from seamemu.stubs import stub


def test_bare_seamcall_ret_round_trips():
    once = bare_seamcall_ret()   # runs once and checks it returned
    for _ in range(10):
        once()


def test_bare_call_runs_the_same_stub_to_its_return():
    # The constructor runs the stub once and refuses one that does not come back.
    bare = BareCall(assemble([stub("seamcall.S")]), "__seamcall_ret", (0, "scratch"))
    for _ in range(10):
        bare.once()
    assert bare.uc.reg_read(__import__("unicorn").x86_const.UC_X86_REG_RIP) == bare.sentinel


def test_bare_call_refuses_an_entry_that_never_returns():
    image = assemble_text(".globl spin\nspin:\n\tjmp spin\n")
    with pytest.raises(EngineError, match="spin did not return"):
        BareCall(image, "spin")
