"""`nas cameras load FILE.csv`: validate a camera registry file (R-CAMERA) row by row and load the
valid rows into the cameras table.

Exit status: 0 every row loaded; 1 some rows rejected (the valid ones are still loaded); 2 the file
cannot be used at all (missing, unreadable, wrong header: nothing is loaded) or the target/AWS call
failed.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.dynamo import UnprocessedItemsError
from nas.cli.target import AwsTarget, add_target_arguments
from nas.domain.errors import FieldProblem
from nas.domain.models import Camera
from nas.domain.reads import problems_of

CAMERA_COLUMNS = ("camera_id", "lea", "lat", "lon", "source", "active")
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})


class CameraFileError(ValueError):
    """The file cannot be read as a camera registry file at all; the message says why."""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    camera_id: str | None
    problems: tuple[FieldProblem, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "camera_id": self.camera_id,
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class CameraFile:
    cameras: tuple[Camera, ...]
    rejected: tuple[RejectedRow, ...]


def parse_active(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("active must be one of true/false, 1/0, yes/no")


def check_header(fieldnames: Sequence[str] | None) -> None:
    """The header must name exactly CAMERA_COLUMNS (in any order), each once."""
    if not fieldnames:
        raise CameraFileError(f"the file is empty: expected the header {','.join(CAMERA_COLUMNS)}")
    names = [name.strip() for name in fieldnames]
    missing = [c for c in CAMERA_COLUMNS if c not in names]
    unexpected = [n for n in names if n not in CAMERA_COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1})
    faults = []
    if missing:
        faults.append(f"missing column(s): {', '.join(missing)}")
    if unexpected:
        faults.append(f"unexpected column(s): {', '.join(repr(n) for n in unexpected)}")
    if repeated:
        faults.append(f"repeated column(s): {', '.join(repeated)}")
    if faults:
        raise CameraFileError(f"wrong header ({'; '.join(faults)}); expected {','.join(CAMERA_COLUMNS)}")


def validate_row(row: Mapping[str | None, object]) -> Camera | tuple[FieldProblem, ...]:
    """One CSV row (cells as text) to a Camera, or every problem found in it."""
    problems: list[FieldProblem] = []
    values: dict[str, object] = {}
    surplus = row.get(None)  # csv.DictReader files surplus cells under the key None
    # Blank surplus cells (a trailing comma from a spreadsheet) carry nothing to lose.
    if isinstance(surplus, list) and any(str(cell).strip() for cell in surplus):
        problems.append(FieldProblem("$", f"row has more than {len(CAMERA_COLUMNS)} values"))
    for column in CAMERA_COLUMNS:
        cell = row.get(column)
        text = cell.strip() if isinstance(cell, str) else ""
        if not text:
            problems.append(FieldProblem(column, "value is missing"))
            continue
        try:
            if column == "active":
                values[column] = parse_active(text)
            elif column in ("lat", "lon"):
                values[column] = float(text)
            else:
                values[column] = text
        except ValueError as exc:
            message = str(exc) if column == "active" else f"{column} must be a decimal number"
            problems.append(FieldProblem(column, message))
    try:
        # Lax mode only so that `source` may be given as its text; every other value is already typed.
        camera = Camera.model_validate(values, strict=False)
    except ValidationError as exc:
        reported = {p.field for p in problems}
        # Fields already reported as missing or unparsable would come back as "Field required".
        problems.extend(p for p in problems_of(exc) if p.field not in reported)
        return _in_column_order(problems)
    return _in_column_order(problems) if problems else camera


def _in_column_order(problems: list[FieldProblem]) -> tuple[FieldProblem, ...]:
    """A whole-row problem first, then the columns' in header order."""
    order = {column: position for position, column in enumerate(CAMERA_COLUMNS)}
    return tuple(sorted(problems, key=lambda p: order.get(p.field, -1)))


def read_camera_file(path: Path) -> CameraFile:
    """Validates every row of `path`; raises CameraFileError if the file itself is unusable."""
    try:
        # utf-8-sig: spreadsheets often save a byte-order mark, which would corrupt the first column name.
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            check_header(reader.fieldnames)
            # Tolerate spaces around header names, as around values.
            reader.fieldnames = [name.strip() for name in reader.fieldnames or ()]
            cameras: list[Camera] = []
            rejected: list[RejectedRow] = []
            first_line_of: dict[str, int] = {}
            for row in reader:
                line = reader.line_num
                raw_id = row.get("camera_id")
                camera_id = (raw_id.strip() or None) if isinstance(raw_id, str) else None
                result = validate_row(row)
                problems = () if isinstance(result, Camera) else result
                if camera_id is not None:
                    if camera_id in first_line_of:
                        duplicate = FieldProblem(
                            "camera_id",
                            f"duplicate camera_id: first given on line {first_line_of[camera_id]}",
                        )
                        problems = (duplicate, *problems)
                    else:
                        first_line_of[camera_id] = line
                if problems:
                    rejected.append(RejectedRow(line, camera_id, problems))
                elif isinstance(result, Camera):
                    cameras.append(result)
    except FileNotFoundError:
        raise CameraFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CameraFileError(f"{path}: cannot read the file: {exc}") from None
    return CameraFile(tuple(cameras), tuple(rejected))


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help=f"CSV with the header {','.join(CAMERA_COLUMNS)}")
    add_target_arguments(parser, tables=("cameras",))


def load_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    target = AwsTarget.from_args(args)
    table = target.table("cameras")  # before reading the file: a wrong target must not look like a load
    try:
        camera_file = read_camera_file(args.file)
    except CameraFileError as exc:
        err.write(f"nas cameras load: {exc}\n")
        return 2
    for row in camera_file.rejected:
        out.write(json.dumps(row.as_dict()) + "\n")
    loaded = 0
    if camera_file.cameras:
        try:
            loaded = DynamoCameraRegistry(target.client("dynamodb"), table).put_many(camera_file.cameras)
        except (BotoCoreError, ClientError, UnprocessedItemsError) as exc:
            err.write(f"nas cameras load: loading into table {table} failed: {exc}\n")
            return 2
    out.write(f"loaded={loaded} rejected={len(camera_file.rejected)}\n")
    return 1 if camera_file.rejected else 0
