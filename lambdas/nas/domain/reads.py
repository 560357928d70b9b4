"""Turning the bytes of one Kinesis record into an accepted read, or a reason to quarantine it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from nas.domain import policy
from nas.domain.errors import FieldProblem, FieldRuleError, ReadRejected
from nas.domain.models import Camera, Location, Read

# Reason codes written with quarantined records; stable, because replay tooling selects on them.
NOT_JSON = "not-json"
NOT_AN_OBJECT = "not-an-object"
INVALID_FIELDS = "invalid-fields"
CLOCK_FAULT = "clock-fault"
BEYOND_RETENTION = "beyond-retention"
UNKNOWN_CAMERA = "unknown-camera"
CAMERA_INACTIVE = "camera-inactive"
CAMERA_LEA_MISMATCH = "camera-lea-mismatch"


@dataclass(frozen=True, slots=True)
class AcceptedRead:
    read: Read
    timeliness: policy.Timeliness

    @property
    def raises_live_alerts(self) -> bool:
        return self.timeliness is policy.Timeliness.LIVE


def problems_of(error: ValidationError) -> tuple[FieldProblem, ...]:
    """One problem per pydantic error, with the field as a dotted path (`location.lat`); a
    model-level rule is reported against the record (`$`)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in item["loc"])
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, FieldRuleError):
            path = ".".join(filter(None, (path, cause.field)))
        problems.append(FieldProblem(field=path or "$", message=item["msg"]))
    return tuple(problems)


def _reason_for(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return NOT_JSON
    if first["loc"] == () and first["type"] == "model_type":
        return NOT_AN_OBJECT
    return INVALID_FIELDS


def parse_read(data: bytes, *, now: datetime) -> AcceptedRead:
    """Validates one record (R-READ) and classifies it in time (R-LATE).

    Raises only `ReadRejected`, whatever the bytes.
    """
    try:
        # Strict JSON-mode validation: no coercion ("5" is not an int), strings allowed only where
        # JSON has no type of its own (timestamps, enums).
        read = Read.model_validate_json(data)
    except ValidationError as exc:
        raise ReadRejected(_reason_for(exc), problems_of(exc)) from None
    timeliness = policy.capture_timeliness(read.captured_at, now)
    if timeliness is policy.Timeliness.FUTURE:
        raise ReadRejected(
            CLOCK_FAULT, (FieldProblem("captured_at", "more than 5 minutes ahead of the service clock"),)
        )
    if timeliness is policy.Timeliness.EXPIRED:
        raise ReadRejected(
            BEYOND_RETENTION, (FieldProblem("captured_at", "older than the 365-day retention (R-RET-365)"),)
        )
    return AcceptedRead(read=read, timeliness=timeliness)


def check_camera(read: Read, camera: Camera | None) -> Camera:
    """R-CAMERA and R-READ `lea`: the camera must be registered, active, and owned by the read's LEA.
    Returns the camera, so callers hold a checked one."""
    if camera is None:
        raise ReadRejected(UNKNOWN_CAMERA, (FieldProblem("camera_id", "camera is not registered"),))
    if not camera.active:
        raise ReadRejected(CAMERA_INACTIVE, (FieldProblem("camera_id", "camera is registered as inactive"),))
    if camera.lea != read.lea:
        problem = FieldProblem("lea", f"camera {read.camera_id} is registered to another LEA")
        raise ReadRejected(CAMERA_LEA_MISMATCH, (problem,))
    return camera


def read_location(read: Read, camera: Camera) -> Location:
    """Where the read happened: its own position for mobile cameras, else the camera's registered site."""
    return read.location or Location(lat=camera.lat, lon=camera.lon)
