from shared.delivery.redact import REMOVED, redact, redact_reply
from shared.delivery.upload import UploadError

SENT = [
    b'2026-11-22T08:00:00Z,View,Denise,O\'Brien,"4859 Magnolia Cir, Rm 2",jane.doe@contoso.com,did not see\n',
    b'2026-11-22T08:01:00Z,Print,Ann,Lee,"12 Elm\nSt",ann@contoso.com,x\n',
]


def test_values_of_the_sent_rows_are_removed_and_the_reply_stays_readable():
    said = "Row 1: 'Denise O'Brien' (jane.doe@contoso.com) at 4859 Magnolia Cir, Rm 2 was not accepted"
    assert redact(said, SENT, ",") == (
        f"Row 1: '{REMOVED} {REMOVED}' ({REMOVED}) at {REMOVED} was not accepted"
    )


def test_a_value_split_between_blocks_or_lines_is_still_found():
    blocks = [b"a,O'Br", b'ien,"12 Elm\n', b'St"\n']
    assert redact("bad: O'Brien, 12 Elm\nSt", blocks, ",") == f"bad: {REMOVED}, {REMOVED}"


def test_column_names_are_kept_and_a_reply_quoting_nothing_is_unchanged():
    assert redact("column View", SENT, ",", ["View"]) == "column View"
    assert redact("The service failed.", SENT, ",") == "The service failed."


def test_an_upload_error_keeps_its_summary_and_loses_the_values():
    err = UploadError("HTTP 400: the API refused the content", 400, False, None, "Row 2: 'Ann Lee', Print")
    clean = redact_reply(err, SENT, b"\xef\xbb\xbfWhen,Print\r\n", ",")
    assert (
        str(clean) == f"HTTP 400: the API refused the content. API said: Row 2: '{REMOVED} {REMOVED}', Print"
    )
    assert (clean.status, clean.retryable) == (400, False)
