"""Duplicate keys: the same hash from a file's bytes as from the row's strings, and the
in-order count (per batch) and the out-of-order one agree."""

from __future__ import annotations

import random

import numpy as np

from shared.intake.duplicates import PAD, DuplicateCounter, field_hashes, row_hashes


def _count(batches: list[list[tuple[str, str]]]) -> int:
    counter = DuplicateCounter()
    for batch in batches:
        counter.add([t for t, _ in batch], row_hashes(batch))
    return counter.count()


def test_the_bytes_in_place_hash_as_the_strings_do():
    rng = random.Random(3)
    alphabet = ["a", "b", "é", "ễ", ",", "x" * 7, "y" * 9]
    rows = [
        tuple("".join(rng.choices(alphabet, k=rng.randrange(0, 6))) for _ in range(3)) for _ in range(500)
    ]
    # The same values laid out as in a file: other bytes around and between them.
    text, start, length = bytearray(b"junk;"), [], []
    for row in rows:
        for value in row:
            raw = value.encode()
            start.append(len(text))
            length.append(len(raw))
            text += raw + b";filler;"
    padded = np.frombuffer(bytes(text) + PAD, np.uint8)
    shape = (len(rows), 3)
    in_place = field_hashes(padded, np.array(start).reshape(shape), np.array(length).reshape(shape))
    assert (in_place == row_hashes(rows)).all()
    assert len(set(in_place.tolist())) == len(set(rows))


def test_a_row_hashes_alike_in_any_batch():
    rows = [("u1", "", "t"), ("u1", "x" * 20, "t"), ("", "é", "")]
    alone = [int(row_hashes([row])[0]) for row in rows]
    assert row_hashes(rows).tolist() == alone == row_hashes(rows[::-1]).tolist()[::-1]


def test_values_cut_elsewhere_are_other_keys():
    hashes = row_hashes([("ab", "c", "t"), ("a", "bc", "t"), ("abc", "", "t"), ("ab", "c", "t")])
    assert len(set(hashes.tolist())) == 3 and hashes[0] == hashes[3]


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
    counter.add([], row_hashes([]))
    assert counter.count() == 0


def test_long_values_hash_alike_in_any_batch():
    """Past the shortest value a batch goes on with the rows whose values go on (numpy), and
    the last few long ones word by word in Python: both give each row's own hash."""
    rng = random.Random(5)
    rows = [
        (f"u{i}" * rng.randrange(1, 400), "é" * rng.randrange(0, 60), "2026-11-22T08:00:00Z")
        for i in range(60)
    ]
    alone = [int(row_hashes([row])[0]) for row in rows]
    assert row_hashes(rows).tolist() == alone
    assert len(set(alone)) == len(set(rows))
