import pytest

from shared.common.settings import Settings
from shared.delivery import clouds


@pytest.mark.parametrize(
    ("name", "authority", "host"),
    [
        ("public", "https://login.microsoftonline.com", "webhook.ingestion.office.com"),
        ("gcc", "https://login.microsoftonline.com", "webhook-gcc.ingestion.office365.us"),
        ("gcchigh", "https://login.microsoftonline.us", "webhook-itarl4.ingestion.office365.us"),
        ("DoD", "https://login.microsoftonline.us", "webhook-itarl5.ingestion.apps.mil"),
    ],
)
def test_each_cloud_gives_its_hosts(name, authority, host):
    got_authority, url = clouds.from_settings(Settings({"CLOUD": name}))
    assert got_authority == authority
    assert url == f"https://{host}/api/signals"


def test_each_url_can_be_overridden():
    s = Settings({"CLOUD": "gcchigh", "INGESTION_URL": "https://127.0.0.1:9/api/signals"})
    assert clouds.from_settings(s) == ("https://login.microsoftonline.us", "https://127.0.0.1:9/api/signals")
    s = Settings({"CLOUD": "dod", "ENTRA_AUTHORITY_HOST": "https://127.0.0.1:9/"})
    assert clouds.from_settings(s)[0] == "https://127.0.0.1:9"


def test_unknown_cloud_is_refused():
    with pytest.raises(ValueError, match="gcchigh"):
        clouds.cloud("mooncake")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("INGESTION_URL", "http://webhook.ingestion.office.com/api/signals"),
        ("INGESTION_URL", "webhook.ingestion.office.com/api/signals"),
        ("INGESTION_URL", "https:///api/signals"),
        ("ENTRA_AUTHORITY_HOST", "http://login.microsoftonline.com"),
        ("ENTRA_AUTHORITY_HOST", "HTTP://127.0.0.1:9"),
    ],
)
def test_an_endpoint_that_is_not_https_is_a_settings_error(setting, value):
    """The token and the rows never go out in clear: the worker, push and doctor all stop here."""
    with pytest.raises(ValueError, match=f"{setting} must be an https:// URL"):
        clouds.from_settings(Settings({"CLOUD": "public", setting: value}))
