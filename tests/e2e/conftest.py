"""One local stack (Azurite + cloud emulator + function host) shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from devstack.demo import Pipeline
from devstack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), chunk_rows=700).up()
    yield s
    s.down()


@pytest.fixture(scope="session")
def pipeline(stack):
    return Pipeline(stack)


# the queue stage run in the test process (tests/e2e/upload_bench.py)
@pytest.fixture(scope="session")
def env(stack):
    """The app's identity settings in this process (the emulator's managed identity and CA)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE"):
            mp.setenv(key, stack.settings[key])
        from shared.common.settings import Settings

        yield Settings(stack.settings)


@pytest.fixture
def bench(stack, env):
    from tests.e2e.upload_bench import Bench

    b = Bench(stack, env)
    yield b
    stack.set_faults(
        latency_seconds=0, throttle_rate=0, error_rate=0, error_status=503, retry_after_seconds=1
    )
    b.queue.delete_queue()
    b.container.delete_container()


# a second stack for the PHI and hostile-input tests: DEBUG host log, fast retries and
# a small maxDequeueCount (the local host honours AzureFunctionsJobHost__ overrides, as Azure does)
STRICT_SETTINGS = {
    "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "2",
    "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:00",
    "UPLOAD_ATTEMPTS_PER_INVOCATION": "2",
    "UPLOAD_BACKOFF_SECONDS": "0.05",
    "UPLOAD_BACKOFF_MAX_SECONDS": "0.2",
    # The PHI tests search the host's DEBUG log: the Azure SDK's records too (WARNING by default).
    "AZURE_SDK_LOG_LEVEL": "DEBUG",
}


@pytest.fixture(scope="session")
def strict_stack(tmp_path_factory):
    s = Stack(
        tmp_path_factory.mktemp("strict"), chunk_rows=300, verbose=True, extra_settings=STRICT_SETTINGS
    ).up()
    yield s
    s.down()


@pytest.fixture(scope="session")
def strict_pipeline(strict_stack):
    return Pipeline(strict_stack)
