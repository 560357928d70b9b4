"""Entry point of the VOI expiry function: the voi table's stream, filtered (in the event source
mapping) to TTL removals of entry items. Each removed entry's match item is rebuilt (R-VOI-56), so
an expired entry leaves no copy behind; a record whose rebuild failed is retried alone."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.adapters.voi_keys import ENTRY_PREFIX
from nas.observability import logger, tracer
from nas.services.voi import VoiService
from nas.services.wiring import build_voi_service
from nas.settings import settings

_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def service() -> VoiService:
    return build_voi_service(settings())


def settle(record: DynamoDBRecord) -> None:
    keys = record.dynamodb.keys if record.dynamodb else None
    vrm, kind = (keys or {}).get("vrm"), (keys or {}).get("record")
    if not isinstance(vrm, str) or not isinstance(kind, str) or not kind.startswith(ENTRY_PREFIX):
        return  # the mapping's filter passes only entry removals; anything else is not ours
    service().settle_expired([vrm])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=settle, processor=_processor, context=context)
