"""Rows repeating an earlier row's employee, patient and timestamp: their keys and their count.

The connector is reported to drop such rows silently, so the report says how many there
are. A key is reduced to a 64-bit hash of its values' UTF-8 bytes, computed with numpy eight
bytes at a time for a whole batch of rows: from the bytes where they lie in the file (a run
of rows checked at once, ``field_hashes``) or from the strings of rows taken one by one
(``row_hashes``). Both give the same hash for the same values, so a file counts alike
whichever way its rows were checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.intake import heap

PAD = bytes(8)
"""What ``field_hashes`` needs after the last byte: it reads eight bytes at a time."""
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], np.uint64)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(31)


def field_hashes(padded: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """One hash a row of the values at ``start[r, c]`` (``length[r, c]`` bytes) in ``padded``.

    Each value is read as little-endian 8-byte words (the bytes past its end masked off),
    each word mixed in by xor, an odd multiplier and a shift that folds the high bits back
    down; then its length, which keeps ("ab", "c") apart from ("a", "bc"). A row's hash
    depends on its values alone, not on the other rows of the batch. The work is linear in
    the values' bytes: each round of words takes only the values that have not ended yet,
    so one long value costs its own words, not as many words again for every row of the
    batch. ``padded`` ends with ``PAD`` so that a word may start at the last byte. Two
    different keys share a hash with a probability of about 2^-64: over 5 million rows,
    about 1e-6 that the count is one too high.
    """
    words = np.ndarray((len(padded) - 7,), np.dtype("<u8"), padded, strides=(1,))
    h = np.zeros(len(start), np.uint64)
    for c in range(start.shape[1] if len(start) else 0):
        _mix_column(h, padded, words, start[:, c], length[:, c])
        h = _mixed(h, length[:, c].astype(np.uint64))
    return h


def _mix_column(
    h: np.ndarray, padded: np.ndarray, words: np.ndarray, at: np.ndarray, size: np.ndarray
) -> None:
    """Mix each row's value of one column into ``h`` (in place), word by word: whole words for
    every row while all values have eight bytes left, then, longest values first, only the
    rows whose value goes on; the last few long values in Python, which costs less than a
    round of numpy calls per word."""
    shortest = int(size.min())
    k = 0
    while k + 8 <= shortest:
        _mixed(h, words[at + k])
        k += 8
    if k >= int(size.max()):
        return
    order = np.argsort(-size, kind="stable")
    at, size, tail = at[order] + k, size[order] - k, h[order]
    ascending = -size
    last = len(words) - 1
    while (going := int(np.searchsorted(ascending, 0))) > _FEW:
        word = words[np.minimum(at[:going], last)] & _MASKS[np.minimum(size[:going], 8)]
        _mixed(tail[:going], word)
        at[:going] += 8
        size[:going] -= 8
        ascending[:going] += 8
    for r in range(going):
        tail[r] = _mixed_bytes(int(tail[r]), padded[at[r] : at[r] + size[r]].tobytes())
    h[order] = tail


_FEW = 4
_MASK64 = (1 << 64) - 1


def _mixed_bytes(h: int, raw: bytes) -> int:
    """``h`` with the words of ``raw`` mixed in as ``_mixed`` does, in Python integers."""
    whole = len(raw) // 8 * 8
    words: list[int] = np.frombuffer(raw, "<u8", whole // 8).tolist()
    if whole < len(raw):
        words.append(int.from_bytes(raw[whole:], "little"))  # the bytes past the end masked off
    multiplier, shift = int(_MULTIPLIER), int(_SHIFT)
    for word in words:
        h = ((h ^ word) * multiplier) & _MASK64
        h ^= h >> shift
    return h


def _mixed(h: np.ndarray, word: np.ndarray) -> np.ndarray:
    """``h`` with ``word`` mixed in (in place): xor, an odd multiplier, high bits folded down."""
    h ^= word
    h *= _MULTIPLIER
    h ^= h >> _SHIFT
    return h


def row_hashes(keys: Sequence[Sequence[str]]) -> np.ndarray:
    """``field_hashes`` of rows given as their key values (strings): the row-by-row path."""
    if not keys:
        return np.zeros(0, np.uint64)
    parts = [value.encode() for key in keys for value in key]
    length = np.fromiter(map(len, parts), np.int64, len(parts))
    start = np.cumsum(length) - length
    padded = np.frombuffer(b"".join(parts) + PAD, np.uint8)
    shape = (len(keys), len(keys[0]))
    return field_hashes(padded, start.reshape(shape), length.reshape(shape))


class DuplicateCounter:
    """Counts rows repeating an earlier row's key, from their hashes, batch by batch.

    The scan hands rows over in batches (a run of rows, or the rows taken one by one in
    between), in file order. A duplicate has the same timestamp, so while no batch starts
    before the latest timestamp of the batches before it (an audit log is written in time
    order), a batch can only repeat keys of its own or of the rows at that latest timestamp:
    its distinct hashes (numpy, sorted) count it. The key holds the timestamp as written, so
    this compares the timestamps as strings: equal strings are what makes keys equal.

    The hashes are kept (8 bytes a row: 40 MB at the 5-million-row limit) so that a file
    that breaks that order is counted exactly at the end, over all of them at once.
    """

    def __init__(self) -> None:
        self._batches: list[np.ndarray] = []
        self._latest = ""
        """The latest timestamp so far (as a string); "" before the first row."""
        self._open = np.zeros(0, np.uint64)
        """Distinct hashes of the rows at ``_latest``: the only ones a later batch can repeat."""
        self._found = 0
        self._in_order = True

    def add(self, times: Sequence[str], hashes: np.ndarray) -> None:
        """A batch of valid rows: their timestamps and key hashes, pairwise in any order."""
        if len(hashes):
            latest = max(times)
            at_latest = np.fromiter(map(latest.__eq__, times), bool, len(times))
            self.add_batch(hashes, min(times), latest, hashes[at_latest])

    def add_batch(self, hashes: np.ndarray, earliest: str, latest: str, at_latest: np.ndarray) -> None:
        """A batch of valid rows given by their key hashes, the batch's earliest and latest
        timestamps, and the hashes of its rows at the latest: what a run of rows checked at
        once knows without a string per timestamp."""
        if not len(hashes):
            return
        self._batches.append(hashes)
        if not self._in_order:
            return
        if earliest < self._latest:
            self._in_order = False
            return
        keys = _distinct(hashes)
        self._found += len(hashes) - len(keys)
        if earliest == self._latest and len(self._open):
            at = np.minimum(np.searchsorted(keys, self._open), len(keys) - 1)
            self._found += int(np.count_nonzero(keys[at] == self._open))
        if earliest != latest:
            keys = _distinct(at_latest)
        elif latest == self._latest:
            keys = _distinct(np.concatenate((keys, self._open)))
        self._open, self._latest = keys, latest

    def count(self) -> int:
        """The duplicates; asked once, at the end."""
        if self._in_order or not self._batches:
            return self._found
        every = np.empty(sum(map(len, self._batches)), np.uint64)
        at = 0
        while self._batches:  # each batch let go once copied: the hashes are not held twice
            batch = self._batches.pop()
            every[at : at + len(batch)] = batch
            at += len(batch)
            if not len(self._batches) % 256:
                heap.give_back()
        every.sort()
        return int(np.count_nonzero(every[1:] == every[:-1]))


def _distinct(hashes: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (``np.unique`` does the same some 20 times slower here,
    numpy 2.5, a batch of a thousand)."""
    ordered = np.sort(hashes)
    first = np.ones(len(ordered), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]
