# SPDX-License-Identifier: MIT
"""Declarative leaf specs (inputs, outputs, ordered checks) and the registry of leaf handlers.

Every handler registers with `@leaf("TDH.SYS.INFO", inputs=..., outputs=..., checks=...)`; the
same `LeafSpec` drives the handler's statuses (a handler can only fail through a named check),
the call records, and `seamemu explain --leaf`.  Checks are listed in the order the module
runs them; a test drives each one to its status and checks the order against the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from seamemu.arch.leaves import ALL, leaf_by_name, seamldr_leaf_by_name, tdcall_leaf_by_name
from seamemu.arch.status import TdxStatus, status_name, tdx_status_info, with_operand
from seamemu.arch.status_tables import TABLE_FOR_ABI
from seamemu.errors import InputError
from seamemu.jsonout import hex64

_PLACEHOLDERS = {
    "tdmr": "(tdmr=i)",
    "pamt": "(tdmr=i, pamt=size)",
    "overlap": "(tdmr=i, pamt=size, other tdmr=j)",
    "rsvd": "(tdmr=i, rsvd=j)",
}


@dataclass(frozen=True)
class Check:
    """One rule of a leaf: when `text` holds, the leaf answers `status` (index bytes added
    at run time for TDMR/PAMT statuses)."""

    id: str
    text: str
    status: int
    abi: tuple[str, ...] = ALL
    group: str = ""            # the loop the rule sits in, e.g. "per TDMR"
    inject: bool = False       # an injected status with the same base fails the call here
    note: str = ""

    def status_text(self, loader: bool = False) -> str:
        """Status as the explain output shows it; index bytes filled in at run time appear
        as placeholders: "TDX_PAMT_OVERLAP(tdmr=i, pamt=size, other tdmr=j)"."""
        info = None if loader else tdx_status_info(self.status)
        if info is not None and info.detail in _PLACEHOLDERS:
            return info.name + _PLACEHOLDERS[info.detail]
        return status_name(self.status, loader=loader)


@dataclass(frozen=True)
class LeafSpec:
    name: str                               # "TDH.SYS.INFO" / "SEAMLDR.INSTALL"
    number: int                             # leaf number, or the whole RAX for the P-SEAMLDR
    generations: tuple[str, ...]
    summary: str
    inputs: tuple[tuple[str, str], ...] = ()    # (register, meaning)
    outputs: tuple[tuple[str, str], ...] = ()   # (register, meaning) on success
    on_entry: tuple[tuple[str, int], ...] = ()  # registers written before any check
    checks: tuple[Check, ...] = ()
    success: str = ""                       # side effects on success
    loader: bool = False
    source: str = ""
    # Statuses the real leaf returns on paths the model never takes (TD state it does not
    # model, interrupts): possible on hardware, so fault injection may use them.
    other_statuses: tuple[int, ...] = ()

    @cached_property
    def _checks_by_id(self) -> dict[str, Check]:
        # Every require() looks its check up; built once (the first check of an id wins).
        out: dict[str, Check] = {}
        for c in self.checks:
            out.setdefault(c.id, c)
        return out

    @cached_property
    def consumed(self) -> tuple[str, ...]:
        """The registers the leaf reads, for its call records: RAX, then its inputs."""
        return ("rax", *(reg for reg, _meaning in self.inputs))

    @cached_property
    def check_ids(self) -> frozenset[str]:
        return frozenset(self._checks_by_id)

    def check(self, check_id: str) -> Check:
        try:
            return self._checks_by_id[check_id]
        except KeyError:
            raise KeyError(f"{self.name} has no check {check_id!r}") from None

    def checks_for(self, abi: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if abi in c.abi)

    def possible_statuses(self, abi: str) -> tuple[int, ...]:
        """Every status this leaf can answer on a real module of generation `abi`: its checks,
        the statuses of paths the model does not take, success, and the dispatcher's own
        refusals (TDX_OPERAND_INVALID(RAX), TDX_SYS_NOT_READY, TDX_SYS_SHUTDOWN) where they
        apply.  Operand bytes are part of a status where the leaf fixes them."""
        if self.loader:
            out = [c.status for c in self.checks] + list(self.other_statuses) + [0]
            return tuple(dict.fromkeys(out))
        out = [0] + [c.status for c in self.checks_for(abi)] + list(self.other_statuses)
        info = leaf_by_name(self.name)
        if abi != "1.0":
            out.append(with_operand(TdxStatus.TDX_OPERAND_INVALID, "RAX"))
        if info is not None and not info.before_ready:
            out.append(TdxStatus.TDX_SYS_NOT_READY)
        if info is not None and not info.in_shutdown:
            out.append(TdxStatus.TDX_SYS_SHUTDOWN)
        return tuple(dict.fromkeys(out))

    def order_key(self, check_id: str) -> int:
        """Position used to check run order: checks of one loop share the loop's position."""
        ids = [c.id for c in self.checks]
        c = self.check(check_id)
        if c.group:
            return min(i for i, x in enumerate(self.checks) if x.group == c.group)
        return ids.index(check_id)

    def explain_lines(self) -> list[str]:
        """Human-readable description, in the module's check order."""
        head = hex64(self.number) if self.loader else str(self.number)
        kind = "TDCALL leaf" if self.name.startswith("TDG.") else "leaf"
        lines = [f"{self.name} ({kind} {head}; ABI {', '.join(self.generations)})",
                 f"  {self.summary}"]
        if self.source:
            lines.append(f"  Spec: {self.source}")
        info = None if self.loader else leaf_by_name(self.name)
        if info is not None:
            lines.append(f"  Dispatcher: admitted before SYS_READY: "
                         f"{'yes' if info.before_ready else 'no'}; in SYS_SHUTDOWN: "
                         f"{'yes' if info.in_shutdown else 'no'}")
        lines.append("  Inputs:" if self.inputs else "  Inputs: none")
        lines += [f"    {reg.upper():4} {meaning}" for reg, meaning in self.inputs]
        lines.append("  Outputs:" if self.outputs else "  Outputs: RAX only")
        lines += [f"    {reg.upper():4} {meaning}" for reg, meaning in self.outputs]
        if self.on_entry:
            lines.append("  Set before any check: " + ", ".join(
                f"{r.upper()}=0x{v:x}" for r, v in self.on_entry))
        lines.append("  Checks, in order:" if self.checks else "  Checks: none")
        group = ""
        for i, c in enumerate(self.checks, 1):
            if c.group and c.group != group:
                lines.append(f"    {c.group}:")
            group = c.group
            only = "" if set(c.abi) >= set(self.generations) else f" [{'/'.join(c.abi)} only]"
            inj = " [fault injection]" if c.inject else ""
            lines.append(f"    {i:2}. {c.text} -> {c.status_text(self.loader)}{only}{inj}")
        if self.other_statuses:
            lines.append("  Also returned on paths the model does not take: " + ", ".join(
                status_name(v, loader=self.loader) for v in self.other_statuses))
        if self.success:
            lines.append(f"  On success: {self.success}")
        for abi in self.generations:
            table = TABLE_FOR_ABI[abi]
            lines.append(f"  Can return (ABI {abi}; fault injection accepts only these): " +
                         ", ".join(status_name(v, loader=self.loader, table=table)
                                   for v in self.possible_statuses(abi)))
        return lines


Handler = Callable[..., None]


@dataclass
class _Registry:
    module: dict[int, tuple[LeafSpec, Handler]] = field(default_factory=dict)
    loader: dict[int, tuple[LeafSpec, Handler]] = field(default_factory=dict)
    guest: dict[int, tuple[LeafSpec, Handler]] = field(default_factory=dict)  # TDCALL leaves


REGISTRY = _Registry()


def operand_check(id: str, operand: str, text: str, **kw) -> Check:
    """A check that refuses a bad operand: TDX_OPERAND_INVALID with the operand's ID
    (api_error_with_operand_id: "RCX", "RDX", ...)."""
    return Check(id, text, with_operand(TdxStatus.TDX_OPERAND_INVALID, operand), **kw)


# TDH.SYS.INFO, TDH.SYS.RD and TDH.SYS.RDALL run only on an LP that ran TDH.SYS.LP.INIT.
LP_INIT_DONE = Check("lp_init", "this LP has not run TDH.SYS.LP.INIT",
                     TdxStatus.TDX_SYS_LP_INIT_NOT_DONE)


def global_lock_check(*, exclusive: bool = True, abi: tuple[str, ...] = ALL) -> Check:
    """The check a leaf that takes the module's global lock makes: a non-blocking try-lock
    (tdx_locks.h), so another LP holding it makes the leaf answer TDX_SYS_BUSY."""
    taken = ("another LP holds the global lock (taken exclusively)" if exclusive else
             "another LP holds the global lock exclusively (taken shared)")
    return Check("global_lock", taken, TdxStatus.TDX_SYS_BUSY, abi=abi, inject=True)


# Where Intel keeps each leaf's handler: one file per leaf, named after it (TDH.SYS.RD ->
# tdh_sys_rd.c).  A leaf spec names its file only when it is another one.
_MODULE_CALLS = "intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/"
_GUEST_CALLS = "intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/"
_SEAMLDR_CALLS = "intel/tdx-loader p-seam-loader/src/pseamldr_dispatcher/api_calls/"


def _handler_source(name: str, where: str) -> str:
    return f"{where}{name.lower().replace('.', '_')}.c"


def leaf(name: str, *, summary: str, inputs=(), outputs=(), on_entry=(), checks=(),
         success: str = "", source: str = "", generations: tuple[str, ...] | None = None,
         other_statuses: tuple[int, ...] = ()):
    """Register the decorated function as the handler of leaf `name` (spec spelling).

    The leaf number and ABI generations come from seamemu.arch.leaves; `generations` narrows
    them (e.g. a leaf the model serves only for 1.5).
    """
    info = leaf_by_name(name)
    ldr = None if info else seamldr_leaf_by_name(name)
    if ldr is None and info is None:
        raise KeyError(f"unknown leaf {name!r}")
    source = source or _handler_source(name, _SEAMLDR_CALLS if ldr else _MODULE_CALLS)
    spec = LeafSpec(
        name=name,
        number=info.number if info else ldr.rax if ldr else 0,
        generations=generations or (info.generations if info else ALL),
        summary=summary, inputs=tuple(inputs), outputs=tuple(outputs),
        on_entry=tuple(on_entry), checks=tuple(checks), success=success,
        loader=info is None, source=source, other_statuses=tuple(other_statuses),
    )

    def register(fn: Handler) -> Handler:
        table = REGISTRY.loader if spec.loader else REGISTRY.module
        table[spec.number] = (spec, fn)
        fn.spec = spec  # type: ignore[attr-defined]
        return fn

    return register


def tdg_leaf(name: str, *, summary: str, inputs=(), outputs=(), on_entry=(), checks=(),
             success: str = "", source: str = "", other_statuses: tuple[int, ...] = ()):
    """Register the decorated function as the guest-side handler of TDCALL leaf `name` (spec
    spelling, e.g. "TDG.VP.INFO"); the number comes from seamemu.arch.leaves.  The guest side
    is modelled for the 1.5 module only."""
    info = tdcall_leaf_by_name(name)
    if info is None:
        raise KeyError(f"unknown TDCALL leaf {name!r}")
    source = source or _handler_source(name, _GUEST_CALLS)
    spec = LeafSpec(name=info.name, number=info.number, generations=("1.5",), summary=summary,
                    inputs=tuple(inputs), outputs=tuple(outputs), on_entry=tuple(on_entry),
                    checks=tuple(checks), success=success, source=source,
                    other_statuses=tuple(other_statuses))

    def register(fn: Handler) -> Handler:
        REGISTRY.guest[spec.number] = (spec, fn)
        fn.spec = spec  # type: ignore[attr-defined]
        return fn

    return register


def tdg_handler_for(number: int):
    """(spec, handler) of a TDCALL leaf, or None when the model does not implement it."""
    from seamemu.model.guest import leaves as _guest  # noqa: F401  (registers the handlers)

    return REGISTRY.guest.get(number)


def guest_leaf_specs() -> tuple[LeafSpec, ...]:
    """Every modelled TDCALL leaf, by number."""
    from seamemu.model.guest import leaves as _guest  # noqa: F401

    return tuple(s for _n, (s, _f) in sorted(REGISTRY.guest.items()))


def handler_for(number: int, *, loader: bool = False, abi: str | None = None):
    """(spec, handler) for a leaf, or None when the model does not implement it."""
    entry = (REGISTRY.loader if loader else REGISTRY.module).get(number)
    if entry is None or (abi is not None and not loader and abi not in entry[0].generations):
        return None
    return entry


def leaf_spec(name_or_number: str | int) -> LeafSpec:
    """The spec of a modelled leaf, by spec name ("TDH.SYS.CONFIG", "TDG.VP.INFO"), C name or
    number (a number names a SEAMCALL leaf)."""
    from seamemu.model import leaves as _leaves  # noqa: F401  (registers the handlers)
    from seamemu.model.guest import leaves as _guest  # noqa: F401

    if isinstance(name_or_number, int):
        for table in (REGISTRY.module, REGISTRY.loader):
            if name_or_number in table:
                return table[name_or_number][0]
        raise InputError(f"leaf {name_or_number}: not modelled")
    key = name_or_number.strip().upper().replace("_", ".")
    for table in (REGISTRY.module, REGISTRY.loader, REGISTRY.guest):
        for spec, _fn in table.values():
            if spec.name == key:
                return spec
    raise InputError(f"leaf {name_or_number!r}: unknown or not modelled")


def all_leaf_specs() -> tuple[LeafSpec, ...]:
    """Every modelled leaf: module leaves by number, then P-SEAMLDR leaves."""
    from seamemu.model import leaves as _leaves  # noqa: F401

    return tuple(s for _n, (s, _f) in sorted(REGISTRY.module.items())) + tuple(
        s for _n, (s, _f) in sorted(REGISTRY.loader.items()))


__all__ = ["Check", "LP_INIT_DONE", "LeafSpec", "REGISTRY", "all_leaf_specs", "global_lock_check",
           "guest_leaf_specs", "handler_for", "leaf", "leaf_spec", "operand_check",
           "tdg_handler_for", "tdg_leaf"]
