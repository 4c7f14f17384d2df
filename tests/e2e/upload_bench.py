"""The queue stage run in the test process against the local stack (see test_upload_faults)."""

from __future__ import annotations

import dataclasses
import time
import uuid

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devstack.generate import GenerateOptions, generate
from shared.common import ledger as states
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage
from shared.common.settings import Settings
from shared.delivery.entra import TokenProvider
from shared.delivery.retry import RetryPolicy
from shared.delivery.upload import upload_session
from shared.delivery.vault import SecretCache
from shared.delivery.worker import Uploader
from shared.intake.plan import plan_export

FAST = RetryPolicy(attempts=3, base=0.05, cap=0.2, budget=10)


class Bench:
    def __init__(self, stack, settings: Settings) -> None:
        self.stack = stack
        self.settings = settings
        self.blobs = stack.admin_client(BlobServiceClient)
        self.container = self.blobs.get_container_client(f"faults-{uuid.uuid4().hex[:8]}")
        self.container.create_container()
        from azure.data.tables import TableServiceClient

        table = stack.admin_client(TableServiceClient).create_table_if_not_exists("ingestledger")
        self.ledger = Ledger(table)
        self.queue = stack.admin_client(
            QueueClient,
            f"faults-{uuid.uuid4().hex[:8]}",
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
        self.queue.create_queue()
        self.job = stack.state["jobs"]["generic"]
        self.tokens = TokenProvider(settings, SecretCache(settings))

    def uploader(self, **changes) -> Uploader:
        s = self.settings
        base = Uploader(
            blobs=self.blobs,
            ledger=self.ledger,
            tokens=self.tokens,
            session=upload_session(),
            connectors=s.connectors,
            url=s["INGESTION_URL"],
            timeout=(5.0, 30.0),
            max_dequeue_count=5,
            policy=FAST,
            job_concurrency=0,
            slot_wait=0.2,
            defer_seconds=0.5,
            requeue=lambda text, seconds: self.queue.send_message(text, visibility_timeout=1),
        )
        return dataclasses.replace(base, **changes)

    def plan(self, tmp_path, rows: int, name: str | None = None) -> tuple[str, list[ChunkMessage]]:
        name = name or f"audit-{uuid.uuid4().hex[:6]}.csv"
        export = generate(
            tmp_path / name, GenerateOptions(kind="healthcare", rows=rows, seed=uuid.uuid4().int % 10**9)
        )
        blob = self.container.get_blob_client(f"generic/{name}")
        with export.path.open("rb") as data:
            blob.upload_blob(data)
        outcome = plan_export(blob, self.settings.connectors, self.ledger, self.queue)
        assert outcome.status == states.UPLOADING
        messages = sorted((ChunkMessage.decode(m.content) for m in self.receive()), key=lambda m: m.index)
        assert len(messages) == outcome.chunks
        return outcome.run_id, messages

    def receive(self):
        got = []
        for m in self.queue.receive_messages(max_messages=32, visibility_timeout=60):
            got.append(m)
            self.queue.delete_message(m)
        return got

    def drain(self, uploader: Uploader, timeout: float = 120) -> None:
        """What the host does: run each message, retry on exceptions, poison after 5."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = list(self.queue.receive_messages(max_messages=32, visibility_timeout=60))
            if not batch:
                if self.queue.get_queue_properties().approximate_message_count == 0:
                    return
                time.sleep(0.3)
                continue
            for m in batch:
                try:
                    uploader.handle(ChunkMessage.decode(m.content), m.dequeue_count or 1)
                except Exception:
                    if (m.dequeue_count or 1) < 5:
                        self.queue.update_message(m, visibility_timeout=0)
                        continue
                self.queue.delete_message(m)
        raise AssertionError("queue did not drain")

    def chunk_states(self, rid: str) -> list[str]:
        return [c.state for c in self.ledger.chunks(rid)]

    def job_stats(self) -> dict:
        return self.stack.emulator_stats()["jobs"][self.job]
