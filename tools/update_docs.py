#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the shown output of every `$ seamemu ...` command in docs/tutorials/*.md and
docs/fuzzing.md, and the figures the tutorials show (docs/tutorials/figures/*.svg, as
`seamemu diagram` draws them).

The tutorials are runnable: tests/docs/test_tutorials.py runs each command and compares its
output with the text (tools/doccheck.py says how, placeholders included), and checks
that each figure is what the code draws today.

    python tools/update_docs.py          # rewrite the outputs and figures that changed
    python tools/update_docs.py --check  # exit 1 and name what changed

Outputs are written for the Python model without colour, whatever the shell exports
(tools/doccheck.py DOC_ENVIRONMENT: SEAMEMU_MODULE_BINARY is cleared while it runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:
    from seamemu.cli import main as seamemu_main
    from seamemu.learn.diagram import figure_texts
    from tools import doccheck
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    from seamemu.cli import main as seamemu_main
    from seamemu.learn.diagram import figure_texts
    from tools import doccheck

TUTORIALS = ROOT / "docs" / "tutorials"
FIGURES = TUTORIALS / "figures"     # drawn for the default platform, as `seamemu diagram`


def update_figures(check: bool) -> int:
    """Write (or, with `check`, only compare) the tutorials' figures; how many were stale."""
    stale = 0
    for name, text in figure_texts().items():
        path = FIGURES / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale += 1
        if check:
            print(f"{path.relative_to(ROOT)}: not what `seamemu diagram` draws today")
        else:
            FIGURES.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    parser.add_argument("files", nargs="*", type=Path,
                        help="default: docs/tutorials/*.md and docs/fuzzing.md")
    args = parser.parse_args(argv)
    with doccheck.documented_environment():     # the model, whatever the shell exported
        return _update(args)


def _update(args: argparse.Namespace) -> int:
    files = args.files or sorted(TUTORIALS.glob("*.md")) + [ROOT / "docs" / "fuzzing.md"]
    stale = 0 if args.files else update_figures(args.check)
    for path in files:
        with tempfile.TemporaryDirectory(prefix="seamemu-docs-") as tmp:
            cwd = doccheck.scratch(path, ROOT, Path(tmp))
            if args.check:
                for bad in doccheck.check(path, cwd, seamemu_main):
                    print(bad.describe())
                    stale += 1
            elif doccheck.refresh(path, cwd, seamemu_main):
                print(f"updated {path.relative_to(ROOT) if path.is_absolute() else path}")
    if args.check and stale:
        print(f"{stale} command output(s) or figure(s) out of date: run python tools/update_docs.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
