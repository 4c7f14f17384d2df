"""The KQL in infra/ (alert rules, workbook queries) and the README's first-run query match
what the code actually logs: a renamed log message would otherwise silence an alert."""

from __future__ import annotations

import re

from shared.settings import parse_connectors
from tests.infra.conftest import INFRA, ROOT

STARTSWITH = re.compile(r'message startswith "([^"]+)"')


def logged_prefixes() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "shared").rglob("*.py")))


def test_trace_prefixes_in_kql_are_logged_by_the_code():
    code = logged_prefixes()
    sources = [
        INFRA / "modules" / "alerts.bicep",
        *sorted((INFRA / "queries").glob("*.kql")),
        ROOT / "README.md",
    ]
    found = 0
    for source in sources:
        for prefix in STARTSWITH.findall(source.read_text()):
            found += 1
            # log.info("..." or log.log(level, "...": the message is the first string argument.
            assert re.search(r'log\.\w+\(\s*(?:\w+,\s*)?"' + re.escape(prefix), code), (
                f"{source.name}: {prefix!r} is not logged"
            )
    assert found >= 4


def test_connectors_file_is_valid():
    connectors = parse_connectors((INFRA / "connectors.json").read_text())
    assert connectors
