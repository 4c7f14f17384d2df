"""The whole local stack: Azurite, the cloud emulator and the function host, as processes.

``Stack.up()`` starts them detached (so ``ehr-ingest stack up`` can return) and records
what it started in ``<work>/stack.json``; ``Stack.load(work).down()`` stops exactly that.
The app settings it writes are the same names as in Azure; only URLs differ.

Storage as in Azure: the app's settings give both connections (``ExportsStorage``,
``AzureWebJobsStorage``) identity-based, ``__blobServiceUri``/``__queueServiceUri``/
``__tableServiceUri`` with ``__credential=managedidentity`` and ``__clientId`` (as infra/ sets
them), and no key. Azurite serves HTTPS with a certificate from the stack's CA (the emulator's) and takes
the bearer tokens the emulator's managed-identity endpoint issues (``--oauth basic``). The account
key stays with the stack, for its own administration (``admin_client``: tests, the demo's drops).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devstack.azurite import SERVICES, Azurite
from devstack.emulator.config import EmulatorConfig
from devstack.emulator.tls import ensure_certificates
from shared.common.settings import SETTINGS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO_ROOT / ".work" / "stack"
CONNECTORS = (("generic", "healthcare"), ("epic", "epic"), ("hr", "hr"))
STORAGE_CONNECTIONS = ("AzureWebJobsStorage", "ExportsStorage")


def _wait_for_file(path: Path, proc: subprocess.Popen, what: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass  # being written
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}; see its log")
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not start within {timeout:.0f} s")


def _gone(pid: int) -> bool:
    """Whether the process group ``pid`` has ended. A child of ours stays a zombie (and its
    group signalable) until reaped, so reap it here, else every stop waits out its timeout."""
    _reap(pid)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop_pid(pid: int, timeout: float = 15, sig: signal.Signals = signal.SIGTERM) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect our own exited child, or it lingers as a zombie that still answers kill(0)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class Stack:
    work: Path = DEFAULT_WORK
    chunk_rows: int = 2000
    state: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False
    """Run the host with DEBUG logging (the PHI tests search it)."""
    extra_settings: dict[str, str] = field(default_factory=dict)
    queue_lease_seconds: int = 60
    """How soon a crashed host's in-flight messages are seen again (tests that kill it: small)."""
    """App settings added to (or replacing) the generated ones, e.g. host.json overrides."""

    @property
    def state_file(self) -> Path:
        return self.work / "stack.json"

    @classmethod
    def load(cls, work: Path = DEFAULT_WORK) -> Stack:
        path = Path(work) / "stack.json"
        if not path.exists():
            raise FileNotFoundError(f"no local stack recorded in {work}; run `ehr-ingest stack up`")
        return cls(Path(work), state=json.loads(path.read_text()))

    # lifecycle --------------------------------------------------------------------------
    def up(self, host: bool = True) -> Stack:
        if self.state_file.exists():
            raise RuntimeError(f"a stack is already recorded in {self.work}; run `ehr-ingest stack down`")
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "logs").mkdir(exist_ok=True)
        self.state = {"pids": {}, "verbose": self.verbose, "queue_lease_seconds": self.queue_lease_seconds}
        try:
            # The emulator's CA and server certificate, made now: Azurite serves with them too.
            tls = ensure_certificates(self.work / "emulator" / "tls")
            azurite = Azurite(self.work / "azurite", tls=(tls.server_cert, tls.server_key))
            azurite.start()
            self.state["azurite"] = azurite.state()
            self._save()
            jobs = {name: str(uuid.uuid4()) for name, _ in CONNECTORS}
            emu = self._start_emulator(jobs)
            self.state["jobs"] = jobs
            self.state["emulator"] = emu
            self.state["settings"] = self._settings(azurite, emu, jobs)
            self._save()
            self._create_exports_container(azurite)
            if host:
                self.start_host()
        except BaseException:
            self.down()
            raise
        return self

    def _create_exports_container(self, azurite: Azurite) -> None:
        """What infra/ creates in Azure, so that a fresh stack is one `drop` and `doctor` expect."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        service = self.admin_client(BlobServiceClient)
        with contextlib.suppress(ResourceExistsError):
            service.create_container(self.settings["EXPORTS_CONTAINER"])

    def _start_emulator(self, jobs: dict[str, str]) -> dict[str, Any]:
        config = EmulatorConfig.generate(list(jobs.values()))
        config.save(self.work / "emulator-config.json")
        state_dir = self.work / "emulator"
        (state_dir / "emulator.json").unlink(missing_ok=True)
        proc = self._spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "devstack.emulator",
                "--config",
                str(self.work / "emulator-config.json"),
                "--state-dir",
                str(state_dir),
            ],
        )
        info = _wait_for_file(state_dir / "emulator.json", proc, "the cloud emulator")
        bundle = self.work / "ca-bundle.pem"
        bundle.write_text(_system_cas() + Path(info["ca"]).read_text())
        return {
            "url": info["url"],
            "ca": info["ca"],
            "ca_bundle": str(bundle),
            "tenant_id": config.tenant_id,
            "client_id": config.client_id,
            "identity_header": config.identity_header,
            "managed_identity_client_id": config.managed_identity_client_id,
        }

    def _settings(self, azurite: Azurite, emu: dict[str, Any], jobs: dict[str, str]) -> dict[str, str]:
        url = emu["url"]
        connectors = [
            {"name": name, "kind": kind, "job_id": jobs[name], "chunk_rows": self.chunk_rows}
            for name, kind in CONNECTORS
        ]
        defaults = {name: default for name, (default, _) in SETTINGS.items() if default is not None}
        return {
            # Binding expressions (%EXPORTS_CONTAINER%...) must resolve: write every default out.
            **defaults,
            "FUNCTIONS_WORKER_RUNTIME": "python",
            **_identity_storage(azurite, emu["managed_identity_client_id"]),
            "CONNECTORS": json.dumps(connectors),
            "ENTRA_TENANT_ID": emu["tenant_id"],
            "ENTRA_CLIENT_ID": emu["client_id"],
            "ENTRA_AUTHORITY_HOST": url,
            "KEY_VAULT_URL": url + "/",
            "KEY_VAULT_VERIFY_CHALLENGE_RESOURCE": "false",
            "INGESTION_URL": url + "/api/signals",
            "REPORT_SCHEDULE": "0 0 6 * * *",
            # The Python worker's pool for sync functions, as infra/ sets it (see main.bicep).
            "PYTHON_THREADPOOL_THREAD_COUNT": "32",
            # What App Service sets for a managed identity, pointed at the emulator.
            "IDENTITY_ENDPOINT": url + "/msi/token",
            "IDENTITY_HEADER": emu["identity_header"],
            "REQUESTS_CA_BUNDLE": emu["ca_bundle"],
            **self.extra_settings,
        }

    def start_host(self) -> None:
        settings_file = self.work / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": self.settings}, indent=2))
        state_file = self.work / "host.json"
        state_file.unlink(missing_ok=True)
        proc = self._spawn(
            "host",
            [
                sys.executable,
                "-m",
                "devstack.host",
                "--script-root",
                str(REPO_ROOT),
                "--settings",
                str(settings_file),
                "--state-file",
                str(state_file),
                "--blob-poll-seconds",
                "0.5",
                "--queue-lease-seconds",
                str(self.state.get("queue_lease_seconds", self.queue_lease_seconds)),
                *(["--verbose"] if self.verbose or self.state.get("verbose") else []),
            ],
            env=self.app_env(),
        )
        self.state["host"] = _wait_for_file(state_file, proc, "the function host")
        self._save()

    def stop_host(self) -> None:
        pid = self.state["pids"].pop("host", None)
        if pid:
            _stop_pid(pid)
        self._save()

    def kill_host(self) -> None:
        """SIGKILL the host and its workers at once, as a crashed or evicted instance dies."""
        pid = self.state["pids"].pop("host", None)
        if pid:
            _stop_pid(pid, sig=signal.SIGKILL)
        self._save()

    @property
    def log_dir(self) -> Path:
        return self.work / "logs"

    def down(self) -> None:
        for name in ("host", "emulator"):
            pid = self.state.get("pids", {}).get(name)
            if pid:
                _stop_pid(pid)
        if "azurite" in self.state:
            Azurite.from_state(self.state["azurite"]).stop()
        self.state_file.unlink(missing_ok=True)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.work / "logs" / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self.state["pids"][name] = proc.pid
        self._save()
        return proc

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))
        self.state_file.chmod(0o600)

    # using it ---------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, str]:
        return self.state["settings"]

    def app_env(self) -> dict[str, str]:
        """The environment the app sees: ours, minus any real Azure identity, plus the settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
        env.update(self.settings)
        return env

    @property
    def verify(self) -> str:
        return self.state["emulator"]["ca"]

    @property
    def admin_connection_string(self) -> str:
        """Azurite's account key: the stack's, for administration; never an app setting."""
        return Azurite.from_state(self.state["azurite"]).connection_string

    def admin_client[C](self, cls: type[C], *args: Any, **kwargs: Any) -> C:
        """``cls.from_connection_string`` with the account key, trusting the stack's CA (the
        machine's REQUESTS_CA_BUNDLE may not hold it)."""
        factory = cls.from_connection_string  # type: ignore[attr-defined]
        return factory(self.admin_connection_string, *args, connection_verify=self.verify, **kwargs)

    def emulator_stats(self) -> dict[str, Any]:
        url = self.state["emulator"]["url"] + "/_emulator/stats"
        return requests.get(url, verify=self.verify, timeout=10).json()

    def set_faults(self, **faults: Any) -> None:
        url = self.state["emulator"]["url"] + "/_emulator/faults"
        requests.post(url, json=faults, verify=self.verify, timeout=10).raise_for_status()

    def reset_peaks(self) -> None:
        url = self.state["emulator"]["url"] + "/_emulator/peaks/reset"
        requests.post(url, verify=self.verify, timeout=10).raise_for_status()

    def call_http(self, route: str, key: str | None = None, **params: str) -> requests.Response:
        """GET an HTTP function on the local host, with the host's function key unless given."""
        host = self.state["host"]
        url = host["admin_url"].rstrip("/") + f"/api/{route}"
        code = host.get("function_key") if key is None else key
        query = {**params, **({"code": code} if code else {})}
        return requests.get(url, params=query, timeout=60)

    def run_function(self, name: str, input: str = "") -> None:
        """Run a function now through the host's admin API, as with the real Functions host."""
        url = self.state["host"]["admin_url"].rstrip("/") + f"/admin/functions/{name}"
        requests.post(url, json={"input": input}, timeout=10).raise_for_status()


def _identity_storage(azurite: Azurite, client_id: str) -> dict[str, str]:
    """Both storage connections as infra/main.bicep gives them in Azure (``appSettings``): the
    managed identity and its client id, with Azurite's endpoints over HTTPS as the service URIs
    (``AzureWebJobsStorage`` has ``__accountName`` there, which can only name an Azure host)."""
    settings = {}
    for connection in STORAGE_CONNECTIONS:
        for service in SERVICES:
            settings[f"{connection}__{service}ServiceUri"] = azurite.endpoint(service)
        settings[f"{connection}__credential"] = "managedidentity"
        settings[f"{connection}__clientId"] = client_id
    return settings


def _system_cas() -> str:
    """Keep public CAs trusted next to the emulator's (the bundle replaces the default)."""
    path = ssl.get_default_verify_paths().cafile or os.environ.get("REQUESTS_CA_BUNDLE")
    try:
        import certifi

        path = certifi.where()
    except ImportError:
        pass
    try:
        return Path(path).read_text() + "\n" if path else ""
    except OSError:
        return ""
