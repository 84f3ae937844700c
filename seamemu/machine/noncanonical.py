# SPDX-License-Identifier: MIT
"""What a non-canonical address faults as: #SS(0) or #GP(0), and at which instruction.

Two questions the linear map cannot answer from the address alone, answered from the
faulting instruction as the CPU decodes it (seamemu.disasm):

- A data access: #SS(0) when the memory reference goes through SS, else #GP(0).  SS is the
  segment of the stack operations (PUSH, POP, CALL, RET, ENTER, LEAVE, PUSHF, POPF, IRET)
  and the default segment of a memory operand whose base is RSP or RBP; a segment override
  names another.  An instruction with two references (`push (%rax)`) faults on the one whose
  address is the faulting one.
- A fetch: the CPU checks the target of a JMP, CALL or RET before it transfers, so the #GP(0)
  is reported at the branch, with RIP and RSP as they were before it (a fault undoes the
  instruction).  Unicorn transfers first and faults on the fetch; the machine watches the
  branches that can do it (`seamemu.disasm.branch_sites`) and `branch_origin` undoes the one
  that went there, after checking that it did.

Spec: Intel SDM Vol. 3A §6.15 "Interrupt 12—Stack Fault Exception (#SS)" (64-bit mode: a
non-canonical address in a reference that uses the SS segment) and "Interrupt 13—General
Protection Exception (#GP)"; Vol. 1 §3.7.4, Table 3-5 "Default Segment Selection Rules";
Vol. 2A/2B JMP, CALL, RET "64-Bit Mode Exceptions" (#GP(0) for a non-canonical target);
Vol. 3A §6.5 "Exception Classifications" (a fault restores the state before the instruction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from seamemu.disasm import Decoded, Operand
from seamemu.machine.regs import INDEX, RIP, RSP

MASK64 = (1 << 64) - 1
# Stack operations (AT&T mnemonics without their size suffix): their implicit references use SS.
IMPLICIT_STACK = frozenset({"call", "enter", "iret", "leave", "pop", "popf", "push", "pushf",
                            "ret"})
_SS_BASES = frozenset({"rsp", "esp", "rbp", "ebp"})
_SUFFIXES = ("q", "l", "w")
_R32 = {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi", "edi": "rdi",
        "ebp": "rbp", "esp": "rsp"}


def bare_mnemonic(mnemonic: str) -> str:
    """`retq` -> `ret`, `pushfq` -> `pushf`, `popcnt` stays: only a known word loses a suffix."""
    for s in _SUFFIXES:
        if mnemonic.endswith(s) and mnemonic[:-1] in IMPLICIT_STACK | {"jmp"}:
            return mnemonic[:-1]
    return mnemonic


def _reg(vals: Sequence[int], name: str) -> int:
    """A register's value by capstone's name (64-bit, or a 32-bit one zero-extended)."""
    if name in INDEX:
        return vals[INDEX[name]]
    wide = _R32.get(name) or (name[:-1] if name.startswith("r") and name.endswith("d") else "")
    return vals[INDEX[wide]] & 0xFFFF_FFFF if wide in INDEX else 0


def effective_address(op: Operand, vals: Sequence[int], next_rip: int) -> int:
    """The offset of a memory operand (its segment base not added: FS/GS are not SS)."""
    base = next_rip if op.base == "rip" else (_reg(vals, op.base) if op.base else 0)
    index = _reg(vals, op.index) * op.scale if op.index else 0
    return (base + index + op.disp) & MASK64


def stack_reference(insn: Decoded | None, vals: Sequence[int], address: int) -> bool:
    """Does the access of `address` by `insn` (at vals' RIP) go through SS?"""
    if insn is None:
        return False
    next_rip = vals[RIP] + insn.size
    for op in insn.operands:
        if op.kind != "mem":
            continue
        offset = (address - effective_address(op, vals, next_rip)) & MASK64
        if offset < max(op.size, 1):
            return (op.segment or ("ss" if op.base in _SS_BASES else "ds")) == "ss"
    return bare_mnemonic(insn.mnemonic) in IMPLICIT_STACK


def branch_origin(insn: Decoded | None, site: int, vals: Sequence[int], target: int,
                  read_u64: Callable[[int], int | None]) -> list[int] | None:
    """The registers before the branch at `site` (RIP = site, RSP as it was) when that branch,
    run from them, goes to `target`; None when it did not send RIP there."""
    if insn is None:
        return None
    name, rsp = bare_mnemonic(insn.mnemonic), vals[RSP]
    if name == "ret":
        pop = insn.operands[0].imm if insn.operands else 0
        before = (rsp - 8 - pop) & MASK64
        sent = read_u64(before)
    elif name in ("call", "jmp"):
        if name == "call":
            if read_u64(rsp) != (site + insn.size) & MASK64:
                return None
            before = (rsp + 8) & MASK64
        else:
            before = rsp
        sent = _operand_target(insn, site, vals, before, read_u64)
    else:
        return None
    if sent != target:
        return None
    out = list(vals)
    out[RSP], out[RIP] = before, site
    return out


def _operand_target(insn: Decoded, site: int, vals: Sequence[int], rsp: int,
                    read_u64: Callable[[int], int | None]) -> int | None:
    if not insn.operands:
        return None
    op = insn.operands[0]
    if op.kind == "imm":
        return op.imm & MASK64
    regs = list(vals)
    regs[RSP], regs[RIP] = rsp, site
    if op.kind == "reg":
        return _reg(regs, op.reg)
    return read_u64(effective_address(op, regs, site + insn.size))


__all__ = ["IMPLICIT_STACK", "bare_mnemonic", "branch_origin", "effective_address",
           "stack_reference"]
