# SPDX-License-Identifier: MIT
"""What the emulated instructions do in SEAM root mode: one function per mnemonic.

Each takes the SEAM CPU, the register list (machine.regs.NAMES order, written back by the
caller with RIP advanced) and the decoded instruction.  `HaltRun` ends the module's run with a
reason, for what hardware would fault on or seamemu does not emulate.

- RDMSR/WRMSR: the LP's MSR table (seamemu.platform.msr_values, with the platform's [[msr]]
  rows); an MSR the platform does not implement, or a write the CPU refuses, is #GP(0)
  (SDM Vol. 2B/2D), which is fatal for the module outside its fault-safe WRMSR.
- VMREAD/VMWRITE/VMPTRLD/VMPTRST/VMCLEAR: `vmcs.VmcsStore`; flags per SDM Vol. 3C §31.2
  (VMsucceed clears CF PF AF ZF SF OF, VMfailInvalid sets CF).
- INVEPT/INVVPID: no guest translations are cached, so VMsucceed.
- SEAMOPS (intel/tdx-module src/common/accessors/vt_accessors.h): CAPABILITIES answers the
  platform's [seamops] bitmap for the LP (seamemu.platform.msr_values.seamops_capabilities;
  TDH.SYS.INIT needs leaves 4 and 5, the TD-preserving pair); SEAMDB_GETREF answers an empty
  SEAM database (index 0, nonce 0).  Other leaves stop the run: not emulated.
- PCONFIG leaf 0 (MKTME_KEY_PROGRAM, RBX = linear address of the KEY_PROGRAM_STRUCT: KeyID in
  bits 15:0, command in bits 39:32; SDM Vol. 2B "PCONFIG", M15 src/common/x86_defs/mktme.h):
  succeeds (RAX = 0, ZF = 0) and is logged per package; no key is modelled.
- MOVDIR64B: a 64-byte copy from m512 to [reg] (SDM Vol. 2B); the KeyID in the destination
  PTE is stripped like every other.
- XSAVES/XRSTORS: extended state is not modelled; XRSTORS is accepted, XSAVES writes an XSAVE
  header saying "every component in its initial state" (XSTATE_BV = 0, XCOMP_BV = bit 63).
- VMLAUNCH/VMRESUME: entering a TD is out of reach; the run stops and says so.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING

from seamemu.machine.regs import INDEX, RFLAGS
from seamemu.machine.seam.decode import Decoded
from seamemu.platform.msr_values import rdmsr_fault, wrmsr_fault

if TYPE_CHECKING:  # pragma: no cover
    from seamemu.machine.seam.cpu import SeamCpu

_RAX, _RBX, _RCX, _RDX = INDEX["rax"], INDEX["rbx"], INDEX["rcx"], INDEX["rdx"]
_R10, _RIP = INDEX["r10"], INDEX["rip"]
_CF, _ZF, _ARITH = 0x1, 0x40, 0x8D5
_MASK64 = (1 << 64) - 1
SEAMOPS_SUCCESS, SEAMOPS_INPUT_ERROR = 0, 1
XSAVE_HEADER = 512


class HaltRun(Exception):
    """Stop the module's run: hardware would fault here, or seamemu does not emulate it."""


def _succeed(vals: list[int]) -> None:
    vals[RFLAGS] &= ~_ARITH


def _fail_invalid(vals: list[int]) -> None:
    vals[RFLAGS] = (vals[RFLAGS] & ~_ARITH) | _CF


def _read_u64(cpu: SeamCpu, la: int, what: str) -> int:
    data = cpu.translator.read(la, 8)
    if data is None:
        raise HaltRun(f"page fault: {what} operand at linear 0x{la:016x} is not mapped")
    return int.from_bytes(data, "little")


def _write(cpu: SeamCpu, la: int, data: bytes, what: str) -> None:
    if not cpu.translator.write(la, data):
        raise HaltRun(f"page fault: {what} to linear 0x{la:016x}, which is not mapped")


def _address(insn: Decoded, vals: list[int]) -> int:
    """The linear address of the instruction's memory operand (RIP-relative from its end)."""
    assert insn.rm is not None
    return insn.rm.address(vals, vals[_RIP] + insn.length)


def _m64(cpu: SeamCpu, vals: list[int], insn: Decoded) -> int:
    """The instruction's 64-bit memory operand (a VMCS pointer, a descriptor's first word)."""
    return _read_u64(cpu, _address(insn, vals), insn.name.upper())


def rdmsr(cpu: SeamCpu, vals: list[int], _insn: Decoded | None) -> None:
    msr = vals[_RCX] & 0xFFFFFFFF
    table = cpu.msrs[cpu.lp]
    why = rdmsr_fault(table, msr)
    if why is not None:
        raise HaltRun(f"RDMSR 0x{msr:x} raised #GP(0): {why}")
    value = table[msr]
    vals[_RAX], vals[_RDX] = value & 0xFFFFFFFF, value >> 32


def wrmsr(cpu: SeamCpu, vals: list[int], _insn: Decoded | None) -> None:
    msr = vals[_RCX] & 0xFFFFFFFF
    value = (vals[_RAX] & 0xFFFFFFFF) | (vals[_RDX] & 0xFFFFFFFF) << 32
    table = cpu.msrs[cpu.lp]
    why = wrmsr_fault(table, msr, value)
    if why is not None:
        raise HaltRun(f"WRMSR 0x{msr:x} <- 0x{value:x} raised #GP(0): {why}")
    table[msr] = value


def vmread(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    assert insn.reg is not None and insn.rm is not None
    value = cpu.vmcs.read(cpu.lp, vals[insn.reg])
    if value is None:
        return _fail_invalid(vals)
    if insn.rm.reg_index is not None:
        vals[insn.rm.reg_index] = value
    else:
        _write(cpu, _address(insn, vals), value.to_bytes(8, "little"),
               "VMREAD")
    _succeed(vals)


def vmwrite(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    assert insn.reg is not None and insn.rm is not None
    if insn.rm.reg_index is not None:
        value = vals[insn.rm.reg_index]
    else:
        value = _m64(cpu, vals, insn)
    if not cpu.vmcs.write(cpu.lp, vals[insn.reg], value):
        return _fail_invalid(vals)
    _succeed(vals)


def vmptrld(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    cpu.vmcs.make_current(cpu.lp, _m64(cpu, vals, insn))
    _succeed(vals)


def vmptrst(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    pa = cpu.vmcs.current.get(cpu.lp)
    _write(cpu, _address(insn, vals),
           (_MASK64 if pa is None else pa).to_bytes(8, "little"), "VMPTRST")
    _succeed(vals)


def vmclear(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    cpu.vmcs.clear(cpu.lp, _m64(cpu, vals, insn))
    _succeed(vals)


def invalidate(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    _m64(cpu, vals, insn)
    _succeed(vals)


def seamops(cpu: SeamCpu, vals: list[int], _insn: Decoded) -> None:
    leaf = vals[_RAX]
    if leaf == 0:
        vals[_RAX] = cpu.seamops_caps[cpu.lp]
    elif leaf == 4:               # SEAMDB_GETREF: last entry index, its nonce, database size
        vals[_RAX] = SEAMOPS_SUCCESS
        for name in ("r10", "r11", "r12", "r13", "r14", "r15"):
            vals[INDEX[name]] = 0
    else:
        raise HaltRun(f"SEAMOPS leaf {leaf} is not emulated by seamemu (only CAPABILITIES and "
                      "SEAMDB_GETREF are)")


def pconfig(cpu: SeamCpu, vals: list[int], _insn: Decoded) -> None:
    if vals[_RAX] != 0:
        raise HaltRun(f"PCONFIG leaf {vals[_RAX]} is not emulated (only MKTME_KEY_PROGRAM)")
    head = _read_u64(cpu, vals[_RBX], "PCONFIG")
    keyid, command = head & 0xFFFF, (head >> 32) & 0xFF
    cpu.pconfig_log.append((cpu.slots[cpu.lp], keyid, command))
    vals[_RAX] = 0
    vals[RFLAGS] &= ~(_ARITH)


def movdir64b(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    assert insn.reg is not None
    src = _address(insn, vals)
    dst = vals[insn.reg]
    tr = cpu.translator
    if not (src | dst) & 63:       # both 64-byte aligned, so each inside one page: fast path
        host_src, host_dst = tr.host_address(src), tr.host_address(dst, write=True)
        if host_src is not None and host_dst is not None:
            ctypes.memmove(host_dst, host_src, 64)
            return
    data = cpu.translator.read(src, 64)
    if data is None:
        raise HaltRun(f"page fault: MOVDIR64B source 0x{src:016x} is not mapped")
    _write(cpu, vals[insn.reg], data, "MOVDIR64B")


def xrstors(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    _read_u64(cpu, _address(insn, vals) + XSAVE_HEADER, "XRSTORS")


def xsaves(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    base = _address(insn, vals)
    _write(cpu, base + XSAVE_HEADER, (0).to_bytes(8, "little") + (1 << 63).to_bytes(8, "little"),
           "XSAVES")


def td_entry(cpu: SeamCpu, vals: list[int], insn: Decoded) -> None:
    raise HaltRun(f"{insn.name.upper()}: entering a TD is not emulated by seamemu")


EMULATED: dict[str, Callable] = {
    "invept": invalidate,
    "invvpid": invalidate,
    "movdir64b": movdir64b,
    "pconfig": pconfig,
    "rdmsr": rdmsr,
    "seamops": seamops,
    "vmclear": vmclear,
    "vmlaunch": td_entry,
    "vmptrld": vmptrld,
    "vmptrst": vmptrst,
    "vmread": vmread,
    "vmresume": td_entry,
    "vmwrite": vmwrite,
    "wrmsr": wrmsr,
    "xrstors": xrstors,
    "xsaves": xsaves,
}

__all__ = ["EMULATED", "HaltRun"]
