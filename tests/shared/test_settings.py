import pytest

from shared.settings import Settings, parse_connectors


def test_defaults_and_required():
    s = Settings({"CONNECTORS": "[]"})
    assert s["CHUNK_QUEUE"] == "ehr-chunks"
    with pytest.raises(RuntimeError, match="KEY_VAULT_URL"):
        s["KEY_VAULT_URL"]


def test_connectors_parsed_and_checked():
    c = parse_connectors('[{"name": "epic", "kind": "epic", "job_id": "j", "chunk_rows": 10}]')
    assert c["epic"].chunk_rows == 10
    with pytest.raises(ValueError, match="unknown connector kind"):
        parse_connectors('[{"name": "x", "kind": "cerner", "job_id": "j"}]')
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_connectors("[")
