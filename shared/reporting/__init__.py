"""The report stage (``daily_report`` timer, ``status_report`` HTTP): what ran, what was
saved and what failed, from the ledger, as JSON, HTML, CSV and text. Imports
``shared.common`` only."""
