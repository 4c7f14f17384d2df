"""Push a local export straight to the ingestion API with the worker's engine.

For hospitals replacing the sample script before they deploy Functions: the same scan
(validation, chunks on row boundaries), the same multipart POST and retry engine, chunks
in parallel threads with one shared slow-down, and resume: the chunks already accepted
are recorded in a small state file keyed by the file's path, size, modification time and
job, so a rerun after a failure sends only what did not arrive (never a row twice, unless
the process dies between the API's answer and that record, as with the worker).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import requests

from shared.common.schema import schema_for
from shared.common.settings import Connector
from shared.delivery.post import Target, post_payload
from shared.delivery.projection import Payload, Projection
from shared.delivery.retry import Deferred, LocalPacer, RetryPolicy, Tokens, send
from shared.delivery.upload import UploadError, without
from shared.intake.scan import Chunk, ScanResult, scan

READ_BLOCK = 8 * 1024 * 1024
PIECE = 1024 * 1024


def file_blocks(
    path: Path, start: int = 0, length: int | None = None, size: int = READ_BLOCK
) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        left = length
        while left is None or left > 0:
            block = f.read(size if left is None else min(size, left))
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block


@dataclass
class Resume:
    """Chunks already accepted for this file version and job, kept next to nothing sensitive."""

    path: Path
    done: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_file(cls, state_dir: Path, export: Path, connector: Connector) -> Resume:
        """Keyed by the file version, the job and whatever moves chunk boundaries (chunk size,
        mapping, required fields, the event filter)."""
        st = export.stat()
        c = connector
        layout = repr((c.chunk_rows, sorted(c.mapping.items()), c.required, c.events))
        key = f"{export.resolve()}\n{st.st_size}\n{st.st_mtime_ns}\n{c.job_id}\n{layout}"
        path = state_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
        done: set[int] = set()
        if path.exists():
            done = set(json.loads(path.read_text()).get("uploaded", []))
        return cls(path, done)

    def add(self, index: int) -> None:
        with self._lock:
            self.done.add(index)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"uploaded": sorted(self.done)}))
            os.replace(tmp, self.path)


@dataclass
class PushResult:
    rows: int
    rows_accepted: int
    chunks: int
    chunks_skipped: int
    errors: dict[int, str]


def plan(export: Path, connector: Connector) -> ScanResult:
    """The blob stage's scan with the connector's mapping, required fields and event filter.
    Invalid rows are left out, not judged: push has no quarantine to send a file to."""
    return scan(
        file_blocks(export),
        export.name,
        schema_for(connector.kind),
        connector.chunk_rows,
        mapping=connector.mapping,
        required=connector.required,
        events=connector.events,
        day_first=connector.day_first,
    )


def push(
    export: Path,
    planned: ScanResult,
    connector: Connector,
    url: str,
    tokens: Tokens,
    resume: Resume,
    session: requests.Session,
    concurrency: int = 4,
    timeout: tuple[float, float] = (10.0, 400.0),
    policy: RetryPolicy | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> PushResult:
    """Upload every chunk not yet accepted; a chunk that still fails after the retries is
    reported (with the API's reason) and the others carry on."""
    policy = policy or RetryPolicy(attempts=6, budget=600)
    pacer = LocalPacer()
    target = Target(session, url, connector.job_id, timeout)
    header = b"".join(file_blocks(export, planned.header_start, planned.header_end - planned.header_start))
    shape = Projection.for_header(header, export.name, connector)
    todo = [c for c in planned.chunks if c.index not in resume.done]
    skipped = sum(c.rows for c in planned.chunks if c.index in resume.done)
    progress(skipped)

    def upload(chunk: Chunk) -> None:
        def rows() -> Iterator[bytes]:
            return without(
                file_blocks(export, chunk.start, chunk.end - chunk.start, PIECE), chunk.start, chunk.skip
            )

        with Payload.build(shape, header, rows, chunk.size, chunk.rows) as payload:

            def post(token: str) -> None:
                post_payload(target, token, payload, f"{export.name}.part{chunk.index:05d}", shape.delimiter)

            while True:
                try:
                    send(post, tokens, policy, pacer)
                    break
                except Deferred as exc:  # throttled past the budget: nothing else to do but wait
                    time.sleep(min(exc.seconds, 300))
        resume.add(chunk.index)
        progress(chunk.rows)

    errors = _each(upload, todo, concurrency)
    accepted = skipped + sum(c.rows for c in todo if c.index not in errors)
    return PushResult(
        planned.rows_to_send, accepted, len(planned.chunks), len(planned.chunks) - len(todo), errors
    )


def _each(upload: Callable[[Chunk], None], chunks: list[Chunk], concurrency: int) -> dict[int, str]:
    """Upload the chunks in parallel; why each one that failed did, by chunk index (the others
    carry on)."""
    errors: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(upload, c): c for c in chunks}
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as exc:
                text = str(exc) if isinstance(exc, UploadError) else f"{type(exc).__name__}: {exc}"
                errors[futures[future].index] = text
    return errors
