"""GetRecords for local mode's pollers without botocore's response handling.

An event source mapping hands Lambda each record's data as base64; botocore decodes the base64 of
a GetRecords response into bytes, which the poller then had to encode again for the Lambda event:
two passes over every 37 KB read, plus botocore's generic response parsing. `RawKinesisReader`
signs the same GetRecords request (SigV4, as botocore would) over one kept-alive connection per
thread and returns the records with `Data` as the base64 text the endpoint sent, which
`poller.lambda_event` passes through unchanged. Every other call goes to the boto3 client.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "Kinesis_20131202.GetRecords"
TIMEOUT_S = 30.0


class GetRecordsError(RuntimeError):
    """The endpoint answered GetRecords with an error (its `__type` and message)."""


class RawKinesisReader:
    def __init__(self, client: Any, *, endpoint: str, region: str, credentials: Credentials) -> None:
        self._client = client
        self._endpoint = endpoint.rstrip("/") + "/"
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"local endpoints are plain http: {endpoint}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._signer = SigV4Auth(credentials, "kinesis", region)
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
            self._local.connection = connection
        return connection

    def get_records(self, *, ShardIterator: str, Limit: int | None = None) -> dict[str, Any]:  # noqa: N803 - boto3's names
        request: dict[str, Any] = {"ShardIterator": ShardIterator}
        if Limit is not None:
            request["Limit"] = Limit
        body = orjson.dumps(request)
        signed = AWSRequest(
            method="POST",
            url=self._endpoint,
            data=body,
            headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
        )
        self._signer.add_auth(signed)
        headers = dict(signed.headers.items())
        connection = self._connection()
        try:
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except Exception:
            connection.close()  # a broken connection is opened afresh on the next call
            raise
        if response.status != 200:
            error = orjson.loads(payload) if payload.startswith(b"{") else {}
            raise GetRecordsError(
                f"GetRecords: {response.status} {error.get('__type', '')} "
                f"{error.get('message', error.get('Message', ''))}".rstrip()
            )
        result: dict[str, Any] = orjson.loads(payload)
        result.setdefault("Records", [])
        return result
