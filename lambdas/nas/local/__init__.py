"""Local mode (`nas local`): the whole service on one machine with no AWS account and no Docker.

moto serves the AWS APIs; pollers stand in for the Kinesis event source mappings, a Parquet sink
for Firehose and a small HTTP server for API Gateway with its Cognito authorizer, so the same
handlers and wiring run unchanged. Not part of the Lambda layer (infra/bundling.py excludes it).
"""
