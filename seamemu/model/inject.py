# SPDX-License-Identifier: MIT
"""Deterministic fault injection: rules that make chosen SEAMCALLs fail, and their CLI syntax.

A rule selects calls (the Nth call overall; calls to a leaf; calls on an LP; only the first K
matches) and says what happens: a status, or an instruction fault (#GP, #UD, VMfailInvalid).
An injected status is applied where the leaf would naturally produce it (e.g.
TDX_KEY_GENERATION_FAILED at TDH.SYS.KEY.CONFIG's PCONFIG step, after its state checks); a
status the leaf returns on a path the model does not take replaces the whole call, with no side
effects.  A status the real leaf never returns (TDX_RND_NO_ENTROPY from TDH.SYS.KEY.CONFIG) is
refused with the list of those it can return, unless the rule says `,impossible`: then it
replaces the call and the record says it could not happen on real hardware.

Syntax (the CLI's --inject): rules separated by ';', each `<selectors>:<action>`:
    leaf=TDH.SYS.KEY.CONFIG,lp=2,count=1:status=TDX_KEY_GENERATION_FAILED
    call=3:fault=#GP
    leaf=33:status=0x8000020300000000;leaf=SEAMLDR.INSTALL:status=PSEAMLDR_ENOENTROPY
    leaf=TDH.SYS.KEY.CONFIG:status=TDX_RND_NO_ENTROPY,impossible
Selectors: call=N (1-based call sequence number), leaf=NAME|NUMBER, lp=N, count=K.  An
empty selector list matches every call.  Actions: status=NAME|NAME(OPERAND)|VALUE[,impossible],
fault=#GP|#UD|VMfailInvalid.  `,at=CHECK` picks which of the leaf's injectable checks
produces the status when several could (`seamemu explain --leaf` lists them): a 1.0 module's
TDH.SYS.INIT answers TDX_SYS_BUSY both for a held lock and for a failed RDRAND
(`leaf=TDH.SYS.INIT:status=TDX_SYS_BUSY,at=canary_rdrand`).  Status names are read in the
module's own table (a 1.0 module's TDX_TD_FATAL is 0xC000060400000000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from seamemu.arch.leaves import SEAMLDR_MODE_BIT, leaf_by_name, seamldr_leaf_by_name
from seamemu.arch.status import (
    OPERAND_BY_NAME,
    STATUS_BASE_MASK,
    STATUS_DETAILS_MASK,
    status_name,
    status_value,
    with_operand,
)
from seamemu.arch.status_tables import TABLE_FOR_ABI
from seamemu.errors import InputError
from seamemu.model.context import injection_matches
from seamemu.model.leaf_spec import LeafSpec, handler_for
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
    impossible: bool = False        # the user accepts a status the real leaf never returns
    at: str | None = None           # the check (spec id) where the status is to be produced

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
    def parse(cls, text: str, *, table: str = "M15") -> Injector:
        rules = [parse_rule(part, table=table) for part in text.split(";") if part.strip()]
        if not rules:
            raise InputError("fault injection: no rule given (e.g. 'call=3:fault=#GP')")
        return cls(rules)

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
        if not re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20}", value):
            raise ValueError(value)
        number = int(value, 0) if not re.fullmatch(r"0[0-9]+", value) else int(value, 10)
    except ValueError:
        raise _bad(text, fieldname, f"{value[:40]!r} is not a number") from None
    if number < minimum:
        raise _bad(text, fieldname, f"{number} is below {minimum}")
    if number >> 64:
        raise _bad(text, fieldname, f"{number} does not fit in 64 bits")
    return number


def _leaf(text: str, value: str) -> str | int:
    if re.fullmatch(r"(0[xX][0-9a-fA-F]+|[0-9]+)", value):
        return _int(text, "leaf", value, 0)
    info = leaf_by_name(value) or seamldr_leaf_by_name(value)
    if info is None:
        raise _bad(text, "leaf", f"unknown leaf {value!r} (use a spec name like TDH.SYS.INIT "
                                 "or a number)")
    return info.name


def parse_status(text: str, value: str, *, table: str = "M15") -> int:
    """A status by value (0x...), by name, or by name with an operand: TDX_OPERAND_BUSY(KET).
    Names are read in status table `table` ("M10" for a TDX 1.0 module)."""
    if re.fullmatch(r"(0[xX][0-9a-fA-F]+|[0-9]+)", value):
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
            base = status_value(name, loader=loader, table=table)
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


def parse_rule(text: str, *, table: str = "M15") -> InjectRule:
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
    action, *flags = (f.strip() for f in action.split(","))
    for flag in flags:
        name, eq, arg = flag.partition("=")
        if flag == "impossible":
            kw["impossible"] = True
        elif name == "at" and eq and arg:
            kw["at"] = arg
        else:
            raise _bad(raw, "action", f"unknown flag {flag!r} (expected ',impossible' or "
                                      "',at=CHECK')")
    key, sep, value = action.partition("=")
    key, value = key.strip().lower(), value.strip()
    if flags and key != "status":
        raise _bad(raw, "action", "',impossible' and ',at=' go with status=, not with a fault")
    if key == "status" and sep and value:
        kw["status"] = parse_status(raw, value, table=table)
    elif key == "fault" and sep and value:
        fault = _FAULTS.get(value.lower())
        if fault is None:
            raise _bad(raw, "fault", f"{value!r} (expected one of {', '.join(INJECTABLE_FAULTS)})")
        kw["fault"] = fault
    else:
        raise _bad(raw, key or "action", "expected status=<name|value> or fault=<#GP|#UD|"
                                         "VMfailInvalid>")
    return InjectRule(text=raw, **kw)  # type: ignore[arg-type]


def status_possible(status: int, possible: tuple[int, ...], *, loader: bool = False) -> bool:
    """Whether `status` is one of `possible`: loader statuses whole; module statuses by class
    and details L1, and by their operand/index bytes too when both sides have them."""
    if loader:
        return status in possible
    base, details = status & STATUS_BASE_MASK, status & STATUS_DETAILS_MASK
    return any((p & STATUS_BASE_MASK) == base and
               (not details or not p & STATUS_DETAILS_MASK or p == status) for p in possible)


def refusal(leaf_name: str, status_text: str, possible_names: list[str]) -> str:
    """The one-line message for a status the leaf never returns."""
    return (f"{leaf_name} never returns {status_text} on a real module; it can return: "
            f"{', '.join(possible_names)} (add ',impossible' to inject it anyway)")


def check_rule(rule: InjectRule, abi: str) -> None:
    """Refuse a rule that injects a status its leaf never returns (InputError listing those it
    can), unless the rule says `,impossible`.  Rules without a leaf are checked per call."""
    if rule.status is None or rule.leaf is None:
        return
    if isinstance(rule.leaf, int):
        entry = handler_for(rule.leaf, loader=bool(rule.leaf & SEAMLDR_MODE_BIT), abi=abi)
    else:
        info = leaf_by_name(rule.leaf)
        ldr = None if info else seamldr_leaf_by_name(rule.leaf)
        entry = handler_for(info.number, abi=abi) if info else \
            handler_for(ldr.rax, loader=True) if ldr else None
    if entry is None:
        if rule.at is not None:
            raise InputError(f"fault-injection rule {rule.text!r}: ',at={rule.at}' names a "
                             f"check, but the model does not implement {rule.leaf}")
        return                  # a leaf the model does not implement: no table to check against
    spec = entry[0]
    if rule.at is not None:
        points = [c for c in spec.checks_for(abi) if c.inject and
                  injection_matches(rule.status, c.status, loader=spec.loader)]
        if rule.at not in [c.id for c in points]:
            raise InputError(f"fault-injection rule {rule.text!r}: ',at={rule.at}': {spec.name} "
                             "has no injectable check of that name producing this status "
                             f"(those that do: {', '.join(c.id for c in points) or 'none'})")
    if not rule.impossible:
        impossible_status(spec, rule, abi)


def impossible_status(spec: LeafSpec, rule: InjectRule, abi: str) -> None:
    """InputError when `rule`'s status is not one `spec` can return on a real module."""
    assert rule.status is not None
    possible = spec.possible_statuses(abi)
    if status_possible(rule.status, possible, loader=spec.loader):
        return
    table = TABLE_FOR_ABI[abi]
    names = [status_name(v, loader=spec.loader, table=table) for v in possible]
    raise InputError(f"fault-injection rule {rule.text!r}: " + refusal(
        spec.name, status_name(rule.status, loader=spec.loader, table=table), names))


__all__ = ["InjectRule", "Injector", "check_rule", "impossible_status", "parse_rule", "parse_status",
           "refusal", "status_possible"]
