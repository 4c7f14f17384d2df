import pytest

from shared.common.storage import Connection


def test_connection_string_wins():
    conn = Connection.from_settings("S", {"S": "UseDevelopmentStorage=true", "S__accountName": "x"})
    assert conn.connection_string == "UseDevelopmentStorage=true"


def test_identity_based_from_account_name_or_uris():
    conn = Connection.from_settings("S", {"S__accountName": "acct", "S__clientId": "cid"})
    assert conn.blob_url == "https://acct.blob.core.windows.net" and conn.client_id == "cid"
    uris = {f"S__{s}ServiceUri": f"https://h/{s}" for s in ("blob", "queue", "table")}
    assert Connection.from_settings("S", uris).table_url == "https://h/table"


def test_unconfigured_connection_names_the_settings():
    with pytest.raises(RuntimeError, match="S__blobServiceUri"):
        Connection.from_settings("S", {})
