from __future__ import annotations

import threading
import time

import pytest

from shared.intake.readahead import read_ahead


def test_blocks_arrive_in_order():
    blocks = [bytes([i]) * 10 for i in range(50)]
    assert list(read_ahead(iter(blocks), depth=3)) == blocks


def test_an_error_while_fetching_is_raised_after_the_blocks_before_it():
    def source():
        yield b"a"
        yield b"b"
        raise ConnectionResetError("the download broke")

    got = []
    with pytest.raises(ConnectionResetError, match="download broke"):
        for block in read_ahead(source()):
            got.append(block)
    assert got == [b"a", b"b"]


class Counted:
    """A source of ``n`` one-byte blocks that counts how many were fetched."""

    def __init__(self, n: int) -> None:
        self.n, self.fetched = n, 0

    def __iter__(self):
        for _ in range(self.n):
            self.fetched += 1
            yield b"x"


def test_fetching_stays_at_most_depth_blocks_ahead():
    source = Counted(100)
    blocks = read_ahead(source, depth=2)
    next(blocks)
    time.sleep(0.3)
    # One consumed, two waiting in the buffer, one in the fetcher's hand.
    assert source.fetched <= 4
    blocks.close()


def test_a_consumer_that_stops_early_stops_the_fetching():
    source = Counted(10_000)
    blocks = read_ahead(source, depth=2)
    next(blocks)
    blocks.close()
    deadline = time.monotonic() + 5
    while any(t.name == "read-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    assert source.fetched < 10
