# SPDX-License-Identifier: MIT
"""Fuzz the register inputs of SEAMCALL calling-convention assembly and find ABI bugs.

`seamemu fuzz` (run.py) drives workers (engine.py); each runs cases (case.py, generate.py)
through one reused machine (runner.py) behind a scripted module (oracle.py), checks the named
rules (rules.py, diff.py), locates and shrinks what breaks them (locate.py, shrink.py,
analyse.py) and saves reproducers (reproducer.py) that `seamemu run --replay` replays
(replay.py).  strategies.py exports the same value space as Hypothesis strategies.
"""

from seamemu.fuzz.campaign import run_fuzz
from seamemu.fuzz.case import Answer, Case, Cpu, case_from_json, case_to_json, zero_case
from seamemu.fuzz.harness import Harness
from seamemu.fuzz.invariants import RULES, Violation
from seamemu.fuzz.promises import CONVENTIONS, VARIANTS, Spec, make_spec
from seamemu.fuzz.replay import ReplayOutcome, format_replay, replay_file, replay_json
from seamemu.fuzz.reproducer import Reproducer, Target, load_reproducer
from seamemu.fuzz.worker import MODES, FuzzConfig, Worker

__all__ = [
    "Answer",
    "CONVENTIONS",
    "Case",
    "Cpu",
    "FuzzConfig",
    "Harness",
    "MODES",
    "RULES",
    "ReplayOutcome",
    "Reproducer",
    "Spec",
    "Target",
    "VARIANTS",
    "Violation",
    "Worker",
    "case_from_json",
    "case_to_json",
    "format_replay",
    "load_reproducer",
    "make_spec",
    "replay_file",
    "replay_json",
    "run_fuzz",
    "zero_case",
]
