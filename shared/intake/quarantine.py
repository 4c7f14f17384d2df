"""Move a rejected export out of the exports container, with a report saying why.

The blob is copied server-side (nothing passes through the function), its report is
written next to the copy, and only then is the original deleted, on its ETag: a newer
version dropped meanwhile is a new export with its own run and is never deleted here.
Every step is safe to repeat.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient, ContentSettings

from shared.intake.names import REPORT_SUFFIX, quarantined_name

__all__ = ["REPORT_SUFFIX", "Quarantine"]
_JSON = ContentSettings(content_type="application/json")


@dataclass
class Quarantine:
    container: ContainerClient
    copy_timeout: float = 600.0

    def copy_in(self, source: BlobClient, etag: str, report: Iterable[bytes]) -> str:
        """Copy the blob version ``etag`` and write its report; returns the quarantined name."""
        self._ensure_container()
        name = quarantined_name(source.blob_name)
        target = self.container.get_blob_client(name)
        target.start_copy_from_url(
            source.url, source_etag=etag, source_match_condition=MatchConditions.IfNotModified
        )
        deadline = time.monotonic() + self.copy_timeout
        while True:
            copy = target.get_blob_properties().copy
            if copy.status in (None, "success"):
                break
            if copy.status != "pending":
                raise RuntimeError(f"copying {name} to quarantine ended {copy.status}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"copying {name} to quarantine did not finish in time")
            time.sleep(1)
        self.write_report(name, report)
        return name

    def write_report(self, blob_name: str, report: Iterable[bytes]) -> str:
        """``report`` is JSON in pieces (``Validation.report_json``), streamed into the blob."""
        self._ensure_container()
        name = blob_name + REPORT_SUFFIX
        self.container.upload_blob(name, report, overwrite=True, content_settings=_JSON)
        return name

    @staticmethod
    def remove_original(source: BlobClient, etag: str) -> bool:
        """Delete the original if it is still the rejected version; False if it was already gone."""
        try:
            source.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
            return True
        except (ResourceNotFoundError, ResourceModifiedError):
            return False

    def _ensure_container(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()
