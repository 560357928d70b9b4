"""R-SAR erasure, as pure rules: which stored rows are the VRM's (by effective VRM: R-CORRECT), which
partitions can hold them, and what an erasure reports.

A row is the VRM's when its read shows the VRM now: stored as the VRM and not corrected away, or
corrected to it. Rows the VRM was misread onto and then corrected away are another vehicle's and stay.
Images are removed by overwriting their bytes in the pack with zeros rather than by re-packing: every
other read of the pack keeps its key, offset and length, so no other row is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from nas.domain.corrections import Correction
from nas.domain.layout import Partition, vrm_bucket
from nas.domain.vrm import canonical_vrm

ReadKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ErasureScope:
    vrm: str
    corrected_to: dict[ReadKey, Partition] = field(default_factory=dict)
    """Reads corrected to the VRM, with the partition each is stored in."""
    corrected_away: frozenset[ReadKey] = frozenset()
    """Reads stored as the VRM that now show another."""
    withheld: frozenset[ReadKey] = frozenset()
    """Reads of the VRM the DPO keeps under an exemption (an erasure granted in part)."""

    @property
    def live_bucket(self) -> int:
        """The live bucket the VRM's reads are stored in (late: it modulo 8)."""
        return vrm_bucket(canonical_vrm(self.vrm))

    def holds(self, camera_id: str, read_id: str, stored_vrm: str) -> bool:
        key = (camera_id, read_id)
        if key in self.withheld:
            return False
        if key in self.corrected_to:
            return True
        if key in self.corrected_away:
            return False
        return stored_vrm == self.vrm

    @classmethod
    def of(cls, vrm: str, current: list[Correction], withheld: Iterable[ReadKey] = ()) -> ErasureScope:
        """From the current corrections that concern the VRM (shown as it, or stored as it), less the
        reads withheld."""
        to = {(c.camera_id, c.read_id): c.ref.partition for c in current if c.vrm == vrm and c.changes_vrm}
        away = frozenset((c.camera_id, c.read_id) for c in current if c.stored_vrm == vrm and c.vrm != vrm)
        return cls(vrm, to, away, frozenset(withheld))


@dataclass(slots=True)
class ErasureCounts:
    files_rewritten: int = 0
    rows_removed: int = 0
    rows_kept_in_rewritten_files: int = 0
    images_removed: int = 0
    packs_rewritten: int = 0
    old_versions_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "files_rewritten": self.files_rewritten,
            "rows_removed": self.rows_removed,
            "rows_kept_in_rewritten_files": self.rows_kept_in_rewritten_files,
            "images_removed": self.images_removed,
            "packs_rewritten": self.packs_rewritten,
            "old_versions_deleted": self.old_versions_deleted,
        }


def blanked(pack: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """The pack with each (offset, length) range overwritten by zeros; its size and every other
    image's bytes unchanged."""
    body = bytearray(pack)
    for offset, length in ranges:
        if offset < 0 or offset + length > len(body):
            raise ValueError("image reference lies outside the pack")
        body[offset : offset + length] = bytes(length)
    return bytes(body)


class ErasureState(StrEnum):
    """Where a granted erasure is, in the request's outcome (`erasure_state`): queued for the erasure
    function (AWS), carried out, or failed on its last attempt (its message is then in the dead-letter
    queue, and a redrive carries it out)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


ERASURE_STATE = "erasure_state"
