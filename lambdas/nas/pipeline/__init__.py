"""The two consumers of the `reads` stream, as logic over adapter interfaces: `match` (alerts) and
`archive` (storage). Handlers feed them Kinesis records; local mode and tests do the same."""
