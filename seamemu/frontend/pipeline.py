# SPDX-License-Identifier: MIT
"""assemble() and assemble_text(): kernel-style `.S` in, `Image` out, with a per-process cache.

Pipeline (keystone backend): C preprocessor -> GAS macro expansion -> items -> layout with
keystone in a worker process.  The GNU backend shares the preprocessor and the section layout
policy and lets GNU as do the rest.  Each input file is its own translation unit, as if
assembled separately and linked: local symbols stay in their file, globals are shared.

Inputs that are ELF objects (gcc -c, kbuild) are linked in (objfile, objlink): with GNU as,
together with the assembled units; with keystone, the objects are placed first, the sources
are laid out after them knowing the objects' symbols, and the objects are then relocated
knowing the sources' symbols, so references go both ways.  `stubs` are functions that only
return, for symbols a kernel object needs and seamemu has no use for (__x86_return_thunk).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import AsmError, AsmLimitError, AsmWarning, InputError, LimitError
from ..files import SOURCES_TOTAL_LIMIT, read_bytes, size_text
from ..image import Image
from .alternatives import ALT_SECTION
from .cpp import DEFAULT_INCLUDE_DIR, Output, Preprocessor, UnterminatedComment, logical_line
from .items import build_program
from .keystone_worker import shared_worker
from .layout import layout
from .link import PAGE
from .macros import Expander, Item
from .objfile import ObjectFile, is_object_file, parse_object
from .objlink import combine, place_objects, relocate
from .source import Loc

BACKENDS = ("keystone", "gnu")
STUBS_FILE = "<stubs>"
_SYMBOL = re.compile(r"[A-Za-z_.$][\w.$]*")
_CACHE_SIZE = 64
_cache: dict[tuple, tuple[dict[str, str], Image]] = {}
_cache_lock = threading.Lock()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _still_valid(deps: Mapping[str, str]) -> bool:
    for path, digest in deps.items():
        if path.startswith("<"):
            continue  # text given directly: part of the key already
        try:
            if _sha(Path(path).read_bytes()) != digest:
                return False
        except OSError:
            return False
    return True


def _include_reader(include_dirs: Sequence[Path], deps: dict[str, str]):
    total = 0

    def read(name: str, loc: Loc) -> list[Item]:
        nonlocal total
        for d in [Path(loc.file).parent, *include_dirs, DEFAULT_INCLUDE_DIR]:
            cand = d / name
            if cand.exists() and not cand.is_dir():
                break
        else:
            raise loc.error(f"`.include` file `{name}` not found")
        try:
            data = read_bytes(cand, "", "assembly source")
        except InputError as exc:
            raise loc.error(f"`.include` {exc}",
                            AsmLimitError if isinstance(exc, LimitError) else AsmError) from None
        total += len(data)
        if total > SOURCES_TOTAL_LIMIT:
            raise loc.error(f"`.include` files read reach {total:,} bytes, past the "
                            f"{size_text(SOURCES_TOTAL_LIMIT)} limit for one assembly "
                            "(docs/limits.md)", AsmLimitError)
        deps[str(cand)] = _sha(data)
        phys = data.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")
        items: list[Item] = []
        i = 0
        while i < len(phys):
            try:
                text, used = logical_line(phys, i)
            except UnterminatedComment as exc:
                raise AsmError(str(exc), str(cand), exc.index + 1) from None
            except AsmLimitError as exc:
                raise AsmLimitError(exc.reason, str(cand), i + 1) from None
            items.append((text, Loc(str(cand), i + 1, phys[i].strip())))
            i += used
        return items
    return read


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise AsmError(f"unknown assembler backend `{backend}` (choose from {', '.join(BACKENDS)})")


def _build(units: list[tuple[str, Output]], include_dirs: Sequence[Path], backend: str,
           deps: dict[str, str], objects: Sequence[ObjectFile] = ()) -> Image:
    names = [name for name, _ in units]
    reader = _include_reader(include_dirs, deps)
    if backend == "gnu":
        from .gnu import assemble_gnu
        _expansion_limits(units, reader)
        return assemble_gnu([out for _, out in units], names, include_dirs, objects)
    placed = place_objects(objects) if objects else None
    if not units:
        assert placed is not None
        return relocate(placed)
    files, envs = [], []
    for scope, (_, out) in enumerate(units):
        items = [(ln.text, Loc(ln.file, ln.line, ln.raw)) for ln in out.lines]
        expander = Expander(scope, reader)
        files.append(expander.run(items))
        envs.append(expander.env)
    program = build_program(files, names, envs)
    said = tuple(program.warnings)
    if placed is None:
        return _no_alternatives(dataclasses.replace(layout(program, shared_worker()),
                                                    warnings=said), names)
    base = (placed.end + PAGE - 1) // PAGE * PAGE
    sources = _no_alternatives(dataclasses.replace(
        layout(program, shared_worker(), externs=placed.defined, base=base), warnings=said), names)
    linked = relocate(placed, provided={n: sources.symbols[n] for n in sources.globals})
    return combine(linked, sources, (_names(o.name for o in objects), _names(names)))


def _no_alternatives(image: Image, names: Sequence[str]) -> Image:
    """The keystone backend keeps no relocations, so it cannot size struct alt_instr entries
    (frontend.alternatives): alternatives in its sources are refused, not run unpatched."""
    if any(s.name == ALT_SECTION for s in image.sections):
        raise AsmError(f"{ALT_SECTION} (the kernel's ALTERNATIVE macros) in a source assembled "
                       "with keystone: assemble it with --assembler gnu, or build the object "
                       "with gcc (--obj)", _names(names))
    return image


def _names(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{names[0]} (or another of {len(names)} files)"


def stub_source(stubs: Sequence[str]) -> str:
    """A translation unit defining each stub as a global function that returns at once.

    RET then INT3, as the kernel's own RET macro under CONFIG_MITIGATION_SLS.
    """
    out = ['.section .text.seamemu_stubs, "ax"']
    for name in stubs:
        if not _SYMBOL.fullmatch(name):
            raise InputError(f"--stub {name!r}: not a symbol name")
        out += [f".globl {name}", f".type {name}, @function", f"{name}:", "\tret", "\tint3"]
    return "\n".join(out) + "\n"


def _expansion_limits(units: list[tuple[str, Output]], reader) -> None:
    """Hold the GNU backend to the keystone backend's expansion limits (limits.py): our
    expander walks each file first and only a limit it hits stops the assembly; any other
    complaint it has is left for GNU as to judge, which then runs under its own bounds."""
    for scope, (_, out) in enumerate(units):
        items = [(ln.text, Loc(ln.file, ln.line, ln.raw)) for ln in out.lines]
        try:
            Expander(scope, reader).run(items)
        except AsmLimitError:
            raise
        except AsmError:
            pass


def _cached(key: tuple, make) -> Image:
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and _still_valid(hit[0]):
        return _warned(hit[1])
    deps, image = make()
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (deps, image)
    return _warned(image)


def _warned(image: Image) -> Image:
    """`image`, its assembler warnings issued (again for a cached image: each caller hears
    them), as AsmWarning through Python's warnings (the CLI prints them, pytest lists them)."""
    for text in image.warnings:
        warnings.warn(text, AsmWarning, stacklevel=4)
    return image


def assemble(paths: Sequence[str | Path], include_dirs: Sequence[str | Path] = (),
             defines: Mapping[str, str] | None = None, backend: str = "keystone",
             stubs: Sequence[str] = ()) -> Image:
    """Assemble `.S` files (each a translation unit) and link them with any ELF objects given.

    A path whose file starts with the ELF magic is an object (gcc -c, kbuild), the others are
    sources.  `include_dirs` are searched for `#include` after the including file's directory
    (for "x") and before seamemu's own headers; `defines` are `-D` macros; `stubs` name
    functions that only return (see stub_source).  AsmError names the file and line of any
    problem in the sources, the object file of any problem in an object.
    """
    _check_backend(backend)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise AsmError("no input files to assemble")
    for p in [*paths, *include_dirs]:
        if "\0" in str(p) or not str(p):
            raise AsmError(f"{str(p)!r}: not a file name (empty, or with a NUL byte)")
    dirs = [Path(d) for d in include_dirs]
    defs = dict(defines or {})
    stubs = tuple(stubs)
    key = ("files", backend, tuple(str(Path(p).resolve()) for p in paths),
           tuple(str(d) for d in dirs), tuple(sorted(defs.items())), stubs)

    def make() -> tuple[dict[str, str], Image]:
        units: list[tuple[str, Output]] = []
        objects: list[ObjectFile] = []
        deps: dict[str, str] = {}
        for p in paths:
            if is_object_file(p):
                data = read_bytes(p, "", "object file")
                deps[str(Path(p))] = _sha(data)
                objects.append(parse_object(data, str(p)))
                continue
            out = Preprocessor(dirs, defs).run_file(p)
            deps.update(out.files)
            units.append((str(p), out))
        if stubs:
            units.append((STUBS_FILE, Preprocessor(dirs, {}).run_text(stub_source(stubs),
                                                                     STUBS_FILE)))
        return deps, _build(units, dirs, backend, deps, objects)
    return _cached(key, make)


def assemble_text(text: str, filename: str = "<string>", include_dirs: Sequence[str | Path] = (),
                  defines: Mapping[str, str] | None = None, backend: str = "keystone") -> Image:
    """Assemble source text as if it were the file `filename` (see assemble())."""
    _check_backend(backend)
    dirs = [Path(d) for d in include_dirs]
    defs = dict(defines or {})
    key = ("text", backend, _sha(text.encode()), filename, tuple(str(d) for d in dirs),
           tuple(sorted(defs.items())))

    def make() -> tuple[dict[str, str], Image]:
        out = Preprocessor(dirs, defs).run_text(text, filename)
        deps = {k: v for k, v in out.files.items() if k != filename}
        return deps, _build([(filename, out)], dirs, backend, deps)
    return _cached(key, make)


def clear_cache() -> None:
    """Forget every assembled Image (the keystone encodings stay memoised)."""
    with _cache_lock:
        _cache.clear()


__all__ = ["BACKENDS", "DEFAULT_INCLUDE_DIR", "STUBS_FILE", "assemble", "assemble_text",
           "clear_cache", "stub_source"]
