# SPDX-License-Identifier: MIT
"""Where in the code a violation comes from, read off an instruction trace of the run.

A finding is identified by its rule and this location, so the location must be a property of
the code path, not of the values: the instruction that last wrote the wrong register or
field, the store that left the allowed memory, the RET that went astray.

"Wrote" means changed the value, or named the register as its destination operand: a value
change alone would miss `popq %r14` popping the value R14 already had, and charge the
same bug to an earlier instruction whenever the values happen to line up.
"""

from __future__ import annotations

from seamemu.arch.registers import RFLAGS_DF
from seamemu.disasm import disassemble_one
from seamemu.fuzz.executor import FRAME_BYTES, Observation, Runner
from seamemu.fuzz.invariants import Violation
from seamemu.machine.regs import INDEX, RFLAGS

# Every name of each 64-bit GPR (AT&T, without the %), for reading destination operands.
_GPR_OF: dict[str, str] = {}
for _r, _names in {"rax": "eax ax al ah", "rbx": "ebx bx bl bh", "rcx": "ecx cx cl ch",
                   "rdx": "edx dx dl dh", "rsi": "esi si sil", "rdi": "edi di dil",
                   "rbp": "ebp bp bpl", "rsp": "esp sp spl"}.items():
    for _n in (_r, *_names.split()):
        _GPR_OF[_n] = _r
for _k in range(8, 16):
    for _sfx in ("", "d", "w", "b"):
        _GPR_OF[f"r{_k}{_sfx}"] = f"r{_k}"
# Mnemonic prefixes whose last AT&T operand is written (cmp, test, bt and push only read).
_WRITES_LAST = ("mov", "pop", "xor", "and", "or", "add", "sub", "adc", "sbb", "lea", "inc",
                "dec", "neg", "not", "shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr",
                "xchg", "cmov", "bswap", "imul", "set", "bts", "btr", "btc", "cmpxchg", "xadd")


def destinations(runner: Runner, address: int) -> frozenset[str]:
    """The 64-bit GPRs the instruction at `address` names as destinations (cached)."""
    cache = runner.destinations
    hit = cache.get(address)
    if hit is not None:
        return hit
    out: frozenset[str] = frozenset()
    section = runner.image.section_at(address)
    if section is not None:
        off = address - section.address
        insn = disassemble_one(section.data[off:off + 16], address)
        if insn.mnemonic.startswith(_WRITES_LAST):
            ops = [o.strip().lstrip("%") for o in insn.op_str.split(",")]
            named = ops if insn.mnemonic.startswith(("xchg", "xadd")) else ops[-1:]
            out = frozenset(_GPR_OF[o] for o in named if o in _GPR_OF)
    cache[address] = out
    return out


def last_writer(obs: Observation, index: int, upto: int | None = None, mask: int = -1,
                runner: Runner | None = None, name: str | None = None) -> int | None:
    """Address of the last traced instruction (before step `upto`) that changed register
    `index` (only the bits in `mask`) or, given the runner and the register's `name`, named
    it as its destination; None if there is none."""
    steps = obs.steps
    n = len(steps) if upto is None else upto
    final = [obs.res.regs_after[k] for k in INDEX] if upto is None else None
    named = runner is not None and name is not None
    for i in range(n - 1, -1, -1):
        after = steps[i + 1][1][index] if i + 1 < len(steps) else final[index] if final else None
        if after is None:
            continue
        if (after ^ steps[i][1][index]) & mask:
            return steps[i][0]
        if named and runner is not None and name in destinations(runner, steps[i][0]):
            return steps[i][0]
    return None


def last_store(obs: Observation, runner: Runner, address: int) -> int | None:
    """The in-code instruction that last stored to the byte at `address`."""
    for rip, a, size in reversed(obs.writes):
        if a <= address < a + size and runner.in_code(rip):
            return rip
    return None


def _flow(runner: Runner, address: int) -> tuple[str, int]:
    """("call" | "ret" | "", size) of the instruction at `address` (cached)."""
    hit = runner.flows.get(address)
    if hit is None:
        kind, size = "", 1
        section = runner.image.section_at(address)
        if section is not None:
            off = address - section.address
            insn = disassemble_one(section.data[off:off + 16], address)
            size = insn.size
            kind = "call" if insn.mnemonic.startswith("call") else \
                "ret" if insn.mnemonic.startswith("ret") else ""
        hit = runner.flows[address] = (kind, size)
    return hit


def _astray_return(obs: Observation, runner: Runner) -> int | None:
    """The first RET that went neither where a traced CALL returns nor back to the caller (a
    RET with no CALL open that the trace goes on after): where a function that did not
    return went astray, however far the code it jumped into ran before leaving."""
    open_calls: list[int] = []
    steps = obs.steps
    for i, (address, _regs) in enumerate(steps):
        kind, size = _flow(runner, address)
        if kind == "call":
            open_calls.append(address + size)
        elif kind == "ret":
            after = steps[i + 1][0] if i + 1 < len(steps) else None
            if open_calls:
                if after != open_calls.pop():
                    return address
            elif after is not None:
                return address
    return None


def _seamcall_step(obs: Observation) -> int | None:
    """The step of the call's instruction (SEAMCALL, or a TD's TDCALL)."""
    sites = {e.address for e in obs.res.seam_events if e.insn in ("seamcall", "tdcall")}
    for i, (address, _regs) in enumerate(obs.steps):
        if address in sites:
            return i
    return None


def _last_step(obs: Observation) -> int | None:
    return obs.steps[-1][0] if obs.steps else None


def locate(v: Violation, obs: Observation, runner: Runner) -> int | None:
    """The code address a violation is charged to; None drops it (not the stub's doing)."""
    rule, key = v.rule, v.key
    if rule in ("no-unhandled-fault",) or (rule == "memory-writes" and key == "outside"):
        return v.hint
    if rule == "callee-saved":
        return last_writer(obs, INDEX[key], runner=runner, name=key) or runner.entry_address
    if rule == "df-clear":
        return last_writer(obs, RFLAGS, mask=RFLAGS_DF) or _last_step(obs)
    if rule == "rsp-restored":
        return _last_step(obs)
    if rule == "returns":
        if key in ("instructions", "time") and obs.steps:
            # A loop: charge its lowest address among the last steps (stable across inputs).
            return min(a for a, _ in obs.steps[-64:])
        return _astray_return(obs, runner) or _last_step(obs)
    if rule in ("rax-status", "tdcall-failure-fatal"):
        return last_writer(obs, INDEX["rax"], runner=runner, name="rax") or _last_step(obs)
    if rule == "shared-cleared":   # whatever last left the module's value there
        return last_writer(obs, INDEX[key], runner=runner, name=key) or _last_step(obs)
    if rule == "module-inputs":
        at = _seamcall_step(obs)
        if key == "not-called" or at is None:
            return _last_step(obs)
        return last_writer(obs, INDEX[key], upto=at, runner=runner, name=key) or obs.steps[at][0]
    if rule == "output-struct":
        address = runner.struct_pa + 8 * runner.spec.struct_fields.index(key)
        return last_store(obs, runner, address) or _last_step(obs)
    if rule == "memory-writes":  # the caller's frame
        base = runner.stack_top - (len(obs.frame) - FRAME_BYTES)
        off = next(i for i, (a, b) in enumerate(zip(obs.frame, obs.frame_before)) if a != b)
        return last_store(obs, runner, base + off)
    if rule == "differential":
        return locate_diff(key, obs, runner)
    return v.hint


def locate_diff(key: str, obs: Observation, runner: Runner) -> int | None:
    """Where the stub under test produced the value two implementations disagree on."""
    what, _, name = key.partition(":")
    if what == "reg" and name == "rflags":  # only DF is compared
        return last_writer(obs, RFLAGS, mask=RFLAGS_DF) or _last_step(obs)
    if what == "reg" and name in INDEX:
        return last_writer(obs, INDEX[name], runner=runner, name=name) or _last_step(obs)
    if what == "received":
        at = _seamcall_step(obs)
        if at is None:
            return _last_step(obs)
        return last_writer(obs, INDEX[name], upto=at, runner=runner, name=name) or obs.steps[at][0]
    if what == "struct":
        address = runner.struct_pa + 8 * runner.spec.struct_fields.index(name)
        return last_store(obs, runner, address) or _last_step(obs)
    return _last_step(obs)


__all__ = ["destinations", "last_store", "last_writer", "locate", "locate_diff"]
