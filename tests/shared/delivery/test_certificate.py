import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from devstack.emulator.certificates import generate
from shared.delivery.certificate import CertificateError, msal_credential


def test_pem_and_pkcs12_from_key_vault_give_msal_the_key_and_certificate():
    cert_pem, key_and_cert = generate("test app")
    from_pem = msal_credential(key_and_cert)
    assert from_pem["private_key"].startswith("-----BEGIN PRIVATE KEY")
    assert from_pem["public_certificate"] == cert_pem

    key = serialization.load_pem_private_key(key_and_cert.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    pfx = pkcs12.serialize_key_and_certificates(b"app", key, cert, None, serialization.NoEncryption())
    assert msal_credential(base64.b64encode(pfx).decode()) == from_pem


def test_a_value_without_its_key_is_refused_without_showing_it():
    cert_pem, _ = generate("test app")
    with pytest.raises(CertificateError, match="private key") as caught:
        msal_credential(cert_pem)
    assert "BEGIN" not in str(caught.value)
