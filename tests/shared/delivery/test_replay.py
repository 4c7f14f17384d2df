from dataclasses import replace

from shared.common.entities import ChunkEntity, RunEntity
from shared.common.messages import ChunkMessage
from shared.delivery.replay import message_for

RUN = RunEntity(
    "ab" * 16,
    "failed",
    chunks=3,
    connector="generic",
    container="exports",
    blob="generic/a.csv",
    etag='"0x1"',
    header_start=0,
    header_end=10,
)
CHUNK = ChunkEntity("ab" * 16, 1, start=10, end=50, rows=5, first_row=6)


def test_a_replayed_message_is_the_one_the_planner_sent():
    msg = message_for(RUN, replace(CHUNK, skip=((12, 20), (30, 31))))
    assert ChunkMessage.decode(msg.encode()) == msg == ChunkMessage(RUN.run_id, 1)
