"""A streaming ``multipart/form-data`` reader.

Uploads can be blocks of 100K rows or more, and several may arrive at once; reading each
part as a stream keeps the emulator's memory flat instead of holding whole requests (the
``email`` and ``cgi`` parsers both buffer everything). Only what the ingestion endpoint
needs is supported: part headers, the ``name`` and ``filename`` parameters, and the body.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, BinaryIO

CHUNK_SIZE = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_PREAMBLE_BYTES = 64 * 1024


class MultipartError(ValueError):
    """The body is not well-formed multipart (the message says where it went wrong)."""


def boundary_from_content_type(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, or raise MultipartError."""
    if not content_type:
        raise MultipartError("missing Content-Type; expected multipart/form-data")
    message = Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        raise MultipartError(f"Content-Type is {message.get_content_type()}; expected multipart/form-data")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 200:
        raise MultipartError("multipart/form-data Content-Type without a usable boundary")
    return boundary.encode("latin-1")


@dataclass
class Part:
    """One part. ``stream`` must be read (or is skipped) before the next part is fetched."""

    headers: dict[str, str]
    name: str | None
    filename: str | None
    stream: io.BufferedReader = field(repr=False)


class MultipartReader:
    """Iterates over the parts of a body read from ``source`` with a bounded buffer."""

    def __init__(self, source: BinaryIO, boundary: bytes, chunk_size: int = CHUNK_SIZE):
        self._source = source
        self._dash_boundary = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary
        self._chunk_size = chunk_size
        self._buf = bytearray()
        self._eof = False
        self._current: _PartBody | None = None

    def parts(self) -> Iterator[Part]:
        """Yield each part in order; raise MultipartError on malformed framing."""
        self._skip_preamble()
        while True:
            if self._at_final_boundary():
                return
            headers = self._read_headers()
            body = _PartBody(self)
            self._current = body
            disposition = headers.get("content-disposition", "")
            name, filename = _disposition_params(disposition)
            yield Part(headers, name, filename, io.BufferedReader(body, self._chunk_size))
            while body.readinto(bytearray(self._chunk_size)):
                pass  # skip whatever the consumer left unread
            self._current = None

    # -- framing -----------------------------------------------------------------------

    def _fill(self, minimum: int) -> bool:
        """Read until the buffer holds ``minimum`` bytes; False if the body ends first."""
        while len(self._buf) < minimum and not self._eof:
            data = self._source.read(self._chunk_size)
            if not data:
                self._eof = True
            else:
                self._buf += data
        return len(self._buf) >= minimum

    def _skip_preamble(self) -> None:
        scanned = 0
        while True:
            index = self._buf.find(self._dash_boundary)
            if index == 0 or (index > 0 and self._buf[index - 2 : index] == b"\r\n"):
                del self._buf[: index + len(self._dash_boundary)]
                return
            keep = len(self._dash_boundary) + 2
            if len(self._buf) > keep:
                scanned += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
            if scanned > MAX_PREAMBLE_BYTES:
                raise MultipartError("no opening boundary found")
            if not self._fill(len(self._buf) + 1):
                raise MultipartError("no opening boundary found")

    def _at_final_boundary(self) -> bool:
        """After a boundary: ``--`` ends the body, otherwise a CRLF starts a part."""
        self._fill(2)
        if self._buf[:2] == b"--":
            return True
        # Transport padding (spaces, tabs) may precede the CRLF.
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                if self._buf[:end].strip(b" \t"):
                    raise MultipartError("garbage after boundary")
                del self._buf[: end + 2]
                return False
            if len(self._buf) > 1024 or not self._fill(len(self._buf) + 1):
                raise MultipartError("boundary line not terminated by CRLF")

    def _read_headers(self) -> dict[str, str]:
        while True:
            if self._buf.startswith(b"\r\n"):
                end, raw = 0, b""
                break
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                raw = bytes(self._buf[:end])
                break
            if len(self._buf) > MAX_HEADER_BYTES:
                raise MultipartError("part headers too large")
            if not self._fill(len(self._buf) + 1):
                raise MultipartError("body ended inside part headers")
        del self._buf[: end + (2 if not raw else 4)]
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", errors="replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if not sep:
                raise MultipartError("malformed part header line")
            headers[key.strip().lower()] = value.strip()
        return headers

    def _read_body(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current part; b"" at its closing delimiter."""
        while True:
            index = self._buf.find(self._delimiter)
            if index == 0:  # the part is over: consume the delimiter, as _skip_preamble does
                del self._buf[: len(self._delimiter)]
                return b""
            if index > 0:
                take = min(index, size)
                data = bytes(self._buf[:take])
                del self._buf[:take]
                return data
            safe = len(self._buf) - len(self._delimiter) + 1
            if safe > 0:
                take = min(safe, size)
                data = bytes(self._buf[:take])
                del self._buf[:take]
                return data
            if not self._fill(len(self._buf) + 1):
                raise MultipartError("body ended before the closing boundary")


class _PartBody(io.RawIOBase):
    """The body of the current part as a raw stream; counts the bytes it delivers."""

    def __init__(self, reader: MultipartReader):
        super().__init__()
        self._reader = reader
        self._done = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done or self._reader._current is not self:
            return 0
        view = memoryview(buffer)
        data = self._reader._read_body(len(view))
        if not data:
            self._done = True
            return 0
        view[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def _disposition_params(disposition: str) -> tuple[str | None, str | None]:
    """``name`` and ``filename`` of a Content-Disposition value (quoting handled by email)."""
    if not disposition:
        return None, None
    message = Message()
    message["Content-Disposition"] = disposition
    name = message.get_param("name", header="content-disposition")
    filename = message.get_filename()
    return (name if isinstance(name, str) else None), filename
