# SPDX-License-Identifier: MIT
"""Exception delivery as the kernel meets it: exception-table fixup, guest IDT, or an oops.

Unicorn ignores a guest IDT and reports #UD as an invalid instruction (unicorn-engine/unicorn
issues #406 and #1227: "you have to do it on your own"), so delivery is done here, in this order:

(0) The frame.  Linux gives #PF, #GP, #UD and #DE no IST stack, so the CPU pushes their frame
    on the current stack.  When the 16-byte-aligned RSP minus the frame is not mapped (the
    stack guard page, the NULL region, a non-canonical or absent address), the delivery
    itself faults: a double fault, which the kernel reports as "kernel stack overflow
    (double-fault)" (arch/x86/kernel/traps.c, exc_double_fault() and
    handle_stack_overflow()).  The run stops there, unhandled, whatever the exception table
    says.  Spec: SDM Vol. 3A §6.15 "Interrupt 8—Double Fault Exception".

(a) Exception table.  If the faulting instruction has an `__ex_table` entry, EX_TYPE_FAULT sets
    RAX = trap number and resumes at the fixup; other types resume at the fixup.  This takes
    precedence over the IDT because the kernel's own #GP/#UD/#PF/#DE handlers call
    fixup_exception() first (arch/x86/kernel/traps.c, arch/x86/mm/extable.c): with an entry,
    the end result of delivering through the kernel's IDT is exactly the fixup, whichever
    handler a test's IDT names.  #BP and software `int n` are never fixed up this way.
(b) Architectural.  If the guest loaded an IDT (LIDT) whose gate for the vector is a present
    64-bit interrupt (type 0xE) or trap (0xF) gate: align RSP down to 16, push SS, RSP, RFLAGS,
    CS, RIP and the error code (vectors 8, 10-14, 17, 21), clear TF/NT/RF (and IF for an
    interrupt gate), jump to the handler.  Spec: SDM Vol. 3A §6.14 "Exception and Interrupt
    Handling in 64-bit Mode".  Not modelled: IST stack switching, privilege-level stack
    switches via the TSS (CPL is a model value), loading CS from the gate (CS is kept).
(c) Neither: an unhandled fault, reported like an oops, and the run stops.
"""

from __future__ import annotations

from dataclasses import replace

from unicorn import x86_const as X

from seamemu.arch.kernel import EX_TYPE_FAULT, EX_TYPE_NAMES, TRAP_NAMES, X86_TRAP_BP
from seamemu.errors import InputError
from seamemu.image import Image
from seamemu.machine.linear import STACK_GUARD, LinearMap
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.regs import NAMES, RAX, RFLAGS, RIP, RSP
from seamemu.machine.results import FaultEvent

# Spec: SDM Vol. 3A Table 6-1 (exceptions and interrupts), mnemonics as the SDM writes them.
VECTOR_NAMES: dict[int, str] = {
    0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
    10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
    19: "#XM", 20: "#VE", 21: "#CP",
}
# Vectors that push an error code.  Spec: SDM Vol. 3A Table 6-1 "Error Code" column.
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17, 21})

# RFLAGS bits cleared on delivery.  Spec: SDM Vol. 3A §6.12.1.3.
_TF, _IF, _NT, _RF, _VM = 1 << 8, 1 << 9, 1 << 14, 1 << 16, 1 << 17
GATE_INTERRUPT, GATE_TRAP = 0xE, 0xF


def vector_name(vector: int) -> str:
    return TRAP_NAMES.get(vector) or VECTOR_NAMES.get(vector) or f"INT 0x{vector:02x}"


def pf_error_code(present: bool, write: bool, user: bool, fetch: bool) -> int:
    """#PF error code bits P, W/R, U/S, I/D.  Spec: SDM Vol. 3A §4.7."""
    return int(present) | int(write) << 1 | int(user) << 2 | int(fetch) << 4


def as_written(event: FaultEvent, patches: dict[int, bytes]) -> FaultEvent:
    """`event` with its code bytes as the image wrote them (patched sites restored)."""
    if not event.insn or not patches:
        return event
    data = bytearray(event.insn)
    base = event.address
    for site, original in patches.items():
        for i, b in enumerate(original):
            if 0 <= site + i - base < len(data):
                data[site + i - base] = b
    return replace(event, insn=bytes(data))


class Delivery:
    """Delivers one exception on one LP: extable, then IDT, else reports it unhandled."""

    def __init__(self, image: Image, memory: PhysicalMemory,
                 linear: LinearMap | None = None) -> None:
        self.image = image
        self.memory = memory
        self.linear = linear if linear is not None else LinearMap()
        self._extable = {e.fault: e for e in reversed(image.extable)}  # the first entry wins

    def deliver(self, uc, vals: list[int], vector: int, error_code: int | None, address: int,
                *, access: int | None = None, soft: bool = False, detail: str = "") -> FaultEvent:
        """Deliver `vector` raised at `address`; on success `vals` holds the new registers."""
        name = vector_name(vector)
        symbol = self.image.symbolize(address)
        unpushable = self._frame_problem(vals[RSP], 6 if error_code is not None else 5)
        if unpushable is not None:
            text = "; ".join(t for t in (detail, unpushable) if t)
            return FaultEvent(vector, name, error_code, address, symbol, None, None, access,
                              text, self.memory.peek(address, 16), dict(zip(NAMES, vals)))
        if not soft and vector != X86_TRAP_BP:
            entry = self.image.extable_entry(address)
            if entry is not None:
                if entry.type == EX_TYPE_FAULT:
                    vals[RAX] = vector
                vals[RIP] = entry.fixup
                kind = EX_TYPE_NAMES.get(entry.type, f"type {entry.type}")
                return FaultEvent(vector, name, error_code, address, symbol, "extable",
                                  entry.fixup, access, detail or f"fixed up by {kind}")
        gate, why = self._gate(uc, vector)
        if gate is not None:
            handler, gate_type = gate
            problem = self._push_frame(uc, vals, error_code, address, handler, gate_type)
            if problem is None:
                if access is not None and vector == 14:
                    uc.reg_write(X.UC_X86_REG_CR2, access)
                return FaultEvent(vector, name, error_code, address, symbol, "idt", handler,
                                  access, detail)
            why = problem
        text = "; ".join(t for t in (detail, why) if t)
        return FaultEvent(vector, name, error_code, address, symbol, None, None, access, text,
                          self.memory.peek(address, 16), dict(zip(NAMES, vals)))

    def fixup(self, vector: int, address: int, rsp: int, error_code: bool) -> tuple[int, bool] | None:
        """What `deliver` does with a hardware exception at `address` whose exception-table
        entry handles it and whose frame can be pushed below `rsp`: (the fixup, whether RAX
        becomes the vector), without the report; None when `deliver` must decide (no entry,
        a frame that cannot be pushed, #BP).  For a caller that keeps no report (a batch of
        calls, machine/batch.py)."""
        if vector == X86_TRAP_BP:
            return None
        entry = self._extable.get(address)
        if entry is None or self._frame_problem(rsp, 6 if error_code else 5) is not None:
            return None
        return entry.fixup, entry.type == EX_TYPE_FAULT

    def _frame_problem(self, rsp: int, words: int) -> str | None:
        """Why the CPU could not push a `words`-qword frame below `rsp`, or None."""
        sp = (rsp & ~0xF) - 8 * words
        if sp < 0:
            sp += 1 << 64
        refusal = self.linear.refusal(sp) or self.linear.refusal(((rsp & ~0xF) - 1) % (1 << 64))
        if refusal is None and self.memory.present(sp, 8 * words):
            return None
        where = f"below RSP 0x{rsp:016x}"
        if refusal == STACK_GUARD:
            where += " is the stack guard page"
        elif refusal is not None:
            where += f" is not mapped ({refusal})"
        else:
            where += " is not present memory"
        return (f"the CPU cannot push the exception frame ({where}): a double fault (#DF), "
                "'kernel stack overflow (double-fault)' in a kernel")

    def _gate(self, uc, vector: int) -> tuple[tuple[int, int] | None, str]:
        _sel, base, limit, _flags = uc.reg_read(X.UC_X86_REG_IDTR)
        if limit == 0 and base == 0:
            return None, "no exception-table entry and no IDT loaded"
        if vector * 16 + 15 > limit:
            return None, f"IDT limit 0x{limit:x} does not cover vector {vector}"
        try:
            desc = self.memory.read(base + vector * 16, 16)
        except InputError:
            return None, f"IDT at 0x{base:016x} is not in present memory"
        attr = desc[5]
        if not attr & 0x80:
            return None, f"IDT gate {vector} is not present"
        gate_type = attr & 0xF
        if gate_type not in (GATE_INTERRUPT, GATE_TRAP):
            return None, f"IDT gate {vector} has type 0x{gate_type:x}, not a 64-bit interrupt/trap gate"
        handler = (int.from_bytes(desc[0:2], "little") | int.from_bytes(desc[6:8], "little") << 16
                   | int.from_bytes(desc[8:12], "little") << 32)
        return (handler, gate_type), ""

    def _push_frame(self, uc, vals: list[int], error_code: int | None, address: int,
                    handler: int, gate_type: int) -> str | None:
        frame = [uc.reg_read(X.UC_X86_REG_SS), vals[RSP], vals[RFLAGS],
                 uc.reg_read(X.UC_X86_REG_CS), address]
        if error_code is not None:
            frame.append(error_code)
        # 64-bit mode aligns RSP to 16 bytes before pushing (SDM Vol. 3A §6.14.2).
        sp = (vals[RSP] & ~0xF) - 8 * len(frame)
        data = b"".join(v.to_bytes(8, "little") for v in reversed(frame))
        try:
            self.memory.write(sp, data)
        except InputError:
            return f"stack at 0x{sp:016x} is not present (a #DF on real hardware)"
        rflags = vals[RFLAGS] & ~(_TF | _NT | _RF | _VM)
        if gate_type == GATE_INTERRUPT:
            rflags &= ~_IF
        vals[RSP], vals[RFLAGS], vals[RIP] = sp, rflags, handler
        return None


__all__ = [
    "Delivery",
    "ERROR_CODE_VECTORS",
    "GATE_INTERRUPT",
    "GATE_TRAP",
    "VECTOR_NAMES",
    "as_written",
    "pf_error_code",
    "vector_name",
]
