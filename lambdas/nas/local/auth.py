"""What API Gateway's Cognito user-pool authorizer checks before the api Lambda runs: an RS256
signature by a key of the pool's JWKS, the issuer, the audience (app client), expiry and
`token_use` = id. Claims go to the handler as API Gateway passes them: every value a string."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

JWKS_TTL_S = 3600.0


class Unauthorized(Exception):
    """The request carries no token the authorizer would accept; the message says why."""


def issuer(region: str, user_pool_id: str) -> str:
    """The `iss` of the pool's tokens: always the AWS URL form (moto uses it too)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url(endpoint: str, user_pool_id: str) -> str:
    return f"{endpoint.rstrip('/')}/{user_pool_id}/.well-known/jwks.json"


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the configured endpoint
        document: dict[str, Any] = json.loads(response.read())
        return document


class Jwks:
    """The pool's signing keys by `kid`, fetched once and cached; an unknown `kid` refetches (at
    most once a minute) in case the pool's keys changed."""

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        ttl_s: float = JWKS_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> Any:
        with self._lock:
            now = self._monotonic()
            stale = self._fetched_at is None or now - self._fetched_at > self._ttl_s
            unknown = kid not in self._keys and (self._fetched_at is None or now - self._fetched_at > 60)
            if stale or unknown:
                self._refresh(now)
            try:
                return self._keys[kid]
            except KeyError:
                raise Unauthorized("token signed by an unknown key") from None

    def _refresh(self, now: float) -> None:
        document = self._fetch()
        self.fetches += 1
        self._keys = {
            k["kid"]: RSAAlgorithm.from_jwk(json.dumps(k))
            for k in document.get("keys", [])
            if k.get("kty") == "RSA" and "kid" in k
        }
        self._fetched_at = now


class TokenVerifier:
    def __init__(
        self,
        jwks: Jwks,
        *,
        issuer: str,
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized naming the first check that failed."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        if header.get("alg") != "RS256":
            raise Unauthorized("token is not signed with RS256")
        key = self._jwks.key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._issuer,
                # Audience and expiry are checked below: token_use first (access tokens carry no
                # `aud`), and expiry against the injectable clock rather than PyJWT's own.
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iss", "token_use"],
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature is not valid") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("token is from another user pool") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token is not valid: {exc}") from None
        if claims.get("token_use") != "id":
            raise Unauthorized("an ID token is required (token_use is not id)")
        if claims.get("aud") != self._audience:
            raise Unauthorized("token is for another app client")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise Unauthorized("token has no numeric exp")
        if self._clock() >= exp:
            raise Unauthorized("token has expired")
        return claims


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <ID token>'")
    return token.strip()


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the REST API authorizer puts them in `requestContext.authorizer.claims`: strings
    only, lists comma-separated, booleans lower case."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return ",".join(text(v) for v in value)
        return str(value)

    return {name: text(value) for name, value in claims.items()}
