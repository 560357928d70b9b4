"""The contract a client sees: the committed OpenAPI document is the served one, it is a valid
OpenAPI 3 document, and every operation declares its formats, bounds and error statuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from nas.api.app import openapi_document
from nas.api.docs import ALWAYS
from nas.api.openapi import render
from tests.api.conftest import OPERATOR_KENT, ApiAccount

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_the_committed_document_is_what_the_api_serves(api: ApiAccount) -> None:
    served = api.call("GET", "/openapi.json", OPERATOR_KENT)
    assert served.status == 200
    assert served.body == json.loads(COMMITTED.read_text()), "run `make openapi` and commit docs/openapi.json"
    assert COMMITTED.read_text() == render()


def test_the_document_is_valid_openapi() -> None:
    validate(openapi_document())


def test_every_authenticated_operation_declares_its_error_statuses() -> None:
    for path, method, operation in operations(openapi_document()):
        statuses = {int(s) for s in operation["responses"]}
        if path == "/health":
            assert operation["security"] == []
            continue
        assert set(ALWAYS) <= statuses, f"{method.upper()} {path}"
        for status in statuses - {200, 201, 202, 204}:
            schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
        assert "422" not in operation["responses"]


def test_instants_are_date_times_and_pages_are_bounded() -> None:
    document = openapi_document()
    parameters = {
        (path, p["name"]): p["schema"]
        for path, _, operation in operations(document)
        for p in operation.get("parameters", [])
    }
    for key in (("/alerts", "since"), ("/audit", "from"), ("/audit", "to")):
        assert parameters[key]["format"] == "date-time"
        assert parameters[key]["type"] == "string"
    for path in ("/alerts", "/audit"):
        assert (parameters[(path, "limit")]["minimum"], parameters[(path, "limit")]["maximum"]) == (1, 100)
        assert parameters[(path, "page_token")]["maxLength"] == 2048
    assert parameters[("/audit/verify", "from")]["format"] == "date"
