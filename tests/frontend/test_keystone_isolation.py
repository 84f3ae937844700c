# SPDX-License-Identifier: MIT
"""keystone crashes and hangs stay in the worker process and become AsmErrors."""

from __future__ import annotations

import os

import pytest
from fe_helpers import code

from seamemu.errors import AsmError
from seamemu.frontend import assemble_text, items, keystone_worker
from seamemu.frontend.keystone_worker import Encoded, KeystoneWorker, Refused, WorkerDied


@pytest.fixture
def raw_hook(monkeypatch):
    """Let `.seamemu_keystone_raw "text"` hand text straight to keystone."""
    monkeypatch.setattr(items, "RAW_KEYSTONE_HOOK", True)


def test_raw_hook_is_off_by_default():
    with pytest.raises(AsmError, match="unknown directive"):
        assemble_text('.seamemu_keystone_raw "nop"\n')


def test_segfault_becomes_asm_error_and_the_worker_restarts(raw_hook):
    worker = keystone_worker.shared_worker()
    code("nop")  # the worker is up
    before = worker.pid
    src = 'nop\nret\n.seamemu_keystone_raw ".text"\nint3\n'
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="crash.S")
    assert (err.value.file, err.value.line) == ("crash.S", 3)
    assert "crashed (SIGSEGV)" in str(err.value)
    # The next assembly works, in a new worker (an immediate no earlier test encoded, so
    # keystone must really be asked).
    value = 0x5EA3C000 + os.getpid() % 0x1000
    assert code(f"movl ${value}, %ecx") == b"\xb9" + value.to_bytes(4, "little")
    assert worker.pid is not None and worker.pid != before


def test_hang_becomes_asm_error_and_the_worker_restarts(raw_hook, monkeypatch):
    monkeypatch.setattr(keystone_worker, "ITEM_TIMEOUT", 1.0)
    # keystone spins forever on a macro that defines and jumps to `.Lx\@`.
    src = 'nop\n.seamemu_keystone_raw ".macro m\\n.Lx\\\\@: jmp .Lx\\\\@\\n.endm\\nm"\n'
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="hang.S")
    assert (err.value.file, err.value.line) == ("hang.S", 2)
    assert "hung" in str(err.value)
    assert code("ud2") == b"\x0f\x0b"


def test_empty_answer_without_error_is_refused(raw_hook):
    # keystone answers `.section .text` with no bytes and no error.
    with pytest.raises(AsmError) as err:
        assemble_text('.seamemu_keystone_raw ".section .text"\n', filename="empty.S")
    assert err.value.line == 1
    assert "no bytes and no error" in str(err.value)


def test_worker_reports_which_item_killed_it():
    worker = KeystoneWorker()
    try:
        assert worker.encode([("nop", 0), ("foo", 0)]) == [
            Encoded(b"\x90"), Refused("Invalid mnemonic (KS_ERR_ASM_MNEMONICFAIL)", 514)]
        with pytest.raises(WorkerDied) as died:
            worker.encode([("nop", 0), ("ret", 0), (".text", 0), ("nop", 0)])
        assert died.value.index == 2
        assert worker.encode([("hlt", 0)]) == [Encoded(b"\xf4")]
    finally:
        worker.close()
    assert worker.pid is None


def test_a_forked_child_gets_its_own_worker():
    import multiprocessing

    code("nop")  # the parent's worker is up
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply(_child_encodes, (0x7E57,))
    assert child == b"\xb8" + (0x7E57).to_bytes(4, "little")
    assert code("movl $0x7e58, %eax") == b"\xb8" + (0x7E58).to_bytes(4, "little")


def _child_encodes(value: int) -> bytes:
    return code(f"movl ${value}, %eax")
