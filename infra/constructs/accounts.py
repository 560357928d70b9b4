"""R-ACCOUNT account hygiene: the daily job that suspends accounts not used for 90 days and lists
them, and role changes, for review; what it may do with the user pool, the accounts, reviews and
audit tables; and its alarms."""

from __future__ import annotations

from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.jobs import JOB_TIMEOUT_S, alarm, job_alarms, job_metric
from infra.constructs.keys import KEY_TABLE_ITEMS, Via, grant_via
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import grant_items
from nas import catalogue

HYGIENE_FUNCTION = "AccountHygiene"
# Early morning UTC, after the night's quietest hours and before the day's first shift changes.
HYGIENE_SCHEDULE = events.Schedule.cron(minute="15", hour="4")
# What the job asks of the user pool: list users and group members, read sign-in events (threat
# protection keeps them), disable and sign out idle accounts. Never enable, delete or change one.
HYGIENE_POOL_ACTIONS = (
    "cognito-idp:ListUsers",
    "cognito-idp:ListUsersInGroup",
    "cognito-idp:AdminListUserAuthEvents",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminUserGlobalSignOut",
)


class AccountHygiene(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        user_pool: cognito.IUserPool,
        accounts_table: dynamodb.ITable,
        reviews_table: dynamodb.ITable,
        audit_table: dynamodb.ITable,
        tables_key: kms.IKey,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = runtime.function(
            HYGIENE_FUNCTION,
            handler="handlers.account_hygiene.lambda_handler",
            description="NAS account hygiene (R-ACCOUNT): suspends accounts idle 90 days, lists them and"
            " role changes for review",
            environment={
                catalogue.ACCOUNTS.env_var: accounts_table.table_name,
                catalogue.ACCOUNT_REVIEWS.env_var: reviews_table.table_name,
                catalogue.AUDIT.env_var: audit_table.table_name,
                catalogue.USER_POOL_ENV: user_pool.user_pool_id,
            },
            timeout_seconds=JOB_TIMEOUT_S,
            reserved_concurrency=1,  # one run at a time: two would race to open the same reviews
        )
        function = self.function
        user_pool.grant(function, *HYGIENE_POOL_ACTIONS)
        # Accounts: every record (Scan), suspend and snapshot (UpdateItem). Reviews: open (PutItem).
        grant_items(accounts_table, function, "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem")
        grant_items(reviews_table, function, "dynamodb:PutItem")
        # Audit: each user's last request (by-user index), and the job's own events (append: Query
        # the chain head, conditional PutItem); no update or delete, as for the api.
        grant_items(audit_table, function, "dynamodb:PutItem", "dynamodb:Query")
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{audit_table.table_arn}/index/by-user"]
            )
        )
        grant_via(tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        events.Rule(
            self,
            "Daily",
            description="NAS account hygiene (R-ACCOUNT)",
            schedule=HYGIENE_SCHEDULE,
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        job_alarms(self, function, alarm_topic, "account hygiene job (R-ACCOUNT)")
        alarm(
            self,
            "SuspensionsFailed",
            alarm_topic,
            description="Idle accounts could not be suspended (R-ACCOUNT); the next run tries again",
            metric=job_metric(HYGIENE_FUNCTION, "AccountSuspensionsFailed"),
        )
