"""Outage switches of the emulator (issue 9): token endpoint and Key Vault down for a while."""

from __future__ import annotations

import pytest

from devstack.emulator.config import ConfigError, FaultConfig
from devstack.emulator.faults import FaultInjector


def test_outage_rates_fail_that_share_of_requests_and_count_them():
    faults = FaultInjector(FaultConfig().updated({"token_error_rate": 1}))
    assert all(faults.outage("token") for _ in range(5))
    assert not faults.outage("keyvault")
    faults.configure(faults.config.updated({"token_error_rate": 0, "keyvault_error_rate": 1}))
    assert not faults.outage("token") and faults.outage("keyvault")
    assert faults.outages == {"token": 5, "keyvault": 1}


def test_outage_rates_are_checked():
    with pytest.raises(ConfigError):
        FaultConfig().updated({"keyvault_error_rate": 2})


def test_reset_rate_is_an_outage_of_the_ingestion_connection():
    faults = FaultInjector(FaultConfig().updated({"reset_rate": 1}))
    assert faults.outage("reset") and faults.outages == {"reset": 1}
