"""The few error types domain rules raise. Each carries a machine-readable code that the API maps to
its error body and the pipeline writes as the quarantine reason."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidVrm(ValueError):
    """A VRM that is not 1-10 characters of [A-Z0-9] after R-VRM normalisation."""


class FieldRuleError(ValueError):
    """Raised by a model-level rule that is about one field, so the error can still name it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: `field` is a dotted path into the record (e.g. `location.lat`)."""

    field: str
    message: str


class ReadRejected(Exception):
    """A read record that cannot be accepted (R-READ, R-LATE). `reason` is a stable code written with
    the quarantined record; `problems` names every offending field."""

    def __init__(self, reason: str, problems: tuple[FieldProblem, ...] = ()) -> None:
        self.reason = reason
        self.problems = problems
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"{reason}: {detail}" if detail else reason)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }


class AccessDenied(Exception):
    """A request refused by a policy rule; `rule` is the code shown to the caller (SPEC §6, e.g.
    `lookback-exceeds-role`)."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


class InvalidInput(ValueError):
    """A request a rule refuses because of one field's value (the API answers 400 naming `field`)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class NotFound(LookupError):
    """No such thing, or not one the caller may see: the two are never told apart (404)."""


class Conflict(RuntimeError):
    """The change cannot be made in the state the thing is in, or kept racing another change (409)."""
