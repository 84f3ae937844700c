# SPDX-License-Identifier: MIT
"""Deterministic fault injection: rules that make chosen SEAMCALLs fail, and their CLI syntax.

A rule selects calls (the Nth call overall; calls to a leaf; calls on an LP; only the first K
matches) and says what happens: a status, or an instruction fault (#GP, #UD, VMfailInvalid).
An injected status is applied where the leaf would naturally produce it (e.g.
TDX_KEY_GENERATION_FAILED at TDH.SYS.KEY.CONFIG's PCONFIG step, after its state checks); a
status the leaf has no place for replaces the whole call, with no side effects.

Syntax (the CLI's --inject): rules separated by ';', each `<selectors>:<action>`:
    leaf=TDH.SYS.KEY.CONFIG,lp=2,count=1:status=TDX_KEY_GENERATION_FAILED
    call=3:fault=#GP
    leaf=33:status=0x8000020300000000;leaf=SEAMLDR.INSTALL:status=PSEAMLDR_ENOENTROPY
Selectors: call=N (1-based call sequence number), leaf=NAME|NUMBER, lp=N, count=K.  An
empty selector list matches every call.  Actions: status=NAME|NAME(OPERAND)|VALUE,
fault=#GP|#UD|VMfailInvalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from seamemu.arch.leaves import leaf_by_name, seamldr_leaf_by_name
from seamemu.arch.status import OPERAND_BY_NAME, status_value, with_operand
from seamemu.errors import InputError
from seamemu.traps.target import INJECTABLE_FAULTS

_FAULTS = {f.lower(): f for f in INJECTABLE_FAULTS} | {"gp": "#GP", "ud": "#UD"}
_SELECTORS = ("call", "count", "leaf", "lp")


@dataclass(frozen=True)
class InjectRule:
    """One rule; `leaf` is a spec name (upper case) or a number (module leaf or full RAX)."""

    call: int | None = None
    leaf: str | int | None = None
    lp: int | None = None
    count: int | None = None
    status: int | None = None
    fault: str | None = None
    text: str = ""

    def selects(self, seq: int, lp: int, leaf_number: int, leaf_name: str) -> bool:
        if self.call is not None and self.call != seq:
            return False
        if self.lp is not None and self.lp != lp:
            return False
        if isinstance(self.leaf, int) and self.leaf != leaf_number:
            return False
        return not (isinstance(self.leaf, str) and self.leaf != leaf_name)


@dataclass
class Injector:
    """Rules plus how often each has fired; the first rule that selects a call wins."""

    rules: list[InjectRule] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    fired: list[tuple[int, str]] = field(default_factory=list)   # (seq, rule text)

    def __post_init__(self) -> None:
        self.hits = [0] * len(self.rules)

    @classmethod
    def parse(cls, text: str) -> Injector:
        return cls([parse_rule(part) for part in text.split(";") if part.strip()])

    def match(self, seq: int, lp: int, leaf_number: int, leaf_name: str) -> InjectRule | None:
        for i, rule in enumerate(self.rules):
            if not rule.selects(seq, lp, leaf_number, leaf_name):
                continue
            if rule.count is not None and self.hits[i] >= rule.count:
                continue
            self.hits[i] += 1
            self.fired.append((seq, rule.text))
            return rule
        return None


def _bad(text: str, fieldname: str, why: str) -> InputError:
    return InputError(f"fault-injection rule {text!r}: field {fieldname!r}: {why}")


def _int(text: str, fieldname: str, value: str, minimum: int) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise _bad(text, fieldname, f"{value!r} is not a number") from None
    if number < minimum:
        raise _bad(text, fieldname, f"{number} is below {minimum}")
    return number


def _leaf(text: str, value: str) -> str | int:
    if re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)", value):
        return _int(text, "leaf", value, 0)
    info = leaf_by_name(value)
    ldr = None if info else seamldr_leaf_by_name(value)
    if info is None and ldr is None:
        raise _bad(text, "leaf", f"unknown leaf {value!r} (use a spec name like TDH.SYS.INIT "
                                 "or a number)")
    return info.name if info else ldr.name


def parse_status(text: str, value: str) -> int:
    """A status by value (0x...), by name, or by name with an operand: TDX_OPERAND_BUSY(KET)."""
    if re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)", value):
        number = _int(text, "status", value, 0)
        if number >= 1 << 64:
            raise _bad(text, "status", f"{value} does not fit in 64 bits")
        return number
    m = re.fullmatch(r"([A-Za-z0-9_]+)(?:\(([A-Za-z0-9_]+)\))?", value)
    if not m:
        raise _bad(text, "status", f"{value!r} is not a status name or value")
    name, operand = m.group(1).upper(), m.group(2)
    for loader in (False, True):
        try:
            base = status_value(name, loader=loader)
        except KeyError:
            continue
        if operand is None:
            return base
        op = operand.upper()
        if op.isdigit():
            return with_operand(base, int(op))
        if op not in OPERAND_BY_NAME:
            raise _bad(text, "status", f"unknown operand {operand!r}")
        return with_operand(base, op)
    raise _bad(text, "status", f"unknown status {name!r}")


def parse_rule(text: str) -> InjectRule:
    """One `<selectors>:<action>` rule; InputError names the field that is wrong."""
    raw = text.strip()
    if raw.count(":") != 1:
        raise _bad(raw, "rule", "expected '<selectors>:<action>', e.g. call=3:fault=#GP")
    sel_text, action = (s.strip() for s in raw.split(":"))
    kw: dict[str, object] = {}
    for item in filter(None, (s.strip() for s in sel_text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise _bad(raw, key or item, "expected name=value")
        if key not in _SELECTORS:
            raise _bad(raw, key, f"unknown selector (expected one of {', '.join(_SELECTORS)})")
        if key in kw:
            raise _bad(raw, key, "given twice")
        if key == "leaf":
            kw[key] = _leaf(raw, value)
        else:
            kw[key] = _int(raw, key, value, 0 if key == "lp" else 1)
    key, sep, value = action.partition("=")
    key, value = key.strip().lower(), value.strip()
    if key == "status" and sep and value:
        kw["status"] = parse_status(raw, value)
    elif key == "fault" and sep and value:
        fault = _FAULTS.get(value.lower())
        if fault is None:
            raise _bad(raw, "fault", f"{value!r} (expected one of {', '.join(INJECTABLE_FAULTS)})")
        kw["fault"] = fault
    else:
        raise _bad(raw, key or "action", "expected status=<name|value> or fault=<#GP|#UD|"
                                         "VMfailInvalid>")
    return InjectRule(text=raw, **kw)  # type: ignore[arg-type]


__all__ = ["InjectRule", "Injector", "parse_rule", "parse_status"]
