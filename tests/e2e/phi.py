"""Exports whose every patient and employee value is a unique marker, and every place the
pipeline writes to, gathered as text, so a test can search all of it for any marker."""

from __future__ import annotations

import base64
import binascii
import csv
import itertools
import json
from pathlib import Path

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from devstack.generate import GenerateOptions, GenerateResult, generate
from devstack.profiles import ProfileOptions, generate_profiles
from shared.common.schema import EMPLOYEE_KEYS, PATIENT_KEYS, schema_for
from shared.intake.quarantine import REPORT_SUFFIX

MARKER = "ZphiQ"
"""Every marker starts with this; searching for it finds any marker, whole or cut short."""

_serial = itertools.count()


def marked(path: Path, options: GenerateOptions) -> GenerateResult:
    """``generate``, then every non-empty patient and employee value replaced by a unique marker.

    Empty values stay empty, so the generator's bad rows stay bad for the same reason.
    """
    result = generate(path, options)
    schema = schema_for(options.kind)
    personal = [i for i, f in enumerate(schema.fields) if f.key in PATIENT_KEYS | EMPLOYEE_KEYS]
    tmp = path.with_name(path.name + ".tmp")
    with (
        path.open(encoding="utf-8-sig", newline="") as src,
        tmp.open("w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.reader(src, delimiter=result.delimiter)
        writer = csv.writer(out, delimiter=result.delimiter, lineterminator="\n")
        writer.writerow(next(reader))
        for row in reader:
            for i in personal:
                if i < len(row) and row[i]:
                    row[i] = f"{MARKER}{next(_serial):07d}x"
            writer.writerow(row)
    tmp.replace(path)
    result.bytes = path.stat().st_size
    return result


def marked_profiles(path: Path, options: ProfileOptions) -> GenerateResult:
    """``generate_profiles``, then every non-empty employee value replaced by a unique marker."""
    result = generate_profiles(path, options)
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[0])
        for row in rows[1:]:
            # Every column but the scenario (HRScenario) holds the employee's values.
            writer.writerow(
                [
                    f"{MARKER}{next(_serial):07d}x" if v and c != "HRScenario" else v
                    for c, v in zip(rows[0], row, strict=True)
                ]
            )
    return result


def _decoded(text: str) -> str:
    """A queue message as stored and, when it is base64, as the app reads it."""
    try:
        return text + "\n" + base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


def storage_texts(stack) -> dict[str, str]:
    """Every queue message (poison queues too, peeked), table entity and blob the app wrote.

    Blobs of the exports container and the quarantined exports themselves (the hospital's own
    files) are left out; their reports are in.
    """
    texts: dict[str, str] = {}
    queues = stack.admin_client(QueueServiceClient)
    for q in queues.list_queues():
        client = queues.get_queue_client(q.name)
        for m in client.peek_messages(max_messages=32):
            texts[f"queue {q.name} {m.id}"] = _decoded(m.content)
    tables = stack.admin_client(TableServiceClient)
    for t in tables.list_tables():
        for e in tables.get_table_client(t.name).list_entities():
            texts[f"table {t.name} {e['PartitionKey']}/{e['RowKey']}"] = json.dumps(dict(e), default=str)
    blobs = stack.admin_client(BlobServiceClient)
    for c in blobs.list_containers():
        if c.name == "exports":
            continue
        container = blobs.get_container_client(c.name)
        for b in container.list_blobs():
            if c.name == "quarantine" and not b.name.endswith(REPORT_SUFFIX):
                continue
            data = container.download_blob(b.name).readall()
            texts[f"blob {c.name}/{b.name}"] = data.decode("utf-8", "replace")
    return texts


def leaks(texts: dict[str, str], needles: list[str]) -> list[str]:
    """Where any needle occurs (case-insensitive), as "<place>: <needle>"; never the context."""
    found = []
    for place, text in texts.items():
        low = text.lower()
        found += [f"{place}: needle {i}" for i, n in enumerate(needles) if n and n.lower() in low]
    return found
