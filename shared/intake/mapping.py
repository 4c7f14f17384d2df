"""Suggest a column mapping from a sample export's header, as the portal's mapping step does.

Each column is matched to a schema field exactly, after normalising case and whitespace,
or fuzzily (punctuation ignored, the canonical key and the other connector's header name
considered too). Only column names are read: never a row.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from shared.common.schema import SCHEMAS, Schema, normalise

FUZZY_CUTOFF = 0.75


@dataclass
class Suggestion:
    kind: str
    exact: dict[str, str] = field(default_factory=dict)
    normalised: dict[str, str] = field(default_factory=dict)
    fuzzy: dict[str, tuple[str, float]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    missing_mandatory: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> dict[str, str]:
        """What to paste into the connector's ``mapping``: columns whose name differs from the schema's."""
        return {**self.normalised, **{c: key for c, (key, _) in self.fuzzy.items()}}

    @property
    def is_header(self) -> bool:
        """Whether the line read is a header: a column is a field's name (or a known spelling
        of it), or most columns are close to one. The first row of a header-less export is
        neither, and holds patient and employee values: it must not be echoed."""
        named = self.exact or self.normalised or any(score == 1.0 for _, score in self.fuzzy.values())
        return bool(named) or len(self.fuzzy) > len(self.unmatched)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mapping": self.mapping,
            "exact": self.exact,
            "normalised": self.normalised,
            "fuzzy": {c: {"field": k, "score": round(s, 2)} for c, (k, s) in self.fuzzy.items()},
            "unmatched_columns": self.unmatched,
            "missing_mandatory": self.missing_mandatory,
        }


def _loose(name: str) -> str:
    return "".join(ch for ch in normalise(name) if ch.isalnum())


def _names(schema: Schema) -> dict[str, str]:
    """Every loose spelling of every field -> its key (header, key, the other schema's header)."""
    names: dict[str, str] = {}
    for s in SCHEMAS.values():
        for f in s.fields:
            if any(g.key == f.key for g in schema.fields):
                names.setdefault(_loose(f.header), f.key)
                names.setdefault(_loose(f.key), f.key)
                # Clarity names without their table: ACCESS_TIME, PAT_MRN_ID...
                names.setdefault(_loose(f.header.rsplit(".", 1)[-1]), f.key)
    return names


def suggest(schema: Schema, columns: list[str]) -> Suggestion:
    result = Suggestion(schema.kind)
    exact = {n: f.key for f in schema.fields for n in f.names}
    by_norm = {normalise(n): f.key for f in schema.fields for n in f.names}
    loose = _names(schema)
    taken: set[str] = set()
    pending: list[str] = []
    for column in columns:
        if not column.strip():
            continue
        if column in exact:
            result.exact[column] = exact[column]
        elif normalise(column) in by_norm:
            result.normalised[column] = by_norm[normalise(column)]
        else:
            pending.append(column)
            continue
        taken.add(result.exact.get(column) or result.normalised[column])
    for column in pending:
        key, score = _fuzzy(_loose(column), loose, taken)
        if key is None:
            result.unmatched.append(column)
        else:
            result.fuzzy[column] = (key, score)
            taken.add(key)
    result.missing_mandatory = [f.header for f in schema.mandatory if f.key not in taken]
    return result


def _fuzzy(name: str, loose: dict[str, str], taken: set[str]) -> tuple[str | None, float]:
    if name in loose and loose[name] not in taken:
        return loose[name], 1.0
    best, best_score = None, 0.0
    for candidate, key in loose.items():
        if key in taken:
            continue
        score = difflib.SequenceMatcher(None, name, candidate).ratio()
        if score > best_score:
            best, best_score = key, score
    return (best, best_score) if best_score >= FUZZY_CUTOFF else (None, best_score)
