import json
from typing import Any

import pytest

from shared.common.events import EventFilter, parse_events
from shared.common.settings import Connector, Settings


def test_names_match_trimmed_and_case_insensitively():
    include = parse_events({"include": ["  Chart  Review ", "BTG Access"]}, "c")
    assert include is not None
    assert include.keeps("chart review") and include.keeps("BTG ACCESS ")
    assert not include.keeps("Print Label")
    exclude = parse_events({"exclude": ["Print Label"]}, "c")
    assert exclude is not None
    assert not exclude.keeps(" print label") and exclude.keeps("Chart Review")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"inclde": ["x"]}, "'inclde' is neither 'include' nor 'exclude'"),
        ({"include": ["x"], "exclude": ["y"]}, "both 'include' and 'exclude'"),
        ({"include": "Chart Review"}, "events.include must be a list"),
        ({"include": []}, "no row would ever be sent"),
        (["Chart Review"], "events must be an object"),
    ],
)
def test_a_wrong_filter_is_refused_naming_the_key(value, words):
    with pytest.raises(ValueError, match="connector c") as err:
        Connector(name="c", kind="healthcare", job_id="j", events=value)
    assert words in str(err.value)


def test_no_filter_and_an_empty_exclude_send_everything():
    assert Connector(name="c", kind="epic", job_id="j").events is None
    as_configured: Any = {"exclude": []}  # the JSON form CONNECTORS holds, normalised by Connector
    assert Connector(name="c", kind="epic", job_id="j", events=as_configured).events == EventFilter(
        "exclude", frozenset()
    )


def test_columns_policy_is_schema_by_default_and_checked():
    assert Connector(name="c", kind="healthcare", job_id="j").columns == "schema"
    assert Connector(name="c", kind="healthcare", job_id="j", columns="all").columns == "all"
    with pytest.raises(ValueError, match="columns must be one of"):
        Connector(name="c", kind="healthcare", job_id="j", columns="some")


def test_one_bad_connector_leaves_the_others_working():
    entries = [
        {"name": "good", "kind": "healthcare", "job_id": "j1"},
        {"name": "typo", "kind": "epic", "job_id": "j2", "events": {"includes": ["x"]}},
    ]
    settings = Settings({"CONNECTORS": json.dumps(entries)})
    connectors, problems = settings.working_connectors()
    assert list(connectors) == ["good"]
    assert "'includes' is neither" in problems["typo"]
    with pytest.raises(ValueError, match="typo"):
        settings.connectors  # noqa: B018  (strict: the doctor and the command line)
