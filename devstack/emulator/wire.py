"""The request and response values passed between the HTTP server and the services.

Services never see the socket: they get a :class:`Request` whose body is a bounded stream
(so the ingestion service can parse uploads without buffering them) and return a
:class:`Response` that the server writes with a correct Content-Length, which keep-alive
clients such as urllib3 depend on.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, BinaryIO
from urllib.parse import parse_qs

#: Largest non-upload body a service will read into memory (token forms, JSON).
SMALL_BODY_LIMIT = 1024 * 1024


class BodyTooLargeError(ValueError):
    """The request body exceeds what the endpoint is willing to read."""


@dataclass
class Request:
    """One parsed HTTP request. ``query`` keys are lower-cased; the first value wins."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: BinaryIO

    def header(self, name: str) -> str | None:
        """A header value (names are case-insensitive)."""
        return self.headers.get(name)

    def read_small_body(self, limit: int = SMALL_BODY_LIMIT) -> bytes:
        """Read the whole body, refusing more than ``limit`` bytes."""
        data = self.body.read(limit + 1)
        if len(data) > limit:
            raise BodyTooLargeError(f"request body larger than {limit} bytes")
        return data

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form (first value wins)."""
        text = self.read_small_body().decode("utf-8", errors="replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty); raises ValueError when invalid."""
        data = self.read_small_body()
        if not data.strip():
            return None
        return json.loads(data)


@dataclass
class Response:
    """What a service answers; the server adds Content-Length and connection headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        """A JSON reply."""
        merged = {"Content-Type": "application/json; charset=utf-8"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload).encode("utf-8"), merged)


def parse_query(raw: str) -> dict[str, str]:
    """Query string to a dict with lower-cased keys (clients differ in ``jobid`` casing)."""
    return {k.lower(): v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class LimitedReader(io.RawIOBase):
    """Exposes exactly ``length`` bytes of a socket stream, then EOF.

    Tracks what is left so the server can drain an unread body before reusing a
    keep-alive connection.
    """

    def __init__(self, raw: BinaryIO, length: int):
        super().__init__()
        self._raw = raw
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)
        want = min(len(view), self.remaining)
        data = self._raw.read1(want) if hasattr(self._raw, "read1") else self._raw.read(want)
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        view[: len(data)] = data
        self.remaining -= len(data)
        return len(data)


class ChunkedReader(io.RawIOBase):
    """Decodes a ``Transfer-Encoding: chunked`` body (what requests sends for generators)."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self._left_in_chunk = 0
        self._done = False

    @property
    def remaining(self) -> int:
        """Unknown until read; non-zero while the terminating chunk has not been seen."""
        return 0 if self._done else 1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        if self._left_in_chunk == 0:
            size_line = self._raw.readline(1024)
            if not size_line:
                raise ConnectionError("client closed the connection mid-body")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ConnectionError("malformed chunk size") from exc
            if size == 0:
                while self._raw.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are ignored
                self._done = True
                return 0
            self._left_in_chunk = size
        view = memoryview(buffer)
        want = min(len(view), self._left_in_chunk)
        data = self._raw.read(want)
        if len(data) < want:
            raise ConnectionError("client closed the connection mid-chunk")
        view[: len(data)] = data
        self._left_in_chunk -= len(data)
        if self._left_in_chunk == 0:
            self._raw.readline(16)  # CRLF after the chunk data
        return len(data)
