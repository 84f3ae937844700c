# SPDX-License-Identifier: MIT
"""The skip guard: a test may skip only for a reason written in tests/skip-allowlist.txt.

A skipped test passes silently, so a missing tool on the CI machine (GNU as, Chromium) would
turn its tests off without anyone noticing.  Every skip whose reason contains no line of the
allow-list is listed at the end of the run; under CI (the CI environment variable set, as
.ci/run runs) or with SEAMEMU_STRICT_SKIPS=1 such a skip fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).with_name("skip-allowlist.txt")


def read_allowlist(path: Path) -> list[str]:
    """The allowed reasons: one substring a line; blank lines and # comments ignored."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipGuard:
    def __init__(self, allowlist: Path, strict: bool) -> None:
        self.allowlist = allowlist
        self.allowed = read_allowlist(allowlist)
        self.strict = strict
        self.unlisted: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = _reason(report)
            if not any(allowed in reason for allowed in self.allowed):
                self.unlisted.append((report.nodeid, reason))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.unlisted:
            return
        verdict = "fail the run" if self.strict else "would fail CI"
        terminalreporter.section(f"skips not on {self.allowlist.name} ({verdict})", sep="!")
        for nodeid, reason in self.unlisted:
            terminalreporter.line(f"{nodeid}: {reason}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.strict and self.unlisted and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller sees every report and judges the run
    path = Path(os.environ.get("SEAMEMU_SKIP_ALLOWLIST", ALLOWLIST))
    strict = bool(os.environ.get("CI")) or os.environ.get("SEAMEMU_STRICT_SKIPS") == "1"
    config.pluginmanager.register(SkipGuard(path, strict), "seamemu-skip-guard")
