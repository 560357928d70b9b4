"""R-AUDIT digest job: each chain's new records are signed into the Object Lock evidence bucket,
digests chain to each other, a day that ended is closed chain by chain, a chain whose latest digest
does not verify is left alone and reported, and a run stopped early loses nothing."""

from __future__ import annotations

from datetime import timedelta

from nas.adapters.digests import digest_key
from nas.domain import audit
from nas.domain.audit import ChainId, parse_signed_digest
from nas.services.audit_verification import verify_trail
from tests.services.conftest import BUCKET, NOON, RETENTION, TODAY, AuditAccount

YESTERDAY = audit.previous_day(TODAY)


def test_a_digest_lists_every_new_record_and_the_head_and_is_locked(account: AuditAccount) -> None:
    records = account.append(3, chain=4)
    now = NOON + timedelta(minutes=5)
    run = account.digest(now)
    chain = ChainId(TODAY, 4)
    assert (str(chain), 1, 3, False) in run.written
    stored = account.s3.head_object(Bucket=BUCKET, Key=digest_key(chain, 1))
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    assert stored["ObjectLockRetainUntilDate"] >= now + RETENTION - timedelta(seconds=1)
    digest = parse_signed_digest(account.stored_digest(chain, 1)).digest
    assert digest.record_hashes == tuple(r.hash for r in records)
    assert (digest.head_seq, digest.head_hash) == (3, records[-1].hash)
    assert digest.prev_digest_hash == audit.GENESIS_HASH
    assert digest.written_by == "arn:aws:lambda:test:digest"


def test_the_next_digest_covers_only_new_records_and_links_to_the_last(account: AuditAccount) -> None:
    chain = ChainId(TODAY, 1)
    account.append(2, chain=1)
    account.digest()
    assert not [w for w in account.digest(NOON + timedelta(minutes=10)).written if w[0] == str(chain)]
    later = account.append(2, chain=1, start=NOON + timedelta(minutes=11))
    run = account.digest(NOON + timedelta(minutes=15))
    assert (str(chain), 2, 2, False) in run.written
    first = parse_signed_digest(account.stored_digest(chain, 1)).digest
    second = parse_signed_digest(account.stored_digest(chain, 2)).digest
    assert second.prev_digest_hash == first.digest_hash
    assert (second.first_seq, second.last_seq) == (3, 4)
    assert second.record_hashes == tuple(r.hash for r in later)


def test_a_day_that_ended_is_closed_on_every_chain_once(account: AuditAccount) -> None:
    account.append(2, chain=6, start=NOON - timedelta(days=1))
    run = account.digest(NOON)
    closed = {chain for chain, _, _, is_closed in run.written if is_closed}
    assert {str(c) for c in audit.chains_of(YESTERDAY)} <= closed
    assert not [w for w in account.digest(NOON + timedelta(minutes=5)).written if w[0].startswith(YESTERDAY)]
    idle = parse_signed_digest(account.stored_digest(ChainId(YESTERDAY, 0), 1)).digest
    assert (idle.closed, idle.record_hashes, idle.head_seq) == (True, (), 0)
    report = verify_trail(account.verify_ports(), YESTERDAY, YESTERDAY)
    assert report.intact
    assert (report.records, report.unanchored) == (2, [])


def test_the_day_is_not_closed_before_its_last_appends_can_have_landed(account: AuditAccount) -> None:
    midnight = audit.day_end(YESTERDAY)
    run = account.digest(midnight + audit.CLOSE_AFTER - timedelta(microseconds=1))
    assert not [w for w in run.written if w[3] and w[0].startswith(YESTERDAY)]
    run = account.digest(midnight + audit.CLOSE_AFTER)
    assert len([w for w in run.written if w[3] and w[0].startswith(YESTERDAY)]) == 8


def test_a_chain_whose_latest_digest_does_not_verify_is_not_extended(account: AuditAccount) -> None:
    chain = ChainId(TODAY, 2)
    account.append(2, chain=2)
    account.digest()
    document = account.stored_digest(chain, 1)
    document["body"]["head"]["seq"] = 10**6  # would make the job skip every record up to it
    account.replace_digest(chain, 1, document)
    account.append(1, chain=2, start=NOON + timedelta(minutes=6))
    run = account.digest(NOON + timedelta(minutes=10))
    assert [c for c, _ in run.blocked] == [str(chain)]
    assert not [w for w in run.written if w[0] == str(chain)]


def test_records_changed_since_the_last_digest_are_reported_by_the_job(account: AuditAccount) -> None:
    chain = ChainId(TODAY, 3)
    account.append(3, chain=3)
    account.rewrite(chain, 2, status=401)
    run = account.digest()
    assert [(b.chain_id, b.seq, b.reason) for b in run.breaks] == [(str(chain), 2, audit.HASH_MISMATCH)]


def test_a_backlog_is_digested_in_several_digests(account: AuditAccount) -> None:
    account.append(7, chain=0)
    run = account.digest(max_records=3)
    mine = [w for w in run.written if w[0] == str(ChainId(TODAY, 0))]
    assert mine == [(str(ChainId(TODAY, 0)), n, size, False) for n, size in ((1, 3), (2, 3), (3, 1))]
    assert verify_trail(account.verify_ports(), TODAY, TODAY).intact


def test_a_run_stopped_early_leaves_the_rest_to_the_next(account: AuditAccount) -> None:
    account.append(2, chain=0)
    account.append(2, chain=7)
    steps = iter([False] * 3)
    first = account.digest(should_stop=lambda: next(steps, True))
    assert first.unfinished
    second = account.digest()
    written = {w[0] for w in first.written} | {w[0] for w in second.written}
    assert {str(ChainId(TODAY, 0)), str(ChainId(TODAY, 7))} <= written
    report = verify_trail(account.verify_ports(), TODAY, TODAY)
    assert report.intact
    assert report.unanchored == []
