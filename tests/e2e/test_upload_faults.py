"""The queue stage against the local stack with injected faults: every error class, the
concurrency cap, redelivery, the kill window, poison and replay.

The uploader runs in this process (real SDK clients against Azurite and the emulator), fed
from a queue of its own, so each test decides the dequeue counts and the timing instead of
waiting for the host's visibility timeouts. Retry delays are shrunk by settings.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devstack.generate import GenerateOptions, generate
from shared.common import ledger as states
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage
from shared.common.settings import Connector, Settings
from shared.delivery.entra import TokenProvider
from shared.delivery.gate import Slots, TablePacer
from shared.delivery.replay import replay
from shared.delivery.retry import RetryPolicy
from shared.delivery.vault import SecretCache
from tests.e2e.upload_bench import Bench

pytestmark = pytest.mark.e2e

CHUNK_ROWS = 700


def feed(bench: Bench, messages: list[ChunkMessage]) -> None:
    for m in messages:
        bench.queue.send_message(m.encode())


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_and_every_row_arrives_once(stack, bench, tmp_path, status):
    stack.set_faults(error_rate=0.5, error_status=status, retry_after_seconds=1, seed=status)
    before = bench.job_stats()
    rid, messages = bench.plan(tmp_path, 2800)
    feed(bench, messages)
    bench.drain(bench.uploader())
    after = bench.job_stats()

    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.records_saved == 2800
    assert after["rows"] - before["rows"] == 2800
    assert after["duplicate_rows"] == before["duplicate_rows"]
    assert after["rejected"] > before["rejected"]  # faults were really injected


def test_throttling_honours_retry_after_and_slows_the_whole_job(stack, bench, tmp_path):
    stack.set_faults(throttle_rate=0.4, retry_after_seconds=1, seed=3)
    before = bench.job_stats()
    rid, messages = bench.plan(tmp_path, 2100)
    feed(bench, messages)
    bench.drain(bench.uploader())

    assert bench.ledger.get_run(rid).status == states.COMPLETE
    after = bench.job_stats()
    assert after["rows"] - before["rows"] == 2100 and after["duplicate_rows"] == before["duplicate_rows"]
    pace = bench.ledger.table.get_entity(f"slots-{bench.job}", "pace")  # the job-wide slow-down was recorded
    assert pace["until"] is not None
    assert TablePacer(bench.ledger.table, bench.job).paused_for() <= 1.0


@pytest.mark.parametrize(
    ("status", "hint", "api_says"),
    [
        (400, "column mapping", "do not match the connector mapping"),  # the reply's allow-listed words
        (403, "not allowed to post to this job", "not authorized for this connector"),
    ],
)
def test_client_errors_are_final_at_once_with_the_api_reason(stack, bench, tmp_path, status, hint, api_says):
    stack.set_faults(error_rate=1, error_status=status)
    before = bench.job_stats()
    rid, messages = bench.plan(tmp_path, 700)
    assert bench.uploader().handle(messages[0], 1) == states.FAILED
    assert bench.job_stats()["requests"] - before["requests"] == 1  # not retried

    chunk = bench.ledger.get_chunk(rid, 0)
    assert chunk.state == states.FAILED and chunk.last_status == status
    assert not chunk.poisoned and chunk.attempts == 1  # final at once: nothing for the poison queue
    assert hint in chunk.last_error and api_says in chunk.last_error
    assert bench.ledger.get_run(rid).status == states.FAILED_RUN


def test_unknown_job_id_says_to_check_the_connector(bench, tmp_path):
    rid, messages = bench.plan(tmp_path, 700)
    wrong = {"generic": Connector("generic", "healthcare", str(uuid.uuid4()), CHUNK_ROWS)}
    assert bench.uploader(connectors=wrong).handle(messages[0], 1) == states.FAILED
    error = bench.ledger.get_chunk(rid, 0).last_error
    assert "unknown; check the connector's job id" in error and "No connector job with id" in error


def test_timeout_is_never_counted_as_success(stack, bench, tmp_path):
    rid, messages = bench.plan(tmp_path, 700)
    stack.set_faults(latency_seconds=2)
    impatient = bench.uploader(
        timeout=(5.0, 0.3), policy=RetryPolicy(attempts=2, base=0.01, cap=0.01, budget=5)
    )
    with pytest.raises(Exception, match="timed out"):
        impatient.handle(messages[0], 1)
    chunk = bench.ledger.get_chunk(rid, 0)
    assert chunk.state == states.PENDING and "timed out" in chunk.last_error

    stack.set_faults(latency_seconds=0)
    assert bench.uploader().handle(messages[0], 2) == states.UPLOADED
    # The request we gave up on is still held by the emulator and will be counted when its
    # delay ends: let it land here, not in the next test's row counts (a busy machine shows it).
    deadline = time.monotonic() + 30
    while bench.job_stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_401_refreshes_the_token_once(bench, tmp_path):
    class StaleFirst:
        """The provider's first answer is a token the API no longer accepts."""

        def __init__(self, real):
            self.real, self.stale = real, True

        def token(self):
            return "eyJ.stale.token" if self.stale else self.real.token()

        def invalidate(self):
            self.stale = False
            self.real.invalidate()

    rid, messages = bench.plan(tmp_path, 700)
    assert bench.uploader(tokens=StaleFirst(bench.tokens)).handle(messages[0], 1) == states.UPLOADED
    assert bench.ledger.get_chunk(rid, 0).attempts == 2


def test_redelivered_message_for_an_uploaded_chunk_is_skipped(bench, tmp_path):
    _, messages = bench.plan(tmp_path, 1400)
    up = bench.uploader()
    assert up.handle(messages[0], 1) == states.UPLOADED
    before = bench.job_stats()["requests"]
    assert up.handle(messages[0], 2) == states.UPLOADED
    assert bench.job_stats()["requests"] == before


def test_kill_between_post_and_ledger_write_repeats_only_that_chunk(bench, tmp_path):
    """The one documented window: the API accepted, the worker died before recording it."""

    class DiesAfterPost(Ledger):
        died = False

        def update_chunk(self, before, after):
            if after.state == states.UPLOADED and not DiesAfterPost.died:
                DiesAfterPost.died = True
                raise SystemExit("worker killed")
            return super().update_chunk(before, after)

    before = bench.job_stats()
    rid, messages = bench.plan(tmp_path, 2100)
    dying = bench.uploader(ledger=DiesAfterPost(bench.ledger.table))
    with pytest.raises(SystemExit):
        dying.handle(messages[1], 1)
    assert bench.ledger.get_chunk(rid, 1).state == states.PENDING

    feed(bench, messages)  # the queue redelivers chunk 1; 0 and 2 go as usual
    bench.drain(bench.uploader())
    after = bench.job_stats()
    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.records_saved == 2100
    repeated = bench.ledger.get_chunk(rid, 1).rows
    assert after["rows"] - before["rows"] == 2100 + repeated
    assert after["duplicate_rows"] - before["duplicate_rows"] == repeated


def test_last_attempt_marks_the_chunk_failed_then_replay_finishes_the_run(stack, bench, tmp_path):
    stack.set_faults(error_rate=1, error_status=500)
    rid, messages = bench.plan(tmp_path, 1400)
    up = bench.uploader(policy=RetryPolicy(attempts=1, base=0.01, cap=0.01, budget=1))
    for count in range(1, 6):
        with pytest.raises(Exception, match="HTTP 500"):
            up.handle(messages[1], count)
        expected = states.FAILED if count == 5 else states.PENDING
        assert bench.ledger.get_chunk(rid, 1).state == expected
    failed = bench.ledger.get_chunk(rid, 1)
    assert "HTTP 500" in failed.last_error
    assert failed.poisoned and failed.attempts == 5  # the last delivery's message goes to the poison queue

    stack.set_faults(error_rate=0)
    assert up.handle(messages[0], 1) == states.UPLOADED
    run = bench.ledger.get_run(rid)
    assert run.status == states.FAILED_RUN and run.records_saved == 700

    # the poisoned copy, as the host leaves it; replay re-queues the chunk and removes it
    poison = bench.stack.admin_client(
        QueueClient,
        bench.queue.queue_name + "-poison",
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )
    poison.create_queue()
    poison.send_message(messages[1].encode())
    result = replay(bench.ledger, bench.queue, bench.ledger.get_run(rid), poison=poison)
    assert result.requeued == [1] and result.poison_removed == 1
    assert bench.ledger.get_run(rid).status == states.UPLOADING
    bench.drain(bench.uploader())
    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.records_saved == 1400
    assert replay(bench.ledger, bench.queue, run).requeued == []  # nothing left to replay
    poison.delete_queue()


def test_concurrent_uploads_per_job_stay_under_the_cap(stack, bench, tmp_path):
    cap = 2
    stack.set_faults(latency_seconds=0.4)
    deadline = time.monotonic() + 30
    while bench.job_stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.2)  # requests an earlier test gave up on may still be held by the emulator
    stack.reset_peaks()
    before = bench.job_stats()
    rid, messages = bench.plan(tmp_path, 4200)  # 6 chunks
    capped = bench.uploader(job_concurrency=cap, slot_wait=0.3)
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda m=m: outcomes.append(capped.handle(m, 1))) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert "deferred" in outcomes  # the cap held some back instead of letting them in
    bench.drain(capped)

    stats = bench.job_stats()
    assert 1 <= stats["peak_in_flight"] <= cap
    assert bench.ledger.get_run(rid).status == states.COMPLETE
    assert stats["rows"] - before["rows"] == 4200
    assert Slots(bench.ledger.table, bench.job, cap, 60).in_use() == 0


def test_token_requested_once_for_many_chunks(stack, bench, tmp_path):
    fresh = TokenProvider(bench.settings, SecretCache(bench.settings))
    tokens_before = stack.emulator_stats()["tokens"]["v2"]
    rid, messages = bench.plan(tmp_path, 2800)
    feed(bench, messages)
    bench.drain(bench.uploader(tokens=fresh))
    assert bench.ledger.get_run(rid).status == states.COMPLETE
    assert stack.emulator_stats()["tokens"]["v2"] - tokens_before == 1


@pytest.mark.parametrize("retention", ["delete", "archive"])
def test_completed_export_is_archived_or_deleted_as_retention_says(bench, tmp_path, retention):
    rid, messages = bench.plan(tmp_path, 700)
    assert bench.uploader(retention=retention).handle(messages[0], 1) == states.UPLOADED
    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.retention == retention
    blob = bench.container.get_blob_client(run.blob)
    if retention == "delete":
        assert not blob.exists()
    else:
        props = blob.get_blob_properties()
        assert props.blob_tier == "Archive" and props.etag == run.etag  # same version, not replanned


def test_a_rotated_secret_is_read_again_from_key_vault(stack, bench, tmp_path):
    """The worker's cached secret stopped working (rotated in Key Vault): one re-read, no failure."""
    secrets = SecretCache(bench.settings)
    secrets._value = "the-secret-before-rotation"
    reads_before = stack.emulator_stats()["keyvault"]["requests"]
    rid, messages = bench.plan(tmp_path, 700)
    up = bench.uploader(tokens=TokenProvider(bench.settings, secrets))
    assert up.handle(messages[0], 1) == states.UPLOADED
    assert stack.emulator_stats()["keyvault"]["requests"] > reads_before
    assert bench.ledger.get_run(rid).status == states.COMPLETE


def test_the_app_can_authenticate_with_a_certificate_from_key_vault(stack, bench, tmp_path):
    """MSAL signs a client assertion with the certificate's key; the emulator checks it."""
    settings = Settings(dict(bench.settings.values, ENTRA_CERTIFICATE_NAME="ingestion-client-certificate"))
    rid, messages = bench.plan(tmp_path, 700)
    up = bench.uploader(tokens=TokenProvider(settings, SecretCache(settings)))
    assert up.handle(messages[0], 1) == states.UPLOADED
    assert bench.ledger.get_run(rid).status == states.COMPLETE


def test_through_the_host_a_throttled_and_flaky_api_still_gets_every_row_once(stack, pipeline, tmp_path):
    """The real path: blob trigger, queue, the host's concurrent workers, slots and slow-down;
    then ``ehr-ingest report --format json`` tells exactly what the emulator injected."""
    from tests.e2e.test_pipeline import wait_for_run
    from tests.ehr_cli.command import report_json

    export = generate(tmp_path / "flaky.csv", GenerateOptions(rows=2800, seed=uuid.uuid4().int % 10**9))
    job = stack.state["jobs"]["generic"]
    before = stack.emulator_stats()
    stack.set_faults(throttle_rate=0.25, error_rate=0.25, error_status=503, retry_after_seconds=1, seed=9)
    try:
        run = wait_for_run(pipeline, blob := pipeline.drop(export.path, "generic"))
    finally:
        stack.set_faults(throttle_rate=0, error_rate=0)
    after = stack.emulator_stats()
    received = after["jobs"][job]["rows"] - before["jobs"][job]["rows"]
    assert run["status"] == states.COMPLETE and run["records_saved"] == 2800
    assert received == 2800
    assert after["jobs"][job]["duplicate_rows"] == before["jobs"][job]["duplicate_rows"]
    throttled = after["ingestion"]["throttled"] - before["ingestion"]["throttled"]
    failed = after["ingestion"]["failed"] - before["ingestion"]["failed"]
    assert throttled and failed  # faults were really injected

    (entry,) = [f for f in report_json(stack)["files"] if f["file_name"] == blob]
    assert (entry["retries"], entry["throttled"]) == (throttled + failed, throttled)
    assert entry["rows_sent"] == entry["records_saved"] == received
    assert entry["chunks_uploaded"] == entry["chunks"] == 4 and entry["outcome"] == "OK"


def test_a_chunk_costs_few_storage_round_trips(bench, tmp_path):
    """Storage round trips are most of a chunk's own cost: the header line is read once per
    export version, a fresh slot lease is not renewed, and the slow-down row comes with the
    slot query instead of a read of its own."""
    from urllib.parse import unquote, urlsplit

    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

    seen: list[tuple[str, str]] = []

    def hook(request) -> None:
        r = request.http_request
        body = r.body if isinstance(r.body, (str, bytes)) and r.method == "POST" else ""
        seen.append((r.method, unquote(urlsplit(r.url).path) + str(body)))  # a new entity: in its body

    blobs = bench.stack.admin_client(BlobServiceClient, raw_request_hook=hook)
    table = bench.stack.admin_client(TableServiceClient, raw_request_hook=hook)
    rid, messages = bench.plan(tmp_path, 2100)
    up = bench.uploader(blobs=blobs, ledger=Ledger(table.get_table_client("ingestledger")), job_concurrency=4)
    for m in messages:
        assert up.handle(m, 1) == states.UPLOADED
    assert bench.ledger.get_run(rid).status == states.COMPLETE
    blob_reads = [p for method, p in seen if method == "GET" and "/ingestledger" not in p]
    slot_writes = [p for method, p in seen if method != "GET" and "slots-" in p]
    assert len(messages) > 1
    assert len(blob_reads) == len(messages) + 1  # the rows of each chunk, the header once
    assert len(slot_writes) == 2 * len(messages)  # take and release, no renewal
    assert not [p for _, p in seen if "'pace'" in p]  # no read of the slow-down row on its own


def test_a_lease_running_short_is_renewed_before_the_post(bench):
    from shared.delivery.gate import renew

    slots = Slots(bench.ledger.table, bench.job, 4, 60)
    slot = slots.try_acquire()
    assert slot is not None
    renewed = renew(slots, slot, 120)  # the next POST may outlast what is left: renew
    assert renewed.etag != slot.etag and renewed.expires_at > slot.expires_at
    assert renew(slots, renewed, 30) is renewed  # enough left: no write
    slots.release(renewed)
    assert slots.in_use() == 0
