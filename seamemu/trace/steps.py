# SPDX-License-Identifier: MIT
"""A trace as values: each executed instruction with what it changed, and why a trap decided.

`build_trace` turns the machine's raw steps (seamemu.machine.tracing) into `TraceStep`s:
address, symbol+offset, bytes and disassembly (SEAM family named by seamemu.disasm),
the registers and RFLAGS bits that changed, the memory the CPU stored, and for trapped
instructions the decision with the table row that made it, the exception path (exception
table entry, fixup, RAX = trap number) or the module call (leaf, decoded inputs/outputs,
checks run, memory the module wrote, decoded when the layout is known: seamemu.trace.decode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from seamemu.arch.kernel import EX_TYPE_FAULT, EX_TYPE_NAMES
from seamemu.disasm import disassemble_one
from seamemu.image import Image
from seamemu.jsonout import JsonRecord, hex64, hex_map, json_as
from seamemu.machine.regs import NAMES
from seamemu.machine.results import CallResult, FaultEvent, SeamEvent
from seamemu.machine.tracing import RawStep
from seamemu.trace.decode import decode_buffer
from seamemu.trace.provenance import leaf_spec_or_none, rule_row
from seamemu.traps.target import CallRecord, VmcallRecord

# RFLAGS bits a trace names.  Spec: Intel SDM Vol. 1 §3.4.3 (EFLAGS register).
FLAG_BITS: tuple[tuple[str, int], ...] = (
    ("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF", 10),
    ("OF", 11), ("NT", 14), ("RF", 16), ("AC", 18),
)
FLAG_BITS_BY_NAME: dict[str, int] = dict(FLAG_BITS)
# Registers reported as changes (RIP is implied by the next address, RFLAGS as flags).
REPORTED = tuple(n for n in NAMES if n not in ("rip", "rflags"))
_I_RIP, _I_RFLAGS = NAMES.index("rip"), NAMES.index("rflags")


@dataclass(frozen=True)
class RegChange:
    name: str
    old: int
    new: int


@dataclass(frozen=True)
class MemWrite(JsonRecord):
    """Bytes written at `address`, by the CPU (a store) or by the module (a leaf's output)."""

    JSON_KEYS = ("address", "size", "data", "by", "symbol", "note", "decoded")

    address: int = field(metadata=json_as(hex64))
    data: bytes
    by: str = "cpu"
    symbol: str = ""
    note: str = ""                      # e.g. "R8: PA of the CMR_INFO array"
    decoded: tuple[str, ...] = ()       # the bytes read as the structure the leaf wrote

    @property
    def size(self) -> int:
        return len(self.data)


def _regs_meant(regs: tuple[tuple[str, int, str], ...]) -> list[dict]:
    return [{"reg": r, "value": hex64(v), "meaning": m} for r, v, m in regs]


@dataclass(frozen=True)
class LeafNote(JsonRecord):
    """The module's side of a SEAMCALL that reached it."""

    JSON_KEYS = ("name", "number", "status", "status_name", "state_before", "state_after",
                 "inputs", "carried", "outputs", "checks", "failed_check", "note", "memory",
                 "vmcall")

    name: str
    number: int
    status: int = field(metadata=json_as(hex64))
    status_name: str
    state_before: str
    state_after: str
    inputs: tuple[tuple[str, int, str], ...] = field(   # (register, value, meaning)
        metadata=json_as(_regs_meant))
    outputs: tuple[tuple[str, int, str], ...] = field(metadata=json_as(_regs_meant))
    checks: tuple[tuple[str, str], ...] = field(        # (check id, its text) in the order run
        metadata=json_as(lambda checks: [c for c, _ in checks]))
    failed_check: str | None
    note: str
    memory: tuple[MemWrite, ...]
    carried: tuple[tuple[str, int], ...] = field(       # ABI registers at the SEAMCALL it did
        default=(),                                     # not read
        metadata=json_as(lambda regs: [{"reg": r, "value": hex64(v)} for r, v in regs]))
    vmcall: VmcallRecord | None = None           # TDG.VP.VMCALL: what the VMM did


@dataclass(frozen=True)
class TrapNote(JsonRecord):
    """A trapped instruction: the decision, the table row behind it, and its effect."""

    insn: str                       # "SEAMCALL", "TDCALL", "VMXON", ...
    kind: str                       # "#GP", "VMfailInvalid", "module", ...
    rule: str                       # "#GP(0): CPL 3 > 0"
    check: str                      # row id, e.g. "gp_cpl"
    sentence: str = ""
    source: str = ""
    effect: str = ""
    leaf: LeafNote | None = None


@dataclass(frozen=True)
class FaultNote(JsonRecord):
    """An exception raised by the step, and how it was delivered."""

    name: str
    vector: int
    error_code: int | None
    handled_by: str | None          # "extable", "idt" or None (unhandled)
    fixup: int | None = field(metadata=json_as(hex64))
    fixup_symbol: str
    extable_type: str               # "EX_TYPE_FAULT", ... or "" when no entry
    rax_set: int | None = field(metadata=json_as(hex64))  # RAX = trap number (EX_TYPE_FAULT)
    detail: str


@dataclass(frozen=True)
class TraceStep(JsonRecord):
    JSON_KEYS = ("index", "address", "symbol", "bytes", ("insn", "text"), "mnemonic", "source",
                 "regs", "flags", "writes", ("next", "next_address"), "traps", "faults")

    index: int
    lp: int
    address: int = field(metadata=json_as(hex64))
    symbol: str
    bytes: bytes
    mnemonic: str
    op_str: str
    source: str | None
    regs: tuple[RegChange, ...] = field(metadata=json_as(
        lambda changes: {c.name: {"old": hex64(c.old), "new": hex64(c.new)} for c in changes}))
    flags: tuple[tuple[str, int, int], ...] = field(    # (flag, old bit, new bit)
        metadata=json_as(lambda flags: {f: {"old": o, "new": n} for f, o, n in flags}))
    writes: tuple[MemWrite, ...]
    next_address: int = field(metadata=json_as(hex64))
    traps: tuple[TrapNote, ...] = ()
    faults: tuple[FaultNote, ...] = ()
    line_text: str = ""                         # the source line, as written

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".rstrip()

    @property
    def jumped(self) -> bool:
        """Execution did not fall through to the next instruction."""
        return self.next_address != self.address + len(self.bytes)


@dataclass(frozen=True)
class Trace(JsonRecord):
    JSON_KEYS = ("schema", "entry", "lp", "outcome", "truncated", "regs_before", "regs_after",
                 "steps")
    schema: ClassVar[int] = 1

    entry: str
    lp: int
    outcome: str
    steps: tuple[TraceStep, ...]
    regs_before: dict = field(compare=False, metadata=json_as(hex_map))
    regs_after: dict = field(compare=False, metadata=json_as(hex_map))
    truncated: bool = False


# -- building ---------------------------------------------------------------------------------
def build_trace(steps: tuple[RawStep, ...], image: Image, result: CallResult, *,
                entry: str = "", outcome: str | None = None, memory=None,
                truncated: bool = False) -> Trace:
    """The trace of one call from its raw steps; `memory` (read(pa, n)) fetches what the
    module wrote, so it must be read right after the call."""
    out = []
    for i, raw in enumerate(steps):
        insn = disassemble_one(raw.code, raw.address)
        line = image.line_at(raw.address)
        regs = tuple(RegChange(n, raw.before[NAMES.index(n)], raw.after[NAMES.index(n)])
                     for n in REPORTED if raw.before[NAMES.index(n)] != raw.after[NAMES.index(n)])
        fo, fn = raw.before[_I_RFLAGS], raw.after[_I_RFLAGS]
        flags = tuple((name, fo >> bit & 1, fn >> bit & 1) for name, bit in FLAG_BITS
                      if (fo ^ fn) >> bit & 1)
        writes = tuple(MemWrite(a, d, "cpu", image.symbolize(a)) for a, d in raw.writes)
        traps = tuple(_trap_note(e, raw, memory, image) for e in raw.seam_events)
        faults = tuple(_fault_note(f, image, raw) for f in raw.faults)
        out.append(TraceStep(
            index=i, lp=raw.lp, address=raw.address, symbol=image.symbolize(raw.address),
            bytes=insn.bytes, mnemonic=insn.mnemonic, op_str=insn.op_str,
            source=f"{line.file}:{line.line}" if line else None,
            regs=regs, flags=flags, writes=writes, next_address=raw.after[_I_RIP],
            traps=traps, faults=faults, line_text=line.text if line else ""))
    return Trace(entry=entry, lp=result.lp, outcome=outcome or result.outcome, steps=tuple(out),
                 regs_before=dict(result.regs_before), regs_after=dict(result.regs_after),
                 truncated=truncated)


def _effect_words(kind: str, insn: str = "seamcall") -> str:
    if kind == "VMfailInvalid":
        return "VMfailInvalid: CF=1, ZF=SF=OF=PF=AF=0, RAX unchanged, RIP += 4"
    if kind == "module" and insn == "tdcall":
        return ("the module resumes the TD: status in RAX, outputs in registers, RFLAGS as it "
                "was, RIP += 4")
    if kind == "halt":
        return "the run stops here: nothing comes back from this call"
    if kind in ("module", "pseamldr"):
        return "VMsucceed: the six arithmetic flags cleared, outputs in registers, RIP += 4"
    if kind == "vmexit":
        return "the run stops at the instruction (no VMM is modelled)"
    if kind == "VMsucceed":
        return "VMsucceed: the six arithmetic flags cleared"
    if kind == "VMfailValid":
        return "VMfailValid: ZF=1"
    if kind.startswith("#"):
        return f"{kind} is raised at the instruction; nothing else changes"
    return ""


def _trap_note(ev: SeamEvent, raw: RawStep, memory, image: Image) -> TrapNote:
    d = ev.decision
    row = rule_row(ev.insn, d.check)
    leaf = _leaf_note(ev.record, raw, memory, image) if ev.record is not None else None
    return TrapNote(insn=ev.insn.upper(), kind=d.kind, rule=d.rule, check=d.check,
                    sentence=row.sentence if row else "", source=row.source if row else "",
                    effect=_effect_words(d.kind, ev.insn.lower()), leaf=leaf)


def _leaf_note(rec: CallRecord, raw: RawStep, memory, image: Image) -> LeafNote:
    spec = leaf_spec_or_none(rec.leaf_name)
    in_meaning = dict(spec.inputs) if spec else {}
    out_meaning = dict(spec.outputs) if spec else {}
    read = rec.consumed_inputs
    ins = tuple((r, v, "leaf and version" if r == "rax" else in_meaning.get(r, ""))
                for r, v in read.items())
    carried = tuple((r, v) for r, v in rec.inputs.items() if r not in read)
    outs = tuple((r, v, out_meaning.get(r, "")) for r, v in rec.outputs.items())
    checks = tuple((c, _check_text(spec, c)) for c in rec.checks)
    failed = rec.checks[-1] if rec.checks and rec.status != 0 else None
    pointers = {v: r for r, v in read.items() if r != "rax"}
    mem = []
    # A leaf may write one buffer twice (TDH.SYS.INFO zeroes, then fills it): show it once.
    for pa, size in dict.fromkeys(rec.memory_written):
        data = b""
        if memory is not None:
            try:
                data = bytes(memory.read(pa, size))
            except Exception:
                data = b""
        reg = pointers.get(pa)
        note = f"{reg.upper()}: {in_meaning.get(reg, 'input')}" if reg else ""
        decoded = decode_buffer(rec.leaf_name, reg, data) if reg else ()
        mem.append(MemWrite(pa, data, "module", image.symbolize(pa), note, decoded))
    return LeafNote(name=rec.leaf_name, number=rec.leaf, status=rec.status,
                    status_name=rec.status_name, state_before=rec.state_before,
                    state_after=rec.state_after, inputs=ins, outputs=outs, checks=checks,
                    failed_check=failed, note=rec.note, memory=tuple(mem), carried=carried,
                    vmcall=rec.vmcall)


def _check_text(spec, check_id: str) -> str:
    if spec is None:
        return ""
    for c in spec.checks:
        if c.id == check_id:
            return c.text
    return ""


def _fault_note(f: FaultEvent, image: Image, raw: RawStep) -> FaultNote:
    entry = image.extable_entry(f.address) if f.handled_by == "extable" else None
    ex_type = EX_TYPE_NAMES.get(entry.type, f"type {entry.type}") if entry else ""
    rax_set = f.vector if entry is not None and entry.type == EX_TYPE_FAULT else None
    return FaultNote(name=f.name, vector=f.vector, error_code=f.error_code,
                     handled_by=f.handled_by, fixup=f.fixup,
                     fixup_symbol=image.symbolize(f.fixup) if f.fixup is not None else "",
                     extable_type=ex_type, rax_set=rax_set, detail=f.detail)


__all__ = [
    "FLAG_BITS",
    "FLAG_BITS_BY_NAME",
    "FaultNote",
    "LeafNote",
    "MemWrite",
    "RegChange",
    "Trace",
    "TraceStep",
    "TrapNote",
    "build_trace",
]
