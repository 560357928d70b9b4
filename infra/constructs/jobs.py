"""What the daily jobs share: the alarms that say a job failed, found trouble, or stopped running
(its schedule is daily, so a day without an invocation means the schedule stopped)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.runtime import LambdaRuntime
from nas import catalogue

DAY = cdk.Duration.days(1)
JOB_TIMEOUT_S = 900
"""Lambda's maximum: a national user pool or a year of oldest partitions takes minutes, not hours."""


def job_metric(construct_id: str, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """A metric the job `construct_id` publishes (powertools: namespace NAS, dimension service)."""
    return cloudwatch.Metric(
        namespace=catalogue.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": LambdaRuntime.service_name(construct_id)},
        statistic=statistic,
        period=DAY,
    )


def alarm(
    scope: Construct,
    construct_id: str,
    topic: sns.ITopic,
    *,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float = 0,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    created = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=1,
        treat_missing_data=missing,
    )
    created.add_alarm_action(actions.SnsAction(topic))
    return created


def job_alarms(scope: Construct, function: lambda_.IFunction, topic: sns.ITopic, what: str) -> None:
    """`<what>` failed (any error in a day) or did not run for a day."""
    alarm(
        scope,
        "JobFailing",
        topic,
        description=f"The {what} failed",
        metric=function.metric_errors(period=DAY),
    )
    alarm(
        scope,
        "JobNotRunning",
        topic,
        description=f"The {what} has not run for a day",
        metric=function.metric_invocations(period=DAY),
        threshold=1,
        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        missing=cloudwatch.TreatMissingData.BREACHING,
    )
