# SPDX-License-Identifier: MIT
"""The output directory, laid out like AFL++'s parallel mode so workers can share it.

    OUT/<worker-id>/queue/id-000001.json   cases that reached new coverage (each worker its own)
    OUT/findings/<rule>@<location>.json    one shrunk reproducer per finding (shared)

Workers on one machine or several (a shared filesystem) use one OUT with distinct worker ids;
each periodically reads the others' queues.  A finding is claimed with an O_EXCL lock file
so two workers do not shrink and write the same one; writes are atomic renames.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from seamemu.errors import InputError, ReplayError
from seamemu.fuzz.case import Case, case_from_json, case_to_json
from seamemu.fuzz.promises import Spec

QUEUE_KIND = "seamemu-fuzz-queue"
_SAFE = re.compile(r"[^A-Za-z0-9_.+@-]")


class CorpusDir:
    def __init__(self, root: str | Path, worker: str) -> None:
        if not worker or _SAFE.search(worker) or worker == "findings":
            raise InputError(f"--worker-id {worker!r}: use letters, digits, '_', '-', '.' (not 'findings')")
        self.root = Path(root)
        self.worker = worker
        self.queue = self.root / worker / "queue"
        self.findings = self.root / "findings"
        try:
            self.queue.mkdir(parents=True, exist_ok=True)
            self.findings.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {root}: cannot create the output directory: "
                             f"{exc.strerror or exc}") from None
        self._next = 1 + max((int(p.stem[3:]) for p in self.queue.glob("id-*.json")
                              if p.stem[3:].isdigit()), default=0)
        self._seen: set[str] = set()

    # -- own queue ---------------------------------------------------------------------------
    def own_entries(self) -> list[Path]:
        return sorted(self.queue.glob("id-*.json"))

    def add(self, case: Case, spec: Spec, new_features: int) -> Path:
        path = self.queue / f"id-{self._next:06d}.json"
        self._next += 1
        entry = {"schema": 1, "kind": QUEUE_KIND, "spec": spec.label, "worker": self.worker,
                 "new_features": new_features, "case": case_to_json(case, spec)}
        _atomic_write(path, json.dumps(entry) + "\n")
        self._seen.add(str(path))
        return path

    # -- other workers' queues ---------------------------------------------------------------
    def poll_others(self) -> list[Path]:
        """Queue entries of other workers not read yet."""
        fresh = []
        for d in sorted(self.root.iterdir()):
            if d.name in (self.worker, "findings") or not (d / "queue").is_dir():
                continue
            for p in sorted((d / "queue").glob("id-*.json")):
                key = str(p)
                if key not in self._seen:
                    self._seen.add(key)
                    fresh.append(p)
        return fresh

    @staticmethod
    def read_entry(path: Path, spec: Spec) -> Case | None:
        """A queue entry's case, or None when it is unreadable or for another convention."""
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(d, dict) or d.get("kind") != QUEUE_KIND or d.get("spec") != spec.label:
            return None
        try:
            return case_from_json(d.get("case"), spec)
        except ReplayError:
            return None

    # -- findings ----------------------------------------------------------------------------
    def finding_path(self, rule: str, location: str) -> Path:
        return self.findings / (_SAFE.sub("_", f"{rule}@{location}") + ".json")

    def claim(self, path: Path) -> bool:
        """True if this worker should write `path`; False if another worker has it."""
        lock = path.with_name(f".{path.name}.lock")
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                return False
            lock.unlink(missing_ok=True)  # left by a worker that died: take it over
            return self.claim(path)
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True

    def release(self, path: Path) -> None:
        path.with_name(f".{path.name}.lock").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["CorpusDir", "QUEUE_KIND"]
