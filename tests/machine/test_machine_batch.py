# SPDX-License-Identifier: MIT
"""The guest driver of batched calls (machine/batch.py): what it vouches for, where it stops."""

from __future__ import annotations

from machine_helpers import SEAMCALL, StubTarget, build

from seamemu.disasm import disassemble
from seamemu.machine import Machine
from seamemu.machine.batch import SHALLOW, BatchLayout, GuestBatch
from seamemu.traps.rule_table import Decision

LOAD = ("rcx", "rdx", "rbx", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", "rax")
CALLEE_SAVED = ("rbx", "rbp", "r12", "r13", "r14", "r15")

CODE = f"""
echo:
    mov rax, rdi
    cmp rdi, 5
    jne done
    mov rbx, 77
done:
    ret
deep:
    sub rsp, {SHALLOW + 64}
    mov qword ptr [rsp], 1
    add rsp, {SHALLOW + 64}
    mov rax, rdi
    ret
call_module:
    mov rax, rdi
    {SEAMCALL}
    ret
"""


def _batch(entry: str, struct_words: int = 0):
    img = build(CODE)
    m = Machine(img, StubTarget())
    struct = m.memory.alloc(4096, 4096) + 0x800 if struct_words else 0
    layout = BatchLayout(img.symbols[entry], LOAD, CALLEE_SAVED, True, struct, struct_words)
    return m, GuestBatch(m, layout, capacity=16)


def _record(m: Machine, layout: BatchLayout, rdi: int, rax_after: int, **regs: int) -> list[int]:
    at = layout.offsets()
    words = [0] * layout.words
    for name, value in {"rdi": rdi, **regs}.items():
        words[LOAD.index(name)] = value
    rsp = m.stack_top() - 8
    words[at["rsp"]], words[at["rflags"]], words[at["rsp_after"]] = rsp, 2, rsp + 8
    words[at["rax_after"]] = rax_after
    return words


def test_records_run_back_to_back_until_one_comes_back_other_than_expected():
    m, g = _batch("echo")
    recs = [_record(m, g.layout, i, i, rbx=0x1000 + i) for i in range(8)]
    recs[3][g.layout.offsets()["rax_after"]] = 999       # RAX will not be 999
    g.write_all(recs)
    g.enter()
    try:
        assert g.run(0, 8) == (3, "mismatch")
        assert g.run(4, 8) == (5, "mismatch")             # echo clobbers RBX when RDI = 5
        assert g.run(6, 8) == (8, "done")
    finally:
        g.leave()
    # Out of batch mode the sentinel is the plain stop again.
    assert m.call("echo", [7]).outcome == "returned"


def test_a_store_below_the_zeroed_stack_stops_the_batch_at_its_record():
    m, g = _batch("deep")
    g.write_all([_record(m, g.layout, i, i) for i in range(4)])
    g.enter()
    try:
        assert g.run(0, 4) == (0, "stopped")
    finally:
        g.leave()


def test_a_seamcall_gets_the_effect_its_record_s_plan_says():
    m, g = _batch("call_module")
    seen = []

    def prepare(index: int, received: bytes):
        seen.append((index, int.from_bytes(received, "little")))
        decision = Decision("module", "to the module", "to_module")
        # RAX (the one planned register) = the status, RFLAGS kept but for the arithmetic
        # flags, RIP past SEAMCALL.
        return (decision, (0x100 + index).to_bytes(8, "little"), ~0x8D5 & (2**64 - 1), 0, 4,
                None)

    g.prepare = prepare
    g.write_all([_record(m, g.layout, 33, 0x100 + i) for i in range(6)])
    g.enter()
    try:
        assert g.run(0, 6) == (6, "done")
    finally:
        g.leave()
    assert seen == [(i, 33) for i in range(6)]   # RAX as the stub loaded it


def test_the_driver_is_the_code_its_layout_describes():
    m, g = _batch("echo", struct_words=13)
    code = m.memory.read(g.code_base, g.done - g.code_base + 1)
    insns = list(disassemble(code, g.code_base))
    assert "(bad)" not in {i.mnemonic for i in insns}
    text = " ".join(i.text for i in insns)
    assert text.count("movdqa %xmm0") == SHALLOW // 16     # the zeroed stack, 16 bytes a store
    assert "%dr0" in text and "popfq" in text and "pushfq" in text
    assert insns[-1].mnemonic == "hlt" and insns[-1].address == g.done
