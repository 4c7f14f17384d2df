"""Blob names as the pipeline derives other names from them, and prints them.

Azure allows a blob name of 1,024 characters, with control characters; the pipeline adds to
it (``<name>.report.json`` in quarantine, ``validation/<name>.<run>.json`` in reports) and puts
it in log lines and reports. A name that would make a derived name too long, or that holds
control characters (which could forge a log line), is refused up front with a reason, and its
copy in quarantine gets a name of its own. A quarantined copy never takes a report's name.
"""

from __future__ import annotations

import hashlib
import re

REPORT_SUFFIX = ".report.json"
MAX_NAME_CHARS = 960
"""Longest blob name accepted: Azure's 1,024 less what the pipeline adds to make the names of
its reports (``validation/`` + ``.<12-character run id>.json``: 29 characters) and a margin."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ESCAPE = "~"


def name_problem(name: str) -> str | None:
    """Why a blob cannot be processed under its name, in an operator's words; None if it can."""
    if _CONTROL.search(name):
        return (
            f"{printable(name)} holds control characters (shown as '?'), which could forge log lines; "
            "rename it without them and drop it again"
        )
    if len(name) > MAX_NAME_CHARS:
        return (
            f"{printable(name)[:80]}... is {len(name):,} characters long, more than the "
            f"{MAX_NAME_CHARS:,} this pipeline accepts (it adds to the name for its reports, and a "
            "blob name has at most 1,024); shorten it and drop it again"
        )
    return None


def printable(name: str) -> str:
    """The name with each control character as '?': safe in a log line or a report."""
    return _CONTROL.sub("?", name)


def quarantined_name(name: str) -> str:
    """The name a rejected blob's copy takes in quarantine: its own, unless that could collide
    with a report (a name ending in ``.report.json``: a ``~`` is added, and to any name already
    ending in ``~``) or is refused (a name of its own, from its hash, ending in a hex digit and
    ``~``). So no copy ends in ``.report.json``, and no two names meet: kept names never end in
    ``~``, escaped ones end in ``n~`` or ``~~``, refused ones in a hex digit and ``~``."""
    if name_problem(name):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"refused-names/{digest}{ESCAPE}"
    if name.endswith((REPORT_SUFFIX, ESCAPE)):
        return name + ESCAPE
    return name
