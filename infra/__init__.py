"""The NAS CDK app: one stack per stage, built from constructs grouped by capability."""
