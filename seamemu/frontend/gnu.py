# SPDX-License-Identifier: MIT
"""The GNU as backend: our C preprocessor, then `as --64`, then the object linker (objlink).

GNU as does macros, labels and relaxation itself; the sections are laid out with the same
policy as the keystone backend (link.place) and relocated by objlink, together with any
object files given.  The line map comes from the object's DWARF line table.  GNU as's own
`-g` attributes a macro's expansion to the line that invoked it; seamemu wants each
instruction on the line that wrote it, as the keystone backend does, so every source line
that may emit bytes is prefixed with `.loc FILE LINE` (GNU as manual, "Dwarf Directives").
Inside a `.macro` body the prefix becomes part of the body and is replayed with each
expansion, which gives the body line.  A `.loc` row is emitted at the next instruction, or
where the next `.loc` comes, so each line carries it twice: the first is flushed at the
line's own address, which places data lines (`.byte`, `.quad`) right too.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..errors import AsmError, AsmLimitError, EngineError
from ..image import Image
from .cpp import DEFAULT_INCLUDE_DIR, Line, Output, unterminated_comment, with_line_markers
from .limits import AS_CPU_SECONDS, AS_MEMORY, AS_OUTPUT
from .objfile import ObjectFile, parse_object
from .objlink import disk_text, place_objects, relocate

AS_TIMEOUT = 2.0 * AS_CPU_SECONDS   # wall time: the CPU bound is what normally stops it
_ERROR = re.compile(r"^(.*?):(\d+): Error: (.*)$", re.M)
_EOF_IN_COMMENT = re.compile(r"^(.*?): Warning: end of file in comment$", re.M)
_WARNING = re.compile(r"^(.*?:\d+): Warning: (.*)$", re.M)
# What GNU as says of the `.loc` lines seamemu adds (in a data section), not of the source.
_OWN_LOC = re.compile(r"dwarf line number information for .* ignored")
_RODATA = re.compile(r"^(\s*(?:[\w.$]+:\s*)*)\.rodata\s*$")
_LABELS = re.compile(r"^\s*(?:(?:[A-Za-z_.$][\w.$]*|\d+)\s*:(?!:)\s*)*")
# Directives that shape the source rather than emit bytes: a `.loc` in front of them would
# land inside a macro definition's delimiters or a conditional's.
_STRUCTURE = frozenset({
    ".altmacro", ".else", ".elseif", ".endif", ".endm", ".endr", ".exitm", ".if", ".ifb",
    ".ifc", ".ifdef", ".ifeq", ".ifeqs", ".ifge", ".ifgt", ".ifle", ".iflt", ".ifnb", ".ifnc",
    ".ifndef", ".ifne", ".ifnes", ".ifnotdef", ".irp", ".irpc", ".macro", ".noaltmacro",
    ".purgem", ".rept",
})


def gnu_as() -> str:
    """Path of GNU as, or EngineError saying how to get it."""
    path = shutil.which("as")
    if path is None:
        raise EngineError("the GNU assembler `as` is not on PATH: install binutils, "
                          "or use the keystone backend")
    return path


def _run_as(text: str, name: str, include_dirs: Sequence[Path]) -> tuple[ObjectFile, list[str]]:
    exe = gnu_as()
    # `.include` is GNU as's own: let it search beside the source, then the include dirs.
    search = [Path(name).parent, *include_dirs, DEFAULT_INCLUDE_DIR]
    with tempfile.TemporaryDirectory(prefix="seamemu-as-") as tmp:
        src = Path(tmp) / "input.s"
        obj = Path(tmp) / "output.o"
        src.write_text(text)
        args = [exe, "--64", "-L", *(f"-I{d}" for d in search), "-o", str(obj), str(src)]
        try:
            proc = subprocess.run(args, check=False, capture_output=True, text=True,
                                  timeout=AS_TIMEOUT, preexec_fn=_bound_as)
        except subprocess.TimeoutExpired:
            raise AsmLimitError(f"GNU as did not finish within {AS_TIMEOUT:g} s (a runaway "
                                ".rept or macro?; docs/limits.md)", name) from None
        bound = _bound_hit(proc.returncode, proc.stderr)
        if bound:
            raise AsmLimitError(f"GNU as stopped: {bound} (docs/limits.md)", name)
        m = _EOF_IN_COMMENT.search(proc.stderr)
        if m:
            # GNU as only warns when an `.include`d file ends inside `/*`; cpp (and seamemu's
            # keystone backend) call it an error, and the program after it would be lost.
            _comment_error(m.group(1))
        if proc.returncode != 0:
            m = _ERROR.search(proc.stderr)
            if m:
                raise AsmError(f"GNU as: {m.group(3)}", m.group(1), int(m.group(2)))
            raise AsmError(f"GNU as failed: {proc.stderr.strip() or proc.returncode}", name)
        said = [f"{m.group(1)}: {m.group(2)}" for m in _WARNING.finditer(proc.stderr)
                if not _OWN_LOC.fullmatch(m.group(2))]
        try:
            return parse_object(obj.read_bytes(), name, absolute=False), said
        except AsmError as exc:
            raise EngineError(f"cannot read GNU as output for {name}: {exc.reason}") from None


def _emits(text: str) -> bool:
    """May this line emit bytes (an instruction, data, a macro invocation)?"""
    body = _LABELS.sub("", text, count=1).strip()
    if not body or body.startswith(("#", "/", ";")):
        return False
    word = body.split(None, 1)[0].split(",", 1)[0].lower()
    return word not in _STRUCTURE


def _comment_error(path: str) -> NoReturn:
    try:
        line = unterminated_comment(Path(path).read_text(errors="replace"))
    except OSError:
        line = None
    raise AsmError("unterminated comment: this `/*` has no `*/` before the end of the file",
                   path, line)


def _bound_as() -> None:
    """In the child, before exec: GNU as gets seamemu's CPU, memory and output bounds."""
    import resource

    for which, value in ((resource.RLIMIT_CPU, AS_CPU_SECONDS), (resource.RLIMIT_AS, AS_MEMORY),
                         (resource.RLIMIT_FSIZE, AS_OUTPUT)):
        _soft, hard = resource.getrlimit(which)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (cap, hard))


def _bound_hit(returncode: int, stderr: str) -> str:
    """Which bound stopped GNU as, or "" when none did."""
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (f"it used more than {AS_CPU_SECONDS} s of CPU, the limit (a runaway .rept, "
                ".irp or macro?)")
    if returncode == -signal.SIGXFSZ or (returncode != 0 and re.search(
            r"file truncated|file too large", stderr, re.I)):
        return f"its object file passed {AS_OUTPUT >> 20} MiB, the limit (a huge .fill or .space?)"
    if returncode != 0 and re.search(r"out of memory|memory exhausted|cannot allocate", stderr, re.I):
        return f"it ran out of its {AS_MEMORY >> 20} MiB of memory, the limit (a huge .rept or .fill?)"
    return ""


def _source_text(out: Output) -> str:
    files: dict[str, int] = {}
    lines = []
    for ln in out.lines:
        # GNU as has no `.rodata` directive; the keystone backend accepts it, so map it.
        m = _RODATA.match(ln.text)
        text = f"{m.group(1)}.section .rodata" if m else ln.text
        if _emits(text):
            n = files.setdefault(ln.file, len(files) + 1)
            text = f".loc {n} {ln.line}; .loc {n} {ln.line}; {text}"
        lines.append(Line(text, ln.file, ln.line, ln.raw))
    header = "".join(f'.file {n} "{_quoted(f)}"\n' for f, n in files.items())
    return header + with_line_markers(lines)


def _quoted(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def assemble_gnu(outputs: Sequence[Output], names: Sequence[str],
                 include_dirs: Sequence[Path] = (), objects: Sequence[ObjectFile] = ()) -> Image:
    """Assemble preprocessed translation units with GNU as and link them (and `objects`)."""
    runs = [_run_as(_source_text(out), name, include_dirs) for out, name in zip(outputs, names)]
    assembled = [obj for obj, _ in runs]
    raw_text = {(ln.file, ln.line): ln.raw for out in outputs for ln in out.lines}
    placed = place_objects([*assembled, *objects])
    disk = disk_text()

    def text_of(file: str, line: int) -> str:
        text = raw_text.get((file, line))
        return text if text is not None else disk(file, line)
    image = relocate(placed, source_text=text_of)
    return dataclasses.replace(image, warnings=tuple(w for _, said in runs for w in said))


__all__ = ["AS_TIMEOUT", "assemble_gnu", "gnu_as"]
