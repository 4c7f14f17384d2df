"""The local cloud emulator, exercised with the real SDK clients the app uses.

If these pass, MSAL, azure-identity, azure-keyvault-secrets and requests can be pointed at
the emulator with configuration alone, which the rest of the dev stack relies on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msal
import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

from devstack.emulator import Emulator, EmulatorConfig
from devstack.emulator.config import CLIENT_SECRET_NAME, INGESTION_RESOURCE, KEYVAULT_RESOURCE
from devstack.emulator.multipart import MultipartError, MultipartReader
from devstack.emulator.records import detect_delimiter
from devstack.emulator.tls import ensure_certificates

pytestmark = pytest.mark.timeout(30)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCOPE = f"{INGESTION_RESOURCE}/.default"
JOB_ID = str(uuid.uuid4())
OTHER_JOB_ID = str(uuid.uuid4())

#: Environment that would steer DefaultAzureCredential away from the managed identity.
AZURE_ENV = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


@pytest.fixture(scope="module")
def config() -> EmulatorConfig:
    return EmulatorConfig.generate([JOB_ID, OTHER_JOB_ID])


@pytest.fixture(scope="module")
def emulator(config: EmulatorConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(config, tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh counters and no faults; loopback traffic trusts the emulator CA, no proxy."""
    emulator.reset()
    emulator.set_faults(
        latency_seconds=0, throttle_rate=0, error_rate=0, error_status=503, retry_after_seconds=1
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_path))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def v1_token(emulator: Emulator, config: EmulatorConfig, resource: str = INGESTION_RESOURCE) -> str:
    reply = requests.post(
        f"{emulator.url}/{config.tenant_id}/oauth2/token?api-version=1.0",
        data={
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "resource": resource,
        },
        verify=str(emulator.ca_path),
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def upload(
    emulator: Emulator, token: str, data: bytes, job_id: str = JOB_ID, name: str = "file"
) -> requests.Response:
    return requests.post(
        f"{emulator.url}/api/signals",
        params={"jobid": job_id},
        headers={"Authorization": f"Bearer {token}"},
        files={name: ("chunk.csv", data)},
        verify=str(emulator.ca_path),
        timeout=10,
    )


# -- Entra ---------------------------------------------------------------------------------


def test_msal_client_credentials_uses_cache_and_reports_bad_secret(
    emulator: Emulator, config: EmulatorConfig
) -> None:
    authority = f"{emulator.url}/{config.tenant_id}"
    app = msal.ConfidentialClientApplication(
        config.client_id,
        client_credential=config.client_secret,
        authority=authority,
        instance_discovery=False,
        verify=str(emulator.ca_path),
    )
    first = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in first, first
    assert first["token_type"].lower() == "bearer"
    assert 3500 <= first["expires_in"] <= 3600
    second = app.acquire_token_for_client(scopes=[SCOPE])
    assert second["access_token"] == first["access_token"]
    assert emulator.stats()["tokens"]["v2"] == 1

    claims = emulator.verify_token(first["access_token"], INGESTION_RESOURCE)
    assert claims["appid"] == config.client_id
    assert claims["tid"] == config.tenant_id
    assert claims["exp"] - claims["iat"] == 3600

    wrong = msal.ConfidentialClientApplication(
        config.client_id,
        client_credential="not-the-secret",
        authority=authority,
        instance_discovery=False,
        verify=str(emulator.ca_path),
    )
    failed = wrong.acquire_token_for_client(scopes=[SCOPE])
    assert failed["error"] == "invalid_client"
    assert failed["error_codes"] == [7000215]
    assert failed["error_description"].startswith("AADSTS7000215:")
    assert emulator.stats()["tokens"]["v2"] == 1


def test_v1_token_reply_shape_and_errors(emulator: Emulator, config: EmulatorConfig) -> None:
    url = f"{emulator.url}/{config.tenant_id}/oauth2/token?api-version=1.0"
    form = {
        "grant_type": "client_credentials",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "resource": INGESTION_RESOURCE,
    }
    ca = str(emulator.ca_path)
    reply = requests.post(url, data=form, verify=ca, timeout=10)
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert body["resource"] == INGESTION_RESOURCE
    for key in ("expires_in", "expires_on", "not_before"):
        assert isinstance(body[key], str) and body[key].isdigit()
    assert int(body["expires_on"]) - int(body["not_before"]) == 3600
    assert len(body["access_token"].split(".")) == 3
    assert emulator.stats()["tokens"]["v1"] == 1

    bad_tenant = requests.post(
        f"{emulator.url}/{uuid.uuid4()}/oauth2/token", data=form, verify=ca, timeout=10
    )
    assert bad_tenant.status_code == 400
    assert bad_tenant.json()["error_codes"] == [90002]

    bad_client = requests.post(url, data={**form, "client_id": "x"}, verify=ca, timeout=10)
    assert (bad_client.status_code, bad_client.json()["error"]) == (400, "unauthorized_client")

    bad_secret = requests.post(url, data={**form, "client_secret": "x"}, verify=ca, timeout=10)
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")

    old_resource = "https://microsoft.onmicrosoft.com/4e476d41-2395-42be-89ff-34cb9186a1ce"
    stale = requests.post(url, data={**form, "resource": old_resource}, verify=ca, timeout=10)
    assert stale.status_code == 400 and stale.json()["error_codes"] == [500011]
    assert emulator.stats()["tokens"]["v1"] == 1


# -- managed identity + Key Vault ----------------------------------------------------------


def test_default_credential_reads_and_rotates_key_vault_secret(
    emulator: Emulator, config: EmulatorConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emulator.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", config.identity_header)

    credential = DefaultAzureCredential()
    client = SecretClient(vault_url=emulator.url, credential=credential, verify_challenge_resource=False)
    secret = client.get_secret(CLIENT_SECRET_NAME)
    assert secret.value == config.client_secret
    assert secret.properties.enabled is True
    assert str(secret.id).startswith(f"{emulator.url}/secrets/{CLIENT_SECRET_NAME}/")

    stats = emulator.stats()
    assert stats["tokens"]["managed_identity"] == 1
    assert stats["keyvault"]["challenges"] >= 1

    with pytest.raises(ResourceNotFoundError):
        client.get_secret("no-such-secret")

    client.set_secret(CLIENT_SECRET_NAME, "rotated-value")
    assert client.get_secret(CLIENT_SECRET_NAME).value == "rotated-value"
    assert client.get_secret(CLIENT_SECRET_NAME, secret.properties.version).value == (config.client_secret)
    client.close()
    credential.close()


def test_managed_identity_endpoint_requires_header(emulator: Emulator, config: EmulatorConfig) -> None:
    url = f"{emulator.url}/msi/token"
    params = {"api-version": "2019-08-01", "resource": KEYVAULT_RESOURCE}
    ca = str(emulator.ca_path)
    assert requests.get(url, params=params, verify=ca, timeout=10).status_code == 401
    wrong = requests.get(url, params=params, headers={"X-IDENTITY-HEADER": "nope"}, verify=ca, timeout=10)
    assert wrong.status_code == 403
    good = requests.get(
        url,
        params={**params, "client_id": "11111111-2222-3333-4444-555555555555"},
        headers={"X-IDENTITY-HEADER": config.identity_header},
        verify=ca,
        timeout=10,
    )
    assert good.status_code == 200
    body = good.json()
    assert body["resource"] == KEYVAULT_RESOURCE and body["token_type"] == "Bearer"
    assert int(body["expires_on"]) > time.time() + 3000
    claims = emulator.verify_token(body["access_token"], KEYVAULT_RESOURCE)
    assert claims["appid"] == "11111111-2222-3333-4444-555555555555"


def test_key_vault_challenges_without_token(emulator: Emulator, config: EmulatorConfig) -> None:
    reply = requests.get(
        f"{emulator.url}/secrets/{CLIENT_SECRET_NAME}/?api-version=7.6",
        verify=str(emulator.ca_path),
        timeout=10,
    )
    assert reply.status_code == 401
    challenge = reply.headers["WWW-Authenticate"]
    assert f'authorization="{emulator.url}/{config.tenant_id}"' in challenge
    assert 'resource="https://vault.azure.net"' in challenge
    # An ingestion token is not a vault token.
    with_wrong_aud = requests.get(
        f"{emulator.url}/secrets/{CLIENT_SECRET_NAME}",
        headers={"Authorization": f"Bearer {v1_token(emulator, config)}"},
        verify=str(emulator.ca_path),
        timeout=10,
    )
    assert with_wrong_aud.status_code == 401
    assert emulator.stats()["keyvault"] == {
        "requests": 2,
        "challenges": 2,
        "not_found": 0,
        "writes": 0,
    }


# -- ingestion -----------------------------------------------------------------------------

HEADER = ["Creation Time", "Event Name", "Patient First Name", "Restricted Access Comment"]
ROWS = [
    ["2024-05-01T08:00:00Z", "View", "Smith, John", 'He said "hi"\r\nthen left'],
    ["2024-05-01T08:01:00Z", "Edit", "Jane", ""],
    ["2024-05-01T08:02:00Z", "Print", "a|b\tc,d", "multi\nline"],
    ["2024-05-01T08:03:00Z", "View", '"quoted"', "plain"],
]


def encode_block(delimiter: str, rows: list[list[str]], bom: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode("utf-8") + out.getvalue().encode("utf-8")


@pytest.mark.parametrize("delimiter", [",", "\t", "|"])
def test_rows_counted_for_each_delimiter(emulator: Emulator, config: EmulatorConfig, delimiter: str) -> None:
    token = v1_token(emulator, config)
    data = encode_block(delimiter, ROWS)
    assert detect_delimiter(data.decode("utf-8-sig").splitlines()[0]) == delimiter
    reply = upload(emulator, token, data)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"jobId": JOB_ID, "rowsReceived": len(ROWS)}
    job = emulator.stats()["jobs"][JOB_ID]
    assert job["rows"] == len(ROWS)
    assert job["bytes"] == len(data)
    assert job["duplicate_rows"] == 0
    assert emulator.stats()["ingestion"]["accepted"] == 1


def test_hand_written_quoting_is_counted_like_rfc4180(emulator: Emulator, config: EmulatorConfig) -> None:
    data = (
        b"\xef\xbb\xbfCreation Time,Event Name,Comment\r\n"
        b'2024-05-01,View,"one, ""two""\r\nthree"\r\n'
        b'2024-05-01,View,"line\nbreak, and | pipe"\r\n'
        b"2024-05-01,Edit,\r\n"
        b"\r\n"
        b"2024-05-01,Edit,last without newline"
    )
    reply = upload(emulator, v1_token(emulator, config), data)
    assert reply.json()["rowsReceived"] == 4


def test_duplicate_rows_are_counted_across_and_within_uploads(
    emulator: Emulator, config: EmulatorConfig
) -> None:
    token = v1_token(emulator, config)
    assert upload(emulator, token, encode_block(",", ROWS)).status_code == 200
    assert upload(emulator, token, encode_block("|", ROWS[:2], bom=False)).status_code == 200
    assert upload(emulator, token, encode_block(",", [ROWS[0], ROWS[0]])).status_code == 200
    job = emulator.stats()["jobs"][JOB_ID]
    assert job["rows"] == len(ROWS) + 2 + 2
    assert job["duplicate_rows"] == 2 + 2
    assert job["requests"] == job["accepted"] == 3
    assert emulator.stats()["jobs"][OTHER_JOB_ID]["rows"] == 0


def test_a_record_is_the_same_whether_quoted_or_not(emulator: Emulator, config: EmulatorConfig) -> None:
    token = v1_token(emulator, config)
    plain = b"a,b\n2024-05-01T08:00:00Z,View\n2024-05-01T08:01:00Z,Edit\n"
    quoted = b'a,b\n"2024-05-01T08:00:00Z","View"\n2024-05-01T08:01:00Z,"Ed,it"\n'
    assert upload(emulator, token, plain).status_code == 200
    assert upload(emulator, token, quoted).status_code == 200
    job = emulator.stats()["jobs"][JOB_ID]
    assert job["rows"] == 4
    assert job["duplicate_rows"] == 1  # the first rows are one record; "Ed,it" is not "Edit"


def test_rejections_count_nothing(emulator: Emulator, config: EmulatorConfig) -> None:
    token = v1_token(emulator, config)
    data = encode_block(",", ROWS)

    forged = upload(emulator, token[:-4] + "AAAA", data)
    assert forged.status_code == 401 and "signature" in forged.json()["error"]["message"]
    vault_token = v1_token(emulator, config, resource=KEYVAULT_RESOURCE)
    assert upload(emulator, vault_token, data).status_code == 401
    no_token = requests.post(
        f"{emulator.url}/api/signals?jobid={JOB_ID}",
        files={"file": ("chunk.csv", data)},
        verify=str(emulator.ca_path),
        timeout=10,
    )
    assert no_token.status_code == 401

    unknown = upload(emulator, token, data, job_id=str(uuid.uuid4()))
    assert unknown.status_code == 404 and "job" in unknown.json()["error"]["message"].lower()

    wrong_part = upload(emulator, token, data, name="upload")
    assert wrong_part.status_code == 400 and "'file'" in wrong_part.json()["error"]["message"]

    stats = emulator.stats()
    assert stats["jobs"][JOB_ID]["rows"] == 0
    assert stats["ingestion"] == {
        "accepted": 0,
        "rejected_auth": 3,
        "throttled": 0,
        "failed": 0,
        "unknown_job": 1,
        "bad_request": 1,
    }
    # Row content never leaks into replies.
    for reply in (forged, no_token, unknown, wrong_part):
        assert "Smith" not in reply.text


def test_injected_throttling_and_errors(emulator: Emulator, config: EmulatorConfig) -> None:
    token = v1_token(emulator, config)
    data = encode_block(",", ROWS)
    ca = str(emulator.ca_path)

    faults = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"throttle_rate": 1, "retry_after_seconds": 7},
        verify=ca,
        timeout=10,
    )
    assert faults.status_code == 200 and faults.json()["throttle_rate"] == 1.0
    throttled = upload(emulator, token, data)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"

    emulator.set_faults(throttle_rate=0, error_rate=1)
    assert upload(emulator, token, data).status_code == 503
    emulator.set_faults(error_status=500)
    assert upload(emulator, token, data).status_code == 500

    emulator.set_faults(error_rate=0, latency_seconds=0.2)
    started = time.monotonic()
    assert upload(emulator, token, data).status_code == 200
    assert time.monotonic() - started >= 0.2

    stats = requests.get(f"{emulator.url}/_emulator/stats", verify=ca, timeout=10).json()
    assert stats["ingestion"]["throttled"] == 1
    assert stats["ingestion"]["failed"] == 2
    assert stats["ingestion"]["accepted"] == 1
    assert stats["jobs"][JOB_ID] == {
        "requests": 4,
        "accepted": 1,
        "rejected": 3,
        "rows": len(ROWS),
        "bytes": len(data),
        "duplicate_rows": 0,
        "in_flight": 0,
        "peak_in_flight": 1,
        "non_schema_columns": 0,
        "ragged_rows": 0,
        "watched_rows": 0,
    }
    bad = requests.post(f"{emulator.url}/_emulator/faults", json={"throttle_rate": 2}, verify=ca, timeout=10)
    assert bad.status_code == 400

    reset = requests.post(f"{emulator.url}/_emulator/reset", verify=ca, timeout=10)
    assert reset.status_code == 200
    assert emulator.stats()["jobs"][JOB_ID]["requests"] == 0


def test_seeded_faults_replay_identically(emulator: Emulator, config: EmulatorConfig) -> None:
    token = v1_token(emulator, config)
    data = encode_block(",", ROWS[:1])

    def run() -> list[int]:
        emulator.set_faults(throttle_rate=0.3, error_rate=0.3, seed=42)
        return [upload(emulator, token, data).status_code for _ in range(12)]

    first, second = run(), run()
    assert first == second
    assert {200, 429, 503} <= set(first)


def test_chunked_upload_and_keep_alive(emulator: Emulator, config: EmulatorConfig) -> None:
    """A generator body goes out chunked; several requests share one connection."""
    token = v1_token(emulator, config)
    boundary = "b0undary"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.tsv"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + encode_block("\t", ROWS)
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def body() -> Iterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    with requests.Session() as session:
        session.verify = str(emulator.ca_path)
        for _ in range(3):
            reply = session.post(
                f"{emulator.url}/api/signals?jobid={JOB_ID}",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
                data=body(),
                verify=str(emulator.ca_path),
                timeout=10,
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["rowsReceived"] == len(ROWS)
    assert emulator.stats()["jobs"][JOB_ID]["duplicate_rows"] == 2 * len(ROWS)


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 13, 64 * 1024])
def test_multipart_reader_handles_boundaries_split_across_reads(chunk_size: int) -> None:
    boundary = b"XyZ"
    tricky = b"a\r\n--XyNot\r\n-\r\n--X" * 50
    body = (
        b"preamble\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\nhello'
        b"\r\n--XyZ  \r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + tricky + b"\r\n--XyZ--\r\nepilogue"
    )
    reader = MultipartReader(io.BytesIO(body), boundary, chunk_size=chunk_size)
    seen = [(part.name, part.filename, part.stream.read()) for part in reader.parts()]
    assert seen == [("note", None, b"hello"), ("file", "a.csv", tricky)]

    truncated = MultipartReader(io.BytesIO(body[:-20]), boundary, chunk_size=chunk_size)
    with pytest.raises(MultipartError):
        for part in truncated.parts():
            part.stream.read()


def test_delimiter_detection_ignores_quoted_characters() -> None:
    assert detect_delimiter('"Name, Full"|"Event, Kind"|Time\r\n') == "|"
    assert detect_delimiter("A\tB\tC") == "\t"
    assert detect_delimiter("Single column") == ","


# -- TLS and process entry point ----------------------------------------------------------


def test_certificates_are_reused(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    before = {p: p.read_bytes() for p in (first.ca_cert, first.server_cert)}
    second = ensure_certificates(tmp_path)
    assert {p: p.read_bytes() for p in (second.ca_cert, second.server_cert)} == before
    first.server_cert.write_text("garbage")
    third = ensure_certificates(tmp_path)
    assert third.ca_cert.read_bytes() == before[first.ca_cert]
    assert third.server_cert.read_bytes() != before[first.server_cert]


def test_module_entry_point_writes_info_and_stops_on_sigterm(tmp_path: Path, config: EmulatorConfig) -> None:
    config_path = tmp_path / "cfg.json"
    config.save(config_path)
    assert EmulatorConfig.load(config_path) == config
    state = tmp_path / "state"
    log_path = tmp_path / "emulator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.emulator",
                "--config",
                str(config_path),
                "--state-dir",
                str(state),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        info_path = state / "emulator.json"
        deadline = time.monotonic() + 10
        while not info_path.exists():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        info = json.loads(info_path.read_text())
        assert info["pid"] == proc.pid
        assert info["url"] == f"https://127.0.0.1:{info['port']}"
        health = requests.get(f"{info['url']}/_emulator/health", verify=info["ca"], timeout=5)
        assert health.json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not info_path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
