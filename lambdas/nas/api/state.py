"""What one request has established so far (who, which route, what the route used, how many
results), for the audit record written after the resolver answers. One per invocation, held in a
context variable."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from nas.domain.roles import Principal


@dataclass(slots=True)
class RequestState:
    principal: Principal | None = None
    route: str | None = None
    """The matched route's template (`/alerts/{alert_id}/outcome`), never the raw path."""
    arguments: dict[str, Any] | None = None
    """The route's validated arguments, set once request validation and authorisation passed."""
    uses: dict[str, Any] = field(default_factory=dict)
    """What the route used beyond its arguments (say, the cameras a location search resolved to)."""
    why: dict[str, str | None] = field(default_factory=dict)
    """purpose, reason and case_ref (R-REASON), from the request or carried over by the route."""
    result_count: int | None = None


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


def principal() -> Principal:
    """The authorised caller of a route that declared roles (the route middleware set it)."""
    caller = current().principal
    if caller is None:
        raise RuntimeError("no authorised principal: the route must declare its roles")
    return caller


def used(result_count: int | None = None, **uses: Any) -> None:
    """Records, for the audit trail, how many results the route returned and what else it used."""
    state = current()
    if result_count is not None:
        state.result_count = result_count
    state.uses.update(uses)
