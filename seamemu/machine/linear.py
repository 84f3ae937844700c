# SPDX-License-Identifier: MIT
"""The guest's linear address space: what a running kernel leaves mapped for the code it runs.

Unicorn runs 64-bit code without paging, and QEMU's physical address space is 52 bits wide,
so without help an address with bit 52 set aliases low memory and address 0 is ordinary RAM.
Each LP therefore puts Unicorn in its software-TLB mode (`UC_TLB_VIRTUAL`): a Python
callback fills a TLB entry on a miss, never on a hit, so straight-line code pays nothing.
The fill maps a page by these rules, first match wins:

1. Non-canonical (bits 63:47 not all equal; 4-level paging, CR4.LA57 = 0): any access raises
   #GP(0), or #SS(0) for a reference through SS; a branch there is reported at the branch
   (which of the two, and where: machine/noncanonical.py, from the decoded instruction).
   Spec: Intel SDM Vol. 1 §3.3.7.1 "Canonical Addressing"; Vol. 3A §6.15 "Interrupt 13"
   and "Interrupt 12" (non-canonical references).
2. The first 64 KiB: nothing is mapped there, so a NULL-ish load, store, call or `ret`
   raises #PF.  65536 is the mmap_min_addr the kernel's help text recommends for x86
   (Linux mm/Kconfig, DEFAULT_MMAP_MIN_ADDR), and kernel code never has these pages mapped.
3. A stack guard page (the page below each LP's stack, like the kernel's VMAP_STACK guard):
   #PF, reported as "stack guard page was hit" (Linux arch/x86/kernel/traps.c,
   handle_stack_overflow()).
4. The upper (kernel) half: nothing of the emulation lives there, #PF.
5. Everything else in the lower half is identity-mapped onto guest physical memory, whose
   own rules (holes in the platform's map, hot-removed ranges, lazy backing) apply as before.
6. The memory the machine maps from the start (the image, its own region with the stacks,
   the first chunk of scratch with the argument buffers) is no-execute except for code: the
   image's code sections and the machine's sentinel page.  The kernel maps its data, its
   stacks and the direct map no-execute too (Linux arch/x86: PAGE_KERNEL has _PAGE_NX;
   CONFIG_STRICT_KERNEL_RWX), so a jump into the stack or the argument struct raises #PF
   with the present and instruction-fetch bits (SDM Vol. 3A §4.6, §4.7).  Memory backed
   later (the rest of the platform's RAM) stays executable, as before this rule.
   The rule also keeps stores to those pages on Unicorn's fast path: a store to a page whose
   TLB entry is executable, or that any memory hook covers, is checked for self-modifying
   code on every store (unicorn qemu/accel/tcg/cputlb.c notdirty_write), about 30x slower
   (measured: 157 ns against 6 ns a store).

A page that must fault is mapped onto its own page of a "trap window" of physical addresses
that is never backed, so the access reaches the LP's unmapped-memory hook with the exact
address and access type (read, write, fetch) and `trap_at` turns it back into the linear
address and the rule that refused it.  Each LP hands out window pages per faulting linear
page (`TrapWindow`) and recycles them after flushing its TLB when they run out.
"""

from __future__ import annotations

from typing import NamedTuple

from seamemu.machine.memory import PAGE

NULL_GUARD = 0x1_0000
CANONICAL_LOW_END = 1 << 47             # first non-canonical address above the lower half
CANONICAL_HIGH_START = (1 << 64) - (1 << 47)
# The trap window: above every identity-mapped (lower-half) address, below QEMU's 2^52.
TRAP_WINDOW = 1 << 48
TRAP_PAGES = 4096
_PAGE_MASK = ~(PAGE - 1)

# Why a linear page is not mapped (the rule that refused it).
NON_CANONICAL = "non-canonical"
NULL_PAGE = "null"
STACK_GUARD = "stack-guard"
UPPER_HALF = "upper-half"


class LinearTrap(NamedTuple):
    """A refused access: the linear address, and the rule (one of the names above)."""

    address: int
    kind: str


def canonical(address: int) -> bool:
    """Bits 63:47 all equal (48-bit linear addresses, CR4.LA57 = 0)."""
    return address < CANONICAL_LOW_END or CANONICAL_HIGH_START <= address < 1 << 64


class LinearMap:
    """The machine's linear-address rules (shared by its LPs)."""

    def __init__(self) -> None:
        self.guards: dict[int, tuple[int, int]] = {}  # guard page -> the stack [lo, hi) it guards
        self.code_pages: set[int] = set()
        self.nx_pages: set[int] = set()   # mapped no-execute (rule 6)

    def add_code(self, lo: int, hi: int) -> None:
        """The pages of [lo, hi) hold code: never no-execute."""
        self.code_pages.update(range(lo & _PAGE_MASK, hi, PAGE))
        self.nx_pages.difference_update(self.code_pages)

    def add_no_execute(self, lo: int, hi: int) -> None:
        """The pages of [lo, hi) that are not code are no-execute."""
        self.nx_pages.update(p for p in range(lo & _PAGE_MASK, hi, PAGE)
                             if p not in self.code_pages)

    def executable(self, address: int) -> bool:
        return (address & _PAGE_MASK) not in self.nx_pages

    def add_guard(self, page: int, stack_lo: int, stack_hi: int) -> None:
        self.guards[page & _PAGE_MASK] = (stack_lo, stack_hi)

    def refusal(self, address: int) -> str | None:
        """Why `address` is not mapped, or None when it is identity-mapped."""
        if NULL_GUARD <= address < CANONICAL_LOW_END:
            return STACK_GUARD if (address & _PAGE_MASK) in self.guards else None
        if address < NULL_GUARD:
            return NULL_PAGE
        return UPPER_HALF if canonical(address) else NON_CANONICAL

    def mapped(self, address: int, size: int) -> bool:
        """Every byte of [address, address + size) is identity-mapped (not refused)."""
        end = address + max(size, 1) - 1
        return all(self.refusal(p) is None
                   for p in (address, *range((address & _PAGE_MASK) + PAGE, end + 1, PAGE), end))

    def guard_of(self, address: int) -> tuple[int, int] | None:
        """The stack [lo, hi) whose guard page holds `address`."""
        return self.guards.get(address & _PAGE_MASK)


_SS, _GP, _PF = 12, 13, 14   # Spec: SDM Vol. 3A Table 6-1


def linear_fault(trap: LinearTrap, rules: LinearMap, *, write: bool, fetch: bool,
                 user: bool, stack: bool = False) -> tuple[int, int, str]:
    """(vector, error code, words) for a refused access: #GP(0), or #SS(0) for a `stack`
    reference, when the address is non-canonical, else a not-present #PF (error code per
    SDM Vol. 3A §4.7)."""
    what = "fetch" if fetch else "write" if write else "read"
    address, kind = trap
    if kind == NON_CANONICAL:
        stack = stack and not fetch
        detail = (f"non-canonical {what} of 0x{address:016x} (bits 63:47 differ)"
                  + (", a stack reference (SS)" if stack else ""))
        return (_SS if stack else _GP), 0, detail
    error_code = int(write) << 1 | int(user) << 2 | int(fetch) << 4
    if kind == NULL_PAGE:
        detail = (f"NULL pointer dereference: {what} of 0x{address:016x} (nothing is mapped "
                  f"below 0x{NULL_GUARD:x})")
    elif kind == STACK_GUARD:
        lo, hi = rules.guard_of(address) or (0, 0)
        detail = (f"stack guard page was hit at 0x{address:016x} (stack is "
                  f"0x{lo:016x}..0x{hi - 1:016x})")
    else:
        detail = f"wild {what} of 0x{address:016x} (nothing is mapped in the upper half)"
    return _PF, error_code, detail


class TrapWindow:
    """One LP's software-TLB fill: identity pages, and trap-window pages for refused ones.

    Per LP because each LP's Unicorn instance has its own TLB: a window page may be reused
    only after that TLB was flushed.
    """

    def __init__(self, rules: LinearMap) -> None:
        self.rules = rules
        self._guards = rules.guards
        self._window: dict[int, int] = {}             # linear page -> trap-window page
        self._linear: dict[int, tuple[int, str]] = {}  # trap-window page -> (linear page, kind)

    def translate(self, page: int) -> int:
        """The physical page a TLB fill maps the linear `page` to (page aligned, 64-bit)."""
        if NULL_GUARD <= page < CANONICAL_LOW_END and page not in self._guards:
            return page
        window = self._window.get(page)
        if window is None:
            # When the window is full the last page is shared until the LP flushes its TLB
            # (the run loop does, between two emu_starts, as soon as `full` says so).
            window = TRAP_WINDOW + min(len(self._window), TRAP_PAGES - 1) * PAGE
            self._window[page] = window
            self._linear[window] = (page, self.rules.refusal(page) or NULL_PAGE)
        return window

    def trap_at(self, physical: int) -> LinearTrap | None:
        """The refused linear access behind a physical address in the trap window, if any."""
        if not TRAP_WINDOW <= physical < TRAP_WINDOW + TRAP_PAGES * PAGE:
            return None
        found = self._linear.get(physical & _PAGE_MASK)
        if found is None:
            return None
        page, kind = found
        return LinearTrap(page | (physical & (PAGE - 1)), kind)

    @property
    def full(self) -> bool:
        """Every window page is handed out: flush the LP's TLB, then call `flushed`."""
        return len(self._window) >= TRAP_PAGES - 1

    def flushed(self) -> None:
        """The LP's TLB was flushed: the window's pages are free again."""
        self._window.clear()
        self._linear.clear()


__all__ = [
    "CANONICAL_HIGH_START",
    "CANONICAL_LOW_END",
    "LinearMap",
    "LinearTrap",
    "NON_CANONICAL",
    "NULL_GUARD",
    "NULL_PAGE",
    "STACK_GUARD",
    "TRAP_PAGES",
    "TRAP_WINDOW",
    "TrapWindow",
    "UPPER_HALF",
    "canonical",
    "linear_fault",
]
