"""An export as SSMS writes it, with the rows hospital systems get wrong, through the whole
stack: the tool's lines and the flagged rows never reach the API, every other row does once."""

from __future__ import annotations

import pytest

from tests.e2e.test_pipeline import wait_for_run
from tests.shared.intake.exports import values
from tests.shared.intake.test_tools_output import ssms

pytestmark = pytest.mark.e2e


def test_an_ssms_export_with_broken_rows_arrives_without_them(stack, pipeline, tmp_path):
    rows = [values(i) for i in range(1500)]
    data = ssms(rows)
    lines = data.split(b"\r\n")
    lines[100] = lines[100].replace(b"Elm", b"E\x00lm")  # data row 99: a NUL byte
    lines[800] = lines[800].replace(b"Elm St", b'Elm "St"')  # data row 799: a bare quote
    export = tmp_path / "ssms-audit.csv"
    export.write_bytes(b"\r\n".join(lines))
    job = stack.state["jobs"]["generic"]
    before = stack.emulator_stats()["jobs"].get(job, {"rows": 0, "ragged_rows": 0})

    run = wait_for_run(pipeline, pipeline.drop(export, "generic"))

    assert run["status"] == "complete", run.get("reason")
    assert run["rows_skipped"] == 2 and run["records_saved"] == 1498
    after = stack.emulator_stats()["jobs"][job]
    assert after["rows"] - before["rows"] == 1498
    assert after["ragged_rows"] == before["ragged_rows"]  # no dashes line, no footer arrived
