from shared.common.ledger import chunk_key, run_id


def test_run_id_is_stable_per_blob_version():
    assert run_id("exports", "generic/a.csv", '"0x1"') == run_id("exports", "generic/a.csv", '"0x1"')
    assert run_id("exports", "generic/a.csv", '"0x1"') != run_id("exports", "generic/a.csv", '"0x2"')
    assert len(run_id("c", "b", "e")) == 32


def test_chunk_keys_sort_in_order():
    assert sorted([chunk_key(10), chunk_key(9)]) == [chunk_key(9), chunk_key(10)]
