"""Access tokens shaped like Entra's: a JWT whose ``aud`` names the resource.

Only the emulator itself verifies these tokens, so an HMAC key made at start-up is enough;
what matters is that clients see a real three-part JWT with the usual claims (some client
code decodes the payload to read ``exp``) and that each service refuses a token minted for
another audience, as Azure does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devstack.emulator.config import EmulatorConfig

DEFAULT_LIFETIME_SECONDS = 3600
#: Tolerated clock difference when checking ``nbf`` and ``exp``.
CLOCK_SKEW_SECONDS = 60


class TokenError(Exception):
    """The token is malformed, forged, expired or meant for someone else (``str`` says why)."""


@dataclass(frozen=True)
class IssuedToken:
    """A minted token and the times a reply needs to report."""

    access_token: str
    issued_at: int
    not_before: int
    expires_on: int

    @property
    def expires_in(self) -> int:
        """Seconds of validity from issue time, as Entra reports it."""
        return self.expires_on - self.issued_at


def normalize_audience(value: str) -> str:
    """Compare resources the way Entra does: a trailing slash does not matter."""
    return value.rstrip("/")


class TokenAuthority:
    """Mints and checks tokens with one random per-process key."""

    def __init__(self, key: bytes | None = None, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS):
        self._key = key or secrets.token_bytes(32)
        self.lifetime_seconds = lifetime_seconds

    def issue(
        self,
        *,
        audience: str,
        issuer: str,
        tenant_id: str,
        app_id: str,
        version: str = "1.0",
        now: int | None = None,
    ) -> IssuedToken:
        """Mint a token for ``app_id`` to call ``audience``."""
        iat = int(time.time()) if now is None else now
        exp = iat + self.lifetime_seconds
        claims: dict[str, Any] = {
            "aud": normalize_audience(audience),
            "iss": issuer,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "tid": tenant_id,
            "appid": app_id,
            "azp": app_id,
            "sub": app_id,
            "oid": app_id,
            "idtyp": "app",
            "ver": version,
            "uti": uuid.uuid4().hex,
        }
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}"
        signature = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        return IssuedToken(access_token=token, issued_at=iat, not_before=iat, expires_on=exp)

    def verify(self, token: str, audience: str, now: int | None = None) -> dict[str, Any]:
        """Return the claims of a token we issued for ``audience``, or raise TokenError."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("token is not a JWT (expected three dot-separated parts)")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("token is not a well-formed JWT") from exc
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise TokenError("token was not signed by this emulator (unexpected alg)")
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise TokenError("token signature is invalid (not issued by this emulator run)")
        if not isinstance(claims, dict):
            raise TokenError("token payload is not a JSON object")
        current = int(time.time()) if now is None else now
        try:
            nbf, exp = int(claims["nbf"]), int(claims["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenError("token lacks nbf/exp claims") from exc
        if current + CLOCK_SKEW_SECONDS < nbf:
            raise TokenError("token is not yet valid (nbf)")
        if current - CLOCK_SKEW_SECONDS >= exp:
            raise TokenError("token has expired")
        if normalize_audience(str(claims.get("aud", ""))) != normalize_audience(audience):
            raise TokenError(f"token audience {claims.get('aud')!r} is not {audience!r}")
        return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer ...`` header, or None when absent."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """What the Entra and managed-identity endpoints share: the tenant, the signer, the
    audiences tokens may be asked for, and thread-safe counters for ``/_emulator/stats``."""

    COUNTERS: tuple[str, ...] = ()

    def __init__(
        self,
        config: EmulatorConfig,
        authority: TokenAuthority,
        base_url: Callable[[], str],
        resources: set[str],
    ):
        self._config = config
        self._authority = authority
        self._base_url = base_url
        self._resources = {normalize_audience(r) for r in resources}
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNTERS, 0)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
