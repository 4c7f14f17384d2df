"""Match an export's header line to the connector schema."""

from __future__ import annotations

from collections.abc import Mapping

from shared.common.errors import Rejected
from shared.common.schema import Schema, normalise

MAX_COLUMNS = 1_000
"""Most columns a header may have. The connectors have 22 or 23 fields; an export with a few
extra columns is normal, thousands are a wrong file (or a hostile one, whose column names
would be listed in every report and ledger row)."""


def match(
    schema: Schema, columns: list[str], name: str, mapping: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Column index of every schema field present; rejects the file if a mandatory one is missing.

    ``mapping`` (the hospital's column name -> canonical key, as in the portal's mapping
    step) wins over the documented header names; both match case- and whitespace-insensitively.
    A column name is the hospital's, not a patient's, so naming it in an error is safe.
    """
    if len(columns) > MAX_COLUMNS:
        raise Rejected(
            "too-many-columns",
            f"{name}: the header has {len(columns):,} columns, more than the {MAX_COLUMNS:,} accepted "
            f"(the {schema.kind} connector has {len(schema.fields)} fields): is it the right file, "
            "with the right delimiter?",
        )
    mapped = {normalise(column): key for column, key in (mapping or {}).items()}
    documented = {normalise(n): f.key for f in schema.fields for n in f.names}
    seen: set[str] = set()
    found: dict[str, int] = {}
    for index, column in enumerate(columns):
        norm = normalise(column)
        if not norm:
            continue  # an unnamed column (a trailing delimiter): not a field, not uploaded as one
        if norm in seen:
            first = next(i for i, c in enumerate(columns) if normalise(c) == norm)
            # Named only if it is a known field name: a file without a header has data here.
            if norm in mapped or norm in documented:
                what = f"column {column.strip()!r} appears twice in the header"
            else:
                what = f"columns {first + 1} and {index + 1} of the header have the same name"
            raise Rejected("header", f"{name}: {what} (is the first line a header?)")
        seen.add(norm)
        key = mapped.get(norm) or documented.get(norm)
        if key is None:
            continue
        if key in found:
            raise Rejected(
                "header",
                f"{name}: columns {columns[found[key]].strip()!r} and {column.strip()!r} both map to "
                f"{schema.field(key).header}",
            )
        found[key] = index
    missing = [" or ".join(f.names) for f in schema.mandatory if f.key not in found]
    if missing:
        hint = ""
        if len(columns) == 1:
            hint = " The header has a single column: is the file's delimiter the one its extension implies?"
        raise Rejected(
            "missing-columns",
            f"{name}: mandatory column(s) missing from the header: {', '.join(missing)}. "
            f"The {schema.kind} connector refuses the whole file without them.{hint}",
        )
    return found


def unsent(columns: list[str], found: Mapping[str, int]) -> list[str]:
    """Names of the columns that are no schema field: under the ``columns: schema`` policy they
    never leave. Names only (a header holds no values); unnamed columns are not listed."""
    fields = set(found.values())
    return [c.strip() for i, c in enumerate(columns) if i not in fields and c.strip()]
