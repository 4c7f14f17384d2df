"""The retry engine's decisions, with a fake clock: which errors wait, which give up, how long."""

import random

import pytest

from shared.delivery.entra import TokenError
from shared.delivery.retry import Deferred, LocalPacer, RetryPolicy, Tally, send, waiting_out
from shared.delivery.upload import UploadError, classify


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Tokens:
    def __init__(self, fail_first=0):
        self.issued = 0
        self.invalidated = 0
        self.fail_first = fail_first

    def token(self):
        if self.fail_first:
            self.fail_first -= 1
            raise TokenError("invalid_client")
        self.issued += 1
        return f"t{self.issued}"

    def invalidate(self):
        self.invalidated += 1


class scripted:
    """A post that fails with the given errors in turn, then succeeds."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    def __call__(self, token):
        self.seen.append(token)
        if self.answers:
            raise self.answers.pop(0)


DEFAULT = RetryPolicy(attempts=4, base=2, cap=60, budget=240)


def run(post, policy=DEFAULT, tokens=None, tally=None):
    clock = Clock()
    pacer = LocalPacer(clock)
    posts = send(
        post,
        tokens or Tokens(),
        policy,
        pacer,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
        tally=tally,
    )
    return posts, clock


def test_retry_after_is_honoured_for_429_and_503():
    posts, clock = run(scripted(classify(429, "", "7", "j"), classify(503, "", "3", "j")))
    assert posts == 3
    assert clock.sleeps == [7, 3]


def test_5xx_and_transport_errors_back_off_exponentially_with_jitter():
    timeout = UploadError("timed out", None, True)
    posts, clock = run(scripted(classify(500, "", None, "j"), timeout, classify(502, "", None, "j")))
    assert posts == 4
    for wait, ceiling in zip(clock.sleeps, (2, 4, 8), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_gives_up_after_the_attempts_and_raises_the_last_error():
    post = scripted(*[classify(500, "boom", None, "j")] * 10)
    with pytest.raises(UploadError, match="boom"):
        run(post, RetryPolicy(attempts=3, base=1, cap=1, budget=100))
    assert len(post.seen) == 3


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(status):
    post = scripted(classify(status, "the API's reason", None, "job-9"))
    with pytest.raises(UploadError, match="the API's reason"):
        run(post)
    assert len(post.seen) == 1


def test_401_gets_exactly_one_fresh_token():
    tokens = Tokens()
    post = scripted(classify(401, "", None, "j"))
    posts, _ = run(post, tokens=tokens)
    assert posts == 2 and tokens.invalidated == 1 and post.seen == ["t1", "t2"]
    post = scripted(classify(401, "", None, "j"), classify(401, "", None, "j"))
    with pytest.raises(UploadError):
        run(post, tokens=Tokens())


def test_an_entra_refusal_gets_one_fresh_secret():
    posts, _ = run(scripted(), tokens=Tokens(fail_first=1))
    assert posts == 1
    with pytest.raises(TokenError):
        run(scripted(), tokens=Tokens(fail_first=2))


def test_throttling_spends_the_budget_not_the_attempts_then_defers():
    throttled = [classify(429, "", "50", "j")] * 10
    with pytest.raises(Deferred) as caught:
        run(scripted(*throttled), RetryPolicy(attempts=1, base=1, cap=1, budget=120))
    assert caught.value.seconds == 50


def test_budget_bounds_the_wait():
    with pytest.raises(UploadError):
        run(scripted(classify(503, "", "500", "j")), RetryPolicy(attempts=9, budget=60))


def test_the_tally_counts_every_post_and_each_429_also_when_send_gives_up():
    tally = Tally()
    posts, _ = run(scripted(classify(429, "", "1", "j"), classify(503, "", "1", "j")), tally=tally)
    assert posts == tally.posts == 3 and tally.throttled == 1
    tally = Tally()
    with pytest.raises(Deferred):
        run(scripted(*[classify(429, "", "50", "j")] * 10), RetryPolicy(budget=120), tally=tally)
    assert tally.posts == tally.throttled == 3
    tally = Tally()
    with pytest.raises(UploadError):
        run(scripted(classify(400, "", None, "j")), tally=tally)
    assert (tally.posts, tally.throttled) == (1, 0)


def test_waiting_out_a_transient_error_then_raising_the_last():
    calls: list[int] = []
    waited: list[float] = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "written"

    assert waiting_out(flaky, (ConnectionError,), [0.5, 1], sleep=waited.append) == "written"
    assert waited == [0.5, 1]
    calls.clear()
    with pytest.raises(ConnectionError):
        waiting_out(flaky, (ConnectionError,), [0.5], sleep=waited.append)
