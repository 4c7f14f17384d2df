"""The retry engine shared by the queue worker and `ehr-ingest push`.

One chunk, one call of ``send``: it POSTs, and on a failure decides between waiting and
trying again inside this invocation, or giving up so the queue (or the next push) retries:

- 429 and 503 honour ``Retry-After``; a 429 also slows the whole job down (``Pacer``),
  so every worker waits instead of hammering a throttled API. Throttling is not a failure:
  it spends the time budget, not the attempts.
- other 5xx, timeouts and connection resets back off exponentially with jitter;
- a 401 gets one fresh token; an Entra refusal gets one fresh secret (``TokenProvider``);
- 400, 403, 404 and other 4xx are final at once: retrying cannot help.
Every wait is bounded by ``RetryPolicy.budget`` so an invocation hands the message back
long before the function timeout.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.delivery.entra import TokenError
from shared.delivery.upload import UploadError


class Deferred(Exception):
    """Not a failure: the job is throttled or at its concurrency cap; try again in ``seconds``."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


@dataclass
class Tally:
    """What one chunk's ``send`` met, kept as it goes so it is known when ``send`` raises too."""

    posts: int = 0
    throttled: int = 0
    """POSTs the API answered 429."""


class Pacer(Protocol):
    """Job-wide slow-down shared by every worker (in Storage for the Functions app)."""

    def paused_for(self) -> float: ...

    def slow_down(self, seconds: float) -> None: ...


class LocalPacer:
    """The slow-down of one process (``ehr-ingest push``): shared by its threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._until - self._clock())

    def slow_down(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)


class Tokens(Protocol):
    def token(self) -> str: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Failed attempts (not counting throttling) before the invocation gives up."""
    base: float = 2.0
    cap: float = 60.0
    budget: float = 240.0
    """Seconds of waiting one invocation may spend before handing the chunk back."""
    throttle_default: float = 10.0
    """Wait after a 429 without Retry-After."""

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Exponential with 'equal jitter': half fixed, half random, so workers spread out."""
        ceiling = min(self.cap, self.base * 2 ** max(failures - 1, 0))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))

    def wait_after(self, err: UploadError, failures: int, rng: random.Random) -> float:
        if err.status in (429, 503) and err.retry_after is not None:
            return max(err.retry_after, 1.0)
        if err.status == 429:
            return self.throttle_default
        return self.backoff(failures, rng)


def send(
    post: Callable[[str], object],
    tokens: Tokens,
    policy: RetryPolicy,
    pacer: Pacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    tally: Tally | None = None,
) -> int:
    """POST until accepted; returns the number of POSTs made (also counted in ``tally``,
    with the 429s among them).

    Raises the last ``UploadError`` (or ``TokenError``) when the attempts are spent or the
    error is final, and ``Deferred`` when only throttling stands in the way.
    """
    pacer = pacer or LocalPacer(clock)
    rng = rng or random.Random()
    tally = tally if tally is not None else Tally()
    deadline = clock() + policy.budget
    failures = 0
    fresh_token = fresh_secret = False
    while True:
        paused = pacer.paused_for()
        if paused > 0:
            if clock() + paused > deadline:
                raise Deferred(paused, "the job is slowed down after throttling")
            sleep(paused)
        try:
            token = tokens.token()
        except TokenError:
            if fresh_secret:
                raise
            fresh_secret = True  # the provider re-reads the secret after Entra refuses it
            continue
        try:
            tally.posts += 1
            post(token)
            return tally.posts
        except UploadError as err:
            if err.status == 401:
                if fresh_token:
                    raise  # refused twice: the app's access, not the token; the queue retries later
                fresh_token = True  # a revoked or expired token: one fresh try, not counted
                tokens.invalidate()
                continue
            if not err.retryable:
                raise
            wait = policy.wait_after(err, failures + 1, rng)
            if err.status == 429:
                tally.throttled += 1
                pacer.slow_down(wait)
                if clock() + wait > deadline:
                    raise Deferred(wait, str(err)) from err
                continue  # the pacer makes us (and every other worker) wait
            failures += 1
            if failures >= policy.attempts or clock() + wait > deadline:
                raise
            sleep(wait)


def waiting_out[T](
    call: Callable[[], T],
    transient: tuple[type[Exception], ...],
    waits: Sequence[float],
    on_wait: Callable[[Exception, float], None] = lambda exc, seconds: None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call``, tried again after each of ``waits`` while it fails with a ``transient`` error
    (Storage restarting, a network blip); the last such error is raised."""
    for wait in (*waits, None):
        try:
            return call()
        except transient as exc:
            if wait is None:
                raise
            on_wait(exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")
