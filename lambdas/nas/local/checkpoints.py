"""Where local mode's pollers are in each shard, kept on disk so that `nas local --reuse` resumes a
crashed run where it stopped (an event source mapping keeps its position the same way).

A stream position is saved only once the work behind it is done; for the archive consumer that
includes the rows it sent, so the rows' write-ahead journal holds archive's positions itself
(`sink.RowJournal`) and both are written in one append. Match's positions are small files written
whole and renamed into place, so a crash leaves the old position or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Protocol

STREAM_FILE = "stream.json"


class StreamPositions(Protocol):
    """A consumer's positions in the shards of one stream."""

    def position(self, shard_id: str) -> str | None:
        """The last sequence number handled in `shard_id`, or None (never read there)."""
        ...

    def commit(self, shard_id: str, sequence_number: str) -> None:
        """Everything up to `sequence_number` is done: make it the position, with whatever the
        calling thread's batch staged."""
        ...

    def rollback(self) -> None:
        """The calling thread's batch failed: forget what it staged."""
        ...


def write_atomically(path: Path, data: bytes) -> None:
    """Written beside `path` and renamed over it: readers see the old content or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class FilePositions:
    """One small file per shard under `directory`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._directory.mkdir(parents=True, exist_ok=True)

    def position(self, shard_id: str) -> str | None:
        path = self._directory / shard_id
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return text if text.isdigit() else None

    def commit(self, shard_id: str, sequence_number: str) -> None:
        write_atomically(self._directory / shard_id, sequence_number.encode("ascii"))

    def rollback(self) -> None:
        return None


class LocalState:
    """The directory holding a local run's positions and journal, tied to one stream: state left by
    a run on another stream (a fresh moto server has the same stream name) is never applied."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def stream_identity(self) -> dict[str, Any] | None:
        try:
            identity: dict[str, Any] = json.loads((self.directory / STREAM_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return identity

    def belongs_to(self, identity: dict[str, Any]) -> bool:
        return self.stream_identity() == identity

    def reset(self, identity: dict[str, Any]) -> None:
        """Empties the directory and ties it to `identity` (a fresh stream: nothing to resume)."""
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        write_atomically(self.directory / STREAM_FILE, json.dumps(identity, sort_keys=True).encode())

    def positions(self, consumer: str) -> FilePositions:
        return FilePositions(self.directory / "positions" / consumer)

    @property
    def journal_dir(self) -> Path:
        return self.directory / "journal"

    @property
    def moto_pid_file(self) -> Path:
        return self.directory / "moto.pid"
