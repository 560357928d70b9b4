"""The one place that creates powertools' Logger, Tracer and Metrics, so every module logs, traces
and counts under the same service and namespace (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from nas.catalogue import METRICS_NAMESPACE

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)

__all__ = ["logger", "metrics", "tracer"]
