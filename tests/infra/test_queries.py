"""The KQL in infra/ (alert rules, workbook queries) and the README's first-run query match
what the code actually logs: a renamed log message would otherwise silence an alert."""

from __future__ import annotations

import re

from shared.common.settings import parse_connectors
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


# The tables the OpenTelemetry pipeline fills (Azure Monitor exporter envelopes): log records
# -> traces, records with microsoft.custom_event.name -> customEvents, instruments ->
# customMetrics, spans -> requests (server) and dependencies (client, internal: type InProc).
OTEL_TABLES = {"traces", "customEvents", "customMetrics", "requests", "dependencies", "exceptions"}
TABLE = re.compile(r"(?:^|\(|=|union\s+(?:isfuzzy=true\s+)?)\s*([A-Za-z]+)\s*(?:\n\s*)?\|", re.MULTILINE)
DIMENSION = re.compile(r"customDimensions\.(\w+)")


def kql_sources() -> dict[str, str]:
    out = {p.name: p.read_text() for p in sorted((INFRA / "queries").glob("*.kql"))}
    alerts = (INFRA / "modules" / "alerts.bicep").read_text()
    out["alerts.bicep"] = "\n".join(re.findall(r"'''(.*?)'''", alerts, re.DOTALL))
    return out


def test_kql_reads_only_tables_the_opentelemetry_pipeline_fills():
    for name, text in kql_sources().items():
        bound = set(re.findall(r"\blet\s+(\w+)\s*=", text))
        tables = set(TABLE.findall(text)) - bound
        assert tables, name
        assert tables <= OTEL_TABLES, f"{name}: {tables - OTEL_TABLES}"


def test_kql_dimensions_are_ones_the_code_emits():
    """A customDimensions key is an ``extra`` key or a keyword of a telemetry call in shared/."""
    code = logged_prefixes()
    for name, text in kql_sources().items():
        for key in set(DIMENSION.findall(text)):
            assert re.search(rf"\b{key}=|[\"\']{key}[\"\']\s*:", code), f"{name}: customDimensions.{key}"


def test_failed_invocations_are_read_from_the_hosts_own_trace():
    """In OpenTelemetry mode `requests` is empty for non-HTTP functions: the function-errors
    alert and the workbook read the host's "Executed '...' (Failed" trace first."""
    sources = kql_sources()
    for name in ("alerts.bicep", "failed-today.kql"):
        assert "Executed '[^']+' \\(Failed" in sources[name], name
