"""The Entra app's certificate credential, as Key Vault hands out a certificate's secret.

A Key Vault certificate with an exportable key is also readable as a secret of the same
name: PEM (key and certificate) or base64 PKCS#12, depending on its content type. MSAL
needs the private key and the certificate; it then signs a client assertion
instead of sending a secret, and nothing secret travels to Entra.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12


class CertificateError(ValueError):
    """The Key Vault value is not a usable certificate with its key (never shows the value)."""


def msal_credential(value: str) -> dict[str, str]:
    """``client_credential`` for ``msal.ConfidentialClientApplication`` from a Key Vault value."""
    if "-----BEGIN" in value:
        key, cert = _from_pem(value.encode())
    else:
        key, cert = _from_pfx(value)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # With the certificate and no SHA-1 thumbprint, MSAL names it by SHA-256 (x5t#S256) and signs PS256.
    return {
        "private_key": key_pem,
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _from_pem(data: bytes) -> tuple[PrivateKeyTypes, x509.Certificate]:
    try:
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE") :])
    except (ValueError, TypeError):
        raise CertificateError(
            "the certificate from Key Vault must hold its private key and certificate (PEM, no password)"
        ) from None
    return key, cert


def _from_pfx(value: str) -> tuple[PrivateKeyTypes, x509.Certificate]:
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(value), None)
    except (ValueError, TypeError, binascii.Error):
        raise CertificateError(
            "the certificate from Key Vault is neither PEM nor PKCS#12; create it with an exportable key"
        ) from None
    if key is None or cert is None:
        raise CertificateError("the certificate from Key Vault has no private key; make its key exportable")
    return key, cert
