# SPDX-License-Identifier: MIT
"""A kernel-style file written without seamemu in mind assembles and runs, and the module sees
exactly what the caller put in its argument block."""

from pathlib import Path

import pytest

from seamemu.frontend import assemble
from seamemu.machine import Machine
from seamemu.traps.target import SeamReply

HERE = Path(__file__).parent / "kernel_style"


class Recorder:
    """A module that records what it received and answers with a fixed status and outputs."""

    def __init__(self, status=0x1234, outputs=None, loaded=True):
        self.seen = []
        self.status = status
        self.outputs = outputs or {}
        self.loaded = loaded

    def module_loaded(self):
        return self.loaded

    def pseamldr_present(self):
        return False

    def pseamldr_busy(self, lp):
        return False

    def seamcall(self, lp, regs, mem):
        self.seen.append(dict(regs))
        return SeamReply(regs={"rax": self.status, **self.outputs})


@pytest.fixture(scope="module")
def image():
    return assemble([HERE / "caller.S"], defines={"WANT_TDCALL": "1"})


def _args(machine, values):
    pa = machine.memory.alloc(64, 64)
    machine.memory.write(pa, b"".join(v.to_bytes(8, "little") for v in values))
    return pa


def test_everything_assembles_with_symbols_sections_and_extable(image):
    assert {"ks_counter_bump", "ks_seamcall_ret", "ks_seamcall", "ks_tdcall", "ks_counter",
            "ks_magic"} <= set(image.symbols)
    names = {s.name for s in image.sections}
    assert {".text", ".noinstr.text", ".rodata", ".data"} <= names
    assert len(image.extable) == 2  # host=1 expansions only
    for e in image.extable:
        sec = image.section_at(e.fault)
        assert sec.data[e.fault - sec.address:e.fault - sec.address + 4] == bytes.fromhex("660f01cf")


def test_module_sees_exactly_the_callers_inputs(image):
    target = Recorder(status=0x1234, outputs={"rcx": 11, "r11": 66})
    m = Machine(image, target)
    values = [0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666]
    pa = _args(m, values)
    res = m.call("ks_seamcall_ret", (0x22, pa))
    assert res.outcome == "returned" and res.rax == 0x1234
    seen = target.seen[-1]
    assert seen["rax"] == 0x22
    assert [seen[r] for r in ("rcx", "rdx", "r8", "r9", "r10", "r11")] == values
    out = m.memory.read(pa, 48)
    got = [int.from_bytes(out[i:i + 8], "little") for i in range(0, 48, 8)]
    assert got == [11, 0x2222, 0x3333, 0x4444, 0x5555, 66]


def test_numeric_labels_and_data_sections_run(image):
    m = Machine(image, Recorder())
    assert m.call("ks_counter_bump").rax == 130
    assert m.call("ks_counter_bump").rax == 160  # .data is writable and keeps its value


def test_extable_fault_path_and_vmfailinvalid(image):
    m = Machine(image, Recorder(loaded=False))
    pa = _args(m, [0] * 6)
    assert m.call("ks_seamcall", (1, pa)).rax == 0x8000FF00FFFF0000
    m.lps[0].cpu = m.lps[0].cpu.with_(cpl=3)
    res = m.call("ks_seamcall", (1, pa))
    assert res.outcome == "returned" and res.rax == 0x8000FF000000000D


def test_tdcall_outside_a_td_is_ud_and_unhandled(image):
    m = Machine(image, Recorder())
    pa = _args(m, [0] * 6)
    res = m.call("ks_tdcall", (1, pa))
    assert res.outcome == "fault" and res.fault.name == "#UD"
    assert res.fault.symbol.startswith("ks_tdcall+")


@pytest.mark.gnu_as
def test_gnu_backend_agrees(image):
    gnu = assemble([HERE / "caller.S"], defines={"WANT_TDCALL": "1"}, backend="gnu")
    assert set(image.symbols) >= {n for n in gnu.symbols if not n.startswith(".L")}
    assert len(gnu.extable) == len(image.extable)
    m = Machine(gnu, Recorder())
    assert m.call("ks_counter_bump").rax == 130
