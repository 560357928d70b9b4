"""R-PRESERVE: reads of a senior investigator's own search preserved for a case: each read's row with
its corrections applied (R-CORRECT) and its images copied into the evidence bucket under a legal hold,
with a manifest (who, when, why, the case, the source search, a SHA-256 of every file); listed by case;
released (the holds taken off: the copies then expire by the evidence bucket's rule for released
preservations; `domain/preservations.py` says why R-RET-367 never reaches them meanwhile).

A preservation is visible to senior investigators of the LEA that made it (and NATIONAL ones); to
anyone else it does not exist (404)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from nas.adapters.corrections import CorrectionStore
from nas.adapters.evidence import EvidenceStore, Held
from nas.adapters.images import ImageStore
from nas.adapters.preservations import AlreadyReleased, PreservationStore
from nas.adapters.stored_reads import ReadStore
from nas.domain.corrections import Correction, read_key
from nas.domain.errors import Conflict, InvalidInput, NotFound
from nas.domain.layout import ReadRef
from nas.domain.leas import NATIONAL
from nas.domain.packing import ImageRef
from nas.domain.preservations import (
    FileKind,
    Preservation,
    PreservedFile,
    PreservedRead,
    SourceSearch,
    manifest_key,
    object_key,
    read_document,
    require_request,
    sha256_hex,
)
from nas.domain.roles import Principal
from nas.domain.stored import StoredRow
from nas.services.reads import OwnSearchReads


class PreservationNotFound(NotFound):
    """No such preservation, or one of another LEA (never told apart)."""


def _json_bytes(document: dict[str, object]) -> bytes:
    return json.dumps(document, sort_keys=True, indent=2).encode() + b"\n"


class PreservationService:
    def __init__(
        self,
        *,
        own: OwnSearchReads,
        reads: ReadStore,
        images: ImageStore,
        corrections: CorrectionStore,
        evidence: EvidenceStore,
        store: PreservationStore,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._own = own
        self._reads = reads
        self._images = images
        self._corrections = corrections
        self._evidence = evidence
        self._store = store
        self._clock = clock
        self._new_id = new_id

    def preserve(
        self, principal: Principal, *, search_id: str, read_ids: list[str], case_ref: str, reason: str
    ) -> Preservation:
        require_request(read_ids, case_ref, reason)
        record, refs = self._own.refs(principal, search_id)
        missing = [r for r in read_ids if r not in refs]
        if missing:  # 404, as a read view of it would be: what another search holds is not disclosed
            raise NotFound(missing[0])
        wanted = [refs[r] for r in read_ids]
        rows = self._reads.get_many(wanted)
        gone = [ref.read_id for ref in wanted if (ref.camera_id, ref.read_id) not in rows]
        if gone:
            raise InvalidInput("read_ids", f"{len(gone)} read(s) are no longer stored, e.g. {gone[0][:64]}")
        keys = [read_key(ref.camera_id, ref.read_id) for ref in wanted]
        current = self._corrections.current(keys)
        preservation_id = self._new_id()
        now = self._clock()
        objects: list[Held] = []
        planned: list[tuple[int, ReadRef, StoredRow, list[tuple[FileKind, str, bytes]]]] = []
        image_refs: list[ImageRef] = []
        for n, ref in enumerate(wanted, start=1):
            row = rows[(ref.camera_id, ref.read_id)]
            key = read_key(ref.camera_id, ref.read_id)
            history: list[Correction] = self._corrections.history(key) if key in current else []
            document = _json_bytes(read_document(row, current.get(key), history))
            planned.append(
                (n, ref, row, [(FileKind.READ, object_key(preservation_id, n, FileKind.READ), document)])
            )
            image_refs += [img for img in (row.plate, row.overview) if img is not None]
        images = dict(zip(image_refs, self._images.get_many(image_refs), strict=True))
        for n, _, row, files in planned:
            for kind, image in ((FileKind.PLATE, row.plate), (FileKind.OVERVIEW, row.overview)):
                body = images.get(image) if image is not None else None
                if body is not None:
                    files.append((kind, object_key(preservation_id, n, kind), body))
            objects += [(key, body, _content_type(kind)) for kind, key, body in files]
        versions = dict(zip([o[0] for o in objects], self._evidence.put_many_held(objects), strict=True))
        preserved = tuple(
            PreservedRead(
                n=n,
                read_id=row.read_id,
                camera_id=row.camera_id,
                vrm=current[k].vrm if (k := read_key(row.camera_id, row.read_id)) in current else row.vrm,
                original_vrm=row.vrm,
                captured_at=row.captured_at,
                files=tuple(
                    PreservedFile(kind, key, sha256_hex(body), len(body), versions.get(key))
                    for kind, key, body in files
                ),
            )
            for n, _, row, files in planned
        )
        preservation = Preservation(
            preservation_id=preservation_id,
            case_ref=case_ref,
            reason=reason.strip(),
            created_by=principal.user,
            created_lea=principal.lea,
            created_at=now,
            search=SourceSearch(
                record.search_id, record.why.purpose.value, record.why.reason, record.why.case_ref
            ),
            reads=preserved,
        )
        manifest = _json_bytes(preservation.manifest())
        self._evidence.put_held(manifest_key(preservation_id), manifest, "application/json")
        stored = replace(preservation, manifest_sha256=sha256_hex(manifest))
        self._store.put(stored)
        return stored

    def get(self, principal: Principal, preservation_id: str) -> Preservation:
        """The manifest as recorded, each read with the VRM it shows now (R-CORRECT: a correction
        made after the copy was preserved shows here; the locked copy is not rewritten)."""
        found = self._store.get(preservation_id)
        if found is None or not _visible(principal, found):
            raise PreservationNotFound(preservation_id)
        current = self._corrections.current([read_key(r.camera_id, r.read_id) for r in found.reads])
        return replace(
            found,
            reads=tuple(
                replace(
                    r, current_vrm=c.vrm if (c := current.get(read_key(r.camera_id, r.read_id))) else r.vrm
                )
                for r in found.reads
            ),
        )

    def by_case(self, principal: Principal, case_ref: str) -> list[Preservation]:
        return [p for p in self._store.by_case(case_ref) if _visible(principal, p)]

    def release(self, principal: Principal, preservation_id: str, reason: str) -> Preservation:
        """Takes the legal hold off every copy and the manifest, tags them released, and records who,
        when and why. A second release is a 409."""
        found = self.get(principal, preservation_id)
        if len(reason.strip()) < 10:
            raise InvalidInput("reason", "must be at least 10 characters")
        if found.released:
            raise Conflict("this preservation was released already")
        for read in found.reads:
            for file in read.files:
                self._evidence.release(file.key)
        self._evidence.release(manifest_key(preservation_id))
        now = self._clock()
        try:
            self._store.release(preservation_id, at=now, by=principal.user, reason=reason.strip())
        except AlreadyReleased:
            raise Conflict("this preservation was released already") from None
        return replace(found, released_at=now, released_by=principal.user, release_reason=reason.strip())


def _visible(principal: Principal, preservation: Preservation) -> bool:
    return principal.lea in (NATIONAL, preservation.created_lea)


def _content_type(kind: FileKind) -> str:
    return "application/json" if kind is FileKind.READ else "image/jpeg"
