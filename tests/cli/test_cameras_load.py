"""`nas cameras load`: every row validated, rejected rows reported by line and field, valid rows
loaded into the cameras table (R-CAMERA)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas.adapters.dynamo import from_item
from nas.catalogue import CAMERAS
from nas.cli.cameras import validate_row
from nas.cli.main import main
from nas.domain.models import Camera, CameraSource

REGION = "eu-west-2"
TABLE = "nas-test-cameras"
HEADER = "camera_id,lea,lat,lon,source,active"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A moto account with the cameras table, keyed as the catalogue says."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        key = CAMERAS.partition_key
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key.name, "AttributeType": key.type.value}],
            KeySchema=[{"AttributeName": key.name, "KeyType": "HASH"}],
        )
        yield client


def write_csv(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "cameras.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def load(path: Path, *extra: str) -> int:
    return main(["cameras", "load", str(path), "--cameras-table", TABLE, "--region", REGION, *extra])


def stored(client: Any, camera_id: str) -> dict[str, Any] | None:
    item = client.get_item(TableName=TABLE, Key={"camera_id": {"S": camera_id}}).get("Item")
    return from_item(item) if item else None


def stored_ids(client: Any) -> set[str]:
    return {item["camera_id"]["S"] for item in client.scan(TableName=TABLE)["Items"]}


def reports(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_valid_file_loads_every_row(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path,
        "KENT-0001,KENT,51.2717,1.0826,static,true",
        "KENT-MOB-01,KENT,51.3,0.5,mobile,YES",
        "ESSEX-0007,ESSEX,51.7345,0.4691,multi-lane,1",
        "ESSEX-OLD-3, ESSEX , -0.25 , -1.5 ,cctv, No ",
    )

    status = load(path)

    assert status == 0
    assert capsys.readouterr().out.splitlines() == ["loaded=4 rejected=0"]
    assert stored(dynamodb, "KENT-0001") == {
        "camera_id": "KENT-0001",
        "lea": "KENT",
        "lat": 51.2717,
        "lon": 1.0826,
        "source": "static",
        "active": True,
    }
    assert stored(dynamodb, "KENT-MOB-01") == {
        "camera_id": "KENT-MOB-01",
        "lea": "KENT",
        "lat": 51.3,
        "lon": 0.5,
        "source": "mobile",
        "active": True,
    }
    assert stored(dynamodb, "ESSEX-0007") == {
        "camera_id": "ESSEX-0007",
        "lea": "ESSEX",
        "lat": 51.7345,
        "lon": 0.4691,
        "source": "multi-lane",
        "active": True,
    }
    # Spaces around values are not part of them.
    assert stored(dynamodb, "ESSEX-OLD-3") == {
        "camera_id": "ESSEX-OLD-3",
        "lea": "ESSEX",
        "lat": -0.25,
        "lon": -1.5,
        "source": "cctv",
        "active": False,
    }


def test_bad_rows_are_reported_by_line_and_field_and_good_rows_still_load(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path,
        "KENT-0001,KENT,51.27,1.08,static,true",  # line 2
        "ZZ-0001,ZZZZ,51.27,1.08,static,true",  # 3: unknown LEA
        "KENT-0002,KENT,91,1.08,static,true",  # 4: latitude out of range
        "KENT-0003,KENT,51.27,1.08,drone,true",  # 5: unknown source
        "KENT-0004,KENT,51.27,1.08,static,maybe",  # 6: not a boolean
        "KENT-0001,KENT,52.00,1.50,cctv,false",  # 7: duplicate of line 2
        "KENT-0005,KENT,51.27,,static,true",  # 8: missing value
        "KENT-0006,KENT,51.28,1.09,covert,false",  # 9
    )

    status = load(path)

    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[-1] == "loaded=2 rejected=6"
    rejected = reports(out)
    assert [(r["line"], r["camera_id"], [p["field"] for p in r["problems"]]) for r in rejected] == [
        (3, "ZZ-0001", ["lea"]),
        (4, "KENT-0002", ["lat"]),
        (5, "KENT-0003", ["source"]),
        (6, "KENT-0004", ["active"]),
        (7, "KENT-0001", ["camera_id"]),
        (8, "KENT-0005", ["lon"]),
    ]
    assert "line 2" in rejected[4]["problems"][0]["message"]
    assert all(p["message"] for r in rejected for p in r["problems"])
    assert stored_ids(dynamodb) == {"KENT-0001", "KENT-0006"}
    # The first occurrence is the one loaded; the duplicate's values are not.
    assert stored(dynamodb, "KENT-0001") == {
        "camera_id": "KENT-0001",
        "lea": "KENT",
        "lat": 51.27,
        "lon": 1.08,
        "source": "static",
        "active": True,
    }


def test_every_problem_of_a_row_is_reported_together(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, "bad id!,ZZZZ,north,200,drone,maybe")

    assert load(path) == 1

    [report] = reports(capsys.readouterr().out)
    assert report["line"] == 2
    assert sorted(p["field"] for p in report["problems"]) == sorted(
        ["camera_id", "lea", "lat", "lon", "source", "active"]
    )
    assert stored_ids(dynamodb) == set()


def test_rows_with_too_few_or_too_many_values_are_rejected(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path,
        "KENT-0001,KENT,51.27",
        "KENT-0002,KENT,51.27,1.08,static,true,surplus",
        "KENT-0003,KENT,51.27,1.08,static,true",
        "KENT-0004,KENT,51.27,1.08,static,true,",  # a spreadsheet's trailing comma adds nothing
    )

    assert load(path) == 1

    out = capsys.readouterr().out
    rejected = reports(out)
    assert [(r["line"], sorted(p["field"] for p in r["problems"])) for r in rejected] == [
        (2, ["active", "lon", "source"]),
        (3, ["$"]),
    ]
    assert out.splitlines()[-1] == "loaded=2 rejected=2"
    assert stored_ids(dynamodb) == {"KENT-0003", "KENT-0004"}


def test_row_without_camera_id_is_reported_with_null_id(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, ",KENT,51.27,1.08,static,true")

    assert load(path) == 1

    [report] = reports(capsys.readouterr().out)
    assert report["camera_id"] is None
    assert [p["field"] for p in report["problems"]] == ["camera_id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("0", False),
    ],
)
def test_active_accepts_the_usual_spellings(text: str, expected: bool) -> None:
    row = {"camera_id": "C-1", "lea": "KENT", "lat": "51.0", "lon": "1.0", "source": "static", "active": text}

    assert validate_row(row) == Camera(
        camera_id="C-1", lea="KENT", lat=51.0, lon=1.0, source=CameraSource.STATIC, active=expected
    )


@pytest.mark.parametrize("text", ["on", "y", "2", "truthy", "t"])
def test_active_refuses_other_words(text: str) -> None:
    row = {"camera_id": "C-1", "lea": "KENT", "lat": "51.0", "lon": "1.0", "source": "static", "active": text}

    problems = validate_row(row)

    assert isinstance(problems, tuple)
    assert [p.field for p in problems] == ["active"]


@pytest.mark.parametrize("value", ["nan", "inf", "51,3", "51.3N"])
def test_coordinates_must_be_finite_decimal_numbers(value: str) -> None:
    row = {"camera_id": "C-1", "lea": "KENT", "lat": value, "lon": "1.0", "source": "static", "active": "1"}

    problems = validate_row(row)

    assert isinstance(problems, tuple)
    assert [p.field for p in problems] == ["lat"]


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("camera_id,lea,lat,lon,source,enabled", ["active", "enabled"]),
        ("camera_id,lea,lat,lon,source", ["active"]),
        ("camera_id,lea,lat,lon,source,active,notes", ["notes"]),
        ("camera_id,lea,lat,lat,source,active", ["lon", "lat"]),
    ],
)
def test_wrong_header_exits_2_and_loads_nothing(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], header: str, named: list[str]
) -> None:
    path = write_csv(tmp_path, "KENT-0001,KENT,51.27,1.08,static,true", header=header)

    status = load(path)

    captured = capsys.readouterr()
    assert status == 2
    assert all(name in captured.err for name in named)
    assert "loaded=" not in captured.out
    assert stored_ids(dynamodb) == set()


def test_header_may_carry_a_byte_order_mark_and_spaces(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cameras.csv"
    path.write_text(
        "\ufeffcamera_id, lea, lat, lon, source, active\nKENT-0001,KENT,51.27,1.08,static,true\n",
        encoding="utf-8",
    )

    assert load(path) == 0
    assert stored_ids(dynamodb) == {"KENT-0001"}


def test_missing_file_exits_2(dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = load(tmp_path / "absent.csv")

    captured = capsys.readouterr()
    assert status == 2
    assert "absent.csv" in captured.err
    assert "no such file" in captured.err


def test_empty_file_exits_2(dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cameras.csv"
    path.write_text("", encoding="utf-8")

    assert load(path) == 2
    assert "empty" in capsys.readouterr().err


def test_without_a_cameras_table_exits_2_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, "KENT-0001,KENT,51.27,1.08,static,true")

    status = main(["cameras", "load", str(path)])

    assert status == 2
    assert "--cameras-table" in capsys.readouterr().err


def test_table_that_does_not_exist_exits_2(
    dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, "KENT-0001,KENT,51.27,1.08,static,true")

    status = main(["cameras", "load", str(path), "--cameras-table", "no-such-table", "--region", REGION])

    assert status == 2
    assert "no-such-table" in capsys.readouterr().err


def test_help_lists_the_new_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "cameras" in out
    assert "simulate" in out
    assert "validate-reads" in out
