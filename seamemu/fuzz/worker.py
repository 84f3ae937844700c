# SPDX-License-Identifier: MIT
"""One fuzz worker: generate or mutate a case, run it, check the rules, keep what is new.

Modes:
  random      the seeded generator (generate.py), fastest
  coverage    mutate a corpus of cases that reached new block edges or new outcomes;
              the corpus is shared with other workers through the output directory
  hypothesis  cases drawn by Hypothesis from the exported strategies (strategies.py)
A reference implementation (differential mode) runs every case too, in any mode.

A violation seen on the fast path is analysed on the traced machine the first few times per
(rule, register or field, hint, instruction outcome, and in coverage mode block edges), then
one time in REANALYSE_EVERY: that gives its code location, and a (rule, location) not seen
before becomes a finding, shrunk and saved as a reproducer.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress, repeat

from seamemu.errors import InputError, ReplayError
from seamemu.fuzz.analyse import Analyst, Found
from seamemu.fuzz.batch import Batcher, batchable, batchable_spec
from seamemu.fuzz.case import Case
from seamemu.fuzz.corpus import CorpusDir
from seamemu.fuzz.diff import compare
from seamemu.fuzz.executor import BATCH, Runner
from seamemu.fuzz.generate import Generator
from seamemu.fuzz.invariants import check
from seamemu.fuzz.oracle import RealAnswers, instruction_outcome
from seamemu.fuzz.promises import make_spec
from seamemu.fuzz.reproducer import FindingRef, Reproducer, Target, load_reproducer
from seamemu.image import Image
from seamemu.jsonout import JsonRecord, json_as, rounded

MODES = ("random", "coverage", "hypothesis")
ANALYSES_PER_KEY = 3   # traced re-runs per fast-path violation key before it is taken as known
# ... and after that one in this many of its violations, so that a second code location
# behind the same key (a branch the key cannot tell apart) is still found.  A traced run
# costs about three fast ones: a stub broken on every run loses about 7% of its rate.
REANALYSE_EVERY = 64
REPORT_EVERY_S = 0.5


@dataclass(frozen=True)
class FuzzConfig:
    target: Target
    convention: str
    variant: str | None = None
    kernel: str | None = None        # the generation whose rules apply (None: the convention's)
    mode: str = "random"
    runs: int | None = None
    seconds: float | None = None
    seed: int = 0
    out: str = "seamemu-fuzz"
    jobs: int = 1
    reference: Target | None = None
    worker_id: str = "w"
    module_binary: str | None = None   # Intel's module answers instead of the planned answers
    sync_seconds: float = 2.0
    shrink_budget: int = 800

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.runs is not None and self.runs <= 0:
            raise InputError(f"--runs {self.runs}: must be positive")
        if self.seconds is not None and self.seconds <= 0:
            raise InputError(f"--time {self.seconds}: must be positive")
        if self.jobs < 1:
            raise InputError(f"--jobs {self.jobs}: must be at least 1")


@dataclass(frozen=True)
class FindingRecord(FindingRef):
    """One finding as a campaign reports it: where its reproducer went, who found it, when."""

    reproducer: str
    worker: str
    run: int
    seconds: float = field(metadata=json_as(rounded(3)))


_STOP = [False]     # Worker.request_stop(): set from a SIGINT handler, read between runs


@dataclass
class WorkerStats(JsonRecord):
    """A worker's counters (mutable: the worker updates them as it runs)."""

    worker: str
    runs: int = 0
    seconds: float = field(default=0.0, metadata=json_as(rounded(3)))
    edges: int = 0
    features: int = 0
    corpus: int = 0
    imported: int = 0
    unstable: int = 0      # violations that did not show again on a rerun (not saved)
    module_halts: int = 0  # --module-binary: runs Intel's module halted in (reloaded, not judged)
    findings: list[FindingRecord] = field(default_factory=list)


def _rax_kind(rax: int) -> str:
    """success, sw (the kernel's class 0xFF codes), error (bit 63), or other."""
    if rax == 0:
        return "success"
    if rax >> 40 & 0xFF == 0xFF:
        return "sw"
    return "error" if rax >> 63 else "other"


class _Stop(BaseException):
    """Ends a Hypothesis-driven loop from inside the property (not an Exception on purpose:
    Hypothesis lets it through instead of treating it as a failing example)."""


class Worker:
    """One fuzzing loop with its own machines (fast, traced, reference) and counters."""

    def __init__(self, config: FuzzConfig, index: int, image: Image, ref_image: Image | None = None,
                 report: Callable[[WorkerStats], None] | None = None) -> None:
        self.config = config
        self.name = f"{config.worker_id}{index}" if config.jobs > 1 or index else config.worker_id
        entry = config.target.entry
        self.spec = spec = make_spec(config.convention, config.variant, entry, config.kernel)
        self.image, self.ref_image = image, ref_image
        self.fast = Runner(image, spec, entry, observe="coverage" if config.mode == "coverage" else "fast",
                           module_binary=config.module_binary)
        self.ref = (Runner(ref_image, spec, config.reference.entry)
                    if ref_image is not None and config.reference is not None else None)
        self.gen = Generator(spec, (config.seed * 0x9E37_79B9 + index) & ((1 << 64) - 1), self.fast.addresses)
        # Random mode runs its cases in batches through the guest driver (fuzz/batch.py) when
        # nothing needs a per-run observation the driver does not give (block edges, a
        # reference run, Intel's module) and the stub is plain enough to be batched.
        self.batcher = (Batcher(self.fast) if config.mode == "random" and self.ref is None
                        and not config.module_binary and batchable_spec(spec)
                        and batchable(image) else None)
        self.corpus = CorpusDir(config.out, self.name)
        self.report = report
        self.stats = WorkerStats(self.name)
        self._analyst: Analyst | None = None
        self._keys: dict[tuple, int] = {}
        self._found: dict[tuple[str, int], FindingRecord] = {}
        self._features: set = set()
        self._queue: list[Case] = []
        self._t0 = 0.0

    # -- the loop ----------------------------------------------------------------------------
    @staticmethod
    def request_stop() -> None:
        """Ask every loop in this process to end after its current run (Ctrl-C): a flag the
        loops look at, because a KeyboardInterrupt raised inside an emulator hook can be lost
        on its way back through the engine's C code."""
        _STOP[0] = True

    @staticmethod
    def stop_requested() -> bool:
        return _STOP[0]

    @staticmethod
    def clear_stop() -> None:
        _STOP[0] = False

    def run(self) -> WorkerStats:
        self._t0 = time.perf_counter()
        cfg = self.config
        runs = cfg.runs
        if runs is None and cfg.seconds is None:
            runs = 10_000
        if cfg.mode == "hypothesis":
            self._run_hypothesis(runs)
        else:
            self._run_loop(runs)
        self._finish()
        return self.stats

    def _deadline(self) -> float:
        s = self.config.seconds
        return float("inf") if s is None else self._t0 + s

    def _run_loop(self, runs: int | None) -> None:
        coverage = self.config.mode == "coverage"
        gen = self.gen
        rng = gen.rng
        one = self.one
        deadline = self._deadline()
        limit = runs if runs is not None else 1 << 62
        next_report = self._t0 + REPORT_EVERY_S
        next_sync = self._t0 + self.config.sync_seconds
        if coverage:  # resume from this worker's queue, then pick up the others' (AFL++ does too)
            self._load_own_queue()
            self._sync()
        n = 0
        checked = 0
        while n < limit:
            if self.batcher is not None:
                n = self._batch(min(BATCH, limit - n), n)
            else:
                if coverage and self._queue and rng.random() < 0.85:
                    case = gen.mutate(rng.choice(self._queue))
                else:
                    case = gen.case()
                self.stats.runs = n  # the run a finding is credited to
                one(case, coverage)
                n += 1
            if n - checked >= 64:
                checked = n
                now = time.perf_counter()
                self.stats.runs = n
                if now >= deadline or _STOP[0]:
                    break
                if now >= next_report:
                    next_report = now + REPORT_EVERY_S
                    self._report(now)
                if coverage and now >= next_sync:
                    next_sync = now + self.config.sync_seconds
                    self._sync()
        self.stats.runs = n

    def step(self, n: int) -> None:
        """Run `n` generated cases with no clock, corpus or reporting (for benchmarks)."""
        if self.batcher is not None:
            done = 0
            while done < n:
                done = self._batch(min(BATCH, n - done), done)
        else:
            case, one = self.gen.case, self.one
            for _ in range(n):
                one(case())
        self.stats.runs += n

    def _batch(self, k: int, n: int) -> int:
        """Generate and run a batch of `k` cases; those the driver did not vouch for run alone
        (`one`).  Returns the run count after them.

        The cyclic garbage collector is paused meanwhile: a batch's cases are thousands of
        small tuples that live until the batch ends and hold no cycle, and collecting them
        every few hundred allocations cost some 6k instructions a case (callgrind)."""
        batcher = self.batcher
        assert batcher is not None
        collecting = gc.isenabled()
        gc.disable()
        try:
            cases = self.gen.batch(k)
            ok = batcher.run(cases)
            # A vouched-for case returned with the RAX expected: its outcome feature, in bulk.
            self._features.update(compress(zip(repeat("returned"), batcher.instr,
                                               map(_rax_kind, batcher.rax_after)), ok))
            if not all(ok):
                for i, good in enumerate(ok):
                    if not good:
                        self.stats.runs = n + i  # the run a finding is credited to
                        self.one(cases[i])
            del cases   # gone before the collector looks again
        finally:
            if collecting:
                gc.enable()
        n += len(ok)
        self.stats.runs = n
        return n

    def _run_hypothesis(self, runs: int | None) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hseed

        from seamemu.fuzz.strategies import fuzz_cases

        deadline = self._deadline()
        state: dict[str, float] = {"n": 0, "next": self._t0 + REPORT_EVERY_S}

        @hseed(self.config.seed)
        @settings(max_examples=runs or 1_000_000_000, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                  verbosity=Verbosity.quiet)
        @given(fuzz_cases(self.spec, addresses=self.fast.addresses))
        def prop(case: Case) -> None:
            now = time.perf_counter()
            if now >= deadline or _STOP[0]:
                raise _Stop()
            self.one(case, False)
            state["n"] += 1
            self.stats.runs = int(state["n"])
            if now >= state["next"]:
                state["next"] = now + REPORT_EVERY_S
                self._report(now)

        try:
            prop()
        except _Stop:
            pass

    def one(self, case: Case, coverage: bool = False, save: bool = True) -> bool:
        """Run one case on the fast path, analyse violations; True if it reached new coverage
        (then it joins the corpus, and with `save` this worker's queue directory)."""
        obs = self.fast.run(case)
        real = self.fast.module
        if isinstance(real, RealAnswers):
            if real.halted:               # Intel's module stopped: reloaded, nothing to judge
                self.stats.module_halts += 1
                return False
            if real.answer is not None:   # judge the stub against what the module answered
                case = case._replace(answer=real.answer)
        instr = instruction_outcome(case, self.spec.instruction)
        viols = check(self.spec, case, obs, self.fast.in_code, instr)
        if self.ref is not None:
            d = compare(self.spec, obs, self.ref.run(case))
            if d is not None:
                viols.append(d)
        if viols:
            self._violations(case, viols, obs.edges)
        res = obs.res
        # Outcome feature: how the call ended, what SEAMCALL did, and RAX's kind (not its value).
        feature = (res.outcome, instr, _rax_kind(res.regs_after["rax"]))
        if coverage:
            new = {e for e in obs.edges if e not in self._features}
            if feature not in self._features:
                new.add(feature)
            if new:
                self._features |= new
                self._queue.append(case)
                if save:
                    self.corpus.add(case, self.spec, len(new))
                return True
            return False
        self._features.add(feature)
        return False

    # -- findings ----------------------------------------------------------------------------
    def _violations(self, case: Case, viols, edges: frozenset = frozenset()) -> None:
        # The key says which path broke the rule as far as the fast run knows: in coverage
        # mode its block edges too, so a register clobbered on two branches of the same
        # SEAMCALL outcome is analysed (and located) on each.
        instr = instruction_outcome(case, self.spec.instruction)
        seen = self._keys
        due = False
        for v in viols:
            k = (v.rule, v.key, v.hint, instr, edges)
            n = seen[k] = seen.get(k, 0) + 1
            due = due or n <= ANALYSES_PER_KEY or not n % REANALYSE_EVERY
        if not due:
            return
        analyst = self.analyst()
        for f in analyst.analyse(case).found:
            if (f.rule, f.address) not in self._found:
                self._new_finding(case, f)

    def analyst(self) -> Analyst:
        if self._analyst is None:
            ref = self.config.reference
            self._analyst = Analyst(self.image, self.spec, self.config.target.entry,
                                    ref_image=self.ref_image, ref_entry=ref.entry if ref else None)
        return self._analyst

    def _new_finding(self, case: Case, f: Found) -> None:
        analyst = self.analyst()
        location, source = analyst.location(f.address)
        path = self.corpus.finding_path(f.rule, location)
        record = None
        existing = self._existing(path, f)
        if existing is not None:
            record = self._record(existing.finding, path)
        elif self.corpus.claim(path):
            try:
                shrunk = analyst.shrink(case, f.rule, f.address, self.config.shrink_budget)
                if shrunk is None:  # not reproducible from the case alone: not a finding
                    self.stats.unstable += 1
                    return
                small, found = shrunk
                ref = FindingRef(found.rule, found.key, location, found.address, source, found.detail)
                Reproducer(self.config.target, self.spec.convention, self.spec.variant, small, ref,
                           self.config.reference,
                           {"mode": self.config.mode, "seed": self.config.seed,
                            "worker": self.name, "run": self.stats.runs},
                           self.spec.kernel).save(path)
                record = self._record(ref, path)
            finally:
                self.corpus.release(path)
        if record is not None:
            self._found[(f.rule, f.address)] = record
            self.stats.findings.append(record)
        else:  # another worker is writing it; do not analyse it again here
            self._found[(f.rule, f.address)] = FindingRecord(f.rule, f.key, location, f.address, source,
                                                             f.detail, str(path), "", 0, 0.0)

    def _existing(self, path, f: Found) -> Reproducer | None:
        """A reproducer already saved for this finding against the same assembly."""
        if not path.is_file():
            return None
        try:
            rep = load_reproducer(path)
        except ReplayError:
            return None
        same = (rep.finding.rule == f.rule and rep.finding.address == f.address
                and rep.target.digest == self.config.target.digest)
        return rep if same else None

    def _record(self, ref: FindingRef, path) -> FindingRecord:
        return FindingRecord(ref.rule, ref.key, ref.location, ref.address, ref.source, ref.detail,
                             str(path), self.name, self.stats.runs, time.perf_counter() - self._t0)

    # -- corpus ------------------------------------------------------------------------------
    def _load_own_queue(self) -> None:
        for p in self.corpus.own_entries():
            case = self.corpus.read_entry(p, self.spec)
            if case is not None and not self.one(case, coverage=True, save=False):
                self._queue.append(case)  # interesting when it was saved: keep it on resume

    def _sync(self) -> None:
        for p in self.corpus.poll_others():
            case = self.corpus.read_entry(p, self.spec)
            if case is None:
                continue
            if self.one(case, coverage=True, save=False):
                self.stats.imported += 1

    # -- reporting ---------------------------------------------------------------------------
    def _report(self, now: float) -> None:
        st = self.stats
        st.seconds = now - self._t0
        st.features = len(self._features)
        st.edges = sum(1 for f in self._features if len(f) == 2)
        st.corpus = len(self._queue)
        if self.report is not None:
            self.report(st)

    def _finish(self) -> None:
        self._report(time.perf_counter())


__all__ = [
    "ANALYSES_PER_KEY",
    "FindingRecord",
    "FuzzConfig",
    "MODES",
    "REANALYSE_EVERY",
    "Worker",
    "WorkerStats",
]
