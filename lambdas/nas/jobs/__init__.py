"""Scheduled jobs (SPEC §4: audit digests, later retention checks and account hygiene): how each is
built from the runtime settings. Their workflows live in `nas.services`."""
