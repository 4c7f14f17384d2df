"""Why a connection failed, told apart as an operator must fix it: the certificate (a
TLS-inspecting proxy's CA not trusted), DNS (the name does not resolve), the proxy (refused
or unreachable) or the firewall (nothing answers). Read from the exception chain that
requests, urllib3, MSAL and the Azure SDK raise, whose words name the cause."""

from __future__ import annotations

import os
import re
import socket
import ssl
import urllib.parse
from collections.abc import Iterator

CERTIFICATE, CA_PATH, DNS, PROXY, FIREWALL = "certificate", "ca-bundle", "dns", "proxy", "firewall"

_WORDS = (
    # (cause, words in the message of some exception in the chain), most specific first
    (CA_PATH, ("could not find a suitable tls ca certificate bundle",)),
    (CERTIFICATE, ("certificate_verify_failed", "certificate verify failed", "self-signed certificate",
                   "unable to get local issuer certificate", "sslcertverificationerror")),
    (PROXY, ("proxyerror", "unable to connect to proxy", "tunnel connection failed", "407 proxy")),
    (DNS, ("name or service not known", "nodename nor servname", "getaddrinfo failed",
           "temporary failure in name resolution", "failed to resolve", "nameresolutionerror",
           "no address associated")),
    (FIREWALL, ("timed out", "timeout", "connection refused", "connectionrefused", "network is unreachable",
                "no route to host", "connection reset", "max retries exceeded")),
)  # fmt: skip


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__, *e.args) if isinstance(x, BaseException)]
        inner = getattr(e, "inner_exception", None) or getattr(e, "reason", None)
        if isinstance(inner, BaseException):
            todo.append(inner)


def cause(exc: BaseException) -> str | None:
    """One of the causes above, or None if the chain does not say."""
    chain = list(_chain(exc))
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return CERTIFICATE
    if any(isinstance(e, socket.gaierror) for e in chain):
        return DNS
    text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
    for name, words in _WORDS:
        if any(w in text for w in words):
            return name
    return None


def fix(kind: str | None, host: str) -> str | None:
    """What to do about a failure of that cause reaching ``host``."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or "(not set)"
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    proxy = address(proxy) if proxy else "(not set)"
    return {
        CA_PATH: f"REQUESTS_CA_BUNDLE ({bundle}) names no readable PEM file: point it at the CA bundle "
        "file, or unset it",
        CERTIFICATE: f"the certificate {host} presented is not trusted: a TLS-inspecting proxy re-signs "
        "traffic with its own CA, so append that CA (PEM) to the bundle in REQUESTS_CA_BUNDLE "
        f"(now {bundle}); the firewall is not the problem",
        DNS: f"{host} does not resolve: check the URL in the settings, the DNS servers (a private DNS zone "
        "for private endpoints) or, behind a proxy that resolves names for you, set HTTPS_PROXY",
        PROXY: f"the proxy ({proxy}) refused or could not be reached: check HTTPS_PROXY (host, port, "
        f"credentials) and that the proxy allows CONNECT to {host}:443",
        FIREWALL: f"nothing answered from {host}: allow outbound HTTPS (443) to it in the firewall, or set "
        "HTTPS_PROXY if outbound traffic must go through a proxy",
    }.get(kind or "")


def address(proxy: str) -> str:
    """The proxy as printed: scheme, host and port, never the user:password@ it may carry."""
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


_USERINFO = re.compile(r"//[^/@\s]*@")
"""A URL's user:password@, which an error's text may repeat from the proxy setting."""


def describe(exc: BaseException, host: str) -> tuple[str, str | None]:
    """(the problem in a few words, the fix or None) for a failure reaching ``host``."""
    kind = cause(exc)
    first = _USERINFO.sub("//", str(exc).splitlines()[0][:200]) if str(exc) else ""
    label = f"{kind} problem: " if kind else ""
    return f"{label}{type(exc).__name__}: {first}", fix(kind, host)
