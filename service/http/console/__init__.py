"""The web console (issue 14): one HTML page and static ES modules, served at `/`
by the HTTP API's Starlette app. It is a client of the HTTP JSON API only: every
rule lives in the server, the pages only show what the API answers.

The HTTP app mounts `routes()` after its API routes and wraps everything in
`SecurityHeadersMiddleware` (strict CSP, nosniff, no referrer, no framing)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeadersMiddleware:
    """Pure ASGI middleware: adds the security headers to every HTTP response
    that does not already carry them (so the API may set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    key = name.encode("latin-1")
                    if key not in present:
                        headers.append((key, value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _index_html() -> str:
    return (TEMPLATES / "index.html").read_text(encoding="utf-8")


async def index(request: Request) -> Response:
    # The page is the same for everyone: what it shows comes from the API.
    return HTMLResponse(
        _index_html(),
        headers={"cache-control": "no-store", **SECURITY_HEADERS},
    )


class _Static(StaticFiles):
    """Static files with the security headers and revalidation on each load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("cache-control", "no-cache")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def routes() -> list[BaseRoute]:
    """The console's routes; mount them after the API's (they include `/`)."""
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Mount("/console", app=_Static(directory=str(STATIC)), name="console"),
    ]
