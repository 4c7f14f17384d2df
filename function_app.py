"""Azure Functions entry points (Python v2 model). Triggers only: all logic is in shared/."""

from __future__ import annotations

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared import handlers
from shared.common.settings import STORAGE_CONNECTION

app = func.FunctionApp()


@app.function_name("plan_export")
@app.blob_trigger(
    arg_name="client",
    path="%EXPORTS_CONTAINER%/{name}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource.EVENT_GRID,
)
def plan_export(client: blob.BlobClient) -> None:
    """Validate a dropped export and fan out one queue message per chunk."""
    handlers.on_export(client)


@app.function_name("upload_chunk")
@app.queue_trigger(arg_name="msg", queue_name="%CHUNK_QUEUE%", connection=STORAGE_CONNECTION)
def upload_chunk(msg: func.QueueMessage) -> None:
    """Upload one chunk to the ingestion API; raising hands the message back to the queue."""
    handlers.on_chunk(msg.get_body(), msg.dequeue_count or 1)


@app.function_name("daily_report")
@app.timer_trigger(arg_name="timer", schedule="%REPORT_SCHEDULE%", run_on_startup=False)
def daily_report(timer: func.TimerRequest) -> None:
    """Write the status report into the reports container."""
    handlers.on_report(past_due=timer.past_due)


@app.function_name("status_report")
@app.route(route="report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status_report(req: func.HttpRequest) -> func.HttpResponse:
    """The latest status report as JSON, HTML or CSV (?format=...); ?fresh=true builds one now."""
    status, headers, body = handlers.on_report_request(req.params)
    return func.HttpResponse(body, status_code=status, headers=headers)
