"""The one place where errors become HTTP responses.

API paths answer ``application/problem+json`` (RFC 9457) with ``type``, ``title``,
``status``, ``detail``, ``instance``, plus ``code`` and ``hint`` (and ``errors`` for
invalid fields). Pages answer an HTML error page with the same content.
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

logger = logging.getLogger("beffroi.web")

PROBLEM_JSON = "application/problem+json"


def problem(request: Request, error: BeffroiError, status: int | None = None) -> dict[str, Any]:
    """The problem+json body of an error."""
    body: dict[str, Any] = {
        "type": f"/docs/reference/errors#{error.code}",
        "title": error.title,
        "status": status or error.status,
        "detail": error.message,
        "instance": request.url.path,
        "code": error.code,
    }
    if error.hint:
        body["hint"] = error.hint
    if "errors" in error.details:
        body["errors"] = error.details["errors"]
    return body


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/health")):
        return False
    return "text/html" in request.headers.get("accept", "")


def render_error(request: Request, error: BeffroiError, status: int | None = None) -> Response:
    """Render an error for the surface that asked (JSON API or HTML page)."""
    code = status or error.status
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    if _wants_html(request):
        from beffroi.web.pages.rendering import render_error_page  # noqa: PLC0415

        return render_error_page(request, error, code)
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
        )
        return render_error(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        error: BeffroiError
        if exc.status_code == 404:
            error = NotFoundError(
                f"Aucune ressource à l'adresse {request.url.path}",
                hint="vérifiez l'adresse ; la liste des routes est dans /api/openapi.json",
            )
        elif exc.status_code == 405:
            error = MethodNotAllowedError(
                f"La méthode {request.method} n'est pas acceptée sur {request.url.path}",
                hint="la liste des routes et de leurs méthodes est dans /api/openapi.json",
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
        )
        return render_error(request, error)
