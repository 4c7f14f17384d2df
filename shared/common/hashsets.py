"""Coverage hash sets in Blob Storage: one blob a run, keyed hashes and counts only.

The blob stage writes the hashes of the logins of every audit run and of the profiles of
every HR run (``<kind>/<connector>/<run id>.bin``, the sorted 16-byte digests back to back;
the metadata holds counts and the key's fingerprint). The report reads them. None outlives
``RETENTION``: the report deletes older ones as it lists them, and infra/ sets a lifecycle
rule on the container that does the same, should the report stop.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.common.login_hashes import DIGEST_BYTES

RETENTION = timedelta(days=31)
"""Purview keeps a profile 30 days; audit logins are counted over at most that."""
AUDIT, PROFILES = "audit", "profiles"


@dataclass(frozen=True)
class HashSet:
    name: str
    kind: str
    connector: str
    run_id: str
    fingerprint: str
    count: int
    """UPN hashes, first in the blob."""
    unmatched: int
    """Hashes of logins that could not be made a UPN (no ``@``, no ``login_domain``), after them."""
    overflow: bool
    """More distinct logins than the scan keeps: the set is empty, the run not counted."""
    recorded_at: datetime


def write(
    container: ContainerClient,
    entry: tuple[str, str, str],
    hashes: tuple[set[bytes], set[bytes]],
    fingerprint: str,
    overflow: bool = False,
) -> str:
    """Store one run's (UPN, bare login) hashes; ``entry`` is (kind, connector, run id). Safe
    to repeat."""
    kind, connector, run_id = entry
    name = f"{kind}/{connector}/{run_id}.bin"
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    upns, bare = hashes
    metadata = {
        "fingerprint": fingerprint,
        "count": str(len(upns)),
        "unmatched": str(len(bare)),
        "overflow": str(overflow).lower(),
    }
    body = b"".join(sorted(upns)) + b"".join(sorted(bare))
    container.upload_blob(name, body, overwrite=True, metadata=metadata)
    return name


def listing(container: ContainerClient, now: datetime) -> list[HashSet]:
    """Every hash set younger than ``RETENTION``; older ones are deleted on the way."""
    found: list[HashSet] = []
    try:
        blobs = list(container.list_blobs(include=["metadata"]))
    except ResourceNotFoundError:
        return found
    for blob in blobs:
        if now - blob.last_modified > RETENTION:
            container.delete_blob(blob.name)
            continue
        parts, meta = blob.name.removesuffix(".bin").split("/"), blob.metadata or {}
        if len(parts) != 3:
            continue
        found.append(
            HashSet(
                blob.name, parts[0], parts[1], parts[2], meta.get("fingerprint", ""),
                int(meta.get("count", 0)), int(meta.get("unmatched", 0)),
                meta.get("overflow") == "true", blob.last_modified,
            )
        )  # fmt: skip
    return found


def digests(container: ContainerClient, entry: HashSet) -> tuple[set[bytes], set[bytes]]:
    """The (UPN, bare login) hashes of one run."""
    data = container.download_blob(entry.name, decompress=False).readall()
    pieces = [data[i : i + DIGEST_BYTES] for i in range(0, len(data), DIGEST_BYTES)]
    return set(pieces[: entry.count]), set(pieces[entry.count :])
