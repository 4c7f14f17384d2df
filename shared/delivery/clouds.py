"""Which Microsoft cloud the connector lives in: the authority and ingestion hosts per cloud.

The hosts come from the connector documentation (facts.md); every one can still be
overridden by its own setting (``ENTRA_AUTHORITY_HOST``, ``INGESTION_URL``), which is also
how the local emulator is reached.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.common.settings import Settings


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    ingestion_url: str


CLOUDS: dict[str, Cloud] = {
    c.name: c
    for c in (
        Cloud(
            "public", "https://login.microsoftonline.com", "https://webhook.ingestion.office.com/api/signals"
        ),
        Cloud(
            "gcc",
            "https://login.microsoftonline.com",
            "https://webhook-gcc.ingestion.office365.us/api/signals",
        ),
        Cloud(
            "gcchigh",
            "https://login.microsoftonline.us",
            "https://webhook-itarl4.ingestion.office365.us/api/signals",
        ),
        Cloud(
            "dod", "https://login.microsoftonline.us", "https://webhook-itarl5.ingestion.apps.mil/api/signals"
        ),
    )
}
ALIASES = {
    "gcc-high": "gcchigh",
    "gcc_high": "gcchigh",
    "itarl4": "gcchigh",
    "itarl5": "dod",
    "commercial": "public",
}


def cloud(name: str) -> Cloud:
    key = (name or "public").strip().lower()
    key = ALIASES.get(key, key)
    if key not in CLOUDS:
        raise ValueError(f"unknown cloud {name!r}; use one of {', '.join(CLOUDS)}")
    return CLOUDS[key]


def endpoints(cloud_name: str, authority_override: str = "", ingestion_override: str = "") -> tuple[str, str]:
    """(authority host, ingestion URL): the cloud's, unless a setting overrides one of them."""
    c = cloud(cloud_name)
    authority = _https("ENTRA_AUTHORITY_HOST", authority_override or c.authority_host)
    return authority.rstrip("/"), _https("INGESTION_URL", ingestion_override or c.ingestion_url)


def _https(setting: str, url: str) -> str:
    """The URL, if it is HTTPS with a host: the client secret, the token and the rows travel
    to these two, so an ``http://`` typo must stop everything, not send them in clear."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError(
            f"{setting} must be an https:// URL with a host, not {parts.scheme or 'no'} scheme "
            f"({parts.hostname or 'no host'}): the secret, the token and the rows would travel in clear"
        )
    return url.strip()


def from_settings(settings: Settings) -> tuple[str, str]:
    """(authority host, ingestion URL) from ``CLOUD`` and the two override settings."""
    return endpoints(settings["CLOUD"], settings["ENTRA_AUTHORITY_HOST"], settings["INGESTION_URL"])
