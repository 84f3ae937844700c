# SPDX-License-Identifier: MIT
"""A platform whose MCHECK failed has SEAM disabled: SEAMCALL fails with VMfailInvalid."""

import dataclasses

from seamemu.platform import load_platform
from seamemu.session import Session


def test_failed_mcheck_means_vmfailinvalid_for_module_and_loader():
    p = dataclasses.replace(load_platform(), mcheck_ok=False)
    s = Session(platform=p, num_lps=1)
    r = s.call("__seamcall_ret", leaf=33)
    assert (r.outcome, r.rax) == ("VMfailInvalid", 0x8000FF00FFFF0000)
    r = s.call("__seamcall_ret", leaf=1 << 63)
    assert r.outcome == "VMfailInvalid"


def test_passed_mcheck_module_answers():
    s = Session(num_lps=1)
    assert s.call("__seamcall_ret", leaf=33).rax == 0
