"""Application Insights ingestion ("Breeze"): ``POST <IngestionEndpoint>/v2.1/track``.

Microsoft's exporter (``azure-monitor-opentelemetry-exporter``, the one the distro and the
Functions worker use) posts its envelopes here once a connection string says
``IngestionEndpoint=https://127.0.0.1:<port>/``, so tests can read what Application Insights
would store instead of trusting an in-memory stand-in. Where each fact comes from (the
installed exporter, 1.0.0b58):

- URL: ``_generated/exporter/_client.py`` builds ``{host}/{apiVersion}`` with the connection
  string's IngestionEndpoint as host, ``_configuration.py`` defaults ``api_version`` to
  ``v2.1``, and ``_operations/_operations.py`` appends ``/track`` (POST, JSON body).
- Body: ``track()`` sends ``json.dumps`` of the list of ``TelemetryItem``s (a JSON array);
  Application Insights' other SDKs send gzip'd or newline-delimited JSON, accepted too.
- Envelope: ``models/_models.py`` ``TelemetryItem``: ``ver``, ``name``, ``time``, ``iKey``,
  ``tags``, ``data: {baseType, baseData}``; the names are
  ``Microsoft.ApplicationInsights.{Message,Event,Metric,Request,RemoteDependency,Exception}``
  (``export/logs/_exporter.py``, ``export/metrics/_exporter.py``, ``export/trace/_exporter.py``).
  Log ``extra`` keys are ``baseData.properties`` (customDimensions), an event's name is
  ``baseData.name``, metric points are ``baseData.metrics[]`` (``name``, ``value``, ``count``,
  ``min``, ``max``) with the point's attributes in ``baseData.properties``.
- Reply: ``TrackResponse`` ``{"itemsReceived", "itemsAccepted", "errors": [{"index",
  "statusCode", "message"}]}``; ``export/_base.py`` ``_transmit`` treats 200 as success and
  206 as partial success whose ``errors`` name the refused items by index.

Envelopes are kept in memory (at most ``MAX_KEPT``; older ones are dropped and counted) and
read back at ``GET /_emulator/telemetry``. They never reach a log.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
import zlib
from typing import Any

from devstack.emulator.wire import BodyTooLargeError, Request, Response

#: The envelope names the exporter writes (see the module docstring for where each is set).
ENVELOPE_NAMES = frozenset(
    f"Microsoft.ApplicationInsights.{kind}"
    for kind in ("Message", "Event", "Metric", "Request", "RemoteDependency", "Exception", "Availability")
)
#: Largest (decompressed) request body read; the exporter's batches are far smaller.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Envelopes kept for reading back; a long-running dev stack drops the oldest beyond this.
MAX_KEPT = 200_000
_REQUIRED = ("name", "time", "iKey", "data")


class AppInsightsService:
    """The track endpoint and the envelopes it has accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._counts = {"requests": 0, "received": 0, "accepted": 0, "refused": 0, "dropped": 0}

    def track(self, request: Request) -> Response:
        """``POST /v2.1/track``: accept every well-formed envelope, 206 when some are refused."""
        try:
            items = _parse(_body(request))
        except BodyTooLargeError:
            raise  # the server answers 413
        except (ValueError, OSError, EOFError, zlib.error) as exc:
            return Response.json(
                400, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [_error(0, str(exc))]}
            )
        errors = []
        accepted = []
        for index, item in enumerate(items):
            problem = _problem(item)
            if problem:
                errors.append(_error(index, problem))
            else:
                accepted.append(item)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["received"] += len(items)
            self._counts["accepted"] += len(accepted)
            self._counts["refused"] += len(errors)
            self._items.extend(accepted)
            overflow = len(self._items) - MAX_KEPT
            if overflow > 0:
                del self._items[:overflow]
                self._counts["dropped"] += overflow
        reply = {"itemsReceived": len(items), "itemsAccepted": len(accepted), "errors": errors}
        return Response.json(206 if errors else 200, reply)

    def items(self) -> list[dict[str, Any]]:
        """Every kept envelope, oldest first, as posted."""
        with self._lock:
            return list(self._items)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._items = []
            self._counts = dict.fromkeys(self._counts, 0)


def _body(request: Request) -> bytes:
    raw = request.read_small_body(MAX_BODY_BYTES)
    encoding = (request.header("Content-Encoding") or "").strip().lower()
    if encoding == "gzip" or raw[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
            data = unzipped.read(MAX_BODY_BYTES + 1)
        if len(data) > MAX_BODY_BYTES:
            raise BodyTooLargeError(f"decompressed body larger than {MAX_BODY_BYTES} bytes")
        return data
    if encoding not in ("", "identity"):
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return raw


def _parse(data: bytes) -> list[Any]:
    """A JSON array of envelopes, one envelope, or newline-delimited JSON."""
    text = data.decode("utf-8").strip()
    if not text:
        return []
    if text.startswith("["):
        parsed = json.loads(text)
        return parsed if isinstance(parsed, list) else [parsed]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "an envelope must be a JSON object"
    missing = [key for key in _REQUIRED if not item.get(key)]
    if missing:
        return f"envelope lacks {', '.join(missing)}"
    if item["name"] not in ENVELOPE_NAMES:
        return f"unknown envelope name {item['name']!r}"
    data = item["data"]
    if not isinstance(data, dict) or not data.get("baseType") or not isinstance(data.get("baseData"), dict):
        return "data must hold baseType and baseData"
    return None


def _error(index: int, message: str) -> dict[str, Any]:
    return {"index": index, "statusCode": 400, "message": message[:300]}
