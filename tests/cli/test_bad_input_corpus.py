# SPDX-License-Identifier: MIT
"""Every command answers bad input with its exit status and a short error, in bounded time and
memory: the corpus of tests/cli/badinput_cases.py, run by tests/cli/badinput_runner.py.

The cases run in a few worker processes (in-process calls of seamemu.cli.main, one worker per
chunk) so that a hang or a memory blow-up fails its case instead of stalling the suite.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from badinput_cases import CASES, FILES, Case
from badinput_runner import ROOT, Outcome, run_cases

CHUNKS = 6
MAX_LINE = 600
_BY_ID = {c.id: c for c in CASES}


def test_the_corpus_is_large_and_every_id_unique():
    assert len(CASES) >= 300
    assert len(_BY_ID) == len(CASES), "two cases share an id"


def _write_files(tmp: Path) -> None:
    """FILES, and plant/: asm/'s stubs with a planted bug (tests/fuzz/planted/pop_order.patch),
    for the cases that need a stub the fuzzer finds something in."""
    spec = importlib.util.spec_from_file_location("fuzz_helpers",
                                                  ROOT / "tests" / "fuzz" / "fuzz_helpers.py")
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    helpers.materialize("pop_order", tmp / "plant")
    for name, content in FILES.items():
        path = tmp / name
        if isinstance(content, str):
            content = content.replace("{root}", str(ROOT)).encode("utf-8")
        path.write_bytes(content)


def _expand(arg: str, tmp: Path) -> str:
    return arg.replace("{tmp}", str(tmp)).replace("{root}", str(ROOT)).replace("{asm}", str(ROOT / "asm"))


def problems(c: Case, o: Outcome) -> list[str]:
    """What is wrong with one outcome (empty when the case passes)."""
    if o.code in ("hang", "memory", "died"):
        return [f"{o.code} after {o.seconds:.1f} s (peak {o.peak_rss >> 20} MiB)", *o.notes]
    out = list(o.notes)
    if o.code != c.code:
        out.append(f"exit status {o.code}, expected {c.code}")
    if "Traceback" in o.stderr or "Traceback" in o.stdout:
        out.append("printed a traceback")
    lines = o.stderr.strip().splitlines()
    if len(lines) > c.err_lines:
        out.append(f"{len(lines)} lines on stderr, at most {c.err_lines} expected")
    if any(len(line) > MAX_LINE for line in lines):
        out.append(f"a stderr line longer than {MAX_LINE} characters")
    if c.err and c.err.lower() not in o.stderr.lower():
        out.append(f"stderr does not name {c.err!r}")
    if c.out and c.out not in o.stdout:
        out.append(f"stdout does not contain {c.out!r}")
    if c.out_max is not None and len(o.stdout) > c.out_max:
        out.append(f"{len(o.stdout)} bytes on stdout, at most {c.out_max} expected")
    if o.seconds > c.limit:
        out.append(f"took {o.seconds:.1f} s, limit {c.limit:g} s")
    return out


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_bad_input_corpus(chunk, tmp_path):
    _write_files(tmp_path)
    cases = CASES[chunk::CHUNKS]
    jobs = []
    for c in cases:
        d = c.to_json()
        d["argv"] = [_expand(a, tmp_path) for a in c.argv]
        jobs.append(d)
    outcomes = run_cases(jobs, tmp_path)
    failed = []
    for c, o in zip(cases, outcomes):
        bad = problems(c, o)
        if bad:
            err = re.sub(r"\s+", " ", o.stderr.strip())[:300]
            failed.append(f"{c.id}: {'; '.join(bad)}\n    argv {c.argv!r:.150}\n    stderr: {err}")
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"chunk {chunk}: {len(cases)} cases, slowest {slowest.id} {slowest.seconds:.2f} s, "
          f"peak {max(o.peak_rss for o in outcomes) >> 20} MiB")
    assert not failed, f"{len(failed)} of {len(cases)} cases failed:\n" + "\n".join(failed)
