"""R-SAR: the queue through which the api hands a granted erasure to the erasure function (AWS). A
message names the request only; the function reads everything else from the request itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nas.adapters import store_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def erasure_message(request_id: str) -> str:
    return json.dumps({"request_id": request_id})


def request_id_of(body: str) -> str:
    """The request a message names; ValueError when it names none."""
    value = json.loads(body).get("request_id")
    if not isinstance(value, str) or not value:
        raise ValueError("the erasure message names no request_id")
    return value


class SqsErasureQueue:
    def __init__(self, client: SQSClient | Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def dispatch(self, request_id: str) -> None:
        with store_call("sqs SendMessage erasure queue"):
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=erasure_message(request_id))
