# SPDX-License-Identifier: MIT
"""The spec tables seamemu ships as data (seamemu/data/tdx_module/*.txt): read into sections.

A table file is lines of whitespace-separated words under `[section]` headers; `#` starts a
comment.  Each file's header says what its columns mean and which source they come from; the
module that owns the facts turns the words into values.  Tables this long are data, not code:
a fact is one line, and a new module release is a new section.
"""

from __future__ import annotations

from importlib import resources


def read_sections(name: str) -> dict[str, list[list[str]]]:
    """{section: [words of each line]} of seamemu/data/tdx_module/`name`, in file order."""
    text = (resources.files("seamemu") / "data" / "tdx_module" / name).read_text()
    out: dict[str, list[list[str]]] = {}
    rows: list[list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            rows = out.setdefault(line[1:-1], [])
        elif rows is None:
            raise ValueError(f"{name}:{number}: a row before the first [section]")
        else:
            rows.append(line.split())
    return out


__all__ = ["read_sections"]
