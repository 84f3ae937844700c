# SPDX-License-Identifier: MIT
"""The guest's linear address space: NULL region, non-canonical addresses, stack guard pages."""

from __future__ import annotations

import pytest
from machine_helpers import StubTarget, build

from seamemu.errors import InputError
from seamemu.machine import Machine

GiB = 1 << 30


def everywhere(pa: int, size: int) -> bool:
    """A platform whose memory starts at physical 0, like the default one."""
    return pa + size <= 4 * GiB


NULLISH = """
load:
    mov rax, [rdi]
    ret
store:
    mov [rdi], rsi
    ret
call_it:
    call rdi
    ret
ret_to:
    push rdi
    ret
"""


@pytest.mark.parametrize("entry, error_code", [("load", 0), ("store", 0b10)])
def test_null_ish_data_access_is_a_page_fault_even_where_physical_memory_exists(entry, error_code):
    img = build(NULLISH)
    m = Machine(img, StubTarget(), present=everywhere)
    m.memory.write(0x40, b"\x11" * 8)  # physical page 0 is RAM the module can use
    r = m.call(entry, [0x40, 0x99])
    assert r.outcome == "fault"
    f = r.fault
    assert (f.name, f.error_code, f.access, f.address) == ("#PF", error_code, 0x40,
                                                           img.symbols[entry])
    assert "NULL pointer dereference" in f.detail
    assert m.memory.read(0x40, 8) == b"\x11" * 8   # the store did not land


def test_every_page_below_64k_faults_and_64k_is_mapped():
    img = build(NULLISH)
    m = Machine(img, StubTarget(), present=everywhere)
    assert m.call("load", [0xFFF8]).fault.access == 0xFFF8
    assert m.call("load", [0x10000]).outcome == "returned"


@pytest.mark.parametrize("entry", ["call_it", "ret_to"])
def test_call_or_ret_into_the_null_region_faults_on_the_fetch(entry):
    img = build(NULLISH)
    m = Machine(img, StubTarget(), present=everywhere)
    r = m.call(entry, [0x1234])
    assert r.outcome == "fault" and r.bound is None       # not run until the bound
    f = r.fault
    assert (f.name, f.error_code, f.address, f.access) == ("#PF", 0b10000, 0x1234, 0x1234)


NONCANONICAL = """
load:
    mov rax, [rdi]
    ret
store:
    mov [rdi], rsi
    ret
jump:
    jmp rdi
bad_stack:
    mov rsp, rdi
    push rax
    ret
fixed:
    mov rax, [rdi]
    ret
fix:
    ret
"""


def test_non_canonical_load_is_gp0_not_an_alias_of_low_memory():
    img = build(NONCANONICAL)
    m = Machine(img, StubTarget(), present=everywhere)
    low = m.memory.alloc(8)
    m.memory.write(low, b"\x22" * 8)
    alias = (1 << 52) | low
    r = m.call("load", [alias])
    assert r.outcome == "fault"
    f = r.fault
    assert (f.name, f.vector, f.error_code, f.access) == ("#GP", 13, 0, alias)
    assert "non-canonical" in f.detail
    assert r.regs_after["rax"] != 0x2222222222222222


def test_non_canonical_store_leaves_low_memory_alone():
    img = build(NONCANONICAL)
    m = Machine(img, StubTarget(), present=everywhere)
    low = m.memory.alloc(8)
    r = m.call("store", [(1 << 52) | low, 0x5555])
    assert r.fault.name == "#GP" and m.memory.read_u64(low) == 0


@pytest.mark.parametrize("address", [1 << 47, 0x8000_0000_0000_1000, 0xFFFF_7FFF_FFFF_F000])
def test_every_non_canonical_form_faults(address):
    img = build(NONCANONICAL)
    r = Machine(img, StubTarget(), present=everywhere).call("load", [address])
    assert (r.fault.name, r.fault.access) == ("#GP", address)


def test_upper_half_canonical_address_is_a_page_fault():
    img = build(NONCANONICAL)
    r = Machine(img, StubTarget(), present=everywhere).call("load", [0xFFFF_8880_0000_1000])
    assert (r.fault.name, r.fault.access) == ("#PF", 0xFFFF_8880_0000_1000)


def test_non_canonical_stack_reference_is_ss0():
    img = build(NONCANONICAL)
    r = Machine(img, StubTarget(), present=everywhere).call("bad_stack", [1 << 60])
    assert (r.fault.name, r.fault.vector, r.fault.error_code) == ("#SS", 12, 0)


STACK_REFS = """
rbp_based:
    mov rbp, rdi
    mov rax, [rbp + 8]
    ret
rsp_indexed:
    mov rax, [rsp + rdi]
    ret
near_bad_rsp:
    mov rbx, rsp
    mov rsp, rdi
    mov rax, [rsi]
    mov rsp, rbx
    ret
push_memory:
    push qword ptr [rdi]
    pop rax
    ret
fs_rbp:
    mov rbp, rdi
    mov rax, fs:[rbp]
    ret
"""
BIG = 1 << 60


@pytest.mark.parametrize("entry, args, vector", [
    ("rbp_based", [BIG], "#SS"),             # RBP base: SS is the operand's default segment
    ("rsp_indexed", [BIG], "#SS"),           # RSP base, the index makes it non-canonical
    ("near_bad_rsp", [BIG, BIG + 8], "#GP"),  # RSP is non-canonical, but RSI is the base: DS
    ("push_memory", [BIG], "#GP"),           # the explicit read (DS) faults, not the push
    ("fs_rbp", [BIG], "#GP"),                # an FS override: not SS
])
def test_ss0_is_for_references_through_ss_and_gp0_for_the_others(entry, args, vector):
    img = build(STACK_REFS)
    m = Machine(img, StubTarget(), present=everywhere)
    r = m.call(entry, args)
    f = r.fault
    assert (f.name, f.error_code) == (vector, 0), f.detail
    assert ("(SS)" in f.detail) == (vector == "#SS")


BRANCHES = """
jump:
    jmp rdi
call_it:
    call rdi
    ret
ret_to:
    push rdi
    ret
ret_imm:
    push rdi
    ret 16
through_memory:
    push rdi
    call qword ptr [rsp]
    pop rdi
    ret
fixed:
    push rdi
fixed_ret:
    ret
fix:
    pop rdi
    ret
"""


@pytest.mark.parametrize("entry, site_offset, rsp_delta, mnemonic", [
    ("jump", 0, 0, "jmpq *%rdi"),
    ("call_it", 0, 0, "callq *%rdi"),
    ("ret_to", 1, -8, "retq"),               # RSP still points at the bad return address
    ("ret_imm", 1, -8, "retq $0x10"),
    ("through_memory", 1, -8, "callq *(%rsp)"),
])
def test_a_branch_to_non_canonical_faults_at_the_branch_with_rsp_as_before(
        entry, site_offset, rsp_delta, mnemonic):
    img = build(BRANCHES)
    m = Machine(img, StubTarget(), present=everywhere)
    target = 1 << 63
    r = m.call(entry, [target])
    f = r.fault
    site = img.symbols[entry] + site_offset
    assert (f.name, f.vector, f.error_code, f.address) == ("#GP", 13, 0, site), f.detail
    assert f.regs["rip"] == site
    # RSP as the branch found it: the entry's own RSP (after the call's return address was
    # pushed), moved only by the instructions before the branch.
    entry_rsp = m.stack_top(0) - 8
    assert f.regs["rsp"] == entry_rsp + rsp_delta
    assert f"the target of `{mnemonic}`" in f.detail


def test_a_return_to_non_canonical_is_fixed_up_at_the_ret():
    img = build(BRANCHES, extable=[("fixed_ret", "fix", "fault")])
    r = Machine(img, StubTarget(), present=everywhere).call("fixed", [1 << 63])
    assert r.outcome == "returned" and r.regs_after["rax"] == 13
    assert r.faults[0].address == img.symbols["fixed_ret"]


def test_non_canonical_fault_goes_through_the_exception_table():
    img = build(NONCANONICAL, extable=[("fixed", "fix", "fault")])
    r = Machine(img, StubTarget(), present=everywhere).call("fixed", [1 << 52])
    assert r.outcome == "returned" and r.regs_after["rax"] == 13


RECURSE = """
recurse:
    call recurse
    ret
deep_load:
    mov rax, [rsp + rdi]
    ret
fix:
    ret
"""


def test_runaway_recursion_hits_the_stack_guard_instead_of_overwriting_code():
    img = build(RECURSE)
    m = Machine(img, StubTarget())
    code = m.memory.read(img.sections[0].address, len(img.sections[0].data))
    r = m.call("recurse")
    assert r.outcome == "fault" and r.bound is None
    f = r.fault
    assert f.name == "#PF" and f.handled_by is None
    assert "stack guard page was hit" in f.detail and "double fault" in f.detail
    assert m.stack_bottom(0) - 4096 <= f.access < m.stack_bottom(0)
    assert m.memory.read(img.sections[0].address, len(code)) == code
    assert m.call("recurse").fault.name == "#PF"  # and the next call starts clean


def test_guard_page_read_with_a_usable_stack_is_fixed_up_like_any_page_fault():
    # The kernel's page-fault handler tries the exception table before reporting a guard hit.
    img = build(RECURSE, extable=[("deep_load", "fix", "fault")])
    m = Machine(img, StubTarget())
    offset = m.stack_bottom(0) - 64 - (m.stack_top(0) - 8)
    r = m.call("deep_load", [offset % (1 << 64)])
    assert r.outcome == "returned" and r.regs_after["rax"] == 14
    assert "stack guard page was hit" in r.faults[0].detail


def test_each_lp_has_its_own_guard():
    img = build(RECURSE)
    m = Machine(img, StubTarget(), num_lps=2)
    f = m.call("recurse", lp=1).fault
    assert m.stack_bottom(1) - 4096 <= f.access < m.stack_bottom(1)


def test_call_refuses_a_stack_pointer_in_an_unmapped_page():
    m = Machine(build(RECURSE), StubTarget(), present=everywhere)
    with pytest.raises(InputError, match="not mapped"):
        m.call("recurse", regs={"rsp": 0x8000})


LOOP = """
walk:
    mov rcx, 0
again:
    mov rax, [rdi]
after:
    add rdi, 4096
    inc rcx
    cmp rcx, rsi
    jne again
    ret
"""


def test_many_faulting_pages_each_report_their_exact_address(monkeypatch):
    # A few trap-window pages, recycled: every fault still names its own address.
    monkeypatch.setattr("seamemu.machine.linear.TRAP_PAGES", 4)
    img = build(LOOP, extable=[("again", "after", "default")])
    m = Machine(img, StubTarget())
    start = (1 << 52) + 0x123
    r = m.call("walk", [start, 10])
    assert r.outcome == "returned"
    assert [f.access for f in r.faults] == [start + i * 4096 for i in range(10)]


JUMP = """
jump:
    jmp rdi
code:
    mov eax, 7
    ret
"""


def test_a_jump_into_the_stack_or_the_argument_buffer_is_a_no_execute_page_fault():
    img = build(JUMP)
    m = Machine(img, StubTarget())
    buf = m.memory.alloc(16)
    m.memory.write(buf, b"\xb8\x07\x00\x00\x00\xc3")  # the same `mov eax, 7; ret`, as data
    for target in (m.stack_top() - 64, buf, m.gdt_base):
        r = m.call("jump", [target])
        assert r.outcome == "fault", hex(target)
        f = r.fault
        # Present, instruction fetch (SDM Vol. 3A §4.7); reported at the target, RIP already there.
        assert (f.name, f.error_code, f.address, f.access) == ("#PF", 0b10001, target, target)
    ok = m.call("jump", [img.symbols["code"]])
    assert ok.outcome == "returned" and ok.regs_after["rax"] == 7
