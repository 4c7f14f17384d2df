"""Match an export's header line to the connector schema."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import datetime

from shared.common.dates import slash_datetime
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
    if not any(normalise(c) in mapped or normalise(c) in documented for c in columns):
        _no_header(schema, columns, name)
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
            raise Rejected(
                "header",
                f"{name}: {what} (is the first line a header?): give each column its own name in the "
                "export, or map the one the connector should read with the connector's mapping",
            )
        seen.add(norm)
        key = mapped.get(norm) or documented.get(norm)
        if key is None:
            continue
        if key in found:
            raise Rejected(
                "header",
                f"{name}: columns {columns[found[key]].strip()!r} and {column.strip()!r} both map to "
                f"{schema.field(key).header}: map only one of them in the connector's mapping",
            )
        found[key] = index
    missing = [" or ".join(f.names) for f in schema.mandatory if f.key not in found]
    if missing:
        raise Rejected("missing-columns", _missing(schema, columns, name, missing, found))
    return found


SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "pipes", ",": "commas"}


def _missing(schema: Schema, columns: list[str], name: str, missing: list[str], found: dict[str, int]) -> str:
    """Which mandatory columns are missing, the file's closest names, and the way to map them."""
    text = f"{name}: mandatory column(s) missing from the header: {', '.join(missing)}. "
    text += f"The {schema.kind} connector refuses the whole file without them."
    if len(columns) == 1 and (used := [s for s in SEPARATORS if s in columns[0]]):
        return text + (
            f" The header is one column holding {SEPARATORS[used[0]]}: the file is separated by "
            f"{SEPARATORS[used[0]]}, which its extension does not say"
            + (
                " (Excel writes semicolons where the decimal separator is a comma): save it from "
                "Excel as 'CSV UTF-8 (Comma delimited)' with a comma list separator."
                if used[0] == ";"
                else ": give it the extension of its delimiter (.csv commas, .tsv tabs, .psv pipes)."
            )
        )
    unused = unsent(columns, found)
    by_loose = {_loose(c): c for c in unused}
    closest = []
    for header in missing:
        near = difflib.get_close_matches(_loose(header), by_loose, n=1, cutoff=0.5)
        if near:
            closest.append(f"{header} (closest in the file: {by_loose[near[0]]!r})")
    hint = f" Closest names: {', '.join(closest)}." if closest else ""
    return (
        text + hint + f" If the file names them otherwise, run `ehr-ingest suggest-mapping {name}` and "
        'paste the "mapping" it prints into the connector\'s entry in CONNECTORS.'
    )


def _loose(name: str) -> str:
    """Letters and digits only: "CreationTime", "creation_time" and "Creation Time" alike."""
    return "".join(ch for ch in normalise(name) if ch.isalnum())


def _no_header(schema: Schema, columns: list[str], name: str) -> None:
    """Refuse a file whose first line is a data row (SQL jobs often write no header): no name
    matches and one of its values is a date and time. Its values are not repeated."""
    if any(_looks_like_time(c.strip()) for c in columns):
        raise Rejected(
            "no-header",
            f"{name}: the first line looks like a data row, not a header: it holds a date and time "
            f"and none of the {schema.kind} connector's column names. SQL jobs (sqlcmd -h -1, bcp) "
            "often write no header: make the job write one (the connector's column names, e.g. "
            f"{schema.fields[0].header}, {schema.fields[1].header}, ...) and drop the file again.",
        )


def _looks_like_time(value: str) -> bool:
    if len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return "/" in value and any(slash_datetime(value, order) for order in (False, True))


def unsent(columns: list[str], found: Mapping[str, int]) -> list[str]:
    """Names of the columns that are no schema field: under the ``columns: schema`` policy they
    never leave. Names only (a header holds no values); unnamed columns are not listed."""
    fields = set(found.values())
    return [c.strip() for i, c in enumerate(columns) if i not in fields and c.strip()]
