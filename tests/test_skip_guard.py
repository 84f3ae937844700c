# SPDX-License-Identifier: MIT
"""The skip guard (tests/skip_guard.py): under CI a skip not on the allow-list fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import pytest

def test_runs():
    pass

def test_tool_missing():
    pytest.skip("frobnicator is not installed")

@pytest.mark.skipif(True, reason="needs the listed thing")
def test_allowed():
    pass
'''


@pytest.fixture
def run(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SEAMEMU_STRICT_SKIPS", raising=False)

    def go(allowlist: str, **env: str):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        listed = pytester.path / "allow.txt"
        listed.write_text(allowlist)
        monkeypatch.setenv("SEAMEMU_SKIP_ALLOWLIST", str(listed))
        monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
        pytester.makepyfile(test_suite=SUITE)
        return pytester.runpytest_subprocess("-p", "skip_guard", "-n", "0")
    return go


def test_an_unlisted_skip_fails_the_run_under_ci(run):
    r = run("# comment\nlisted thing\n", CI="true")
    assert r.ret == pytest.ExitCode.TESTS_FAILED
    r.stdout.fnmatch_lines(["*skips not on allow.txt (fail the run)*",
                            "*test_tool_missing: frobnicator is not installed"])
    assert "test_allowed" not in r.stdout.str().split("skips not on")[1]


def test_listed_skips_pass_under_ci(run):
    r = run("listed thing\nfrobnicator\n", CI="true")
    assert r.ret == pytest.ExitCode.OK
    r.assert_outcomes(passed=1, skipped=2)


def test_outside_ci_an_unlisted_skip_is_reported_but_does_not_fail(run):
    r = run("listed thing\n")
    assert r.ret == pytest.ExitCode.OK
    r.stdout.fnmatch_lines(["*skips not on allow.txt (would fail CI)*"])


def test_the_repository_allowlist_reads():
    from skip_guard import ALLOWLIST, read_allowlist

    assert read_allowlist(ALLOWLIST) == ["shared/tdx-module"]
