"""The queue stage (``upload_chunk``): for each chunk message, read the chunk's byte range,
get a token (Entra app secret or certificate from Key Vault, read with the managed identity)
and POST it to the ingestion API once, with retries, per-job slots and the ledger making
repeats safe. Imports ``shared.common`` only."""
