#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c stage=dev` (see README)."""

from infra.app import build_app

app, _ = build_app()
app.synth()
