"""The chunk message: which chunk of which run to upload, and nothing else.

Where the chunk's rows are (container, blob, version, byte range, rows skipped), which
connector and job they go to and which columns leave are read from the ledger the blob
stage wrote. Whoever can write to the queue can at most ask for a planned chunk again; a
message cannot point a worker at another file, range or job.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from shared.common.errors import BadMessage

VERSION = 4
"""Versions 1 to 3 carried the chunk's location too; they are no longer read (``ehr-ingest
replay --pending RUN`` sends their chunks again as version 4)."""
MAX_MESSAGE_BYTES = 1024
"""Far above any chunk message; a longer one is refused before it is parsed."""
RUN_ID = re.compile(r"[0-9a-f]{32}")
MAX_INDEX = 10_000_000


@dataclass(frozen=True)
class ChunkMessage:
    run_id: str
    index: int
    v: int = VERSION

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, body: bytes | str) -> ChunkMessage:
        """Parse and check a message; anything unexpected is a ``BadMessage`` (not retried)."""
        if len(body) > MAX_MESSAGE_BYTES:
            raise BadMessage(f"message of {len(body)} bytes is larger than any chunk message")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadMessage("message is not JSON") from None
        if not isinstance(data, dict):
            raise BadMessage("message is not a JSON object")
        expected = {"run_id", "index", "v"}
        if set(data) != expected:
            older = " (a message of a version before 4, no longer read)" if data.get("v") in (1, 2, 3) else ""
            raise BadMessage(
                f"message fields differ from a chunk message: {sorted(set(data) ^ expected)}{older}"
            )
        if data["v"] != VERSION:
            raise BadMessage(f"message is not a version {VERSION} chunk message")
        run_id, index = data["run_id"], data["index"]
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise BadMessage("message run_id is not a run id (32 hexadecimal characters)")
        if type(index) is not int or not 0 <= index < MAX_INDEX:
            raise BadMessage("message index is not a chunk index")
        return cls(run_id, index)
