"""R-AUDIT: verification against hash links and signed digests names the chain and seq of every
kind of tampering, through the service (KMS Verify, as the API) and `nas audit verify` (the public
key, locally); records newer than the last digest are not yet anchored, not broken; a long range
verifies in pages that add up to one pass."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

import pytest

from nas.adapters.digests import digest_key
from nas.domain import audit
from nas.domain.audit import ChainId, parse_signed_digest
from nas.services.audit_verification import parse_verify_cursor, verify_cursor, verify_trail
from tests.services.conftest import BUCKET, NOON, TODAY, AuditAccount

CHAIN = ChainId(TODAY, 0)


def first_break(account: AuditAccount, verifier: str = "kms") -> tuple[str, int, str]:
    report = verify_trail(account.verify_ports(verifier), TODAY, TODAY)
    assert not report.intact
    found = report.breaks[0]
    return found.chain_id, found.seq, found.reason


def cli_names(account: AuditAccount, chain: ChainId, seq: int, reason: str) -> None:
    code, out = account.cli("--day", TODAY)
    assert code == 1, out
    assert f"BROKEN at {chain} seq {seq}: {reason}" in out


def test_an_untouched_digested_trail_verifies_with_both_verifiers(account: AuditAccount) -> None:
    account.append(5, chain=0)
    account.append(3, chain=5)
    account.digest()
    for verifier in ("kms", "public"):
        report = verify_trail(account.verify_ports(verifier), TODAY, TODAY)
        assert report.intact, report.breaks
        assert (report.records, report.digests, report.chains, report.unanchored) == (8, 2, 8, [])
    code, out = account.cli("--day", TODAY)
    assert code == 0
    assert "intact: 8 record(s) over 1 day(s), 2 signed digest(s); 0 record(s) not yet anchored" in out


def test_records_after_the_last_digest_are_not_yet_anchored_not_broken(account: AuditAccount) -> None:
    account.append(3, chain=2)
    account.digest()
    account.append(2, chain=2, start=NOON + timedelta(minutes=10))
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert report.intact
    assert [u.as_dict() for u in report.unanchored] == [
        {"chain_id": str(ChainId(TODAY, 2)), "first_seq": 4, "last_seq": 5}
    ]
    assert "2 record(s) not yet anchored" in account.cli("--day", TODAY)[1]


def test_a_rewritten_record_is_named(account: AuditAccount) -> None:
    account.append(4, chain=0)
    account.digest()
    account.rewrite(CHAIN, 2, status=403)
    assert first_break(account) == (str(CHAIN), 2, audit.HASH_MISMATCH)
    assert first_break(account, "public") == (str(CHAIN), 2, audit.HASH_MISMATCH)
    cli_names(account, CHAIN, 2, audit.HASH_MISMATCH)


def test_a_rewritten_record_with_its_tail_rehashed_is_named_by_the_digest(account: AuditAccount) -> None:
    account.append(5, chain=0)
    account.digest()
    account.rewrite_and_rehash(CHAIN, 3, 5, user="someone-else")
    # The chain's own links hold again: only the signed digest shows what was there.
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert {b.reason for b in report.breaks} == {audit.DIGEST_MISMATCH}
    assert [b.seq for b in report.breaks] == [3, 4, 5]
    assert first_break(account, "public") == (str(CHAIN), 3, audit.DIGEST_MISMATCH)
    cli_names(account, CHAIN, 3, audit.DIGEST_MISMATCH)


def test_a_deleted_newest_record_is_named_once_its_digest_was_written(account: AuditAccount) -> None:
    account.append(4, chain=0)
    account.digest()
    account.delete(CHAIN, 4)
    assert first_break(account) == (str(CHAIN), 4, audit.MISSING)
    cli_names(account, CHAIN, 4, audit.MISSING)


def test_a_deleted_record_between_two_is_named(account: AuditAccount) -> None:
    account.append(4, chain=0)
    account.delete(CHAIN, 2)  # before any digest: the chain alone shows it
    assert first_break(account) == (str(CHAIN), 2, audit.MISSING)


def test_an_overwritten_digest_is_named_and_its_first_version_still_checked(account: AuditAccount) -> None:
    account.append(3, chain=0)
    account.digest()
    document = account.stored_digest(CHAIN, 1)
    document["body"]["written_by"] = "someone-else"
    account.replace_digest(CHAIN, 1, document)
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert [(b.chain_id, b.seq, b.reason) for b in report.breaks] == [(str(CHAIN), 1, audit.DIGEST_REPLACED)]
    assert report.unanchored == []  # the locked first version still anchors every record
    cli_names(account, CHAIN, 1, audit.DIGEST_REPLACED)


def test_a_digest_overwritten_to_match_a_rewrite_does_not_hide_it(account: AuditAccount) -> None:
    account.append(3, chain=0)
    account.digest()
    account.rewrite_and_rehash(CHAIN, 2, 3, status=500)
    original = parse_signed_digest(account.stored_digest(CHAIN, 1)).digest
    hashes = (original.record_hashes[0], account.stored(CHAIN, 2)["hash"], account.stored(CHAIN, 3)["hash"])
    forged = replace(original, record_hashes=hashes, head_hash=hashes[-1])
    account.replace_digest(CHAIN, 1, account.signed_with(account.key, forged).document())
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert [(b.seq, b.reason) for b in report.breaks] == [
        (1, audit.DIGEST_REPLACED),
        (2, audit.DIGEST_MISMATCH),
        (3, audit.DIGEST_MISMATCH),
    ]
    cli_names(account, CHAIN, 1, audit.DIGEST_REPLACED)


def test_a_digest_signed_by_another_key_is_named(account: AuditAccount) -> None:
    account.append(3, chain=0)
    account.digest()
    account.append(2, chain=0, start=NOON + timedelta(minutes=10))  # records an impostor anchors
    first = parse_signed_digest(account.stored_digest(CHAIN, 1)).digest
    records = list(account.trail().records(CHAIN, 4))
    impostor = audit.next_digest(CHAIN, first, records, closed=False, written_at=NOON, written_by="impostor")
    account.add_digest(account.signed_with(account.other_key, impostor).document(), CHAIN, 2)
    assert first_break(account) == (str(CHAIN), 4, audit.DIGEST_SIGNATURE)
    assert first_break(account, "public") == (str(CHAIN), 4, audit.DIGEST_SIGNATURE)
    cli_names(account, CHAIN, 4, audit.DIGEST_SIGNATURE)
    # records only the impostor's digest covers are still waiting for a real one
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert [u.as_dict() for u in report.unanchored] == [
        {"chain_id": str(CHAIN), "first_seq": 4, "last_seq": 5}
    ]


def test_a_hidden_digest_does_not_hide_the_deletion_it_anchors(account: AuditAccount) -> None:
    account.append(4, chain=0)
    account.digest()
    account.delete(CHAIN, 4)
    account.s3.delete_object(Bucket=BUCKET, Key=digest_key(CHAIN, 1))  # a delete marker over it
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert [(b.chain_id, b.seq, b.reason) for b in report.breaks] == [
        (str(CHAIN), 1, audit.DIGEST_REPLACED),
        (str(CHAIN), 4, audit.MISSING),
    ]
    cli_names(account, CHAIN, 1, audit.DIGEST_REPLACED)


def test_a_digest_that_is_not_json_is_reported_not_skipped(account: AuditAccount) -> None:
    account.append(2, chain=0)
    account.digest()
    account.add_digest(b"{", CHAIN, 2)
    chain_id, _, reason = first_break(account)
    assert (chain_id, reason) == (str(CHAIN), audit.DIGEST_FORMAT)


def test_a_signature_of_garbage_bytes_does_not_verify(account: AuditAccount) -> None:
    account.append(2, chain=0)
    account.digest()
    account.append(1, chain=0, start=NOON + timedelta(minutes=10))
    first = parse_signed_digest(account.stored_digest(CHAIN, 1)).digest
    second = audit.next_digest(
        CHAIN, first, list(account.trail().records(CHAIN, 3)), closed=False, written_at=NOON, written_by="x"
    )
    document = account.signed_with(account.key, second).document()
    document["signature"]["value"] = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
    account.add_digest(document, CHAIN, 2)
    assert first_break(account, "public") == (str(CHAIN), 3, audit.DIGEST_SIGNATURE)
    assert first_break(account) == (str(CHAIN), 3, audit.DIGEST_SIGNATURE)


def test_a_record_appended_to_a_closed_chain_is_named(account: AuditAccount) -> None:
    yesterday = NOON - timedelta(days=1)
    day = ChainId(audit.previous_day(TODAY), 1)
    account.append(2, chain=1, start=yesterday)
    account.digest()  # today: yesterday has ended, so its chains are closed
    account.append(1, chain=1, start=yesterday + timedelta(hours=11))  # a late writer's record
    report = verify_trail(account.verify_ports(), day.day, TODAY)
    assert [(b.chain_id, b.seq, b.reason) for b in report.breaks] == [(str(day), 3, audit.AFTER_CLOSE)]


@pytest.mark.parametrize("verifier", ["kms", "public"])
def test_verification_in_pages_adds_up_to_one_pass(account: AuditAccount, verifier: str) -> None:
    for chain in (0, 3, 7):
        account.append(4, chain=chain)
    account.digest()
    account.append(2, chain=3, start=NOON + timedelta(minutes=10))
    account.rewrite(ChainId(TODAY, 3), 2, status=418)
    account.delete(ChainId(TODAY, 7), 4)
    first_day = audit.previous_day(TODAY)
    whole = verify_trail(account.verify_ports(verifier), first_day, TODAY)

    pages, records, breaks, resume = 0, 0, [], None
    while True:
        budget = iter([False, False, True])  # two steps and a third that stops
        page = verify_trail(
            account.verify_ports(verifier),
            first_day,
            TODAY,
            resume=resume,
            should_stop=lambda budget=budget: next(budget, True),  # type: ignore[misc]
        )
        pages += 1
        records += page.records
        breaks += page.breaks
        cursor = verify_cursor(page)
        if cursor is None:
            break
        resume = parse_verify_cursor(cursor, first_day, TODAY)
        assert pages < 100
    assert pages > 5
    assert records == whole.records == 13  # 14 appended, one deleted
    assert sorted(breaks, key=str) == sorted(whole.breaks, key=str)
    assert {(b.chain_id, b.seq) for b in whole.breaks} >= {(f"{TODAY}/3", 2), (f"{TODAY}/7", 4)}


@pytest.mark.parametrize(
    "cursor",
    [
        {"from": TODAY, "to": TODAY, "day": TODAY, "chain": 8, "seq": 1, "digest_seq": 0},
        {"from": TODAY, "to": TODAY, "day": "2001-01-01", "chain": 0, "seq": 1, "digest_seq": 0},
        {"from": TODAY, "to": TODAY, "day": TODAY, "chain": 0, "seq": 0, "digest_seq": 0},
        {"from": TODAY, "to": TODAY, "day": TODAY, "chain": 0, "seq": 1, "digest_seq": -1},
        {"from": TODAY, "to": TODAY, "day": TODAY, "chain": True, "seq": 1, "digest_seq": 0},
        {"from": "2001-01-01", "to": TODAY, "day": TODAY, "chain": 0, "seq": 1, "digest_seq": 0},
        {"from": TODAY, "to": TODAY, "day": TODAY, "chain": 0, "seq": 1},
    ],
)
def test_a_verify_cursor_of_another_range_or_malformed_is_refused(cursor: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="page token"):
        parse_verify_cursor(cursor, TODAY, TODAY)
