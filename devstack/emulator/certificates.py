"""The app registration's certificate credential: a self-signed certificate whose key the
app keeps in Key Vault, and the check of the signed client assertion MSAL sends with it.

Entra accepts ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
with ``client_assertion``: a JWT signed with the certificate's private key, whose header
names the certificate by thumbprint (``x5t``: SHA-1, or ``x5t#S256``), whose ``iss`` and
``sub`` are the client id and whose ``aud`` is the token endpoint.
"""

from __future__ import annotations

import base64
import datetime as dt

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def generate(common_name: str) -> tuple[str, str]:
    """(certificate PEM, private key + certificate PEM as Key Vault exports a certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem + cert_pem


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify_assertion(assertion: str, cert_pem: str, client_id: str, token_endpoints: set[str]) -> str | None:
    """None when the assertion is valid; otherwise Entra-like words saying why not."""
    if not cert_pem:
        return "The application has no certificate credential registered."
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        return f"The client assertion is not a JWT ({exc})."
    x5t = str(header.get("x5t", "")).rstrip("=")
    x5t256 = str(header.get("x5t#S256", "")).rstrip("=")
    named = x5t == _b64url(cert.fingerprint(hashes.SHA1())) or x5t256 == _b64url(  # noqa: S303
        cert.fingerprint(hashes.SHA256())
    )
    if not named:
        return "The certificate named by the client assertion (x5t) is not registered for the application."
    try:
        claims = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=sorted(token_endpoints),
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        return f"Client assertion failed signature validation or its claims are wrong ({exc})."
    if claims["iss"] != client_id or claims["sub"] != client_id:
        return "The client assertion's iss and sub must be the application's client id."
    return None
