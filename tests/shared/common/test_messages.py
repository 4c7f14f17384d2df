import json
from dataclasses import replace

import pytest

from shared.common.errors import BadMessage
from shared.common.messages import MAX_MESSAGE_BYTES, ChunkMessage
from shared.intake.scan import MAX_SKIPS

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


def test_first_row_round_trips_and_version_1_messages_are_still_read():
    msg = ChunkMessage("r1", "g", "exports", "g/a.csv", '"0x1"', 0, 10, 2, 10, 50, 5, 3, first_row=11)
    assert ChunkMessage.decode(msg.encode()).first_row == 11
    v1 = {k: v for k, v in json.loads(MSG.encode()).items() if k != "first_row"} | {"v": 1}
    assert ChunkMessage.decode(json.dumps(v1)).first_row == 0
    with pytest.raises(BadMessage):
        ChunkMessage.decode(json.dumps({**json.loads(msg.encode()), "first_row": -1}))


def test_a_message_stays_far_below_the_queue_limit():
    longest = "generic/" + "n" * 1016  # blob names are at most 1024 characters
    big = 2**40
    msg = ChunkMessage(
        "r" * 32, "generic", "exports", longest, '"0x8DB"', 3, 900, 4999, big, 2 * big, 100_000, 5000
    )
    msg = replace(msg, first_row=4_900_001)
    assert len(msg.encode().encode()) < 2048
    holes = tuple((big + 1000 * i, big + 1000 * i + 500) for i in range(MAX_SKIPS))
    assert len(replace(msg, skip=holes).encode().encode()) < MAX_MESSAGE_BYTES / 4 * 3 / 4


def test_skipped_ranges_round_trip_and_version_2_messages_are_still_read():
    msg = replace(MSG, skip=((12, 20), (30, 31)))
    decoded = ChunkMessage.decode(msg.encode())
    assert decoded.skip == ((12, 20), (30, 31)) and decoded.size == 40 - 9
    v2 = {k: v for k, v in json.loads(MSG.encode()).items() if k != "skip"} | {"v": 2}
    assert ChunkMessage.decode(json.dumps(v2)).skip == ()


@pytest.mark.parametrize(
    "skip",
    [[[5, 20]], [[12, 60]], [[20, 12]], [[30, 40], [12, 20]], [[12, 20], [15, 25]], [[12, 12]], [[12]], "x"],
)
def test_skipped_ranges_must_be_ordered_inside_the_chunk(skip):
    with pytest.raises(BadMessage):
        ChunkMessage.decode(json.dumps({**json.loads(MSG.encode()), "skip": skip}))
