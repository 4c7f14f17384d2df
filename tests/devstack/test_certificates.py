"""The emulator's check of certificate client assertions (what Entra does with MSAL's JWT)."""

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.emulator.certificates import generate, verify_assertion

ENDPOINT = "https://127.0.0.1:1/tenant/oauth2/v2.0/token"


def assertion(key_pem: str, cert_pem: str, client_id: str = "app", aud: str = ENDPOINT) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from devstack.emulator.certificates import _b64url

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = int(time.time())
    claims = {"aud": aud, "iss": client_id, "sub": client_id, "exp": now + 600, "nbf": now, "jti": "1"}
    headers = {"x5t#S256": _b64url(cert.fingerprint(hashes.SHA256()))}
    return jwt.encode(claims, key, algorithm="PS256", headers=headers)


def test_assertion_signed_with_the_registered_certificate_is_accepted():
    cert, key_and_cert = generate("app")
    assert verify_assertion(assertion(key_and_cert, cert), cert, "app", {ENDPOINT}) is None


def refusal(signed: str, cert: str) -> str:
    """Why the emulator refuses ``signed`` (it must refuse it)."""
    why = verify_assertion(signed, cert, "app", {ENDPOINT})
    assert why is not None
    return why


def test_wrong_key_wrong_audience_or_wrong_client_are_refused():
    cert, key_and_cert = generate("app")
    other_cert, other_key = generate("someone else")
    assert "not registered" in refusal(assertion(other_key, other_cert), cert)
    forged = assertion(other_key, cert)  # names our certificate, signed with another key
    assert "signature" in refusal(forged, cert)
    elsewhere = assertion(key_and_cert, cert, aud="https://elsewhere/token")
    assert "claims" in refusal(elsewhere, cert)
    assert "iss and sub" in refusal(assertion(key_and_cert, cert, "intruder"), cert)
