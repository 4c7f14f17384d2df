"""The Purview ingestion API: ``POST /api/signals?jobid=...`` with a multipart file part.

It records, per connector job, what actually arrived (the portal's ``RecordsSaved``) and
how many records arrived more than once, which is how tests catch the two failures that
matter for an audit trail: silently lost blocks and blocks replayed after a retry. Row
contents are parsed, digested and dropped; they never reach a log or a reply.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from devstack.emulator.config import INGESTION_RESOURCE, EmulatorConfig
from devstack.emulator.faults import FaultInjector
from devstack.emulator.multipart import MultipartError, MultipartReader, boundary_from_content_type
from devstack.emulator.records import BlockSummary, RecordError, first_record, summarize
from devstack.emulator.tokens import TokenAuthority, TokenError, bearer_token
from devstack.emulator.wire import Request, Response
from shared.common.schema import SCHEMAS, normalise

FILE_PART = "file"
SCHEMA_HEADERS = frozenset(normalise(n) for s in SCHEMAS.values() for f in s.fields for n in f.names)
"""Every column name the connectors read (the connector documentation, as
``shared.common.schema`` holds it), as the portal matches them: case- and space-insensitive."""
INJECTED = {
    400: ("BadRequest", "The file's columns do not match the connector's mapping (injected fault)."),
    403: ("Forbidden", "The application is not authorized for this connector (injected fault)."),
    500: ("InternalServerError", "The service failed (injected fault)."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable (injected fault)."),
}


@dataclass
class JobState:
    """Counters of one connector job. ``requests`` counts every authenticated request."""

    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    rows: int = 0
    bytes: int = 0
    duplicate_rows: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    non_schema_columns: int = 0
    """Header columns that are no field of either connector schema: a failure of minimum
    necessary (the connector would not read them, so they should never have been sent)."""
    ragged_rows: int = 0
    watched_rows: int = 0
    digests: set[int] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, int]:
        """Public counters (the digests stay private)."""
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rows": self.rows,
            "bytes": self.bytes,
            "duplicate_rows": self.duplicate_rows,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "non_schema_columns": self.non_schema_columns,
            "ragged_rows": self.ragged_rows,
            "watched_rows": self.watched_rows,
        }


class IngestionService:
    """Accepts blocks for the configured jobs, with optional injected faults."""

    def __init__(self, config: EmulatorConfig, authority: TokenAuthority, faults: FaultInjector):
        self._authority = authority
        self._faults = faults
        self._lock = threading.Lock()
        self._job_ids = list(config.job_ids)
        self._jobs: dict[str, JobState] = {}
        self._counts: dict[str, int] = {}
        self.reset()

    def signals(self, request: Request) -> Response:
        """Handle one upload; the body is streamed, never buffered whole."""
        token = bearer_token(request.header("Authorization"))
        if token is None:
            return self._reject_auth("The request has no 'Authorization: Bearer' token.")
        try:
            self._authority.verify(token, INGESTION_RESOURCE)
        except TokenError as exc:
            return self._reject_auth(f"The bearer token was refused: {exc}.")
        job_id = request.query.get("jobid", "")
        if not job_id:
            return self._fail(400, "bad_request", "MissingJobId", "The 'jobid' query is missing.")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.requests += 1
        if job is None:
            return self._fail(
                404,
                "unknown_job",
                "JobNotFound",
                f"No connector job with id '{job_id}' exists in this tenant. Copy the job id "
                "from the connector's page in the Purview portal.",
            )
        with self._lock:
            job.in_flight += 1
            job.peak_in_flight = max(job.peak_in_flight, job.in_flight)
        try:
            return self._accept(request, job, job_id)
        finally:
            with self._lock:
                job.in_flight -= 1

    def reset_peaks(self) -> None:
        """Start measuring concurrent uploads afresh (a test of a concurrency cap)."""
        with self._lock:
            for job in self._jobs.values():
                job.peak_in_flight = job.in_flight

    def _accept(self, request: Request, job: JobState, job_id: str) -> Response:
        decision = self._faults.decide()
        if decision.delay_seconds > 0:
            time.sleep(decision.delay_seconds)
        if self._faults.outage("reset"):
            raise ConnectionResetError("injected connection reset")  # the server drops the connection
        if decision.status == 429:
            return self._fault(
                job,
                "throttled",
                429,
                "TooManyRequests",
                "Request rate is too high; retry after the indicated delay.",
                {"Retry-After": str(decision.retry_after_seconds)},
            )
        if decision.status is not None:
            code, message = INJECTED.get(decision.status, INJECTED[500])
            if self._faults.config.echo_values:
                message += self._quote_first_row(request)
            headers = None
            if decision.status == 503 and self._faults.config.retry_after_seconds:
                headers = {"Retry-After": str(self._faults.config.retry_after_seconds)}
            return self._fault(job, "failed", decision.status, code, message, headers)
        try:
            summary, size = self._read_file_part(request)
        except (MultipartError, RecordError) as exc:
            return self._fault(job, "bad_request", 400, "BadRequest", str(exc))
        with self._lock:
            for digest in summary.digests:
                if digest in job.digests:
                    job.duplicate_rows += 1
                else:
                    job.digests.add(digest)
            job.rows += summary.rows
            job.bytes += size
            job.non_schema_columns += sum(normalise(c) not in SCHEMA_HEADERS for c in summary.header)
            job.ragged_rows += summary.ragged
            job.watched_rows += summary.watched
            job.accepted += 1
            self._counts["accepted"] += 1
        return Response.json(200, {"jobId": job_id, "rowsReceived": summary.rows})

    def stats(self) -> dict[str, object]:
        """``{"jobs": {id: counters}, "ingestion": {outcome: count}}``."""
        with self._lock:
            return {
                "jobs": {job_id: job.as_dict() for job_id, job in self._jobs.items()},
                "ingestion": dict(self._counts),
            }

    def reset(self) -> None:
        """Forget every counter and every record digest."""
        with self._lock:
            self._jobs = {job_id: JobState() for job_id in self._job_ids}
            self._counts = {
                "accepted": 0,
                "rejected_auth": 0,
                "throttled": 0,
                "failed": 0,
                "unknown_job": 0,
                "bad_request": 0,
            }

    def _read_file_part(self, request: Request) -> tuple[BlockSummary, int]:
        boundary = boundary_from_content_type(request.header("Content-Type"))
        summary: BlockSummary | None = None
        size = 0
        for part in MultipartReader(request.body, boundary).parts():
            if part.name != FILE_PART:
                continue
            if summary is not None:
                raise MultipartError("more than one part named 'file'")
            summary = summarize(part.stream, self._faults.config.watch)
            size = part.stream.raw.bytes_read  # type: ignore[attr-defined]
        if summary is None:
            raise MultipartError("no part named 'file' in the multipart body")
        return summary, size

    def _quote_first_row(self, request: Request) -> str:
        """ " Row 1: 'value', 'value' refused.", from the first row's 7th and 19th fields."""
        try:
            boundary = boundary_from_content_type(request.header("Content-Type"))
            for part in MultipartReader(request.body, boundary).parts():
                if part.name == FILE_PART:
                    fields = first_record(part.stream)
                    quoted = ", ".join(f"'{fields[i]}'" for i in (6, 18) if i < len(fields))
                    return f" Row 1: {quoted} refused."
        except (MultipartError, RecordError):
            pass
        return ""

    def _reject_auth(self, message: str) -> Response:
        with self._lock:
            self._counts["rejected_auth"] += 1
        return Response.json(
            401,
            {"error": {"code": "Unauthorized", "message": message}},
            {"WWW-Authenticate": "Bearer"},
        )

    def _fail(self, status: int, counter: str, code: str, message: str) -> Response:
        with self._lock:
            self._counts[counter] += 1
        return Response.json(status, {"error": {"code": code, "message": message}})

    def _fault(
        self,
        job: JobState,
        counter: str,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        with self._lock:
            job.rejected += 1
            self._counts[counter] += 1
        return Response.json(status, {"error": {"code": code, "message": message}}, headers)
