import json

from shared.common.ledger import chunk_key, run_id


def test_run_id_is_stable_per_blob_version():
    assert run_id("exports", "generic/a.csv", '"0x1"') == run_id("exports", "generic/a.csv", '"0x1"')
    assert run_id("exports", "generic/a.csv", '"0x1"') != run_id("exports", "generic/a.csv", '"0x2"')
    assert len(run_id("c", "b", "e")) == 32


def test_chunk_keys_sort_in_order():
    assert sorted([chunk_key(10), chunk_key(9)]) == [chunk_key(9), chunk_key(10)]


def test_every_value_written_fits_a_table_property():
    from shared.common.entities import CUT, MAX_PROPERTY_CHARS, RunEntity, to_entity

    run = RunEntity(
        "r",
        reason="x" * 100_000,
        blob="y" * MAX_PROPERTY_CHARS,
        columns_dropped=tuple("c" * 1000 for _ in range(100)),
        filtered_by_event={"z" * 40_000: 1, "view": 2},
    )
    entity = to_entity(run)
    assert len(entity["reason"]) == MAX_PROPERTY_CHARS and entity["reason"].endswith(CUT)
    assert entity["blob"] == run.blob
    assert all(len(v) <= MAX_PROPERTY_CHARS for v in entity.values() if isinstance(v, str))
    assert 0 < len(json.loads(entity["columns_dropped"])) < 100  # still JSON: the first names
    assert (
        json.loads(entity["filtered_by_event"]) == {"view": 2}
        or json.loads(entity["filtered_by_event"]) == {}
    )
    assert MAX_PROPERTY_CHARS * 2 <= 64 * 1024  # UTF-16: two bytes a character, 64 KiB a property
