"""What every stage shares: settings, the connector schemas and delimiters, the ledger and
Storage clients, the chunk message (the contract between intake and delivery), errors and
telemetry. Imports nothing from the stages above it, so any stage can import it."""
