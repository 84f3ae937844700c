# SPDX-License-Identifier: MIT
"""seamemu's pytest plugin, run the way a user's project runs it (pytester, in-process)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import seamemu.pytest_plugin as plugin
from seamemu.errors import InputError

pytest_plugins = ["pytester"]


@pytest.fixture
def run(pytester, monkeypatch):
    """Run pytest on the given test source with only the seamemu plugin loaded explicitly (no
    entry-point autoload, so an installed seamemu does not register it twice)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def go(source: str, *args: str):
        pytester.makepyfile(test_user=source)
        return pytester.runpytest_inprocess("-p", "seamemu.pytest_plugin", "-q", *args)
    return go


def test_marker_and_fixture_drive_the_shipped_stub(run):
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_outcome, assert_status, assert_abi_preserved

        @pytest.mark.seamemu(vmx=False)
        def test_ud(seam):
            r = seam.call(leaf="TDH.SYS.INIT")
            assert_outcome(r, "#UD")
            assert_status(r, "TDX_SEAMCALL_UD")
            assert_abi_preserved(r)

        def test_default_state_succeeds(seam):
            assert_status(seam.call(leaf=33), 0)

        def test_factory_builds_more(seam_factory):
            a, b = seam_factory(cpl=3), seam_factory(module=False)
            assert a.call(leaf="TDH.SYS.INIT").outcome == "#GP"
            assert b.call(leaf="TDH.SYS.INIT").outcome == "VMfailInvalid"
    """)
    result.assert_outcomes(passed=3)


def test_failed_assertions_say_what_happened(run):
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_outcome

        @pytest.mark.seamemu(cpl=3)
        def test_expects_success(seam):
            assert_outcome(seam.call(leaf="TDH.SYS.INIT"), "returned")
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected outcome returned, got outcome #GP, RAX "
                                 "0x8000ff000000000d (TDX_SEAMCALL_GP); SEAMCALL rule: "
                                 "#GP(0): CPL 3 > 0*"])


def test_seamemu_trace_puts_the_instruction_trace_in_the_failure_report(run):
    result = run("""
        import pytest

        @pytest.mark.seamemu(seamrr=False)
        def test_fails(seam):
            seam.call(leaf="TDH.SYS.INIT")
            assert False
    """, "--seamemu-trace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*seamemu traces*", "*trace of __seamcall_ret on LP 0*",
                                 "*SEAMCALL decision: #GP -- #GP(0): SEAMRR not enabled*"])


def test_unknown_marker_options_are_named(run):
    result = run("""
        import pytest

        @pytest.mark.seamemu(cpl3=True)
        def test_typo(seam):
            pass
    """)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) cpl3*"])


def test_platform_option(run, tmp_path):
    result = run("""
        def test_platform(seam):
            assert seam.platform.name == "one-socket"
    """, "--seamemu-platform", "one-socket")
    result.assert_outcomes(passed=1)


def test_own_assembly_needs_a_symbol(tmp_path):
    src = tmp_path / "a.S"
    src.write_text('.section .text, "ax"\nf:\n\tret\n')
    harness = plugin.SeamHarness(asm=[src])
    with pytest.raises(InputError, match="name the symbol to call"):
        harness.call(leaf=33)
    assert harness.call("f", convention="raw").outcome == "no-seamcall"  # f never SEAMCALLs


def test_leaf_names(tmp_path):
    assert plugin.leaf_number("TDH.SYS.INFO") == 32
    assert plugin.leaf_number("TDH_SYS_RD") == 34
    assert plugin.leaf_number("SEAMLDR.INFO") == 1 << 63
    with pytest.raises(InputError, match=r"TDH\.SYS\.NOPE"):
        plugin.leaf_number("TDH.SYS.NOPE")


def test_strategies_are_re_exported_lazily(monkeypatch):
    fake = types.ModuleType("seamemu.fuzz.strategies")
    fake.gprs = lambda: "the gprs strategy"
    monkeypatch.setitem(sys.modules, "seamemu.fuzz.strategies", fake)
    assert plugin.strategies() is fake
    assert plugin.gprs() == "the gprs strategy"
    with pytest.raises(AttributeError):
        _ = plugin.pytest_plugins               # pytest probes this name: never a strategy
    with pytest.raises(AttributeError):
        _ = plugin.no_such_strategy


def test_the_plugin_module_is_import_light():
    code = ("import sys, seamemu.pytest_plugin; heavy = [m for m in ('unicorn', 'capstone', "
            "'keystone', 'hypothesis', 'seamemu.session', 'seamemu.model') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_seam_strategies_skips_cleanly_without_the_fuzzer(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "seamemu.fuzz.strategies", None)   # import fails
    result = run("""
        def test_uses_strategies(seam_strategies):
            assert False, "not reached"
    """)
    result.assert_outcomes(skipped=1)


def test_marker_takes_kbuild_objects_and_stubs(run, kbuild, kstub):
    obj = kbuild(kstub, "-DCONFIG_MITIGATION_RETHUNK")
    result = run(f"""
        import pytest
        from seamemu.pytest_plugin import assert_outcome, assert_status

        @pytest.mark.seamemu(obj=[{str(obj)!r}], stubs=["__x86_return_thunk"],
                             entry="kstub_seamcall", cpl=3)
        def test_object_gets_gp(seam):
            assert_status(seam.call(leaf="TDH.SYS.INIT"), "TDX_SEAMCALL_GP")

        def test_a_source_given_as_obj_is_refused(seam_factory):
            with pytest.raises(ValueError, match="not an ELF object file"):
                seam_factory(obj={str(kstub)!r})
    """)
    result.assert_outcomes(passed=2)


def test_the_module_binary_option_puts_intels_module_behind_the_trap(run, module_binary):
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_status

        @pytest.mark.seamemu(platform="small")
        def test_real(seam):
            r = seam.call(leaf="TDH.SYS.INIT")
            assert_status(r, "TDX_SUCCESS")
            assert r.calls[-1].note.startswith("Intel's module")
            assert seam.call(leaf="TDH.SYS.INIT").calls[-1].status_name == \\
                "TDX_SYS_INIT_NOT_PENDING"
        """, "--seamemu-module-binary", module_binary)
    result.assert_outcomes(passed=1)


def test_a_bad_module_binary_in_the_marker_fails_the_test_with_its_reason(run, tmp_path):
    result = run(f"""
        import pytest

        @pytest.mark.seamemu(module_binary={str(tmp_path / 'none.so')!r})
        def test_real(seam):
            pass
        """)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--module-binary */none.so: cannot read: no such file*"])


def test_module_version_picks_the_release(run):
    # 1.0 has no TDH.SYS.RD: its dispatcher refuses leaf 34 before READY (TDX_SYS_NOT_READY).
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_status

        @pytest.mark.seamemu(module_version="1.0")
        def test_1_0(seam):
            assert seam.session.module.profile.name == "1.0"
            assert_status(seam.call(leaf="TDH.SYS.RD"), "TDX_SYS_NOT_READY")

        def test_default(seam):
            assert seam.session.module.profile.name == "1.5.05"
    """)
    result.assert_outcomes(passed=2)


def test_kernel_marker_and_option_choose_the_generation_s_stub(run):
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_outcome

        @pytest.mark.seamemu(kernel="v5-2022", seamrr=False)
        def test_v5_has_no_fixup(seam):
            assert seam.entry == "__seamcall" and seam.kernel.convention == "legacy"
            r = seam.call(leaf="TDH.SYS.INIT")
            assert_outcome(r, "#GP")
            assert r.fault.handled_by is None

        def test_option_default(seam):
            assert seam.kernel.name == "6.8" and seam.entry == "__seamcall_ret"
            assert seam.call(leaf="TDH.SYS.INIT").rax == 0
    """, "--seamemu-kernel", "6.8")
    result.assert_outcomes(passed=2)


def test_an_unknown_kernel_fails_the_test_with_one_line(run):
    result = run("""
        def test_x(seam):
            pass
    """, "--seamemu-kernel", "v4.20")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--seamemu-kernel 'v4.20': unknown kernel generation*"])
    assert "--kernel 'v4.20'" not in result.stdout.str()


def test_a_td_guest_harness_runs_the_guest_stub(run):
    result = run("""
        import pytest
        from seamemu.pytest_plugin import assert_outcome, assert_status, assert_abi_preserved

        @pytest.mark.seamemu(td=True)
        def test_vp_info(seam):
            r = seam.call(leaf="TDG.VP.INFO")          # __tdcall_ret, tdcall convention
            assert_status(r, "TDX_SUCCESS")
            assert r.out["rcx"] == 48
            assert_abi_preserved(r)

        @pytest.mark.seamemu(td=True)
        def test_hypercall(seam):
            r = seam.call("__tdx_hypercall", convention="hypercall", r11=0x10000)
            assert_status(r, "TDVMCALL_STATUS_SUCCESS")
            assert seam.vmm.records[-1].name == "TDG.VP.VMCALL<GetTdVmCallInfo>"

        @pytest.mark.seamemu(td=True)
        def test_back_on_the_host(seam):
            seam.state(td=False)
            assert_outcome(seam.call(leaf="TDG.VP.INFO"), "#UD")
    """)
    result.assert_outcomes(passed=3)


def test_an_unknown_kernel_is_named_as_the_marker_or_factory_gave_it(run):
    result = run("""
        import pytest

        @pytest.mark.seamemu(kernel="v4.20")
        def test_marker(seam):
            pass

        def test_factory(seam_factory):
            seam_factory(kernel="v9")
    """)
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.seamemu(kernel='v4.20'): unknown kernel generation*"])
    result.stdout.fnmatch_lines(["*seam_factory(kernel='v9'): unknown kernel generation*"])
