"""The subject-requests table (R-SAR, docs/data-model.md): one item per request, changed only by a
conditional update of the attributes the api may write (catalogue.SUBJECT_REQUEST_UPDATE_ATTRIBUTES),
never deleted. `restriction` exists only while a restriction is in force, so the sparse by-restriction
index is the list of VRMs every search excludes."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from nas import catalogue
from nas.adapters import StoreConflict, store_call
from nas.adapters.dynamo import from_item, query_items, to_item
from nas.domain.subject_requests import (
    Decision,
    RequestKind,
    RequestStatus,
    Restriction,
    SubjectRequest,
)
from nas.domain.timefmt import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Cursor = tuple[str, str]
"""(due_date, request_id) of the last request of a page."""


class RequestChanged(StoreConflict):
    """The request changed between its read and this update."""


class RestrictionList(Protocol):
    def restricted_vrms(self) -> list[str]:
        """The VRMs under a restriction in force (R-SAR)."""
        ...


@dataclass(frozen=True, slots=True)
class RequestListing:
    requests: list[SubjectRequest]
    next_cursor: Cursor | None


class SubjectRequestStore(RestrictionList, Protocol):
    def put_new(self, request: SubjectRequest) -> None: ...

    def get(self, request_id: str) -> SubjectRequest | None: ...

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """Writes the request's changeable state if its stored version is `request.version`; returns
        it with the next version. RequestChanged otherwise."""
        ...

    def update_outcome(self, request: SubjectRequest) -> SubjectRequest:
        """As `update`, writing the outcome (and version) only: the erasure function's one change
        (catalogue.SUBJECT_REQUEST_OUTCOME_ATTRIBUTES)."""
        ...

    def listing(
        self, status: RequestStatus, *, due_before: date | None, limit: int, cursor: Cursor | None
    ) -> RequestListing:
        """Requests of a status, soonest due first; with `due_before`, only those due before it."""
        ...


def request_item(request: SubjectRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "kind": request.kind.value,
        "vrm": request.vrm,
        "received_at": iso_utc(request.received_at),
        "due_date": request.due.isoformat(),
        "requester_ref": request.requester_ref,
        "notes": request.notes,
        "created_by": request.created_by,
        "created_at": iso_utc(request.created_at),
        "entry_salt": request.entry_salt,
        **_changeable(request),
    }


def _changeable(request: SubjectRequest) -> dict[str, Any]:
    r = request.restriction
    return {
        "status": request.status.value,
        "decision": request.decision.value if request.decision else None,
        "decided_at": iso_utc(request.decided_at) if request.decided_at else None,
        "decided_by": request.decided_by,
        "decision_reason": request.decision_reason,
        "exemption": request.exemption,
        "outcome": json.dumps(request.outcome, sort_keys=True, separators=(",", ":")),
        "restriction": catalogue.RESTRICTION_IN_FORCE if r.in_force else None,
        "lifted_at": iso_utc(r.lifted_at) if r.lifted_at else None,
        "lifted_by": r.lifted_by,
        "lift_reason": r.lift_reason,
        "system_search": json.dumps(request.system_search) if request.system_search is not None else None,
        "withheld_reads": json.dumps([list(k) for k in request.withheld_reads])
        if request.withheld_reads
        else None,
        "version": request.version,
    }


def request_of(item: dict[str, Any]) -> SubjectRequest:
    def instant(name: str) -> datetime | None:
        value = item.get(name)
        return datetime.fromisoformat(value) if value else None

    search = item.get("system_search")
    return SubjectRequest(
        request_id=item["request_id"],
        kind=RequestKind(item["kind"]),
        vrm=item["vrm"],
        received_at=datetime.fromisoformat(item["received_at"]),
        due=date.fromisoformat(item["due_date"]),
        requester_ref=item["requester_ref"],
        notes=item.get("notes", ""),
        created_by=item["created_by"],
        created_at=datetime.fromisoformat(item["created_at"]),
        entry_salt=item["entry_salt"],
        status=RequestStatus(item["status"]),
        decision=Decision(item["decision"]) if item.get("decision") else None,
        decided_at=instant("decided_at"),
        decided_by=item.get("decided_by"),
        decision_reason=item.get("decision_reason"),
        exemption=item.get("exemption"),
        outcome=json.loads(item.get("outcome") or "{}"),
        restriction=Restriction(
            in_force=item.get("restriction") == catalogue.RESTRICTION_IN_FORCE,
            lifted_at=instant("lifted_at"),
            lifted_by=item.get("lifted_by"),
            lift_reason=item.get("lift_reason"),
        ),
        version=int(item.get("version", 0)),
        system_search=json.loads(search) if search else None,
        withheld_reads=tuple((c, r) for c, r in json.loads(item.get("withheld_reads") or "[]")),
    )


class InMemorySubjectRequestStore:
    def __init__(self) -> None:
        self.requests: dict[str, SubjectRequest] = {}

    def put_new(self, request: SubjectRequest) -> None:
        if request.request_id in self.requests:
            raise RequestChanged(f"request {request.request_id} exists")
        self.requests[request.request_id] = request

    def get(self, request_id: str) -> SubjectRequest | None:
        return self.requests.get(request_id)

    def update(self, request: SubjectRequest) -> SubjectRequest:
        stored = self.requests.get(request.request_id)
        if stored is None or stored.version != request.version:
            raise RequestChanged(f"request {request.request_id} changed meanwhile")
        updated = replace(request, version=request.version + 1)
        self.requests[request.request_id] = updated
        return updated

    def update_outcome(self, request: SubjectRequest) -> SubjectRequest:
        stored = self.requests.get(request.request_id)
        if stored is None:
            raise RequestChanged(f"request {request.request_id} is not stored")
        return self.update(replace(stored, outcome=request.outcome, version=request.version))

    def listing(
        self, status: RequestStatus, *, due_before: date | None, limit: int, cursor: Cursor | None
    ) -> RequestListing:
        found = sorted(
            (
                r
                for r in self.requests.values()
                if r.status is status and (due_before is None or r.due < due_before)
            ),
            key=lambda r: (r.due.isoformat(), r.request_id),
        )
        if cursor is not None:
            found = [r for r in found if (r.due.isoformat(), r.request_id) > cursor]
        page = found[:limit]
        more = len(found) > limit
        return RequestListing(page, (page[-1].due.isoformat(), page[-1].request_id) if more else None)

    def restricted_vrms(self) -> list[str]:
        return sorted({r.vrm for r in self.requests.values() if r.restriction.in_force})


class DynamoSubjectRequestStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_new(self, request: SubjectRequest) -> None:
        with store_call("subject-requests PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(request_item(request)),
                    ConditionExpression="attribute_not_exists(request_id)",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                raise RequestChanged(f"request {request.request_id} exists") from None

    def get(self, request_id: str) -> SubjectRequest | None:
        with store_call("subject-requests GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({"request_id": request_id}), ConsistentRead=True
            ).get("Item")
        return request_of(from_item(item)) if item else None

    def update(self, request: SubjectRequest) -> SubjectRequest:
        return self._update(request, catalogue.SUBJECT_REQUEST_UPDATE_ATTRIBUTES)

    def update_outcome(self, request: SubjectRequest) -> SubjectRequest:
        return self._update(request, catalogue.SUBJECT_REQUEST_OUTCOME_ATTRIBUTES)

    def _update(self, request: SubjectRequest, attributes: tuple[str, ...]) -> SubjectRequest:
        updated = replace(request, version=request.version + 1)
        values = {n: v for n, v in _changeable(updated).items() if n in attributes}
        names = {f"#{n}": n for n in values}
        sets = [f"#{n} = :{n}" for n, v in values.items() if v is not None]
        removes = [f"#{n}" for n, v in values.items() if v is None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        attribute_values = {f":{n}": v for n, v in values.items() if v is not None}
        attribute_values[":expected"] = request.version
        with store_call("subject-requests UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"request_id": request.request_id}),
                    UpdateExpression=expression,
                    ConditionExpression="#version = :expected",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_item(attribute_values),
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                raise RequestChanged(f"request {request.request_id} changed meanwhile") from None
        return updated

    def listing(
        self, status: RequestStatus, *, due_before: date | None, limit: int, cursor: Cursor | None
    ) -> RequestListing:
        condition = "#s = :s"
        values: dict[str, Any] = {":s": status.value}
        if due_before is not None:
            condition += " AND due_date < :before"
            values[":before"] = due_before.isoformat()
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by-status",
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
        start = (
            {"status": status.value, "due_date": cursor[0], "request_id": cursor[1]}
            if cursor is not None
            else None
        )
        found: list[SubjectRequest] = []
        with store_call("subject-requests Query by-status"):
            for item in query_items(self._client, request, start):
                found.append(request_of(item))
                if len(found) > limit:
                    break
        page = found[:limit]
        more = len(found) > limit
        return RequestListing(page, (page[-1].due.isoformat(), page[-1].request_id) if more else None)

    def restricted_vrms(self) -> list[str]:
        request = {
            "TableName": self._table,
            "IndexName": "by-restriction",
            "KeyConditionExpression": "#r = :r",
            "ExpressionAttributeNames": {"#r": "restriction"},
            "ExpressionAttributeValues": to_item({":r": catalogue.RESTRICTION_IN_FORCE}),
        }
        with store_call("subject-requests Query by-restriction"):
            return sorted({item["vrm"] for item in query_items(self._client, request)})
