"""The blob stage's share of coverage: the keyed hashes of an accepted run's logins.

An audit run's distinct employee logins and an HR run's profile EmailAddresses are hashed
with the coverage key (``shared.common.login_hashes``) and stored per run
(``shared.common.hashsets``); the report compares the two. Coverage is an addition: a missing
key or an unreachable container is logged and the upload goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from azure.storage.blob import ContainerClient

from shared.common import hashsets
from shared.common.login_hashes import digests, fingerprint
from shared.common.settings import Connector
from shared.intake.logins import Logins

log = logging.getLogger(__name__)


@dataclass
class CoverageRecorder:
    container: ContainerClient
    key: Callable[[], bytes]
    """The coverage key from Key Vault (read once per process by the caller's cache)."""

    def record(self, run_id: str, connector: Connector, logins: Logins | None) -> None:
        if logins is None:
            return
        kind = hashsets.PROFILES if connector.kind == "hr" else hashsets.AUDIT
        try:
            key = self.key()
            hashes = digests(key, logins.values, connector.login_domain)
            entry = (kind, connector.name, run_id)
            hashsets.write(self.container, entry, hashes, fingerprint(key), logins.overflow)
        except Exception as exc:  # coverage never stops an upload
            # Only the error's type: no login can be in it.
            log.warning("coverage hashes not recorded: %s", type(exc).__name__, extra={"run_id": run_id})
