import pytest

from shared.common.errors import Rejected
from shared.common.settings import Connector
from shared.intake.plan import connector_for

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


@pytest.mark.parametrize(
    "name", ["generic/../x.csv", "epic/../generic/x.csv", "generic/./x.csv", "generic\\..\\x.csv"]
)
def test_a_path_traversal_never_picks_the_connector_of_another_folder(name):
    with pytest.raises(Rejected) as err:
        connector_for(name, CONNECTORS)
    assert err.value.code == "unsafe-name"


def test_dots_inside_a_name_are_fine():
    assert connector_for("generic/audit..2026.csv", CONNECTORS).name == "generic"


def test_a_misconfigured_connector_refuses_its_files_with_the_reason():
    with pytest.raises(Rejected) as err:
        connector_for(
            "epic/a.txt", CONNECTORS, {"epic": "events key 'inclde' is neither 'include' nor 'exclude'"}
        )
    assert err.value.code == "connector-misconfigured"
    assert "'inclde'" in err.value.message and "nothing is uploaded" in err.value.message
