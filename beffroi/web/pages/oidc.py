"""Sign in with an OpenID Connect provider (ProConnect, Keycloak…): redirect and callback.

The pending login (state, nonce, PKCE verifier, where to go next) travels in a signed cookie
limited to these paths for ten minutes; the login itself opens the same server-side session
as the password form. Failures show the sign-in page with the reason, never a traceback.

Signing out of a session opened this way also ends the session at the provider (RP-initiated
logout): the ID token of the sign-in waits, bound to the session, in a signed cookie sent to
``/deconnexion`` only; :func:`provider_logout` (called by the sign-out form's handler once
the local session is closed) gives the provider's end-session URL, and :func:`logout_return`
welcomes the browser back, checking the ``state``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.access.oidc import (
    CALLBACK_PATH,
    LOGOUT_CALLBACK_PATH,
    PENDING_MAX_AGE_S,
    OidcClient,
    logout_confirmed,
    not_configured,
    open_session,
    seal,
    seal_id_token,
    seal_logout,
    unseal,
    unseal_id_token,
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
ID_TOKEN_COOKIE = "beffroi_oidc_id"  # noqa: S105 - a cookie name; holds the id_token_hint
ID_TOKEN_PATH = "/deconnexion"  # noqa: S105 - sent to the sign-out and its return only
MAX_COOKIE_VALUE = 3800  # browsers keep cookies up to 4096 bytes, name and attributes included
LOGOUT_COOKIE = "beffroi_oidc_logout"  # the state of a sign-out in progress at the provider
_LOGOUT_PATH = "/deconnexion/oidc"
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
    if identity.id_token:
        _keep_id_token(response, identity.id_token, secret, lifetime, settings)
    return response


def _keep_id_token(
    response: Response, id_token: str, secret: str, lifetime: dt.timedelta, settings: Settings
) -> None:
    """Give the browser the ID token for the sign-out's hint, bound to the session ``secret``."""
    sealed = seal_id_token(id_token, secret, settings.signing_key())
    if len(sealed) > MAX_COOKIE_VALUE:  # the browser would drop it: the sign-out stays local
        log.warning("ID token too large for a cookie (%d bytes): sign-out stays local", len(sealed))
        return
    response.set_cookie(
        ID_TOKEN_COOKIE,
        sealed,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=ID_TOKEN_PATH,
    )


def provider_logout(request: Request, settings: Settings, session_secret: str) -> str | None:
    """The provider's end-session URL for the session just closed locally, else ``None``.

    Only for a session opened through the provider (its ID token cookie, bound to this
    session, is there) and a provider announcing an ``end_session_endpoint``; when the
    provider cannot be read, the sign-out stays local (logged). The state to check on the
    way back is put in ``request.state.oidc_logout`` for :func:`finish_logout_response`.
    """
    if not settings.oidc_enabled:
        return None
    key = settings.signing_key()
    id_token = unseal_id_token(request.cookies.get(ID_TOKEN_COOKIE), session_secret, key)
    if id_token is None:
        return None
    try:
        ending = _client(request, settings).end_session_url(id_token)
    except BeffroiError as exc:
        log.warning("OpenID Connect sign-out stays local (%s): %s", exc.code, exc.message)
        return None
    if ending is None:
        return None
    url, pending = ending
    request.state.oidc_logout = seal_logout(pending, key)
    return url


def finish_logout_response(request: Request, response: Response, settings: Settings) -> None:
    """Drop the ID token cookie; keep the state of a sign-out sent to the provider."""
    response.delete_cookie(ID_TOKEN_COOKIE, path=ID_TOKEN_PATH)
    sealed: str | None = getattr(request.state, "oidc_logout", None)
    if sealed is not None:
        response.set_cookie(
            LOGOUT_COOKIE,
            sealed,
            max_age=PENDING_MAX_AGE_S,
            httponly=True,
            samesite="lax",  # sent back on the provider's top-level redirect
            secure=settings.secure_cookies,
            path=_LOGOUT_PATH,
        )


@router.get(LOGOUT_CALLBACK_PATH, name="oidc_logout_return")
def logout_return(request: Request, settings: SettingsDep, state: str | None = None) -> Response:
    """The provider ended its session: say so, once. A return that matches no sign-out of
    this browser (no state, another state, too late) goes to the home page, leaving a
    sign-out in progress alone."""
    if not logout_confirmed(request.cookies.get(LOGOUT_COOKIE), state, settings.signing_key()):
        return RedirectResponse("/", status_code=303)
    response = render(request, "logged_out.html", {"provider": settings.oidc_provider_name})
    response.delete_cookie(LOGOUT_COOKIE, path=_LOGOUT_PATH)
    return response
