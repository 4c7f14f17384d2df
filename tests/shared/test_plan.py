import pytest

from shared.errors import Rejected
from shared.plan import connector_for
from shared.settings import Connector

CONNECTORS = {"generic": Connector("generic", "healthcare", "job")}


def test_folder_picks_connector():
    assert connector_for("generic/2026/a.csv", CONNECTORS).name == "generic"


@pytest.mark.parametrize(
    ("name", "code"), [("a.csv", "no-connector-folder"), ("cerner/a.csv", "unknown-connector")]
)
def test_unknown_or_missing_folder_rejected(name, code):
    with pytest.raises(Rejected) as err:
        connector_for(name, CONNECTORS)
    assert err.value.code == code and "generic" in err.value.message
