# SPDX-License-Identifier: MIT
"""Traces of the shipped stub, instruction by instruction, against the machine's own state.

An independent observer (its own UC_HOOK_CODE and UC_HOOK_MEM_WRITE, registers read one by one
with uc.reg_read) watches the same call the tracer records; every step of the trace must agree
with what the observer saw: addresses, register changes, RFLAGS bits, stores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

from seamemu.arch.kernel import EX_TYPE_FAULT, X86_TRAP_GP, X86_TRAP_UD
from seamemu.learn.traced import trace_call
from seamemu.machine.regs import UC_IDS
from seamemu.session import Session
from seamemu.stubs import DEFAULT_ENTRY
from seamemu.trace import FLAG_BITS_BY_NAME, Trace

TDH_SYS_INIT = 33
RDMSR_BYTES = bytes.fromhex("0f32")
OBSERVED = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15", "rflags")
STATES = {
    "returned": dict(vmx=True, seamrr=True, cpl=0, module=True),
    "VMfailInvalid": dict(vmx=True, seamrr=True, cpl=0, module=False),
    "#GP": dict(vmx=True, seamrr=True, cpl=3, module=True),
    "#UD": dict(vmx=False, seamrr=True, cpl=0, module=True),
}


@pytest.fixture(scope="module")
def session() -> Session:
    return Session(num_lps=1)


class Observer:
    """What the CPU did, seen without the tracer: state before each instruction, and stores."""

    def __init__(self, uc) -> None:
        self.uc = uc
        self.states: list[dict[str, int]] = []
        self.stores: list[list[tuple[int, bytes]]] = []
        self.handles = [uc.hook_add(UC_HOOK_CODE, self._code),
                        uc.hook_add(UC_HOOK_MEM_WRITE, self._write)]

    def _code(self, uc, address, size, user):
        state = {r: uc.reg_read(UC_IDS[r]) for r in OBSERVED}
        state["rip"] = address
        self.states.append(state)
        self.stores.append([])

    def _write(self, uc, access, address, size, value, user):
        self.stores[-1].append((address, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")))

    def close(self):
        for h in self.handles:
            self.uc.hook_del(h)


def traced(session: Session, state: dict):
    session.reset_module()
    session.set_state(lp=0, **state)
    obs = Observer(session.machine.lps[0].uc)
    try:
        run = trace_call(session, DEFAULT_ENTRY, leaf=TDH_SYS_INIT)
    finally:
        obs.close()
    return run, obs


def replay(trace: Trace, start: dict[str, int]) -> list[dict[str, int]]:
    """The register state before each step, rebuilt from the trace's own changes alone."""
    regs = dict(start)
    out = []
    for step in trace.steps:
        out.append(dict(regs, rip=step.address))
        for c in step.regs:
            assert regs[c.name] == c.old, f"step {step.index}: {c.name} old value"
            regs[c.name] = c.new
        for name, old, new in step.flags:
            bit = FLAG_BITS_BY_NAME[name]
            assert (regs["rflags"] >> bit) & 1 == old
            regs["rflags"] = regs["rflags"] & ~(1 << bit) | new << bit
    out.append(regs)
    return out


@pytest.mark.parametrize("outcome", list(STATES))
def test_every_step_matches_the_machine(session, outcome):
    run, obs = traced(session, STATES[outcome])
    trace = run.trace
    assert run.result.outcome == outcome == trace.outcome
    # The observer sees the same instructions, in the same order.
    assert [s.address for s in trace.steps] == [st["rip"] for st in obs.states]
    rebuilt = replay(trace, {k: v for k, v in obs.states[0].items() if k != "rip"})
    for i, seen in enumerate(obs.states):
        assert {k: rebuilt[i][k] for k in OBSERVED} == {k: seen[k] for k in OBSERVED}, \
            f"{outcome}: state before step {i} ({trace.steps[i].text})"
    final = run.result.regs
    assert {k: rebuilt[-1][k] for k in OBSERVED} == {k: final[k] for k in OBSERVED}
    # Each step's next address is where the observer found the CPU next.
    for step, nxt in zip(trace.steps, obs.states[1:]):
        assert step.next_address == nxt["rip"]
    # Stores: exactly what the CPU wrote, step by step.
    for step, stores in zip(trace.steps, obs.stores):
        assert [(w.address, w.data) for w in step.writes] == _merged(stores)


def _merged(stores):
    out = []
    for a, d in stores:
        if out and out[-1][0] + len(out[-1][1]) == a:
            out[-1] = (out[-1][0], out[-1][1] + d)
        else:
            out.append((a, d))
    return out


@pytest.mark.parametrize("outcome", list(STATES))
def test_the_seamcall_step_is_named_and_explained(session, outcome):
    run, _ = traced(session, STATES[outcome])
    seam = [s for s in run.trace.steps if s.traps]
    assert len(seam) == 1
    step = seam[0]
    assert step.mnemonic == "seamcall" and step.bytes == bytes.fromhex("660f01cf")
    note = step.traps[0]
    assert note.insn == "SEAMCALL"
    assert note.rule == run.result.rule
    assert note.sentence and note.source          # quoted from the rule table row
    kind = {"returned": "module"}.get(outcome, outcome)
    assert note.kind == kind


@pytest.mark.parametrize("outcome, trap", [("#GP", X86_TRAP_GP), ("#UD", X86_TRAP_UD)])
def test_the_exception_path_is_shown(session, outcome, trap):
    run, _ = traced(session, STATES[outcome])
    image = session.image
    step = next(s for s in run.trace.steps if s.traps)
    (fault,) = step.faults
    entry = image.extable_entry(step.address)
    assert entry is not None and entry.type == EX_TYPE_FAULT
    assert fault.handled_by == "extable" and fault.extable_type == "EX_TYPE_FAULT"
    assert fault.fixup == entry.fixup == step.next_address
    assert fault.rax_set == trap
    assert [c.new for c in step.regs if c.name == "rax"] == [trap]


def test_vmfailinvalid_sets_cf_and_takes_the_jump(session):
    run, _ = traced(session, STATES["VMfailInvalid"])
    steps = run.trace.steps
    i = next(i for i, s in enumerate(steps) if s.traps)
    assert ("CF", 0, 1) in steps[i].flags
    assert not steps[i].regs                        # RAX unchanged by the instruction
    assert steps[i + 1].mnemonic in ("jb", "jc") and steps[i + 1].jumped


def test_the_module_call_shows_the_leaf_and_what_it_wrote(session):
    session.reset_module()
    session.set_state(lp=0, **STATES["returned"])
    session.call(DEFAULT_ENTRY, leaf=TDH_SYS_INIT)
    session.call(DEFAULT_ENTRY, leaf=35)            # TDH.SYS.LP.INIT
    info, array = session.alloc(1024, 1024), session.alloc(512, 512)
    run = trace_call(session, DEFAULT_ENTRY, leaf=32,
                     inputs={"rcx": info, "rdx": 1024, "r8": array, "r9": 32})
    step = next(s for s in run.trace.steps if s.traps)
    leaf = step.traps[0].leaf
    assert leaf.name == "TDH.SYS.INFO" and leaf.status_name == "TDX_SUCCESS"
    assert {r: v for r, v, _ in leaf.inputs}["r8"] == array
    assert "CMR_INFO" in {r: m for r, _, m in leaf.inputs}["r8"]
    written = {w.address: w for w in leaf.memory}
    assert written[array].data == session.machine.memory.read(array, 512)
    assert "R8" in written[array].note
    cmr0 = session.platform.cmrs[0]
    assert int.from_bytes(written[array].data[8:16], "little") == cmr0.size
    assert leaf.checks and leaf.failed_check is None


def test_a_failing_check_is_named(session):
    session.reset_module()
    session.set_state(lp=0, **STATES["returned"])
    run = trace_call(session, DEFAULT_ENTRY, leaf=TDH_SYS_INIT, inputs={"rcx": 1})
    leaf = next(s for s in run.trace.steps if s.traps).traps[0].leaf
    assert leaf.failed_check == "rcx_reserved"
    assert leaf.status_name == "TDX_OPERAND_INVALID(RCX)"


ROOT = Path(__file__).resolve().parents[2]


def test_rdmsr_sites_show_rdmsr_not_the_ud2_the_machine_runs_and_match_the_machine():
    session = Session([ROOT / "asm" / "tdx_detect.S"], num_lps=1)
    out = session.alloc(48, 64)
    obs = Observer(session.machine.lps[0].uc)
    try:
        run = trace_call(session, "tdx_detect_lp", convention="raw", inputs={"rdi": out, "rsi": 0})
    finally:
        obs.close()
    trace = run.trace
    assert run.result.outcome == "no-seamcall"    # detection reads MSRs, it never SEAMCALLs
    reads = [s for s in trace.steps if s.traps and s.traps[0].insn == "RDMSR"]
    assert len(reads) >= 3                       # MTRRCAP, SEAMRR base and mask, KeyIDs
    patched = session.machine.lps[0].code_patches
    for step in reads:
        # The machine runs a patched instruction at the site; the trace shows the image's.
        assert session.machine.memory.peek(step.address, 2) != RDMSR_BYTES
        assert patched[step.address] == RDMSR_BYTES
        assert step.bytes == RDMSR_BYTES and step.mnemonic == "rdmsr"
        assert step.traps[0].rule.startswith("RDMSR ")
    assert "ud2" not in {s.mnemonic for s in trace.steps}
    # And the register state still agrees with the machine's at every step.
    assert [s.address for s in trace.steps] == [st["rip"] for st in obs.states]
    rebuilt = replay(trace, {k: v for k, v in obs.states[0].items() if k != "rip"})
    for i, seen in enumerate(obs.states):
        assert {k: rebuilt[i][k] for k in OBSERVED} == {k: seen[k] for k in OBSERVED}, \
            f"state before step {i} ({trace.steps[i].text})"
    # What RDMSR returned is what the CPU stored into the output struct.
    mtrrcap = int.from_bytes(session.machine.memory.read(out, 8), "little")
    assert reads[0].traps[0].rule.endswith(f"0x{mtrrcap:016x}")
