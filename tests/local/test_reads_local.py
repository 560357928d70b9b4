"""One read's afterlife on `nas local --demo`, as its users meet it (issue "done when"): an
investigator searches, opens a read and its plate image, corrects the VRM and finds it under the new
VRM and not the old; a senior investigator preserves it; a DPO opens an access request for the
corrected VRM and exports it, with no camera site in it."""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nas.cli.main import main as nas
from tests.local.conftest import Local, wait_for
from tests.local.test_search_local import camera, rfc3339, search_body


def raw_get(local: Local, path: str, token: str, accept: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(local.config["api_url"] + path)  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, dict(response.headers), response.read()


def call(local: Local, method: str, path: str, token: str, body: object = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    status, _, reply = local.request(method, path, token=token, body=data)
    return status, reply


def test_a_read_is_opened_corrected_preserved_and_exported_on_local_mode(
    local: Local, tmp_path: Path
) -> None:
    ivy, olly, dora = (local.id_token(g) for g in ("investigator", "senior-investigator", "dpo"))
    tag = uuid.uuid4().hex[:5].upper()
    read_id, misread, real = f"life-{tag}", f"M1{tag}", f"M7{tag}"
    plate = b"\xff\xd8\xff\xe0" + f"plate of {read_id}".encode() * 40 + b"\xff\xd9"
    cam = camera(local, "KENT-A2-001")
    record = {
        "schema": "nas.read.v1",
        "read_id": read_id,
        "vrm": misread,
        "captured_at": rfc3339(datetime.now(UTC) - timedelta(minutes=10)),
        "camera_id": cam["camera_id"],
        "lea": cam["lea"],
        "source": cam["source"],
        "direction": "N",
        "confidence": 64,
        "plate_image": base64.b64encode(plate).decode(),
    }
    local.client("kinesis").put_records(
        StreamName=local.config["stream"],
        Records=[{"Data": json.dumps(record).encode(), "PartitionKey": cam["camera_id"]}],
    )

    def search(token: str, vrm: str) -> dict[str, Any]:
        """A VRM search's first page, with its id."""
        status, started = call(
            local, "POST", "/searches", token, json.loads(search_body({"type": "vrm", "vrm": vrm}))
        )
        assert status == 202, started
        status, page = call(local, "GET", f"/searches/{started['search_id']}", token)
        assert status == 200, page
        return dict(page) | {"search_id": started["search_id"]}

    page = wait_for(lambda: (p := search(ivy, misread))["rows"] and p, timeout_s=40, interval_s=0.5)
    search_id = page["search_id"]
    assert page["rows"][0]["read_id"] == read_id

    status, read = call(local, "GET", f"/reads/{read_id}?search_id={search_id}", ivy)
    assert status == 200, read
    assert read["images"] == {"plate": True, "overview": False}
    status, headers, body = raw_get(
        local, f"/reads/{read_id}/images/plate?search_id={search_id}", ivy, "image/jpeg"
    )
    assert (status, body) == (200, plate)
    assert headers["Content-Type"] == "image/jpeg"
    token_file = tmp_path / "token"
    token_file.write_text(ivy)
    jpeg = tmp_path / "plate.jpg"
    where = ["--search", search_id, "--config", str(local.config_path), "--token-file", str(token_file)]
    assert nas(["read", "image", read_id, "--out", str(jpeg), *where]) == 0
    assert jpeg.read_bytes() == plate

    status, made = call(
        local,
        "POST",
        f"/reads/{read_id}/corrections",
        ivy,
        {"search_id": search_id, "vrm": real, "reason": "Plate image shows a 7, not a 1"},
    )
    assert status == 201, made
    assert search(ivy, misread)["rows"] == []
    [row] = search(ivy, real)["rows"]
    assert (row["read_id"], row["vrm"], row["corrected"]) == (read_id, real, True)

    own = search(olly, real)
    olly_search = own["search_id"]
    assert own["rows"][0]["read_id"] == read_id
    status, preserved = call(
        local,
        "POST",
        "/preservations",
        olly,
        {
            "search_id": olly_search,
            "read_ids": [read_id],
            "case_ref": "KENT-2026-004321",
            "reason": "CPIA: evidence of the vehicle at the scene",
        },
    )
    assert status == 201, preserved
    assert preserved["preserved_reads"][0]["vrm"] == real

    status, request = call(
        local,
        "POST",
        "/subject-requests",
        dora,
        {
            "kind": "access",
            "vrm": real,
            "received_at": rfc3339(datetime.now(UTC)),
            "requester_ref": f"SAR-{tag}",
        },
    )
    assert status == 201, request
    rid = request["request_id"]
    token_file.write_text(dora)
    exported = tmp_path / "export.csv"
    at = ["--config", str(local.config_path), "--token-file", str(token_file)]
    assert nas(["sar", "export", rid, "--out", str(exported), *at]) == 0
    text = exported.read_text()
    assert real in text
    assert "TR15" in text  # the 10 km square of KENT-A2-001, never the camera itself
    # KENT-A2-001's registered site is 51.2798, 1.0789.
    for secret in (cam["camera_id"], "51.27", "1.078", read_id):
        assert secret not in text
