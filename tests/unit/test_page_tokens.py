"""Page tokens (`nas.api.params`): what a listing hands out comes back as the same position and id,
and anything else a caller could send is a 400 naming `page_token`, never a query."""

from __future__ import annotations

import pytest

from nas.api.errors import BadRequest
from nas.api.params import encode_token, pair_cursor, pair_token

KEYS = ("created_at", "search_id")
AT = "2026-11-30T10:00:00.000000Z"


def test_a_token_handed_out_comes_back_as_its_position_and_id() -> None:
    token = pair_token((AT, "s-1"), KEYS)
    assert token is not None
    assert pair_cursor(token, KEYS, position_chars=len(AT)) == (AT, "s-1")


def test_the_last_page_hands_out_no_token_and_no_token_starts_at_the_top() -> None:
    assert pair_token(None, KEYS) is None
    assert pair_cursor(None, KEYS) is None
    assert pair_cursor("", KEYS) is None


@pytest.mark.parametrize(
    "forged",
    [
        {"created_at": AT},  # a key missing
        {"created_at": AT, "search_id": "s-1", "extra": "x"},  # a key added
        {"created_at": AT, "search_id": ""},  # an empty id
        {"created_at": AT, "search_id": "s" * 65},  # an id too long
        {"created_at": "9998-01-01T00:00:00Z", "search_id": "s-1"},  # a position of another shape
        {"created_at": 1, "search_id": "s-1"},  # not a string
        {"search_id": "s-1", "alert_id": "a"},  # another listing's keys
    ],
)
def test_a_forged_token_is_a_400_naming_page_token(forged: dict[str, object]) -> None:
    with pytest.raises(BadRequest) as refused:
        pair_cursor(encode_token(forged), KEYS, position_chars=len(AT))
    assert refused.value.field == "page_token"
