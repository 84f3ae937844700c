# SPDX-License-Identifier: MIT
"""Bring-ups shared by the host tests: each full one runs a few thousand SEAMCALLs, so once."""

import pytest

from seamemu.host import bring_up


@pytest.fixture(scope="session")
def ready15():
    return bring_up(abi="1.5")


@pytest.fixture(scope="session")
def ready10():
    return bring_up(abi="1.0")


@pytest.fixture(scope="session")
def ready_one_socket():
    return bring_up("one-socket")


@pytest.fixture(params=["ready15", "ready10", "ready_one_socket"])
def ready(request):
    return request.getfixturevalue(request.param)
