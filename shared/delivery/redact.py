"""What may be kept of the ingestion API's reply: nothing that could be a value of the rows.

The API's reason for refusing a chunk is often only in its reply, so operators need it; but a
reply can quote what it refused, and not only as it was sent: JSON-escaped (``Jos\\u00e9phine``,
as .NET's encoder writes accents), upper-cased, cut at any character. Removing the values that
occur in it cannot catch every such form, so nothing of the reply is kept unless it is known
to be free of them: the API's error code (an identifier in a ``code`` field), a request or
trace id of a fixed shape, and the reply's words that are on an allow-list of the words error
messages are made of, with row and column numbers after the words that count them. Everything
else becomes one ``REMOVED`` per run. The words an allow-list keeps could still be a value
(a surname "Field"), so where the rows that were sent are at hand, a kept word that equals
one of their values, or a word of one, goes too.

Pure functions: the worker, ``push``, the ledger, logs and telemetry all keep the same text.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator

from shared.delivery.upload import UploadError

REMOVED = "[value removed]"
MAX_CHARS = 400
"""The kept text's length at most: the ledger's last_error and a log line stay short."""

WORDS = frozenset(
    re.findall(
        r"[a-z]+",
        """
    a about above accepted access after all allowed an and any api app application are as at
    authorization authorized bad batch be been below body but by call can cannot category
    character characters check chunk client code column columns comment connector connectors
    contain contains content could creation data delay delimiter department did do does done
    duplicate duplicated email empty encoding ensure error errors event exceeded exceeds
    expected expired failed fault field fields file files for format found from header headers
    high id identifier in indicated injected internal invalid is it its job large later limit
    line lines long malformed mandatory mapped mapping match maximum message missing more
    multipart must name names no not number of on one only or other part please policy
    processed processing quota rate reason received record records refused rejected request
    required resource retry row rows schema server service size than that the there this
    time timestamp to token too type unable unauthorized unavailable unexpected unknown
    unsupported upload uploaded user valid validation value values was were when which with
    workstation wrong zero
    address city country employee first last middle patient samaccountname section state
    upn zip
    """,
    )
)
"""Lower-case words of error messages that say how a request failed, and of the connectors'
column names, never who it was about: no month names (a date of birth), no words that are
common first names ("may", "will")."""

GLUE = frozenset(
    re.findall(
        r"[a-z]+", "a an and are as at be by do for from in is it its no not of on or the to was were with"
    )
)
"""Words that join a sentence: banned only where a whole value is one of them (a surname "Do"),
not for occurring inside a longer one (a comment "did not see"), or "is not valid" would lose
its "not"."""

COUNTERS = frozenset({"row", "rows", "line", "lines", "record", "records", "column", "columns", "position"})
"""A number right after one of these is a row or column number: kept (7 digits at most)."""

_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_KEY = re.compile(r'"\w+"\s*:')
_CODE = re.compile(r'"(?:code|errorCode|error_code)"\s*:\s*"([A-Za-z][A-Za-z0-9_.]{1,63})"')
_TRACE = re.compile(
    r'"(?:traceId|requestId|correlationId|activityId)"\s*:\s*"'
    r"((?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r'|(?:00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]))"',
    re.IGNORECASE,
)


def scrub(text: str, banned: Iterable[str] = ()) -> str:
    """The part of an API reply that may be kept: its code, its trace id, its allow-listed
    words (less any in ``banned``, lower-case), with runs of anything else as one ``REMOVED``."""
    if not text:
        return ""
    parts = []
    if code := _CODE.search(text):
        parts.append(f"code {code.group(1)}")
    words = _allowed_words(_KEY.sub(" ", _TRACE.sub(" ", _CODE.sub(" ", text))), frozenset(banned))
    if words.replace(REMOVED, "").strip():
        parts.append(words)
    if trace := _TRACE.search(text):
        parts.append(f"trace {trace.group(1)}")
    return ("; ".join(parts) or REMOVED)[:MAX_CHARS]


def _allowed_words(text: str, banned: frozenset[str]) -> str:
    out: list[str] = []
    previous = ""
    for token in _TOKEN.findall(text):
        word = token.lower()
        if len(word) == 1 and word.isalpha() and word != "a":
            continue  # a letter left by an escape (\u00e9) or an apostrophe: says nothing
        keep = word in WORDS and word not in banned
        keep = keep or (token.isdigit() and previous in COUNTERS and len(token) <= 7)
        if keep:
            out.append(token)
        elif not out or out[-1] != REMOVED:
            out.append(REMOVED)
        previous = word
    return " ".join(out)


def redact(text: str, sent: Iterable[bytes], delimiter: str, keep: Iterable[str] = ()) -> str:
    """``scrub(text)``, less any kept word that is a value (or a word of a value) of the ``sent``
    rows (the uploaded rows as they stream, no header). ``keep``: words that stay even so,
    such as the column names (they must still be on the allow-list)."""
    kept = _kept_words(text)
    if kept:
        kept -= {word.lower() for name in keep for word in _TOKEN.findall(name)}
        kept &= _sent_words(sent, delimiter, kept)
    return scrub(text, kept)


def redact_reply(err: UploadError, sent: Iterable[bytes], header: bytes, delimiter: str) -> UploadError:
    """The same error with the API's reply reduced to what may be kept (``redact``)."""
    if not err.api_said:
        return err
    columns = next(csv.reader([header.decode("utf-8-sig", "replace")], delimiter=delimiter), [])
    return err.with_api_said(redact(err.api_said, sent, delimiter, columns))


def scrub_reply(err: UploadError) -> UploadError:
    """``redact_reply`` without the rows, where they cannot be read again: the allow-list
    alone, so a value that is also a known word (a surname "Field") stays. Prefer
    ``redact_reply``."""
    return err.with_api_said(scrub(err.api_said)) if err.api_said else err


def _kept_words(text: str) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(text) if t.lower() in WORDS}


def _sent_words(sent: Iterable[bytes], delimiter: str, wanted: set[str]) -> set[str]:
    """Those of ``wanted`` that are a value, or a word (not a ``GLUE`` word) of a value, of the rows."""
    found: set[str] = set()
    for row in csv.reader(_lines(sent), delimiter=delimiter, strict=False):
        for value in row:
            words = [t.lower() for t in _TOKEN.findall(value)]
            whole = len(words) == 1
            found.update(w for w in words if w in wanted and (whole or w not in GLUE))
        if found == wanted:
            break
    return found


def _lines(blocks: Iterable[bytes]) -> Iterator[str]:
    """Lines with their ends (``csv`` needs them inside quoted fields), decoded as they stream."""
    tail = ""
    for piece in codecs.iterdecode(blocks, "utf-8", errors="replace"):
        lines = (tail + piece).splitlines(keepends=True)
        tail = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    if tail:
        yield tail
