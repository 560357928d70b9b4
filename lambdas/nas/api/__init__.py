"""The REST API served by the api Lambda (and by local mode's gateway)."""
