"""R-STATS: the daily statistics job over a generated day (reads stored as Parquet by the local sink
and counted by DuckDB; alerts, audit events and VOI entries in moto's tables; quarantine documents
written by the archive consumer) counts what happened, hides small counts, and its document, JSON or
CSV, holds no VRM, camera id, coordinate or user name of that day."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.fs as pafs  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters.alerts import DynamoAlertReader, DynamoAlertStore
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.duckdb_statistics import DuckDbReadCounts
from nas.adapters.dynamo import create_table
from nas.adapters.firehose import InMemoryRowSink
from nas.adapters.objects import S3ObjectStore
from nas.adapters.statistics import DynamoVoiCensus, InMemoryReportStore
from nas.adapters.voi import DynamoVoiStore
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.models import Alert, Outcome, VoiAction, VoiEntry, VoiSource, alert_id_for
from nas.domain.policy import voi_expires_at, voi_review_due_at
from nas.domain.statistics import Labels, report_csv
from nas.domain.timefmt import iso_utc
from nas.domain.voi_lists import ListSource
from nas.pipeline.archive import ArchiveService
from nas.pipeline.records import StreamRecord
from nas.services.activity import JobAudit
from nas.services.statistics import StatisticsPorts, StatisticsReports, run_daily_statistics
from tests.searchdata import CAMERAS, ESSEX_A, KENT_A, KENT_B, DirectoryS3, StoredRead, store
from tests.voi_support import Lists, Row

REGION = "eu-west-2"
IMPORTS = "nas-test-imports"
QUARANTINE = "nas-test-quarantine"
TABLES = {spec.logical_name: f"nas-test-{spec.logical_name}" for spec in catalogue.TABLES}
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = (NOW - timedelta(days=3)).date()
MIDNIGHT = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
USERS = ("inv.kent.jsmith", "inv.essex.abrown", "sinv.kent.pjones")


def vrm(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return (
        "".join(rng.choices(letters, k=2)) + f"{rng.randrange(10, 75)}" + "".join(rng.choices(letters, k=3))
    )


@dataclass
class Day:
    """What was generated, to look for in the report."""

    ports: StatisticsPorts
    vrms: set[str]
    reads_at: dict[tuple[str, int], int]
    late_reads: int


def alert(vrm_: str, camera_id: str, lea: str, n: int, raised: datetime, **extra: Any) -> Alert:
    captured = raised - timedelta(seconds=1 + n % 4)
    return Alert.model_validate_json(
        json.dumps(
            {
                "alert_id": alert_id_for(camera_id, f"r-{n}", f"voi-{n}"),
                "read_id": f"r-{n}",
                "vrm": vrm_,
                "captured_at": captured.isoformat(),
                "camera_id": camera_id,
                "lea": lea,
                "voi_id": f"voi-{n}",
                "source": "pnc",
                "category": "stolen",
                "action": "stop",
                "priority": 1,
                "reason": f"Stolen from {USERS[0]}'s street",
                "owner_lea": lea,
                "circulation": ["NATIONAL"],
                "sensitive": False,
                "raised_at": raised.isoformat(),
            }
            | extra,
            default=str,
        )
    )


def search_event(
    at: datetime, user: str, lea: str, vrm_: str, status: int, error: str | None = None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "arguments": {"request": {"type": "vrm", "vrm": vrm_, "from": iso_utc(at - timedelta(days=2))}}
    }
    if error:
        parameters["error"] = error
    return {
        "at": iso_utc(at),
        "user": user,
        "groups": ["investigator"],
        "lea": lea,
        "method": "POST",
        "route": "/searches",
        "parameters": json.dumps(parameters, sort_keys=True),
        "purpose": "crime",
        "reason": f"Burglary at 12 High St, suspect {vrm_}",
        "case_ref": f"{lea}-2026-000123",
        "status": status,
        "result_count": None,
        "request_id": f"req-{at.timestamp()}-{user}",
        "source_ip": "203.0.113.10",
    }


@pytest.fixture
def day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    rng = random.Random(20261201)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in catalogue.TABLES:
            create_table(dynamodb, spec, TABLES[spec.logical_name])
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=QUARANTINE, CreateBucketConfiguration={"LocationConstraint": REGION})

        # Reads: 3 cameras, Kent busy at 08:00, Essex with 3 reads at 23:00 (a small cell), and
        # 7 reads of the day stored late (a day and a half after capture).
        reads: list[StoredRead] = []
        reads_at: dict[tuple[str, int], int] = {}
        plan = [(KENT_A, 8, 40), (KENT_B, 8, 12), (KENT_B, 17, 9), (ESSEX_A, 23, 3)]
        for camera, hour, count in plan:
            for _ in range(count):
                at = MIDNIGHT + timedelta(hours=hour, seconds=rng.randrange(3600))
                reads.append(StoredRead(f"r{len(reads)}", vrm(rng), at, camera))
            reads_at[(camera.lea, hour)] = reads_at.get((camera.lea, hour), 0) + count
        for _ in range(7):
            at = MIDNIGHT + timedelta(hours=12, seconds=rng.randrange(3600))
            reads.append(StoredRead(f"r{len(reads)}", vrm(rng), at, KENT_A, stored_after=timedelta(hours=36)))
        reads_at[("KENT", 12)] = 7
        # The day before and after: not counted.
        reads.append(StoredRead("before", vrm(rng), MIDNIGHT - timedelta(minutes=1), KENT_A))
        reads.append(StoredRead("after", vrm(rng), MIDNIGHT + timedelta(days=1), KENT_A))
        store(DirectoryS3(tmp_path), "reads", reads)

        # Alerts raised that day: 6 PNC hits in Kent (2 confirmed), 2 in Essex; one the day after.
        alerts = DynamoAlertStore(dynamodb, TABLES["alerts"])
        for n in range(6):
            outcome = {"outcome": Outcome.CONFIRMED.value} if n < 2 else {}
            alerts.put_new(
                alert(
                    reads[n].vrm,
                    KENT_A.camera_id,
                    "KENT",
                    n,
                    MIDNIGHT + timedelta(hours=8, minutes=n),
                    **outcome,
                )
            )
        for n in range(6, 8):
            alerts.put_new(alert(reads[n].vrm, ESSEX_A.camera_id, "ESSEX", n, MIDNIGHT + timedelta(hours=23)))
        alerts.put_new(
            alert(reads[9].vrm, KENT_A.camera_id, "KENT", 9, MIDNIGHT + timedelta(days=1, hours=1))
        )

        # Audit: 6 searches by a Kent investigator, 1 by Essex, 2 refusals for lookback, page views.
        trail = DynamoAuditTrail(dynamodb, TABLES["audit"])
        at = MIDNIGHT + timedelta(hours=10)
        for n in range(6):
            trail.append(search_event(at + timedelta(minutes=n), USERS[0], "KENT", reads[n].vrm, 202), at)
        trail.append(search_event(at, USERS[1], "ESSEX", reads[50].vrm, 202), at)
        for n in range(2):
            event = search_event(at, USERS[2], "KENT", reads[n].vrm, 403, "lookback-exceeds-level")
            trail.append(event, at)
        view = search_event(at, USERS[0], "KENT", reads[0].vrm, 200) | {
            "method": "GET",
            "route": "/searches/{search_id}",
            "result_count": 12,
        }
        trail.append(view, at)

        # Quarantine: unknown cameras and malformed records, through the archive consumer.
        archive = ArchiveService(
            cameras=InMemoryCameraRegistry(list(CAMERAS)),
            objects=S3ObjectStore(s3),
            rows=InMemoryRowSink(),
            reads_bucket="unused",
            quarantine_bucket=QUARANTINE,
        )
        bad = [
            StoredRead(
                f"q{n}", vrm(rng), MIDNIGHT + timedelta(hours=9), KENT_A, extra={"camera_id": "KENT-X9-404"}
            )
            for n in range(6)
        ]
        records = [
            StreamRecord(f"{n + 1:056d}", "k", "shardId-000000000001", r.payload(), r.captured_at)
            for n, r in enumerate(bad)
        ]
        records.append(
            StreamRecord(
                f"{99:056d}", "k", "shardId-000000000001", b"{not json", MIDNIGHT + timedelta(hours=9)
            )
        )
        archive.process(records, now=MIDNIGHT + timedelta(hours=9))

        # VOI: live entries of three sources, and one expired that TTL has not yet removed.
        voi = DynamoVoiStore(dynamodb, TABLES["voi"])
        for n, source in enumerate([VoiSource.PNC] * 5 + [VoiSource.DVLA] * 6 + [VoiSource.LOCAL] * 2):
            revised = NOW - timedelta(days=1)
            voi.put(voi_entry(f"v{n}", reads[n].vrm, source, revised), now=NOW)
        voi.put(
            voi_entry("old", reads[20].vrm, VoiSource.PNC, NOW - timedelta(days=90)),
            now=NOW - timedelta(days=90),
        )
        # A bulk list: its rows are no entry items, and still count by source.
        s3.create_bucket(Bucket=IMPORTS, CreateBucketConfiguration={"LocationConstraint": REGION})
        listed = [f"MB{n:02d}LST" for n in range(7)]
        Lists(dynamodb, s3, TABLES["voi"], IMPORTS, clock=lambda: NOW - timedelta(hours=1)).rows(
            ListSource.MIB, [Row(vrm, category="no-insurance") for vrm in listed]
        )

        engine = DuckDbSearchEngine(pafs.LocalFileSystem(), str(tmp_path))
        ports = StatisticsPorts(
            reads=DuckDbReadCounts(engine),
            quarantine=S3ObjectStore(s3),
            quarantine_bucket=QUARANTINE,
            alerts=DynamoAlertReader(dynamodb, TABLES["alerts"]),
            trail=trail,
            voi=DynamoVoiCensus(dynamodb, TABLES["voi"]),
            reports=InMemoryReportStore(),
            labels=Labels(lea_codes() | {NATIONAL}),
            audit=lambda run_id: JobAudit(trail, "statistics", run_id, lambda: NOW),
        )
        yield Day(ports, {r.vrm for r in reads + bad} | set(listed), reads_at, 7)


def voi_entry(voi_id: str, vrm_: str, source: VoiSource, revised: datetime) -> VoiEntry:
    return VoiEntry(
        voi_id=voi_id,
        vrm=vrm_,
        source=source,
        category="no-insurance" if source is VoiSource.DVLA else "stolen",
        action=VoiAction.REPORT,
        priority=2,
        reason="Bulk list entry",
        circulation=(NATIONAL,),
        owner_lea=NATIONAL,
        created_by="voi.manager.kent",
        created_at=revised,
        last_revised_at=revised,
        review_due_at=voi_review_due_at(revised),
        expires_at=voi_expires_at(revised),
    )


def cells(document: dict[str, Any], section: str) -> dict[tuple[str, ...], Any]:
    return {tuple(v for k, v in row.items() if k != "count"): row["count"] for row in document[section]}


def test_the_day_is_counted_by_lea_hour_source_and_rule_with_small_counts_hidden(day: Day) -> None:
    run = run_daily_statistics(day.ports, day=DAY, now=NOW, run_id="run-1")
    doc = run.document
    assert (doc["day"], doc["complete"], doc["suppressed_below"]) == (DAY.isoformat(), True, 5)
    assert cells(doc, "reads_by_lea_hour") == {
        ("KENT", "08"): 52,
        ("KENT", "12"): 7,  # stored late, in a later day's partition, still counted on its capture day
        ("KENT", "17"): 9,
        ("ESSEX", "23"): "<5",
    }
    assert cells(doc, "reads_by_source") == {("static",): 50, ("multi-lane",): 21}
    assert cells(doc, "quarantined_by_reason") == {("unknown-camera",): 6, ("not-json",): "<5"}
    assert cells(doc, "alerts") == {("KENT", "pnc", "stolen"): 6, ("ESSEX", "pnc", "stolen"): "<5"}
    assert cells(doc, "outcomes") == {("confirmed",): "<5", ("none",): 6}
    assert cells(doc, "searches") == {("KENT", "vrm", "crime"): 6, ("ESSEX", "vrm", "crime"): "<5"}
    assert cells(doc, "refusals") == {("lookback-exceeds-level",): "<5"}
    assert cells(doc, "voi_entries_by_source") == {("pnc",): 5, ("dvla",): 6, ("local",): "<5", ("mib",): 7}
    latency = doc["capture_to_alert_latency_s"]
    assert latency["alerts"] == 8
    assert 1.0 <= latency["p50"] <= latency["p95"] <= latency["p99"] <= 4.0
    assert day.ports.reports.get(DAY) == doc


def test_the_report_text_holds_no_vrm_camera_coordinate_or_user_name(day: Day) -> None:
    doc = run_daily_statistics(day.ports, day=DAY, now=NOW, run_id="run-1").document
    texts = {"json": json.dumps(doc), "csv": report_csv(doc)}
    personal = {
        *day.vrms,
        *(v.replace(" ", "") for v in day.vrms),
        *(c.camera_id for c in CAMERAS),
        "KENT-X9-404",
        *(f"{c.lat}" for c in CAMERAS),
        *(f"{c.lon}" for c in CAMERAS),
        *USERS,
        "voi.manager.kent",
        "High St",
        "KENT-2026-000123",
        "203.0.113.10",
    }
    for form, text in texts.items():
        found = sorted(p for p in personal if p in text)
        assert not found, f"the {form} report holds {found}"
    # The scan looked at a real report.
    assert "KENT" in texts["csv"]
    assert "<5" in texts["csv"]


def test_a_code_that_is_not_one_is_counted_as_other(day: Day) -> None:
    labels = day.ports.labels
    assert [labels.code(v) for v in ("no-tax", "AB12CDE", "ab12cde", "KENT-A2-001", "51.2798", None)] == [
        "no-tax",
        "other",
        "other",
        "other",
        "other",
        "other",
    ]
    assert [labels.lea(v) for v in ("KENT", "NATIONAL", "AB12CDE")] == ["KENT", "NATIONAL", "other"]


def test_usage_names_users_with_their_searches_views_and_refusals(day: Day) -> None:
    reports = StatisticsReports(
        lambda: day.ports.reports, day.ports.trail, day.ports.labels, clock=lambda: NOW
    )
    from nas.domain.roles import Principal, Role

    national = Principal("aud.nat", frozenset({Role.AUDITOR}), NATIONAL)
    used = {(u.user, u.lea): u for u in reports.usage(national, DAY, DAY)}
    assert set(used) == {(USERS[0], "KENT"), (USERS[1], "ESSEX"), (USERS[2], "KENT")}
    kent = used[(USERS[0], "KENT")]
    assert (kent.searches, kent.read_views, kent.rows_viewed) == (6, 1, 12)
    assert dict(used[(USERS[2], "KENT")].refusals) == {"lookback-exceeds-level": 2}
    essex_auditor = Principal("aud.essex", frozenset({Role.AUDITOR}), "ESSEX")
    assert [u.user for u in reports.usage(essex_auditor, DAY, DAY)] == [USERS[1]]
    assert reports.usage(national, DAY + timedelta(days=1), DAY + timedelta(days=1)) == []


def test_a_day_not_yet_begun_and_a_window_too_long_are_refused(day: Day) -> None:
    from nas.domain.errors import InvalidInput
    from nas.domain.roles import Principal, Role

    with pytest.raises(InvalidInput, match="not begun"):
        run_daily_statistics(day.ports, day=NOW.date() + timedelta(days=1), now=NOW, run_id="r")
    reports = StatisticsReports(
        lambda: day.ports.reports, day.ports.trail, day.ports.labels, clock=lambda: NOW
    )
    national = Principal("aud.nat", frozenset({Role.AUDITOR}), NATIONAL)
    with pytest.raises(InvalidInput, match="at most 31 days"):
        reports.usage(national, date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(InvalidInput, match="not be before"):
        reports.usage(national, date(2026, 1, 2), date(2026, 1, 1))
    assert len(reports.usage(national, date(2026, 1, 1), date(2026, 1, 31))) == 0
