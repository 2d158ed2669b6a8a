"""Sign in and sign out (server-side sessions, CSRF-protected forms, rate-limited
passwords), and the form accepting a ``registered`` dataset's licence."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.access.accounts import authenticate, close_web_session, open_web_session
from beffroi.access.licences import accept_licence
from beffroi.access.lockout import LoginLimits, retry_after
from beffroi.catalog import services
from beffroi.errors import AuthenticationError
from beffroi.settings import Settings
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages.rendering import render
from beffroi.web.security import SESSION_COOKIE, check_csrf

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login (also no backslash
    nor control character, which some browsers read as a host separator)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return "/"


def set_session_cookie(
    response: Response, secret: str, lifetime: dt.timedelta, settings: Settings
) -> None:
    """Give the browser the secret of the web session just opened (password or OIDC login)."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.get("/connexion", response_class=HTMLResponse, name="login")
def login_form(request: Request, actor: ActorDep, next: str | None = None) -> HTMLResponse:  # noqa: A002
    """The sign-in form."""
    return render(request, "login.html", {"actor": actor, "next": safe_next(next)})


@router.post("/connexion", name="login_submit")
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Check the credentials, open a session, go back where the visitor was."""
    check_csrf(request, csrf_token, settings.signing_key())
    try:
        user = authenticate(
            session,
            username.strip(),
            password,
            client=request.client.host if request.client else None,
            limits=LoginLimits.from_settings(settings),
            surface="web",
        )
    except AuthenticationError as exc:
        message, hint = exc.localized(negotiate(request, settings.default_locale))
        shown = SimpleNamespace(message=message, hint=hint)
        refused = render(
            request,
            "login.html",
            {"actor": actor, "next": safe_next(next), "error": shown, "username": username},
            status_code=exc.status,  # 401, or 429 while locked (same for unknown accounts)
        )
        wait = retry_after(exc)
        if wait is not None:
            refused.headers["Retry-After"] = str(wait)
        return refused
    lifetime = dt.timedelta(hours=settings.session_lifetime_hours)
    secret = open_web_session(session, user, lifetime)
    session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, secret, lifetime, settings)
    return response


@router.post("/deconnexion", name="logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """End the session server-side and drop the cookie; for a session opened through an
    OpenID Connect provider that has an end-session endpoint, then send the browser there
    to end the provider's session too (RP-initiated logout)."""
    # Imported here: the OIDC pages import this module (safe_next, set_session_cookie).
    from beffroi.web.pages.oidc import finish_logout_response, provider_logout  # noqa: PLC0415

    check_csrf(request, csrf_token, settings.signing_key())
    cookie = request.cookies.get(SESSION_COOKIE)
    target = None
    if cookie:
        close_web_session(session, cookie)  # the local session ends first, in every case
        session.commit()
        target = provider_logout(request, settings, cookie)
    response = RedirectResponse(target or "/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    finish_logout_response(request, response, settings)
    return response


@router.post("/jeux-de-donnees/{slug}/licence", name="licence_accept")
def licence_accept(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """« J'accepte la licence » on a ``registered`` dataset's page: record it, show the data."""
    dataset = services.get_dataset(session, actor, slug)  # invisible: 404 like a missing one
    check_csrf(request, csrf_token, settings.signing_key())
    accept_licence(session, actor, dataset.slug)
    session.commit()
    target = str(request.url_for("dataset_page", slug=dataset.slug))
    return RedirectResponse(target, status_code=303)
