"""Sign in with an OpenID Connect provider (ProConnect, Keycloak…): redirect and callback.

The pending login (state, nonce, PKCE verifier, where to go next) travels in a signed cookie
limited to these paths for ten minutes; the login itself opens the same server-side session
as the password form. Failures show the sign-in page with the reason, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.access.oidc import (
    CALLBACK_PATH,
    PENDING_MAX_AGE_S,
    OidcClient,
    not_configured,
    open_session,
    seal,
    unseal,
)
from beffroi.errors import BeffroiError
from beffroi.settings import Settings
from beffroi.web.deps import SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages.auth import safe_next, set_session_cookie
from beffroi.web.pages.rendering import render

router = APIRouter()

PENDING_COOKIE = "beffroi_oidc"
_PENDING_PATH = "/connexion/oidc"  # the cookie goes to the start and callback routes only
_lock = threading.Lock()
log = logging.getLogger(__name__)


def _client(request: Request, settings: Settings) -> OidcClient:
    """The application's relying party (made once: it caches discovery and keys)."""
    if not settings.oidc_enabled:
        raise not_configured()
    with _lock:
        client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
        if client is None:
            client = OidcClient(settings)
            request.app.state.oidc_client = client
    return client


def _failure(request: Request, error: BeffroiError, next_url: str) -> HTMLResponse:
    """The sign-in page with the error, in the visitor's language; the pending login dropped."""
    settings: Settings = request.app.state.settings
    log.warning("OpenID Connect sign-in failed (%s): %s", error.code, error.message)
    message, hint = error.localized(negotiate(request, settings.default_locale))
    shown = type(error)(message, hint=hint)
    response = render(
        request, "login.html", {"error": shown, "next": next_url}, status_code=error.status
    )
    response.delete_cookie(PENDING_COOKIE, path=_PENDING_PATH)
    return response


@router.get("/connexion/oidc", name="oidc_login")
def oidc_login(
    request: Request,
    settings: SettingsDep,
    next: str | None = None,  # noqa: A002
) -> Response:
    """Send the visitor to the provider, keeping the pending login in a signed cookie."""
    next_url = safe_next(next)
    try:
        url, pending = _client(request, settings).start(next_url)
    except BeffroiError as exc:
        return _failure(request, exc, next_url)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        seal(pending, settings.signing_key()),
        max_age=PENDING_MAX_AGE_S,
        httponly=True,
        samesite="lax",  # sent back on the provider's top-level redirect, not on sub-requests
        secure=settings.secure_cookies,
        path=_PENDING_PATH,
    )
    return response


@router.get(CALLBACK_PATH, name="oidc_callback")
def oidc_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The provider's answer: validate it, find or create the account, open a session."""
    next_url = "/"
    try:
        client = _client(request, settings)
        pending = unseal(request.cookies.get(PENDING_COOKIE), settings.signing_key())
        next_url = safe_next(pending.next)
        identity = client.finish(pending, dict(request.query_params))
        lifetime = dt.timedelta(hours=settings.session_lifetime_hours)
        secret = open_session(session, settings, identity, lifetime)
    except BeffroiError as exc:
        session.rollback()
        return _failure(request, exc, next_url)
    response = RedirectResponse(next_url, status_code=303)
    response.delete_cookie(PENDING_COOKIE, path=_PENDING_PATH)
    set_session_cookie(response, secret, lifetime, settings)
    return response
