"""R-AUDIT chain and digest rules, pure: what a record's hash covers, which ids are chains, the
breaks a chain shows on its own, what a digest states and how a stored one is checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.catalogue import AUDIT_CHAINS_PER_DAY
from nas.domain import audit
from nas.domain.audit import AuditRecord, ChainId, DigestFormatError, SignedDigest

DAY = "2028-02-29"  # a leap day: days either side are computed, not assumed
CHAIN = ChainId(DAY, 3)
WRITTEN = datetime(2028, 2, 29, 12, 5, tzinfo=UTC)


def chain_of(count: int, chain: ChainId = CHAIN) -> list[AuditRecord]:
    records, prev = [], audit.GENESIS_HASH
    for seq in range(1, count + 1):
        event = {
            "at": f"{chain.day}T10:00:0{seq % 10}.000000Z",
            "user": f"u{seq}",
            "groups": [],
            "status": 200,
        }
        record = audit.chain_record(event, chain=chain, seq=seq, prev_hash=prev)
        prev = record["hash"]
        records.append(AuditRecord(record))
    return records


def with_fields(record: AuditRecord, **fields: Any) -> AuditRecord:
    return AuditRecord(dict(record.fields) | fields)


def signed(digest: audit.Digest) -> SignedDigest:
    return SignedDigest(digest, "arn:aws:kms:eu-west-2:123456789012:key/k", "ECDSA_SHA_256", b"sig")


def reasons(result: audit.ChainResult) -> list[tuple[int, str]]:
    return [(b.seq, b.reason) for b in result.breaks]


def test_parameters_as_canonical_text_hash_like_any_field() -> None:
    event = {"at": f"{DAY}T10:00:00.000000Z", "parameters": '{"limit":"5","vrm":"AB12CDE"}'}
    record = audit.chain_record(event, chain=CHAIN, seq=1, prev_hash=audit.GENESIS_HASH)
    assert audit.record_hash(record) == record["hash"]
    assert audit.record_hash(record | {"parameters": '{"limit":"6","vrm":"AB12CDE"}'}) != record["hash"]


@pytest.mark.parametrize("field", ["chain_day", "chain", "seq", "prev_hash", "at", "parameters", "status"])
def test_the_hash_covers_the_position_and_every_event_field(field: str) -> None:
    record = chain_of(1)[0].fields
    assert audit.record_hash(dict(record) | {field: "changed"}) != record["hash"]


def test_floats_and_unknown_fields_are_not_audit_values() -> None:
    with pytest.raises(TypeError, match="floats"):
        audit.chain_record({"result_count": 1.5}, chain=CHAIN, seq=1, prev_hash=audit.GENESIS_HASH)
    with pytest.raises(ValueError, match="not audit event fields"):
        audit.chain_record({"note": "x"}, chain=CHAIN, seq=1, prev_hash=audit.GENESIS_HASH)


def test_chain_ids_name_a_day_and_a_chain_of_it() -> None:
    assert str(CHAIN) == f"{DAY}/3"
    assert ChainId.parse(f"{DAY}/3") == CHAIN
    assert audit.event_id(chain_of(2)[1]) == f"{DAY}/3:2" == chain_of(2)[1].event_id
    assert len(audit.chains_of(DAY)) == AUDIT_CHAINS_PER_DAY
    for text in (f"{DAY}/{AUDIT_CHAINS_PER_DAY}", f"{DAY}/-1", f"{DAY}", "2028-02-30/1", f"{DAY}/1/2", 7):
        with pytest.raises(ValueError, match="not a chain"):
            ChainId.parse(text)


def test_an_intact_chain_shows_no_break_and_is_unanchored_without_digests() -> None:
    result = audit.verify_records(CHAIN, chain_of(4))
    assert (result.breaks, result.records) == ((), 4)
    assert result.unanchored == audit.Unanchored(str(CHAIN), 1, 4)


def test_a_chain_shows_an_altered_field_a_missing_record_and_a_wrong_link() -> None:
    records = chain_of(5)
    assert reasons(
        audit.verify_records(CHAIN, [records[0], with_fields(records[1], status=403), *records[2:]])
    ) == [(2, audit.HASH_MISMATCH)]
    assert reasons(audit.verify_records(CHAIN, [*records[:2], *records[3:]])) == [(3, audit.MISSING)]
    relinked = audit.chain_record(
        {"at": f"{DAY}T10:00:02.000000Z", "user": "u2", "groups": [], "status": 200},
        chain=CHAIN,
        seq=2,
        prev_hash="f" * 64,
    )
    assert reasons(audit.verify_records(CHAIN, [records[0], AuditRecord(relinked), *records[2:]]))[:1] == [
        (2, audit.PREV_LINK)
    ]


def test_a_record_of_another_chain_or_day_is_named() -> None:
    moved = chain_of(1, ChainId(DAY, 4))
    assert reasons(audit.verify_records(CHAIN, moved)) == [(1, audit.WRONG_CHAIN)]
    late = audit.chain_record(
        {"at": "2028-02-27T23:59:59.000000Z"}, chain=CHAIN, seq=1, prev_hash=audit.GENESIS_HASH
    )
    assert reasons(audit.verify_records(CHAIN, [AuditRecord(late)])) == [(1, audit.WRONG_DAY)]
    just_before = audit.chain_record(
        {"at": "2028-02-28T23:59:59.999999Z"}, chain=CHAIN, seq=1, prev_hash=audit.GENESIS_HASH
    )
    assert audit.verify_records(CHAIN, [AuditRecord(just_before)]).breaks == ()


def test_digests_follow_each_other_and_state_the_head() -> None:
    records = chain_of(5)
    first = audit.next_digest(CHAIN, None, records[:3], closed=False, written_at=WRITTEN, written_by="job")
    second = audit.next_digest(CHAIN, first, records[3:], closed=True, written_at=WRITTEN, written_by="job")
    assert (first.digest_seq, first.first_seq, first.last_seq, first.prev_digest_hash) == (
        1,
        1,
        3,
        audit.GENESIS_HASH,
    )
    assert (second.digest_seq, second.first_seq, second.last_seq) == (2, 4, 5)
    assert second.prev_digest_hash == first.digest_hash
    assert (second.head_seq, second.head_hash, second.closed) == (5, records[4].hash, True)
    idle = audit.next_digest(CHAIN, second, [], closed=True, written_at=WRITTEN, written_by="job")
    assert (idle.first_seq, idle.last_seq, idle.head_seq, idle.head_hash) == (6, 5, 5, records[4].hash)
    assert first.signed_message() == b"nas.audit-digest.v1\n" + first.digest_hash.encode()
    with pytest.raises(ValueError, match="already digested"):
        audit.next_digest(CHAIN, first, records[2:], closed=False, written_at=WRITTEN, written_by="job")


def test_a_digest_lists_a_seq_absent_when_it_was_written_as_null() -> None:
    records = chain_of(4)
    digest = audit.next_digest(
        CHAIN, None, [records[0], records[2]], closed=False, written_at=WRITTEN, written_by="j"
    )
    assert digest.record_hashes == (records[0].hash, None, records[2].hash)


def test_a_digest_document_round_trips_and_malformed_ones_are_refused() -> None:
    digest = audit.next_digest(CHAIN, None, chain_of(2), closed=False, written_at=WRITTEN, written_by="job")
    document = json.loads(json.dumps(signed(digest).document()))
    assert audit.parse_signed_digest(document) == signed(digest)
    broken: list[dict[str, Any]] = []
    for change in (
        {"last_seq": 3},
        {"record_hashes": ["not-a-hash", digest.record_hashes[1]]},
        {"head": {"seq": 1, "hash": digest.record_hashes[0]}},
        {"chain": 4},
        {"format": "something.else"},
        {"digest_seq": 0},
        {"closed": "yes"},
        {"extra": 1},
    ):
        altered = json.loads(json.dumps(document))
        altered["body"] |= change
        broken.append(altered)
    broken.append(document | {"signature": {"key_id": "k", "algorithm": "ECDSA_SHA_256", "value": "%%"}})
    broken.append({"body": document["body"]})
    for bad in broken:
        with pytest.raises(DigestFormatError):
            audit.parse_signed_digest(bad)


def test_records_are_compared_with_the_digest_that_signed_them() -> None:
    records = chain_of(4)
    digest = audit.next_digest(CHAIN, None, records[:3], closed=False, written_at=WRITTEN, written_by="job")
    forged = audit.chain_record(
        {"at": f"{DAY}T10:00:02.000000Z", "user": "x"}, chain=CHAIN, seq=2, prev_hash=records[0].hash
    )
    rehashed = [records[0], AuditRecord(forged)]
    result = audit.verify_records(CHAIN, rehashed, [(signed(digest), True)])
    assert reasons(result) == [(2, audit.DIGEST_MISMATCH), (3, audit.MISSING)]
    tail = audit.verify_records(CHAIN, records[:2], [(signed(digest), True)])
    assert reasons(tail) == [(3, audit.MISSING)]
    fresh = audit.verify_records(CHAIN, records, [(signed(digest), True)])
    assert (fresh.breaks, fresh.unanchored) == ((), audit.Unanchored(str(CHAIN), 4, 4))


def test_an_unsigned_digest_anchors_nothing_and_a_broken_digest_link_is_named() -> None:
    records = chain_of(4)
    first = audit.next_digest(CHAIN, None, records[:2], closed=False, written_at=WRITTEN, written_by="job")
    second = audit.next_digest(CHAIN, first, records[2:], closed=False, written_at=WRITTEN, written_by="job")
    unsigned = audit.verify_records(CHAIN, records, [(signed(first), False), (signed(second), True)])
    assert reasons(unsigned) == [(1, audit.DIGEST_SIGNATURE)]
    assert unsigned.unanchored == audit.Unanchored(str(CHAIN), 1, 2)
    skipped = audit.verify_records(CHAIN, records, [(signed(second), True)])
    assert {r for _, r in reasons(skipped)} == {audit.DIGEST_LINK}
    closed = audit.next_digest(CHAIN, None, records[:2], closed=True, written_at=WRITTEN, written_by="job")
    after = audit.verify_records(CHAIN, records[:3], [(signed(closed), True)])
    assert reasons(after) == [(3, audit.AFTER_CLOSE)]


def test_a_day_closes_a_minute_after_it_ends() -> None:
    end = datetime(2028, 3, 1, tzinfo=UTC)
    assert audit.day_end(DAY) == end
    assert not audit.closable(DAY, end + audit.CLOSE_AFTER - timedelta(microseconds=1))
    assert audit.closable(DAY, end + audit.CLOSE_AFTER)


def test_a_report_lists_at_most_its_share_of_breaks_and_counts_the_rest() -> None:
    report = audit.VerifyReport(DAY, DAY)
    many = tuple(audit.ChainBreak(str(CHAIN), n, audit.MISSING, "") for n in range(1, 251))
    report.add(audit.ChainResult(CHAIN, 250, 0, many, None, closed=False))
    assert (len(report.breaks), report.breaks_omitted, report.intact) == (
        audit.VerifyReport.MAX_BREAKS,
        50,
        False,
    )
    assert report.as_dict()["first_break"] == many[0].as_dict()
