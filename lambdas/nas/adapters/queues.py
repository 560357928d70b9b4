"""The consumers' on-failure queue: each message names a stream range an event source mapping set
aside (Lambda's format; local mode's pollers write the same)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from nas.adapters import store_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Long enough for `nas replay` to re-send a range before another replay could take the message.
REPLAY_VISIBILITY_S = 300


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    receipt: str
    body: str


class FailureQueue(Protocol):
    def receive(self, limit: int) -> list[QueuedMessage]:
        """Up to `limit` messages (hidden from other readers while they are being handled)."""
        ...

    def delete(self, message: QueuedMessage) -> None: ...


class SqsFailureQueue:
    def __init__(self, client: SQSClient | Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def receive(self, limit: int) -> list[QueuedMessage]:
        with store_call("sqs ReceiveMessage on-failure queue"):
            response = self._client.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=max(1, min(10, limit)),
                VisibilityTimeout=REPLAY_VISIBILITY_S,
                WaitTimeSeconds=1,
            )
        return [QueuedMessage(m["ReceiptHandle"], m["Body"]) for m in response.get("Messages", [])]

    def delete(self, message: QueuedMessage) -> None:
        with store_call("sqs DeleteMessage on-failure queue"):
            self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message.receipt)
