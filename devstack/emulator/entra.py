"""Entra ID (Azure AD) endpoints for the client-credentials grant, v1 and v2.

The app authenticates as an app registration with a client secret, either through MSAL
(v2 endpoint, ``scope=<resource>/.default``) or the way Microsoft's sample script does
(v1 endpoint, ``resource=<resource>``). Errors mimic Entra's AADSTS JSON so client code
that surfaces ``error_description`` to operators can be checked against realistic text.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from urllib.parse import unquote

from devstack.emulator.certificates import JWT_BEARER, verify_assertion
from devstack.emulator.tokens import TokenService, normalize_audience
from devstack.emulator.wire import BodyTooLargeError, Request, Response

_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
_NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class EntraService(TokenService):
    """Discovery documents and token endpoints of one emulated tenant."""

    COUNTERS = ("v1", "v2", "errors")

    # -- discovery -------------------------------------------------------------------

    def openid_configuration(self, request: Request, tenant: str, version: str) -> Response:
        """``/{tenant}[/v2.0]/.well-known/openid-configuration``: what MSAL reads first."""
        if not self._known_tenant(tenant):
            return self._error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        base = f"{self._base_url()}/{self._config.tenant_id}"
        if version == "2.0":
            oauth, issuer, keys = f"{base}/oauth2/v2.0", f"{base}/v2.0", f"{base}/discovery/v2.0"
        else:
            oauth, issuer, keys = f"{base}/oauth2", f"{base}/", f"{base}/discovery"
        document = {
            "issuer": issuer,
            "authorization_endpoint": f"{oauth}/authorize",
            "token_endpoint": f"{oauth}/token",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "end_session_endpoint": f"{oauth}/logout",
            "jwks_uri": f"{keys}/keys",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
                "private_key_jwt",
            ],
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "appid"],
            "request_uri_parameter_supported": False,
            "tenant_region_scope": "NA",
            "cloud_instance_name": "devstack.local",
        }
        return Response.json(200, document)

    def keys(self, request: Request, tenant: str) -> Response:
        """The JWKS document. Empty: tokens are HMAC-signed and only the emulator checks them."""
        return Response.json(200, {"keys": []})

    # -- token endpoints ---------------------------------------------------------------

    def token_v2(self, request: Request, tenant: str) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token`` with ``scope=<resource>/.default``."""
        return self._token(request, tenant, version="2.0")

    def token_v1(self, request: Request, tenant: str) -> Response:
        """``POST /{tenant}/oauth2/token`` with ``resource=<resource>`` (the sample script)."""
        return self._token(request, tenant, version="1.0")

    def _token(self, request: Request, tenant: str, version: str) -> Response:
        if not self._known_tenant(tenant):
            return self._error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        try:
            form = request.form()
        except BodyTooLargeError:
            return self._error(400, "invalid_request", 90014, "The request body is too large.")
        basic_id, basic_secret = _basic_credentials(request.header("Authorization"))
        client_id = form.get("client_id") or basic_id
        client_secret = form.get("client_secret") or basic_secret
        grant_type = form.get("grant_type", "")
        if not grant_type:
            return self._missing("grant_type")
        if grant_type != "client_credentials":
            return self._error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if not client_id:
            return self._missing("client_id")
        if client_id.lower() != self._config.client_id.lower():
            return self._error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self._config.tenant_id}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You may have sent your authentication request to the wrong tenant.",
            )
        if not client_secret and not form.get("client_assertion"):
            return self._error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        if form.get("client_assertion") and not client_secret:
            refused = self._check_assertion(form, tenant)
            if refused:
                return self._error(401, "invalid_client", 700027, refused)
        elif client_secret != self._config.client_secret:
            return self._error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID, for a secret added to "
                f"app '{self._config.client_id}'.",
            )
        if version == "2.0":
            resource_or_error = self._resource_from_scope(form.get("scope", ""))
        else:
            resource_or_error = self._resource_from_form(form.get("resource", ""))
        if isinstance(resource_or_error, Response):
            return resource_or_error
        resource = resource_or_error
        base = f"{self._base_url()}/{self._config.tenant_id}"
        token = self._authority.issue(
            audience=resource,
            issuer=f"{base}/v2.0" if version == "2.0" else f"{base}/",
            tenant_id=self._config.tenant_id,
            app_id=self._config.client_id,
            version=version,
        )
        with self._lock:
            self._counts["v2" if version == "2.0" else "v1"] += 1
        if version == "2.0":
            payload: dict[str, object] = {
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "ext_expires_in": token.expires_in,
                "access_token": token.access_token,
            }
        else:
            # The v1 endpoint reports every number as a string.
            payload = {
                "token_type": "Bearer",
                "expires_in": str(token.expires_in),
                "ext_expires_in": str(token.expires_in),
                "expires_on": str(token.expires_on),
                "not_before": str(token.not_before),
                "resource": resource,
                "access_token": token.access_token,
            }
        return Response.json(200, payload, _NO_CACHE)

    def _check_assertion(self, form: dict[str, str], tenant: str) -> str | None:
        if form.get("client_assertion_type") != JWT_BEARER:
            return f"client_assertion_type must be '{JWT_BEARER}'."
        base = self._base_url()
        endpoints = {
            f"{base}/{t}/oauth2{v}/token" for t in (tenant, self._config.tenant_id) for v in ("", "/v2.0")
        }
        return verify_assertion(
            form["client_assertion"], self._config.client_certificate, self._config.client_id, endpoints
        )

    def _resource_from_scope(self, scope: str) -> str | Response:
        scopes = [s for s in scope.split() if s not in _RESERVED_SCOPES]
        if not scopes:
            return self._missing("scope")
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        return self._known_resource(scopes[0][: -len("/.default")])

    def _resource_from_form(self, resource: str) -> str | Response:
        if not resource:
            return self._missing("resource")
        return self._known_resource(resource)

    def _known_resource(self, resource: str) -> str | Response:
        if normalize_audience(resource) not in self._resources:
            return self._error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self._config.tenant_id}. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You might have sent your authentication request to the wrong "
                "tenant.",
            )
        return normalize_audience(resource)

    def _known_tenant(self, tenant: str) -> bool:
        return unquote(tenant).lower() == self._config.tenant_id.lower()

    def _missing(self, parameter: str) -> Response:
        return self._error(
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{parameter}'.",
        )

    def _error(self, status: int, error: str, code: int, description: str) -> Response:
        """An error reply in Entra's shape (codes and wording follow the real service)."""
        with self._lock:
            self._counts["errors"] += 1
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        payload = {
            "error": error,
            "error_description": (
                f"AADSTS{code}: {description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{self._base_url()}/error?code={code}",
        }
        return Response.json(status, payload, _NO_CACHE)


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """Client id and secret from ``Authorization: Basic`` (client_secret_basic), if used."""
    if not authorization:
        return None, None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None, None
    return unquote(user), unquote(password)
