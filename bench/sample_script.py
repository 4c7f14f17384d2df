"""The sample script's upload algorithm, re-implemented to be measured against ours.

From the documented behaviour of Microsoft's sample script (facts.md): read the file line
by line, one block of ``RecordsPerCall`` lines at a time, one after another; before every
block, a new token from the v1 endpoint; one multipart POST (part ``file``: header + block);
a failed block is retried up to 15 times with a fixed sleep; 400 s client timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

RESOURCE = "https://microsoft.onmicrosoft.com/86dfdabb-5089-4a0c-880a-cfa5a790c5b1"


@dataclass
class SampleRun:
    calls: int = 0
    token_requests: int = 0
    retries: int = 0
    rows: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def run(
    path: Path,
    *,
    authority: str,
    tenant: str,
    app_id: str,
    secret: str,
    job_id: str,
    ingestion_url: str,
    verify: str | bool = True,
    records_per_call: int = 5000,
    retry_sleep: float = 60.0,
) -> SampleRun:
    result = SampleRun()
    started = time.monotonic()
    session = requests.Session()

    def token() -> str:
        result.token_requests += 1
        resp = session.post(
            f"{authority}/{tenant}/oauth2/token",
            params={"api-version": "1.0"},
            data={
                "grant_type": "client_credentials",
                "client_id": app_id,
                "client_secret": secret,
                "resource": RESOURCE,
            },
            verify=verify,
            timeout=400,
        )
        resp.raise_for_status()
        return resp.json()["access_token"]

    def upload(header: str, lines: list[str]) -> None:
        body = (header + "".join(lines)).encode()
        for attempt in range(16):
            try:
                resp = session.post(
                    ingestion_url,
                    params={"jobid": job_id},
                    headers={"Authorization": f"Bearer {token()}"},
                    files={"file": (path.name, body)},
                    verify=verify,
                    timeout=400,
                )
                result.calls += 1
                if resp.ok:
                    result.rows += len(lines)
                    return
                result.errors.append(f"HTTP {resp.status_code}")
            except requests.RequestException as exc:
                result.errors.append(type(exc).__name__)
            if attempt < 15:
                result.retries += 1
                time.sleep(retry_sleep)

    with path.open(encoding="utf-8-sig", newline="") as src:
        header = src.readline()
        block: list[str] = []
        for line in src:
            block.append(line)
            if len(block) == records_per_call:
                upload(header, block)
                block = []
        if block:
            upload(header, block)
    result.seconds = time.monotonic() - started
    return result
