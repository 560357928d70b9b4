"""Builds the CDK app: reads the stage settings from context, adds the stage stack and cdk-nag."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.config import StageConfig
from infra.nag import enable_checks
from infra.stack import NasStack

CONTEXT_KEYS = ("stage", "stages", *StageConfig.model_fields)


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, NasStack]:
    app = app or cdk.App()
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    config = StageConfig.from_context(
        {k: v for k, v in context.items() if v is not None},
        default_account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
    )
    config.require_capacity()
    stack = NasStack(app, f"Nas-{config.stage}", config=config)
    enable_checks(app)
    return app, stack
