"""The chunk message: where a chunk's bytes are, never what they contain."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, fields

from shared.common.errors import BadMessage

VERSION = 3
"""2 added ``first_row``, 3 added ``skip``; older messages are still read (first_row 0, no skips)."""
MAX_MESSAGE_BYTES = 48 * 1024
"""Queue messages are at most 64 KB after base64 (4/3 growth)."""


@dataclass(frozen=True)
class ChunkMessage:
    run_id: str
    connector: str
    container: str
    blob: str
    etag: str
    header_start: int
    header_end: int
    index: int
    start: int
    end: int
    rows: int
    chunks: int
    first_row: int = 0
    """1-based number of the chunk's first data row in the file (0: unknown, a v1 message)."""
    skip: tuple[tuple[int, int], ...] = ()
    """Byte ranges of invalid rows inside [start, end) that are not uploaded."""
    v: int = VERSION

    @property
    def size(self) -> int:
        """Bytes of rows uploaded: the range less what it skips."""
        return self.end - self.start - sum(e - s for s, e in self.skip)

    def encode(self) -> str:
        text = json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError("chunk message too large for a queue message")
        return text

    @classmethod
    def decode(cls, body: bytes | str) -> ChunkMessage:
        """Parse and check a message; anything unexpected is a ``BadMessage`` (not retried)."""
        if len(body) > MAX_MESSAGE_BYTES:
            raise BadMessage(f"message of {len(body)} bytes is larger than any chunk message")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadMessage("message is not JSON") from None
        if not isinstance(data, dict) or data.get("v") not in range(1, VERSION + 1):
            raise BadMessage(f"message is not a version 1 to {VERSION} chunk message")
        if data["v"] == 1 and "first_row" not in data:
            data = {**data, "first_row": 0, "v": 2}
        if data["v"] == 2 and "skip" not in data:
            data = {**data, "skip": [], "v": VERSION}
        expected = {f.name: f.type for f in fields(cls)}
        if set(data) != set(expected):
            raise BadMessage(
                f"message fields differ from a chunk message: {sorted(set(data) ^ set(expected))}"
            )
        skip = data.pop("skip")
        for name, value in data.items():
            want = int if expected[name] == "int" else str
            if type(value) is not want:
                raise BadMessage(f"message field {name} should be {want.__name__}")
        msg = cls(**data, skip=_ranges(skip))
        if not (0 <= msg.header_start <= msg.header_end <= msg.start < msg.end) or msg.rows < 1:
            raise BadMessage("message byte range is inconsistent")
        bounds = [msg.start, *(b for r in msg.skip for b in r), msg.end]
        if any(a > b for a, b in itertools.pairwise(bounds)) or any(s == e for s, e in msg.skip):
            raise BadMessage("message skip ranges are not ordered inside the chunk")
        if msg.first_row < 0:
            raise BadMessage("message first_row is negative")
        if not (0 <= msg.index < msg.chunks):
            raise BadMessage("message chunk index is out of range")
        return msg


def _ranges(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or not all(
        isinstance(r, list) and len(r) == 2 and all(type(b) is int for b in r) for r in value
    ):
        raise BadMessage("message field skip should be a list of [start, end] byte offsets")
    return tuple((r[0], r[1]) for r in value)
