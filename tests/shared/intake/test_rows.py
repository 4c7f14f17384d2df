"""DuplicateCounter: the in-order count (sets per batch) and the out-of-order one agree."""

from __future__ import annotations

import random

from shared.intake.rows import DuplicateCounter


def _count(batches: list[list[tuple[str, str]]]) -> int:
    counter = DuplicateCounter()
    for batch in batches:
        counter.add([t for t, _ in batch], [hash(row) for row in batch])
    return counter.count()


def _expected(batches: list[list[tuple[str, str]]]) -> int:
    rows = [row for batch in batches for row in batch]
    return len(rows) - len(set(rows))


def test_in_time_order_a_timestamp_spanning_batches_counts_its_repeats():
    # 10:00 runs through three batches; a batch's rows may come in any order.
    batches = [
        [("09:59", "a"), ("10:00", "a"), ("10:00", "b")],
        [("10:00", "a"), ("10:00", "c")],
        [("10:00", "b"), ("10:01", "a"), ("10:00", "c"), ("10:01", "a")],
        [("10:01", "a"), ("10:02", "a")],
    ]
    assert _count(batches) == _expected(batches) == 5


def test_out_of_order_batches_fall_back_to_counting_every_hash():
    batches = [[("10:00", "a"), ("10:01", "b")], [("10:00", "a"), ("09:00", "b")], [("10:01", "b")]]
    assert _count(batches) == _expected(batches) == 2


def test_random_batches_in_and_out_of_order_match_a_set():
    rng = random.Random(7)
    for ordered in (True, False):
        rows = [(f"{rng.randrange(30):02d}", rng.choice("abcd")) for _ in range(2_000)]
        if ordered:
            rows.sort(key=lambda row: row[0])
        batches, i = [], 0
        while i < len(rows):
            n = rng.randrange(1, 60)
            batch = rows[i : i + n]
            rng.shuffle(batch)
            batches.append(batch)
            i += n
        assert _count(batches) == _expected(batches)


def test_no_rows_no_duplicates():
    counter = DuplicateCounter()
    counter.add([], [])
    assert counter.count() == 0
