"""`GET /reports/retention` (R-RET-367, R-RET-365): the latest signed retention statement, for
auditors and the data protection officer, with its signature checked against the retention key.
It holds no personal data: object keys name days, shards and sequence numbers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.errors import BadRequest
from nas.api.wiring import services
from nas.domain import audit
from nas.domain.roles import Role

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

DATE: dict[str, Any] = {"json_schema_extra": {"format": "date"}, "max_length": 10}


class OldestView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str | None
    stored_at: str
    age_days: str
    key_day: str | None


class DeletedView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    versions: int
    bytes: int
    keys: list[str]
    keys_omitted: int
    failures: int


class PrefixView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str
    prefix: str
    holds: str
    versions_listed: int
    oldest: OldestView | None
    deleted: DeletedView


class RetentionStatementView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    statement_key: str
    signature_valid: bool
    signing_key_id: str
    as_of: str
    written_at: str
    written_by: str
    keep_for_days: int
    within_retention: bool
    oldest_age_days: str | None
    prefixes: list[PrefixView]


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not audit.in_range(day):
        raise BadRequest("date", "must be a date YYYY-MM-DD")
    return day


@router.get(
    "/reports/retention",
    summary="The latest signed retention statement (R-RET-367): oldest object held and objects deleted,"
    " by prefix; its signature checked",
    responses=responses("the statement", RetentionStatementView, 404),
)
@requires(Role.AUDITOR, Role.DPO)
def retention_statement(
    day: Annotated[
        str | None,
        Query(
            alias="date", description="the latest statement of this UTC day; default the last 31 days", **DATE
        ),
    ] = None,
) -> RetentionStatementView:
    found = services().retention.latest(state.principal(), _day(day))
    state.used(result_count=1, statement=found.key)
    return RetentionStatementView.model_validate(
        dict(found.signed.body)
        | {
            "statement_key": found.key,
            "signature_valid": found.signature_valid,
            "signing_key_id": found.signed.key_id,
        }
    )
