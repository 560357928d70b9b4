"""Partial batch responses (powertools BatchProcessor) for consumers that work on whole batches:
the service decides which records failed; the processor reports exactly those to Kinesis."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext


class RecordNotProcessed(RuntimeError):
    """This record's work did not complete; Kinesis redelivers it (and the records after it)."""


def partial_batch_response(
    event: dict[str, Any], failed_sequence_numbers: Collection[str], context: LambdaContext
) -> PartialItemFailureResponse:
    """A processor per call: `BatchProcessor` keeps the batch's successes and failures on the
    instance, so one shared by the threads of local mode (a poller per shard and consumer) would let
    one batch's failures appear in, or vanish from, another's response. Lambda runs one invocation
    at a time per environment; a new processor costs next to nothing there."""

    def outcome(record: KinesisStreamRecord) -> None:
        if record.kinesis.sequence_number in failed_sequence_numbers:
            raise RecordNotProcessed(record.kinesis.sequence_number)

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    return process_partial_response(event=event, record_handler=outcome, processor=processor, context=context)
