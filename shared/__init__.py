"""EHR audit-log ingestion for the Microsoft Purview Healthcare and Epic connectors.

Everything the function app does lives here; ``function_app.py`` only declares triggers.
Nothing in this package may import the dev-only ``devstack`` package.
"""
