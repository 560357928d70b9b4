"""Pure domain rules of NAS: no boto3, no I/O, no clock (callers pass `now`)."""
