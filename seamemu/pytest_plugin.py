# SPDX-License-Identifier: MIT
"""seamemu's pytest plugin: test your own SEAMCALL assembly under a chosen platform and CPU state.

Registered through the `pytest11` entry point, so installing seamemu makes it available:

    @pytest.mark.seamemu(asm=["my_stub.S"], cpl=3)      # or obj=["my_stub.o"] (gcc -c, kbuild)
    def test_user_mode_gets_gp(seam):
        r = seam.call("my_seamcall", leaf="TDH.SYS.INIT")
        assert_outcome(r, "#GP")
        assert_abi_preserved(r)

Fixtures: `seam` (a `SeamHarness` built from the test's `seamemu` marker and the command-line
options), `seam_factory` (build more harnesses in one test), `seam_strategies` (the fuzzer's
Hypothesis strategies, seamemu.fuzz.strategies; the test is skipped when they are absent).
Assertions: `assert_outcome`, `assert_status`, `assert_abi_preserved`.
Options: `--seamemu-platform FILE|PRESET`, `--seamemu-kernel GEN` (the kernel generation whose
stub, entry and calling convention the harness uses by default: mainline, 6.8 or v5-2022; the
marker's `kernel=` wins), `--seamemu-trace` (trace every call; a failing test shows the
instruction traces in its report), `--seamemu-module-binary PATH` (Intel's module behind the
trap instead of the model; also the marker's `module_binary=`).

The module imports only pytest and the standard library at load time: merely having seamemu
installed must not slow down or break unrelated test runs.  Everything else is imported when a
fixture or helper is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from seamemu.forward import forward

MARKER = "seamemu"
_HARNESS_OPTIONS = ("asm", "obj", "stubs", "entry", "platform", "abi", "module_version", "lps",
                    "include", "defines", "assembler", "vmx", "seamrr", "cpl", "module", "lp",
                    "inject", "module_binary", "kernel", "td")
_HARNESSES = pytest.StashKey[list]()


# -- the harness -------------------------------------------------------------------------------
class SeamHarness:
    """One assembled program on one emulated platform, with the calls a test makes on it."""

    def __init__(self, *, asm=None, obj=None, stubs=(), entry: str | None = None, platform=None,
                 abi: str | None = None, module_version: str | None = None,
                 lps: int | None = None, include=(), defines=None,
                 assembler: str = "keystone", vmx: bool | None = None, seamrr: bool | None = None,
                 cpl: int | None = None, module: bool | None = None, lp: int | None = None,
                 inject: str | None = None, trace: bool = False,
                 module_binary: str | None = None, kernel: str | None = None,
                 td: bool | None = None) -> None:
        from seamemu.kernel import generation, stub_files
        from seamemu.platform import as_platform
        from seamemu.session import Session
        from seamemu.stubs import GUEST_ENTRY, GUEST_STUB, stub

        self.kernel = gen = generation(kernel)
        # td=True: the LPs run vCPUs of a TD, and the default program is the guest's stub.
        self.convention = "tdcall" if td else gen.convention
        # A Platform, a TOML file or a preset name; module_version as `--module-version`.
        platform = as_platform(platform, module_version=module_version)
        paths = [*_paths(asm), *_objects(obj)] or None
        stubs = [stubs] if isinstance(stubs, str) else list(stubs)
        default = [stub(GUEST_STUB)] if td else stub_files(gen)
        self.session = Session(paths or default, platform=platform, abi=abi,
                               include_dirs=include, defines=defines, backend=assembler,
                               inject=inject, num_lps=lps, stubs=stubs,
                               module_binary=module_binary)
        self.entry = entry or ((GUEST_ENTRY if td else gen.entry) if paths is None else None)
        self.tracing = trace
        self.results: list = []          # every RunResult of this harness, in order
        self.traces: list = []           # with tracing on: every Trace, in order
        self.state(lp=lp, vmx=vmx, seamrr=seamrr, cpl=cpl, module=module, td=td)

    # the layers, for tests that need them
    machine = forward("session")
    module = forward("session")
    image = forward("session")
    platform = forward("session")
    td = forward("session", doc="The TD the LPs in the TD state run (model.guest.TdGuest: "
                                ".state, .records).")
    vmm = forward("session", doc="The VMM behind the TD's TDG.VP.VMCALL (seamemu.vmm.Vmm: "
                                 ".records, .console).")

    def state(self, *, lp: int | None = None, vmx: bool | None = None, seamrr: bool | None = None,
              cpl: int | None = None, module: bool | None = None,
              td: bool | None = None) -> SeamHarness:
        """Change the emulated CPU state of one LP (all LPs when `lp` is None); `td`: the LP
        runs a vCPU of the session's TD (True) or is the host again (False)."""
        self.session.set_state(lp=lp, vmx=vmx, seamrr=seamrr, cpl=cpl, module=module, td=td)
        return self

    def reset_module(self) -> SeamHarness:
        """A freshly booted module (SYSINIT_PENDING), CPU state kept."""
        self.session.reset_module()
        return self

    def alloc(self, size: int, align: int = 64, data: bytes | None = None) -> int:
        """A guest buffer for the test (zeroed, or `data`); its physical address."""
        return self.session.alloc(size, align, data)

    def read(self, pa: int, size: int) -> bytes:
        return self.session.machine.memory.read(pa, size)

    def _symbol(self, symbol: str | None) -> str:
        symbol = symbol or self.entry
        if symbol is None:
            from seamemu.errors import InputError
            raise InputError("seam.call: name the symbol to call (the harness has no default "
                             "entry for your own assembly; pass entry= to the marker)")
        return symbol

    def call(self, symbol: str | None = None, leaf: int | str = 0, *,
             convention: str | None = None, lp: int = 0, **regs: int):
        """Call `symbol` with RAX = `leaf` (number or spec name) and input registers `regs`
        (convention: the harness kernel's by default); returns the `RunResult` (outcome, rax,
        regs, out, calls, abi, rule, fault ...)."""
        symbol = self._symbol(symbol)
        convention = convention or self.convention
        number = leaf_number(leaf)
        if self.tracing:
            traced = self.trace(symbol, number, convention=convention, lp=lp, **regs)
            return traced.result
        result = self.session.call(symbol, convention=convention, leaf=number, inputs=regs, lp=lp)
        self.results.append(result)
        return result

    def trace(self, symbol: str | None = None, leaf: int | str = 0, *,
              convention: str | None = None, lp: int = 0, **regs: int):
        """Like `call`, recording every instruction: returns a TracedRun (.result, .trace)."""
        from seamemu.learn.traced import trace_call

        traced = trace_call(self.session, self._symbol(symbol),
                            convention=convention or self.convention,
                            leaf=leaf_number(leaf), inputs=regs, lp=lp)
        self.results.append(traced.result)
        self.traces.append(traced.trace)
        return traced


def _paths(files) -> list:
    if files is None:
        return []
    return [files] if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__") else list(files)


def _objects(files) -> list:
    """`obj=` files, each checked to be an ELF object (sources belong in `asm=`)."""
    from seamemu.errors import InputError
    from seamemu.frontend.objfile import is_object_file

    out = _paths(files)
    for path in out:
        if not is_object_file(path):
            raise InputError(f"obj={path!s}: not an ELF object file (build it with gcc -c; "
                             "give assembly sources in asm=)")
    return out


def leaf_number(leaf: int | str) -> int:
    """A leaf given as a number or a spec name ("TDH.SYS.INFO", "TDH_SYS_INFO", "SEAMLDR.INFO",
    "TDG.VP.INFO")."""
    if isinstance(leaf, int):
        return leaf
    from seamemu.arch.leaves import leaf_rax
    from seamemu.errors import InputError

    rax = leaf_rax(leaf)
    if rax is not None:
        return rax
    raise InputError(f"leaf {leaf!r}: not a known leaf name (e.g. TDH.SYS.INFO)")


# -- assertions --------------------------------------------------------------------------------
def _describe(result) -> str:
    from seamemu.session.result import rax_name

    convention = getattr(result, "convention", "")
    name = rax_name(result.rax, getattr(result, "leaf", 0), convention)
    text = f"outcome {result.outcome}, RAX 0x{result.rax:016x} ({name})"
    if result.rule:
        insn = "TDCALL" if convention in ("tdcall", "hypercall") else "SEAMCALL"
        text += f"; {insn} rule: {result.rule}"
    if result.fault and not result.fault.handled_by:
        text += f"; unhandled {result.fault.name} at {result.fault.symbol}"
    return text


def assert_outcome(result, expected: str) -> None:
    """The call ended as `expected`: "returned", "#GP", "#UD", "VMfailInvalid", ..."""
    __tracebackhide__ = True
    if result.outcome != expected:
        raise AssertionError(f"expected outcome {expected}, got {_describe(result)}")


def assert_status(result, expected: int | str) -> None:
    """RAX after the call equals `expected`: a value, or a name (TDX_SUCCESS, TDX_SEAMCALL_GP)."""
    __tracebackhide__ = True
    from seamemu.arch.ghci import TDVMCALL_STATUSES
    from seamemu.arch.kernel import SW_ERROR_NAMES
    from seamemu.arch.status import status_value
    from seamemu.session.result import NO_CALL

    if result.outcome in NO_CALL:  # RAX holds what the function left, not a status
        raise AssertionError(f"expected RAX {expected}, but {NO_CALL[result.outcome]} "
                             f"({_describe(result)})")
    if isinstance(expected, str):
        by_name = {v: k for k, v in SW_ERROR_NAMES.items()} | dict(TDVMCALL_STATUSES)
        value = by_name[expected] if expected in by_name else status_value(expected)
    else:
        value = expected
    if result.rax != value:
        raise AssertionError(f"expected RAX 0x{value:016x} ({expected}), got {_describe(result)}")


def assert_abi_preserved(result) -> None:
    """SysV: callee-saved registers (RBX, RBP, R12-R15) and RSP restored, DF clear, returned."""
    __tracebackhide__ = True
    abi = result.abi
    if abi.preserved:
        return
    problems = []
    if not abi.returned:
        problems.append(f"did not return to its caller ({_describe(result)})")
    if abi.clobbered:
        before, after = result.raw.regs_before, result.regs
        problems.append("clobbered " + ", ".join(
            f"{r.upper()} 0x{before[r]:016x} -> 0x{after[r]:016x}" for r in abi.clobbered))
    if not abi.rsp_balanced:
        problems.append("RSP not balanced")
    if not abi.df_clear:
        problems.append("DF left set")
    raise AssertionError("ABI not preserved: " + "; ".join(problems))


def strategies():
    """The fuzzer's Hypothesis strategies (seamemu.fuzz.strategies), imported on first use."""
    return importlib.import_module("seamemu.fuzz.strategies")


def __getattr__(name: str) -> Any:
    """Re-export the fuzzer's strategies lazily: `from seamemu.pytest_plugin import gprs`."""
    # pytest and pluggy probe plugin modules for hook-like names (pytest_plugins, ...): those
    # must not trigger the import.
    if name.startswith(("_", "pytest")):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = strategies()
    except ImportError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (and "
                             "seamemu.fuzz.strategies is not available)") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


# -- pytest hooks and fixtures -----------------------------------------------------------------
def pytest_addoption(parser) -> None:
    group = parser.getgroup("seamemu", "seamemu: SEAMCALL assembly on an emulated TDX host")
    group.addoption("--seamemu-platform", default=None, metavar="FILE|PRESET",
                    help="platform for the seam fixture (default: seamemu's default platform)")
    group.addoption("--seamemu-kernel", default=None, metavar="GEN",
                    help="kernel generation for the seam fixture: mainline (default), 6.8 or "
                         "v5-2022")
    group.addoption("--seamemu-trace", action="store_true", default=False,
                    help="trace every seam call; a failing test shows the instruction traces")
    group.addoption("--seamemu-module-binary", default=None, metavar="PATH",
                    help="run Intel's TDX module (libtdx.so) behind the trap instead of the "
                         "model (default: $SEAMEMU_MODULE_BINARY, else the platform's)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(asm=None, obj=None, stubs=(), entry=None, platform=None, abi=None, "
        "module_version=None, lps=None, "
        "include=(), "
        "defines=None, assembler='keystone', vmx=None, seamrr=None, cpl=None, module=None, "
        "lp=None, inject=None, module_binary=None, kernel=None, td=None): configure the seam "
        "fixture for this test (td=True: a TD's vCPU, the guest's stub asm/tdcall.S)")


def _options(request, overrides: dict) -> dict:
    marker = request.node.get_closest_marker(MARKER)
    kw = dict(marker.kwargs) if marker is not None else {}
    unknown = sorted(set(kw) - set(_HARNESS_OPTIONS))
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: unknown option(s) {', '.join(unknown)}; "
                                f"known: {', '.join(_HARNESS_OPTIONS)}")
    given = f"@pytest.mark.{MARKER}(kernel={{}})"
    if overrides.get("kernel") is not None:
        given = "seam_factory(kernel={})"
    kw.update(overrides)
    if kw.get("platform") is None:
        kw["platform"] = request.config.getoption("--seamemu-platform")
    if kw.get("kernel") is None:
        kw["kernel"] = request.config.getoption("--seamemu-kernel")
        given = "--seamemu-kernel"
    if kw["kernel"] is not None:
        from seamemu.kernel import generation

        generation(kw["kernel"], given)   # an unknown name, named where the user wrote it
    kw["trace"] = request.config.getoption("--seamemu-trace")
    if kw.get("module_binary") is None:
        kw["module_binary"] = request.config.getoption("--seamemu-module-binary")
    return kw


def _remember(request, harness: SeamHarness) -> SeamHarness:
    request.node.stash.setdefault(_HARNESSES, []).append(harness)
    return harness


@pytest.fixture
def seam(request) -> SeamHarness:
    """A SeamHarness for this test, configured by @pytest.mark.seamemu(...)."""
    return _remember(request, SeamHarness(**_options(request, {})))


@pytest.fixture
def seam_factory(request):
    """Build harnesses with options of their own: seam_factory(cpl=3, asm=[...])."""
    def make(**kw) -> SeamHarness:
        return _remember(request, SeamHarness(**_options(request, kw)))
    return make


@pytest.fixture
def seam_strategies():
    """seamemu.fuzz.strategies (Hypothesis strategies for registers, leaves, CPU states)."""
    try:
        return strategies()
    except ImportError as exc:
        pytest.skip(f"seamemu's Hypothesis strategies are not available: {exc}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    harnesses = item.stash.get(_HARNESSES, [])
    traces = [t for h in harnesses for t in h.traces]
    if not traces:
        return
    from seamemu.trace import format_trace

    text = "\n\n".join(format_trace(t) for t in traces)
    report.sections.append(("seamemu traces", text))


__all__ = ["SeamHarness", "assert_abi_preserved", "assert_outcome", "assert_status",
           "leaf_number", "strategies"]
