"""Entry points of the VOI import functions (R-VOI-BULK): `upload_handler` for the imports bucket's
Object Created event (an uploaded list starts its load), `step_handler` for the state machine's
steps."""

from __future__ import annotations

from functools import cache
from typing import Any

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
    """S3's `Object Created` event as EventBridge delivers it (the rule passes `incoming/` only)."""
    key = str(((event.get("detail") or {}).get("object") or {}).get("key", ""))
    plan = upload_service().upload_arrived(key)
    return {"started": plan.import_id if plan else None}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def step_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One step of an import's load, as the state machine sends it (`VoiImportService.run_step`)."""
    logger.append_keys(import_id=event.get("import_id"), step=event.get("step"))
    return step_service().run_step(event)
