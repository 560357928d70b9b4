"""`python -m nas.api.openapi`: prints this API's OpenAPI document (`make openapi` writes it to
docs/openapi.json, which a test holds equal to what the API serves)."""

from __future__ import annotations

import json
import sys

from nas.api.app import openapi_document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
