"""Adapters: the only modules that talk to AWS (or its local stand-ins). Each sits behind a small
Protocol so the same logic runs in Lambda, in local mode and in tests with in-memory versions."""


class StoreError(RuntimeError):
    """A store refused or failed an operation after its own retries; the record that needed it is
    reported failed so the stream redelivers it."""
