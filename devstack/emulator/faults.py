"""Seeded fault decisions for the ingestion endpoint.

The uploader must survive throttling and outages without losing or duplicating rows; a
seeded generator makes such a run reproducible, and settings can change while the
emulator runs so one test can break the service midway through a file.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from devstack.emulator.config import FaultConfig

OUTAGE_RATES = {"token": "token_error_rate", "keyvault": "keyvault_error_rate", "reset": "reset_rate"}
"""The fault setting behind each kind of ``FaultInjector.outage``."""


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: delay it, then maybe answer with ``status``."""

    delay_seconds: float
    status: int | None = None
    retry_after_seconds: int | None = None


class FaultInjector:
    """Thread-safe holder of the current fault settings and their random generator."""

    def __init__(self, config: FaultConfig):
        self._lock = threading.Lock()
        self._config = config
        self._random = random.Random(config.seed)
        self.outages: dict[str, int] = {}
        """Requests failed by ``outage``, per service."""

    @property
    def config(self) -> FaultConfig:
        """The settings in force."""
        with self._lock:
            return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the settings and reseed, so the same settings replay the same faults."""
        config.validate()
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)

    def outage(self, service: str) -> bool:
        """Whether this request to ``service`` (a key of OUTAGE_RATES) fails, and count it."""
        with self._lock:
            rate = getattr(self._config, OUTAGE_RATES[service])
            failed = rate > 0 and self._random.random() < rate
            if failed:
                self.outages[service] = self.outages.get(service, 0) + 1
        return failed

    def decide(self) -> FaultDecision:
        """Draw the fault for the next request (throttling is checked before errors)."""
        with self._lock:
            cfg = self._config
            throttle_draw = self._random.random()
            error_draw = self._random.random()
        if throttle_draw < cfg.throttle_rate:
            return FaultDecision(cfg.latency_seconds, 429, cfg.retry_after_seconds)
        if error_draw < cfg.error_rate:
            return FaultDecision(cfg.latency_seconds, cfg.error_status)
        return FaultDecision(cfg.latency_seconds)
