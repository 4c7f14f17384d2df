"""One POST of a chunk's payload, as the worker and ``ehr-ingest push`` both make it."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from shared.delivery.projection import Payload
from shared.delivery.redact import redact_reply
from shared.delivery.upload import MultipartBody, UploadError, post_chunk


@dataclass(frozen=True)
class Target:
    """Where a chunk goes: the ingestion API's URL and the connector's job."""

    session: requests.Session
    url: str
    job_id: str
    timeout: tuple[float, float]


def post_payload(target: Target, token: str, payload: Payload, file_name: str, delimiter: str) -> None:
    """POST the payload as ``file_name``. What the API says about a refusal is kept and logged
    by the caller, so any row value it quotes is taken out first."""
    body = MultipartBody(payload.parts(), payload.length, file_name)
    try:
        post_chunk(target.session, target.url, target.job_id, token, body, target.timeout)
    except UploadError as err:
        if not err.api_said:
            raise
        raise redact_reply(err, payload.rows(), payload.header, delimiter) from None
