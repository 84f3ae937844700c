# SPDX-License-Identifier: MIT
"""The kernel generations seamemu plays, as facts: which stub, convention, wrapper and reads.

Each Generation is one kernel's TDX host code, pinned to the public source it was read from.
The behaviour that differs as code (the bring-up flows, the SEAMCALL wrappers, the metadata
reads) lives in the modules named by each field; this table says which applies.

Sources:
- v5-2022: Kai Huang, "[PATCH v5 00/22] TDX host kernel support", 22 June 2022
  (lore Message-IDs <*.1655894131.git.kai.huang@intel.com>), on Linux v5.19-rc, whose
  arch/x86/virt/vmx/tdx/tdxcall.S TDX_MODULE_CALL host=1 the series' __seamcall() expands
  (patch 07/22).  Never merged.
- 6.8: the first mainline release with TDX host initialisation: Dave Hansen's
  "[GIT PULL] x86/tdx for 6.8" (tags/x86_tdx_for_6.8, top 83e1bdc94f32), arch/x86/virt/vmx/
  tdx/tdx.c as released in v6.8 (that pull's commits 765a0542fdc7 .. 83e1bdc94f32), the
  SEAMCALL assembly of v6.6 (7b804135 "Make TDX_MODULE_CALL handle SEAMCALL #UD and #GP").
- mainline: torvalds/linux at 0eaed89c18ae (arch/x86/virt/vmx/tdx/seamcall_internal.h,
  arch/x86/virt/hw.c: TDX initialised by the kernel at boot) with tdx_global_metadata.c at
  01f492e1817e; the boot-time tdx_enable() came with Sean Christopherson's series
  <20260214012702.2368778-*-seanjc@google.com>.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord
from seamemu.stubs import stub

# Where each flow's code lives (seamemu.kernel.<module>): documentation for readers.
FLOW_V5 = "v5"              # tdx_init() on demand: global, all LPs, TDH.SYS.INFO, CMR check ...
FLOW_ON_DEMAND = "on-demand"  # the caller (KVM) runs tdx_cpu_enable() everywhere, then tdx_enable()
FLOW_BOOT = "boot"          # the kernel does VMXON and tdx_enable() itself at subsys_initcall


@dataclass(frozen=True)
class Generation(JsonRecord):
    """One kernel generation's TDX host code, as seamemu plays it."""

    JSON_KEYS = ("name", "title", "flow", "stub", "entry", "convention", "extable", "sysinfo",
                 "reads_cmrs", "sources")

    name: str                    # what --kernel takes
    title: str
    flow: str                    # FLOW_*: the bring-up (kernel.bringup_v5 / bringup_linux)
    pr_fmt: str                  # prefix of every message tdx.c prints
    stub: str                    # the shipped asm/ file with this generation's SEAMCALL code
    entry: str                   # the entry the bring-up reads through (and `run` calls)
    entries: tuple[str, ...]     # every entry point the stub has
    convention: str              # calling convention of those entries (kernel.calling)
    extable: bool                # #GP/#UD at SEAMCALL fixed up (TDX_SW_ERROR | trap) or an oops
    vmfail_writes_outputs: bool  # after VMfailInvalid the output registers still go to *out
    retries_entropy: bool        # sc_retry(): repeat while TDX_RND_NO_ENTROPY
    sysinfo: str                 # how module facts are read: TDH.SYS.INFO or TDH.SYS.RD
    reads_cmrs: bool             # the bring-up reads (and checks) the CMRs
    detection: str               # boot-time TDX detection: "seamrr" or "keyids"
    hotplug_policies: tuple[str, ...]   # kernel.hotplug_policies names; the first is the default
    sources: tuple[str, ...]

V5_2022 = Generation(
    name="v5-2022",
    title='the June 2022 "TDX host kernel support" v5 series (never merged)',
    flow=FLOW_V5, pr_fmt="tdx: ",
    stub="seamcall_legacy.S", entry="__seamcall", entries=("__seamcall",),
    convention="legacy", extable=False, vmfail_writes_outputs=True, retries_entropy=False,
    sysinfo="TDH.SYS.INFO", reads_cmrs=True, detection="seamrr",
    hotplug_policies=("v5-2022", "first-stage", "cmr-aware"),
    sources=(
        "lore [PATCH v5 00/22] TDX host kernel support (Kai Huang, 2022-06-22)",
        "v5 01/22 Detect TDX during kernel boot; 02-05/22 ACPI CPU/memory and driver-managed "
        "memory hotplug; 06/22 skeleton tdx_init(); 07/22 __seamcall(); 08/22 seamcall() "
        "wrapper and TDH.SYS.LP.SHUTDOWN; 09-10/22 TDH.SYS.INIT, TDH.SYS.LP.INIT; 11/22 "
        "TDH.SYS.INFO and check_cmrs(); 12/22 memblock inside CMRs; 14-16/22 TDMRs, PAMTs, "
        "reserved areas; 18-20/22 TDH.SYS.CONFIG, TDH.SYS.KEY.CONFIG, TDH.SYS.TDMR.INIT",
        "Linux v5.19 arch/x86/virt/vmx/tdx/tdxcall.S TDX_MODULE_CALL host=1; "
        "arch/x86/include/asm/tdx.h TDX_SEAMCALL_VMFAILINVALID",
    ))

LINUX_6_8 = Generation(
    name="6.8",
    title="Linux 6.8, the first release with TDX host initialisation",
    flow=FLOW_ON_DEMAND, pr_fmt="virt/tdx: ",
    stub="seamcall.S", entry="__seamcall_ret",
    entries=("__seamcall", "__seamcall_ret", "__seamcall_saved_ret"),
    convention="args", extable=True, vmfail_writes_outputs=False, retries_entropy=True,
    sysinfo="TDH.SYS.RD", reads_cmrs=False, detection="keyids",
    hotplug_policies=("6.8",),
    sources=(
        "[GIT PULL] x86/tdx for 6.8 (tags/x86_tdx_for_6.8, 83e1bdc94f32)",
        "torvalds/linux v6.8 arch/x86/virt/vmx/tdx/tdx.c (tdx_init, tdx_cpu_enable, "
        "tdx_enable, init_tdx_module, get_tdx_tdmr_sysinfo, tdx_memory_notifier)",
        "1e66a7e27539 sc_retry() in arch/x86/include/asm/tdx.h; df01f5ae07dd "
        "sc_retry_prerr(); cf72bc481634 TDH.SYS.RD of the TDMR fields",
        "v6.6 arch/x86/virt/vmx/tdx/tdxcall.S and seamcall.S (struct tdx_module_args, "
        "_ASM_EXTABLE_FAULT)",
    ))


# Mainline keeps 6.8's SEAMCALL assembly, wrappers, metadata reads and detection: what differs
# is who brings TDX up, and when, and the hotplug policy.
MAINLINE = dataclasses.replace(
    LINUX_6_8,
    name="mainline",
    title="mainline Linux: TDX initialised by the kernel at boot",
    flow=FLOW_BOOT,
    hotplug_policies=("upstream",),
    sources=(
        "torvalds/linux 01f492e1817e arch/x86/virt/vmx/tdx/tdx_global_metadata.c "
        "(get_tdx_sys_info: version, features, tdmr, td_ctrl, td_conf)",
        "torvalds/linux 0eaed89c18ae arch/x86/virt/vmx/tdx/seamcall_internal.h (sc_retry, "
        "sc_retry_prerr, seamcall_err[_ret]) and arch/x86/virt/hw.c (x86_virt_get_ref: VMXON)",
        "arch/x86/virt/vmx/tdx/tdx.c of that tree: tdx_init(), tdx_enable() as "
        "subsys_initcall with the \"virt/tdx:online\" cpuhp state, init_tdx_module(), "
        "check_features(), tdx_memory_notifier(), tdx_offline_cpu() (series "
        "<20260214012702.2368778-*-seanjc@google.com>; the earlier KVM-driven form: tdx.c at v6.18)",
    ))

GENERATIONS: dict[str, Generation] = {g.name: g for g in (LINUX_6_8, MAINLINE, V5_2022)}
DEFAULT_KERNEL = MAINLINE.name


def generation(name: str | Generation | None, given_as: str = "kernel={}") -> Generation:
    """The generation called `name` (None: the default); a one-line InputError otherwise,
    naming `name` where the user wrote it: `given_as` is an option ("--kernel",
    "--seamemu-kernel") or a template for an argument ("kernel={}", the default)."""
    if isinstance(name, Generation):
        return name
    if name is None:
        return GENERATIONS[DEFAULT_KERNEL]
    try:
        return GENERATIONS[name]
    except KeyError:
        close = ([n for n in sorted(GENERATIONS) if n.startswith(str(name))] or
                 difflib.get_close_matches(str(name), list(GENERATIONS), n=1))
        hint = f"did you mean '{close[0]}'? " if close else ""
        where = given_as.format(repr(name)) if "{}" in given_as else f"{given_as} {name!r}"
        raise InputError(f"{where}: unknown kernel generation ({hint}known: "
                         f"{', '.join(sorted(GENERATIONS))})") from None


def generation_with(convention: str) -> Generation:
    """The generation a convention implies when no --kernel is given: the default one when it
    uses that convention, else the (only) generation that does."""
    default = GENERATIONS[DEFAULT_KERNEL]
    if default.convention == convention:
        return default
    for g in GENERATIONS.values():
        if g.convention == convention:
            return g
    return default


def stub_files(gen: Generation | str | None) -> list[Path]:
    """The shipped assembly of generation `gen`, ready for a Session."""
    return [stub(generation(gen).stub)]


__all__ = [
    "DEFAULT_KERNEL",
    "FLOW_BOOT",
    "FLOW_ON_DEMAND",
    "FLOW_V5",
    "GENERATIONS",
    "Generation",
    "LINUX_6_8",
    "MAINLINE",
    "V5_2022",
    "generation",
    "generation_with",
    "stub_files",
]
