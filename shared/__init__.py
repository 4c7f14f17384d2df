"""EHR audit-log ingestion for the Microsoft Purview Healthcare and Epic connectors.

Everything the function app does lives here; ``function_app.py`` only declares triggers.
One package per stage, each named for what its trigger does:

- ``intake``: the blob trigger (``plan_export``): validate an export, fan out chunk messages.
- ``delivery``: the queue trigger (``upload_chunk``): upload one chunk exactly once.
- ``reporting``: the timer (``daily_report``) and the HTTP ``status_report``.
- ``common``: what the stages share: settings, schemas, the ledger, Storage, messages,
  telemetry. It imports no stage.

``handlers`` (the function app's composition root) and ``push`` (both stages in one
process, for the command line) sit above the stages and may import any of them. Stages do
not import each other; ``tests/shared/test_layers.py`` holds the rule. Nothing in this
package may import the dev-only ``devstack`` package.
"""
