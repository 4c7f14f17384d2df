"""POST one chunk to the ingestion API exactly as the sample script does: multipart, part "file"."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import requests

RESPONSE_EXCERPT = 500
"""The API's reason is often only in its body; keep that much of it for the operator."""


class UploadError(Exception):
    """The API did not accept the chunk. ``retryable`` says whether trying again can help."""

    def __init__(
        self,
        message: str,
        status: int | None,
        retryable: bool,
        retry_after: float | None = None,
        api_said: str = "",
    ) -> None:
        super().__init__(f"{message}. API said: {api_said}" if api_said else message)
        self.summary = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.api_said = api_said
        """The API's reply, raw: may quote a refused value until ``shared.delivery.redact`` has run."""

    def with_api_said(self, text: str) -> UploadError:
        return UploadError(self.summary, self.status, self.retryable, self.retry_after, text)


class MultipartBody:
    """A streamed multipart/form-data body with a known length, so no chunk is copied whole."""

    def __init__(self, parts: Iterable[bytes], content_length: int, filename: str) -> None:
        self.boundary = uuid.uuid4().hex
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.len = len(self._head) + content_length + len(self._tail)
        self._iter: Iterator[bytes] = self._chain(parts)
        self._current = memoryview(b"")
        self._pos = 0

    def _chain(self, parts: Iterable[bytes]) -> Iterator[bytes]:
        yield self._head
        yield from parts
        yield self._tail

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def read(self, size: int = -1) -> bytes:
        """File-like read for ``requests``; hands out slices without re-copying large blocks."""
        out: list[bytes] = []
        wanted = size
        while wanted != 0:
            if self._pos >= len(self._current):
                try:
                    self._current, self._pos = memoryview(next(self._iter)), 0
                except StopIteration:
                    break
                continue
            take = (
                len(self._current) - self._pos if wanted < 0 else min(wanted, len(self._current) - self._pos)
            )
            out.append(bytes(self._current[self._pos : self._pos + take]))
            self._pos += take
            if wanted > 0:
                wanted -= take
        return b"".join(out)


def without(blocks: Iterable[bytes], base: int, skip: Iterable[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes of ``blocks`` (which begin at file offset ``base``) less the ``skip`` ranges.

    Streams: a skipped invalid row is cut out of whichever blocks it falls in, nothing is
    buffered. ``skip`` holds ordered, non-overlapping [start, end) file offsets.
    """
    ranges = iter(skip)
    hole = next(ranges, None)
    position = base
    for block in blocks:
        end = position + len(block)
        cursor = position
        while hole is not None and hole[0] < end:
            if hole[0] > cursor:
                yield block[cursor - position : hole[0] - position]
            cursor = max(cursor, min(hole[1], end))
            if hole[1] > end:
                break  # the hole goes on into the next block
            hole = next(ranges, None)
        if cursor < end:
            yield block[cursor - position :]
        position = end


POOL_SIZE = 48


def upload_session() -> requests.Session:
    """One pooled session per worker. ``trust_env`` stays on: HTTPS_PROXY, NO_PROXY and
    REQUESTS_CA_BUNDLE (a hospital's TLS-inspecting proxy CA) apply to every upload."""
    session = requests.Session()
    session.trust_env = True
    # One worker runs up to batchSize + newBatchThreshold (at most 48) uploads at once:
    # keep a connection for each instead of urllib3's default 10.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class Response:
    status: int
    body_excerpt: str


def post_chunk(
    session: requests.Session,
    url: str,
    job_id: str,
    token: str,
    body: MultipartBody,
    timeout: tuple[float, float],
) -> Response:
    """One POST. Raises UploadError for anything but 2xx; a transport error is never a success."""
    try:
        resp = session.post(
            url,
            params={"jobid": job_id},
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": body.content_type},
            timeout=timeout,
            stream=True,
        )
    except requests.Timeout as exc:
        raise UploadError(f"ingestion API timed out ({type(exc).__name__})", None, True) from None
    except requests.ConnectionError as exc:
        raise UploadError(
            f"cannot reach the ingestion API ({type(exc).__name__}); check DNS, firewall and proxy "
            "rules for the ingestion host",
            None,
            True,
        ) from None
    excerpt = _excerpt(resp)
    if 200 <= resp.status_code < 300:
        return Response(resp.status_code, excerpt)
    raise classify(resp.status_code, excerpt, resp.headers.get("Retry-After"), job_id)


def _excerpt(resp: requests.Response) -> str:
    """The reply's first characters, reading no more of it than they need: a reply of any
    size (a proxy's error page, a hostile or broken endpoint) costs a bounded read. A reply read
    whole gives its connection back to the pool; one cut short closes it."""
    limit = RESPONSE_EXCERPT * 4  # UTF-8 takes at most four bytes a character
    kept = bytearray()
    with resp:
        for block in resp.iter_content(8192):
            kept += block
            if len(kept) >= limit:
                break
    return bytes(kept[:limit]).decode(resp.encoding or "utf-8", errors="replace")[:RESPONSE_EXCERPT]


def classify(status: int, excerpt: str, retry_after: str | None, job_id: str) -> UploadError:
    """Turn an HTTP answer into an error an operator can act on."""
    hints = {
        400: "the API refused the content; check the connector's column mapping",
        401: "the token was refused; check the app registration and its secret",
        403: "the app is not allowed to post to this job; check the connector's app id",
        404: f"job id {job_id} is unknown; check the connector's job id in the Purview portal",
        413: "the chunk is too large; lower the connector's chunk_rows",
        429: "the API is throttling",
    }
    hint = hints.get(status, "the API failed" if status >= 500 else "unexpected answer")
    seconds = None
    if retry_after:
        try:
            seconds = float(retry_after)
        except ValueError:
            seconds = None
    retryable = status in (401, 408, 429) or status >= 500
    return UploadError(f"HTTP {status}: {hint}", status, retryable, seconds, excerpt)
