# SPDX-License-Identifier: MIT
"""Differential and coverage-guided modes, shared corpus directories, parallel workers."""

from __future__ import annotations

import json
from pathlib import Path

from fuzz_helpers import ARGS, campaign, planted

from seamemu.fuzz import load_reproducer, replay_file


def test_differential_mode_reports_where_old_and_new_disagree(tmp_path):
    s = campaign(tmp_path, planted("output_offset"), "__seamcall_ret", runs=2000, reference=ARGS)
    diffs = [f for f in s["findings"] if f["rule"] == "differential"]
    assert diffs
    assert any("TDX_MODULE_r9" in f["source"] for f in diffs)
    rep = load_reproducer(diffs[0]["reproducer"])
    assert rep.reference is not None and rep.reference.paths == (ARGS,)
    outcome = replay_file(diffs[0]["reproducer"])
    assert outcome.reproduced


def test_differential_mode_sees_a_difference_no_rule_forbids(tmp_path):
    # A reference that leaves the module's RCX in the register, where the shipped stub
    # zeroes it (both keep every invariant): only the differential mode notices.
    text = Path(ARGS.replace("seamcall.S", "tdxcall.S")).read_text()
    assert "\txorl\t%ecx, %ecx\n" in text
    text = text.replace("\txorl\t%ecx, %ecx\n", "", 1)
    (tmp_path / "tdxcall.S").write_text(text)
    (tmp_path / "seamcall.S").write_text(Path(ARGS).read_text())
    s = campaign(tmp_path / "out", ARGS, "__seamcall_saved_ret", runs=1500,
                 reference=str(tmp_path / "seamcall.S"))
    assert [f["rule"] for f in s["findings"]] == ["differential"]
    assert s["findings"][0]["key"] == "reg:rcx"


def test_coverage_mode_grows_a_corpus_in_the_worker_queue(tmp_path):
    s = campaign(tmp_path, ARGS, "__seamcall_ret", mode="coverage", runs=3000)
    queue = sorted((tmp_path / "w" / "queue").glob("id-*.json"))
    assert s["coverage"]["edges"] > 0
    assert len(queue) == s["corpus"] > 1
    entry = json.loads(queue[0].read_text())
    assert entry["kind"] == "seamemu-fuzz-queue" and entry["spec"] == "args/ret"


def test_two_workers_share_one_directory(tmp_path):
    first = campaign(tmp_path, ARGS, "__seamcall_ret", mode="coverage", runs=2000, worker_id="a")
    second = campaign(tmp_path, ARGS, "__seamcall_ret", mode="coverage", runs=500, seed=2,
                      worker_id="b")
    assert (tmp_path / "a" / "queue").is_dir() and (tmp_path / "b" / "queue").is_dir()
    # The second worker read the first one's queue (AFL++-style sync).
    assert second["workers"][0]["imported"] > 0
    assert first["workers"][0]["imported"] == 0


def test_parallel_jobs_split_runs_and_merge_findings(tmp_path):
    s = campaign(tmp_path, planted("gp_truncated"), "__seamcall_ret", runs=2000, jobs=2)
    assert s["runs"] == 2000
    assert [w["worker"] for w in s["workers"]] == ["w0", "w1"]
    assert [f["rule"] for f in s["findings"]] == ["rax-status"]
    assert len(list((tmp_path / "findings").glob("*.json"))) == 1


def test_coverage_mode_finds_a_planted_bug(tmp_path):
    s = campaign(tmp_path, planted("vmfail_stack"), "__seamcall_ret", mode="coverage", runs=3000)
    assert {f["rule"] for f in s["findings"]} == {"returns"}


def test_one_rule_broken_on_two_branches_is_found_at_both(tmp_path):
    # RBX clobbered before the SEAMCALL, by one instruction when the RCX input is nonzero and
    # by another when it is zero (a twentieth of the runs): same rule, register and SEAMCALL
    # outcome, so only re-analysis (random) or the path's edges (coverage) tell them apart.
    text = Path(ARGS.replace("seamcall.S", "tdxcall.S")).read_text()
    site = ".if \\host\n.Lseamcall\\@:\n"
    assert text.count(site) == 1
    text = text.replace(site, ".if \\host\n\ttestq\t%rcx, %rcx\n\tjz\t1f\n\txorl\t%ebx, %ebx\n"
                              "\tjmp\t2f\n1:\n\tmovl\t$1, %ebx\n2:\n.Lseamcall\\@:\n")
    (tmp_path / "tdxcall.S").write_text(text)
    (tmp_path / "seamcall.S").write_text(Path(ARGS).read_text())
    for mode in ("random", "coverage"):
        s = campaign(tmp_path / mode, str(tmp_path / "seamcall.S"), "__seamcall", mode=mode,
                     runs=4000, seed=2)
        sources = sorted(f["source"].split(": ", 1)[1] for f in s["findings"])
        assert sources == ["movl $1, %ebx", "xorl %ebx, %ebx"], (mode, sources)
