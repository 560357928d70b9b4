"""The `nas` command line: what people do by hand (SPEC §6). Not shipped in the Lambda layer."""
