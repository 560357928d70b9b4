"""Bulk list imports (R-VOI-BULK, R-WHITE): request, load, replace atomically.

1. `request` (POST /voi/imports): an import record awaiting its upload, and a presigned PUT.
2. `upload_arrived` (the object's S3 event): checks the header, takes the source's claim (a later
   import wins a race), plans chunks, and hands the plan to the orchestrator (Step Functions in AWS,
   a thread in local mode), which runs the steps below with the same worker handler.
3. `load_chunk` (one per 16 MB of the file, in parallel): validates every line of its byte range
   and sorts the accepted rows into the generation's groups (work files in S3).
4. `merge_group` (one per group, in parallel): the group's rows from every chunk, duplicates
   rejected (the first line wins), compared with the list being replaced, written as bucket items
   and one filter segment of the new generation, beside the active one.
5. `finish`: counts and rejected rows; if the file may replace the list (`failure_of`), the flip:
   one transaction moves the source's pointer, while the import still holds the claim.
6. `clean_up` (a minute later, after every match environment has let go of the old state): the
   replaced generation and the work files are deleted. `fail` removes a failed import's items.

Until the flip nothing of the new list matches; after it, match environments see the new list
within `STATE_TTL_S`; a failed, superseded or abandoned import never touches the active list.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import json
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from nas.adapters.import_files import (
    FileChanged,
    ImportFiles,
    import_id_of,
    incoming_key,
    rejects_key,
    work_prefix,
)
from nas.adapters.voi_keys import bucket_key, epoch, segment_key
from nas.adapters.voi_lists import ImportStateChanged, ListStore, Superseded
from nas.domain.errors import AccessDenied, NotFound
from nas.domain.leas import NATIONAL
from nas.domain.roles import Principal
from nas.domain.voi_imports import (
    CHUNK_BYTES,
    REJECTS_SHOWN,
    UPLOAD_URL_LIFETIME,
    ChunkSpan,
    ImportCounts,
    ImportFailure,
    ImportPlan,
    ImportRecord,
    ImportStatus,
    RowReject,
    absolute_line,
    chunk_window,
    failure_of,
    line_ref,
    lines_before,
    plan_chunks,
    superseded,
)
from nas.domain.voi_lists import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    Claim,
    ListFileError,
    ListGeneration,
    ListSource,
    RowParser,
    RowProblem,
    header_columns,
    split_lines,
)
from nas.domain.voi_packing import (
    bucket_count_for,
    build_segment,
    diff_rows,
    group_count_for,
    line_vrm,
    lines_by_vrm,
    old_buckets_for_group,
    pack_lines,
    vrm_hash,
)
from nas.observability import logger

IMPORT_RECORD_KEPT = timedelta(days=90)
"""Import records (counts, rejected line numbers and reasons, no row content) are kept this long."""
DOWNLOAD_URL_LIFETIME = timedelta(minutes=15)
PROGRESS_EVERY_LINES = 50_000
MAX_REJECT_MESSAGE_CHARS = 200


class Orchestrator(Protocol):
    def begin(self, plan: ImportPlan) -> None:
        """Runs the load of `plan`: every chunk, then every group, then finish and clean-up; on any
        step's failure, `fail`. Returns at once."""
        ...


class ImportNotFound(NotFound):
    """No such import, or not one the caller may see."""


@dataclass(frozen=True, slots=True)
class ImportView:
    record: ImportRecord
    rejects_url: str | None
    rejects_url_expires_at: datetime | None


_LOW_64 = (1 << 64) - 1


def _uuid() -> str:
    return uuid.uuid4().hex


def _chunk_bin(import_id: str, index: int) -> str:
    return f"{work_prefix(import_id)}chunk-{index:05d}.bin"


def _chunk_summary(import_id: str, index: int) -> str:
    return f"{work_prefix(import_id)}chunk-{index:05d}.json"


def _group_bin(import_id: str, group: int) -> str:
    return f"{work_prefix(import_id)}group-{group:03d}.bin"


def _group_summary(import_id: str, group: int) -> str:
    return f"{work_prefix(import_id)}group-{group:03d}.json"


def _reject_lines(rejects: Iterable[list[Any]]) -> bytes:
    """Rejected rows as compressed JSON lines `[ref, field, message, first_ref]`, read back lazily."""
    compressor = zlib.compressobj(6)
    out = [compressor.compress(orjson.dumps(r) + b"\n") for r in rejects]
    out.append(compressor.flush())
    return b"".join(out)


class VoiImportService:
    def __init__(
        self,
        lists: ListStore,
        files: ImportFiles,
        *,
        clock: Callable[[], datetime],
        orchestrator: Orchestrator | None = None,
        new_id: Callable[[], str] = _uuid,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._lists = lists
        self._files = files
        self._clock = clock
        self._orchestrator = orchestrator
        self._new_id = new_id
        self._chunk_bytes = chunk_bytes

    def request(
        self, principal: Principal, source: ListSource, file_name: str, rows_expected: int
    ) -> tuple[ImportRecord, str]:
        """POST /voi/imports: an import awaiting its upload and the presigned PUT it is uploaded to.
        Bulk lists are national, so only NATIONAL managers replace them."""
        if principal.lea != NATIONAL:
            raise AccessDenied(
                "import-needs-national", "bulk lists are national: NATIONAL managers import them"
            )
        now = self._clock()
        record = ImportRecord(
            import_id=self._new_id(),
            source=source,
            file_name=file_name,
            rows_expected=rows_expected,
            requested_by=principal.user,
            owner_lea=principal.lea,
            requested_at=now,
            upload_expires_at=now + UPLOAD_URL_LIFETIME,
        )
        self._lists.create_import(record, expires_at=now + IMPORT_RECORD_KEPT)
        url = self._files.upload_url(incoming_key(record.import_id), int(UPLOAD_URL_LIFETIME.total_seconds()))
        return record, url

    def status(self, principal: Principal, import_id: str) -> ImportView:
        """GET /voi/imports/{id}: managers of the importing LEA see it; others are told it does not
        exist (404)."""
        record = self._lists.import_record(import_id)
        if record is None or principal.lea != record.owner_lea:
            raise ImportNotFound(import_id)
        now = self._clock()
        url = expires = None
        if record.rejects_key:
            url = self._files.download_url(record.rejects_key, int(DOWNLOAD_URL_LIFETIME.total_seconds()))
            expires = now + DOWNLOAD_URL_LIFETIME
        return ImportView(record.as_seen(now), url, expires)

    def upload_arrived(self, key: str) -> ImportPlan | None:
        """Starts the load of an uploaded list, or fails the import if its file cannot be loaded;
        None when there is nothing (more) to start: an unknown key, a second event for one upload."""
        import_id = import_id_of(key)
        record = self._lists.import_record(import_id) if import_id else None
        if record is None:
            logger.warning("uploaded object matches no import", extra={"key": key[:200]})
            return None
        if record.status is not ImportStatus.AWAITING_UPLOAD:
            return None
        info = self._files.head(key)
        if info is None:
            return None
        now = self._clock()
        try:
            if info.size > MAX_FILE_BYTES:
                raise ListFileError("file-too-large", f"the file is over {MAX_FILE_BYTES // 1024**3} GiB")
            head = b"".join(self._files.read(key, 0, min(info.size, MAX_LINE_BYTES + 2), etag=info.etag))
            newline = head.find(b"\n")
            if newline < 0 and info.size > len(head):
                raise ListFileError("wrong-header", "the first line is not a header of this format")
            header_end = info.size if newline < 0 else newline + 1
            columns = header_columns(record.source, head[:header_end])
        except ListFileError as exc:
            self._end(record, ImportFailure(code=exc.code, message=str(exc)))
            self._files.delete(key)
            return None
        try:
            previous = self._lists.claim(record.source, Claim(import_id=record.import_id, order=record.order))
        except Superseded as exc:
            self._end(record, superseded(exc.by))
            self._files.delete(key)
            return None
        groups = group_count_for(record.rows_expected)
        plan = ImportPlan(
            import_id=record.import_id,
            key=key,
            etag=info.etag,
            size=info.size,
            columns=columns,
            chunks=plan_chunks(info.size, header_end, self._chunk_bytes),
            generation=ListGeneration(
                source=record.source,
                import_id=record.import_id,
                buckets=bucket_count_for(record.rows_expected, groups),
                groups=groups,
                rows=record.rows_expected,
                revised_at=now,
                owner_lea=record.owner_lea,
                requested_by=record.requested_by,
            ),
            previous=previous,
        )
        try:
            self._lists.start_import(
                record.model_copy(update={"status": ImportStatus.LOADING, "started_at": now}), plan
            )
        except ImportStateChanged:
            return None  # another delivery of the same event started it
        if self._orchestrator is not None:
            self._orchestrator.begin(plan)
        return plan

    def _end(self, record: ImportRecord, failure: ImportFailure, **update: Any) -> None:
        ended = record.model_copy(
            update={"status": ImportStatus.FAILED, "failure": failure, "finished_at": self._clock(), **update}
        )
        with contextlib.suppress(ImportStateChanged):  # ended already
            self._lists.end_import(ended)

    def run_step(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """One step as the state machine (or local mode's runner) sends it: `chunk`, `group`,
        `finish`, `clean-up`, or `fail` with the failed step's `error` ({"Error", "Cause"})."""
        step, import_id = str(event["step"]), str(event["import_id"])
        if step == "chunk":
            self.load_chunk(import_id, int(event["chunk"]))
        elif step == "group":
            self.merge_group(import_id, int(event["group"]))
        elif step == "finish":
            return {"import_id": import_id, "status": self.finish(import_id).status.value}
        elif step == "clean-up":
            self.clean_up(import_id)
        elif step == "fail":
            error = event.get("error") or {}
            self.fail(import_id, str(error.get("Error", "unknown")), error.get("Cause"))
        else:
            raise ValueError(f"unknown import step {step!r}")
        return {"import_id": import_id, "step": step}

    def _plan(self, import_id: str) -> ImportPlan:
        plan = self._lists.import_plan(import_id)
        if plan is None:
            raise ImportNotFound(import_id)
        return plan

    def _require_claim(self, plan: ImportPlan) -> None:
        """A step of an import that lost its source's claim stops at once."""
        holder = self._lists.claim_holder(plan.generation.source)
        if holder is None or holder.import_id != plan.import_id:
            raise Superseded(holder.import_id if holder else "none")

    def load_chunk(self, import_id: str, index: int) -> None:
        """Validates every line of one chunk; accepted rows go to their group, rejected ones are kept
        with their line (as chunk and line within it) and reason."""
        plan = self._plan(import_id)
        self._require_claim(plan)
        span = plan.chunks[index]
        source = plan.generation.source
        groups = plan.generation.groups
        read_from, limit, skip_first = chunk_window(span, plan.chunks[0].start)
        blocks = self._files.read(plan.key, read_from, etag=plan.etag)
        # Rows are encoded into one buffer per group as they come (a bytes object per row would hold
        # far more memory than its length: orjson over-allocates small outputs), one a line:
        # `<line ref> <hash low 64 bits> <hash high 64 bits> <row as JSON>`.
        rows_of = [bytearray() for _ in range(groups)]
        rejects: list[list[Any]] = []
        parser = RowParser(source, plan.columns)
        lines = rows = 0
        try:
            for line in split_lines(blocks, limit=limit, skip_first=skip_first):
                lines += 1
                ref = line_ref(index, lines)
                if line is None:
                    rows += 1
                    rejects.append([ref, "$", f"the line is longer than {MAX_LINE_BYTES} bytes", None])
                    continue
                line = line.rstrip(b"\r")
                if not line.strip():
                    continue
                rows += 1
                parsed = parser.parse(line)
                if isinstance(parsed, RowProblem):
                    rejects.append([ref, parsed.field[:64], parsed.message[:MAX_REJECT_MESSAGE_CHARS], None])
                else:
                    hashed = vrm_hash(parsed[0])
                    buffer = rows_of[hashed & (groups - 1)]
                    buffer += b"%d %d %d " % (ref, hashed & _LOW_64, hashed >> 64)
                    buffer += orjson.dumps(parsed)
                    buffer += b"\n"
                if lines % PROGRESS_EVERY_LINES == 0:
                    self._lists.progress(import_id, index, lines)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
        body = bytearray()
        segments = []
        for group_rows in rows_of:
            data = zlib.compress(bytes(group_rows), 6)
            segments.append([len(body), len(data)])
            body += data
        reject_data = _reject_lines(rejects)
        summary = {
            "lines": lines,
            "rows": rows,
            "rejected": len(rejects),
            "segments": segments,
            "rejects": [len(body), len(reject_data)],
        }
        body += reject_data
        self._files.put(_chunk_bin(import_id, index), bytes(body))
        self._files.put(_chunk_summary(import_id, index), json.dumps(summary).encode(), "application/json")
        self._lists.progress(import_id, index, lines)

    def _segment(self, key: str, offset: int, length: int) -> bytes:
        return b"".join(self._files.read(key, offset, offset + length)) if length else b""

    def merge_group(self, import_id: str, group: int) -> None:
        """One group of the new generation: the first row of each VRM (later ones are duplicates),
        compared with the replaced list, written as bucket items and one filter segment."""
        plan = self._plan(import_id)
        self._require_claim(plan)
        generation = plan.generation
        # Rows stay JSON lines throughout (parsed rows would be millions of objects to allocate and
        # collect): bucketed, packed and compared with the replaced list as bytes.
        first_ref: dict[str, int] = {}
        first_line: dict[str, bytes] = {}
        hashes: list[int] = []
        buckets: dict[int, list[bytes]] = defaultdict(list)
        bucket_mask = generation.buckets - 1
        duplicates: list[list[Any]] = []
        # Chunks in file order, rows in line order: the first row seen of a VRM is its first line.
        for chunk in plan.chunks:
            summary = json.loads(self._files.get(_chunk_summary(import_id, chunk.index)))
            offset, length = summary["segments"][group]
            segment = self._segment(_chunk_bin(import_id, chunk.index), offset, length)
            for encoded in zlib.decompress(segment).split(b"\n"):
                if not encoded:
                    continue
                ref, low, high, line = encoded.split(b" ", 3)
                vrm = line_vrm(line)
                seen = first_ref.get(vrm)
                if seen is not None:
                    duplicates.append([int(ref), "vrm", "duplicate", seen])
                    continue
                first_ref[vrm] = int(ref)
                first_line[vrm] = line
                hashed = (int(high) << 64) | int(low)
                hashes.append(hashed)
                buckets[hashed & bucket_mask].append(line)
        diff = diff_rows(first_line, self._previous_lines(plan, group))
        expires = epoch(generation.expires_at)
        items: list[dict[str, Any]] = [
            {**bucket_key(import_id, b), "rows": pack_lines(lines), "expires_at": expires}
            for b, lines in buckets.items()
        ]
        items.append(
            {
                **segment_key(import_id, group),
                "bits": build_segment(hashes, len(hashes)),
                "expires_at": expires,
            }
        )
        self._lists.write_items(items)
        duplicates.sort(key=lambda r: r[0])
        reject_data = _reject_lines(duplicates)
        self._files.put(_group_bin(import_id, group), reject_data)
        summary = {
            "accepted": len(first_line),
            "duplicates": len(duplicates),
            "added": diff.added,
            "changed": diff.changed,
            "unchanged": diff.unchanged,
            "removed": diff.removed,
        }
        self._files.put(_group_summary(import_id, group), json.dumps(summary).encode(), "application/json")

    def _previous_lines(self, plan: ImportPlan, group: int) -> dict[str, bytes]:
        """The replaced list's rows (as JSON lines) that fall in `group` of the new layout."""
        previous = plan.previous
        if previous is None:
            return {}
        generation = plan.generation
        old = self._lists.buckets(
            previous.import_id, old_buckets_for_group(group, generation.groups, previous.buckets)
        )
        lines: dict[str, bytes] = {}
        spans_groups = previous.buckets < generation.groups  # an old bucket holds rows of several groups
        for raw in old.values():
            for vrm, line in lines_by_vrm(raw).items():
                if not spans_groups or vrm_hash(vrm) & (generation.groups - 1) == group:
                    lines[vrm] = line
        return lines

    def finish(self, import_id: str) -> ImportRecord:
        """Counts and rejected rows; then the flip, or the failure that leaves the list as it was."""
        plan = self._plan(import_id)
        record = self._lists.import_record(import_id)
        if record is None:
            raise ImportNotFound(import_id)
        if record.status is not ImportStatus.LOADING:
            return record  # a retried finish: the flip (or the failure) is done
        self._require_claim(plan)
        chunks = [json.loads(self._files.get(_chunk_summary(import_id, c.index))) for c in plan.chunks]
        groups = [
            json.loads(self._files.get(_group_summary(import_id, g))) for g in range(plan.generation.groups)
        ]
        counts = ImportCounts(
            rows=sum(c["rows"] for c in chunks),
            accepted=sum(g["accepted"] for g in groups),
            rejected=sum(c["rejected"] for c in chunks) + sum(g["duplicates"] for g in groups),
            added=sum(g["added"] for g in groups),
            changed=sum(g["changed"] for g in groups),
            unchanged=sum(g["unchanged"] for g in groups),
            removed=sum(g["removed"] for g in groups),
        )
        shown, total = self._write_rejects(plan, chunks, [c["lines"] for c in chunks])
        now = self._clock()
        outcome = {
            "counts": counts,
            "rejects": tuple(shown),
            "rejects_total": total,
            "rejects_key": rejects_key(import_id) if total else None,
            "finished_at": now,
            "rows_loaded": sum(c["lines"] for c in chunks),
        }
        failure = failure_of(counts, record.rows_expected)
        if failure is not None:
            self._end(record, failure, **outcome)
            self._release(plan)
            return self._lists.import_record(import_id) or record
        final = record.model_copy(update={"status": ImportStatus.SUCCEEDED, **outcome})
        generation = plan.generation.model_copy(update={"rows": counts.accepted})
        self._lists.activate(generation, plan.previous, final)
        logger.info(
            "list replaced",
            extra={"source": plan.generation.source, "import_id": import_id, **counts.model_dump()},
        )
        return final

    def _write_rejects(
        self, plan: ImportPlan, chunks: list[dict[str, Any]], chunk_lines: list[int]
    ) -> tuple[list[RowReject], int]:
        """Every rejected row in line order: the first REJECTS_SHOWN for the record, all of them
        as CSV (`line,field,message`) in the imports bucket, streamed, never held at once."""
        before = lines_before(chunk_lines)
        streams: list[Iterator[list[Any]]] = [
            self._rejects_in(_chunk_bin(plan.import_id, c.index), *summary["rejects"])
            for c, summary in zip(plan.chunks, chunks, strict=True)
        ]
        streams += [
            self._rejects_in(_group_bin(plan.import_id, g), 0, None) for g in range(plan.generation.groups)
        ]
        shown: list[RowReject] = []
        total = 0

        def rows() -> Iterator[bytes]:
            nonlocal total
            yield b"line,field,message\n"
            for ref, field, message, first in heapq.merge(*streams, key=lambda r: r[0]):
                line = absolute_line(ref, before)
                if first is not None:
                    message = f"duplicate vrm: first given on line {absolute_line(first, before)}"
                total += 1
                if len(shown) < REJECTS_SHOWN:
                    shown.append(RowReject(line=line, field=field, message=message))
                yield _csv_line(line, field, message)

        blocks = rows()
        first_block = next(blocks)
        second = next(blocks, None)
        if second is None:
            return [], 0
        self._files.put_stream(rejects_key(plan.import_id), _chain(first_block, second, blocks), "text/csv")
        return shown, total

    def _rejects_in(self, key: str, offset: int, length: int | None) -> Iterator[list[Any]]:
        decompressor = zlib.decompressobj()
        pending = b""
        end = None if length is None else offset + length
        if length == 0:
            return
        for block in self._files.read(key, offset, end):
            pending += decompressor.decompress(block)
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield orjson.loads(line)
        pending += decompressor.flush()
        for line in pending.split(b"\n"):
            if line:
                yield orjson.loads(line)

    def _release(self, plan: ImportPlan) -> None:
        self._lists.release(plan.generation.source, plan.import_id)

    def fail(self, import_id: str, error: str, cause: str | None = None) -> None:
        """A load step failed (`error` is the exception's name): the import fails, its claim is
        released and everything it wrote is removed; the active list is untouched."""
        record = self._lists.import_record(import_id)
        plan = self._lists.import_plan(import_id)
        if record is None:
            return
        if record.status in (ImportStatus.LOADING, ImportStatus.AWAITING_UPLOAD):
            failure = self._failure_for(error, cause)
            holder = self._lists.claim_holder(record.source)
            if holder is not None and holder.import_id != import_id:
                # Whatever the step reported (a Distributed Map reports its own error), a later
                # import holding the claim means this one was superseded.
                failure = superseded(holder.import_id)
            self._end(record, failure)
        if plan is not None:
            self._release(plan)
            self._remove_unused(plan)

    @staticmethod
    def _failure_for(error: str, cause: str | None) -> ImportFailure:
        message = ""
        if cause:
            try:
                message = str(json.loads(cause).get("errorMessage", ""))
            except (ValueError, AttributeError):
                message = cause
        if error == Superseded.__name__:
            return superseded(message.removeprefix("superseded by import ").strip() or "unknown")
        if error == FileChanged.__name__:
            return ImportFailure(code="file-changed", message="the file was uploaded again while it loaded")
        return ImportFailure(
            code="load-error", message=f"the load failed ({error[:64]}); the list is unchanged"
        )

    def clean_up(self, import_id: str) -> None:
        """After the flip has reached every match environment: the replaced generation, and every
        working and uploaded file, are deleted (for a failed import, its own generation)."""
        plan = self._lists.import_plan(import_id)
        if plan is None:
            return
        self._remove_unused(plan)

    def _remove_unused(self, plan: ImportPlan) -> None:
        active = self._lists.state().active.get(plan.generation.source)
        active_id = active.import_id if active else None
        record = self._lists.import_record(plan.import_id)
        succeeded = record is not None and record.status is ImportStatus.SUCCEEDED
        if succeeded and plan.previous is not None and plan.previous.import_id != active_id:
            self._lists.delete_generation(plan.previous)
        if not succeeded and plan.generation.import_id != active_id:
            self._lists.delete_generation(plan.generation)
        self._files.delete_prefix(work_prefix(plan.import_id))
        self._files.delete(incoming_key(plan.import_id))


def _csv_line(*cells: object) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(cells)
    return text.getvalue().encode()


def _chain(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    yield from rest


__all__ = ["ChunkSpan", "ImportView", "Orchestrator", "VoiImportService"]
