"""Match an export's header line to the connector schema."""

from __future__ import annotations

from shared.errors import Rejected
from shared.schema import Schema, normalise


def match(schema: Schema, columns: list[str], name: str) -> dict[str, int]:
    """Column index of every schema field present; rejects the file if a mandatory one is missing.

    A column name is the hospital's, not a patient's, so naming it in an error is safe.
    """
    by_name: dict[str, int] = {}
    for index, column in enumerate(columns):
        key = normalise(column)
        if key in by_name:
            raise Rejected("header", f"{name}: column {column.strip()!r} appears twice in the header")
        by_name[key] = index
    found = {f.key: by_name[normalise(f.header)] for f in schema.fields if normalise(f.header) in by_name}
    missing = [f.header for f in schema.mandatory if f.key not in found]
    if missing:
        raise Rejected(
            "missing-columns",
            f"{name}: mandatory column(s) missing from the header: {', '.join(missing)}. "
            f"The {schema.kind} connector refuses the whole file without them.",
        )
    return found
