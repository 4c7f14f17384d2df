"""The distinct employee logins of an export's rows to send, for the coverage count.

The scan hands every batch of rows it keeps to ``Logins``: the fast path a run of fields
(the login column hashed in place with numpy, strings decoded only for a run that holds a
login not met before), the row-by-row path the rows' duplicate keys, whose first value is
the employee's login in every schema. The values live only in this process, until the blob
stage turns them into keyed hashes (``shared.common.logins``); they are never written, logged
or sent. Bounded: past ``MAX_LOGINS`` distinct values the set stops growing and says so.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shared.intake.fields import Fields

MAX_LOGINS = 200_000
"""Far above any hospital's staff; a hostile file of 5 million distinct logins costs no more."""


class Logins:
    def __init__(self, column: int) -> None:
        self.column = column
        """Index of the login column (``employee_upn``) in the file's header."""
        self.values: set[str] = set()
        self.overflow = False
        """True once more than ``MAX_LOGINS`` distinct logins were met: the set is incomplete."""
        self._hashes = np.zeros(0, np.uint64)
        """Sorted hashes of the logins met, so a run of known ones costs one ``searchsorted``."""

    def run(self, found: Fields, keep: np.ndarray | None) -> None:
        """The logins of a run's rows to send (all, or those ``keep`` says). Most runs hold
        only logins met before: one ``searchsorted`` says so, and nothing is decoded."""
        if self.overflow:
            return
        rows = np.arange(found.rows) if keep is None else np.flatnonzero(keep)
        hashes = found.key_hashes([self.column])[rows]
        known = self._hashes
        if len(known):
            at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
            fresh = np.flatnonzero(known[at] != hashes)
        else:
            fresh = np.arange(len(hashes))
        if not len(fresh):
            return
        distinct, first = np.unique(hashes[fresh], return_index=True)
        strings = found.strings(self.column)
        self._add(strings[int(rows[fresh[i]])] for i in first)
        self._hashes = np.union1d(known, distinct)

    def rows(self, keys: Iterable[tuple[str, ...]]) -> None:
        """The logins of rows taken one by one, from their duplicate keys."""
        self._add(key[0] for key in keys)

    def _add(self, logins: Iterable[str]) -> None:
        if self.overflow:
            return
        self.values.update(login for login in logins if login)
        if len(self.values) > MAX_LOGINS:
            self.values.clear()
            self.overflow = True
