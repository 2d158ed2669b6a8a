"""The one place where errors become HTTP responses.

API paths answer ``application/problem+json`` (RFC 9457) with ``type``, ``title``,
``status``, ``detail``, ``instance``, plus ``code`` and ``hint`` (and ``errors`` for
invalid fields). Pages answer an HTML error page with the same content.

Language: ``title``/``detail``/``hint`` are in English when the request asks for it
(``?lang=en``, the pages' language cookie, else an ``Accept-Language`` whose first preferred
language is ``en…``), in French otherwise (the instance's default locale when nothing is
asked), and ``Content-Language`` says which. The other language's text travels along as
extension members (RFC 9457 §3.2): ``detail_en``/``hint_en`` in a French answer when the
error has English text, ``detail_fr``/``hint_fr`` in an English one.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from beffroi.errors import (
    BeffroiError,
    InvalidInputError,
    MethodNotAllowedError,
    NotFoundError,
    UserError,
)
from beffroi.web.i18n import LANG_COOKIE, LOCALES, negotiate

logger = logging.getLogger("beffroi.web")

PROBLEM_JSON = "application/problem+json"


def preferred_language(accept_language: str | None) -> str | None:
    """The first preferred language of an ``Accept-Language`` header (RFC 9110 §12.5.4),
    lower-cased (``"en-gb"``); ``None`` when the header names none (absent, ``*`` only)."""
    best: tuple[float, int, str] | None = None
    for index, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not tag or tag == "*" or quality <= 0:
            continue
        key = (-quality, index, tag)  # highest quality first, then the order written
        if best is None or key < best:
            best = key
    return best[2] if best else None


def error_language(request: Request) -> str:
    """``"en"`` or ``"fr"``: ``?lang=``, then the pages' cookie, then ``Accept-Language``,
    then the instance's default locale (French)."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LOCALES:
        return str(asked)
    preferred = preferred_language(request.headers.get("accept-language"))
    if preferred is not None:
        return "en" if preferred.startswith("en") else "fr"
    settings = getattr(request.app.state, "settings", None)
    default = getattr(settings, "default_locale", "fr")
    return default if default in LOCALES else "fr"


def problem(request: Request, error: BeffroiError, status: int | None = None) -> dict[str, Any]:
    """The problem+json body of an error, in the language the request prefers."""
    lang = error_language(request)
    detail, hint = error.localized(lang)
    body: dict[str, Any] = {
        "type": f"/docs/reference/errors#{error.code}",
        "title": error.localized_title(lang),
        "status": status or error.status,
        "detail": detail,
        "instance": request.url.path,
        "code": error.code,
    }
    if hint:
        body["hint"] = hint
    if "errors" in error.details:
        body["errors"] = error.details["errors"]
    if lang == "en" and error.message_en:
        body["detail_fr"] = error.message
        if error.hint:
            body["hint_fr"] = error.hint
    elif lang != "en" and error.message_en:
        body["detail_en"] = error.message_en
        if error.hint_en:
            body["hint_en"] = error.hint_en
    return body


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/health")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _in_page_language(request: Request, error: BeffroiError) -> BeffroiError:
    """The error as the HTML page shows it: its English text on an English page.

    The page template shows ``message`` and ``hint``; an English page (same choice as every
    page: ``?lang=``, cookie, default locale) gets a copy carrying the English ones.
    """
    settings = getattr(request.app.state, "settings", None)
    if negotiate(request, getattr(settings, "default_locale", "fr")) != "en":
        return error
    if not error.message_en:
        return error
    shown = type(error).__new__(type(error))  # no __init__: subclasses' signatures differ
    shown.__dict__.update(vars(error))
    shown.args = (error.message_en,)
    shown.message, shown.hint = error.localized("en")
    return shown


def render_error(request: Request, error: BeffroiError, status: int | None = None) -> Response:
    """Render an error for the surface that asked (JSON API or HTML page)."""
    code = status or error.status
    if _wants_html(request):
        from beffroi.web.pages.rendering import render_error_page  # noqa: PLC0415

        return render_error_page(request, _in_page_language(request, error), code)
    # The language of ``detail``: English only when asked and the error has English text.
    english = error_language(request) == "en" and bool(error.message_en)
    headers = {"Content-Language": "en" if english else "fr", "Vary": "Accept-Language"}
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        problem(request, error, code), status_code=code, media_type=PROBLEM_JSON, headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str | None:
    """Every method some route answers at this path (Starlette's 405 names only the first
    route's); None when only a mounted app (static files) answers there."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    allowed = [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(allowed) or None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the shapes above."""

    @app.exception_handler(BeffroiError)
    async def _beffroi(request: Request, exc: BeffroiError) -> Response:
        if not isinstance(exc, UserError) and exc.status >= 500:
            logger.error("server error on %s: %s", request.url.path, exc)
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or None,
                "message": str(err["msg"]).removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        error = InvalidInputError(
            f"Requête invalide — {summary}",
            hint="corrigez les champs signalés (voir /api/openapi.json)",
            details={"errors": errors},
            message_en=f"Invalid request — {summary}",
            hint_en="fix the fields listed (see /api/openapi.json)",
        )
        return render_error(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        error: BeffroiError
        if exc.status_code == 404:
            error = NotFoundError(
                f"Aucune ressource à l'adresse {request.url.path}",
                hint="vérifiez l'adresse ; la liste des routes est dans /api/openapi.json",
                message_en=f"No resource at {request.url.path}",
                hint_en="check the address; the routes are listed in /api/openapi.json",
            )
        elif exc.status_code == 405:
            error = MethodNotAllowedError(
                f"La méthode {request.method} n'est pas acceptée sur {request.url.path}",
                hint="la liste des routes et de leurs méthodes est dans /api/openapi.json",
                message_en=f"Method {request.method} is not allowed on {request.url.path}",
                hint_en="the routes and their methods are listed in /api/openapi.json",
            )
        else:
            error = UserError(str(exc.detail))
        response = render_error(request, error, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        allowed = _allowed_methods(request) if exc.status_code == 405 else None
        if allowed:  # a 405 must list the methods the resource supports (RFC 9110, 15.5.6)
            response.headers["Allow"] = allowed
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s", request.url.path, exc_info=exc)
        error = BeffroiError(
            "Une erreur inattendue est survenue ; elle a été consignée dans le journal",
            hint="réessayez ; si elle persiste, signalez-la à l'équipe données avec l'heure",
            message_en="An unexpected error occurred; it has been logged",
            hint_en="try again; if it persists, report it to the data team with the time",
        )
        return render_error(request, error)
