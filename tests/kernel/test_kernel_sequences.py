# SPDX-License-Identifier: MIT
"""Each generation makes the SEAMCALLs its source makes, in its order: the leaf, the LP, and for
TDH.SYS.RD the field ID.  The expected sequences are written out here from the kernels' code,
not taken from seamemu (TDH.SYS.TDMR.INIT repeats until RDX reaches the TDMR's end; one entry
per TDMR stands for the run, as the number of calls is the module's business).

Platform "lean" (conftest): two LPs in two packages; TDX memory [1 MiB, 1920 MiB) and
[4 GiB, 5 GiB), so TDMRs [0, 2 GiB) and [4 GiB, 5 GiB); TDX KeyIDs start at 32.
"""

import pytest
from conftest import boot, lean

GiB = 1 << 30
GLOBAL_KEYID = 32


def sequence(b):
    out = []
    for c in b.calls:
        key = (c.leaf_name, c.lp, c.field_id if c.leaf_name == "TDH.SYS.RD" else
               c.inputs.get("rcx") if c.leaf_name == "TDH.SYS.TDMR.INIT" else None)
        if not out or key != out[-1] or key[0] != "TDH.SYS.TDMR.INIT":
            out.append(key)
    return out


# Both merged kernels start the same way: tdx_cpu_enable() on CPU 0 (TDH.SYS.INIT once, then
# TDH.SYS.LP.INIT) and on CPU 1 (TDH.SYS.LP.INIT).
ENABLE = [("TDH.SYS.INIT", 0, None), ("TDH.SYS.LP.INIT", 0, None), ("TDH.SYS.LP.INIT", 1, None)]
# ... and end the same way: TDH.SYS.CONFIG, then KEY.CONFIG on the first CPU of each package,
# then TDH.SYS.TDMR.INIT per TDMR.
FINISH = [("TDH.SYS.CONFIG", 0, None), ("TDH.SYS.KEY.CONFIG", 0, None),
          ("TDH.SYS.KEY.CONFIG", 1, None), ("TDH.SYS.TDMR.INIT", 0, 0),
          ("TDH.SYS.TDMR.INIT", 0, 4 * GiB)]


def test_v5_2022_sequence(v5):
    """[PATCH v5 NN/22] arch/x86/virt/vmx/tdx/tdx.c init_tdx_module(): 09/22
    tdx_module_init_global() TDH.SYS.INIT; 10/22 tdx_module_init_cpus() TDH.SYS.LP.INIT on every
    online CPU; 11/22 tdx_get_sysinfo() TDH.SYS.INFO; 18/22 config_tdx_module(); 19/22
    config_global_keyid() via seamcall_on_each_package_serialized(); 20/22 init_tdmrs()."""
    assert sequence(v5) == [("TDH.SYS.INIT", 0, None), ("TDH.SYS.LP.INIT", 0, None),
                            ("TDH.SYS.LP.INIT", 1, None), ("TDH.SYS.INFO", 0, None)] + FINISH
    info = next(c for c in v5.calls if c.leaf_name == "TDH.SYS.INFO")
    assert (info.inputs["rdx"], info.inputs["r9"]) == (1024, 32)   # TDSYSINFO_STRUCT, MAX_CMRS
    assert info.inputs["rcx"] % 1024 == 0 and info.inputs["r8"] % 512 == 0
    cfg = next(c for c in v5.calls if c.leaf_name == "TDH.SYS.CONFIG")
    assert (cfg.inputs["rdx"], cfg.inputs["r8"], cfg.inputs["r9"]) == (2, GLOBAL_KEYID, 0)
    assert {c.entry for c in v5.calls} == {"__seamcall"}


def test_6_8_sequence(linux68):
    """Linux v6.8 arch/x86/virt/vmx/tdx/tdx.c: try_init_module_global(),
    tdx_cpu_enable(); init_tdx_module() -> get_tdx_tdmr_sysinfo(): fields[] MAX_TDMRS,
    MAX_RESERVED_PER_TDMR, PAMT_4K/2M/1G_ENTRY_SIZE (tdx.h MD_FIELD_ID_*) -> config_tdx_module()
    -> config_global_keyid() -> init_tdmrs()."""
    reads = [("TDH.SYS.RD", 0, f) for f in (0x9100000100000008, 0x9100000100000009,
                                             0x9100000100000010, 0x9100000100000011,
                                             0x9100000100000012)]
    assert sequence(linux68) == ENABLE + reads + FINISH


def test_mainline_sequence(mainline):
    """tdx_global_metadata.c (01f492e1817e) get_tdx_sys_info(): get_tdx_sys_info_version,
    _features, _tdmr, _td_ctrl, _td_conf (its fields, then CPUID_CONFIG_LEAVES[i] for each i,
    then CPUID_CONFIG_VALUES[i][0..1]); tdx.c init_tdx_module() reads them before anything else."""
    fields = [0x0800000100000003, 0x0800000100000004, 0x0800000100000005,        # version
              0x0A00000300000008,                                                # features
              0x9100000100000008, 0x9100000100000009, 0x9100000100000010,        # tdmr
              0x9100000100000011, 0x9100000100000012,
              0x9800000100000000, 0x9800000100000100, 0x9800000100000200,        # td_ctrl
              0x1900000300000000, 0x1900000300000001, 0x1900000300000002,        # td_conf
              0x1900000300000003, 0x9900000100000004, 0x9900000100000008]
    num = next(c for c in mainline.calls if c.field_id == 0x9900000100000004)
    n = num.outputs["r8"]
    assert 0 < n <= 128
    fields += [0x9900000300000400 + i for i in range(n)]
    fields += [0x9900000300000500 + 2 * i + j for i in range(n) for j in range(2)]
    assert sequence(mainline) == ENABLE + [("TDH.SYS.RD", 0, f) for f in fields] + FINISH


def test_mainline_refuses_a_module_without_max_vcpus_per_td():
    """1.5.01 has no MAX_VCPUS_PER_TD: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT,
    seamcall_err_ret() prints it, -EIO ends get_tdx_sys_info() and the bring-up."""
    b = boot("mainline", lean(module_version="1.5.01"))
    last = b.calls[-1]
    assert (last.leaf_name, last.field_id) == ("TDH.SYS.RD", 0x9900000100000008)
    assert last.status_name.startswith("TDX_METADATA_FIELD_ID_INCORRECT")
    assert (b.errno, b.ok, b.state) == (-5, False, "SYSINIT_DONE")
    dmesg = b.dmesg()
    assert dmesg[-4:] == [
        f"virt/tdx: SEAMCALL (0x0000000000000022) failed: 0x{last.rax:016x}",
        "virt/tdx: RCX 0x0000000000000000 RDX 0xffffffffffffffff R08 0x0000000000000000",
        "virt/tdx: R09 0x0000000000000000 R10 0x0000000000000000 R11 0x0000000000000000",
        "virt/tdx: TDX-Module initialization failed (-5)"]
    assert "virt/tdx: Module version: 1.5.01" in dmesg
    # seamemu's own line (never dmesg) names the missing field and the kernel that reads less.
    (why,) = [t for t in b.texts() if "too old" in t]
    assert why.startswith("seamemu: ") and "max_vcpus_per_td" in why and "--kernel 6.8" in why


@pytest.mark.parametrize("kernel", ["v5-2022", "6.8", "mainline"])
def test_every_generation_brings_2_0_08_up(kernel):
    """2.0.08 keeps every field mainline's tdx_global_metadata.c reads (a superset of
    1.5.05's table), NO_RBP_MOD and TDH.SYS.INFO, so each generation reaches SYS_READY."""
    b = boot(kernel, lean(module_version="2.0.08"))
    assert (b.ok, b.state) == (True, "SYS_READY")
    if kernel == "mainline":
        assert "virt/tdx: Module version: 2.0.08" in b.dmesg()
        assert b.sysinfo.fields["max_vcpus_per_td"] == 1376 and \
            b.sysinfo.fields["tdcs_base_size"] == 9 * 4096


def test_6_8_and_v5_need_no_such_field():
    assert boot("6.8", lean(module_version="1.5.01")).ok
    assert boot("v5-2022", lean(module_version="1.0")).ok      # TDH.SYS.INFO is TDX 1.0's


def test_6_8_cannot_use_a_tdx_1_0_module():
    """6.8 initialises TDX 1.5 modules only (cf72bc481634): a 1.0 module has no TDH.SYS.RD, and
    its dispatcher refuses a leaf it does not allow before SYS_READY."""
    b = boot("6.8", lean(module_version="1.0"))
    last = b.calls[-1]
    assert (last.leaf_name, last.status_name) == ("TDH.SYS.RD", "TDX_SYS_NOT_READY")
    assert b.errno == -5 and b.dmesg()[-1] == "virt/tdx: module initialization failed (-5)"
