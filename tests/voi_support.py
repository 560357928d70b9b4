"""Bulk lists for tests: a CSV in the import format, and an import run to completion in-process
with the real import service on moto (the steps in the state machine's order)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nas.adapters.import_files import S3ImportFiles, incoming_key
from nas.adapters.voi_lists import DynamoListStore
from nas.domain.leas import NATIONAL
from nas.domain.roles import Principal, Role
from nas.domain.voi_imports import ImportRecord
from nas.domain.voi_lists import LIST_COLUMNS, ListSource
from nas.local.voi import run_load
from nas.services.voi_imports import VoiImportService

HEADER = ",".join(LIST_COLUMNS)
NATIONAL_MANAGER = Principal.from_claims("vm.national", [Role.VOI_MANAGER.value], NATIONAL)


@dataclass(frozen=True, slots=True)
class Row:
    vrm: str
    category: str = "no-tax"
    action: str = "report"
    priority: int = 3
    reason: str = "Untaxed vehicle"
    pnc_ref: str = ""
    circulation: str = "NATIONAL"
    sensitive: str = "false"

    def line(self) -> str:
        return ",".join(
            [self.vrm, self.category, self.action, str(self.priority), self.reason, self.pnc_ref,
             self.circulation, self.sensitive]
        )


def list_file(rows: Iterable[Row | str], *, header: str = HEADER) -> bytes:
    """A list file: `Row`s, or lines given as text (to write bad ones)."""
    lines = [header, *(r.line() if isinstance(r, Row) else r for r in rows)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Lists:
    """Imports against one moto account's voi table and imports bucket."""

    dynamodb: Any
    s3: Any
    table: str
    bucket: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def service(self) -> VoiImportService:
        return VoiImportService(
            DynamoListStore(self.dynamodb, self.table, sleep=lambda _: None),
            S3ImportFiles(self.s3, self.bucket),
            clock=self.clock,
        )

    def upload(
        self, source: ListSource, body: bytes, *, rows_expected: int | None = None
    ) -> tuple[VoiImportService, ImportRecord]:
        """Requests an import and puts its file; nothing loads yet."""
        service = self.service()
        expected = rows_expected if rows_expected is not None else max(1, count_rows(body))
        record, _ = service.request(NATIONAL_MANAGER, source, f"{source.value}.csv", expected)
        self.s3.put_object(Bucket=self.bucket, Key=incoming_key(record.import_id), Body=body)
        return service, record

    def load(self, source: ListSource, body: bytes, *, rows_expected: int | None = None) -> ImportRecord:
        """Requests, uploads and loads a list to its end (clean-up included)."""
        service, record = self.upload(source, body, rows_expected=rows_expected)
        plan = service.upload_arrived(incoming_key(record.import_id))
        if plan is not None:
            run_load(service.run_step, plan)
            service.clean_up(record.import_id)
        final = service.status(NATIONAL_MANAGER, record.import_id).record
        return final

    def rows(self, source: ListSource, rows: Sequence[Row]) -> ImportRecord:
        return self.load(source, list_file(rows))


def count_rows(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n")[1:] if line.strip())
