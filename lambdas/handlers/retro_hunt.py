"""Entry point of the retro-hunt function (issue 10, item 5): the retro-hunt queue, one hunt per
message. A hunt whose query is still running, or whose run met a store fault, is reported failed
alone, so SQS delivers it again after the visibility timeout and the run resumes where it stood;
one that keeps failing goes to the dead-letter queue (alarmed). Local mode polls the same queue."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.adapters.retro_hunts import HuntMessage
from nas.observability import logger, tracer
from nas.services.retro_hunts import RetroHuntRunner
from nas.services.wiring import build_retro_hunt_runner
from nas.settings import settings

# A batch is one hunt: its failure is reported as the item's (SQS delivers it again), not raised as
# the function's error, so a hunt still waiting on its query is not counted as a fault.
_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def service() -> RetroHuntRunner:
    return build_retro_hunt_runner(settings())


def hunt(record: SQSRecord) -> None:
    service().run(HuntMessage.parse(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=hunt, processor=_processor, context=context)
