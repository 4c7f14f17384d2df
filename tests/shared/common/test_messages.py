import json

import pytest

from shared.common.errors import BadMessage
from shared.common.messages import MAX_MESSAGE_BYTES, ChunkMessage

RUN = "0123456789abcdef" * 2
MSG = ChunkMessage(RUN, 2)


def test_round_trip():
    assert ChunkMessage.decode(MSG.encode().encode()) == MSG
    assert json.loads(MSG.encode()) == {"run_id": RUN, "index": 2, "v": 4}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"v": 4}).encode(), "fields differ"),
        (json.dumps({"run_id": RUN, "index": 2, "v": 3}).encode(), "not a version 4"),
        (json.dumps({"run_id": "r1", "index": 2, "v": 4}).encode(), "not a run id"),
        (json.dumps({"run_id": RUN.upper(), "index": 2, "v": 4}).encode(), "not a run id"),
        (json.dumps({"run_id": RUN, "index": "2", "v": 4}).encode(), "not a chunk index"),
        (json.dumps({"run_id": RUN, "index": -1, "v": 4}).encode(), "not a chunk index"),
        (json.dumps({"run_id": RUN, "index": True, "v": 4}).encode(), "not a chunk index"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "larger than any chunk message"),
    ],
)
def test_malformed_messages_are_bad_with_the_reason(body, reason):
    with pytest.raises(BadMessage, match=reason):
        ChunkMessage.decode(body)


def test_a_message_that_says_where_the_rows_are_is_refused():
    """Versions before 4 carried the container, blob, byte range, skips and connector: a
    message like that (a forged one included) is never read for them."""
    located = {
        "run_id": RUN, "connector": "epic", "container": "quarantine", "blob": "generic/ssn.csv",
        "etag": '"0x1"', "header_start": 0, "header_end": 10, "index": 0, "start": 10, "end": 50,
        "rows": 5, "chunks": 1, "first_row": 1, "skip": [], "v": 3,
    }  # fmt: skip
    with pytest.raises(BadMessage, match=r"fields differ .* a version before 4, no longer read"):
        ChunkMessage.decode(json.dumps(located))
    with pytest.raises(BadMessage, match="fields differ"):
        ChunkMessage.decode(json.dumps({**located, "v": 4}))
