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


@dataclass
class _Client:
    """One token and one POST per block, as the sample script does them."""

    path: Path
    authority: str
    tenant: str
    app_id: str
    secret: str
    job_id: str
    ingestion_url: str
    verify: str | bool
    retry_sleep: float
    result: SampleRun
    session: requests.Session = field(default_factory=requests.Session)

    def token(self) -> str:
        self.result.token_requests += 1
        resp = self.session.post(
            f"{self.authority}/{self.tenant}/oauth2/token",
            params={"api-version": "1.0"},
            data={
                "grant_type": "client_credentials",
                "client_id": self.app_id,
                "client_secret": self.secret,
                "resource": RESOURCE,
            },
            verify=self.verify,
            timeout=400,
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def upload(self, header: str, lines: list[str]) -> None:
        body = (header + "".join(lines)).encode()
        result = self.result
        for attempt in range(16):
            try:
                resp = self.session.post(
                    self.ingestion_url,
                    params={"jobid": self.job_id},
                    headers={"Authorization": f"Bearer {self.token()}"},
                    files={"file": (self.path.name, body)},
                    verify=self.verify,
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
                time.sleep(self.retry_sleep)


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
    client = _Client(
        path, authority, tenant, app_id, secret, job_id, ingestion_url, verify, retry_sleep, result
    )
    with path.open(encoding="utf-8-sig", newline="") as src:
        header = src.readline()
        block: list[str] = []
        for line in src:
            block.append(line)
            if len(block) == records_per_call:
                client.upload(header, block)
                block = []
        if block:
            client.upload(header, block)
    result.seconds = time.monotonic() - started
    return result
