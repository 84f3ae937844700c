# SPDX-License-Identifier: MIT
"""`seamemu bench` additions: bring-up wall time, and TDH.SYS.RD through the host driver
(answered by the model, and with --module-binary by Intel's module too).

`sys_rd_rate()` reads global metadata the way the bring-up does (read_sys_metadata_field():
the kernel's retry/errno wrapper, Session.call, __seamcall_ret, the module), cycling through
the fields the kernel reads, so its ratio to the bare hook loop shows what one metadata read
of the driver costs.  Numbers are machine-dependent; only ratios in one run mean anything.
"""

from __future__ import annotations

import time

from seamemu.arch.leaves import TDH_SYS_INIT, TDH_SYS_LP_INIT, TDH_SYS_RD
from seamemu.arch.metadata import global_field
from seamemu.host.driver import tdx_enable
from seamemu.host.klog import KernelLog
from seamemu.host.seamcall import HostSeamcall
from seamemu.host.sysinfo import GROUPS
from seamemu.machine.bench import measure
from seamemu.session import Session

_FIELDS = tuple(global_field(name).field_id for _group, names in GROUPS for name in names)


def bringup_seconds(platform=None) -> float:
    """Wall time of tdx_enable() on a fresh session of the (default) platform, in seconds."""
    session = Session(platform=platform)
    t0 = time.perf_counter()
    result = tdx_enable(session)
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"bench: the bring-up did not reach SYS_READY ({result.state}, "
                           f"errno {result.errno})")
    return elapsed


def sys_rd_rate(seconds: float = 1.0, module_binary: str | None = None) -> float:
    """TDH.SYS.RD calls per second through the host driver's wrapper and the stub, answered by
    the model, or by Intel's module when `module_binary` names one."""
    session = Session(num_lps=1, module_binary=module_binary)
    host = HostSeamcall(session, KernelLog())
    for leaf in (TDH_SYS_INIT, TDH_SYS_LP_INIT):
        if host.prerr(leaf)[0]:
            raise RuntimeError(f"bench: leaf {leaf} failed on a fresh module")
    records, calls = session.module.records, host.calls
    state = {"i": 0}

    def read_one() -> None:
        i = state["i"]
        state["i"] = (i + 1) % len(_FIELDS)
        if host.prerr(TDH_SYS_RD, {"rdx": _FIELDS[i]}, ret=True)[0]:
            raise RuntimeError(f"bench: TDH.SYS.RD of 0x{_FIELDS[i]:016x} failed")
        if len(records) > 10_000:           # keep the logs from growing without bound
            del records[:]
            del calls[:]

    return measure(read_one, seconds)


__all__ = ["bringup_seconds", "sys_rd_rate"]
