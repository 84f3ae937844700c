# SPDX-License-Identifier: MIT
"""P-SEAMLDR leaves (RAX bit 63): SEAMLDR.INFO and SEAMLDR.INSTALL.

Spec: the P-SEAMLDR sources, intel/tdx-loader at 81bf312: p-seam-loader/
src/pseamldr_dispatcher/api_calls/seamldr_info.c, seamldr_install.c and include/
pseamldr_api_defs.h; Linux arch/x86/virt/vmx/tdx/seamldr.c.  SEAMLDR.INSTALL is an update
session: it must run on every LP; the first one clears SEAMEXTEND.SEAM_READY (so module-mode
SEAMCALLs fail with VMfailInvalid until the session ends), LPs that are not the last return
success at once, and the last one checks the parameters and installs.  Signature and image
verification are not modelled: any sigstruct is accepted.
"""

from __future__ import annotations

from seamemu.arch.status import SeamldrStatus as L
from seamemu.arch.sysinfo import (
    SEAMLDR_INFO,
    SEAMLDR_INFO_ALIGNMENT,
    SEAMLDR_PARAMS,
    SEAMLDR_PARAMS_MAX_MODULE_PAGES,
    SEAMLDR_PARAMS_SIZE,
    SEAMLDR_SCENARIO_LOAD,
    SEAMLDR_SCENARIO_UPDATE,
)
from seamemu.model.context import Call, LeafExit
from seamemu.model.leaf_spec import Check, leaf

PAGE = 4096
# Plausible P-SEAMLDR identity (not a real release's numbers).
SEAMLDR_MAJOR, SEAMLDR_MINOR, SEAMLDR_BUILD_NUM, SEAMLDR_BUILD_DATE = 1, 5, 100, 20240101


@leaf(
    "SEAMLDR.INFO",
    summary="Write the 256-byte P_SEAMLDR_INFO (loader version, SEAMEXTEND incl. SEAM_READY).",
    inputs=(("rcx", "PA of a 256-byte-aligned shared buffer"),),
    checks=(
        Check("rcx_hpa", "RCX is not a 256-byte-aligned shared HPA (below 2^MAX_PA, outside "
              "SEAMRR, no private HKID)", L.PSEAMLDR_EBADPARAM),
    ),
    success="P_SEAMLDR_INFO at RCX",
)
def seamldr_info(c: Call) -> None:
    rcx = c.reg("rcx")
    c.require(c.rules.loader_shared_hpa_ok(rcx, SEAMLDR_INFO_ALIGNMENT), "rcx_hpa")
    m = c.module
    c.mem.write(rcx, SEAMLDR_INFO.pack(
        version=0, attributes=0, vendor_id=0x8086, build_date=SEAMLDR_BUILD_DATE,
        build_num=SEAMLDR_BUILD_NUM, minor=SEAMLDR_MINOR, major=SEAMLDR_MAJOR,
        acm_x2apic=0, num_remaining_updates=m.seamldr.num_remaining_updates,
        seamextend_valid=1 if m.module_loaded() else 0,
        seam_ready=1 if m.module_loaded() else 0, p_seamldr_ready=1,
    ))


@leaf(
    "SEAMLDR.INSTALL",
    summary="Load or update the TDX module.  Run on every LP; the last LP of the session "
            "validates SEAMLDR_PARAMS and installs.",
    inputs=(("rcx", "PA of the 4096-byte SEAMLDR_PARAMS (read by the last LP)"),),
    outputs=(("rdx", "0, or 1 when a failure left SEAM memory modified (never in the model)"),),
    on_entry=(("rdx", 0),),
    checks=(
        Check("lp_again", "this LP already ran SEAMLDR.INSTALL in this session",
              L.PSEAMLDR_EBADCALL),
        Check("not_last", "some LP has not run SEAMLDR.INSTALL yet: this LP joins the session "
              "(SEAM_READY is cleared from the first LP on)", L.PSEAMLDR_SUCCESS),
        Check("params_hpa", "RCX is not a 4 KiB-aligned shared HPA", L.PSEAMLDR_EBADPARAM),
        Check("params_version", "SEAMLDR_PARAMS.version is not 0", L.PSEAMLDR_EBADPARAM),
        Check("params_reserved", "the 104 reserved bytes are not 0", L.PSEAMLDR_EBADPARAM),
        Check("params_scenario", "scenario is neither 0 (load) nor 1 (update)",
              L.PSEAMLDR_EBADPARAM),
        Check("params_pages", "num_module_pages is above 496", L.PSEAMLDR_EBADPARAM),
        Check("page_hpa", "a module page PA is not a 4 KiB-aligned shared HPA",
              L.PSEAMLDR_EBADPARAM),
        Check("sigstruct_hpa", "sigstruct_pa is not a 4 KiB-aligned shared HPA",
              L.PSEAMLDR_EBADPARAM),
        Check("update_no_module", "scenario is update but no module was loaded when the "
              "session began", L.PSEAMLDR_EBADPARAM),
        Check("aslr_entropy", "RDRAND for the module's ASLR fails", L.PSEAMLDR_ENOENTROPY,
              inject=True),
    ),
    success="the new module is loaded (SEAM_READY), in SYSINIT_PENDING with nothing "
            "initialised; the session ends (on failure too, restoring SEAM_READY)",
)
def seamldr_install(c: Call) -> None:
    c.write(rdx=0)
    m, ses = c.module, c.module.seamldr
    c.require(c.lp not in ses.lps, "lp_again")
    if not ses.active:
        ses.seam_ready_snapshot = m.seam_ready
        m.seam_ready = False
    ses.lps.add(c.lp)
    c.require(len(ses.lps) >= m.platform.tot_num_lps, "not_last")
    try:
        scenario = _check_params(c)
        c.require(True, "aslr_entropy")
    except LeafExit:
        m.seam_ready = ses.seam_ready_snapshot      # recoverable: old module stays
        ses.lps.clear()
        raise
    ses.lps.clear()
    if scenario == SEAMLDR_SCENARIO_UPDATE:
        ses.num_remaining_updates = max(0, ses.num_remaining_updates - 1)
    m.install_new_module(update=scenario == SEAMLDR_SCENARIO_UPDATE)


def _check_params(c: Call) -> int:
    rules, rcx = c.rules, c.reg("rcx")
    c.require(rules.loader_shared_hpa_ok(rcx, PAGE), "params_hpa")
    p = SEAMLDR_PARAMS.unpack(c.mem.read(rcx, SEAMLDR_PARAMS_SIZE))
    c.require(p["version"] == 0, "params_version")
    c.require(p["reserved"] == bytes(len(p["reserved"])), "params_reserved")
    scenario = p["scenario"]
    c.require(scenario in (SEAMLDR_SCENARIO_LOAD, SEAMLDR_SCENARIO_UPDATE), "params_scenario")
    count = p["num_module_pages"]
    c.require(count <= SEAMLDR_PARAMS_MAX_MODULE_PAGES, "params_pages")
    plist = p["mod_pages_pa_list"]
    for i in range(count):
        pa = int.from_bytes(plist[8 * i:8 * i + 8], "little")
        c.require(rules.loader_shared_hpa_ok(pa, PAGE), "page_hpa")
    c.require(rules.loader_shared_hpa_ok(p["sigstruct_pa"], PAGE), "sigstruct_hpa")
    c.require(scenario != SEAMLDR_SCENARIO_UPDATE or c.module.seamldr.seam_ready_snapshot,
              "update_no_module")
    return scenario


__all__ = ["seamldr_info", "seamldr_install"]
