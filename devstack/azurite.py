"""Start, stop and reattach to a local Azurite (Blob, Queue, Table) for the dev stack.

Why a wrapper instead of ``npx azurite``: ``npx`` forks, so the PID we would hold is not the
server's, and killing it leaves Azurite running. We start the server binary itself in its own
process group and kill the group.

Why a random account per start: with ``AZURITE_ACCOUNTS`` set, Azurite replaces its well-known
``devstoreaccount1`` (whose key is published) with the accounts listed there, for all three
services. The key exists only in this process's memory, the child's environment and the
connection string handed to clients; it is never written to code or settings files. A
``state()`` dict carries it to another process that needs to reattach (write it somewhere only
you can read).

Why HTTPS with ``--oauth basic`` (``tls``): that is how Azurite accepts bearer tokens, so the app
can reach it as it reaches Azure Storage, with its managed identity and no key. Azurite's README
(node_modules/azurite): OAuth requires HTTPS (``--cert``, ``--key``); at the basic level it checks
a token's issuer, audience and lifetime, not its signature. The account key still works, for the
stack's own administration.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import string
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository root: ``devstack/`` lives directly under it, next to ``node_modules/``."""

AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
HOST = "127.0.0.1"
SERVICES = ("blob", "queue", "table")


def free_port() -> int:
    """A port that is free right now, chosen below the kernel's ephemeral range.

    Port 0 would pick from the ephemeral range, where every outgoing connection of the
    tests also takes its local port: between our check and Azurite's bind, a client socket
    could take it (EADDRINUSE, seen in CI). ``Azurite.start`` still retries on new ports
    if the race is lost anyway.
    """
    low, high = _ephemeral_range()
    candidates = [(1024, low - 1), (high + 1, 65535)]
    lo, hi = max(candidates, key=lambda r: r[1] - r[0])
    for _ in range(200):
        port = secrets.randbelow(hi - lo + 1) + lo
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found between {lo} and {hi}")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def random_account_name() -> str:
    """Storage account names are 3-24 lowercase letters and digits; start with a letter."""
    alphabet = string.ascii_lowercase + string.digits
    return "dev" + "".join(secrets.choice(alphabet) for _ in range(13))


def random_account_key() -> str:
    """A 64-byte key, base64 like a real account key (no ':' or ';', which the env var uses)."""
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _is_azurite(pid: int) -> bool:
    """Guard before signalling a reattached PID: it may have exited and been reused."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"azurite" in cmdline


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass(repr=False)
class Azurite:
    """One Azurite server: data in ``location``, three loopback ports, one random account.

    ``Azurite(location)`` picks free ports and a fresh account; ``start()`` (or ``with``) runs
    it. ``restart()`` stops and starts it again on the same location, ports and account, so
    clients built from ``connection_string`` keep working (fault tests). ``from_state()``
    rebuilds a handle in another process from ``state()``.
    """

    location: Path
    ports: dict[str, int] = field(default_factory=dict)
    account: str = field(default_factory=random_account_name)
    key: str = field(default_factory=random_account_key)
    pid: int | None = None
    tls: tuple[Path, Path] | None = None
    """(certificate, key) PEM files: serve HTTPS and accept bearer tokens (``--oauth basic``)."""
    startup_timeout: float = 30.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _attempts: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.location = Path(self.location)
        for service in SERVICES:
            self.ports.setdefault(service, free_port())

    def __repr__(self) -> str:
        # Never show the key in logs or assertion messages.
        return f"Azurite(location={str(self.location)!r}, ports={self.ports}, pid={self.pid})"

    @property
    def connection_string(self) -> str:
        """Path-style endpoints (``http://127.0.0.1:port/account``), as Azurite expects."""
        endpoints = ";".join(
            f"{service.capitalize()}Endpoint={self.endpoint(service)}" for service in SERVICES
        )
        account = f"AccountName={self.account};AccountKey={self.key}"
        return f"DefaultEndpointsProtocol={self.scheme};{account};{endpoints}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def endpoint(self, service: str) -> str:
        return f"{self.scheme}://{HOST}:{self.ports[service]}/{self.account}"

    @property
    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and _alive(self.pid) and _is_azurite(self.pid)

    def start(self) -> Azurite:
        """Start the server and wait until all three services accept connections.

        If a port was taken between choosing it and Azurite binding it, start again on new
        ports (a few times; never on ``restart``, whose clients hold the old ones)."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        if not AZURITE_BIN.exists():
            raise FileNotFoundError(f"{AZURITE_BIN} is missing: run `npm ci` in {REPO_ROOT}")
        self.location.mkdir(parents=True, exist_ok=True)
        args = [str(AZURITE_BIN), "--silent", "--location", str(self.location)]
        args += ["--skipApiVersionCheck", "--disableTelemetry", "--loose"]
        for service in SERVICES:
            args += [f"--{service}Host", HOST, f"--{service}Port", str(self.ports[service])]
        if self.tls:
            cert, key = self.tls
            args += ["--cert", str(cert), "--key", str(key), "--oauth", "basic"]
        env = dict(os.environ)
        env["AZURITE_ACCOUNTS"] = f"{self.account}:{self.key}"
        with open(self.location / "azurite.out", "ab") as out:
            self._proc = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills the group
            )
        self.pid = self._proc.pid
        try:
            self._wait_ready()
        except RuntimeError as exc:
            self.stop()
            if "EADDRINUSE" not in str(exc) or self._attempts >= 5:
                raise
            # Someone took a port between our check and Azurite's bind: take new ones.
            self._attempts += 1
            self.ports = {service: free_port() for service in SERVICES}
            return self.start()
        except BaseException:
            self.stop()
            raise
        self._attempts = 0
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = set(SERVICES)
        while pending:
            if self._proc is not None and self._proc.poll() is not None:
                log = (self.location / "azurite.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Azurite exited with {self._proc.returncode}: {log}")
            pending = {s for s in pending if not _port_open(self.ports[s])}
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"Azurite did not open {sorted(pending)} in time")
            if pending:
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process group, then kill it if it has not exited in ``timeout``."""
        pid = self.pid
        if pid is None:
            return
        if self._proc is None and not _is_azurite(pid):
            self.pid = None  # reattached PID is gone (or reused): nothing of ours to stop
            return
        self._signal_group(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            self._signal_group(pid, signal.SIGKILL)
            self._wait_exit(pid, timeout)
        self.pid = None
        self._proc = None

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def restart(self) -> Azurite:
        """Same location, ports and account: data survives and clients reconnect."""
        self.stop()
        self._attempts = 5  # the ports must stay the same: clients hold them
        return self.start()

    def state(self) -> dict[str, Any]:
        """What another process needs to reattach (contains the account key)."""
        return {
            "pid": self.pid,
            "location": str(self.location),
            "ports": dict(self.ports),
            "account": self.account,
            "key": self.key,
            "tls": [str(p) for p in self.tls] if self.tls else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Azurite:
        """A handle on a server started elsewhere; ``stop()``/``restart()`` work on it."""
        return cls(
            location=Path(state["location"]),
            ports={k: int(v) for k, v in state["ports"].items()},
            account=state["account"],
            key=state["key"],
            pid=state.get("pid"),
            tls=(Path(state["tls"][0]), Path(state["tls"][1])) if state.get("tls") else None,
        )

    def __enter__(self) -> Azurite:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
