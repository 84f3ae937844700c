# SPDX-License-Identifier: MIT
"""An LP's exceptions, delivered: what its hooks recorded when they stopped the run.

The hooks of `LogicalProcessor` (machine/lp.py) never deliver from inside Unicorn when RIP
would be overwritten after them (INTR, memory faults, trapped instructions): they record what
happened and stop; the run loop then calls `_deliver_pending`, which delivers the exception
through the kernel's exception table or a guest IDT (machine/faults.py) and says where the
run goes on.  Non-canonical addresses are decided from the faulting instruction
(machine/noncanonical.py): #SS(0) or #GP(0), and a branch's #GP(0) at the branch, which is
why the image's branches are watched (`watch_branches`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from unicorn import (
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_HOOK_CODE,
    UC_MEM_FETCH_PROT,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
)

from seamemu.arch.kernel import X86_TRAP_UD
from seamemu.disasm import Decoded, decode_structure
from seamemu.machine.faults import ERROR_CODE_VECTORS, as_written, pf_error_code
from seamemu.machine.linear import NON_CANONICAL, LinearTrap, linear_fault
from seamemu.machine.noncanonical import branch_origin, stack_reference
from seamemu.machine.regs import FAST, RIP
from seamemu.machine.results import FaultEvent

if TYPE_CHECKING:
    from unicorn import Uc

    from seamemu.machine.dispatch import InsnTable
    from seamemu.machine.faults import Delivery
    from seamemu.machine.linear import LinearMap, TrapWindow
    from seamemu.machine.memory import PhysicalMemory
    from seamemu.machine.regs import RegFile
    from seamemu.traps.cpu_state import CpuState
    from seamemu.traps.rule_table import Effect


class FaultDelivery:
    """The delivery half of a LogicalProcessor (a mixin: the state is the LP's)."""

    uc: Uc
    memory: PhysicalMemory
    regfile: RegFile
    delivery: Delivery
    linear: LinearMap
    window: TrapWindow
    insns: InsnTable
    faults: list[FaultEvent]
    code_patches: dict[int, bytes]
    branch_site: int | None
    _branch_sites: tuple[int, ...] = ()
    _branch_hooks: list[int]
    _cpu: CpuState

    def _stop(self, why: tuple) -> bool:
        raise NotImplementedError

    def apply(self, name: str, rip: int, effect: Effect, vals: list[int]) -> bool:
        raise NotImplementedError

    def _code_at(self, rip: int) -> bytes:
        raise NotImplementedError

    def _deliver_inline(self, vals: list[int], vector: int, error_code: int | None, rip: int,
                        detail: str) -> bool:
        event = self.delivery.deliver(self.uc, vals, vector, error_code, rip, detail=detail)
        self.faults.append(self._as_written(event))
        if event.handled_by is None:
            return self._stop(("fault",))
        self.regfile.write(vals)
        return True

    def _as_written(self, event: FaultEvent) -> FaultEvent:
        return as_written(event, self.code_patches)

    def _deliver_pending(self, pending: tuple) -> int | None:
        """Deliver an exception recorded by the INTR or memory hooks; the new RIP or None."""
        vals = self.regfile.read()
        address = vals[RIP]
        if pending[0] == "intr":
            vector = pending[1]
            soft = self._is_soft_int(address, vector)
            # QEMU does not expose the error code; 0 is what its own #GP(0)/#SS(0) push.
            error_code = 0 if vector in ERROR_CODE_VECTORS and not soft else None
            event = self.delivery.deliver(self.uc, vals, vector, error_code, address, soft=soft,
                                          detail="software interrupt" if soft else "")
        elif pending[0] == "linear":
            event = self._deliver_linear(vals, address, pending[1], pending[2])
        elif pending[0] == "insn":
            return self._execute_hooked(vals, pending[1])
        else:
            _, access_addr, access, present = pending
            write = access in (UC_MEM_WRITE_UNMAPPED, UC_MEM_WRITE_PROT)
            fetch = access in (UC_MEM_FETCH_UNMAPPED, UC_MEM_FETCH_PROT)
            what = "fetch" if fetch else "write" if write else "read"
            state = "unplugged" if self._unplugged(access_addr) else "not present"
            error_code = pf_error_code(present, write, self._cpu.cpl == 3, fetch)
            event = self.delivery.deliver(
                self.uc, vals, 14, error_code, address, access=access_addr,
                detail=f"wild {what} of 0x{access_addr:016x} ({state})")
        self.faults.append(self._as_written(event))
        if self.window.full:  # recycle the trap window's pages (they are per-TLB)
            # The 2.1.4 binding has no wrapper for UC_CTL_TLB_FLUSH; the generic ctl is it.
            self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
            self.window.flushed()
        if event.handled_by is None:
            return None
        self.regfile.write(vals)
        return vals[RIP]

    def _execute_hooked(self, vals: list[int], rip: int) -> int | None:
        """Apply the table's effect for an instruction an instruction hook stopped at."""
        vals[RIP] = rip
        code = self._code_at(rip)
        entry = self.insns.first(rip, code)
        effect = entry.handler(self, rip, code, vals) if entry is not None else None
        if entry is None or effect is None:  # not expected: the hooks match the table's rows
            done = self._deliver_inline(vals, X86_TRAP_UD, None, rip, "invalid opcode")
        else:
            done = self.apply(entry.name, rip, effect, vals)
        return vals[RIP] if done else None

    def _deliver_linear(self, vals: list[int], rip: int, trap: LinearTrap, access: int):
        """Deliver an access the linear map refused: #GP(0)/#SS(0) if non-canonical (at the
        branch for a fetch), else #PF."""
        write = access in (UC_MEM_WRITE_UNMAPPED, UC_MEM_WRITE_PROT)
        fetch = access in (UC_MEM_FETCH_UNMAPPED, UC_MEM_FETCH_PROT)
        non_canonical = trap.kind == NON_CANONICAL
        stack = (non_canonical and not fetch
                 and stack_reference(self._decode(rip), vals, trap.address))
        vector, error_code, detail = linear_fault(trap, self.linear, write=write, fetch=fetch,
                                                  user=self._cpu.cpl == 3, stack=stack)
        branch = None
        if fetch and non_canonical:
            branch, detail = self._branch_to(vals, trap.address, detail)
            rip = vals[RIP]
        event = self.delivery.deliver(self.uc, vals, vector, error_code, rip,
                                      access=trap.address, detail=detail)
        return event if branch is None else dataclasses.replace(event, branch_target=trap.address)

    def _decode(self, rip: int) -> Decoded | None:
        return decode_structure(self.memory.peek(rip, 16), rip)

    def _branch_to(self, vals: list[int], target: int, detail: str) -> tuple[int | None, str]:
        """Where the CPU reports a fetch from non-canonical `target`: at the watched branch
        that went there, its effect undone in `vals` (RIP and RSP as before it); (the branch
        or None, the words)."""
        site = self.branch_site
        if site is not None:
            insn = self._decode(site)
            before = branch_origin(insn, site, vals, target, self._read_u64)
            if before is not None and insn is not None:
                vals[:] = before
                return site, (f"{detail}: the target of `{insn.text}`, which raises the "
                              "#GP(0) itself, before RIP or RSP change")
        return None, (f"{detail}; no branch was seen to go there (a real CPU raises the #GP(0) "
                      "on the jump, call or return to it; here RIP is the target)")

    def _read_u64(self, address: int) -> int | None:
        data = self.memory.peek(address, 8)    # short outside guest memory: not that branch
        return int.from_bytes(data, "little") if len(data) == 8 else None

    def watch_branches(self, sites: Iterable[int]) -> None:
        """Note the address of each of these branches when it runs (before the first run: a
        hook added after translation may not fire), so a branch to a non-canonical address
        is reported at the branch (machine/noncanonical.py).  One callback per run of a
        watched branch: the RETs and indirect JMPs/CALLs of the image."""
        self._branch_sites = tuple(sites)
        self._branch_hooks = [self._watch_branch(site) for site in self._branch_sites]

    def _watch_branch(self, site: int) -> int:
        # Straight through ctypes where the binding allows (regs.FAST): one callback per
        # RET of every call is on the hot path.
        handle = None if FAST is None else FAST.hook_code(self.uc, self._on_branch, site, site)
        if handle is None:
            handle = self.uc.hook_add(UC_HOOK_CODE, self._on_branch, None, site, site)
        return handle

    def pause_branch_watch(self) -> None:
        """No branch watch until `resume_branch_watch` (a batch of calls, machine/batch.py:
        a fetch from a non-canonical address stops the batch, and the call that did it runs
        by itself, watched, so its #GP(0) is still reported at the branch)."""
        for handle in self._branch_hooks:
            self.uc.hook_del(handle)
        self._branch_hooks = []

    def resume_branch_watch(self) -> None:
        """Watch the branches again; their translated code is dropped, so code translated
        while the watch was paused cannot skip the new hooks (unicorn-engine/unicorn#2200)."""
        if self._branch_hooks or not self._branch_sites:
            return
        self._branch_hooks = [self._watch_branch(site) for site in self._branch_sites]
        for site in self._branch_sites:
            self.uc.ctl_remove_cache(site, site + 1)

    def _on_branch(self, _uc, address: int, _size: int, _user) -> None:
        self.branch_site = address

    def _is_soft_int(self, rip_after: int, vector: int) -> bool:
        # INTR reports traps with RIP after the instruction: int3 (CC) or int imm8 (CD ib).
        return (self.memory.peek(rip_after - 2, 2) == bytes((0xCD, vector))
                or (vector == 3 and self.memory.peek(rip_after - 1, 1) == b"\xcc"))

    def _unplugged(self, pa: int) -> bool:
        return any(b <= pa < e for b, e in self.memory.unplugged)


__all__ = ["FaultDelivery"]
