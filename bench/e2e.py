"""End to end: 1M rows through the local stack vs the sample script's sequential algorithm.

The emulated ingestion API adds a fixed latency per request (1 s by default), standing in
for the real API's round trip. Both runs post the same file to the same emulator; the
emulator's own counters confirm every row arrived once.

    .venv/bin/python -m bench.e2e [--rows 1000000] [--latency 1] [--concurrency 1 2 4 8 16 32]
                                  [--threads stack default 24 32]

Every invocation goes through Microsoft's Python worker, whose thread pool
(``PYTHON_THREADPOOL_THREAD_COUNT``; unset: Python's ``min(32, cores + 4)``) runs the sync
``upload_chunk``: ``--threads`` sets it per run, so a curve shows the pool's cap as well as
host.json's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import requests

from bench import common, sample_script
from devstack.demo import Pipeline
from devstack.emulator.config import EmulatorConfig
from devstack.generate import GenerateOptions, generate
from devstack.stack import Stack


def reset(stack: Stack) -> None:
    url = stack.state["emulator"]["url"] + "/_emulator/reset"
    requests.post(url, verify=stack.verify, timeout=10).raise_for_status()


def job_stats(stack: Stack, job: str) -> dict:
    stats = stack.emulator_stats()
    return {"job": stats["jobs"].get(job, {}), "tokens": stats["tokens"], "keyvault": stats["keyvault"]}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process (Linux /proc), 0 if it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return 0.0


def cpu_by_process(stack: Stack) -> dict[str, float]:
    """The product (the function host) and its stand-ins for Azure share this machine's cores."""
    pids = {**stack.state["pids"], "azurite": stack.state.get("azurite", {}).get("pid")}
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid}


def run_ours(
    stack: Stack, export: Path, rows: int, concurrency: int, timeout: float, threads: str = "stack"
) -> dict:
    """Host concurrency = batchSize + newBatchThreshold, set the Azure way: app settings."""
    batch = max(1, concurrency // 2)
    queues = "AzureFunctionsJobHost__extensions__queues__"
    os.environ.update(
        {
            queues + "batchSize": str(batch),
            queues + "newBatchThreshold": str(concurrency - batch),
            queues + "maxPollingInterval": "00:00:00.200",
        }
    )
    # The per-job cap (JOB_MAX_CONCURRENT_UPLOADS, default 8) would flatten the curve: lift it.
    stack.settings["JOB_MAX_CONCURRENT_UPLOADS"] = str(concurrency)
    # Each run drops the same content again under a new name: do not skip it as a duplicate.
    stack.settings["SKIP_DUPLICATE_CONTENT"] = "false"
    if threads == "default":
        stack.settings.pop("PYTHON_THREADPOOL_THREAD_COUNT", None)
    elif threads != "stack":
        stack.settings["PYTHON_THREADPOOL_THREAD_COUNT"] = threads
    stack.start_host()  # a fresh worker process: token and secret caches start cold
    try:
        reset(stack)
        pipeline = Pipeline(stack)
        job = stack.state["jobs"]["generic"]
        # The clock starts when the file is in the container, as the sample script's starts
        # with the file on its disk: the upload into storage is the hospital's, not ours.
        blob = pipeline.drop(export, "generic", name=f"c{concurrency}-t{threads}-{export.name}")
        cpu_before = cpu_by_process(stack)
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            run = next((r for r in pipeline.runs() if r["blob"] == blob), None)
            if run and run["status"] not in ("planning", "uploading"):
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in cpu_by_process(stack).items()}
        stats = job_stats(stack, job)
        return {
            "concurrency": concurrency,
            "threadpool_threads": stack.settings.get("PYTHON_THREADPOOL_THREAD_COUNT", "default"),
            "peak_uploads_in_flight": stats["job"].get("peak_in_flight"),
            "seconds": round(seconds, 2),
            **phases(run),
            "cpu_seconds": cpu,
            "status": run["status"] if run else "timeout",
            "rows_accepted": stats["job"].get("rows", 0),
            "duplicate_rows": stats["job"].get("duplicate_rows", 0),
            "requests": stats["job"].get("requests", 0),
            "token_requests": stats["tokens"].get("v1", 0) + stats["tokens"].get("v2", 0),
            "managed_identity_token_requests": stats["tokens"].get("managed_identity", 0),
            "rows_expected": rows,
        }
    finally:
        stack.stop_host()


def run_push(stack: Stack, export: Path, rows: int, concurrency: int, chunk_rows: int) -> dict:
    """``ehr-ingest push`` of the same file: the same scan and upload engine in one process,
    without queue or host. The clock covers the whole command, from reading the file on disk."""
    from ehr_cli.main import main as cli

    reset(stack)
    s = stack.settings
    job = stack.state["jobs"]["generic"]
    os.environ["KEY_VAULT_VERIFY_CHALLENGE_RESOURCE"] = "false"  # the emulated vault is on 127.0.0.1
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE"):
        os.environ[key] = s[key]  # the emulator's managed identity: the secret is read from its vault
    with tempfile.TemporaryDirectory(prefix="bench-push-") as state:
        argv = [
            "push", "--tenant-id", s["ENTRA_TENANT_ID"], "--app-id", s["ENTRA_CLIENT_ID"],
            "--key-vault-url", s["KEY_VAULT_URL"], "--job-id", job, "--file", str(export),
            "--authority-host", s["ENTRA_AUTHORITY_HOST"], "--ingestion-url", s["INGESTION_URL"],
            "--ca-bundle", s["REQUESTS_CA_BUNDLE"], "--chunk-rows", str(chunk_rows),
            "--concurrency", str(concurrency), "--state-dir", state,
        ]  # fmt: skip
        started = time.monotonic()
        code = cli(argv)
        seconds = time.monotonic() - started
    stats = job_stats(stack, job)
    return {
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "exit_code": code,
        "rows_accepted": stats["job"].get("rows", 0),
        "duplicate_rows": stats["job"].get("duplicate_rows", 0),
        "requests": stats["job"].get("requests", 0),
        "rows_expected": rows,
    }


def phases(run: dict | None) -> dict:
    """Where the time went, from the ledger: validating and planning, then the uploads."""
    if not run or not run.get("completed_at"):
        return {}
    received, planned, done = (run[k].timestamp() for k in ("received_at", "planned_at", "completed_at"))
    return {"plan_seconds": round(planned - received, 2), "upload_seconds": round(done - planned, 2)}


def run_sample(stack: Stack, export: Path, rows: int, records_per_call: int) -> dict:
    reset(stack)
    config = EmulatorConfig.load(stack.work / "emulator-config.json")
    job = stack.state["jobs"]["generic"]
    url = stack.state["emulator"]["url"]
    result = sample_script.run(
        export,
        authority=url,
        tenant=config.tenant_id,
        app_id=config.client_id,
        secret=config.client_secret,
        job_id=job,
        ingestion_url=url + "/api/signals",
        verify=stack.verify,
        records_per_call=records_per_call,
    )
    stats = job_stats(stack, job)
    return {
        "seconds": round(result.seconds, 2),
        "calls": result.calls,
        "rows_accepted": stats["job"].get("rows", 0),
        "duplicate_rows": stats["job"].get("duplicate_rows", 0),
        "token_requests": stats["tokens"].get("v1", 0) + stats["tokens"].get("v2", 0),
        "errors": result.errors[:5],
        "rows_expected": rows,
    }


def chart(results: dict, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:  # bench/requirements.txt: not part of ./dev setup
        print(f"no chart ({path.name}): matplotlib is not installed (pip install -r bench/requirements.txt)")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = results["ours"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([c["concurrency"] for c in curve], [c["seconds"] for c in curve], "o-", label="this pipeline")
    ax.axhline(
        results["sample_script"]["seconds"], color="tab:red", ls="--", label="sample script (sequential)"
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent uploads")
    ax.set_ylabel(f"seconds for {results['rows']:,} rows")
    ax.set_title(f"End to end, {results['latency_seconds']} s API latency per request")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--latency", type=float, default=1.0, help="seconds the emulated API adds per request"
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=5000, help="rows per chunk (the sample script's 5000)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument(
        "--threads",
        nargs="+",
        default=["stack"],
        help="PYTHON_THREADPOOL_THREAD_COUNT per run: 'stack' (as the local stack and infra/ set it), "
        "'default' (unset: the worker's default) or a number",
    )
    parser.add_argument("--skip-sample", action="store_true", help="do not run the sequential baseline")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="take the sample script's run from this earlier result (same --rows and --latency)",
    )
    parser.add_argument("--push", action="store_true", help="also time `ehr-ingest push` at each concurrency")
    parser.add_argument("--name", default="e2e")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        export = work / "audit-bench.csv"
        generated = generate(export, GenerateOptions(rows=args.rows, seed=3))
        print(f"generated {generated.rows:,} rows, {generated.bytes / 1e6:.0f} MB")
        stack = Stack(work / "stack", chunk_rows=args.chunk_rows).up(host=False)
        try:
            stack.set_faults(latency_seconds=args.latency)
            results = _runs(stack, export, args, parser)
        finally:
            stack.down()
    common.write(args.name, results)
    if "sample_script" in results:
        chart(results, common.RESULTS / f"{args.name}.png")
    return 0


def _runs(stack: Stack, export: Path, args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """The sample script's run (or an earlier one), ours at each concurrency, push if asked."""
    results: dict = {
        "python_loop_seconds_at_start": common.python_loop_seconds(),
        "rows": args.rows,
        "latency_seconds": args.latency,
        "chunk_rows": args.chunk_rows,
    }
    if args.baseline:
        earlier = json.loads(args.baseline.read_text())
        if (earlier["rows"], earlier["latency_seconds"]) != (args.rows, args.latency):
            parser.error("--baseline was measured with other --rows or --latency")
        results["sample_script"] = {**earlier["sample_script"], "from": str(args.baseline)}
    elif not args.skip_sample:
        print("sample-script algorithm (sequential) ...", flush=True)
        results["sample_script"] = run_sample(stack, export, args.rows, args.chunk_rows)
        print(f"  {results['sample_script']}")
    results["ours"] = []
    for threads in args.threads:
        for n in args.concurrency:
            print(f"this pipeline, {n} concurrent uploads, {threads} threads ...", flush=True)
            results["ours"].append(run_ours(stack, export, args.rows, n, 3600, threads))
            print(f"  {results['ours'][-1]}")
    if args.push:
        results["push"] = []
        for n in args.concurrency:
            print(f"ehr-ingest push, {n} concurrent uploads ...", flush=True)
            results["push"].append(run_push(stack, export, args.rows, n, args.chunk_rows))
            print(f"  {results['push'][-1]}")
    if "sample_script" in results:
        base = results["sample_script"]["seconds"]
        for r in [*results["ours"], *results.get("push", [])]:
            r["speedup"] = round(base / r["seconds"], 1)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
