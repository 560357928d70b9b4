"""R-VRM: upper case, spaces and hyphens removed, then 1-10 characters of [A-Z0-9]."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.domain.errors import InvalidVrm
from nas.domain.vrm import normalise_vrm

VALID_VRM = re.compile(r"[A-Z0-9]{1,10}")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A", "A"),
        ("7", "7"),
        ("AB12CDE", "AB12CDE"),
        ("ABCDE12345", "ABCDE12345"),
        ("ab12cde", "AB12CDE"),
        ("Ab12 cDe", "AB12CDE"),
        ("AB12 CDE", "AB12CDE"),
        ("AB-12-CDE", "AB12CDE"),
        ("  AB12 - CDE  ", "AB12CDE"),
        ("A B C D E 1 2 3 4 5", "ABCDE12345"),
        ("--x--", "X"),
    ],
)
def test_accepted_vrms_are_upper_cased_without_spaces_or_hyphens(raw: str, expected: str) -> None:
    assert normalise_vrm(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="only-spaces"),
        pytest.param("- -", id="only-separators"),
        pytest.param("ABCDE123456", id="11-chars"),
        pytest.param("abcde 123456", id="11-chars-after-removing-space"),
        pytest.param("AB\t12CDE", id="tab"),
        pytest.param("AB12CDE\n", id="newline"),
        pytest.param("AB.12", id="dot"),
        pytest.param("AB_12", id="underscore"),
        pytest.param("AB12\u00a0CDE", id="no-break-space"),
        pytest.param("\u00df", id="sharp-s-would-upper-case-to-SS"),
        pytest.param("STRA\u00dfE", id="sharp-s-inside"),
        pytest.param("AB12\u00c7", id="accented-letter"),
        pytest.param("\uff21\uff22\uff11\uff12", id="fullwidth"),
        pytest.param("\u0661\u0662\u0663", id="arabic-indic-digits"),
        pytest.param("\u0131", id="dotless-i-would-upper-case-to-I"),
    ],
)
def test_invalid_vrms_are_refused(raw: str) -> None:
    with pytest.raises(InvalidVrm):
        normalise_vrm(raw)


@pytest.mark.parametrize("raw", [None, 12345, b"AB12CDE"])
def test_non_string_vrms_are_refused(raw: object) -> None:
    with pytest.raises(InvalidVrm):
        normalise_vrm(raw)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.text(), st.text(alphabet=string.printable), st.text(alphabet=string.ascii_letters + " -"))
)
def test_any_text_is_a_valid_vrm_or_refused_and_normalising_is_idempotent(raw: str) -> None:
    try:
        vrm = normalise_vrm(raw)
    except InvalidVrm:
        return
    assert VALID_VRM.fullmatch(vrm)
    assert normalise_vrm(vrm) == vrm


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", " ", "-", "  ", " - "]),
            st.sampled_from(string.ascii_letters + string.digits),
        ),
        min_size=1,
        max_size=10,
    ),
    st.sampled_from(["", " ", "-"]),
)
def test_separators_anywhere_do_not_change_the_vrm(pieces: list[tuple[str, str]], trailer: str) -> None:
    raw = "".join(separator + char for separator, char in pieces) + trailer
    assert normalise_vrm(raw) == "".join(char for _, char in pieces).upper()
