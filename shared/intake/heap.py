"""Hand the memory a scan has freed back to the operating system as it goes.

A scan allocates and frees arrays and byte strings of about a megabyte for every megabyte of
the file. glibc's allocator serves them from its heap once freed blocks of the file's size
have raised its threshold for using ``mmap``, and its heap then only grows: over a file of 5
million rows (1.1 GB) the peak RSS reached 299 MB while the live data stayed near 116 MB
(the same scan with ``MALLOC_MMAP_THRESHOLD_`` fixed, twice as slow from page faults).
``malloc_trim`` every few blocks keeps the peak near the live data (132 MB) for some 6% more
CPU. Elsewhere than glibc (musl, macOS) there is no ``malloc_trim`` and this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

TRIM_BYTES = 32 * 1024 * 1024
"""Bytes scanned between two trims: every 64 MB let the peak grow to 145 MB (5 million rows);
every 8 MB kept it at 124 MB but lost more time to page faults."""


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: libc's where it is linked in
    except (OSError, TypeError):  # Windows has no such handle
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the heap's free pages to the system (glibc); a no-op elsewhere."""
    if _TRIM is not None:
        _TRIM(0)
