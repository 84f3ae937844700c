# SPDX-License-Identifier: MIT
"""The P-SEAMLDR as the host reaches it: through the kernel stub and the SEAMCALL trap, with the
one-LP-at-a-time rule decided by the CPU (VMfailInvalid) before the loader sees the call."""

from __future__ import annotations

from seamemu.arch.kernel import TDX_SEAMCALL_VMFAILINVALID
from seamemu.arch.leaves import leaf_by_name, seamldr_leaf_by_name
from seamemu.arch.status import SeamldrStatus
from seamemu.arch.sysinfo import SEAMLDR_INFO, SEAMLDR_INFO_ALIGNMENT, SEAMLDR_INFO_SIZE
from seamemu.session import Session
from seamemu.stubs import DEFAULT_ENTRY

INFO_RAX = seamldr_leaf_by_name("SEAMLDR.INFO").rax
TDH_SYS_INIT = leaf_by_name("TDH.SYS.INIT").number


def info_call(s: Session, lp: int, pa: int):
    return s.call(DEFAULT_ENTRY, leaf=INFO_RAX, inputs={"rcx": pa}, lp=lp)


def test_seamldr_info_through_the_stub_fills_p_seamldr_info():
    s = Session()
    pa = s.alloc(SEAMLDR_INFO_SIZE, SEAMLDR_INFO_ALIGNMENT)
    r = info_call(s, 0, pa)
    assert (r.outcome, r.rax) == ("returned", SeamldrStatus.PSEAMLDR_SUCCESS)
    v = SEAMLDR_INFO.unpack(s.machine.memory.read(pa, SEAMLDR_INFO_SIZE))
    assert (v["vendor_id"], v["seam_ready"], v["p_seamldr_ready"]) == (0x8086, 1, 1)
    (rec,) = r.calls
    assert (rec.leaf_name, rec.status_name) == ("SEAMLDR.INFO", "PSEAMLDR_SUCCESS")
    assert rec.memory_written == ((pa, SEAMLDR_INFO_SIZE),)


def test_seamldr_info_bad_buffer_is_the_loader_s_own_error():
    s = Session()
    pa = s.alloc(SEAMLDR_INFO_SIZE, SEAMLDR_INFO_ALIGNMENT)
    r = info_call(s, 0, pa + 8)                      # not 256-byte aligned
    assert (r.outcome, r.rax) == ("returned", SeamldrStatus.PSEAMLDR_EBADPARAM)
    assert r.calls[0].status_name == "PSEAMLDR_EBADPARAM"


def test_loader_seamcall_while_another_lp_is_inside_it_is_vmfailinvalid():
    s = Session()
    pa = s.alloc(SEAMLDR_INFO_SIZE, SEAMLDR_INFO_ALIGNMENT)
    s.module.seamldr.busy_lp = 1  # another LP is inside the P-SEAMLDR
    r = info_call(s, 0, pa)
    # The CPU refuses it: the stub's VMfailInvalid code, and the loader never saw the call.
    assert (r.outcome, r.rax) == ("VMfailInvalid", TDX_SEAMCALL_VMFAILINVALID)
    assert r.calls == () and "P-SEAMLDR is busy on another logical processor" in r.rule
    # The LP inside the loader, and module-mode SEAMCALLs, are not affected.
    assert info_call(s, 1, pa).rax == SeamldrStatus.PSEAMLDR_SUCCESS
    assert s.call(DEFAULT_ENTRY, leaf=TDH_SYS_INIT, lp=0).rax == 0
    s.module.seamldr.busy_lp = None
    assert info_call(s, 0, pa).outcome == "returned"
