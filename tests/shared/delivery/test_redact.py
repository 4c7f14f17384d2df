import json

import pytest

from shared.delivery.redact import MAX_CHARS, REMOVED, redact, redact_reply, scrub, scrub_reply
from shared.delivery.upload import UploadError

SENT = [
    "2026-11-22T08:00:00Z,View,Joséphine,O'Brien,".encode()
    + b'"4859 Magnolia Cir, Rm 2",jane.doe@contoso.com,did not see\n',
    b'2026-11-22T08:01:00Z,Print,Ann,Field,"12 Elm\nSt",ann@contoso.com,x\n',
]
VALUES = ["Joséphine", "O'Brien", "4859 Magnolia Cir, Rm 2", "jane.doe@contoso.com", "Ann", "Field"]
PIECES = ["Jos", "phine", "Brien", "BRIEN", "4859", "Magnolia", "MAGNOLIA", "Magno", "jane", "doe", "contoso"]


def reply(message: str, code: str = "BadRequest") -> str:
    """The API's JSON error as .NET writes it: non-ASCII escaped as \\uXXXX."""
    return json.dumps({"error": {"code": code, "message": message}})


def forms(value: str) -> list[str]:
    """The ways a reply has quoted a refused value: as sent, JSON-escaped, upper-cased, cut."""
    return [value, json.dumps(value)[1:-1], json.dumps(value.upper())[1:-1], value[: max(3, len(value) // 2)]]


def assert_clean(text: str) -> None:
    for piece in PIECES:
        assert piece.lower() not in text.lower(), (piece, text)


@pytest.mark.parametrize("value", VALUES[:4])
def test_no_form_of_a_sent_value_survives(value):
    for form in forms(value):
        said = reply(f"Row 1: '{form}' is not valid")
        text = redact(said, SENT, ",")
        assert_clean(text)
        assert "Row 1" in text and "code BadRequest" in text, text


def test_a_reply_cut_in_the_middle_of_a_value_keeps_nothing_of_it():
    said = reply("Row 2: the address '4859 Magnolia Cir, Rm 2' of Jos\u00e9phine O'Brien is invalid. " * 20)[
        :500
    ]
    assert said.endswith(said[-10:]) and len(said) == 500
    text = redact(said, SENT, ",")
    assert_clean(text)
    assert text.startswith("code BadRequest; Row 2 the address") and len(text) <= MAX_CHARS


def test_upper_cased_and_escaped_names_are_removed_without_the_rows():
    said = reply("Employee JANE.DOE@CONTOSO.COM viewed JOS\\u00c9PHINE O\\u0027BRIEN")
    assert_clean(scrub(said))


def test_messages_made_of_known_words_stay_readable():
    for message in (
        "The file's columns do not match the connector's mapping (injected fault).",
        "The application is not authorized for this connector (injected fault).",
        "Request rate is too high; retry after the indicated delay.",
    ):
        assert REMOVED not in scrub(reply(message)), scrub(reply(message))
    assert scrub("Row 12, column 3: value is missing") == "Row 12 column 3 value is missing"


def test_numbers_stay_only_as_row_and_column_numbers():
    text = scrub("Row 12: zip 02139 and MRN 12345678 are invalid")
    assert "12" in text.split() and "02139" not in text and "12345678" not in text


def test_a_known_word_that_is_a_sent_value_is_removed():
    assert scrub("Field is required") == "Field is required"
    assert redact("Field is required", SENT, ",") == f"{REMOVED} is required"
    assert redact("Field is required", SENT, ",", keep=["Patient Last Name"]) == f"{REMOVED} is required"
    assert redact("field is required", SENT, ",", keep=["Field"]) == "field is required"


def test_a_trace_id_of_a_fixed_shape_is_kept():
    said = json.dumps(
        {"title": "Bad request", "traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    )
    assert scrub(said).endswith("trace 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert "12345678" not in scrub(json.dumps({"traceId": "12345678"}))


def test_a_code_that_is_not_an_identifier_is_dropped():
    assert scrub(json.dumps({"code": "Jos\u00e9phine O'Brien"})) == REMOVED


def test_an_upload_error_keeps_status_code_and_summary_and_loses_the_values():
    err = UploadError(
        "HTTP 400: the API refused the content", 400, False, None, reply("Row 2: 'Ann Field', Print")
    )
    clean = redact_reply(err, SENT, b"\xef\xbb\xbfWhen,Print\r\n", ",")
    assert str(clean) == f"HTTP 400: the API refused the content. API said: code BadRequest; Row 2 {REMOVED}"
    assert (clean.status, clean.retryable, clean.summary) == (400, False, err.summary)
    # Without the rows only the allow-list applies: a surname that is also a known word stays.
    assert scrub_reply(err).api_said == f"code BadRequest; Row 2 {REMOVED} Field {REMOVED}"
    quiet = UploadError("HTTP 500: the API failed", 500, True)
    assert redact_reply(quiet, SENT, b"a\n", ",") is quiet and scrub_reply(quiet) is quiet
