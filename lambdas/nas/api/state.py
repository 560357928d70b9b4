"""What one request has established so far (who, which route, how many results), for the audit
record written after the resolver answers. One per invocation, held in a context variable."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from nas.domain.roles import Principal


@dataclass(slots=True)
class RequestState:
    principal: Principal | None = None
    route: str | None = None
    result_count: int | None = None
    audited_body: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[RequestState | None] = ContextVar("nas_api_request", default=None)


def begin() -> tuple[RequestState, object]:
    state = RequestState()
    return state, _current.set(state)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current() -> RequestState:
    """The request's state; a fresh throwaway one outside `begin`/`end` (e.g. `app.resolve` in tests)."""
    state = _current.get()
    if state is None:
        state = RequestState()
        _current.set(state)
    return state
