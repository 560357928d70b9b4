"""The VOI routes through the api Lambda (SPEC §6; R-VOI, R-VOI-BULK, R-CIRC, R-AUDIT): every route
for every group, own and other LEA and NATIONAL, sensitive and not; then what each route does with
its input, what it returns and what the audit trail keeps of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from nas.adapters.import_files import incoming_key
from nas.api import wiring
from nas.console import bucket_origin
from nas.domain.roles import Principal, Role
from nas.domain.voi import VoiDraft
from nas.domain.voi_lists import ListSource
from nas.local.voi import run_load
from nas.settings import settings
from tests.api.conftest import IMPORTS_BUCKET, ApiAccount, claims
from tests.voi_support import Row, list_file

LEAS = ("KENT", "ESSEX", "NATIONAL")  # the entries' owner, another force, national users
READERS = {"operator", "voi-manager"}
MANAGERS = {"voi-manager"}
KENT_MANAGER = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")


def who(group: str, lea: str) -> dict[str, str]:
    return claims(f"{group}.{lea.lower()}", group, lea)


def entry(sensitive: bool, vrm: str = "AB12CDE") -> str:
    """A KENT entry: sensitive ones circulated to KENT alone, others nationally."""
    draft = VoiDraft.model_validate(
        {
            "vrm": vrm,
            "category": "stolen",
            "action": "stop",
            "priority": 1,
            "reason": "Reported stolen, PNC 24/123456A",
            "circulation": ("KENT",) if sensitive else ("NATIONAL",),
            "sensitive": sensitive,
        }
    )
    return wiring.services().voi.create(KENT_MANAGER, draft).entry.voi_id


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "vrm": "ab12 cde",
        "category": "stolen",
        "action": "stop",
        "priority": 1,
        "reason": "Reported stolen, PNC 24/123456A",
        "pnc_ref": "24/123456A",
        "circulation": ["KENT", "ESSEX"],
    }
    values.update(overrides)
    return values


def changes(**overrides: Any) -> dict[str, Any]:
    values = body(**overrides)
    for name in ("vrm", "source", "owner_lea"):
        values.pop(name, None)
    return values


def expected_for_entry(group: str, lea: str, sensitive: bool, *, roles: set[str], change: bool) -> int:
    if group not in roles:
        return 403
    # R-CIRC: a national entry reaches every LEA; a sensitive KENT-only entry only KENT (404 else).
    if sensitive and lea != "KENT":
        return 404
    # Managers change only their LEA's entries (NATIONAL: any they can see).
    if change and lea not in ("KENT", "NATIONAL"):
        return 403
    return 200


Case = Callable[[ApiAccount, str, str, bool], tuple[int, int]]


def get_entry(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    voi_id = entry(sensitive)
    reply = api.call("GET", f"/voi/{quote(voi_id)}", who(group, lea))
    return reply.status, expected_for_entry(group, lea, sensitive, roles=READERS, change=False)


def revise_entry(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    voi_id = entry(sensitive)
    circulation = ["KENT"] if sensitive else ["NATIONAL"]
    reply = api.call(
        "PUT", f"/voi/{voi_id}", who(group, lea), body=changes(circulation=circulation, sensitive=sensitive)
    )
    return reply.status, expected_for_entry(group, lea, sensitive, roles=MANAGERS, change=True)


def delete_entry(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    voi_id = entry(sensitive)
    reply = api.call("DELETE", f"/voi/{voi_id}", who(group, lea))
    return reply.status, expected_for_entry(group, lea, sensitive, roles=MANAGERS, change=True)


def list_entries(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    entry(sensitive, vrm="LS11TTT")
    reply = api.call("GET", "/voi", who(group, lea), query={"vrm": "LS11TTT"})
    if group not in READERS:
        return reply.status, 403
    # Entries the caller may not see are left out, not refused: 200 with what remains.
    visible = not sensitive or lea == "KENT"
    shown = {e["sensitive"] for e in reply.body["entries"]}
    assert (sensitive in shown) is visible, (group, lea, sensitive, reply.body)
    return reply.status, 200


def create_entry(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    reply = api.call("POST", "/voi", who(group, lea), body=body(sensitive=sensitive))
    if reply.status == 201:
        assert reply.body["owner_lea"] == lea
    return reply.status, 201 if group in MANAGERS else 403


def reviews(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    entry(sensitive, vrm="RV11WWW")
    reply = api.call("GET", "/voi/reviews", who(group, lea), query={"due_before": "2099-01-01T00:00:00Z"})
    if group not in MANAGERS:
        return reply.status, 403
    return reply.status, 400  # beyond 28 days ahead: refused whoever asks (bounds are checked after roles)


def request_import(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    reply = api.call(
        "POST",
        "/voi/imports",
        who(group, lea),
        body={"source": "dvla", "file_name": "dvla.csv", "rows_expected": 3},
    )
    if group not in MANAGERS:
        return reply.status, 403
    return reply.status, 201 if lea == "NATIONAL" else 403


def import_status(api: ApiAccount, group: str, lea: str, sensitive: bool) -> tuple[int, int]:
    national = Principal.from_claims("vm.nat", [Role.VOI_MANAGER.value], "NATIONAL")
    record, _ = wiring.services().voi_imports.request(national, ListSource.MIB, "mib.csv", 3)
    reply = api.call("GET", f"/voi/imports/{record.import_id}", who(group, lea))
    if group not in MANAGERS:
        return reply.status, 403
    return reply.status, 200 if lea == "NATIONAL" else 404  # others are not told it exists


ROUTES: dict[str, Case] = {
    "GET /voi/{voi_id}": get_entry,
    "PUT /voi/{voi_id}": revise_entry,
    "DELETE /voi/{voi_id}": delete_entry,
    "GET /voi?vrm=": list_entries,
    "POST /voi": create_entry,
    "GET /voi/reviews": reviews,
    "POST /voi/imports": request_import,
    "GET /voi/imports/{id}": import_status,
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_group_from_every_lea_gets_what_r_role_and_r_circ_allow(api: ApiAccount, route: str) -> None:
    wrong = []
    for group in (r.value for r in Role):
        for lea in LEAS:
            for sensitive in (False, True):
                status, expected = ROUTES[route](api, group, lea, sensitive)
                if status != expected:
                    wrong.append((group, lea, sensitive, status, expected))
    assert wrong == []


def test_a_manager_adds_an_entry_owned_by_their_lea_and_stamped_with_them(api: ApiAccount) -> None:
    reply = api.call("POST", "/voi", who("voi-manager", "KENT"), body=body())
    assert reply.status == 201, reply.body
    created = reply.body
    assert created["voi_id"].startswith("v-")
    assert (created["vrm"], created["owner_lea"], created["created_by"]) == (
        "AB12CDE",
        "KENT",
        "voi-manager.kent",
    )
    assert (created["source"], created["from_list"], created["revisions"]) == ("local", False, [])
    record = api.audit_for(reply.request_id)
    assert record["parameters"]["uses"] == {"voi_id": created["voi_id"]}
    assert record["parameters"]["arguments"]["body"]["vrm"] == "ab12 cde"
    assert record["reason"] == "Reported stolen, PNC 24/123456A"


def test_only_national_managers_name_another_owner(api: ApiAccount) -> None:
    assert (
        api.call("POST", "/voi", who("voi-manager", "NATIONAL"), body=body(owner_lea="GMP")).body["owner_lea"]
        == "GMP"
    )
    refused = api.call("POST", "/voi", who("voi-manager", "KENT"), body=body(owner_lea="ESSEX"))
    assert (refused.status, refused.body["error"]["code"]) == (403, "owner-lea-not-yours")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reason": "x" * 501}, "reason"),
        ({"circulation": ["NATIONAL", "KENT"]}, "circulation"),
        ({"circulation": ["NOWHERE"]}, "circulation.0"),
        ({"circulation": []}, "circulation"),
        ({"vrm": "!!!"}, "vrm"),
        ({"pnc_ref": "12345"}, "pnc_ref"),
        ({"source": "dvla"}, "source"),
        ({"retro_hunt_days": 8}, "retro_hunt_days"),
        ({"retro_hunt_days": 3}, "purpose"),
        ({"retro_hunt_days": 3, "purpose": "crime"}, "case_ref"),
        ({"retro_hunt_days": 3, "purpose": "hunch", "case_ref": "KENT-1"}, "purpose"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_entry_is_a_400_naming_the_field(
    api: ApiAccount, overrides: dict[str, Any], field: str
) -> None:
    reply = api.call("POST", "/voi", who("voi-manager", "KENT"), body=body(**overrides))
    assert reply.status == 400, reply.body
    assert field in reply.body["error"]["fields"][0] or field in reply.body["error"]["message"]


def test_a_revision_restarts_the_clocks_and_its_history_shows_on_get(api: ApiAccount) -> None:
    created = api.call("POST", "/voi", who("voi-manager", "KENT"), body=body()).body
    revised = api.call(
        "PUT", f"/voi/{created['voi_id']}", who("voi-manager", "NATIONAL"), body=changes(priority=3)
    )
    assert revised.status == 200, revised.body
    assert revised.body["last_revised_at"] >= created["last_revised_at"]
    fetched = api.call("GET", f"/voi/{created['voi_id']}", who("operator", "ESSEX")).body
    [revision] = fetched["revisions"]
    assert revision["revised_by"] == "voi-manager.national"
    assert revision["changes"] == {"priority": {"before": 1, "after": 3}}


def test_a_deleted_entry_is_gone(api: ApiAccount) -> None:
    created = api.call("POST", "/voi", who("voi-manager", "KENT"), body=body()).body
    reply = api.call("DELETE", f"/voi/{created['voi_id']}", who("voi-manager", "KENT"))
    assert (reply.status, reply.body) == (200, {"voi_id": created["voi_id"], "deleted": True})
    assert api.audit_for(reply.request_id)["parameters"]["uses"] == {"vrm": "AB12CDE"}
    assert api.call("GET", f"/voi/{created['voi_id']}", who("voi-manager", "KENT")).status == 404
    assert api.call("GET", "/voi", who("operator", "KENT"), query={"vrm": "AB12CDE"}).body["entries"] == []


def load_list(api: ApiAccount, source: ListSource, body_: bytes, rows: int) -> str:
    imports = wiring.services().voi_imports
    national = Principal.from_claims("vm.nat", [Role.VOI_MANAGER.value], "NATIONAL")
    record, _ = imports.request(national, source, f"{source.value}.csv", rows)
    api.s3.put_object(Bucket=IMPORTS_BUCKET, Key=incoming_key(record.import_id), Body=body_)
    plan = imports.upload_arrived(incoming_key(record.import_id))
    assert plan is not None
    assert run_load(imports.run_step, plan)
    return record.import_id


def test_list_entries_are_shown_but_change_only_by_import(api: ApiAccount) -> None:
    load_list(api, ListSource.DVLA, list_file([Row("DV17TAX")]), 1)
    load_list(api, ListSource.WHITELIST, list_file(["DV17TAX"], header="vrm"), 1)
    listed = api.call("GET", "/voi", who("voi-manager", "KENT"), query={"vrm": "dv17 tax"}).body
    assert [e["voi_id"] for e in listed["entries"]] == ["dvla:DV17TAX"]
    assert listed["entries"][0]["from_list"] is True
    assert listed["white_listed"] is True  # shown to managers (R-WHITE)
    assert (
        api.call("GET", "/voi", who("operator", "KENT"), query={"vrm": "DV17TAX"}).body["white_listed"]
        is None
    )
    assert api.call("GET", "/voi/dvla:DV17TAX", who("operator", "GMP")).status == 200
    refused = api.call("PUT", "/voi/dvla:DV17TAX", who("voi-manager", "NATIONAL"), body=changes())
    assert refused.status == 409
    assert api.call("DELETE", "/voi/dvla:DV17TAX", who("voi-manager", "NATIONAL")).status == 409


def test_an_imports_upload_url_names_the_buckets_regional_origin_the_console_may_put_to(
    api: ApiAccount,
) -> None:
    """The console's CSP allows uploads to `bucket_origin` only (never the global s3.amazonaws.com
    name, which redirects a new bucket's requests, and a browser's preflighted PUT cannot follow)."""
    created = api.call(
        "POST",
        "/voi/imports",
        who("voi-manager", "NATIONAL"),
        body={"source": "pnc", "file_name": "pnc.csv", "rows_expected": 1},
    )
    assert created.status == 201, created.body
    origin = bucket_origin(IMPORTS_BUCKET, "eu-west-2")
    assert created.body["upload_url"].startswith(f"{origin}/{incoming_key(created.body['import_id'])}?")


def test_an_import_is_requested_uploaded_and_reported_with_its_rejects(api: ApiAccount) -> None:
    manager = who("voi-manager", "NATIONAL")
    created = api.call(
        "POST", "/voi/imports", manager, body={"source": "mib", "file_name": "mib.csv", "rows_expected": 3}
    )
    assert created.status == 201, created.body
    import_id = created.body["import_id"]
    assert incoming_key(import_id) in created.body["upload_url"]
    assert created.body["status"] == "awaiting-upload"
    assert api.audit_for(created.request_id)["parameters"]["uses"] == {"import_id": import_id}

    api.s3.put_object(
        Bucket=IMPORTS_BUCKET,
        Key=incoming_key(import_id),
        Body=list_file(
            [Row("MI11BBB", category="no-insurance"), "BAD!,x,y,z,w,,NATIONAL,false", Row("MI22CCC")]
        ),
    )
    imports = wiring.services().voi_imports
    plan = imports.upload_arrived(incoming_key(import_id))
    assert plan is not None
    run_load(imports.run_step, plan)
    status = api.call("GET", f"/voi/imports/{import_id}", manager)
    assert status.status == 200
    report = status.body
    assert report["status"] == "succeeded"
    assert report["counts"] == {
        "rows": 3,
        "accepted": 2,
        "rejected": 1,
        "added": 2,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert report["rejects"] == [{"line": 3, "field": "vrm", "message": report["rejects"][0]["message"]}]
    assert report["rejects_total"] == 1
    assert report["rejects_url"]
    assert "rejects/" in report["rejects_url"]
    assert report["started_at"]
    assert report["finished_at"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"due_before": "2099-01-01T00:00:00Z"}, "due_before"),
        ({"due_before": "yesterday"}, "due_before"),
        ({"page_token": "garbage"}, "page_token"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_review_listing_bounds_are_400s(api: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = api.call("GET", "/voi/reviews", who("voi-manager", "KENT"), query=query)
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [field]


def test_reviews_list_the_managers_lea_overdue_first_with_pages(api: ApiAccount) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    wiring.install(wiring.build_services(settings(), clock=lambda: now))
    for index in range(3):
        entry(False, vrm=f"RV{index}AAAA")
    due_before = (now + timedelta(days=28)).isoformat()
    too_far = (now + timedelta(days=28, seconds=1)).isoformat()
    manager = who("voi-manager", "KENT")
    assert api.call("GET", "/voi/reviews", manager, query={"due_before": too_far}).status == 400
    page = api.call("GET", "/voi/reviews", manager, query={"due_before": due_before, "limit": "2"})
    assert page.status == 200, page.body
    assert len(page.body["reviews"]) == 2
    assert {r["overdue"] for r in page.body["reviews"]} == {False}
    more = api.call(
        "GET",
        "/voi/reviews",
        manager,
        query={"due_before": due_before, "limit": "2", "page_token": page.body["next_page_token"]},
    )
    assert sorted(r["vrm"] for r in [*page.body["reviews"], *more.body["reviews"]]) == [
        "RV0AAAA",
        "RV1AAAA",
        "RV2AAAA",
    ]
    assert more.body["next_page_token"] is None
    essex = api.call("GET", "/voi/reviews", who("voi-manager", "ESSEX"), query={"due_before": due_before})
    assert essex.body["reviews"] == []
