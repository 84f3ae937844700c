# SPDX-License-Identifier: MIT
"""Platforms and bring-ups shared by the kernel tests.

A full bring-up runs one TDH.SYS.TDMR.INIT per 4 MiB of TDX memory, so the tests use "lean":
two packages of one LP each (so TDH.SYS.KEY.CONFIG runs twice), 1920 MiB of low memory on
node 0 and 1 GiB on node 1, each range one CMR.
"""

import pytest

from seamemu.kernel import bring_up, stub_files
from seamemu.platform import as_platform, load_platform_text
from seamemu.session import Session

LEAN = """
extends = "default"
name = "lean"

[cpu]
packages = 2
cores_per_package = 1
threads_per_core = 1

[[numa]]
id = 0
packages = [0]

[[numa]]
id = 1
packages = [1]

[[memory]]
base = 0
size = "1920M"
kind = "usable"
node = 0

[[memory]]
base = "0x78000000"
size = "32M"
kind = "acpi"
node = 0

[[memory]]
base = "0x7c000000"
size = "64M"
kind = "reserved"
node = 0

[[memory]]
base = "4G"
size = "1G"
kind = "usable"
node = 1

[[cmr]]
base = 0
size = "1920M"

[[cmr]]
base = "4G"
size = "1G"
"""


def lean(module_version=None):
    return as_platform(load_platform_text(LEAN, "lean.toml"), module_version=module_version)


def boot(kernel, platform=None, *, inject=None, use_tdx=True, abi=None):
    """A fresh session with `kernel`'s stub on `platform` (default: lean), brought up."""
    session = Session(stub_files(kernel), platform=platform if platform is not None else lean(),
                      abi=abi, inject=inject)
    return bring_up(session, kernel, use_tdx=use_tdx)


@pytest.fixture(scope="session")
def v5():
    return boot("v5-2022")


@pytest.fixture(scope="session")
def linux68():
    return boot("6.8")


@pytest.fixture(scope="session")
def mainline():
    return boot("mainline")


@pytest.fixture(params=["v5", "linux68", "mainline"])
def ready(request):
    return request.getfixturevalue(request.param)
