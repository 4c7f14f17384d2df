import json

import pytest

from shared.errors import BadMessage
from shared.messages import ChunkMessage

MSG = ChunkMessage("r1", "generic", "exports", "generic/a.csv", '"0x1"', 0, 10, 2, 10, 50, 5, 3)


def test_round_trip():
    assert ChunkMessage.decode(MSG.encode().encode()) == MSG


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"v": 1}).encode(),
        json.dumps({**json.loads(MSG.encode()), "rows": "5"}).encode(),
        json.dumps({**json.loads(MSG.encode()), "start": 60}).encode(),
        json.dumps({**json.loads(MSG.encode()), "index": 3}).encode(),
        b"x" * 100_000,
    ],
)
def test_malformed_messages_are_bad(body):
    with pytest.raises(BadMessage):
        ChunkMessage.decode(body)
