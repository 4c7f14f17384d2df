"""Which audit events leave the hospital: the connector's ``events`` filter.

The Epic connector's documentation asks for only the relevant log metrics to be exported;
HIPAA's minimum-necessary rule asks the same of what is sent on. A hospital that cannot
filter at the source lists the Event Names (Epic: ``ACCESS_LOG_METRIC.METRIC_NAME``) to keep
(``include``) or to leave out (``exclude``). Names match trimmed and case-insensitively. A
filtered row is neither invalid nor uploaded: both stages count it apart.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("include", "exclude")
OTHER = "(other events)"


def event_key(name: str) -> str:
    """How an Event Name is compared (and counted): trimmed, case-folded, inner spaces as one."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class EventFilter:
    mode: str
    """``include``: only the listed events are sent; ``exclude``: all but the listed ones."""
    names: frozenset[str]
    """The listed Event Names, as ``event_key`` writes them."""

    def keeps(self, event_name: str) -> bool:
        return (event_key(event_name) in self.names) == (self.mode == "include")

    def bucket(self, event_name: str) -> str:
        """What a filtered row is counted under: its Event Name if the connector lists it, else
        ``OTHER``. The column may hold free text; only the hospital's own list of names reaches
        the ledger and the reports, and the count of buckets stays bounded by it."""
        key = event_key(event_name)
        return key if key in self.names else OTHER


def parse_events(value: object, where: str) -> EventFilter | None:
    """The ``events`` key of a connector: ``{"include": [...]}``, ``{"exclude": [...]}`` or absent.

    Raises ``ValueError`` naming the key, so a typo stops the connector (nothing uploaded)
    instead of silently sending every event."""
    if value is None or value == {}:
        return None
    if isinstance(value, EventFilter):
        return value
    if not isinstance(value, dict):
        raise ValueError(f'{where}: events must be an object, {{"include": [...]}} or {{"exclude": [...]}}')
    unknown = sorted(set(value) - set(MODES))
    if unknown:
        raise ValueError(f"{where}: events key {unknown[0]!r} is neither 'include' nor 'exclude'")
    if len(value) != 1:
        raise ValueError(f"{where}: events has both 'include' and 'exclude'; use one of them")
    ((mode, names),) = value.items()
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: events.{mode} must be a list of Event Names (strings)")
    keys = frozenset(event_key(n) for n in names if event_key(n))
    if mode == "include" and not keys:
        raise ValueError(f"{where}: events.include is empty, so no row would ever be sent")
    return EventFilter(mode, keys)
