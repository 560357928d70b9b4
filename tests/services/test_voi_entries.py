"""Single entries on moto (R-VOI, R-VOI-DEL, R-VOI-28, R-VOI-56): every change reaches matching as
one transaction; a delete stops matching at once; expiry leaves no copy behind, by the TTL stream
(in AWS) or the sweep (local mode); reviews due and the daily reminders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import catalogue
from nas.adapters.dynamo import to_item
from nas.domain.errors import NotFound
from nas.domain.roles import Principal, Role
from nas.domain.voi import VoiChanges, VoiDraft
from nas.domain.voi_lists import ListSource
from nas.settings import settings
from tests.handlers.events import FakeLambdaContext
from tests.voi_support import IMPORTS_BUCKET, VOI_TABLE, Row, VoiAccount, voi_account

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STREAM_ARN = f"arn:aws:dynamodb:eu-west-2:123456789012:table/{VOI_TABLE}/stream/2026-03-01T00:00:00.000"
KENT = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")
ESSEX = Principal.from_claims("vm.essex", [Role.VOI_MANAGER.value], "ESSEX")
NATIONAL = Principal.from_claims("vm.nat", [Role.VOI_MANAGER.value], "NATIONAL")


@pytest.fixture
def account() -> Iterator[VoiAccount]:
    with voi_account(NOW) as account:
        yield account


def draft(vrm: str = "AB12CDE", **overrides: Any) -> VoiDraft:
    values: dict[str, Any] = {
        "vrm": vrm,
        "category": "stolen",
        "action": "stop",
        "priority": 1,
        "reason": "Reported stolen, PNC 24/123456A",
        "circulation": ("KENT",),
    }
    values.update(overrides)
    return VoiDraft.model_validate(values)


def matched(account: VoiAccount, store: Any, vrm: str) -> list[str]:
    listing = store.listings({vrm}).get(vrm)
    return sorted(e.voi_id for e in listing.entries) if listing else []


def item(account: VoiAccount, vrm: str, record: str) -> dict[str, Any] | None:
    return next((i for i in account.items() if i["vrm"] == vrm and i["record"] == record), None)


def test_an_entry_is_created_read_revised_and_deleted_with_its_match_item(account: VoiAccount) -> None:
    service = account.service()
    created = service.create(KENT, draft())
    voi_id = created.entry.voi_id
    assert item(account, "AB12CDE", f"ENTRY#{voi_id}") is not None
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert set(match["entries"]) == {voi_id}

    account.clock.advance(days=3)
    changes = VoiChanges.model_validate(
        {**draft().model_dump(include=set(VoiChanges.model_fields)), "priority": 2}
    )
    revised = service.revise(KENT, voi_id, changes)
    assert revised.entry.review_due_at == account.clock.now + timedelta(days=28)
    fetched = service.get(KENT, voi_id)
    assert fetched.entry.priority == 2
    assert [r.revised_by for r in fetched.revisions] == ["vm.kent"]
    # The match item carries the revised copy, with the new expiry (its TTL).
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert '"priority":2' in match["entries"][voi_id]
    assert match["expires_at"] == int(revised.entry.expires_at.timestamp())

    service.delete(KENT, voi_id)
    assert item(account, "AB12CDE", f"ENTRY#{voi_id}") is None
    assert item(account, "AB12CDE", "MATCH") is None
    with pytest.raises(NotFound):
        service.get(KENT, voi_id)


def test_a_delete_reaches_matching_at_once(account: VoiAccount) -> None:
    service = account.service()
    voi_id = service.create(KENT, draft()).entry.voi_id
    store = account.store()  # a match environment with its state cached from here on
    assert matched(account, store, "AB12CDE") == [voi_id]
    service.delete(KENT, voi_id)
    assert matched(account, store, "AB12CDE") == []  # no refresh needed: the match item is read live


def test_a_new_entry_matches_once_the_match_path_refreshes_its_state(account: VoiAccount) -> None:
    store = account.store()
    assert matched(account, store, "NE11WWW") == []
    voi_id = account.service().create(KENT, draft("NE11WWW")).entry.voi_id
    account.monotonic.seconds += 5  # STATE_TTL_S
    assert matched(account, store, "NE11WWW") == [voi_id]


def test_entries_of_one_vrm_share_its_match_item_and_leave_it_one_by_one(account: VoiAccount) -> None:
    service = account.service()
    first = service.create(KENT, draft()).entry.voi_id
    second = service.create(ESSEX, draft(circulation=("ESSEX",))).entry.voi_id
    assert matched(account, account.store(), "AB12CDE") == sorted([first, second])
    service.delete(ESSEX, second)
    assert matched(account, account.store(), "AB12CDE") == [first]


def test_expired_entries_are_never_shown_or_revived(account: VoiAccount) -> None:
    service = account.service()
    voi_id = service.create(KENT, draft()).entry.voi_id
    account.clock.advance(days=56)
    with pytest.raises(NotFound):
        service.get(KENT, voi_id)
    assert service.by_vrm(KENT, "AB12CDE").entries == []
    changes = VoiChanges.model_validate(draft().model_dump(include=set(VoiChanges.model_fields)))
    with pytest.raises(NotFound):
        service.revise(KENT, voi_id, changes)


def test_other_forces_are_told_nothing_of_an_entry_they_may_not_see(account: VoiAccount) -> None:
    service = account.service()
    voi_id = service.create(KENT, draft(sensitive=True)).entry.voi_id
    with pytest.raises(NotFound):
        service.get(ESSEX, voi_id)
    with pytest.raises(NotFound):
        service.delete(ESSEX, voi_id)
    assert service.by_vrm(ESSEX, "AB12CDE").entries == []


def stream_event(*keys: tuple[str, str]) -> dict[str, Any]:
    """A DynamoDB stream batch of removals (KEYS_ONLY), as the event source mapping delivers it."""
    records = []
    for index, (vrm, record) in enumerate(keys):
        entry: dict[str, Any] = {
            "eventID": uuid.uuid4().hex,
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-2",
            "dynamodb": {
                "ApproximateCreationDateTime": int(NOW.timestamp()),
                "Keys": to_item({"vrm": vrm, "record": record}),
                "SequenceNumber": f"{100 + index:021d}",
                "SizeBytes": 40,
                "StreamViewType": "KEYS_ONLY",
            },
            "eventSourceARN": STREAM_ARN,
            # What marks a TTL deletion (the event source mapping's filter passes only these).
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        }
        records.append(entry)
    return {"Records": records}


@pytest.fixture
def expiry_handler(account: VoiAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-2",
        catalogue.STAGE_ENV: "test",
        catalogue.VOI.env_var: VOI_TABLE,
        catalogue.Bucket.IMPORTS.env_var: IMPORTS_BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    from handlers import voi_expiry

    settings.cache_clear()
    voi_expiry.service.cache_clear()
    yield voi_expiry.lambda_handler
    voi_expiry.service.cache_clear()
    settings.cache_clear()


def test_a_ttl_removal_rebuilds_the_match_item_so_no_copy_remains(
    account: VoiAccount, expiry_handler: Any
) -> None:
    # The handler runs on the real clock: entries are made so that at real time one has expired.
    service = account.service()
    account.clock.now = datetime.now(UTC) - timedelta(days=57)
    old = service.create(KENT, draft()).entry.voi_id
    gone = service.create(KENT, draft("GF15OLD")).entry.voi_id
    account.clock.now = datetime.now(UTC) - timedelta(days=40)  # while the first is still live
    kept = service.create(ESSEX, draft(circulation=("ESSEX",))).entry.voi_id
    # TTL removes the expired entry items; their copies in the match items stay behind...
    for vrm, voi_id in (("AB12CDE", old), ("GF15OLD", gone)):
        account.dynamodb.delete_item(
            TableName=VOI_TABLE, Key=to_item({"vrm": vrm, "record": f"ENTRY#{voi_id}"})
        )
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert old in match["entries"]

    response = expiry_handler(
        stream_event(("AB12CDE", f"ENTRY#{old}"), ("GF15OLD", f"ENTRY#{gone}")), FakeLambdaContext()
    )
    assert response == {"batchItemFailures": []}
    # ...until the stream's removal event rebuilds each match item from the entries still there.
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert set(match["entries"]) == {kept}
    assert item(account, "GF15OLD", "MATCH") is None
    directories = [i.get("vrms", set()) for i in account.items() if i["record"] == "DIRECTORY"]
    assert not any("GF15OLD" in vrms for vrms in directories)
    assert any("AB12CDE" in vrms for vrms in directories)


def test_the_expiry_handler_leaves_other_removals_alone(account: VoiAccount, expiry_handler: Any) -> None:
    voi_id = account.service().create(KENT, draft()).entry.voi_id
    # A generation's bucket expiring is not an entry: nothing to settle.
    response = expiry_handler(stream_event(("#LIST#x#0", "ROWS")), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert set(match["entries"]) == {voi_id}


def test_the_sweep_deletes_expired_entries_with_their_copies(account: VoiAccount) -> None:
    service = account.service()
    old = service.create(KENT, draft()).entry.voi_id
    account.clock.advance(days=30)
    kept = service.create(NATIONAL, draft(owner_lea="GMP", circulation=("NATIONAL",))).entry.voi_id
    account.clock.advance(days=27)
    result = service.sweep()
    assert result.entries_removed == 1
    assert item(account, "AB12CDE", f"ENTRY#{old}") is None
    match = item(account, "AB12CDE", "MATCH")
    assert match is not None
    assert set(match["entries"]) == {kept}
    assert service.sweep().entries_removed == 0


def test_reviews_list_the_owners_live_entries_overdue_first(account: VoiAccount) -> None:
    service = account.service()
    ids = []
    for day in range(5):
        ids.append(service.create(KENT, draft(f"RV{day}AAA")).entry.voi_id)
        account.clock.advance(days=7)
    service.create(ESSEX, draft("ES11XXX", circulation=("ESSEX",)))
    account.clock.advance(days=20)  # now: entries 0..3 overdue, 4 due in a day, none expired yet
    page = service.reviews(KENT, due_before=None, limit=2, start=None)
    assert [r.entry.voi_id for r in page.entries] == ids[:2]
    assert page.next_position is not None
    rest = service.reviews(KENT, due_before=None, limit=10, start=page.next_position)
    assert [r.entry.voi_id for r in rest.entries] == ids[2:4]
    ahead = service.reviews(KENT, due_before=account.clock.now + timedelta(days=2), limit=10, start=None)
    assert [r.entry.voi_id for r in ahead.entries] == ids


def test_the_daily_job_tells_each_owner_of_its_overdue_reviews(account: VoiAccount) -> None:
    service = account.service()
    overdue = [service.create(KENT, draft(f"OD{i}AAAA")).entry.voi_id for i in range(3)]
    account.lists.rows(ListSource.DVLA, [Row("DV17TAX")])  # a NATIONAL list, due with them
    account.clock.advance(days=20)
    service.create(ESSEX, draft("ES11XXX", circulation=("ESSEX",)))  # not yet due
    account.clock.advance(days=9)
    reminders = service.remind()
    assert {r.owner_lea: r.overdue for r in reminders} == {"KENT": 3, "NATIONAL": 0}
    events = account.published()
    by_owner = {e["detail"]["owner_lea"]: e for e in events}
    assert set(by_owner) == {"KENT", "NATIONAL"}
    assert {e["detail-type"] for e in events} == {"nas.voi.review-due.v1"}
    assert sorted(by_owner["KENT"]["detail"]["voi_ids"]) == sorted(overdue)
    assert [entry["source"] for entry in by_owner["NATIONAL"]["detail"]["lists"]] == ["dvla"]
