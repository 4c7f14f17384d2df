"""Fixtures shared by the dev-stack tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.azurite import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the session (loopback ports, random account); tests use unique names."""
    with Azurite(Path(tmp_path_factory.mktemp("azurite"))) as server:
        yield server
