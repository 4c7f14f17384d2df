"""checkov's offline Bicep scan: zero failed checks, zero parsing errors, every suppression
justified inline (``// checkov:skip=CKV_...: why``) and still needed."""

from __future__ import annotations

import re

from tests.infra.conftest import INFRA, bicep_files

SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+):?(.*)")


def test_no_parsing_errors(checkov_report):
    assert checkov_report["summary"]["parsing_errors"] == 0, checkov_report["results"].get("parsing_errors")


def test_no_failed_checks(checkov_report):
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_file_checkov_has_checks_for_was_scanned(checkov_report, templates):
    """A file checkov could not parse yields no checks at all: make sure none went missing."""
    results = checkov_report["results"]
    scanned = {
        c["file_path"].lstrip("/") for kind in ("passed_checks", "skipped_checks") for c in results[kind]
    }
    covered = {"Microsoft.Storage/storageAccounts", "Microsoft.Web/sites", "Microsoft.KeyVault/vaults"}
    for name, template in templates.items():
        declared = {r["type"] for r in (template.get("resources") or {}).values() if not r["existing"]}
        if declared & covered:
            assert name in scanned, f"checkov ran no check on {name}"


def test_suppressions_are_justified_and_used(checkov_report):
    in_source: dict[tuple[str, str], str] = {}
    for path in bicep_files():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            m = SKIP.search(line)
            if m:
                where = f"{path.relative_to(INFRA)}:{lineno}"
                assert len(m.group(2).strip()) >= 40, f"{where}: {m.group(1)} needs a real reason"
                in_source.setdefault((path.relative_to(INFRA).as_posix(), m.group(1)), where)
    skipped = {
        (c["file_path"].lstrip("/"), c["check_id"]) for c in checkov_report["results"]["skipped_checks"]
    }
    unused = [where for key, where in in_source.items() if key not in skipped]
    assert not unused, f"suppressions for checks that no longer run: {unused}"
    for check in checkov_report["results"]["skipped_checks"]:
        assert check["check_result"]["suppress_comment"] != "No comment provided", check["check_id"]
