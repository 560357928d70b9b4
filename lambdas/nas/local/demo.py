"""`nas local --demo`: cameras in three forces, VOI entries of every kind the match path treats
differently, one user per R-ROLE group, and the camera simulator sending reads with hits."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nas import catalogue
from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.import_files import S3ImportFiles, incoming_key
from nas.adapters.voi import DynamoVoiStore
from nas.adapters.voi_lists import DynamoListStore
from nas.domain.leas import NATIONAL
from nas.domain.models import Camera, CameraSource, VoiEntry
from nas.domain.policy import voi_expires_at, voi_review_due_at
from nas.domain.roles import Principal, Role
from nas.domain.voi_lists import CIRCULATION_SEPARATOR, LIST_COLUMNS, ListSource
from nas.local.names import LocalNames
from nas.local.voi import run_load
from nas.services.voi_imports import VoiImportService
from nas.simulator import KinesisSender, ReadGenerator, ReadMix, RunResult, run_paced

log = logging.getLogger(__name__)

CAMERAS = (
    Camera(
        camera_id="KENT-A2-001", lea="KENT", lat=51.2798, lon=1.0789, source=CameraSource.STATIC, active=True
    ),
    Camera(
        camera_id="KENT-M20-J9",
        lea="KENT",
        lat=51.1605,
        lon=0.8617,
        source=CameraSource.MULTI_LANE,
        active=True,
    ),
    Camera(
        camera_id="KENT-MOB-07", lea="KENT", lat=51.3700, lon=0.5200, source=CameraSource.MOBILE, active=True
    ),
    Camera(
        camera_id="ESSEX-A12-004",
        lea="ESSEX",
        lat=51.7356,
        lon=0.4685,
        source=CameraSource.STATIC,
        active=True,
    ),
    Camera(
        camera_id="ESSEX-CCTV-12", lea="ESSEX", lat=51.5459, lon=0.7077, source=CameraSource.CCTV, active=True
    ),
    Camera(
        camera_id="GMP-M60-J18", lea="GMP", lat=53.5390, lon=-2.2830, source=CameraSource.STATIC, active=True
    ),
    Camera(
        camera_id="GMP-OLD-01", lea="GMP", lat=53.4808, lon=-2.2426, source=CameraSource.STATIC, active=False
    ),
)

# National roles see every LEA's data; the others belong to a force.
NATIONAL_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.DPO, Role.ANALYST})
ROLE_LEA = {role: (NATIONAL if role in NATIONAL_ROLES else "KENT") for role in Role}
SECOND_OPERATOR = ("operator-essex", "ESSEX")
DEMO_RATE = 5.0
DEMO_MIX = ReadMix(hit_rate=0.05, bad_rate=0.02, late_rate=0.01, duplicate_rate=0.01)


def demo_password(username: str) -> str:
    """Local demo accounts only (moto, loopback): predictable so the README can name them."""
    return f"local-demo-{username}-pw"


@dataclass(frozen=True, slots=True)
class VoiSpec:
    voi_id: str
    vrm: str
    source: str
    category: str
    action: str
    circulation: tuple[str, ...]
    owner_lea: str
    revised_days_ago: float
    white_listed: bool = False
    priority: int = 2
    reason: str = "Demo entry for local mode"

    @property
    def from_list(self) -> bool:
        return self.source in BULK_LIST_SOURCES


# DVLA and MIB entries come only from bulk lists: the demo imports them (as a NATIONAL manager) with
# the import service, so their ids are `<source>:<vrm>` and their revision is the import's.
BULK_LIST_SOURCES = frozenset({"dvla", "mib"})
VOI = (
    VoiSpec("demo-kent-stolen", "KN19ABC", "pnc", "stolen", "stop", ("KENT",), "KENT", 1, priority=1),
    VoiSpec(
        "demo-essex-observe", "EX68RTY", "local", "intelligence", "observe", ("ESSEX", "KENT"), "ESSEX", 3
    ),
    VoiSpec("demo-national-wanted", "MA21XYZ", "pnc", "wanted", "stop", (NATIONAL,), "GMP", 2, priority=1),
    VoiSpec("mib:LB70DEF", "LB70DEF", "mib", "no-insurance", "report", (NATIONAL,), NATIONAL, 0, priority=3),
    VoiSpec("demo-expired", "GF15OLD", "pnc", "stolen", "stop", (NATIONAL,), "KENT", 60),
    VoiSpec("dvla:DV17TAX", "DV17TAX", "dvla", "no-tax", "report", (NATIONAL,), NATIONAL, 0, priority=3),
    VoiSpec(
        "dvla:WL20OKY",
        "WL20OKY",
        "dvla",
        "no-tax",
        "report",
        (NATIONAL,),
        NATIONAL,
        0,
        white_listed=True,
        priority=3,
        reason="Taxed via a fleet exemption: white-listed twin of a DVLA row",
    ),
)
NATIONAL_MANAGER = ("voi-manager-national", NATIONAL)
"""Bulk lists are national: only a NATIONAL voi-manager imports them (`nas voi import`)."""


def voi_entry(spec: VoiSpec, now: datetime, created_by: str) -> VoiEntry:
    revised = now - timedelta(days=spec.revised_days_ago)
    return VoiEntry.model_validate(
        {
            "voi_id": spec.voi_id,
            "vrm": spec.vrm,
            "source": spec.source,
            "category": spec.category,
            "action": spec.action,
            "priority": spec.priority,
            "reason": spec.reason,
            "circulation": spec.circulation,
            "owner_lea": spec.owner_lea,
            "created_by": created_by,
            "created_at": revised,
            "last_revised_at": revised,
            "review_due_at": voi_review_due_at(revised),
            "expires_at": voi_expires_at(revised),
        },
        strict=False,
    )


def list_csv(source: ListSource, specs: list[VoiSpec]) -> bytes:
    """A bulk list file in the import format (docs/voi-lists.md)."""
    lines = [",".join(LIST_COLUMNS)]
    for spec in specs:
        circulation = CIRCULATION_SEPARATOR.join(spec.circulation)
        reason = spec.reason.replace('"', "'")
        lines.append(
            f'{spec.vrm},{spec.category},{spec.action},{spec.priority},"{reason}",,{circulation},false'
        )
    if source is ListSource.WHITELIST:
        lines = ["vrm", *(spec.vrm for spec in specs)]
    return ("\n".join(lines) + "\n").encode()


def load_lists(client: Callable[[str], Any], names: LocalNames, *, now: datetime) -> None:
    """Imports the demo's DVLA, MIB and white lists with the import service, step by step, as the
    state machine would (local mode's runner is not started yet)."""
    dynamodb = client("dynamodb")
    service = VoiImportService(
        DynamoListStore(dynamodb, names.table(catalogue.VOI)),
        S3ImportFiles(client("s3"), names.bucket(catalogue.Bucket.IMPORTS)),
        clock=lambda: now,
    )
    manager = Principal.from_claims(f"{NATIONAL_MANAGER[0]}", [Role.VOI_MANAGER.value], NATIONAL)
    white = [s for s in VOI if s.white_listed]
    lists = {
        ListSource.DVLA: [s for s in VOI if s.source == "dvla"],
        ListSource.MIB: [s for s in VOI if s.source == "mib"],
        ListSource.WHITELIST: white,
    }
    s3 = client("s3")
    for source, specs in lists.items():
        body = list_csv(source, specs)
        record, _ = service.request(manager, source, f"demo-{source.value}.csv", len(specs))
        s3.put_object(
            Bucket=names.bucket(catalogue.Bucket.IMPORTS), Key=incoming_key(record.import_id), Body=body
        )
        plan = service.upload_arrived(incoming_key(record.import_id))
        if plan is None or not run_load(service.run_step, plan):
            raise RuntimeError(f"the demo {source.value} list did not load")
        service.clean_up(record.import_id)


def seed(
    client: Callable[[str], Any], names: LocalNames, user_pool_id: str, *, now: datetime
) -> dict[str, Any]:
    """Loads the demo data (idempotent, so --reuse may run it again); returns the `demo` section."""
    dynamodb = client("dynamodb")
    DynamoCameraRegistry(dynamodb, names.table(catalogue.CAMERAS)).put_many(CAMERAS)
    store = DynamoVoiStore(dynamodb, names.table(catalogue.VOI))
    entries = [voi_entry(spec, now, created_by=f"{Role.VOI_MANAGER.value}-kent") for spec in VOI]
    for spec, entry in zip(VOI, entries, strict=True):
        if not spec.from_list:
            store.put(entry, now=now)
    load_lists(client, names, now=now)

    cognito = client("cognito-idp")
    users: dict[str, dict[str, str]] = {}
    for role in Role:
        lea = ROLE_LEA[role]
        username = f"{role.value}-{lea.lower()}"
        users[role.value] = create_user(cognito, user_pool_id, username, role, lea)
    other = [
        {
            **create_user(cognito, user_pool_id, SECOND_OPERATOR[0], Role.OPERATOR, SECOND_OPERATOR[1]),
            "group": Role.OPERATOR.value,
        },
        {
            **create_user(cognito, user_pool_id, NATIONAL_MANAGER[0], Role.VOI_MANAGER, NATIONAL_MANAGER[1]),
            "group": Role.VOI_MANAGER.value,
        },
    ]
    return {
        "users": users,
        "other_users": other,
        "cameras": [
            {"camera_id": c.camera_id, "lea": c.lea, "source": c.source.value, "active": c.active}
            for c in CAMERAS
        ],
        "voi": [
            {**entry.model_dump(mode="json"), "white_listed": spec.white_listed}
            for spec, entry in zip(VOI, entries, strict=True)
        ],
    }


def create_user(cognito: Any, pool_id: str, username: str, role: Role, lea: str) -> dict[str, str]:
    password = demo_password(username)
    with contextlib.suppress(cognito.exceptions.UsernameExistsException):  # --reuse: set it again
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=[{"Name": catalogue.LEA_CLAIM, "Value": lea}],
            MessageAction="SUPPRESS",
        )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role.value)
    return {"username": username, "password": password, "lea": lea}


class Simulator(threading.Thread):
    """`nas simulate`'s generator, sender and pacing in a thread until stopped."""

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        *,
        hit_vrms: list[str],
        rate: float = DEMO_RATE,
        mix: ReadMix = DEMO_MIX,
        duration_s: float = 7 * 24 * 3600.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(name="simulator", daemon=True)
        self._stop_event = threading.Event()
        self._generator = ReadGenerator(
            CAMERAS,
            hit_vrms,
            random.Random(seed),  # noqa: S311 - test data, not secrets
            lambda: datetime.now(UTC),
            mix=mix,
        )
        self._sender = KinesisSender(kinesis, stream)
        self._rate = rate
        self._duration_s = duration_s
        self.result: RunResult | None = None

    def _sleep(self, seconds: float) -> None:
        if self._stop_event.wait(seconds):
            raise KeyboardInterrupt  # run_paced's way to stop early and report what it sent

    def run(self) -> None:
        try:
            self.result = run_paced(
                self._generator, self._sender, rate=self._rate, duration_s=self._duration_s, sleep=self._sleep
            )
        except Exception:  # the stream refused the puts (its memory budget spent) or moto went away
            log.exception("the demo simulator stopped")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    @property
    def sent(self) -> int:
        return self._generator.tally.reads + self._generator.tally.bad + self._generator.tally.duplicates
