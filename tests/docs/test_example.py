# SPDX-License-Identifier: MIT
"""docs/examples/test_my_stub.py, the example user test file, runs and passes with the plugin."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "test_my_stub.py"

pytest_plugins = ["pytester"]


def test_the_example_user_test_file_passes(pytester, monkeypatch):
    # Load the plugin explicitly, as `pip install seamemu` would through its entry point.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_my_stub=EXAMPLE.read_text(encoding="utf-8"))
    result = pytester.runpytest_inprocess("-p", "seamemu.pytest_plugin", "-q")
    result.assert_outcomes(passed=9)


def test_the_plugin_document_shows_the_example():
    doc = (ROOT / "docs" / "pytest-plugin.md").read_text(encoding="utf-8")
    assert "docs/examples/test_my_stub.py" in doc
    for name in ("seam", "seam_factory", "seam_strategies", "assert_outcome",
                 "assert_status", "assert_abi_preserved", "--seamemu-trace",
                 "--seamemu-platform", "@pytest.mark.seamemu"):
        assert name in doc, name
