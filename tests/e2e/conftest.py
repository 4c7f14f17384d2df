"""One local stack (Azurite + cloud emulator + function host) shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from devstack.demo import Pipeline
from devstack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), chunk_rows=700).up()
    yield s
    s.down()


@pytest.fixture(scope="session")
def pipeline(stack):
    return Pipeline(stack)
