"""Cookies and CSRF protection for HTML forms, and security headers.

CSRF uses the *signed* double-submit pattern: the cookie carries a random nonce, the form
carries ``nonce.HMAC(instance secret, nonce)``; a post is accepted only when the form's
nonce equals the cookie's and its signature is valid (compared in constant time). An
attacker who can plant a cookie still cannot forge the matching form value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beffroi.errors import CsrfError

SESSION_COOKIE = "beffroi_session"
CSRF_COOKIE = "beffroi_csrf"
CSRF_FIELD = "csrf_token"


def _sign(key: bytes, nonce: str) -> str:
    mac = hmac.new(key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{mac}"


def csrf_token(request: Request, key: bytes) -> str:
    """The form value for this request (the cookie's nonce, or a new one, signed)."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) < 32:
        nonce = secrets.token_urlsafe(32)
    request.state.csrf_nonce = nonce
    return _sign(key, nonce)


def set_csrf_cookie(request: Request, response: Response, *, secure: bool) -> None:
    """Send the CSRF nonce cookie if this request minted one."""
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce and request.cookies.get(CSRF_COOKIE) != nonce:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=secure, path="/"
        )


def check_csrf(request: Request, submitted: str | None, key: bytes) -> None:
    """Refuse a form post whose token is not the signed nonce of the cookie."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not submitted or not hmac.compare_digest(_sign(key, nonce), submitted):
        raise CsrfError(
            "Le formulaire a expiré ou ne vient pas de ce site",
            hint="rechargez la page puis renvoyez le formulaire (les cookies doivent être activés)",
        )


# Pages use only their own scripts and styles; the Swagger UI page needs its inline bootstrap.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_CSP_API_DOCS = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds CSP, anti-sniffing, framing and referrer headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _CSP_API_DOCS if scope["path"] == "/api/docs" else _CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
