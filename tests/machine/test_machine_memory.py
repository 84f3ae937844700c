# SPDX-License-Identifier: MIT
"""Shared physical memory: LPs, lazy backing, hotplug, GuestMemory, snapshots."""

from __future__ import annotations

import pytest
from machine_helpers import SEAMCALL, VMXOFF, StubTarget, build

from seamemu.errors import InputError
from seamemu.machine import CHUNK, Machine
from seamemu.traps import CpuState
from seamemu.traps.target import SeamReply

GiB = 1 << 30
FAR = 8 * GiB  # far from every fixed region: backed only on demand

RW = f"""
store:
    mov [rsi], rdi
    ret
load:
    mov rax, [rsi]
    ret
seam:
    mov rax, rdi
    {SEAMCALL}
    ret
off:
    {VMXOFF}
    ret
"""


def test_write_on_one_lp_is_seen_by_another():
    m = Machine(build(RW), StubTarget(), num_lps=2)
    buf = m.memory.alloc(8)
    assert m.call("store", [0x1122334455667788, buf], lp=0).outcome == "returned"
    assert m.call("load", [0, buf], lp=1).regs_after["rax"] == 0x1122334455667788


def test_cpu_state_is_per_lp():
    t = StubTarget()
    m = Machine(build(RW), t, num_lps=2)
    m.lps[1].cpu = CpuState(vmx_operation=False)
    assert m.call("seam", [1], lp=0).outcome == "returned"
    assert m.call("seam", [1], lp=1).fault.name == "#UD"
    assert [lp for lp, _ in t.calls] == [0]
    with pytest.raises(InputError):
        m.lps[0].cpu = "vmx"


def test_lazy_backing_maps_zeroed_chunks_on_guest_touch():
    m = Machine(build(RW), StubTarget())
    assert FAR not in m.memory.mapped_chunks
    r = m.call("load", [0, FAR + 0x10])
    assert r.outcome == "returned" and r.regs_after["rax"] == 0
    assert FAR in m.memory.mapped_chunks
    m.call("store", [0xABCD, FAR + 0x10])
    assert m.memory.read_u64(FAR + 0x10) == 0xABCD


def test_unplug_makes_memory_disappear_and_plug_brings_it_back_empty():
    m = Machine(build(RW), StubTarget())
    m.call("store", [0xABCD, FAR])
    m.memory.unplug(FAR, CHUNK)
    assert not m.memory.present(FAR, 8)
    r = m.call("load", [0, FAR])
    assert r.outcome == "fault" and "unplugged" in r.fault.detail
    with pytest.raises(InputError, match="not present"):
        m.memory.read(FAR, 8)
    m.memory.plug(FAR, CHUNK)
    assert m.memory.present(FAR, 8)
    assert m.call("load", [0, FAR]).regs_after["rax"] == 0


def test_unplug_rejects_unaligned_and_fixed_ranges():
    m = Machine(build(RW), StubTarget())
    with pytest.raises(InputError, match="2 MiB"):
        m.memory.unplug(FAR + 4096, CHUNK)
    with pytest.raises(InputError, match="image"):
        m.memory.unplug(m.image.sections[0].address & ~(CHUNK - 1), CHUNK)


def test_holes_in_the_present_map_stay_holes_inside_a_chunk():
    hole = (FAR + 0x1000, FAR + 0x2000)
    m = Machine(build(RW), StubTarget(),
                present=lambda pa, n: (pa >= 4096 and pa + n <= 64 * GiB
                                       and not (pa < hole[1] and hole[0] < pa + n)))
    assert m.call("load", [0, FAR]).outcome == "returned"
    assert m.call("load", [0, FAR + 0x1008]).outcome == "fault"
    assert m.call("load", [0, FAR + 0x2000]).outcome == "returned"


def test_model_writes_through_guest_memory_are_visible_to_the_guest():
    def answer(lp, regs, mem):
        mem.write(regs["rdx"], (0xFEEDFACE).to_bytes(8, "little"))
        return SeamReply({"rax": 0})
    text = f"f:\n    mov rax, rdi\n    {SEAMCALL}\n    mov rax, [rdx]\n    ret\n"
    m = Machine(build(text), StubTarget(answer=answer))
    r = m.call("f", [0], regs={"rdx": FAR + 0x40})
    assert r.regs_after["rax"] == 0xFEEDFACE


def test_alloc_and_reset_scratch():
    m = Machine(build(RW), StubTarget())
    a = m.memory.alloc(24, 64)
    b = m.memory.alloc(8)
    assert a % 64 == 0 and b >= a + 24
    m.memory.write(a, b"\xff" * 24)
    m.memory.reset_scratch()
    assert m.memory.alloc(24, 64) == a and m.memory.read(a, 24) == bytes(24)
    with pytest.raises(InputError, match="exhausted"):
        m.memory.alloc(1 << 40)


def test_snapshot_restore_rolls_back_cpu_and_memory():
    m = Machine(build(RW), StubTarget())
    buf = m.memory.alloc(8)
    m.call("store", [1, buf])
    m.call("store", [2, FAR])
    snap = m.snapshot()
    regs_at_snap = m.lps[0].regfile.read()
    m.call("store", [3, buf])
    m.call("store", [4, FAR])
    m.call("store", [5, FAR + 3 * CHUNK])        # a chunk first touched after the snapshot
    m.memory.write(FAR + 0x100, b"\x99" * 8)      # a model-side write
    extra = m.memory.alloc(16)
    m.call("off")                                # VMXOFF changes the LP's CpuState
    assert not m.lps[0].cpu.vmx_operation
    m.restore(snap)
    assert m.memory.read_u64(buf) == 1
    assert m.memory.read_u64(FAR) == 2
    assert m.memory.read_u64(FAR + 3 * CHUNK) == 0
    assert m.memory.read_u64(FAR + 0x100) == 0
    assert m.lps[0].cpu.vmx_operation
    assert m.lps[0].regfile.read() == regs_at_snap
    assert m.memory.alloc(16) == extra            # allocations after the snapshot are undone
    # A second round from the same snapshot behaves the same.
    m.call("store", [6, FAR])
    m.restore(snap)
    assert m.memory.read_u64(FAR) == 2


def test_cpu_only_restore_would_not_roll_memory_back():
    # Guard for the design: Unicorn's CPU context alone leaves memory changed.
    m = Machine(build(RW), StubTarget())
    buf = m.memory.alloc(8)
    ctx = m.lps[0].uc.context_save()
    m.call("store", [7, buf])
    m.lps[0].uc.context_restore(ctx)
    assert m.memory.read_u64(buf) == 7
