import pytest

from shared.common.settings import Settings, parse_connectors


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


def test_connector_validation_options_with_defaults():
    c = parse_connectors('[{"name": "g", "kind": "healthcare", "job_id": "j"}]')["g"]
    assert c.invalid_rows == "skip" and c.max_invalid_share == 0.01
    assert c.required == ("event_name", "employee_upn") and c.mapping == {}
    text = (
        '[{"name": "e", "kind": "epic", "job_id": "j", "invalid_rows": "reject", "max_invalid_share": 0.2,'
        ' "required": ["event_name"], "mapping": {"When": "ACCESS_LOG.ACCESS_TIME", "Who": "employee_upn"}}]'
    )
    e = parse_connectors(text)["e"]
    assert e.mapping == {"When": "creation_time", "Who": "employee_upn"} and e.required == ("event_name",)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('"invalid_rows": "maybe"', "invalid_rows"),
        ('"max_invalid_share": 2', "max_invalid_share"),
        ('"required": ["shoe_size"]', "unknown required"),
        ('"mapping": {"X": "Shoe Size"}', "not a healthcare field"),
        ('"mapping": ["X"]', "mapping must be an object"),
    ],
)
def test_bad_connector_options_are_named(extra, words):
    with pytest.raises(ValueError, match=words):
        parse_connectors(f'[{{"name": "g", "kind": "healthcare", "job_id": "j", {extra}}}]')
