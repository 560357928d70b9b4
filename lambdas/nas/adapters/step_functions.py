"""Starts the VOI import state machine (R-VOI-BULK): one execution per import, named after it, so a
second delivery of the same S3 event starts nothing."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from nas.adapters import store_call
from nas.domain.voi_imports import ImportPlan


def execution_input(plan: ImportPlan) -> dict[str, Any]:
    """What the state machine iterates over: the chunk and group numbers of the plan."""
    return {
        "import_id": plan.import_id,
        "chunks": [c.index for c in plan.chunks],
        "groups": list(range(plan.generation.groups)),
    }


class StepFunctionsOrchestrator:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def begin(self, plan: ImportPlan) -> None:
        # An execution of that name already exists: the same import, started by an earlier delivery.
        with (
            store_call("voi import start execution"),
            contextlib.suppress(self._client.exceptions.ExecutionAlreadyExists),
        ):
            self._client.start_execution(
                stateMachineArn=self._arn, name=plan.import_id, input=json.dumps(execution_input(plan))
            )
