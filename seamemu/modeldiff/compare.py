# SPDX-License-Identifier: MIT
"""The Python model checked against Intel's module: the same SEAMCALL sequences on both.

A sequence is a list of `Step`s (LP, leaf, input registers, guest buffers to place first),
run through the kernel-style stub (`__seamcall_ret`, struct tdx_module_args) on a fresh
module; a step's answer is its outcome, RAX and the six registers the stub writes back.  Two
sessions on the same platform, one with the model and one with --module-binary, answer every
sequence; a `Disagreement` names the first step where they differ and both answers.

`CATALOG` holds the hand-written sequences: lifecycle orders right and wrong, each admission
rule of the dispatcher, bad operands of every init leaf, TDMR configurations that break the
rules of tdh_sys_config.c, and the TDH.SYS.KEY.CONFIG / TDH.SYS.TDMR.INIT steps.  The TDMRs
are sized for the "small" preset (one 1 GiB TDMR at 0 with its PAMT at the top).
Spec: intel/tdx-module TDX_1.5.01 tdx_vmm_dispatcher.c and src/vmm_dispatcher/api_calls/
tdh_sys_*.c for what each sequence exercises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from seamemu.arch.leaves import leaf_by_name
from seamemu.arch.status import TdxStatus, with_operand
from seamemu.arch.sysinfo import pack_tdmr_info
from seamemu.jsonout import JsonRecord, hex64, hex_short, json_as, json_value, record_json
from seamemu.session import Session
from seamemu.session.result import rax_name

ENTRY = "__seamcall_ret"
OPERAND_INVALID_RAX = with_operand(TdxStatus.TDX_OPERAND_INVALID, "RAX")
OUT_REGS = ("rcx", "rdx", "r8", "r9", "r10", "r11")
GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True)
class Buf(JsonRecord):
    """A zeroed (or `data`) guest buffer placed before the step; its address + `offset` goes
    into the register.  With `entries`, each entry is placed first (512-byte aligned, as
    TDMR_INFO must be) and the buffer holds their addresses (the TDMR_INFO PA array)."""

    JSON_KEYS = (("buffer", "size"), "align", "offset", "data", "entries")

    size: int
    align: int
    data: bytes = b""
    offset: int = 0
    entries: tuple[bytes, ...] = ()

    def place(self, session: Session) -> int:
        data = self.data
        if self.entries:
            pas = [session.alloc(len(e), 512, e) for e in self.entries]
            data = b"".join(pa.to_bytes(8, "little") for pa in pas).ljust(self.size, b"\0")
        return session.alloc(self.size, self.align, data or None) + self.offset


def _step_regs_json(regs: Mapping[str, int | Buf]) -> dict:
    return {k: hex_short(v) if isinstance(v, int) else v.to_json() for k, v in regs.items()}


@dataclass(frozen=True)
class Step(JsonRecord):
    lp: int
    leaf: str | int                                  # spec name or RAX value
    regs: Mapping[str, int | Buf] = field(default_factory=dict,
                                          metadata=json_as(_step_regs_json))

    @property
    def rax(self) -> int:
        if isinstance(self.leaf, int):
            return self.leaf
        info = leaf_by_name(self.leaf)
        assert info is not None, self.leaf
        return info.number


@dataclass(frozen=True)
class Answer(JsonRecord):
    outcome: str
    rax: int
    out: tuple[int, ...]          # OUT_REGS as the stub wrote them back

    def describe(self) -> str:
        outs = " ".join(f"{r}=0x{v:x}" for r, v in zip(OUT_REGS, self.out) if v)
        return f"{self.outcome} {rax_name(self.rax)}{' ' + outs if outs else ''}"

    def to_json(self) -> dict:
        # The status by name, then each output register by its own name.
        return {"outcome": self.outcome, "rax": hex64(self.rax), "status": rax_name(self.rax),
                **{r: hex_short(v) for r, v in zip(OUT_REGS, self.out)}}


@dataclass(frozen=True)
class Disagreement(JsonRecord):
    sequence: str
    steps: tuple[Step, ...]
    index: int                    # the first step whose answers differ
    model: Answer
    real: Answer

    def to_json(self) -> dict:
        # The failing step's place, both answers, and the steps up to it as the reproducer.
        step = self.steps[self.index]
        return {"sequence": self.sequence, "step": self.index, "lp": step.lp,
                "leaf": step.leaf, "model": self.model.to_json(), "real": self.real.to_json(),
                "reproducer": json_value(self.steps[:self.index + 1])}


def run_sequence(session: Session, steps: Sequence[Step]) -> list[Answer]:
    """Every step on a freshly reset module, in order."""
    session.reset_module()
    answers = []
    for step in steps:
        regs: dict[str, int] = {}
        for name, value in step.regs.items():
            regs[name] = value.place(session) if isinstance(value, Buf) else value
        r = session.call(ENTRY, leaf=step.rax, inputs=regs, lp=step.lp)
        out = tuple((r.out or {}).get(name, 0) for name in OUT_REGS)
        answers.append(Answer(r.outcome, r.rax, out))
    return answers


def compare(model: Session, real: Session, name: str, steps: Sequence[Step]
            ) -> Disagreement | None:
    a, b = run_sequence(model, steps), run_sequence(real, steps)
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return Disagreement(name, tuple(steps), i, x, y)
    return None


# -- disagreements explained in docs/real-module.md ---------------------------------------------
# Global fields whose values a self-built module reports differently from the release the
# model describes: its build numbers.
EXPLAINED_FIELDS: dict[str, str] = {
    "BUILD_DATE": "a self-built binary reports its own build date",
    "BUILD_NUM": "a self-built binary reports build number 0 unless built with --build-num",
    "UPDATE_VERSION": "a self-built binary reports update version 0 unless built with "
                      "--update-version",
}


NOT_MODELLED = ("a leaf the model does not implement: it answers TDX_OPERAND_INVALID(RAX) "
                "once the dispatcher admits the leaf, Intel's module checks the operands")


def explained(step: Step, model: Answer, real: Answer) -> str | None:
    """Why the answers to `step` differ, when docs/real-module.md explains it; else None."""
    from seamemu.arch.leaves import RAX_LEAF_MASK, leaf_info
    from seamemu.arch.metadata import field_id_name
    from seamemu.model.leaf_spec import handler_for
    from seamemu.model.module import TdxModule  # noqa: F401  (registers the leaf handlers)

    rax = step.rax
    if (not rax >> 24 and leaf_info(rax & RAX_LEAF_MASK, "1.5") is not None
            and handler_for(rax & RAX_LEAF_MASK, abi="1.5") is None
            and model.rax == OPERAND_INVALID_RAX and model.outcome == real.outcome == "returned"):
        return NOT_MODELLED
    if step.leaf != "TDH.SYS.RD" or (model.outcome, model.rax) != (real.outcome, real.rax):
        return None
    rdx = step.regs.get("rdx", 0)
    name = field_id_name(rdx if isinstance(rdx, int) else 0)
    reason = EXPLAINED_FIELDS.get(name)
    if reason is None:
        return None
    # Only the value (R8) may differ; the next field ID (RDX) must not.
    same_but_r8 = all(a == b for r, a, b in zip(OUT_REGS, model.out, real.out) if r != "r8")
    return f"{name}: {reason}" if same_but_r8 else None


@dataclass(frozen=True)
class DiffReport(JsonRecord):
    runs: int
    seed: int
    disagreements: tuple[Disagreement, ...]      # not explained
    explained: tuple[tuple[Disagreement, str], ...]

    def to_json(self) -> dict:
        return record_json(self) | {
            "explained": [d.to_json() | {"reason": why} for d, why in self.explained]}


def compare_all(model: Session, real: Session, name: str, steps: Sequence[Step]
                ) -> tuple[Disagreement | None, list[tuple[Disagreement, str]]]:
    """Like `compare`, with documented differences set aside: (the first unexplained
    disagreement or None, the explained ones before it)."""
    a, b = run_sequence(model, steps), run_sequence(real, steps)
    seen: list[tuple[Disagreement, str]] = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            d = Disagreement(name, tuple(steps), i, x, y)
            why = explained(steps[i], x, y)
            if why is None:
                return d, seen
            seen.append((d, why))
    return None, seen


# -- the catalog -------------------------------------------------------------------------------
def _init(lps: int = 4) -> list[Step]:
    return [Step(0, "TDH.SYS.INIT")] + [Step(lp, "TDH.SYS.LP.INIT") for lp in range(lps)]


def tdmr(base: int = 0, size: int = GiB, *, pamt_4k: tuple[int, int] = (0x3FBFD000, 4 * MiB),
         pamt_2m: tuple[int, int] = (0x3FFFD000, 0x2000), pamt_1g: tuple[int, int] = (0x3FFFF000, 0x1000),
         reserved: Sequence[tuple[int, int]] = ((0, MiB), (0x3FBFD000, 0x403000))) -> bytes:
    """A TDMR_INFO entry, by default the kernel's for the small preset (PAMT at the top)."""
    return pack_tdmr_info(base, size, pamt_4k, pamt_2m, pamt_1g, tuple(reserved))


def config(*entries: bytes, count: int | None = None, keyid: int = 32, array_align: int = 512,
           lp: int = 0) -> Step:
    """TDH.SYS.CONFIG of these TDMR_INFO entries (each placed 512-aligned) with the global
    KeyID; the PA array itself is a Buf whose data the entries' addresses fill in."""
    array = Buf(512, array_align, entries=tuple(entries))
    return Step(lp, "TDH.SYS.CONFIG", {"rcx": array, "rdx": len(entries) if count is None
                                       else count, "r8": keyid})


def _info(size: int = 1024, n: int = 32, misalign_info: int = 0, misalign_cmr: int = 0) -> Step:
    return Step(0, "TDH.SYS.INFO", {"rcx": Buf(2048, 2048, offset=misalign_info), "rdx": size,
                                    "r8": Buf(1024, 1024, offset=misalign_cmr), "r9": n})


def _catalog() -> dict[str, list[Step]]:
    init = _init()
    cfg = init + [config(tdmr())]
    keys = cfg + [Step(0, "TDH.SYS.KEY.CONFIG"), Step(2, "TDH.SYS.KEY.CONFIG")]
    rd = "TDH.SYS.RD"
    return {
        # lifecycle orders
        "LP.INIT before SYS.INIT": [Step(0, "TDH.SYS.LP.INIT")],
        "SYS.INIT twice": [Step(0, "TDH.SYS.INIT"), Step(1, "TDH.SYS.INIT")],
        "LP.INIT twice": init + [Step(0, "TDH.SYS.LP.INIT")],
        "SYS.INFO before LP.INIT": [Step(0, "TDH.SYS.INIT"), _info()],
        "SYS.RD before SYS.INIT": [Step(0, rd, {"rdx": 0x9000000100000000})],
        "CONFIG before every LP.INIT": [Step(0, "TDH.SYS.INIT"), Step(0, "TDH.SYS.LP.INIT"),
                                        config(tdmr())],
        "KEY.CONFIG before CONFIG": init + [Step(0, "TDH.SYS.KEY.CONFIG")],
        "TDMR.INIT before READY": init + [Step(0, "TDH.SYS.TDMR.INIT", {"rcx": 0})],
        "CONFIG twice": cfg + [config(tdmr())],
        "LP.INIT after CONFIG": cfg + [Step(1, "TDH.SYS.LP.INIT")],
        "SYS.INIT after CONFIG": cfg + [Step(0, "TDH.SYS.INIT")],
        "KEY.CONFIG twice on a package": cfg + [Step(0, "TDH.SYS.KEY.CONFIG"),
                                                Step(1, "TDH.SYS.KEY.CONFIG")],
        "TDMR.INIT before every package's KEY.CONFIG": cfg + [
            Step(0, "TDH.SYS.KEY.CONFIG"), Step(0, "TDH.SYS.TDMR.INIT", {"rcx": 0})],
        "bring-up to READY, TDMR.INIT steps": keys + [
            Step(0, "TDH.SYS.TDMR.INIT", {"rcx": 0}), Step(3, "TDH.SYS.TDMR.INIT", {"rcx": 0}),
            Step(0, "TDH.SYS.TDMR.INIT", {"rcx": GiB}),
            Step(0, "TDH.SYS.TDMR.INIT", {"rcx": 0x1000}), Step(0, rd, {"rdx": 0x9000000100000000})],
        # TDH.SYS.UPDATE's state and handoff checks; the PHYMEM leaves against the PAMT
        "SYS.UPDATE on a fresh module": [Step(0, "TDH.SYS.UPDATE")],
        "SYS.UPDATE without handoff data": init + [Step(1, "TDH.SYS.UPDATE")],
        "PHYMEM before TDMR.INIT": keys + [Step(0, "TDH.PHYMEM.PAGE.RDMD", {"rcx": 0x200000})],
        "PHYMEM on the initialised TDMR": keys + [
            Step(0, "TDH.SYS.TDMR.INIT", {"rcx": 0}) for _ in range(256)] + [
            Step(0, "TDH.PHYMEM.PAGE.RDMD", {"rcx": 0x200000}),
            Step(1, "TDH.PHYMEM.PAGE.RDMD", {"rcx": 0x1000}),
            Step(0, "TDH.PHYMEM.PAGE.RDMD", {"rcx": 0x3FBFD000}),
            Step(0, "TDH.PHYMEM.PAGE.RDMD", {"rcx": 0x200800}),
            Step(0, "TDH.PHYMEM.PAGE.RDMD", {"rcx": GiB}),
            Step(0, "TDH.PHYMEM.PAGE.RECLAIM", {"rcx": 0x200000}),
            Step(0, "TDH.PHYMEM.PAGE.WBINVD", {"rcx": 0x200000}),
            Step(0, "TDH.PHYMEM.PAGE.WBINVD", {"rcx": 0x1000}),
            Step(0, "TDH.PHYMEM.CACHE.WB", {"rcx": 0}), Step(2, "TDH.PHYMEM.CACHE.WB", {"rcx": 1}),
            Step(0, "TDH.PHYMEM.CACHE.WB", {"rcx": 2}), Step(0, "TDH.SYS.UPDATE")],
        # the dispatcher's admission rules
        "a TD leaf before READY": [Step(0, "TDH.MNG.CREATE")],
        "an unknown leaf": [Step(0, 0x7F)],
        "leaf 0 (TDH.VP.ENTER)": [Step(0, 0)],
        "reserved RAX bits": [Step(0, 33 | 1 << 30)],
        "a version on an unversioned leaf": [Step(0, 33 | 1 << 16)],
        "TDH.SYS.SHUTDOWN before READY": [Step(0, 52)],
        "TDH.SYS.RDALL from field 0": init + [Step(0, "TDH.SYS.RDALL", {
            "rdx": Buf(4096, 4096), "r8": 0})],
        "TDH.SYS.RDALL to a misaligned list": init + [Step(0, "TDH.SYS.RDALL", {
            "rdx": Buf(4096, 4096, offset=0x800), "r8": 0})],
        "TDH.SYS.RDALL before READY is admitted": [Step(0, "TDH.SYS.INIT"),
                                                   Step(0, "TDH.SYS.RDALL", {"rdx": 0})],
        # operands
        "SYS.INIT with RCX set": [Step(0, "TDH.SYS.INIT", {"rcx": 1})],
        "SYS.INIT with RCX bit 63": [Step(0, "TDH.SYS.INIT", {"rcx": 1 << 63})],
        "SYS.INFO": init + [_info()],
        "SYS.INFO misaligned RCX": init + [_info(misalign_info=512)],
        "SYS.INFO small RDX": init + [_info(size=512)],
        "SYS.INFO misaligned R8": init + [_info(misalign_cmr=256)],
        "SYS.INFO small R9": init + [_info(n=31)],
        "SYS.INFO RCX in SEAMRR": init + [Step(0, "TDH.SYS.INFO", {
            "rcx": 0x44000000, "rdx": 1024, "r8": Buf(1024, 1024), "r9": 32})],
        "SYS.RD field 0": init + [Step(0, rd, {"rdx": 0})],
        "SYS.RD unknown field": init + [Step(0, rd, {"rdx": 0x1234})],
        "SYS.RD write-only class bits": init + [Step(0, rd, {"rdx": 0x9000000100000000 | 1 << 63})],
        "CONFIG RDX 0": init + [config(tdmr(), count=0)],
        "CONFIG RDX 65": init + [config(tdmr(), count=65)],
        "CONFIG KeyID 31 (MKTME)": init + [config(tdmr(), keyid=31)],
        "CONFIG KeyID 64 (past the TDX range)": init + [config(tdmr(), keyid=64)],
        "CONFIG misaligned PA array": init + [config(tdmr(), array_align=256)],
        # TDMR rules (tdh_sys_config.c)
        "TDMR base not 1 GiB aligned": init + [config(tdmr(base=0x1000))],
        "TDMR size 0": init + [config(tdmr(size=0, reserved=()))],
        "TDMR beyond the CMRs": init + [config(tdmr(size=2 * GiB, reserved=[(0x3FBFD000, 0x403000)]))],
        "PAMT_4K too small": init + [config(tdmr(pamt_4k=(0x3FBFD000, 0x1000)))],
        "PAMT outside every reserved area": init + [config(tdmr(reserved=[(0, MiB)]))],
        "reserved areas out of order": init + [config(tdmr(reserved=[(0x3FBFD000, 0x403000), (0, MiB)]))],
        "reserved area misaligned": init + [config(tdmr(reserved=[(0x800, MiB), (0x3FBFD000, 0x403000)]))],
        "PAMT_4K over PAMT_2M": init + [config(tdmr(pamt_4k=(0x3FBFD000, 4 * MiB + 0x1000)))],
        "two TDMRs overlapping": init + [config(tdmr(), tdmr())],
        "TDMRs out of order": init + [config(tdmr(base=GiB, size=GiB, reserved=()), tdmr())],
    }


CATALOG: dict[str, list[Step]] = _catalog()

__all__ = [
    "Answer",
    "Buf",
    "CATALOG",
    "DiffReport",
    "Disagreement",
    "ENTRY",
    "EXPLAINED_FIELDS",
    "GiB",
    "MiB",
    "OUT_REGS",
    "Step",
    "compare",
    "compare_all",
    "config",
    "explained",
    "run_sequence",
    "tdmr",
]
