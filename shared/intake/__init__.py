"""The blob stage (``plan_export``): read an export once, as a stream, validate it against its
connector's schema, quarantine what is refused, and fan out one queue message per chunk of
rows. Imports ``shared.common`` only."""
