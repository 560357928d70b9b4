"""botocore's base64 and JSON through pybase64 and orjson, for local mode's own processes.

Every Kinesis record crosses base64 and JSON in botocore: the standard library takes about 110 µs
to base64 a 37 KB read and several milliseconds to encode a PutRecords body; pybase64 and orjson do
the same in a few percent of that, with the same output. Installed only by local mode and its
benchmark, never in Lambda.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pybase64
from botocore import parsers, serialize


class _FastJson:
    """Stands in for the `json` module inside botocore's parsers and serializers; calls with
    options orjson does not have go to the standard library."""

    @staticmethod
    def dumps(value: Any, **options: Any) -> str:
        return json.dumps(value, **options) if options else orjson.dumps(value).decode()

    @staticmethod
    def loads(value: str | bytes, **options: Any) -> Any:
        return json.loads(value, **options) if options else orjson.loads(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)


def _decode(_: Any, value: str | bytes) -> bytes:
    # pybase64's validating decoder is its fast (SIMD) path; services send valid base64, and
    # anything else gets the standard library's lenient treatment, as botocore would give it.
    try:
        return pybase64.b64decode(value, validate=True)
    except ValueError:
        return pybase64.b64decode(value)


def _encode(self: Any, value: str | bytes) -> str:
    if isinstance(value, str):
        value = value.encode(self.DEFAULT_ENCODING)
    return pybase64.b64encode(value).decode(self.DEFAULT_ENCODING)


def install() -> None:
    # Private hooks of botocore (typed stubs omit them), stable across its 1.x releases.
    setattr(parsers.ResponseParser, "_default_blob_parser", _decode)  # noqa: B010
    setattr(serialize.Serializer, "_get_base64", _encode)  # noqa: B010
    setattr(parsers, "json", _FastJson())  # noqa: B010
    setattr(serialize, "json", _FastJson())  # noqa: B010
