# SPDX-License-Identifier: MIT
"""Reproducer files: everything a finding needs to run again, as versioned JSON ("schema": 1).

    {"schema": 1, "kind": "seamemu-fuzz-reproducer",
     "asm": [{"path": ..., "sha256": ...}], "sources": [{"path": ..., "sha256": ...}],
     "entry": ..., "include": [], "defines": {},
     "assembler": "keystone", "stubs": [], "convention": "args", "variant": "ret",
     "reference": null | {"asm": [...], "entry": ..., ...}      (differential mode)
     "leaf", "inputs", "caller_regs", "out_struct", "out_null", "cpu", "module_answer",
     "stack": {"align", "frame"}, "rflags"                        (the case, case.py)
     "finding": {"rule", "key", "location", "address", "source", "detail"},
     "found": {"mode", "seed", "worker", "run"}}

`asm` may hold ELF objects (`--obj`) beside the sources; `stubs` are the `--stub` symbols.
`sources` are the files the assembly #includes (a kernel-style stub keeps its code in an
included tdxcall.S), relative to the first asm file's directory when below it, so a replay can
tell that a fix went into one of them.  seamemu's own headers are left out.
Loading checks every field and raises ReplayError naming the first bad one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seamemu.errors import InputError, ReplayError
from seamemu.files import read_bytes, read_text
from seamemu.frontend import DEFAULT_INCLUDE_DIR
from seamemu.frontend.cpp import define_problem, preprocess_file
from seamemu.frontend.objfile import is_object_file
from seamemu.fuzz.case import Case, case_from_json, case_to_json
from seamemu.fuzz.promises import CONVENTIONS, Spec, make_spec
from seamemu.jsonout import JsonRecord, hex64, json_as

SCHEMA = 1
KIND = "seamemu-fuzz-reproducer"
ASSEMBLERS = ("keystone", "gnu")


def sha256_of(path: str | Path) -> str:
    """The digest of an assembly file (read bounded; InputError when it cannot be read)."""
    return hashlib.sha256(read_bytes(path, "", "assembly source")).hexdigest()


def _files_json(files: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"path": p, "sha256": s} for p, s in files]


@dataclass(frozen=True)
class Target(JsonRecord):
    """An entry point in a set of assembly files, and how to assemble them."""

    JSON_KEYS = ("asm", "sources", "entry", "include", "defines", "assembler", "stubs")

    asm: tuple[tuple[str, str], ...] = field(metadata=json_as(_files_json))  # (path, sha256)
    entry: str
    include: tuple[str, ...] = ()
    defines: tuple[tuple[str, str], ...] = field(default=(), metadata=json_as(dict))
    assembler: str = "keystone"
    sources: tuple[tuple[str, str], ...] = field(  # (path, sha256) of the files #included
        default=(), metadata=json_as(_files_json))
    stubs: tuple[str, ...] = ()               # symbols defined as functions that only return

    @classmethod
    def of(cls, paths, entry: str, include=(), defines: Mapping[str, str] | None = None,
           assembler: str = "keystone", stubs=()) -> Target:
        asm = tuple((str(Path(p).resolve()), sha256_of(p)) for p in paths)
        include = tuple(str(Path(d).resolve()) for d in include)
        defs = tuple(sorted((defines or {}).items()))
        return cls(asm, entry, include, defs, assembler,
                   _included(tuple(p for p, _ in asm), include, dict(defs)), tuple(stubs))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.asm)

    @property
    def digest(self) -> tuple:
        """What the assembled program depends on: equal digests, the same code."""
        return tuple(s for _, s in self.asm), self.sources

    def changed(self) -> tuple[str, ...]:
        """The asm and included files that differ from (or are missing since) the recording."""
        out = []
        for p, sha in self.asm:
            try:
                if sha256_of(p) != sha:
                    out.append(p)
            except InputError:
                out.append(p)
        root = Path(self.asm[0][0]).parent
        for rel, sha in self.sources:
            path = root / rel
            try:
                same = sha256_of(path) == sha
            except InputError:
                same = False
            if not same:
                out.append(str(path))
        return tuple(out)


def _included(paths: tuple[str, ...], include: tuple[str, ...],
              defines: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(path, sha256) of every file the asm files #include, but seamemu's own headers."""
    root = Path(paths[0]).parent
    own = Path(DEFAULT_INCLUDE_DIR).resolve()
    seen: dict[str, str] = {}
    for p in paths:
        if is_object_file(p):
            continue  # an object includes nothing: its own digest covers it
        for name, sha in preprocess_file(p, include, defines).files.items():
            f = Path(name).resolve()
            if str(f) in paths or f.is_relative_to(own):
                continue
            seen[str(f.relative_to(root)) if f.is_relative_to(root) else str(f)] = sha
    return tuple(sorted(seen.items()))


@dataclass(frozen=True)
class FindingRef(JsonRecord):
    """A rule broken at a code location: what a reproducer is expected to show, and what a
    replay finds."""

    rule: str
    key: str
    location: str      # "symbol+0xoff"
    address: int = field(metadata=json_as(hex64))
    source: str        # "file:line: text"
    detail: str


@dataclass(frozen=True)
class Reproducer:
    target: Target
    convention: str
    variant: str
    case: Case
    finding: FindingRef
    reference: Target | None = None
    found: Mapping[str, Any] = field(default_factory=dict)
    kernel: str = ""                 # the generation whose rules found it ("": raw)

    @property
    def spec(self) -> Spec:
        return make_spec(self.convention, self.variant if self.convention == "args" else None,
                         kernel=self.kernel or None)

    def to_json(self) -> dict:
        d: dict[str, Any] = {"schema": SCHEMA, "kind": KIND}
        d.update(self.target.to_json())
        d["convention"] = self.convention
        d["variant"] = self.variant
        d["kernel"] = self.kernel or None
        d["reference"] = None if self.reference is None else self.reference.to_json()
        d.update(case_to_json(self.case, self.spec))
        d["finding"] = self.finding.to_json()
        d["found"] = dict(self.found)
        return d

    def save(self, path: str | Path) -> Path:
        """Write atomically (a reader in another worker never sees half a file)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)
        return path


def load_reproducer(path: str | Path) -> Reproducer:
    """Read and check a reproducer file; ReplayError names what is wrong."""
    path = Path(path)
    try:
        text = read_text(path, "", "reproducer")
    except InputError as exc:
        reason = str(exc).removeprefix(f"{path}: ").removeprefix("cannot read: ")
        raise ReplayError(f"{path}: cannot read the reproducer: {reason}") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise ReplayError(f"{path}: JSON nested too deeply to be a reproducer") from None
    except ValueError as exc:   # e.g. an integer of more than 4,300 digits
        raise ReplayError(f"{path}: not a reproducer's JSON ({str(exc)[:80]})") from None
    try:
        return reproducer_from_json(d, base=path.parent)
    except ReplayError as exc:
        raise ReplayError(f"{path}: {exc}") from None


def reproducer_from_json(d: Any, base: Path | None = None) -> Reproducer:
    if not isinstance(d, dict):
        raise ReplayError("expected a JSON object")
    if d.get("kind") != KIND:
        raise ReplayError(f"kind is {d.get('kind')!r}, not {KIND!r}: not a seamemu fuzz reproducer")
    if d.get("schema") != SCHEMA:
        raise ReplayError(f"schema {d.get('schema')!r} is not supported (this seamemu reads schema {SCHEMA})")
    target = _target(d, "", base)
    conv = d.get("convention")
    if conv not in CONVENTIONS:
        raise ReplayError(f"convention {conv!r}: expected one of {', '.join(CONVENTIONS)}")
    variant = d.get("variant")
    if not isinstance(variant, str):
        raise ReplayError("variant: missing")
    kernel = d.get("kernel") or ""
    if not isinstance(kernel, str):
        raise ReplayError(f"kernel {kernel!r}: expected a generation name")
    try:
        spec = make_spec(conv, variant if conv == "args" else None, kernel=kernel or None)
    except InputError as exc:
        raise ReplayError(str(exc)) from None
    ref = d.get("reference")
    reference = None if ref is None else _target(ref, "reference.", base)
    case = case_from_json(d, spec, where="case")
    f = d.get("finding")
    if not isinstance(f, dict):
        raise ReplayError("finding: expected an object with rule and location")
    for k in ("rule", "key", "location", "address"):
        if not isinstance(f.get(k), str):
            raise ReplayError(f"finding.{k}: expected a string")
    try:
        address = int(f["address"], 16)
    except ValueError:
        raise ReplayError(f"finding.address: {f['address']!r} is not hex") from None
    finding = FindingRef(f["rule"], f["key"], f["location"], address, str(f.get("source", "")),
                         str(f.get("detail", "")))
    found = d.get("found")
    if not isinstance(found, dict):
        found = {}
    return Reproducer(target, conv, variant, case, finding, reference, found, spec.kernel)


def _target(d: Any, prefix: str, base: Path | None) -> Target:
    if not isinstance(d, dict):
        raise ReplayError(f"{prefix.rstrip('.') or 'reproducer'}: expected an object")
    asm = d.get("asm")
    if not isinstance(asm, list) or not asm:
        raise ReplayError(f"{prefix}asm: expected a list of {{path, sha256}} objects")
    refs = []
    for i, a in enumerate(asm):
        if not (isinstance(a, dict) and isinstance(a.get("path"), str)
                and isinstance(a.get("sha256"), str)):
            raise ReplayError(f"{prefix}asm[{i}]: expected {{\"path\": ..., \"sha256\": ...}}")
        refs.append((_find(a["path"], base, f"{prefix}asm[{i}]"), a["sha256"]))
    entry = d.get("entry")
    if not isinstance(entry, str) or not entry:
        raise ReplayError(f"{prefix}entry: expected a symbol name")
    include = d.get("include", [])
    defines = d.get("defines", {})
    if not isinstance(include, list) or not all(isinstance(x, str) for x in include):
        raise ReplayError(f"{prefix}include: expected a list of directories")
    if not isinstance(defines, dict) or not all(isinstance(v, str) for v in defines.values()):
        raise ReplayError(f"{prefix}defines: expected an object of strings")
    for name, value in defines.items():
        problem = define_problem(name, value)
        if problem:
            raise ReplayError(f"{prefix}defines: {problem}")
    assembler = d.get("assembler", "keystone")
    if assembler not in ASSEMBLERS:
        raise ReplayError(f"{prefix}assembler {assembler!r}: expected keystone or gnu")
    stubs = d.get("stubs", [])
    if not isinstance(stubs, list) or not all(isinstance(x, str) for x in stubs):
        raise ReplayError(f"{prefix}stubs: expected a list of symbol names")
    sources = d.get("sources", [])
    if not isinstance(sources, list):
        raise ReplayError(f"{prefix}sources: expected a list of {{path, sha256}} objects")
    for i, s in enumerate(sources):
        if not (isinstance(s, dict) and isinstance(s.get("path"), str)
                and isinstance(s.get("sha256"), str)):
            raise ReplayError(f"{prefix}sources[{i}]: expected {{\"path\": ..., \"sha256\": ...}}")
    return Target(tuple(refs), entry, tuple(include), tuple(sorted(defines.items())), assembler,
                  tuple((s["path"], s["sha256"]) for s in sources), tuple(stubs))


def _find(path: str, base: Path | None, where: str) -> str:
    """The file as recorded, else beside the reproducer (a findings dir copied elsewhere)."""
    p = Path(path)
    if p.is_file():
        return str(p)
    if base is not None:
        for cand in (base / p, base / p.name):
            if cand.is_file():
                return str(cand.resolve())
    raise ReplayError(f"{where}: assembly file {path} not found")


__all__ = [
    "FindingRef",
    "KIND",
    "Reproducer",
    "SCHEMA",
    "Target",
    "load_reproducer",
    "reproducer_from_json",
    "sha256_of",
]
