"""The App Service / Azure Functions managed-identity endpoint (api-version 2019-08-01).

In Azure the Functions host exposes this at ``IDENTITY_ENDPOINT`` and guards it with the
``IDENTITY_HEADER`` secret; azure-identity (through MSAL's ManagedIdentityClient) calls it
to get Key Vault and storage tokens without any stored credential. Errors use the
``{"statusCode", "message"}`` shape that MSAL turns into its error description.
"""

from __future__ import annotations

import hmac

from devstack.emulator.tokens import TokenService, normalize_audience
from devstack.emulator.wire import Request, Response


def managed_identity_issuer(tenant_id: str) -> str:
    """A managed identity's token is a v1 Entra token, issued by ``https://sts.windows.net/<tenant>/``
    (Microsoft identity platform, access token claims: ``iss`` of v1.0 tokens). Azurite checks
    exactly that prefix (``VALID_ISSUE_PREFIXES`` in its common/utils/constants.js) when it takes a
    bearer token; the host name is only a claim here, nothing is fetched from it."""
    return f"https://sts.windows.net/{tenant_id}/"


class ManagedIdentityService(TokenService):
    """Issues managed-identity tokens to callers that present the identity header."""

    COUNTERS = ("issued", "errors")

    def token(self, request: Request) -> Response:
        """``GET ?api-version=2019-08-01&resource=...[&client_id=|&mi_res_id=|&object_id=]``."""
        presented = request.header("X-IDENTITY-HEADER")
        if presented is None:
            return self._error(401, "Missing X-IDENTITY-HEADER request header.")
        if not hmac.compare_digest(presented.encode("utf-8"), self._config.identity_header.encode("utf-8")):
            return self._error(403, "The X-IDENTITY-HEADER value is not valid.")
        api_version = request.query.get("api-version", "")
        if not api_version:
            return self._error(400, "Missing api-version query parameter.")
        resource = request.query.get("resource", "")
        if not resource:
            return self._error(400, "Missing resource query parameter.")
        if normalize_audience(resource) not in self._resources:
            return self._error(400, f"AADSTS500011: The resource principal named {resource} was not found.")
        # A user-assigned identity may be named by client id; the emulator treats any such
        # id as a valid identity so dev stacks can model one without extra configuration.
        app_id = request.query.get("client_id") or self._config.managed_identity_client_id
        token = self._authority.issue(
            audience=resource,
            issuer=managed_identity_issuer(self._config.tenant_id),
            tenant_id=self._config.tenant_id,
            app_id=app_id,
        )
        with self._lock:
            self._counts["issued"] += 1
        return Response.json(
            200,
            {
                "access_token": token.access_token,
                "expires_on": str(token.expires_on),
                "resource": normalize_audience(resource),
                "token_type": "Bearer",
                "client_id": app_id,
            },
        )

    def _error(self, status: int, message: str) -> Response:
        with self._lock:
            self._counts["errors"] += 1
        return Response.json(status, {"statusCode": status, "message": message})
