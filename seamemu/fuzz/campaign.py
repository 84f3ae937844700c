# SPDX-License-Identifier: MIT
"""`seamemu fuzz` end to end: assemble, start the workers, show progress, merge their results.

With --jobs N each worker is its own process with its own machine (`fork` where the platform
has it, so the assembled images are inherited rather than rebuilt); with one job the worker
runs in this process.  Workers report their counters every half second; the summary merges
them and lists each finding once (by rule and location).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as _queue
import signal
import sys
import time
from collections.abc import Callable
from typing import TextIO

from seamemu.errors import EngineError, SeamemuError
from seamemu.frontend import assemble
from seamemu.fuzz.promises import make_spec
from seamemu.fuzz.reproducer import Target
from seamemu.fuzz.worker import FindingRecord, FuzzConfig, Worker, WorkerStats
from seamemu.image import Image

Progress = Callable[[dict], None]


def assemble_target(target: Target) -> Image:
    return assemble(list(target.paths), include_dirs=list(target.include),
                    defines=dict(target.defines), backend=target.assembler, stubs=target.stubs)


def run_fuzz(config: FuzzConfig, progress: Progress | None = None) -> dict:
    """Run the campaign `config` describes; the JSON summary (schema 1)."""
    spec = make_spec(config.convention, config.variant, config.target.entry, config.kernel)
    image = assemble_target(config.target)
    ref_image = assemble_target(config.reference) if config.reference is not None else None
    t0 = time.perf_counter()
    if config.jobs == 1:
        report = (lambda st: progress(_merge([st], t0))) if progress else None
        worker = Worker(config, 0, image, ref_image, report=report)
        stats = [worker.run()]
    else:
        stats = _run_parallel(config, image, ref_image, progress, t0)
    summary = _merge(stats, t0)
    summary.update({
        "schema": 1,
        "asm": [p for p, _ in config.target.asm],
        "entry": config.target.entry,
        "convention": spec.convention,
        "variant": spec.variant,
        "kernel": spec.kernel or None,
        "mode": config.mode,
        "seed": config.seed,
        "jobs": config.jobs,
        "out": config.out,
        "reference": None if config.reference is None else {
            "asm": [p for p, _ in config.reference.asm], "entry": config.reference.entry},
        "workers": [s.to_json() for s in stats],
    })
    return summary


def _merge(stats: list[WorkerStats], t0: float) -> dict:
    seconds = time.perf_counter() - t0
    runs = sum(s.runs for s in stats)
    worker_s = sum(s.seconds for s in stats) or seconds
    findings: dict[tuple[str, str], FindingRecord] = {}
    for s in stats:
        for f in s.findings:
            findings.setdefault((f.rule, f.location), f)
    return {
        "runs": runs,
        "seconds": round(seconds, 3),
        "runs_per_s": round(runs / seconds, 1) if seconds > 0 else 0.0,
        "runs_per_s_per_worker": round(runs / worker_s, 1) if worker_s > 0 else 0.0,
        "coverage": {"edges": max((s.edges for s in stats), default=0),
                     "features": max((s.features for s in stats), default=0)},
        "corpus": sum(s.corpus for s in stats),
        "findings": [f.to_json() for f in sorted(findings.values(), key=lambda f: (f.rule, f.address))],
    }


def _child(config: FuzzConfig, index: int, image: Image, ref_image: Image | None, q) -> None:
    # Ctrl-C reaches a worker from the terminal and again from the parent: either way it
    # only ends the loop after the current run, and the worker still reports.  SIGINT was
    # blocked across the fork (_run_parallel), so one that came early is delivered here, to
    # this handler, not as a KeyboardInterrupt before it.
    signal.signal(signal.SIGINT, lambda signum, frame: Worker.request_stop())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        def report(st: WorkerStats) -> None:
            q.put(("progress", index, st))
        stats = Worker(config, index, image, ref_image, report=report).run()
        q.put(("done", index, stats))
    except SeamemuError as exc:
        q.put(("error", index, f"{type(exc).__name__}: {exc}"))
    except BaseException as exc:
        q.put(("error", index, f"{type(exc).__name__}: {exc}"))


def _run_parallel(config: FuzzConfig, image: Image, ref_image: Image | None,
                  progress: Progress | None, t0: float) -> list[WorkerStats]:
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    q = ctx.Queue()
    procs = []
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        for i in range(config.jobs):
            runs = None
            if config.runs is not None:  # split the runs; every worker does at least one
                runs = max(1, config.runs // config.jobs + (i < config.runs % config.jobs))
            cfg = FuzzConfig(**{**config.__dict__, "runs": runs})
            p = ctx.Process(target=_child, args=(cfg, i, image, ref_image, q), daemon=True)
            p.start()
            procs.append(p)
    finally:    # a Ctrl-C that came meanwhile is delivered here, with the workers started
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    latest: dict[int, WorkerStats] = {}
    done: dict[int, WorkerStats] = {}
    errors: list[str] = []
    told = False
    try:
        while len(done) + len(errors) < len(procs):
            if Worker.stop_requested() and not told:
                # Ctrl-C reached only this process: pass it on, so each worker ends its run
                # and reports what it found (workers forked from here stop on SIGINT).
                for p in procs:
                    if p.pid is not None and p.is_alive():
                        os.kill(p.pid, signal.SIGINT)
                told = True
            try:
                kind, index, payload = q.get(timeout=0.5)
            except _queue.Empty:
                if not any(p.is_alive() for p in procs) and q.empty():
                    errors.append("a worker exited without reporting")
                    break
                continue
            if kind == "progress":
                latest[index] = payload
                if progress:
                    progress(_merge(list(latest.values()), t0))
            elif kind == "done":
                done[index] = latest[index] = payload
            else:
                errors.append(f"worker {index}: {payload}")
    except KeyboardInterrupt:
        # Ctrl-C: stop the workers now (a reproducer is written to a temporary name and
        # renamed, so none is left half-written; a claim's lock is taken over next time).
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if errors:
        raise EngineError("fuzz: " + "; ".join(errors))
    return [done[i] for i in sorted(done)]


class ProgressLine:
    """The live line on stderr: runs, rate, coverage, corpus, findings; redrawn in place on a
    terminal, printed every few seconds otherwise."""

    def __init__(self, stream: TextIO | None = None, every_s: float | None = None) -> None:
        self.stream = stream = stream if stream is not None else sys.stderr
        self.tty = stream.isatty()
        self.every = every_s if every_s is not None else (0.5 if self.tty else 10.0)
        self._last = 0.0
        self._shown = False

    def __call__(self, s: dict) -> None:
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        cov = s["coverage"]
        line = (f"[fuzz] {s['seconds']:7.1f}s  {s['runs']:>11,} runs  {s['runs_per_s']:>9,.0f}/s  "
                f"edges {cov['edges']}  features {cov['features']}  corpus {s['corpus']}  "
                f"findings {len(s['findings'])}")
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
            self._shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


__all__ = ["ProgressLine", "assemble_target", "run_fuzz"]
