"""The `ehr-ingest` command line: operator commands and the local stack. Not deployed."""
