# SPDX-License-Identifier: MIT
"""x86-64 facts the assembler checks: which instructions take LOCK and REP, which registers exist.

Spec: Intel SDM Vol. 2A §2.1.1 "Instruction Prefixes"; Vol. 2A "LOCK—Assert LOCK# Signal
Prefix" (the instructions below, and only in their forms whose destination is a memory
operand; anything else raises #UD); Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ—Repeat String
Operation Prefix" (string instructions; on others the behaviour is reserved); Vol. 2B
"XACQUIRE/XRELEASE" (LOCK-prefixed instructions and XCHG; XRELEASE also MOV to memory,
opcodes 88/89/C6/C7); Vol. 2B "MOV—Move" (#UD when the destination is CS), "MOV—Move
to/from Control Registers" (#UD for CR1, CR5-CR7 and, in 64-bit mode, CR9-CR15), "MOV—Move
to/from Debug Registers" (#UD for DR8-DR15, which REX.R would name); the immediate forms
of ENTER (imm16, imm8), RET (imm16), INT (imm8), IN/OUT (imm8), BT/BTS/BTR/BTC (imm8),
SHLD/SHRD and the shifts and rotates (imm8).
"""

from __future__ import annotations

# Lowercase mnemonic stems (no AT&T size suffix), sorted.
LOCKABLE: tuple[str, ...] = (
    "adc", "add", "and", "btc", "btr", "bts", "cmpxchg", "cmpxchg16b", "cmpxchg8b", "dec",
    "inc", "neg", "not", "or", "sbb", "sub", "xadd", "xchg", "xor",
)

# String instructions, the ones REP/REPE/REPNE repeat.  Sorted.
REP_STRING: tuple[str, ...] = ("cmps", "ins", "lods", "movs", "outs", "scas", "stos")

# XRELEASE without LOCK: MOV to memory (and XCHG, which locks itself).
XRELEASE_STORE: tuple[str, ...] = ("mov", "xchg")

# Registers a MOV can encode but a CPU refuses with #UD (the encodings exist; the registers
# do not).  Sorted.
UD_CONTROL_REGISTERS: tuple[str, ...] = (
    "cr1", "cr10", "cr11", "cr12", "cr13", "cr14", "cr15", "cr5", "cr6", "cr7", "cr9",
)
UD_DEBUG_REGISTERS: tuple[str, ...] = (
    "dr10", "dr11", "dr12", "dr13", "dr14", "dr15", "dr8", "dr9",
)

# Immediates used as they sit in their field (a count, a port, a bit offset, a frame size),
# not extended to the operand size: mnemonic stem -> field widths in bits, operand by operand.
FIELD_IMMEDIATES: dict[str, tuple[int, ...]] = {
    "bt": (8,), "btc": (8,), "btr": (8,), "bts": (8,), "enter": (16, 8), "in": (8,),
    "int": (8,), "lret": (16,), "out": (8,), "rcl": (8,), "rcr": (8,), "ret": (16,),
    "rol": (8,), "ror": (8,), "sal": (8,), "sar": (8,), "shl": (8,), "shld": (8,),
    "shr": (8,), "shrd": (8,),
}

__all__ = [
    "FIELD_IMMEDIATES",
    "LOCKABLE",
    "REP_STRING",
    "UD_CONTROL_REGISTERS",
    "UD_DEBUG_REGISTERS",
    "XRELEASE_STORE",
]
