"""Entry points of the VOI import functions (R-VOI-BULK): `upload_handler` for the imports bucket's
S3 event (an uploaded list starts its load), `step_handler` for the state machine's steps."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.observability import logger, tracer
from nas.services.voi_imports import VoiImportService
from nas.services.wiring import build_import_service
from nas.settings import settings


@cache
def upload_service() -> VoiImportService:
    return build_import_service(settings(), start_loads=True)


@cache
def step_service() -> VoiImportService:
    return build_import_service(settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def upload_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = []
    for record in event.get("Records", []):
        # S3 event keys are URL-encoded (a space arrives as `+`).
        key = unquote_plus(str(record.get("s3", {}).get("object", {}).get("key", "")))
        plan = upload_service().upload_arrived(key)
        if plan is not None:
            started.append(plan.import_id)
    return {"started": started}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def step_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One step of an import's load, as the state machine sends it (`VoiImportService.run_step`)."""
    logger.append_keys(import_id=event.get("import_id"), step=event.get("step"))
    return step_service().run_step(event)
