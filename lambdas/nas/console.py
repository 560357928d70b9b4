"""How the console (the static app in `console/`) is served, in one place for the CDK app and local
mode alike: the path it lives under, the security headers of every asset (a Content-Security-Policy
allowing only the API's own origin, the user pool's endpoint and the imports bucket a VOI list is
uploaded to: R-NET, R-UK), content types, the runtime settings document (`config.json`) and the
page's base path."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from nas.catalogue import UK_REGION

# The console lives under this path of the API, in AWS (`/v1/console/`) and locally (`/console/`).
CONSOLE_PATH = "console"
CONFIG_FILE = "config.json"
INDEX_FILE = "index.html"
# The user pool's regional endpoint, which the browser calls for InitiateAuth and
# RespondToAuthChallenge (both unauthenticated Cognito operations that allow CORS).
COGNITO_ENDPOINT = f"https://cognito-idp.{UK_REGION}.amazonaws.com/"
# The Cognito operations the console makes, and so the only ones local mode's proxy forwards.
COGNITO_TARGETS = frozenset(
    f"AWSCognitoIdentityProviderService.{action}" for action in ("InitiateAuth", "RespondToAuthChallenge")
)
# The built page names its base as this; each deployment writes its own (`/v1/console/` in AWS).
BUILT_BASE = f'<base href="/{CONSOLE_PATH}/" />'
TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# Asset names are flat: a letter or digit first, then letters, digits, dots, dashes, underscores.
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def bucket_origin(bucket_name: str, region: str = UK_REGION) -> str:
    """The origin of a bucket's regional virtual-hosted endpoint, where the API's presigned URLs for
    it point (`nas.services.wiring` presigns with virtual addressing for this reason: the global
    `s3.amazonaws.com` name redirects for a new bucket, and a browser's upload cannot follow)."""
    return f"https://{bucket_name}.s3.{region}.amazonaws.com"


class InvalidOrigin(ValueError):
    """An origin that cannot be written into the Content-Security-Policy as one source."""


def _checked_origin(origin: str) -> str:
    if any(c.isspace() or c in ";,'\"" for c in origin) or origin.count("/") != 2 or "://" not in origin:
        raise InvalidOrigin(f"not an origin (scheme://host[:port]): {origin!r}")
    return origin


class InvalidTileUrl(ValueError):
    """A tile URL template the console cannot use; the message says why."""


def tile_origin(tile_url: str, *, allow_http: bool = False) -> str:
    """The origin (`https://tiles.example.org`) of a tile URL template, after checking it names
    `{z}`, `{x}` and `{y}`; "" for no template. Plain http only for local mode's tests."""
    if not tile_url:
        return ""
    parts = urlsplit(tile_url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidTileUrl(f"console_tile_url must be an {' or '.join(schemes)} URL, got {tile_url!r}")
    missing = [p for p in TILE_PLACEHOLDERS if p not in tile_url]
    if missing:
        raise InvalidTileUrl(f"console_tile_url must contain {', '.join(missing)}: {tile_url!r}")
    if any(c in tile_url for c in " ;,'\""):
        raise InvalidTileUrl(
            f"console_tile_url may not contain spaces, quotes, commas or semicolons: {tile_url!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(tile_url: str = "", *, upload_origin: str = "", allow_http: bool = False) -> str:
    """Scripts, styles and everything else from the console's own origin only (no inline script or
    style, no eval); calls to the API's own origin, the user pool endpoint and, when given, the
    imports bucket's origin (the VOI screen PUTs a list file to the presigned URL the API hands out,
    R-VOI-BULK); images from the stage's tile server when it has one, and `blob:` (a read's plate and
    overview, fetched with the user's token, which an <img> cannot send, and shown from an object URL);
    no framing, plugins or foreign form targets."""
    images = " ".join(filter(None, ("'self'", "blob:", tile_origin(tile_url, allow_http=allow_http))))
    uploads = _checked_origin(upload_origin) if upload_origin else ""
    connect = " ".join(filter(None, ("'self'", COGNITO_ENDPOINT.rstrip("/"), uploads)))
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": images,
        "connect-src": connect,
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(
    tile_url: str = "", *, upload_origin: str = "", allow_http: bool = False
) -> dict[str, str]:
    """The headers every console asset is served with."""
    return {
        "Content-Security-Policy": content_security_policy(
            tile_url, upload_origin=upload_origin, allow_http=allow_http
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        # Assets are small and the console is used all day: revalidate rather than run stale code.
        "Cache-Control": "no-cache",
    }


def content_type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def config_document(
    *, api_url: str, cognito_endpoint: str, app_client_id: str, tile_url: str
) -> dict[str, str]:
    """`config.json`, what the bundle reads at start: so one build runs against every stage."""
    return {
        "api_url": api_url,
        "cognito_endpoint": cognito_endpoint,
        "app_client_id": app_client_id,
        "tile_url": tile_url,
    }


def index_html(built: str, base_path: str) -> str:
    """The built page with its base set to where it is served (`/v1/console/`), so its relative
    asset references work whether the address ends in a slash or not (API Gateway routes both to
    the same resource)."""
    if BUILT_BASE not in built:
        raise ValueError(f"the built {INDEX_FILE} has no {BUILT_BASE}")
    if not (base_path.startswith("/") and base_path.endswith("/")):
        raise ValueError(f"base path must start and end with '/': {base_path!r}")
    return built.replace(BUILT_BASE, f'<base href="{base_path}" />')
