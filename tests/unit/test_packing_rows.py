"""Packed images and the stored row (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nas.domain.packing import ImagePack, unpack
from nas.domain.timefmt import epoch_millis, iso_utc


def test_every_image_comes_back_exactly_from_the_pack() -> None:
    images = [b"\xff\xd8\xff" + bytes([i]) * (100 * i + 1) for i in range(1, 6)]
    pack = ImagePack("images/k.jpgpack")
    refs = [pack.add(image) for image in images]
    body = pack.body()
    assert len(body) == sum(map(len, images))
    assert [unpack(body, ref) for ref in refs] == images
    assert refs[1].byte_range == f"bytes={len(images[0])}-{len(images[0]) + len(images[1]) - 1}"


def test_a_reference_outside_the_pack_is_refused() -> None:
    pack = ImagePack("k")
    ref = pack.add(b"abc")
    with pytest.raises(ValueError, match="outside"):
        unpack(b"ab", ref)
    with pytest.raises(ValueError, match="empty"):
        pack.add(b"")


def test_epoch_millis_floors_without_float_error() -> None:
    assert epoch_millis(datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1
    assert epoch_millis(datetime(2026, 11, 23, 12, 0, 0, 999999, tzinfo=UTC)) == 1_795_435_200_999
    assert epoch_millis(datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)) == -1


def test_iso_utc_is_fixed_width_so_strings_sort_in_time_order() -> None:
    earlier = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    later = datetime(2026, 11, 23, 12, 0, 0, 1, tzinfo=UTC)
    assert iso_utc(earlier) == "2026-11-23T12:00:00.000000Z"
    assert iso_utc(earlier) < iso_utc(later)
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2026, 1, 1))
