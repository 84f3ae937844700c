# SPDX-License-Identifier: MIT
"""The module lifecycle as the model really behaves: states, and the leaves on their edges.

Nothing here is typed by hand from the spec.  The states are the model's `SysState`; the edges
come from driving a `TdxModule` (pure Python, no CPU) through the kernel's bring-up order on a
small probe platform and, after every step, trying each modelled leaf on a replay of that
prefix: a leaf that succeeds from state A and leaves the module in state B is an edge A -> B
(a self-loop when A = B).  The dispatcher's admission table, the leaves' checks and their state
changes all take part, so the figure follows any change to them.

Probe platform: 2 packages of 1 LP, one 1 GiB CMR and one TDMR over it whose PAMTs sit in a
reserved area at 768 MiB; SEAMRR above it.  The canonical inputs are what Linux passes
(arch/x86/virt/vmx/tdx/tdx.c: init_tdx_module(), config_tdx_module(), config_global_keyid(),
init_tdmrs(); TDH.SYS.INFO with MAX_CMRS entries).
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.leaves import leaf_by_name
from seamemu.arch.metadata import global_field
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.sysinfo import MAX_CMRS, TDSYSINFO_STRUCT_SIZE, pack_tdmr_info
from seamemu.model import TdxModule, all_leaf_specs
from seamemu.model.module_state import SysState
from seamemu.platform.facts import Cmr, GiB, MemoryRegion, MiB, ModuleInfo, Platform, Seamrr

PAGE = 4096
_SEAMRR_BASE, _SEAMRR_SIZE = GiB, 64 * MiB
_PAMT = 768 * MiB                     # PAMT block inside the TDMR, reserved there
_PAMT_SIZES = (4 * MiB, 2 * PAGE, PAGE)   # 4K, 2M, 1G PAMTs of a 1 GiB TDMR (16-byte entries)
_ARRAY, _ENTRY, _INFO, _CMRS, _PAGE = 0x100000, 0x101000, 0x110000, 0x111000, 0x120000


class _Memory:
    """Guest memory for the probe: a dict of pages over the probe's one memory region."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.pages: dict[int, bytearray] = {}

    def present(self, pa: int, size: int) -> bool:
        return pa >= 0 and pa + size <= self.end

    def read(self, pa: int, size: int) -> bytes:
        out = bytearray()
        while size > 0:
            page, off = divmod(pa, PAGE)
            n = min(size, PAGE - off)
            out += self.pages.get(page, bytes(PAGE))[off:off + n]
            pa, size = pa + n, size - n
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            page, off = divmod(pa, PAGE)
            n = min(len(view), PAGE - off)
            self.pages.setdefault(page, bytearray(PAGE))[off:off + n] = view[:n]
            pa, view = pa + n, view[n:]


def probe_platform(abi: str) -> Platform:
    mask = (((1 << 46) - 1) & ~(_SEAMRR_SIZE - 1)) | (1 << 10) | (1 << 11)
    return Platform(
        name="lifecycle-probe",
        memory=(MemoryRegion(0, GiB), MemoryRegion(_SEAMRR_BASE, _SEAMRR_SIZE, "reserved")),
        cmrs=(Cmr(0, GiB),), packages=2, cores_per_package=1, threads_per_core=1,
        seamrr=(Seamrr(_SEAMRR_BASE | (1 << 3), mask),),
        module=ModuleInfo(abi=abi),
    )


def _tdmr() -> bytes:
    p4k, p2m, p1g = _PAMT, _PAMT + _PAMT_SIZES[0], _PAMT + _PAMT_SIZES[0] + _PAMT_SIZES[1]
    return pack_tdmr_info(0, GiB, pamt_4k=(p4k, _PAMT_SIZES[0]), pamt_2m=(p2m, _PAMT_SIZES[1]),
                          pamt_1g=(p1g, _PAMT_SIZES[2]), reserved=((_PAMT, sum(_PAMT_SIZES)),))


def canonical_inputs(platform: Platform) -> dict[str, dict[str, int]]:
    """The registers the kernel passes to each TDH.SYS leaf (buffers at fixed probe PAs)."""
    return {
        "TDH.SYS.INIT": {},
        "TDH.SYS.LP.INIT": {},
        "TDH.SYS.INFO": {"rcx": _INFO, "rdx": TDSYSINFO_STRUCT_SIZE, "r8": _CMRS, "r9": MAX_CMRS},
        "TDH.SYS.RD": {"rdx": global_field("NUM_CMRS").field_id},
        "TDH.SYS.RDALL": {"rdx": _PAGE, "r8": (1 << 64) - 1},
        "TDH.SYS.CONFIG": {"rcx": _ARRAY, "rdx": 1, "r8": platform.first_tdx_keyid},
        "TDH.SYS.KEY.CONFIG": {},
        "TDH.SYS.TDMR.INIT": {"rcx": 0},
        "TDH.SYS.SHUTDOWN": {"rcx": 0},          # MODULE_HV of every modelled 1.5 release
        "TDH.SYS.LP.SHUTDOWN": {},
    }


def bring_up_order(platform: Platform, abi: str) -> list[tuple[int, str]]:
    """(LP, leaf) in the order Linux brings the module up, then shuts it down."""
    lps = range(platform.num_lps)
    steps = [(0, "TDH.SYS.INIT")] + [(lp, "TDH.SYS.LP.INIT") for lp in lps]
    steps += [(0, "TDH.SYS.CONFIG")]
    steps += [(lp, "TDH.SYS.KEY.CONFIG") for lp in lps]     # one LP per package here
    steps += [(0, "TDH.SYS.TDMR.INIT")]
    steps += [(0, "TDH.SYS.SHUTDOWN" if abi != "1.0" else "TDH.SYS.LP.SHUTDOWN")]
    return steps


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    leaves: tuple[str, ...]


@dataclass(frozen=True)
class Lifecycle:
    abi: str
    states: tuple[str, ...]
    edges: tuple[Edge, ...]
    before_ready: tuple[str, ...]      # leaves the dispatcher admits before SYS_READY
    in_shutdown: tuple[str, ...]       # ... and in SYS_SHUTDOWN


class _Probe:
    def __init__(self, abi: str) -> None:
        self.abi = abi
        self.platform = probe_platform(abi)
        self.inputs = canonical_inputs(self.platform)
        self.order = bring_up_order(self.platform, abi)

    def fresh(self) -> tuple[TdxModule, _Memory]:
        mem = _Memory(GiB)
        mem.write(_ARRAY, _ENTRY.to_bytes(8, "little"))
        mem.write(_ENTRY, _tdmr())
        return TdxModule(self.platform, abi=self.abi), mem

    def call(self, module: TdxModule, mem: _Memory, lp: int, name: str):
        spec = next(s for s in all_leaf_specs() if s.name == name)
        regs = dict.fromkeys(ABI_ORDER, 0)
        regs.update(self.inputs.get(name, {}))
        regs["rax"] = spec.number
        return module.seamcall(lp, regs, mem)


def probe_lifecycle(abi: str = "1.5") -> Lifecycle:
    """Drive the model and collect every (state, leaf, state) a TDX_SUCCESS call shows
    (about 0.05 s: a few hundred model calls, no CPU emulation)."""
    probe = _Probe(abi)
    leaves = [s.name for s in all_leaf_specs() if not s.loader and abi in s.generations]
    seen: dict[tuple[str, str], set[str]] = {}
    for k in range(len(probe.order) + 1):
        for lp in range(probe.platform.num_lps):
            for name in leaves:
                module, mem = probe.fresh()
                for step_lp, step in probe.order[:k]:
                    probe.call(module, mem, step_lp, step)
                before = module.state_name()
                reply = probe.call(module, mem, lp, name)
                status = reply.regs.get("rax", 1 << 63) if reply.fault is None else 1 << 63
                if status == 0:
                    seen.setdefault((before, module.state_name()), set()).add(name)
    order = {name: i for i, name in enumerate(leaves)}
    edges = tuple(Edge(a, b, tuple(sorted(names, key=order.__getitem__)))
                  for (a, b), names in sorted(seen.items(), key=lambda kv: (
                      SysState[kv[0][0]], SysState[kv[0][1]])))
    infos = [info for n in leaves if (info := leaf_by_name(n)) is not None]
    return Lifecycle(abi, tuple(s.name for s in SysState), edges,
                     tuple(i.name for i in infos if i.before_ready),
                     tuple(i.name for i in infos if i.in_shutdown))


__all__ = ["Edge", "Lifecycle", "bring_up_order", "canonical_inputs", "probe_lifecycle",
           "probe_platform"]
