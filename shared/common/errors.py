"""Errors an operator reads. Messages name files and row numbers, never field values."""

from __future__ import annotations


class Rejected(Exception):
    """The whole file is refused before any row leaves; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadMessage(ValueError):
    """A queue message that can never be processed, whatever the number of retries."""
