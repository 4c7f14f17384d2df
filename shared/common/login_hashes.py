"""Keyed hashes of employee logins: what coverage compares, never the logins themselves.

HMAC-SHA256 under a key kept in Key Vault (infra/ creates it; the app only reads it): without
the key nobody can test a staff list against the stored hashes. An EHR login and an HR profile
meet as a UPN, lower-cased: the HR profile's EmailAddress is one; an audit row's login is one
when it has an ``@`` (the generic schema's "Email Address (UPN) or SamAccountName" usually
does); a bare login (a SamAccountName, Epic's ``EMP.SYSTEM_LOGIN``) becomes one with the
connector's ``login_domain``, after any ``DOMAIN\\`` prefix is dropped. Without a domain it
cannot be matched and is counted apart, so the report can say which setting is missing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

DIGEST_BYTES = 16
"""128 bits: no two of a hospital's logins share one (birthday bound about 2^64)."""


def as_upn(login: str, domain: str = "") -> str | None:
    """The UPN an EHR login stands for, or None when it cannot be told without a domain."""
    login = login.strip()
    if "@" in login:
        return login.casefold()
    login = login.rpartition("\\")[2]
    if not login or not domain:
        return None
    return f"{login}@{domain}".casefold()


def digest(key: bytes, upn: str) -> bytes:
    return hmac.new(key, upn.encode(), hashlib.sha256).digest()[:DIGEST_BYTES]


BARE = "\x00bare:"
"""Prefix of a bare login's hash input: no UPN starts so, so it never meets a profile."""


def digests(key: bytes, logins: Iterable[str], domain: str = "") -> tuple[set[bytes], set[bytes]]:
    """The hashes of the logins' UPNs, and those of the logins that have none (no ``@`` and no
    domain), kept apart so the report can count them across runs without knowing them."""
    upns: set[bytes] = set()
    bare: set[bytes] = set()
    for login in logins:
        upn = as_upn(login, domain)
        if upn is None:
            bare.add(digest(key, BARE + login.strip().casefold()))
        else:
            upns.add(digest(key, upn))
    return upns, bare


def fingerprint(key: bytes) -> str:
    """Names the key a hash set was made with (hashes under two keys never match), not the key."""
    return hmac.new(key, b"ehr-ingest coverage key", hashlib.sha256).hexdigest()[:16]
